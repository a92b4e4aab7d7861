use faer::linalg::matmul::matmul;
use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Side};

use crate::error::MomentsError;
use crate::gram::{cross_moment, weighted_gram};

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
/// (ALGORITHMS.md 1.1). `x` is d×n, `y` m×n, samples as columns.
///
/// Cost: one Gram matrix O(n d²), one cross moment O(n d m), one product O(n d m).
pub fn centre_labels(x: MatRef<'_, f64>, y: MatRef<'_, f64>) -> Result<AffineFit, MomentsError> {
    let (d, n) = x.shape();
    let m = y.nrows();
    if y.ncols() != n {
        return Err(MomentsError::ShapeMismatch {
            what: "number of label samples",
            expected: n,
            got: y.ncols(),
        });
    }
    if n < d + 2 {
        return Err(MomentsError::TooFewSamples {
            what: "an affine fit",
            n,
            needed: d + 2,
        });
    }
    let mean_x: Vec<f64> = (0..d).map(|i| x.row(i).sum() / n as f64).collect();
    let mean_y: Vec<f64> = (0..m).map(|i| y.row(i).sum() / n as f64).collect();
    // Covariances from raw moments: one pass over X for each. The inputs this crate serves are
    // centred Gaussians, where the cancellation in S − μμᵀ is harmless.
    let mut sxx = weighted_gram(x, None)?;
    let mut sxy = cross_moment(x, y)?;
    for a in 0..d {
        for b in 0..d {
            sxx[(a, b)] -= mean_x[a] * mean_x[b];
        }
        for r in 0..m {
            sxy[(a, r)] -= mean_x[a] * mean_y[r];
        }
    }
    let eig = sxx.self_adjoint_eigenvalues(Side::Lower).map_err(|_| {
        MomentsError::SingularCovariance {
            min_eig: f64::NAN,
            max_eig: f64::NAN,
        }
    })?;
    let (min_eig, max_eig) = (eig[0], eig[d - 1]);
    if min_eig.is_nan() || min_eig <= 1e-12 * max_eig {
        return Err(MomentsError::SingularCovariance { min_eig, max_eig });
    }
    let llt = sxx
        .llt(Side::Lower)
        .map_err(|_| MomentsError::SingularCovariance { min_eig, max_eig })?;
    let bt = llt.solve(&sxy); // d×m
    let linear = bt.transpose().to_owned();
    let alpha: Vec<f64> = (0..m)
        .map(|r| mean_y[r] - (0..d).map(|a| bt[(a, r)] * mean_x[a]).sum::<f64>())
        .collect();
    let mut residual = y.to_owned();
    matmul(
        residual.as_mut(),
        Accum::Add,
        linear.as_ref(),
        x,
        -1.0,
        faer::get_global_parallelism(),
    );
    for j in 0..n {
        for r in 0..m {
            residual[(r, j)] -= alpha[r];
        }
    }
    Ok(AffineFit {
        alpha,
        linear,
        residual,
    })
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
