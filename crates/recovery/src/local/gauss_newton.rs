//! Gauss–Newton on the squared loss of a two-layer network, for any rectified activation,
//! with structured normal equations (no n×p Jacobian is stored).

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Par, Side};
use twolayer_moments::chunked_sum;
use twolayer_moments::matmul;

use crate::activation::Activation;
use crate::certificate::{EXACT_TOL, certifies};
use crate::error::RecoveryError;
use crate::local::STATISTICAL_TOL;
use crate::local::output_fit::{fit_output_weights, orient};
use crate::local::sign_pattern::SignPatternFit;
use crate::network::Network;

/// Damped Gauss–Newton (Levenberg–Marquardt) on ½ Σ_j ‖y_j − U f(V x_j)‖² over (U, V).
///
/// The Gauss–Newton matrix has the structure of docs/algorithms.md 4.5: with φ_j = [f'(v_i·x_j)
/// x_j]_i (k d entries), its V block is (UᵀU)_{ii'} ∘ Σ_j φ_j φ_jᵀ, its cross block
/// U_{oi} Σ_j φ_j f(V x_j)ᵀ and its U block I_m ⊗ Σ_j f(V x_j) f(V x_j)ᵀ: weighted Gram
/// matrices, formed in one chunked pass. For ReLU on a fixed sign pattern this is the same
/// least-squares problem [`crate::SignPatternLs`] solves; this form serves every activation.
///
/// Cost per iteration: O(n (k d)²) flops for the pass (lower triangle only), O((k(d + m))³)
/// for the solve, O(n k (d + m)) per trial step.
pub(crate) struct GaussNewton<'f> {
    pub activation: &'f Activation,
    pub max_iter: usize,
}

impl GaussNewton<'_> {
    /// Refines from directions `start` (k×d rows, signs free): the unit-norm rows are first
    /// oriented ([`orient`]) and U fitted by least squares, then (U, V) move jointly. `xt`
    /// is d×n, `yt` m×n.
    pub fn fit_t(
        &self,
        xt: MatRef<'_, f64>,
        yt: MatRef<'_, f64>,
        start: MatRef<'_, f64>,
    ) -> Result<SignPatternFit, RecoveryError> {
        let f = self.activation;
        let (k, d) = start.shape();
        let m = yt.nrows();
        let unit = Mat::from_fn(k, d, |i, a| {
            start[(i, a)] / start.row(i).norm_l2().max(f64::MIN_POSITIVE)
        });
        // Gauss–Newton turns a reversed unit back only slowly: the rows are oriented first.
        let mut v = orient(f, unit.as_ref(), xt, yt)?;
        let mut u = fit_output_weights(f, v.as_ref(), xt, yt, false, None)?.u;
        let denom = yt.norm_l2().max(f64::MIN_POSITIVE);
        let mut current = loss(f, &u, &v, xt, yt);
        let mut lambda = 1e-4;
        let mut iterations = 0;
        let p = k * d + m * k;
        // Steps that lower the residual by less than its statistical share stop the
        // iterations, as in [`crate::SignPatternLs`]: with noise, damped steps otherwise go
        // on changing the residual in its 8th digit for tens of iterations (logrelu at
        // (50, 10, 10, 2·10⁴, σ = 0.02): 18–39 of them where 3–8 reach the same fit).
        // (`loss` is the residual's norm, the unit the tolerance is stated in.)
        let tol = (STATISTICAL_TOL * p as f64 / (xt.ncols() * m).max(1) as f64).max(1e-12);
        for _ in 0..self.max_iter {
            iterations += 1;
            if current / denom < EXACT_TOL * 1e-3 {
                break;
            }
            let (h, g) = normal_equations(f, &u, &v, xt, yt);
            let mut improved = false;
            for _ in 0..16 {
                let mut a = h.clone();
                for t in 0..p {
                    a[(t, t)] += lambda * h[(t, t)].max(1e-12);
                }
                let Ok(llt) = a.llt(Side::Lower) else {
                    lambda *= 10.0;
                    continue;
                };
                let step = llt.solve(&g);
                let tv = Mat::from_fn(k, d, |i, c| v[(i, c)] + step[(i * d + c, 0)]);
                let tu = Mat::from_fn(m, k, |o, i| u[(o, i)] + step[(k * d + o * k + i, 0)]);
                let l = loss(f, &tu, &tv, xt, yt);
                if l < current {
                    let relative_gain = (current - l) / current;
                    (u, v, current) = (tu, tv, l);
                    lambda = (lambda / 4.0).max(1e-15);
                    improved = relative_gain > tol;
                    break;
                }
                lambda *= 8.0;
            }
            if !improved {
                break;
            }
        }
        // The final output layer is the exact least-squares fit for the V reached.
        let out = fit_output_weights(f, v.as_ref(), xt, yt, false, None)?;
        let network = Network {
            u: out.u,
            v,
            activation: f.clone(),
        };
        Ok(SignPatternFit {
            network: network.canonical(),
            intercept: None,
            residual_rel: out.residual_rel,
            iterations,
            exact: certifies(out.residual_rel),
        })
    }
}

/// ‖Y − U f(V X)‖_F, chunked. Cost O(n k (d + m)).
fn loss(
    f: &Activation,
    u: &Mat<f64>,
    v: &Mat<f64>,
    xt: MatRef<'_, f64>,
    yt: MatRef<'_, f64>,
) -> f64 {
    let n = xt.ncols();
    let total = chunked_sum(n, 1, 1, |r| {
        let (pre, _) = hidden(f, v, xt.subcols(r.start, r.len()));
        let mut pred = yt.subcols(r.start, r.len()).to_owned();
        matmul(
            pred.as_mut(),
            Accum::Add,
            u.as_ref(),
            pre.as_ref(),
            -1.0,
            Par::Seq,
        );
        Mat::from_fn(1, 1, |_, _| pred.squared_norm_l2())
    });
    total[(0, 0)].sqrt()
}

/// f(V X) and f'(V X) (k×c) for a chunk of samples `xc` (d×c).
fn hidden(f: &Activation, v: &Mat<f64>, xc: MatRef<'_, f64>) -> (Mat<f64>, Mat<f64>) {
    let mut pre = Mat::zeros(v.nrows(), xc.ncols());
    matmul(pre.as_mut(), Accum::Replace, v.as_ref(), xc, 1.0, Par::Seq);
    let deriv = Mat::from_fn(pre.nrows(), pre.ncols(), |i, j| f.derivative(pre[(i, j)]));
    let val = Mat::from_fn(pre.nrows(), pre.ncols(), |i, j| f.apply(pre[(i, j)]));
    (val, deriv)
}

/// The Gauss–Newton matrix H = JᵀJ and gradient g = Jᵀ r over θ = (vec V row-major,
/// vec U row-major), in one chunked pass.
fn normal_equations(
    f: &Activation,
    u: &Mat<f64>,
    v: &Mat<f64>,
    xt: MatRef<'_, f64>,
    yt: MatRef<'_, f64>,
) -> (Mat<f64>, Mat<f64>) {
    let (k, d) = v.shape();
    let (n, m) = (xt.ncols(), yt.nrows());
    let kd = k * d;
    // Per chunk: [A | B | FFᵀ-padded | gradient pieces] packed in one matrix of kd + k rows.
    let cols = kd + k + 1 + m;
    let total = chunked_sum(n, kd + k, cols, |r| {
        let c = r.len();
        let xc = xt.subcols(r.start, c);
        let (val, deriv) = hidden(f, v, xc);
        // Residuals and s_j = Uᵀ r_j.
        let mut res = yt.subcols(r.start, c).to_owned();
        matmul(
            res.as_mut(),
            Accum::Add,
            u.as_ref(),
            val.as_ref(),
            -1.0,
            Par::Seq,
        );
        let mut s = Mat::zeros(k, c);
        matmul(
            s.as_mut(),
            Accum::Replace,
            u.transpose(),
            res.as_ref(),
            1.0,
            Par::Seq,
        );
        // Φ (kd × c): row block i is f'(v_i·x_j) x_j.
        let phi = Mat::from_fn(kd, c, |row, j| deriv[(row / d, j)] * xc[(row % d, j)]);
        let mut out = Mat::zeros(kd + k, cols);
        triangular::matmul(
            out.as_mut().submatrix_mut(0, 0, kd, kd),
            BlockStructure::TriangularLower,
            Accum::Replace,
            phi.as_ref(),
            BlockStructure::Rectangular,
            phi.transpose(),
            BlockStructure::Rectangular,
            1.0,
            Par::Seq,
        );
        // B = Φ Fᵀ (kd × k) and FFᵀ (k × k).
        matmul(
            out.as_mut().submatrix_mut(0, kd, kd, k),
            Accum::Replace,
            phi.as_ref(),
            val.transpose(),
            1.0,
            Par::Seq,
        );
        matmul(
            out.as_mut().submatrix_mut(kd, kd, k, k),
            Accum::Replace,
            val.as_ref(),
            val.transpose(),
            1.0,
            Par::Seq,
        );
        // V gradient: Σ_j s_ij f'_ij x_j, stored in column kd + k.
        for row in 0..kd {
            let i = row / d;
            out[(row, kd + k)] = (0..c).map(|j| phi[(row, j)] * s[(i, j)]).sum::<f64>();
        }
        // U gradient pieces: F Rᵀ (k × m), stored in the last m columns of the bottom rows.
        matmul(
            out.as_mut().submatrix_mut(kd, kd + k + 1, k, m),
            Accum::Replace,
            val.as_ref(),
            res.transpose(),
            1.0,
            Par::Seq,
        );
        out
    });
    let p = kd + m * k;
    let utu = u.transpose() * u;
    let mut h = Mat::<f64>::zeros(p, p);
    for row in 0..kd {
        for col in 0..=row {
            let val = total[(row, col)] * utu[(row / d, col / d)];
            h[(row, col)] = val;
            h[(col, row)] = val;
        }
    }
    for row in 0..kd {
        let i = row / d;
        for o in 0..m {
            for i2 in 0..k {
                let val = u[(o, i)] * total[(row, kd + i2)];
                let col = kd + o * k + i2;
                h[(row, col)] = val;
                h[(col, row)] = val;
            }
        }
    }
    for o in 0..m {
        for i in 0..k {
            for i2 in 0..k {
                h[(kd + o * k + i, kd + o * k + i2)] = total[(kd + i, kd + i2)];
            }
        }
    }
    let mut g = Mat::<f64>::zeros(p, 1);
    for row in 0..kd {
        g[(row, 0)] = total[(row, kd + k)];
    }
    for o in 0..m {
        for i in 0..k {
            g[(kd + o * k + i, 0)] = total[(kd + i, kd + k + 1 + o)];
        }
    }
    (h, g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converges_to_an_exact_fit_for_a_smooth_activation() {
        let v = Mat::from_fn(2, 3, |i, j| [[1.0, 0.5, -0.2], [-0.3, 1.0, 0.4]][i][j]);
        let u = Mat::from_fn(2, 2, |i, j| [[1.0, -0.8], [0.3, 0.9]][i][j]);
        let f = Activation::ReluPow(2.0);
        let truth = Network::new(u, v.clone(), f.clone()).unwrap();
        let x = Mat::from_fn(400, 3, |i, j| {
            (((i * 7 + 3) * (j * 13 + 5) + i * i) % 97) as f64 / 48.0 - 1.0
        });
        let y = truth.predict(x.as_ref()).unwrap();
        let start = Mat::from_fn(2, 3, |i, j| v[(i, j)] + 0.05 * ((i + j) % 2) as f64);
        let xt = x.transpose().to_owned();
        let yt = y.transpose().to_owned();
        let fit = GaussNewton {
            activation: &f,
            max_iter: 50,
        }
        .fit_t(xt.as_ref(), yt.as_ref(), start.as_ref())
        .unwrap();
        assert!(fit.exact, "residual {}", fit.residual_rel);
        let a = crate::align(&fit.network, &truth).unwrap();
        assert!(a.v_max < 1e-9 && a.u_max_rel < 1e-9, "{a:?}");
    }
}
