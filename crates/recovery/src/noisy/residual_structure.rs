//! Whether a fit left second-order structure in its residual: the test that lets the noisy
//! search trust a single start.
//!
//! At the least-squares fit of the true network the residual is the label noise,
//! independent of the inputs, so its label-weighted second Hermite moment
//! (1/n) Σ_j r_j ⊗ (x_j x_jᵀ − I) is noise of a known size. A fit in a wrong basin leaves
//! part of U* f(V* x) in its residual, and with it some of that moment. The moment is what
//! the spectral stage reads the units from: m ≥ 2 of its slices determine the network
//! (Jennrich), so a fit whose residual has none of it matches the data's second moments
//! within their noise.

use faer::{Accum, Mat, MatRef};
use serde::Serialize;
use twolayer_moments::{column_norms, matmul, t2};

use crate::certificate::EXACT_TOL;
use crate::data::checks::samples_as_columns;
use crate::error::RecoveryError;
use crate::network::Network;

/// A fit is taken to have left no structure while its statistic stays below 1 plus this
/// many standard deviations of the statistic under noise. One is strict: a wrong basin whose
/// residual was 1.4% above the true one's measured 2.2 of them, the true basins of the same
/// instances 2 to 3 below.
const LIMIT_SDS: f64 = 1.0;

/// The second-order structure left in a fit's residual: the size of the residual's
/// label-weighted second Hermite moment against what noise independent of the inputs leaves.
/// A fit in a wrong basin leaves part of the network in its residual, and so some of the
/// second moments the spectral stage reads the units from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct ResidualStructure {
    /// T = ‖Σ_j r_j ⊗ A_j‖² / Σ_j ‖r_j‖² ‖A_j‖², with A_j = x_j x_jᵀ − I and r_j the
    /// residual of sample j (centred over the samples). Its expectation is exactly 1 when the
    /// residuals' signs are symmetric and independent of the inputs, whatever their size or
    /// distribution; structure adds to it. 0 for an exact fit (relative residual below
    /// 1e-10, the certificate's threshold), whose rounding is not structure.
    pub statistic: f64,
    /// 1 plus one standard deviation of T under noise, for Gaussian inputs:
    /// sd = 2 √(Σ_i S_i²) / (√(d(d+1)) Σ_i S_i), S_i the residual energy of output i. The
    /// least-squares fit absorbs a little of the noise, so at the true basin T sits at or
    /// just below 1.
    pub limit: f64,
}

impl ResidualStructure {
    /// Measures the structure `network` leaves in its residual on samples X (n×d, one per
    /// row) and labels Y (n×m): a check of any fitted network, such as one trained by
    /// gradient descent, that does not need the true weights. A fit in a wrong basin, or
    /// one short of units, shows a statistic well above its limit.
    ///
    /// The statistic's expectation under noise is 1 for any inputs; what it detects is the
    /// second Hermite moment of the residual, the structure that matters for inputs with mean
    /// zero and identity covariance (whiten others first), and the limit assumes Gaussian
    /// inputs. Errors: empty or mismatched X and Y, non-finite entries, or X and Y whose
    /// widths are not the network's d and m.
    ///
    /// Cost: one prediction, O(n k (d + m)), and m n d² / 2 flops.
    pub fn measure(
        network: &Network,
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
    ) -> Result<Self, RecoveryError> {
        network.check_data(x, y)?;
        let (xt, yt) = (samples_as_columns(x), samples_as_columns(y));
        residual_structure(xt.as_ref(), yt.as_ref(), network)
    }

    /// Whether the residual shows no second-order structure beyond noise: `statistic` is
    /// at most `limit`.
    pub fn clean(&self) -> bool {
        self.statistic <= self.limit
    }
}

/// Relative residual below which a fit on data held at float32 precision reads as exact:
/// 32 × 2^-24, room for the rounding of X and Y to float32 propagated through the network.
pub const FLOAT32_FLOOR: f64 = 1.9e-6;

/// Whether every value of `a` is a float32 value (data read from a float32 file).
fn f32_exact(a: MatRef<'_, f64>) -> bool {
    a.col_iter()
        .all(|c| c.iter().all(|&v| f64::from(v as f32) == v))
}

/// Measures the second-order structure in the residual of `network` on samples `xt` (d×n)
/// and labels `yt` (m×n), samples as columns. The residual is centred, so a fitted
/// intercept makes no difference.
///
/// Cost: the prediction, O(n k (d + m)), and one weighted Gram matrix per output,
/// m n d² / 2 flops: about one Gauss–Newton iteration.
pub(crate) fn residual_structure(
    xt: MatRef<'_, f64>,
    yt: MatRef<'_, f64>,
    network: &Network,
) -> Result<ResidualStructure, RecoveryError> {
    let (d, n) = xt.shape();
    let m = yt.nrows();
    let mut h = Mat::<f64>::zeros(network.k(), n);
    let par = faer::get_global_parallelism();
    matmul(h.as_mut(), Accum::Replace, network.v.as_ref(), xt, 1.0, par);
    network.activation.apply_to(h.as_mut());
    // Residuals as columns of an n×m matrix, so each output's weights are one slice.
    let mut r = yt.transpose().to_owned();
    matmul(
        r.as_mut(),
        Accum::Add,
        h.transpose(),
        network.u.transpose(),
        -1.0,
        par,
    );
    // An exact fit (the certificate's relative residual) leaves nothing: what remains is
    // rounding, a deterministic function of x that the statistic would read as structure.
    // Data held at float32 precision round at 2^-24, so their floor is higher.
    let floor = if f32_exact(xt) && f32_exact(yt) {
        FLOAT32_FLOOR
    } else {
        EXACT_TOL
    };
    if r.squared_norm_l2() <= (floor * floor) * yt.squared_norm_l2() {
        return Ok(ResidualStructure {
            statistic: 0.0,
            limit: 1.0,
        });
    }
    let mut norms = vec![0.0; n];
    column_norms(xt, &mut norms);
    // ‖x xᵀ − I‖_F² = (‖x‖² − 1)² + d − 1.
    let q: Vec<f64> = norms
        .iter()
        .map(|s| (s * s - 1.0).powi(2) + (d - 1) as f64)
        .collect();
    let (mut num, mut den, mut energy, mut energy2) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..m {
        let col = r
            .col_mut(i)
            .try_as_col_major_mut()
            .expect("an owned matrix has contiguous columns")
            .as_slice_mut();
        // A constant offset is not structure (an intercept, or none fitted where the labels
        // have one), and centring keeps it out of the statistic.
        let mean = col.iter().sum::<f64>() / n as f64;
        col.iter_mut().for_each(|t| *t -= mean);
        let s: f64 = col.iter().map(|t| t * t).sum();
        let moment = t2(xt, col)?;
        num += moment.squared_norm_l2() * (n as f64).powi(2);
        den += col.iter().zip(&q).map(|(t, q)| t * t * q).sum::<f64>();
        energy += s;
        energy2 += s * s;
    }
    if den <= 0.0 {
        // A zero residual: nothing is left, structure least of all.
        return Ok(ResidualStructure {
            statistic: 0.0,
            limit: 1.0,
        });
    }
    let sd = 2.0 * energy2.sqrt() / (((d * (d + 1)) as f64).sqrt() * energy);
    Ok(ResidualStructure {
        statistic: num / den,
        limit: 1.0 + LIMIT_SDS * sd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Activation;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const D: usize = 10;
    const N: usize = 4000;

    /// Inputs on a fixed quasi-random grid, uniform on (−√3, √3) in each coordinate: mean
    /// near zero and second moments near I, a hand-built stand-in for Gaussian samples. d×n.
    fn inputs() -> Mat<f64> {
        Mat::from_fn(D, N, |a, j| {
            let t = ((j * (2 * a + 3) + a * 7919) % 1009) as f64 / 1009.0;
            (2.0 * t - 1.0) * 3f64.sqrt()
        })
    }

    fn truth() -> Network {
        let v = Mat::from_fn(2, D, |i, a| if a == i { 1.0 } else { 0.05 * a as f64 });
        let u = Mat::from_fn(2, 2, |o, i| if o == i { 1.0 } else { 0.5 });
        Network::new(u, v, Activation::Relu).unwrap()
    }

    /// Labels of `truth()` plus noise of random sign (seeded) and a size that cycles, with
    /// `offset` added to every label: m×n.
    fn labels(x: MatRef<'_, f64>, offset: f64) -> Mat<f64> {
        let clean = truth().predict(x.transpose()).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        Mat::from_fn(2, N, |o, j| {
            let size = 0.05 * (1.0 + ((j * 31 + o * 17) % 7) as f64 / 7.0);
            let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
            clean[(j, o)] + sign * size + offset
        })
    }

    #[test]
    fn noise_independent_of_the_inputs_is_not_structure_and_a_missing_unit_is() {
        let x = inputs();
        let y = labels(x.as_ref(), 0.0);
        let at_truth = residual_structure(x.as_ref(), y.as_ref(), &truth()).unwrap();
        let sd = at_truth.limit - 1.0;
        assert!(
            (at_truth.statistic - 1.0).abs() < 3.0 * sd,
            "noise alone: T = {}, sd {sd}",
            at_truth.statistic
        );
        // One unit dropped: its contribution stays in the residual.
        let t = truth();
        let partial = Network::new(
            t.u.subcols(0, 1).to_owned(),
            t.v.subrows(0, 1).to_owned(),
            Activation::Relu,
        )
        .unwrap();
        let off = residual_structure(x.as_ref(), y.as_ref(), &partial).unwrap();
        assert!(
            off.statistic > 10.0 && !off.clean(),
            "a missing unit: T = {}",
            off.statistic
        );
    }

    #[test]
    fn an_exact_fit_leaves_nothing_though_rounding_remains() {
        let x = inputs();
        // Labels off by 1e-14 of themselves: an error of rounding's size, but entirely
        // structure (a multiple of the network) if it were read as such.
        let y = truth().predict(x.transpose()).unwrap().transpose() * (1.0 + 1e-14);
        let s = residual_structure(x.as_ref(), y.as_ref(), &truth()).unwrap();
        assert_eq!(s.statistic, 0.0);
        assert!(s.clean());
        // A residual just above the certificate's threshold is measured.
        let mut off = y.clone();
        off[(0, 7)] += 1e-6 * y.norm_l2();
        let s = residual_structure(x.as_ref(), off.as_ref(), &truth()).unwrap();
        assert!(s.statistic > 0.0, "{s:?}");
    }

    #[test]
    fn measuring_from_rows_agrees_and_bad_input_is_refused() {
        let x = inputs();
        let y = labels(x.as_ref(), 0.0);
        let (xr, yr) = (x.transpose().to_owned(), y.transpose().to_owned());
        let inner = residual_structure(x.as_ref(), y.as_ref(), &truth()).unwrap();
        let outer = ResidualStructure::measure(&truth(), xr.as_ref(), yr.as_ref()).unwrap();
        assert!((inner.statistic - outer.statistic).abs() < 1e-12 * inner.statistic);
        let narrow = xr.subcols(0, D - 1);
        assert!(matches!(
            ResidualStructure::measure(&truth(), narrow, yr.as_ref()),
            Err(RecoveryError::Shape { expected: D, .. })
        ));
        let mut bad = yr.clone();
        bad[(3, 1)] = f64::NAN;
        assert!(matches!(
            ResidualStructure::measure(&truth(), xr.as_ref(), bad.as_ref()),
            Err(RecoveryError::NotFinite { .. })
        ));
    }

    #[test]
    fn a_constant_offset_is_not_structure() {
        let x = inputs();
        let plain =
            residual_structure(x.as_ref(), labels(x.as_ref(), 0.0).as_ref(), &truth()).unwrap();
        let shifted = labels(x.as_ref(), 3.0);
        let centred = residual_structure(x.as_ref(), shifted.as_ref(), &truth()).unwrap();
        assert!(
            (centred.statistic - plain.statistic).abs() < 1e-9 * plain.statistic,
            "{} vs {}",
            centred.statistic,
            plain.statistic
        );
    }
}
