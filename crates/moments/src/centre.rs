use crate::matmul;
use faer::{Accum, Mat, MatRef};

use crate::error::MomentsError;
use crate::sample_moments::SampleMoments;
use crate::source::InMemory;

/// Affine least-squares fit y ≈ α + B x of every label row, with its residual.
#[derive(Debug, Clone)]
pub struct AffineFit {
    /// Intercepts α (length m).
    pub alpha: Vec<f64>,
    /// Linear coefficients B (m×d). For Gaussian inputs and rectified units its rows lie in
    /// the span of the hidden weights: E[f(v·x) x] is a positive multiple of v.
    pub linear: Mat<f64>,
    /// Centred labels y − α − B x (m×n): the labels with their affine part removed.
    pub residual: Mat<f64>,
}

/// Centres the labels: fits y ≈ α + B x by least squares and returns the residual.
///
/// Hermite moments of order ≥ 2 are unchanged in population (Hermite polynomials of degree
/// ≥ 2 are orthogonal to affine functions) while their estimation error drops about 3×
/// (docs/algorithms.md 1.1). `x` is d×n, `y` m×n, samples as columns.
///
/// Cost: one pass of [`SampleMoments`], O(n (d+m)²), and one product O(n d m).
pub fn centre_labels(x: MatRef<'_, f64>, y: MatRef<'_, f64>) -> Result<AffineFit, MomentsError> {
    let (d, n) = x.shape();
    if n < d + 2 {
        return Err(MomentsError::TooFewSamples {
            what: "an affine fit",
            n,
            needed: d + 2,
        });
    }
    let moments = SampleMoments::compute(&InMemory::new(x, y)?)?;
    let (alpha, linear) = moments.affine_fit()?;
    let residual = AffineFit::residual_of(&alpha, linear.as_ref(), x, y);
    Ok(AffineFit {
        alpha,
        linear,
        residual,
    })
}

impl AffineFit {
    /// y − α − B x for samples `x` (d×n) and labels `y` (m×n): the centred labels of any
    /// samples under a fit made elsewhere (on all samples, say, when these are a subset).
    /// Cost: one GEMM, O(n d m).
    pub fn residual_of(
        alpha: &[f64],
        linear: MatRef<'_, f64>,
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
    ) -> Mat<f64> {
        let mut residual = y.to_owned();
        matmul(
            residual.as_mut(),
            Accum::Add,
            linear,
            x,
            -1.0,
            faer::get_global_parallelism(),
        );
        for j in 0..residual.ncols() {
            for (r, a) in alpha.iter().enumerate() {
                residual[(r, j)] -= a;
            }
        }
        residual
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_labels_centre_to_zero() {
        let x = Mat::from_fn(3, 50, |i, j| ((i * 37 + j * 11) % 23) as f64 - 11.0);
        // y0 = 2 + x0 − 3 x2, y1 = −1 + 0.5 x1
        let y = Mat::from_fn(2, 50, |r, j| match r {
            0 => 2.0 + x[(0, j)] - 3.0 * x[(2, j)],
            _ => -1.0 + 0.5 * x[(1, j)],
        });
        let fit = centre_labels(x.as_ref(), y.as_ref()).unwrap();
        assert!(fit.residual.norm_max() < 1e-10);
        assert!((fit.alpha[0] - 2.0).abs() < 1e-10 && (fit.alpha[1] + 1.0).abs() < 1e-10);
        assert!((fit.linear[(0, 2)] + 3.0).abs() < 1e-10);
        assert!((fit.linear[(1, 1)] - 0.5).abs() < 1e-10);
    }

    #[test]
    fn residual_is_orthogonal_to_inputs() {
        let x = Mat::from_fn(2, 40, |i, j| ((i * 13 + j * 7) % 17) as f64 - 8.0);
        let y = Mat::from_fn(1, 40, |_, j| (x[(0, j)]).max(0.0) + (x[(1, j)]).abs());
        let fit = centre_labels(x.as_ref(), y.as_ref()).unwrap();
        let r = fit.residual.row(0);
        assert!(r.sum().abs() < 1e-9);
        for i in 0..2 {
            let dot: f64 = (0..40).map(|j| r[j] * x[(i, j)]).sum();
            assert!(dot.abs() < 1e-9);
        }
    }

    #[test]
    fn constant_input_column_is_a_typed_error() {
        let x = Mat::from_fn(2, 20, |i, j| if i == 0 { 1.0 } else { j as f64 });
        let y = Mat::from_fn(1, 20, |_, j| j as f64);
        let err = centre_labels(x.as_ref(), y.as_ref()).unwrap_err();
        assert!(matches!(err, MomentsError::SingularCovariance { .. }));
    }
}
