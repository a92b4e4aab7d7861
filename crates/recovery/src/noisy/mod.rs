//! Recovery from noisy labels, and from any number of outputs (docs/algorithms.md section 4).

pub mod residual_structure;

use std::time::Instant;

use faer::{Mat, MatRef};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::Serialize;
use twolayer_tensor::JennrichParams;

use crate::activation::Activation;
use crate::align::align;
use crate::data::checks::{check_samples, samples_as_columns};
use crate::data::subsample::strided_subsample;
use crate::error::RecoveryError;
use crate::local::gauss_newton::GaussNewton;
use crate::local::sign_pattern::{Loss, SignPatternFit, SignPatternLs, StepSolver};
use crate::network::Network;
use crate::noisy::residual_structure::{ResidualStructure, residual_structure};
use crate::spectral::{LabelSpectrum, RANK_TOL, SpanSource, Spectral, spectral};

/// Two fits came from the same basin when their residuals agree to this relative precision…
const SAME_RESIDUAL: f64 = 1e-3;
/// …and their aligned hidden weights to this distance (local minima differ in whole units).
const SAME_WEIGHTS: f64 = 0.05;
/// Starts on the subsample after which, if none has settled the search, the best so far is
/// finished on all samples (refined and polished) and checked again. One, since the tensor
/// start is fitted to every slice and is usually in the right basin: a second start before
/// the finish cost time and changed no answer beyond noise.
const ESCALATE_AFTER: usize = 1;
/// Mixed into the seed for restart directions, so they differ from the pencils' draws.
const RESTART_STREAM: u64 = 0xd1b5_4a32_d192_ed03;

/// Recovery by iterated least squares from spectral or random starting points: sign-pattern
/// least squares for ReLU, structured Gauss–Newton for any other rectified activation.
///
/// Starts from the best Jennrich pencil when the labels give at least two slices (m ≥ 2),
/// then, while the fit is not exact and the restart budget lasts, from random directions:
/// alternately in the second-moment span of V* and uniformly in R^d (span first), keeping
/// the fit with the lowest residual. The search stops at an exact fit; at a converged fit
/// that leaves no second-order structure in its residual ([`ResidualStructure`], when the
/// labels have two or more slices); or once two starts reach the same fit ([`Stopped`]).
/// Starts compete on a subsample; the winner is refined on all samples by [`SignPatternLs`]
/// (ReLU) or Gauss–Newton on (U, V) (other activations). When the first start has not
/// settled the search, it is finished on all samples at once and checked again, and kept if
/// that leaves no structure; otherwise the search goes on. Noiseless labels end certified
/// exact (residual < 1e-10) for any m, including a single output; noisy labels end at the
/// least-squares estimate for the sign patterns found.
///
/// ## Requirements
/// Inputs x ~ N(0, I_d); noise mean-zero (or independent of x, with `intercept`); k ≤ d.
/// k must be given when it differs from the number of outputs and the labels are noisy
/// (noise makes Y full rank, so its rank no longer tells k).
///
/// ## Reference
/// docs/algorithms.md section 4 (the paper gives only a fixed-parameter algorithm for m < k).
///
/// Cost: the spectral stage (as for exact recovery) plus, per start, a few iterations of
/// O(n p (p + m)) flops with p = (k + 1) d, and for each start that improves on the best, a
/// residual check of m n d² / 2 flops (on the starts' subsample).
#[derive(Debug, Clone, PartialEq)]
pub struct NoisyRecovery {
    k: Option<usize>,
    activation: Activation,
    restarts: usize,
    seed: u64,
    loss: Loss,
    intercept: bool,
    pencils: usize,
    max_iter: usize,
}

impl Default for NoisyRecovery {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`NoisyRecovery`] found, assumed and checked. Serialises to the `report.json` fields.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct NoisyReport {
    /// `"sign-pattern"` (ReLU) or `"gauss-newton"` (every other activation).
    pub method: &'static str,
    /// The fit reproduces every label to `residual_rel` < 1e-10: an exact answer.
    pub certified: bool,
    /// ‖Y − c − U f(V X)‖_F / ‖Y‖_F over all samples.
    pub residual_rel: f64,
    /// Hidden units.
    pub k: usize,
    /// Samples.
    pub n: usize,
    /// Input dimension.
    pub d: usize,
    /// Output dimension.
    pub m: usize,
    /// Whether k was detected from the rank of Y rather than given.
    pub k_detected: bool,
    /// Starting points tried beyond the first.
    pub restarts_used: usize,
    /// Where the kept fit started: `"tensor"` (the second-order pencils' factor fitted to
    /// every slice), `"tensor4"` (fourth-order pencil), `"span-random"` or
    /// `"uniform-random"`.
    pub start: &'static str,
    /// What the tensor start's factor leaves unexplained of the second-moment slices it was
    /// fitted to, Σ_r ‖M_r − A diag(c_r) Bᵀ‖² / Σ_r ‖M_r‖²: small (their sampling error)
    /// when the start found every unit. Absent with a single label slice.
    pub tensor_residual: Option<f64>,
    /// Sign-pattern iterations of the kept fit.
    pub iterations: usize,
    /// Why the search over starting points stopped.
    pub stopped: Stopped,
    /// The second-order structure left in the kept start's residual, on the sample the
    /// starts competed on; absent when not measured (an exact fit, one label slice, or a
    /// start that did not converge).
    pub residual_structure: Option<ResidualStructure>,
    /// For an uncertified answer: the residual structure against its limit and the most
    /// likely cause, with the option that addresses it (also the first of `warnings`).
    pub diagnosis: Option<String>,
    /// The loss minimised.
    pub loss: Loss,
    /// The fitted intercept, when asked for.
    pub intercept: Option<Vec<f64>>,
    /// Singular values of Y relative to the largest (up to k + 1).
    pub label_singular_values: Vec<f64>,
    /// Numerical guards that fired, each with its remedy. Empty when all is well.
    pub warnings: Vec<String>,
    /// Conditioning of the span estimate, σ_k/σ_1.
    pub span_ratio: f64,
    /// `"first-order"` or `"second-order"`.
    pub span_source: &'static str,
    /// Wall time in seconds (through [`crate::Recovery`]: including a failed exact attempt).
    pub time_s: f64,
    /// What the method assumed.
    pub assumptions: Vec<&'static str>,
    /// The hidden activation.
    pub activation: String,
    /// E[f(z) He_j(z)], j = 0..4, for a unit-norm unit (by quadrature): the weights of the
    /// moments the spectral stage uses (j = 1, 2) must not vanish.
    pub hermite_coefficients: [f64; 5],
    /// Input diagnostics (filled by the [`crate::Recovery`] front door).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<crate::data::analysis::InputDiagnostics>,
}

/// Why [`NoisyRecovery`] stopped trying starting points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Stopped {
    /// A start reached an exact fit.
    Exact,
    /// The best start converged and left no second-order structure in its residual (see
    /// [`ResidualStructure`]): it matches the data's second moments within their noise.
    NoStructureLeft,
    /// Two starts reached the same fit.
    Agreed,
    /// The restarts ran out first: the kept fit is the best found, unconfirmed.
    BudgetSpent,
}

impl Stopped {
    /// The name report.json uses: `"exact"`, `"no-structure-left"`, `"agreed"` or
    /// `"budget-spent"`.
    pub fn name(self) -> &'static str {
        match self {
            Stopped::Exact => "exact",
            Stopped::NoStructureLeft => "no-structure-left",
            Stopped::Agreed => "agreed",
            Stopped::BudgetSpent => "budget-spent",
        }
    }
}

/// A network recovered by [`NoisyRecovery`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NoisyRecovered {
    /// The weights, in canonical form.
    pub network: Network,
    /// Diagnostics.
    pub report: NoisyReport,
}

/// What [`NoisyRecovery::spectral_starts`] hands the search: k, the label slices used, the
/// relative singular values shown in the report, the spectral starts with their names, the
/// tensor start's unexplained share of the slices, and the span with its diagnostics.
struct Starts {
    k: usize,
    /// The label slices used, min(k, rank, m).
    r: usize,
    shown: Vec<f64>,
    spectral_starts: Vec<(Mat<f64>, &'static str)>,
    tensor_residual: Option<f64>,
    q: Mat<f64>,
    span_ratio: f64,
    span_source: SpanSource,
}

impl NoisyRecovery {
    /// Defaults: k detected, 16 restarts, seed 0, squared loss, no intercept, 10 pencils,
    /// 20 iterations per start.
    pub fn new() -> Self {
        Self {
            k: None,
            activation: Activation::Relu,
            restarts: 16,
            seed: 0,
            loss: Loss::Squared,
            intercept: false,
            pencils: 10,
            max_iter: 20,
        }
    }

    /// Number of hidden units; `None` takes the numerical rank of Y.
    pub fn k(mut self, k: Option<usize>) -> Self {
        self.k = k;
        self
    }

    /// The hidden activation (default ReLU).
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Most random restarts after the first start.
    pub fn restarts(mut self, restarts: usize) -> Self {
        self.restarts = restarts;
        self
    }

    /// Seed of every random draw.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The loss: squared (Gaussian noise) or Huber (heavy tails).
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }

    /// Fit an intercept, for noise independent of x but not mean-zero.
    pub fn intercept(mut self, intercept: bool) -> Self {
        self.intercept = intercept;
        self
    }

    /// Sign-pattern iterations per start (at least 1; 0 is an error when recovering).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// The minimum sample count: the normal equations have (k + 1) d unknowns.
    pub fn min_samples(d: usize, k: usize) -> usize {
        2 * (k + 1) * d + 2
    }

    /// The label spectrum, k and the checks that the search can run at that k, and the
    /// spectral starting points: the second-order pencils' factor fitted to every slice (or
    /// the best pencil), and the best fourth-order pencil when the labels give fewer slices
    /// than units. `xt` d×n, `yt` m×n. Cost: the spectral stage, O(n d (d + m)) and the
    /// pencils.
    fn spectral_starts(
        &self,
        xt: MatRef<'_, f64>,
        yt: MatRef<'_, f64>,
    ) -> Result<Starts, RecoveryError> {
        let ((d, n), m) = (xt.shape(), yt.nrows());
        let spectrum = LabelSpectrum::new(yt)?;
        let rank = spectrum.rank(RANK_TOL);
        if rank == 0 {
            return Err(RecoveryError::ZeroLabels);
        }
        let k = self.k.unwrap_or(rank);
        let shown: Vec<f64> = spectrum.rel_sv.iter().take(k + 1).copied().collect();
        if k > d {
            return Err(RecoveryError::KTooLarge { k, d });
        }
        if k == 0 {
            return Err(RecoveryError::RankDeficient {
                rank,
                k,
                singular_values: shown,
            });
        }
        let needed = Self::min_samples(d, k);
        if n < needed {
            return Err(RecoveryError::TooFewSamples {
                n,
                d,
                k,
                needed,
                recommended: 40 * d * k,
            });
        }
        let r = k.min(rank.max(1)).min(m);
        let yr = spectrum.reduce(yt, r);
        let params = JennrichParams {
            pencils: self.pencils,
            seed: self.seed,
        };
        let spec = spectral(xt, yr.as_ref(), k, &self.activation, &params)?;
        // Spectral starts: the second-order pencils' factor fitted to all slices at once
        // (m ≥ 2; a single pencil reads two random combinations of them, and with estimated
        // slices often puts two directions on one unit and misses another), or the best
        // pencil itself should no fit succeed; then, with fewer label slices than units, the
        // best fourth-order pencil.
        let mut spectral_starts: Vec<(Mat<f64>, &'static str)> = Vec::new();
        let polished = spec.polished_start();
        let tensor_residual = polished.as_ref().map(|f| f.residual_rel);
        if let Some(f) = polished {
            spectral_starts.push((&spec.q * &f.directions, "tensor"));
        } else if let Some(p) = spec.pencils.first() {
            spectral_starts.push((&spec.q * &p.directions, "tensor"));
        }
        if r < k
            && k >= 2
            && let Some(p4) = spec.fourth_order_pencils(&params)
            && let Some(f) = p4.first()
        {
            spectral_starts.push((&spec.q * &f.directions, "tensor4"));
        }
        let Spectral {
            q,
            span_ratio,
            span_source,
            ..
        } = spec;
        Ok(Starts {
            k,
            r,
            shown,
            spectral_starts,
            tensor_residual,
            q,
            span_ratio,
            span_source,
        })
    }

    /// Recovers U (m×k) and V (k×d) from X (n×d) and Y (n×m).
    pub fn recover(
        &self,
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
    ) -> Result<NoisyRecovered, RecoveryError> {
        let start_time = Instant::now();
        crate::error::at_least_one("max_iter", self.max_iter)?;
        check_samples(x, y)?;
        let (n, d) = x.shape();
        let m = y.ncols();
        if self.k == Some(0) {
            return Err(RecoveryError::ZeroK);
        }
        let (xt, yt) = (samples_as_columns(x), samples_as_columns(y));
        let Starts {
            k,
            r,
            shown,
            spectral_starts,
            tensor_residual,
            q,
            span_ratio,
            span_source,
        } = self.spectral_starts(xt.as_ref(), yt.as_ref())?;

        // ReLU has the linear sign-pattern parametrisation (with intercept and Huber
        // options); every other activation is refined by structured Gauss–Newton.
        let relu = self.activation == Activation::Relu;
        if !relu && (self.intercept || self.loss != Loss::Squared) {
            return Err(RecoveryError::UnsupportedOption {
                option: "an intercept or the Huber loss",
                activation: self.activation.name(),
            });
        }
        let solver = SignPatternLs::new()
            .max_iter(self.max_iter)
            .intercept(self.intercept)
            .loss(self.loss);
        let newton = GaussNewton {
            activation: &self.activation,
            max_iter: 4 * self.max_iter,
        };
        let refine = |xs: MatRef<'_, f64>, ys: MatRef<'_, f64>, start: MatRef<'_, f64>| {
            if relu {
                solver.fit_t(xs, ys, start)
            } else {
                newton.fit_t(xs, ys, start)
            }
        };
        // Starts compete on an evenly spaced subsample, where an iteration is cheap; the
        // winner is then refined on all samples. The search stops at an exact fit, at a fit
        // with no structure left in its residual (on the subsample, or after being finished
        // on all samples), or once two starts have reached the same lowest residual (the
        // same basin, found twice).
        let sub = (8 * (k + 1) * d).max(4000);
        let staged = n >= 2 * sub;
        let (xs, ys) = if staged {
            strided_subsample(xt.as_ref(), yt.as_ref(), sub)
        } else {
            (xt.as_ref().to_owned(), yt.as_ref().to_owned())
        };
        let iteration_cap = if relu {
            self.max_iter
        } else {
            4 * self.max_iter
        };
        // The kept start on all samples: refined there when the starts ran on a subsample,
        // then polished by least squares in (U, V) itself, the maximum-likelihood fit for
        // Gaussian noise (the (L, D) solve fits (k+1)·d·m free coefficients where the
        // network has k·(d+m), and its extra freedom fits noise: about 25% more parameter
        // error). No polish after Gauss–Newton–CG steps on all samples (the refinement's, or
        // the starts' when they ran on all of them): they minimised that loss already.
        // Returns the fit and whether its last refinement converged before its cap.
        let polish = relu
            && self.loss == Loss::Squared
            && !self.intercept
            && !solver.gauss_newton_at(n, d, k);
        let finish = |fit: SignPatternFit| -> Result<(SignPatternFit, bool), RecoveryError> {
            let fit = if staged {
                refine(xt.as_ref(), yt.as_ref(), fit.network.v.as_ref())?
            } else {
                fit
            };
            let converged = fit.iterations < iteration_cap;
            if !polish || fit.exact {
                return Ok((fit, converged));
            }
            let polished = SignPatternLs::new()
                .max_iter(self.max_iter)
                .step_solver(StepSolver::GaussNewtonCg)
                .fit_t(xt.as_ref(), yt.as_ref(), fit.network.v.as_ref())
                .ok()
                .filter(|p| p.residual_rel <= fit.residual_rel);
            Ok(match polished {
                Some(mut p) => {
                    p.iterations += fit.iterations;
                    (p, converged)
                }
                None => (fit, converged),
            })
        };
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ RESTART_STREAM);
        let mut best: Option<(SignPatternFit, &'static str)> = None;
        // The attempt that produced `best`; a start finished on all samples early (see
        // below), with the attempt it came from and its check.
        let mut best_at = 0;
        let mut finished: Option<(usize, SignPatternFit, ResidualStructure)> = None;
        let mut agreeing = 0;
        let mut structure: Option<ResidualStructure> = None;
        let mut stopped = Stopped::BudgetSpent;
        let mut tried = 0;
        let first_random = spectral_starts.len();
        let mut spectral_starts = spectral_starts.into_iter();
        for attempt in 0..first_random + self.restarts.max(1) {
            let (start, kind) = if let Some(s) = spectral_starts.next() {
                s
            } else if (attempt - first_random) % 2 == 0 {
                let g = gaussian(&mut rng, k, k);
                (&q * &g, "span-random")
            } else {
                (gaussian(&mut rng, d, k), "uniform-random")
            };
            tried += 1;
            let fit = match refine(xs.as_ref(), ys.as_ref(), start.transpose()) {
                Ok(fit) => fit,
                // A start that diverges numerically is a failed start, not a failed recovery.
                Err(RecoveryError::Numerical(_)) => continue,
                Err(e) => return Err(e),
            };
            let exact = fit.exact;
            match &best {
                Some((b, _)) if same_basin(&fit, b) => {
                    agreeing += 1;
                    if agreeing >= 2 {
                        stopped = Stopped::Agreed;
                    }
                }
                Some((b, _)) if fit.residual_rel >= b.residual_rel => {}
                _ => {
                    // A converged fit that left no second-order structure in its residual
                    // matches the data's second moments, which determine the network when
                    // there are two slices of them: no second start is needed to confirm it.
                    structure = if !exact && r >= 2 && fit.iterations < iteration_cap {
                        Some(residual_structure(xs.as_ref(), ys.as_ref(), &fit.network)?)
                    } else {
                        None
                    };
                    if structure.is_some_and(|s| s.clean()) {
                        stopped = Stopped::NoStructureLeft;
                    }
                    best = Some((fit, kind));
                    best_at = attempt;
                    agreeing = 1;
                }
            }
            if exact {
                stopped = Stopped::Exact;
            }
            if stopped != Stopped::BudgetSpent {
                break;
            }
            // The starts on the subsample settled nothing: finish the best one on all samples
            // now rather than after the whole budget. Where the subsample is small for the
            // network (k close to d), every start leaves structure there that the refinement
            // on all samples and the polish in (U, V) remove.
            if staged && r >= 2 && finished.is_none() && tried >= ESCALATE_AFTER {
                let (b, _) = best.as_ref().expect("a start has run");
                let (full, converged) = finish(b.clone())?;
                let check = residual_structure(xs.as_ref(), ys.as_ref(), &full.network)?;
                let full_exact = full.exact;
                let done = full_exact || (converged && check.clean());
                finished = Some((best_at, full, check));
                if done {
                    stopped = if full_exact {
                        Stopped::Exact
                    } else {
                        Stopped::NoStructureLeft
                    };
                    break;
                }
            }
        }
        // Every start diverged numerically: extreme values, not a basin to report.
        let (kept, start) = best.ok_or(RecoveryError::Numerical(
            "every start of the least-squares search (all diverged)",
        ))?;
        let fit = match finished {
            Some((at, full, check)) if at == best_at => {
                structure = (!full.exact).then_some(check);
                full
            }
            _ => finish(kept)?.0,
        };
        // A fit that certifies stopped the search by definition, whatever the starts did.
        if fit.exact {
            stopped = Stopped::Exact;
            structure = None;
        }
        let mut warnings = if m >= k {
            crate::spectral::label_spectrum_warnings(&shown, k)
        } else {
            Vec::new()
        };
        // An uncertified answer says how much structure it left and what most likely causes
        // it, with the option that addresses it.
        let diagnosis = if fit.exact {
            None
        } else {
            let check = match structure {
                Some(s) => s,
                None => residual_structure(xs.as_ref(), ys.as_ref(), &fit.network)?,
            };
            structure = Some(check);
            let offset = offset_share(xs.as_ref(), ys.as_ref(), &fit.network, &fit.intercept);
            let text = diagnose(
                check,
                offset,
                self.intercept,
                self.k.is_none() && k >= m,
                (k, m),
            );
            warnings.push(text.clone());
            Some(text)
        };
        if stopped == Stopped::BudgetSpent {
            warnings.push(format!(
                "the {tried} starts tried neither reached the same fit twice nor left a residual \
                 without structure: the answer is the best fit found and may be a local \
                 minimum; raise --restarts (now {}) to try more starts",
                self.restarts
            ));
        }
        Ok(NoisyRecovered {
            network: fit.network,
            report: NoisyReport {
                method: if self.activation == Activation::Relu {
                    "sign-pattern"
                } else {
                    "gauss-newton"
                },
                certified: fit.exact,
                residual_rel: fit.residual_rel,
                k,
                n,
                d,
                m,
                k_detected: self.k.is_none(),
                restarts_used: tried - 1,
                start,
                tensor_residual,
                iterations: fit.iterations,
                stopped,
                residual_structure: structure,
                diagnosis,
                loss: self.loss,
                intercept: fit.intercept,
                warnings,
                label_singular_values: shown,
                span_ratio,
                span_source: span_source.name(),
                time_s: start_time.elapsed().as_secs_f64(),
                activation: self.activation.name(),
                hermite_coefficients: self.activation.hermite_coefficients(1.0),
                inputs: None,
                assumptions: vec![
                    "inputs x ~ N(0, I_d)",
                    "labels y = U f(V x) + noise, noise mean-zero or (with intercept) independent of x",
                    "k <= d",
                ],
            },
        })
    }
}

/// The share of the residual's energy that a constant offset explains, ‖mean r‖² / mean ‖r‖²,
/// on samples `xt` (d×n) and labels `yt` (m×n), with the fitted intercept (if any) added to
/// the predictions. Near 0 for noise of mean zero, near 1 for labels shifted by a constant.
fn offset_share(
    xt: MatRef<'_, f64>,
    yt: MatRef<'_, f64>,
    network: &Network,
    intercept: &Option<Vec<f64>>,
) -> f64 {
    let Ok(pred) = network.predict(xt.transpose()) else {
        return 0.0;
    };
    let (m, n) = yt.shape();
    let (mut mean_sq, mut energy) = (0.0, 0.0);
    for o in 0..m {
        let c = intercept.as_ref().map_or(0.0, |c| c[o]);
        let (mut sum, mut sq) = (0.0, 0.0);
        for j in 0..n {
            let r = yt[(o, j)] - pred[(j, o)] - c;
            sum += r;
            sq += r * r;
        }
        let mean = sum / n as f64;
        mean_sq += mean * mean;
        energy += sq / n as f64;
    }
    if energy > 0.0 { mean_sq / energy } else { 0.0 }
}

/// Above this share of the residual's energy in a constant offset, the labels most likely
/// carry one (noise of mean zero leaves about 1/n).
const OFFSET_SHARE: f64 = 0.05;

/// The one-line diagnosis of an uncertified fit: the structure left against its limit and
/// the likely causes, likeliest first, each with the option that addresses it. What the
/// residual can tell: a k read off the labels' rank (it cannot exceed m, and one output
/// almost always hides more units: → `--k`), a constant offset (a mean that carries a share
/// of the residual's energy: → `--intercept`; missing units leave a mean too, so this comes
/// after `--k` for one output), structure left (a local minimum or another activation), or
/// none (label noise).
fn diagnose(
    structure: ResidualStructure,
    offset: f64,
    intercept: bool,
    k_from_rank: bool,
    (k, m): (usize, usize),
) -> String {
    let more_units = format!(
        "more hidden units than outputs (k = {k} was read off the labels' rank, which is at \
         most m = {m}): pass --k with the number of hidden units"
    );
    let offset_cause = format!(
        "a constant offset in the labels ({:.0}% of the residual's energy is its mean): pass \
         --intercept",
        100.0 * offset
    );
    let mut causes = Vec::new();
    if k_from_rank && m == 1 {
        causes.push(more_units.clone());
    }
    if !intercept && offset > OFFSET_SHARE {
        causes.push(offset_cause);
    }
    if k_from_rank && m > 1 && !structure.clean() {
        causes.push(more_units);
    }
    if !structure.clean() {
        causes.push(
            "a local minimum or another activation: raise --restarts, or try --activation \
             relu2, logrelu or relupow:P"
                .to_string(),
        );
    } else if causes.is_empty() {
        causes.push(
            "label noise: no structure is left beyond it (pass --noise gaussian to skip the \
             exact attempt)"
                .to_string(),
        );
    }
    format!(
        "not certified: residual_structure {:.3} against a limit of {:.3}; likely cause: {}",
        structure.statistic,
        structure.limit,
        causes.join("; or ")
    )
}

#[cfg(test)]
mod diagnosis_tests {
    use super::*;

    fn s(statistic: f64) -> ResidualStructure {
        ResidualStructure {
            statistic,
            limit: 1.05,
        }
    }

    /// Each cause is named, with its option, when its evidence is there, and not otherwise.
    #[test]
    fn each_cause_names_its_option() {
        let one_output = diagnose(s(9.0), 0.2, false, true, (1, 1));
        assert!(one_output.contains("residual_structure 9.000 against a limit of 1.050"));
        let k_at = one_output.find("--k").unwrap();
        assert!(
            k_at < one_output.find("--intercept").unwrap(),
            "{one_output}"
        );
        let offset = diagnose(s(5.0), 0.3, false, false, (5, 5));
        assert!(
            offset.contains("--intercept") && !offset.contains("--k"),
            "{offset}"
        );
        let fitted = diagnose(s(5.0), 0.3, true, false, (5, 5));
        assert!(!fitted.contains("--intercept") && fitted.contains("--activation"));
        let noise = diagnose(s(0.9), 0.0, false, false, (5, 5));
        assert!(
            noise.contains("label noise") && !noise.contains("--activation"),
            "{noise}"
        );
        let rank = diagnose(s(3.0), 0.0, false, true, (5, 5));
        assert!(
            rank.contains("--k") && rank.contains("--restarts"),
            "{rank}"
        );
    }
}

/// Whether two fits are the same solution up to noise: residuals and weights agree.
fn same_basin(a: &SignPatternFit, b: &SignPatternFit) -> bool {
    (a.residual_rel - b.residual_rel).abs() <= SAME_RESIDUAL * b.residual_rel
        && align(&a.network, &b.network).is_ok_and(|al| al.v_max <= SAME_WEIGHTS)
}

/// rows×cols standard Gaussian matrix.
fn gaussian(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Mat<f64> {
    Mat::from_fn(rows, cols, |_, _| rng.sample(StandardNormal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_are_named_as_report_json_names_them() {
        // The names report.json and the summary line print, written out: a renamed variant
        // or a changed serde attribute fails here.
        for (s, name) in [
            (Stopped::Exact, "exact"),
            (Stopped::NoStructureLeft, "no-structure-left"),
            (Stopped::Agreed, "agreed"),
            (Stopped::BudgetSpent, "budget-spent"),
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), name);
            assert_eq!(s.name(), name);
        }
    }
}
