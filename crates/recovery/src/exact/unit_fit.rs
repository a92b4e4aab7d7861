//! One hidden unit from its output: solve z_j = c f(v·x_j) for v (and c).

use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Par};
use twolayer_moments::matmul;

use crate::activation::Activation;
use crate::linalg::cholesky;

/// Solves z_j = c f(v·x_j) (z_j > 0) over the rows of `x` (s×d, one sample per row).
///
/// For f homogeneous of degree p the scale is not identified: c is absorbed into v and the
/// problem is linear, x·v = z^{1/p} (docs/algorithms.md section 5). Otherwise (c, v) is solved
/// jointly: a coarse search over c (each candidate a linear least-squares solve through f⁻¹)
/// picks the start, then damped Gauss–Newton on (log c, v) polishes it; a 1-D search alone is
/// unreliable because it is flat where |v·x| is small.
///
/// Returns `(v, c)`, or `None` if no finite solution was found. Cost: homogeneous f, one
/// s×d Gram matrix and its Cholesky factor (s d² + d³/3 flops); otherwise one QR of the s×d
/// rows and O(s d) per candidate c and per Gauss–Newton step (O(s d²) for the step's solve).
pub(crate) fn fit_unit(x: MatRef<'_, f64>, z: &[f64], f: &Activation) -> Option<(Vec<f64>, f64)> {
    let (s, d) = x.shape();
    if let Some(p) = f.homogeneity() {
        let b: Vec<f64> = z.iter().map(|t| t.powf(1.0 / p)).collect();
        if let Some(v) = lstsq_normal(x, &b) {
            return Some((v, 1.0));
        }
    }
    let qr = x.qr();
    let solve = |targets: &dyn Fn(usize) -> f64| -> Option<Vec<f64>> {
        let b = Mat::from_fn(s, 1, |j, _| targets(j));
        if !b.is_all_finite() {
            return None;
        }
        let v = qr.solve_lstsq(&b);
        let v: Vec<f64> = (0..d).map(|c| v[(c, 0)]).collect();
        v.iter().all(|t| t.is_finite()).then_some(v)
    };
    if let Some(p) = f.homogeneity() {
        return solve(&|j| z[j].powf(1.0 / p)).map(|v| (v, 1.0));
    }
    let residual = |v: &[f64], c: f64| -> f64 {
        (0..s)
            .map(|j| {
                let t: f64 = (0..d).map(|a| x[(j, a)] * v[a]).sum();
                (c * f.apply(t) - z[j]).powi(2)
            })
            .sum::<f64>()
    };
    // Coarse search over c, log-spaced over twelve decades around the size of z.
    let zmax = z.iter().copied().fold(0.0, f64::max);
    let mut best: Option<(f64, Vec<f64>, f64)> = None;
    for i in 0..=96 {
        let c = zmax * 10f64.powf(-6.0 + 12.0 * i as f64 / 96.0);
        let Some(v) = solve(&|j| f.inverse(z[j] / c)) else {
            continue;
        };
        let r = residual(&v, c);
        if r.is_finite() && best.as_ref().is_none_or(|(b, _, _)| r < *b) {
            best = Some((r, v, c));
        }
    }
    let (mut current, mut v, c) = best?;
    let mut lc = c.ln();
    let mut lambda = 1e-3;
    for _ in 0..100 {
        if current <= 1e-30 * zmax * zmax * s as f64 {
            break;
        }
        // Residuals and Jacobian in (log c, v).
        let c = lc.exp();
        let mut jac = Mat::<f64>::zeros(s, d + 1);
        let mut r = Mat::<f64>::zeros(s, 1);
        for j in 0..s {
            let t: f64 = (0..d).map(|a| x[(j, a)] * v[a]).sum();
            let ft = f.apply(t);
            r[(j, 0)] = z[j] - c * ft;
            jac[(j, 0)] = c * ft;
            let slope = c * f.derivative(t);
            for a in 0..d {
                jac[(j, a + 1)] = slope * x[(j, a)];
            }
        }
        let jtj = jac.transpose() * &jac;
        let jtr = jac.transpose() * &r;
        let mut improved = false;
        for _ in 0..12 {
            let mut a = jtj.clone();
            for t in 0..=d {
                a[(t, t)] += lambda * (jtj[(t, t)] + 1e-300);
            }
            let step = a.partial_piv_lu().solve(&jtr);
            if !step.is_all_finite() {
                lambda *= 10.0;
                continue;
            }
            let trial_lc = lc + step[(0, 0)];
            let trial: Vec<f64> = (0..d).map(|a| v[a] + step[(a + 1, 0)]).collect();
            let rt = residual(&trial, trial_lc.exp());
            if rt < current {
                (lc, v, current) = (trial_lc, trial, rt);
                lambda = (lambda / 3.0).max(1e-15);
                improved = true;
                break;
            }
            lambda *= 5.0;
        }
        if !improved {
            break;
        }
    }
    Some((v, lc.exp()))
}

/// Least squares x·v ≈ b (x s×d, s ≥ d) by the normal equations, then one step of
/// iterative refinement on the residual. The rows of a unit's support are ≈ 2d Gaussian
/// samples, so xᵀx has condition number ≈ 30 and the refined solution is as accurate as a
/// QR's; it costs a quarter of one at d = 100 (a GEMM-shaped Gram instead of Householder
/// reflections on one thread). Runs on the calling thread: the search solves several units
/// at once, one per thread, and a parallel solve inside each costs more than it saves.
/// `None` when xᵀx is not numerically positive definite or the result is not finite, for
/// the caller to fall back on a QR.
fn lstsq_normal(x: MatRef<'_, f64>, b: &[f64]) -> Option<Vec<f64>> {
    use faer::dyn_stack::MemStack;
    use faer::linalg::cholesky::llt;
    let (s, d) = x.shape();
    let b = MatRef::from_column_major_slice(b, s, 1);
    if !b.is_all_finite() {
        return None;
    }
    let gram = gram_cholesky(x)?;
    let factor = gram.as_ref();
    // Solves (xᵀx) v = xᵀ r for the right-hand side r.
    let solve = |r: MatRef<'_, f64>, v: &mut Mat<f64>| {
        matmul(v.as_mut(), Accum::Replace, x.transpose(), r, 1.0, Par::Seq);
        llt::solve::solve_in_place(factor, v.as_mut(), Par::Seq, MemStack::new(&mut []));
    };
    let mut v = Mat::<f64>::zeros(d, 1);
    solve(b, &mut v);
    let mut r = b.to_owned();
    matmul(r.as_mut(), Accum::Add, x, v.as_ref(), -1.0, Par::Seq);
    let mut step = Mat::<f64>::zeros(d, 1);
    solve(r.as_ref(), &mut step);
    v += &step;
    let v: Vec<f64> = (0..d).map(|a| v[(a, 0)]).collect();
    v.iter().all(|t| t.is_finite()).then_some(v)
}

/// The Cholesky factor L of xᵀx (x s×d), computed on this thread, in the lower triangle of
/// the returned d×d matrix (the strict upper one is zero); `None` when xᵀx is not numerically
/// positive definite. Only the lower triangle of xᵀx is formed. Cost: s d² + d³/3 flops.
fn gram_cholesky(x: MatRef<'_, f64>) -> Option<Mat<f64>> {
    let mut gram = twolayer_moments::lower_gram(x.transpose(), 1.0, Par::Seq);
    cholesky(&mut gram).then_some(gram)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Mat<f64> {
        Mat::from_fn(60, 3, |i, j| {
            (((i * 7 + 3) * (j * 13 + 5)) % 97) as f64 / 30.0 - 1.0
        })
    }

    #[test]
    fn homogeneous_units_come_back_up_to_scale() {
        let x = rows();
        let v = [0.3, -1.2, 0.8];
        let f = Activation::ReluPow(1.5);
        let (xs, zs): (Vec<usize>, Vec<f64>) = (0..60)
            .filter_map(|j| {
                let t: f64 = (0..3).map(|a| x[(j, a)] * v[a]).sum();
                (t > 0.0).then(|| (j, 2.0 * f.apply(t)))
            })
            .unzip();
        let sub = Mat::from_fn(xs.len(), 3, |i, a| x[(xs[i], a)]);
        let (w, c) = fit_unit(sub.as_ref(), &zs, &f).unwrap();
        assert_eq!(c, 1.0);
        let scale = 2f64.powf(1.0 / 1.5);
        for a in 0..3 {
            assert!((w[a] - scale * v[a]).abs() < 1e-12, "{w:?}");
        }
    }

    #[test]
    fn non_homogeneous_units_come_back_with_their_scale() {
        let x = rows();
        let v = [0.9, -2.1, 1.4];
        let f = Activation::LogRelu;
        let (xs, zs): (Vec<usize>, Vec<f64>) = (0..60)
            .filter_map(|j| {
                let t: f64 = (0..3).map(|a| x[(j, a)] * v[a]).sum();
                (t > 0.0).then(|| (j, 0.37 * f.apply(t)))
            })
            .unzip();
        let sub = Mat::from_fn(xs.len(), 3, |i, a| x[(xs[i], a)]);
        let (w, c) = fit_unit(sub.as_ref(), &zs, &f).unwrap();
        assert!((c - 0.37).abs() < 1e-9, "c = {c}");
        for a in 0..3 {
            assert!((w[a] - v[a]).abs() < 1e-9, "{w:?}");
        }
    }
}
