use faer::{Mat, MatRef};

use crate::error::MomentsError;
use crate::gram::weighted_gram;

/// Second label-weighted Hermite moment T2(w) = (1/n) Σ_j w_j (x_j x_jᵀ − I) = G(w) − mean(w) I.
///
/// `x` is d×n (samples as columns). For Gaussian inputs and labels w_j = Σ_i a_i relu(v_i·x_j),
/// its expectation is (1/√(2π)) Σ_i a_i ‖v_i‖ v̂_i v̂_iᵀ (docs/algorithms.md 1.2). Passing
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

/// Fourth label-weighted Hermite moment contracted twice, M(a, b) = T4(w)(I, I, a, b) with
/// T4(w) = (1/n) Σ_j w_j He4(x_j), He4 the unnormalised fourth Hermite tensor.
///
/// Formed without any d⁴ or d³ tensor (docs/algorithms.md 1.3): with s_a = a·x_j, s_b = b·x_j,
/// w' = w s_a s_b, p = (1/n) Σ w s_a x, q = (1/n) Σ w s_b x and w̄ = mean(w),
/// M = G(w') − mean(w') I − (p bᵀ + b pᵀ) − (q aᵀ + a qᵀ) − (a·b) G(w) + (a·b) w̄ I
///     + w̄ (a bᵀ + b aᵀ).
/// For Gaussian inputs and w = Σ_i u_i relu(v_i·x) its expectation is
/// −(1/√(2π)) Σ_i u_i ‖v_i‖ (a·v̂_i)(b·v̂_i) v̂_i v̂_iᵀ. Very sample-hungry: a source of
/// starting points, not a method. Passing x = Qᵀ X (and a, b in Q's coordinates) gives the
/// whitened slice directly.
///
/// Cost: two weighted Gram matrices and two weighted sums, O(n d²) flops.
pub fn t4_contracted(
    x: MatRef<'_, f64>,
    w: &[f64],
    a: &[f64],
    b: &[f64],
) -> Result<Mat<f64>, MomentsError> {
    let (d, n) = x.shape();
    for (what, v) in [("length of a", a), ("length of b", b)] {
        if v.len() != d {
            return Err(MomentsError::ShapeMismatch {
                what,
                expected: d,
                got: v.len(),
            });
        }
    }
    crate::gram::check_samples("a fourth-order moment", n, Some(w))?;
    let proj = |v: &[f64], j: usize| (0..d).map(|i| v[i] * x[(i, j)]).sum::<f64>();
    let sa: Vec<f64> = (0..n).map(|j| proj(a, j)).collect();
    let sb: Vec<f64> = (0..n).map(|j| proj(b, j)).collect();
    let wp: Vec<f64> = (0..n).map(|j| w[j] * sa[j] * sb[j]).collect();
    let wbar = w.iter().sum::<f64>() / n as f64;
    let wpbar = wp.iter().sum::<f64>() / n as f64;
    let mut p = vec![0.0; d];
    let mut q = vec![0.0; d];
    for j in 0..n {
        for i in 0..d {
            p[i] += w[j] * sa[j] * x[(i, j)];
            q[i] += w[j] * sb[j] * x[(i, j)];
        }
    }
    p.iter_mut()
        .chain(q.iter_mut())
        .for_each(|t| *t /= n as f64);
    let ab: f64 = a.iter().zip(b).map(|(s, t)| s * t).sum();
    let g_wp = weighted_gram(x, Some(&wp))?;
    let g_w = weighted_gram(x, Some(w))?;
    Ok(Mat::from_fn(d, d, |i, k| {
        let eye = if i == k { 1.0 } else { 0.0 };
        g_wp[(i, k)]
            - wpbar * eye
            - (p[i] * b[k] + b[i] * p[k])
            - (q[i] * a[k] + a[i] * q[k])
            - ab * g_w[(i, k)]
            + ab * wbar * eye
            + wbar * (a[i] * b[k] + b[i] * a[k])
    }))
}

/// One entry He4(x)_{ijkl} of the unnormalised fourth Hermite tensor: x_i x_j x_k x_l minus
/// the six single pairings (δ_ij x_k x_l, …) plus the three double ones (δ_ij δ_kl, …). The
/// brute-force reference that [`t4_contracted`] is checked against (O(1) per entry; a whole
/// tensor is d⁴ of them).
pub fn he4_entry(x: &[f64], [i, j, k, l]: [usize; 4]) -> f64 {
    let e = |p: usize, q: usize| if p == q { 1.0 } else { 0.0 };
    x[i] * x[j] * x[k] * x[l]
        - (e(i, j) * x[k] * x[l]
            + e(i, k) * x[j] * x[l]
            + e(i, l) * x[j] * x[k]
            + e(j, k) * x[i] * x[l]
            + e(j, l) * x[i] * x[k]
            + e(k, l) * x[i] * x[j])
        + e(i, j) * e(k, l)
        + e(i, k) * e(j, l)
        + e(i, l) * e(j, k)
}

#[cfg(test)]
mod t4_tests {
    use super::*;

    #[test]
    #[allow(clippy::needless_range_loop)] // explicit tensor indices read as the math does
    fn matches_the_brute_force_tensor_contraction() {
        let (d, n) = (3, 40);
        let x = Mat::from_fn(d, n, |i, j| ((i * 37 + j * 11) % 23) as f64 / 7.0 - 1.5);
        let w: Vec<f64> = (0..n).map(|j| ((j * 13) % 7) as f64 - 3.0).collect();
        let (a, b) = ([0.3, -1.0, 0.5], [1.2, 0.1, -0.7]);
        let m = t4_contracted(x.as_ref(), &w, &a, &b).unwrap();
        for i in 0..d {
            for j in 0..d {
                let mut brute = 0.0;
                for s in 0..n {
                    let xs: Vec<f64> = (0..d).map(|r| x[(r, s)]).collect();
                    for k in 0..d {
                        for l in 0..d {
                            brute += w[s] * he4_entry(&xs, [i, j, k, l]) * a[k] * b[l];
                        }
                    }
                }
                brute /= n as f64;
                assert!(
                    (m[(i, j)] - brute).abs() < 1e-10,
                    "({i},{j}): {} vs {brute}",
                    m[(i, j)]
                );
            }
        }
    }
}
