//! Sign-pattern least squares (docs/algorithms.md section 4): any m, noisy labels.

use faer::prelude::*;
use faer::{Mat, MatRef, Side};
use serde::Serialize;
use twolayer_moments::pattern_normal_equations;

use crate::certificate::certifies;
use crate::data::checks::{check_samples, samples_as_columns};
use crate::error::RecoveryError;
use crate::local::STATISTICAL_TOL;
use crate::local::output_fit::{OutputFit, fit_output_exact, fit_output_weights, orient};
use crate::local::pattern_gn::{GnSample, gauss_newton_step};
use crate::network::{Activation, Network};

/// The loss minimised over the samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// Σ_j ‖r_j‖²: the maximum-likelihood loss for Gaussian noise.
    Squared,
    /// Huber's loss on ‖r_j‖ with threshold 1.345 σ̂ (σ̂ a robust scale of the residuals),
    /// minimised by iteratively reweighted least squares: for heavy-tailed noise.
    Huber,
}

/// Iterated sign-pattern least squares: from directions v̂_i, fit
/// y = L x + Σ_i 1{v̂_i·x > 0} D_i x by least squares (one design shared by the m outputs),
/// read each unit off D_i, and repeat with the new directions until the residual stops
/// decreasing.
///
/// Every network with units along ±v̂_i has this form, with D_i = σ_i U_i V_iᵀ (σ_i = ±1 the
/// orientation) and L = Σ_i β_i D_i, β_i ∈ {0, −1}; β is found by least squares of L on the
/// D_i and rounded, σ_i = 1 + 2β_i, and U_i V_iᵀ = σ_i D_i is read off by its top singular
/// pair. U is then refitted by least squares given V. Once the sign patterns are right the
/// fit is the least-squares estimate; noiseless, it is exact (residual ~1e-15).
///
/// ## Requirements
/// Units at least a few degrees from parallel and from antiparallel (an antiparallel pair's
/// patterns sum to one, which makes the design singular). Starting directions close enough
/// to the truth: one solve tolerates direction errors of
/// about 0.03–0.1, iterating about 0.2–0.3 (docs/algorithms.md 4.2). Inputs x ~ N(0, I_d) for the
/// guarantees; noise mean-zero (or independent of x with `intercept`).
///
/// ## Reference
/// docs/algorithms.md section 4; the parametrisation is ours, not the paper's.
///
/// Cost per iteration: one pass forming the normal equations, O(n p (p + m)) flops with
/// p = (k + 1) d, a p×p Cholesky solve, and O(n k (d + m)) for U and the residual.
#[derive(Debug, Clone, PartialEq)]
pub struct SignPatternLs {
    max_iter: usize,
    intercept: bool,
    loss: Loss,
    warmup: Option<usize>,
    step: StepSolver,
}

/// How each iteration solves for the weights once the patterns are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepSolver {
    /// Gauss–Newton–CG when the joint normal equations would cost more than 10¹⁰ flops
    /// (n ((k+1) d)² > 1e10) and the loss is squared without intercept; joint otherwise.
    Auto,
    /// The joint least squares in (L, D_1..D_k): O(n (k+1)² d²) flops per iteration.
    Joint,
    /// Matrix-free Gauss–Newton on (U, V) with preconditioned conjugate gradients:
    /// O(n k (d + m)) flops per CG iteration (squared loss without intercept; joint
    /// otherwise).
    GaussNewtonCg,
}

/// Above this many flops for the joint normal equations, [`StepSolver::Auto`] switches to
/// Gauss–Newton–CG: the noisy front door's starts compete on a subsample of 8(k+1)d
/// samples, where the joint step at (100, 20, 20) costs about 2 s an iteration and
/// Gauss–Newton–CG reaches the same errors 1.5–5× sooner.
const JOINT_FLOPS_MAX: f64 = 1e10;

impl Default for SignPatternLs {
    fn default() -> Self {
        Self::new()
    }
}

/// The result of [`SignPatternLs::fit`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignPatternFit {
    /// The fitted network, in canonical form.
    pub network: Network,
    /// Fitted intercept c (length m), when asked for.
    pub intercept: Option<Vec<f64>>,
    /// ‖Y − c − U f(V X)‖_F / ‖Y‖_F over all samples.
    pub residual_rel: f64,
    /// Iterations run.
    pub iterations: usize,
    /// The residual reached the exact threshold (1e-10): a certified exact fit.
    pub exact: bool,
}

impl SignPatternLs {
    /// Defaults: at most 20 iterations, squared loss, no intercept.
    pub fn new() -> Self {
        Self {
            max_iter: 20,
            intercept: false,
            loss: Loss::Squared,
            warmup: None,
            step: StepSolver::Auto,
        }
    }

    /// How each iteration solves for the weights (default [`StepSolver::Auto`]).
    pub fn step_solver(mut self, step: StepSolver) -> Self {
        self.step = step;
        self
    }

    /// Iterate first on an evenly spaced subsample of this many samples, then on all of them
    /// (skipped unless n is at least twice as large). Early iterations only need the sign
    /// patterns roughly right, and cost O(n p²) each: the subsample makes them cheap.
    pub fn warmup(mut self, samples: Option<usize>) -> Self {
        self.warmup = samples;
        self
    }

    /// Most iterations to run (at least 1; 0 is an error when fitting).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Fit an intercept c (y = c + U f(V x)): for noise that is independent of x but not
    /// mean-zero.
    pub fn intercept(mut self, intercept: bool) -> Self {
        self.intercept = intercept;
        self
    }

    /// The loss to minimise.
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }

    /// Fits from starting directions `start` (k×d; rows need not be unit, their sign does not
    /// matter) to samples X (n×d) and labels Y (n×m).
    pub fn fit(
        &self,
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
        start: MatRef<'_, f64>,
    ) -> Result<SignPatternFit, RecoveryError> {
        crate::error::at_least_one("max_iter", self.max_iter)?;
        check_samples(x, y)?;
        check_start(start, x.ncols())?;
        let (xt, yt) = (samples_as_columns(x), samples_as_columns(y));
        self.fit_t(xt.as_ref(), yt.as_ref(), start)
    }

    /// Whether an unweighted iteration on n samples in dimension d with k units takes the
    /// Gauss–Newton–CG step (see [`StepSolver`]). Huber's reweighted iterations and intercept
    /// fits always take the joint one. Cost: O(1).
    pub(crate) fn gauss_newton_at(&self, n: usize, d: usize, k: usize) -> bool {
        let joint_flops = n as f64 * (((k + 1) * d) as f64).powi(2);
        !self.intercept
            && match self.step {
                StepSolver::Auto => joint_flops > JOINT_FLOPS_MAX,
                StepSolver::Joint => false,
                StepSolver::GaussNewtonCg => true,
            }
    }

    /// [`Self::fit`] on samples as columns: `xt` d×n, `yt` m×n.
    pub(crate) fn fit_t(
        &self,
        xt: MatRef<'_, f64>,
        yt: MatRef<'_, f64>,
        start: MatRef<'_, f64>,
    ) -> Result<SignPatternFit, RecoveryError> {
        let n = xt.ncols();
        match self.warmup {
            Some(sub) if sub > 0 && n >= 2 * sub => {
                let (xs, ys) = crate::data::subsample::strided_subsample(xt, yt, sub);
                let warm = self.iterate(xs.as_ref(), ys.as_ref(), start)?;
                let mut fit = self.iterate(xt, yt, warm.network.v.as_ref())?;
                fit.iterations += warm.iterations;
                Ok(fit)
            }
            _ => self.iterate(xt, yt, start),
        }
    }

    fn iterate(
        &self,
        xt: MatRef<'_, f64>,
        yt: MatRef<'_, f64>,
        start: MatRef<'_, f64>,
    ) -> Result<SignPatternFit, RecoveryError> {
        let mut dirs = start.to_owned();
        let mut weights: Option<Vec<f64>> = None;
        let mut huber_delta: Option<f64> = None;
        let mut best: Option<(f64, SignPatternFit)> = None;
        let mut u_prev: Option<Mat<f64>> = None;
        let (k, d, n, m) = (start.nrows(), xt.nrows(), xt.ncols(), yt.nrows());
        let gn_sample = std::cell::OnceCell::new();
        let tol = (STATISTICAL_TOL * (k * (d + m)) as f64 / (n * m).max(1) as f64).max(1e-10);
        for it in 1..=self.max_iter {
            let (v, out, inexact) = self.step(
                xt,
                yt,
                dirs.as_ref(),
                weights.as_deref(),
                u_prev.as_ref(),
                &gn_sample,
            )?;
            u_prev = Some(out.u.clone());
            let objective = match self.loss {
                Loss::Squared => out.residual_rel,
                Loss::Huber => {
                    let delta = *huber_delta.get_or_insert_with(|| robust_delta(&out));
                    out.sample_residuals.iter().map(|&r| huber(r, delta)).sum()
                }
            };
            // With noise the last pattern flips and inexact steps change the objective far
            // below its statistical error: that is convergence, not progress.
            let improved = best
                .as_ref()
                .is_none_or(|(b, _)| objective < *b * (1.0 - tol));
            let exact = certifies(out.residual_rel);
            if improved {
                let network = Network {
                    u: out.u.clone(),
                    v: v.clone(),
                    activation: Activation::Relu,
                };
                best = Some((
                    objective,
                    SignPatternFit {
                        network: network.canonical(),
                        intercept: out.intercept.clone(),
                        residual_rel: out.residual_rel,
                        iterations: it,
                        exact,
                    },
                ));
            }
            // An inexact (subsampled Newton) step reaches the exact threshold before the last
            // digits: keep going while it still improves.
            if (exact && !inexact) || !improved {
                break;
            }
            if let (Loss::Huber, Some(delta)) = (self.loss, huber_delta) {
                weights = Some(
                    out.sample_residuals
                        .iter()
                        .map(|&r| if r <= delta { 1.0 } else { delta / r })
                        .collect(),
                );
            }
            dirs = v;
        }
        let (_, fit) = best.expect("at least one iteration runs");
        Ok(fit)
    }

    /// One solve with fixed directions: the hidden weights V (k×d) and the output fit.
    fn step(
        &self,
        xt: MatRef<'_, f64>,
        yt: MatRef<'_, f64>,
        dirs: MatRef<'_, f64>,
        w: Option<&[f64]>,
        u_prev: Option<&Mat<f64>>,
        gn_sample: &std::cell::OnceCell<GnSample>,
    ) -> Result<(Mat<f64>, OutputFit, bool), RecoveryError> {
        let (d, n) = xt.shape();
        if w.is_none() && self.gauss_newton_at(n, d, dirs.nrows()) {
            // Start from the directions and the output fit on their features (the previous
            // iteration's, which was fitted to exactly these directions). A first step
            // orients them first: this step turns a reversed unit back only slowly (see
            // [`orient`]).
            let oriented;
            let (dirs, u0) = match u_prev {
                Some(u) => (dirs, u.clone()),
                None => {
                    oriented = orient(&Activation::Relu, dirs, xt, yt)?;
                    let dirs = oriented.as_ref();
                    (
                        dirs,
                        fit_output_exact(&Activation::Relu, dirs, xt, yt, None, false)?.0,
                    )
                }
            };
            let sample = gn_sample.get_or_init(|| GnSample::new(xt, yt, dirs.nrows()));
            let step = gauss_newton_step(xt, yt, dirs, u0.as_ref(), sample)?;
            let norm2 = yt.squared_norm_l2();
            let out = OutputFit {
                u: step.u,
                intercept: None,
                residual_rel: if norm2 > 0.0 {
                    (step.loss / norm2).sqrt()
                } else {
                    step.loss.sqrt()
                },
                // Only the Huber loss reads per-sample residuals, and it never takes this path.
                sample_residuals: Vec::new(),
            };
            let v = step.v;
            return Ok((v, out, true));
        }
        let (g, r) = pattern_normal_equations(xt, dirs, yt, w, self.intercept)?;
        let theta = solve_spd(&g, &r)?; // p×m: rows [L; D_1; …; D_k] transposed
        let v = hidden_from_blocks(theta.as_ref(), dirs, xt.nrows());
        let out = fit_output_weights(&Activation::Relu, v.as_ref(), xt, yt, self.intercept, w)?;
        Ok((v, out, false))
    }
}

/// Least squares with the TRUE sign patterns: the oracle the noisy methods are measured
/// against. For benchmarks and tests; it needs the planted network.
#[derive(Debug, Clone, Default)]
pub struct OracleLs {
    intercept: bool,
}

impl OracleLs {
    /// An oracle with an intercept when `intercept` is set.
    pub fn new(intercept: bool) -> Self {
        Self { intercept }
    }

    /// One sign-pattern solve with the patterns of `truth`, on X (n×d) and Y (n×m).
    pub fn fit(
        &self,
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
        truth: &Network,
    ) -> Result<SignPatternFit, RecoveryError> {
        SignPatternLs::new()
            .max_iter(1)
            .step_solver(StepSolver::Joint)
            .intercept(self.intercept)
            .fit(x, y, truth.v.as_ref())
    }
}

fn check_start(start: MatRef<'_, f64>, d: usize) -> Result<(), RecoveryError> {
    if start.ncols() != d {
        return Err(RecoveryError::Shape {
            what: "columns of the starting directions (the input dimension d)",
            expected: d,
            got: start.ncols(),
        });
    }
    if start.nrows() == 0 {
        return Err(RecoveryError::ZeroK);
    }
    crate::data::checks::check_finite("starting directions", start)
}

/// Solves G Θ = R for symmetric positive semi-definite G by Cholesky, adding a tiny ridge
/// when G is singular (a unit whose pattern is all-on or all-off makes its block collinear).
fn solve_spd(g: &Mat<f64>, r: &Mat<f64>) -> Result<Mat<f64>, RecoveryError> {
    if let Ok(llt) = g.llt(Side::Lower) {
        let theta = llt.solve(r);
        if theta.is_all_finite() {
            return Ok(theta);
        }
    }
    let p = g.nrows();
    let trace: f64 = (0..p).map(|i| g[(i, i)]).sum();
    let ridge = 1e-10 * (trace / p as f64).max(f64::MIN_POSITIVE);
    let mut gr = g.clone();
    for i in 0..p {
        gr[(i, i)] += ridge;
    }
    let llt = gr
        .llt(Side::Lower)
        .map_err(|_| RecoveryError::Numerical("the sign-pattern normal equations"))?;
    Ok(llt.solve(r))
}

/// Reads the hidden weights off the blocks Θ = [L; D_1; …; D_k] (each d×m, transposed).
///
/// β = argmin ‖L − Σ β_i D_i‖_F rounded to {0, −1} gives the orientation σ_i = 1 + 2β_i;
/// the top right singular vector of σ_i D_i is the unit's direction, signed to agree with
/// σ_i v̂_i. A unit whose block vanishes keeps its direction.
fn hidden_from_blocks(theta: MatRef<'_, f64>, dirs: MatRef<'_, f64>, d: usize) -> Mat<f64> {
    let k = dirs.nrows();
    let block = |i: usize| theta.subrows(i * d, d); // d×m; i = 0 is L
    let gram = Mat::from_fn(k, k, |a, b| frob(block(a + 1), block(b + 1)));
    let rhs = Mat::from_fn(k, 1, |a, _| frob(block(0), block(a + 1)));
    let beta = solve_spd(&gram, &rhs).unwrap_or_else(|_| Mat::zeros(k, 1));
    let mut v = Mat::zeros(k, d);
    for i in 0..k {
        let sigma = if beta[(i, 0)] < -0.5 { -1.0 } else { 1.0 };
        let di = block(i + 1);
        let dir_norm = dirs.row(i).norm_l2().max(f64::MIN_POSITIVE);
        let mut row: Vec<f64> = (0..d).map(|a| sigma * dirs[(i, a)] / dir_norm).collect();
        if di.norm_l2() > 0.0
            && let Ok(svd) = di.thin_svd()
        {
            let w = svd.U().col(0); // d: the direction of σ_i D_iᵀ up to sign
            let agree: f64 = (0..d).map(|a| w[a] * row[a]).sum();
            let s = if agree < 0.0 { -1.0 } else { 1.0 };
            row = (0..d).map(|a| s * w[a]).collect();
        }
        for a in 0..d {
            v[(i, a)] = row[a];
        }
    }
    v
}

fn frob(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    let mut s = 0.0;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            s += a[(i, j)] * b[(i, j)];
        }
    }
    s
}

/// Huber threshold 1.345 σ̂, with σ̂ = median residual norm / 0.6745 (a robust scale).
fn robust_delta(out: &OutputFit) -> f64 {
    let mut r = out.sample_residuals.clone();
    let mid = r.len() / 2;
    let (_, median, _) = r.select_nth_unstable_by(mid, f64::total_cmp);
    (1.345 * *median / 0.6745).max(f64::MIN_POSITIVE)
}

fn huber(r: f64, delta: f64) -> f64 {
    if r <= delta {
        0.5 * r * r
    } else {
        delta * (r - 0.5 * delta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic, sign-rich input grid: no generator needed.
    fn grid(n: usize, d: usize) -> Mat<f64> {
        Mat::from_fn(n, d, |i, j| {
            (((i * 7 + 3) * (j * 13 + 5) + i * i) % 101) as f64 / 50.0 - 1.0
        })
    }

    fn planted() -> Network {
        let v = Mat::from_fn(3, 4, |i, j| {
            [
                [1.0, 0.2, 0.0, -0.3],
                [-0.4, 1.0, 0.5, 0.0],
                [0.1, -0.2, 0.3, 1.0],
            ][i][j]
        });
        let u = Mat::from_fn(1, 3, |_, j| [1.0, -0.7, 1.3][j]);
        Network::new(u, v, Activation::Relu).unwrap()
    }

    #[test]
    fn true_directions_give_an_exact_fit_in_one_solve_either_orientation() {
        let truth = planted();
        let x = grid(800, 4);
        let y = truth.predict(x.as_ref()).unwrap();
        // Flip unit 1's starting direction: the β rule must orient it back.
        let mut start = truth.v.clone();
        for a in 0..4 {
            start[(1, a)] = -start[(1, a)];
        }
        let fit = SignPatternLs::new()
            .max_iter(1)
            .fit(x.as_ref(), y.as_ref(), start.as_ref())
            .unwrap();
        assert!(fit.exact, "residual {}", fit.residual_rel);
        let a = crate::align(&fit.network, &truth).unwrap();
        assert!(a.v_max < 1e-10 && a.u_max_rel < 1e-10, "{a:?}");
    }

    /// Truth's rows with units 0 and 2 reversed, and perturbed by about 0.05.
    fn reversed_start(truth: &Network) -> Mat<f64> {
        Mat::from_fn(3, 4, |i, a| {
            let sign = if i == 1 { 1.0 } else { -1.0 };
            sign * truth.v[(i, a)] + 0.05 * ((i + 2 * a) % 3) as f64 - 0.05
        })
    }

    #[test]
    fn orient_turns_reversed_rows_back() {
        let truth = planted();
        let x = grid(2000, 4);
        let y = truth.predict(x.as_ref()).unwrap();
        let (xt, yt) = (x.transpose(), y.transpose());
        let start = reversed_start(&truth);
        let oriented = orient(&Activation::Relu, start.as_ref(), xt, yt).unwrap();
        for i in 0..3 {
            let along: f64 = (0..4).map(|a| oriented[(i, a)] * truth.v[(i, a)]).sum();
            assert!(along > 0.0, "row {i} still reversed: {oriented:?}");
            let moved: f64 = (0..4)
                .map(|a| (oriented[(i, a)].abs() - start[(i, a)].abs()).abs())
                .sum();
            assert_eq!(moved, 0.0, "orient only changes signs");
        }
    }

    #[test]
    fn gauss_newton_steps_do_not_depend_on_the_start_orientation() {
        // Gauss–Newton on (U, V) moves a reversed unit only slowly: the first step orients,
        // so reversed rows and the same rows turned by hand give the same fit.
        let truth = planted();
        let x = grid(2000, 4);
        let y = truth.predict(x.as_ref()).unwrap();
        let reversed = reversed_start(&truth);
        let by_hand = Mat::from_fn(
            3,
            4,
            |i, a| if i == 1 { 1.0 } else { -1.0 } * reversed[(i, a)],
        );
        let solver = SignPatternLs::new().step_solver(StepSolver::GaussNewtonCg);
        let from_reversed = solver
            .fit(x.as_ref(), y.as_ref(), reversed.as_ref())
            .unwrap();
        let from_oriented = solver
            .fit(x.as_ref(), y.as_ref(), by_hand.as_ref())
            .unwrap();
        assert!(from_oriented.exact, "{from_oriented:?}");
        assert_eq!(from_reversed.iterations, from_oriented.iterations);
        assert_eq!(from_reversed.network.v, from_oriented.network.v);
        let a = crate::align(&from_reversed.network, &truth).unwrap();
        assert!(a.v_max < 1e-8, "{a:?}");
    }

    #[test]
    fn iterating_repairs_perturbed_directions() {
        let truth = planted();
        let x = grid(2000, 4);
        let y = truth.predict(x.as_ref()).unwrap();
        let start = Mat::from_fn(3, 4, |i, a| {
            truth.v[(i, a)] + 0.1 * ((i + 2 * a) % 3) as f64
        });
        let fit = SignPatternLs::new()
            .fit(x.as_ref(), y.as_ref(), start.as_ref())
            .unwrap();
        assert!(fit.exact && fit.iterations > 1, "{fit:?}");
    }

    #[test]
    fn intercept_absorbs_a_constant_offset() {
        let truth = planted();
        let x = grid(800, 4);
        let mut y = truth.predict(x.as_ref()).unwrap();
        for j in 0..800 {
            y[(j, 0)] += 2.5;
        }
        let fit = SignPatternLs::new()
            .intercept(true)
            .fit(x.as_ref(), y.as_ref(), truth.v.as_ref())
            .unwrap();
        assert!(fit.exact);
        assert!((fit.intercept.unwrap()[0] - 2.5).abs() < 1e-9);
    }

    #[test]
    fn bad_start_is_a_typed_error() {
        let x = grid(50, 4);
        let y = Mat::<f64>::zeros(50, 1);
        let err = SignPatternLs::new()
            .fit(x.as_ref(), y.as_ref(), Mat::<f64>::zeros(2, 3).as_ref())
            .unwrap_err();
        assert!(matches!(
            err,
            RecoveryError::Shape {
                expected: 4,
                got: 3,
                ..
            }
        ));
    }
}
