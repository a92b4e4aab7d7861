use faer::{Mat, MatRef};

use crate::error::MomentsError;
use crate::gram::weighted_gram;

/// Second label-weighted Hermite moment T2(w) = (1/n) Σ_j w_j (x_j x_jᵀ − I) = G(w) − mean(w) I.
///
/// `x` is d×n (samples as columns). For Gaussian inputs and labels w_j = Σ_i a_i relu(v_i·x_j),
/// its expectation is (1/√(2π)) Σ_i a_i ‖v_i‖ v̂_i v̂_iᵀ (ALGORITHMS.md 1.2). Passing
/// `x = Qᵀ X` for an orthonormal Q gives the whitened slice Qᵀ T2(w) Q directly, in O(n k²).
///
/// Cost: one weighted Gram matrix, O(n d²) flops.
pub fn t2(x: MatRef<'_, f64>, w: &[f64]) -> Result<Mat<f64>, MomentsError> {
    let mut g = weighted_gram(x, Some(w))?;
    let mean = w.iter().sum::<f64>() / w.len() as f64;
    for i in 0..g.nrows() {
        g[(i, i)] -= mean;
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t2_of_constant_weights_is_covariance_minus_identity() {
        // Columns ±e₁, ±e₂ scaled by 2: covariance diag(2, 2) · … exactly known.
        let x = Mat::from_fn(2, 4, |i, j| {
            [[2.0, -2.0, 0.0, 0.0], [0.0, 0.0, 2.0, -2.0]][i][j]
        });
        let m = t2(x.as_ref(), &[1.0; 4]).unwrap();
        assert_eq!(m[(0, 0)], 1.0); // (4 + 4)/4 − 1
        assert_eq!(m[(1, 1)], 1.0);
        assert_eq!(m[(0, 1)], 0.0);
    }
}
