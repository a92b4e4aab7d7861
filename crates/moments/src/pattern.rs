use crate::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par};

use crate::chunked::chunked_sum;
use crate::error::MomentsError;

/// Normal equations of the sign-pattern regression y ≈ L x + Σ_i 1{v̂_i·x > 0} D_i x (+ c).
///
/// The design row of sample j is φ_j = [x_j, s_1j x_j, …, s_kj x_j (, 1)] with
/// s_ij = 1{v̂_i·x_j > 0}, p = (k + 1) d (+ 1) entries. Returns G = (1/W) Σ_j w_j φ_j φ_jᵀ (p×p)
/// and R = (1/W) Σ_j w_j φ_j y_jᵀ (p×m), W = Σ_j w_j. Its blocks are weighted Gram matrices
/// of X with weights s_a s_b w; computed here in one GEMM per chunk of samples, so the n×p
/// design is never stored.
///
/// `x` is d×n, `dirs` k×d (only the signs of dirs·x matter), `y` m×n, `w` optional
/// non-negative sample weights (IRLS). Cost: O(n p (p + m)) flops, one pass over X and Y.
pub fn pattern_normal_equations(
    x: MatRef<'_, f64>,
    dirs: MatRef<'_, f64>,
    y: MatRef<'_, f64>,
    w: Option<&[f64]>,
    intercept: bool,
) -> Result<(Mat<f64>, Mat<f64>), MomentsError> {
    let (d, n) = x.shape();
    let (k, m) = (dirs.nrows(), y.nrows());
    if dirs.ncols() != d {
        return Err(MomentsError::ShapeMismatch {
            what: "columns of the direction matrix (input dimension)",
            expected: d,
            got: dirs.ncols(),
        });
    }
    if y.ncols() != n {
        return Err(MomentsError::ShapeMismatch {
            what: "number of label samples",
            expected: n,
            got: y.ncols(),
        });
    }
    crate::gram::check_samples("sign-pattern normal equations", n, w)?;
    let p = (k + 1) * d + usize::from(intercept);
    let total = chunked_sum(n, p, p + m, |r| {
        let c = r.len();
        let xc = x.subcols(r.start, c);
        let mut act = Mat::zeros(k, c);
        matmul(act.as_mut(), Accum::Replace, dirs, xc, 1.0, Par::Seq);
        // Weighted design: rows scaled by √w so that ΦΦᵀ carries w once.
        let sw = |j: usize| w.map_or(1.0, |w| w[r.start + j].sqrt());
        let mut phi = Mat::zeros(p, c);
        for j in 0..c {
            let s = sw(j);
            for a in 0..d {
                phi[(a, j)] = s * xc[(a, j)];
            }
            for i in 0..k {
                if act[(i, j)] > 0.0 {
                    for a in 0..d {
                        phi[((i + 1) * d + a, j)] = s * xc[(a, j)];
                    }
                }
            }
            if intercept {
                phi[(p - 1, j)] = s;
            }
        }
        let yw = Mat::from_fn(c, m, |j, o| sw(j) * y[(o, r.start + j)]);
        let mut out = Mat::zeros(p, p + m);
        // G is symmetric: its lower triangle alone costs half the flops.
        triangular::matmul(
            out.as_mut().subcols_mut(0, p),
            BlockStructure::TriangularLower,
            Accum::Replace,
            phi.as_ref(),
            BlockStructure::Rectangular,
            phi.transpose(),
            BlockStructure::Rectangular,
            1.0,
            Par::Seq,
        );
        matmul(
            out.as_mut().subcols_mut(p, m),
            Accum::Replace,
            phi.as_ref(),
            yw.as_ref(),
            1.0,
            Par::Seq,
        );
        out
    });
    let weight = w.map_or(n as f64, |w| w.iter().sum());
    let scale = if weight > 0.0 { 1.0 / weight } else { 0.0 };
    // Only the lower triangle was accumulated: mirror it.
    let g = Mat::from_fn(p, p, |a, b| total[(a.max(b), a.min(b))] * scale);
    let rr = Mat::from_fn(p, m, |a, o| total[(a, p + o)] * scale);
    Ok((g, rr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_explicit_design() {
        let (d, n) = (3, 2 * crate::CHUNK + 17);
        let x = Mat::from_fn(d, n, |i, j| {
            ((i * 7919 + j * 104_729) % 1000) as f64 / 500.0 - 1.0
        });
        let y = Mat::from_fn(2, n, |o, j| ((o * 31 + j * 17) % 29) as f64 - 14.0);
        let dirs = Mat::from_fn(2, d, |i, a| [[1.0, -0.5, 0.2], [0.0, 1.0, 1.0]][i][a]);
        let w: Vec<f64> = (0..n).map(|j| 0.5 + (j % 5) as f64).collect();
        let (g, r) =
            pattern_normal_equations(x.as_ref(), dirs.as_ref(), y.as_ref(), Some(&w), true)
                .unwrap();
        let p = 3 * d + 1;
        let phi = |j: usize| -> Vec<f64> {
            let mut f = vec![0.0; p];
            for a in 0..d {
                f[a] = x[(a, j)];
                for i in 0..2 {
                    let act: f64 = (0..d).map(|b| dirs[(i, b)] * x[(b, j)]).sum();
                    if act > 0.0 {
                        f[(i + 1) * d + a] = x[(a, j)];
                    }
                }
            }
            f[p - 1] = 1.0;
            f
        };
        let wsum: f64 = w.iter().sum();
        let (mut g2, mut r2) = (Mat::<f64>::zeros(p, p), Mat::<f64>::zeros(p, 2));
        for j in 0..n {
            let f = phi(j);
            for a in 0..p {
                for b in 0..p {
                    g2[(a, b)] += w[j] * f[a] * f[b] / wsum;
                }
                for o in 0..2 {
                    r2[(a, o)] += w[j] * f[a] * y[(o, j)] / wsum;
                }
            }
        }
        assert!((&g - &g2).norm_max() < 1e-12);
        assert!((&r - &r2).norm_max() < 1e-11);
    }
}
