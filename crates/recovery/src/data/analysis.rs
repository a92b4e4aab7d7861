//! What the inputs look like: mean, covariance, Gaussianity (docs/algorithms.md section 6).

use faer::{Accum, Mat, MatMut, MatRef, Par, Side};
use serde::Serialize;
use twolayer_moments::matmul;
use twolayer_moments::{SampleMoments, SampleSource};

use crate::error::RecoveryError;

/// Inputs are whitened when the condition number of their covariance exceeds this.
const WHITEN_ABOVE: f64 = 2.0;
/// A coordinate mean this many standard errors from 0 is a bias in disguise.
const MEAN_Z_MAX: f64 = 8.0;
/// Excess kurtosis beyond this (in absolute value) on a whitened coordinate is not Gaussian.
const KURTOSIS_WARN: f64 = 1.0;
/// Var(‖x‖²)/(2d) is 1 for Gaussian inputs; further than this from 1 is not Gaussian.
const NORM_DISPERSION_WARN: f64 = 0.25;

/// Diagnostics of the inputs, reported so that a user knows when the guarantees apply.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct InputDiagnostics {
    /// Whether X was whitened by Σ̂^{-1/2} before recovery (and V mapped back).
    pub whitened: bool,
    /// Condition number of the sample covariance Σ̂ = XᵀX/n.
    pub covariance_condition: f64,
    /// Smallest excess kurtosis E(u⁴)/E(u²)² − 3 over whitened coordinates (0 if Gaussian).
    pub excess_kurtosis_min: f64,
    /// Largest excess kurtosis over whitened coordinates.
    pub excess_kurtosis_max: f64,
    /// Var(‖u‖²)/(2d) over whitened samples u: 1 for Gaussian inputs, 0 for inputs of fixed
    /// norm (the sphere, ±1 coordinates).
    pub norm_dispersion: f64,
    /// Plain-language warnings; empty when X looks like N(0, Σ).
    pub warnings: Vec<String>,
}

/// The input analysis of a data set: a whitening matrix when one is needed, and diagnostics.
pub(crate) struct InputAnalysis {
    /// Σ̂^{-1/2} (symmetric, d×d) when the covariance condition number exceeds 2.
    pub whitening: Option<Mat<f64>>,
    pub diagnostics: InputDiagnostics,
}

/// Mean test, covariance condition and Gaussianity diagnostics, all from the first pass's
/// moments (no pass of its own), and `work` run on the inputs as they are to be used: given
/// the whitening matrix when there is one, else `None`.
///
/// Kurtosis is that of each raw coordinate (every marginal of a Gaussian is Gaussian, so it
/// is 0 whatever Σ); the norm dispersion is Var(‖x‖²) / (2 tr Σ²), 1 for x ~ N(0, Σ).
///
/// The covariance's eigenvalues (d³ flops on one thread: 0.5 ms at d = 100) decide whether
/// to whiten, but when two Cholesky factors certify a condition number below 2 (see
/// [`condition_below_two`]) they are needed for the report only, and `work` starts beside
/// them instead of after. Either way it runs exactly once, on the same inputs, after the
/// mean and constant-coordinate checks; an error of the analysis comes before its result.
/// Cost: O(d³), and `work`.
pub(crate) fn analyse_inputs<T: Send>(
    moments: &SampleMoments,
    work: impl FnOnce(Option<&Mat<f64>>) -> T + Send,
) -> Result<(InputAnalysis, T), RecoveryError> {
    let second = moments.second_x();
    screen_inputs(moments, second.as_ref())?;
    let eigenvalues = || {
        twolayer_moments::symmetric_eigenvalues(second.as_ref()).ok_or(RecoveryError::Numerical(
            "the eigenvalues of the input covariance",
        ))
    };
    if condition_below_two(second.as_ref()) {
        let (lam, out) = rayon::join(eigenvalues, || work(None));
        let analysis = diagnose(moments, second.as_ref(), &lam?)?;
        // The certificate's margin keeps the eigenvalues' rounding far from the threshold.
        debug_assert!(analysis.whitening.is_none(), "certified below 2");
        return Ok((analysis, out));
    }
    let analysis = diagnose(moments, second.as_ref(), &eigenvalues()?)?;
    let out = work(analysis.whitening.as_ref());
    Ok((analysis, out))
}

/// Whether the condition number of the symmetric matrix `a` is certainly below 2 (so below
/// [`WHITEN_ABOVE`]): with c = 4/3 of its mean eigenvalue, Cholesky factors of c·I − A and
/// A − (c/2)·I exist (each with a relative margin of 10⁻⁸ over rounding) only when
/// λ_max < c and λ_min > c/2. The sample covariance of n isotropic samples has its spectrum
/// within (1 ± √(d/n))² of its mean, which passes from n ≈ 42·d; `false` (the eigenvalues
/// then decide) is never wrong, only slower. Cost: 2d³/3 flops.
fn condition_below_two(a: MatRef<'_, f64>) -> bool {
    let d = a.nrows();
    let mean = (0..d).map(|i| a[(i, i)]).sum::<f64>() / d as f64;
    if !(mean.is_finite() && mean > 0.0) {
        return false;
    }
    let c = 4.0 / 3.0 * mean;
    let shifted = |sign: f64, shift: f64| {
        let mut m = Mat::from_fn(d, d, |i, j| sign * a[(i, j)]);
        for i in 0..d {
            m[(i, i)] += shift;
        }
        crate::linalg::cholesky(&mut m)
    };
    shifted(-1.0, c * (1.0 - 1e-8)) && shifted(1.0, -0.5 * c * (1.0 + 1e-8))
}

/// The mean test and the constant coordinates, given the second moment `second` (E x xᵀ):
/// O(d) reads of the moments.
fn screen_inputs(moments: &SampleMoments, second: MatRef<'_, f64>) -> Result<(), RecoveryError> {
    let d = moments.d;
    let nf = moments.n as f64;
    let n = moments.n;
    let mean = moments.mean_x();
    // A constant coordinate (or all samples alike) first: its mean would otherwise look
    // infinitely significant, and the message would blame a bias.
    let var: Vec<f64> = (0..d).map(|a| second[(a, a)] - mean[a] * mean[a]).collect();
    for (a, &var) in var.iter().enumerate() {
        if var <= 1e-12 * second[(a, a)] || second[(a, a)] == 0.0 {
            return Err(RecoveryError::Moments(
                twolayer_moments::MomentsError::SingularCovariance {
                    min_eig: var.max(0.0),
                    max_eig: second[(a, a)],
                },
            ));
        }
    }
    for (a, (&mu, &var)) in mean.iter().zip(&var).enumerate() {
        let se = (var.max(0.0) / nf).sqrt();
        if n > 1 && mu.abs() > MEAN_Z_MAX * se && se > 0.0 {
            return Err(RecoveryError::NonzeroInputMean {
                column: a,
                mean: mu,
                z: mu.abs() / se,
            });
        }
    }
    Ok(())
}

/// The rest of the analysis, given the second moment `second` and its eigenvalues `lam`
/// (ascending): its condition and the whitening it calls for, then the Gaussianity
/// diagnostics.
fn diagnose(
    moments: &SampleMoments,
    second: MatRef<'_, f64>,
    lam: &[f64],
) -> Result<InputAnalysis, RecoveryError> {
    let d = moments.d;
    let (lo, hi) = (lam[0], lam[d - 1]);
    if lo <= 1e-12 * hi || lo.is_nan() {
        return Err(RecoveryError::Moments(
            twolayer_moments::MomentsError::SingularCovariance {
                min_eig: lo,
                max_eig: hi,
            },
        ));
    }
    let condition = hi / lo;
    let whiten = condition > WHITEN_ABOVE;

    let (mut kmin, mut kmax) = (f64::NAN, f64::NAN);
    if let Some(m4) = moments.fourth_x() {
        (kmin, kmax) = (f64::INFINITY, f64::NEG_INFINITY);
        for (a, m4) in m4.iter().enumerate() {
            let m2 = second[(a, a)];
            let k = m4 / (m2 * m2) - 3.0;
            kmin = kmin.min(k);
            kmax = kmax.max(k);
        }
    }
    let norm_dispersion = moments.fourth_norm().map_or(f64::NAN, |m4| {
        let mean_sq: f64 = (0..d).map(|a| second[(a, a)]).sum();
        let tr_s2 = second.squared_norm_l2();
        (m4 - mean_sq * mean_sq) / (2.0 * tr_s2)
    });

    let mut warnings = Vec::new();
    if kmin < -KURTOSIS_WARN || kmax > KURTOSIS_WARN {
        warnings.push(format!(
            "inputs do not look Gaussian: excess kurtosis of the coordinates ranges over \
             [{kmin:.2}, {kmax:.2}] (0 for Gaussian); the recovery guarantees assume x ~ N(0, Σ)"
        ));
    }
    if (norm_dispersion - 1.0).abs() > NORM_DISPERSION_WARN {
        warnings.push(format!(
            "inputs do not look Gaussian: Var(|x|²)/(2 tr Σ²) = {norm_dispersion:.2} (1 for \
             Gaussian; {}); the recovery guarantees assume x ~ N(0, Σ)",
            if norm_dispersion < 1.0 {
                "near 0 means samples of nearly fixed norm, e.g. on a sphere or with ±1 coordinates"
            } else {
                "above 1 means heavy tails"
            }
        ));
    }
    // Σ̂^{-1/2} = R diag(λ^{-1/2}) Rᵀ.
    let whitening = if whiten {
        let eig = second.self_adjoint_eigen(Side::Lower).map_err(|_| {
            RecoveryError::Numerical("the eigen-decomposition of the input covariance")
        })?;
        let (r, lam) = (eig.U(), eig.S().column_vector());
        Some(Mat::from_fn(d, d, |a, b| {
            (0..d)
                .map(|i| r[(a, i)] * r[(b, i)] / lam[i].sqrt())
                .sum::<f64>()
        }))
    } else {
        None
    };
    Ok(InputAnalysis {
        whitening,
        diagnostics: InputDiagnostics {
            whitened: whiten,
            covariance_condition: condition,
            excess_kurtosis_min: kmin,
            excess_kurtosis_max: kmax,
            norm_dispersion,
            warnings,
        },
    })
}

/// A source whose inputs are W x for the inner source's x (the whitened view of a file,
/// say), computed chunk by chunk.
pub(crate) struct MappedInputs<'a> {
    pub inner: &'a dyn SampleSource,
    /// W, d'×d.
    pub w: MatRef<'a, f64>,
}

impl SampleSource for MappedInputs<'_> {
    fn n(&self) -> usize {
        self.inner.n()
    }
    fn d(&self) -> usize {
        self.w.nrows()
    }
    fn m(&self) -> usize {
        self.inner.m()
    }
    fn read(
        &self,
        start: usize,
        x: MatMut<'_, f64>,
        y: MatMut<'_, f64>,
    ) -> Result<(), twolayer_moments::MomentsError> {
        let mut raw = Mat::zeros(self.inner.d(), x.ncols());
        self.inner.read(start, raw.as_mut(), y)?;
        matmul(x, Accum::Replace, self.w, raw.as_ref(), 1.0, Par::Seq);
        Ok(())
    }
    fn read_indices(
        &self,
        indices: &[usize],
        x: MatMut<'_, f64>,
        y: MatMut<'_, f64>,
    ) -> Result<(), twolayer_moments::MomentsError> {
        let mut raw = Mat::zeros(self.inner.d(), x.ncols());
        self.inner.read_indices(indices, raw.as_mut(), y)?;
        matmul(
            x,
            Accum::Replace,
            self.w,
            raw.as_ref(),
            1.0,
            faer::get_global_parallelism(),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R diag(λ) Rᵀ for a fixed rotation R (a product of Givens rotations), so that the
    /// matrix is full.
    fn with_spectrum(lam: &[f64]) -> Mat<f64> {
        let d = lam.len();
        let mut r = Mat::<f64>::identity(d, d);
        for i in 0..d - 1 {
            let (c, s) = ((0.3 + i as f64).cos(), (0.3 + i as f64).sin());
            let g = Mat::from_fn(d, d, |a, b| match (a, b) {
                _ if a == i && b == i => c,
                _ if a == i + 1 && b == i + 1 => c,
                _ if a == i && b == i + 1 => -s,
                _ if a == i + 1 && b == i => s,
                _ if a == b => 1.0,
                _ => 0.0,
            });
            r = &g * &r;
        }
        let scaled = Mat::from_fn(d, d, |a, b| r[(a, b)] * lam[b]);
        &scaled * r.transpose()
    }

    #[test]
    fn the_certificate_says_below_two_only_when_it_is() {
        // The spectrum of a sample covariance at n = 100·d: (1 ± 0.1)².
        let typical: Vec<f64> = (0..12).map(|i| 0.81 + 0.4 * i as f64 / 11.0).collect();
        assert!(condition_below_two(with_spectrum(&typical).as_ref()));
        assert!(condition_below_two(with_spectrum(&[2.0, 3.9]).as_ref()));
        // At or above 2 it must refuse, whatever the rest of the spectrum.
        for lam in [
            vec![1.0, 2.0],
            vec![1.0, 1.0, 1.0, 2.05],
            vec![1.0, 2.0, 2.0, 2.0],
            vec![0.5, 1.0, 1.0, 1.0, 1.0],
            vec![1.0, 1.0, 0.0],
        ] {
            assert!(
                !condition_below_two(with_spectrum(&lam).as_ref()),
                "{lam:?}"
            );
        }
        // Below 2 but away from the mean's window: the eigenvalues decide instead.
        assert!(!condition_below_two(
            with_spectrum(&[1.0, 1.0, 1.0, 1.9]).as_ref()
        ));
        assert!(!condition_below_two(Mat::<f64>::zeros(3, 3).as_ref()));
        let nan = Mat::from_fn(2, 2, |i, j| if i == j { f64::NAN } else { 0.0 });
        assert!(!condition_below_two(nan.as_ref()));
    }
}
