//! Exact recovery when rank U* = k (docs/algorithms.md section 3).

use std::time::Instant;

use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Par};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::Serialize;
use twolayer_moments::matmul;
use twolayer_moments::{
    AffineFit, InMemory, SampleMoments, SampleSource, column_norms, first_non_finite,
    spread_indices,
};
use twolayer_tensor::{JennrichParams, Pencil};

use crate::certificate::Certificate;
use crate::error::RecoveryError;
use crate::input::moments_for_recovery;
use crate::network::{Activation, Network};
use crate::null_space::{NULL_TOL, NullCheck, SECOND_TOL, check_null};
use crate::output_fit::fit_output_exact;
use crate::spectral::{
    LabelSpectrum, RANK_TOL, Spectral, column, column_mut, search_view, spectral_with_fit,
    svd_right,
};
use crate::unit_fit::fit_unit;

/// Below this relative gap the best Jennrich pencil's eigenvalues count as nearly repeated.
const WEAK_PENCIL_GAP: f64 = 1e-3;
/// Below this σ_k/σ_1 of Y the output weights count as badly conditioned.
const WEAK_LABEL_SV: f64 = 1e-4;

/// Warnings about the label spectrum: σ_k/σ_1 tiny (U* nearly rank deficient) or no clear
/// gap after σ_k (k doubtful). `rel_sv` holds σ_1..σ_{k+1} relative to σ_1.
pub(crate) fn label_spectrum_warnings(rel_sv: &[f64], k: usize) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(&sk) = rel_sv.get(k.saturating_sub(1))
        && k >= 1
        && sk < WEAK_LABEL_SV
    {
        out.push(format!(
            "the k-th singular value of Y is only {sk:.1e} of the largest: the output weights \
             are nearly rank deficient and the recovered weights may lose accuracy; if k was \
             detected, try a smaller --k"
        ));
    }
    if let (Some(&sk), Some(&next)) = (rel_sv.get(k.saturating_sub(1)), rel_sv.get(k))
        && k >= 1
        && next > 0.1 * sk
    {
        out.push(format!(
            "no clear gap after the k-th singular value of Y (σ_{}/σ_{k} = {:.2}): k may be \
             wrong, or the labels are noisy; check k (--k) and the noise model",
            k + 1,
            next / sk
        ));
    }
    out
}

/// A unit is verified when ‖f(v·X) − z‖ / ‖z‖ over its check samples is below this (the
/// certificate then checks the whole network on every sample).
const UNIT_TOL: f64 = 1e-7;
/// Samples a candidate unit is checked on, and U then fitted on (at least; see
/// [`check_samples`]): 1.6 MB at d = 100, so that the checks run from cache. A wrong unit
/// fails on nearly every sample, and the certificate covers them all, so more buy nothing:
/// 2048 instead of 4096 took (100,20,20,1e4) from 4.5–4.8 to 4.2–4.6 ms in the unit search
/// and 1.3–1.5 to 1.2–1.4 ms in the certificate, with the same candidates and certificates
/// on the 120-instance robustness set.
const CHECK_SAMPLES: usize = 2048;
/// Of which a candidate is first checked on (at least; 8·d when that is more).
const PRECHECK_SAMPLES: usize = 512;

/// The check samples' count, the middle of the search's: [`CHECK_SAMPLES`], or 16 per input
/// dimension or 32 per unit when that is more (U has k unknowns per output). The output fit
/// runs on the same samples, so it can take the hidden layer the last check computed.
fn check_samples(d: usize, k: usize) -> usize {
    (16 * d).max(32 * k).max(CHECK_SAMPLES)
}

/// Candidate directions whose two orientations are probed in one parallel batch (twice as
/// many when each is probed in its predicted orientation only).
const BATCH: usize = 8;
/// A candidate d (unit norm) is probed in the orientation sign(dᵀg) alone when |dᵀg| exceeds
/// this, for the unit-norm orientation key g (see [`orientation_key`]): a true unit direction
/// has dᵀg > 0, typically of order 1/√k, and a candidate's error moves it by about that
/// error.
const ORIENTATION_MARGIN: f64 = 0.05;
/// Products of fewer multiply-adds run on one thread (1M: about 0.05–0.1 ms on one core).
const SEQ_PRODUCT: usize = 1 << 20;
/// Two verified units with |cos| above 1 − this are the same unit.
const DUPLICATE_TOL: f64 = 1e-8;
/// Random fallback directions tried per hidden unit when the pencil pool falls short.
const RANDOM_DIRECTIONS_PER_UNIT: usize = 10;
/// Directions of the plane swept when k = 2 and the other fallbacks fall short.
const PLANE_SWEEP: usize = 90;
/// Probes (at least 4k) after which a search that has not seen a single null vector gives
/// up. On exact labels the first null vector came by the 10th probe in every search of the
/// 120-instance robustness set (k = 5 to 50; conditioned, near-parallel and uneven units
/// included); labels with noise never give one, and their search ran through the whole
/// pool and its fallbacks, on the window and then on the spread subset (1680 probes in
/// 0.33 s at (100, 20, 20, 2·10⁵, σ = 0.01), against 162 in 0.13 s with this bound).
const HOPELESS_PROBES: usize = 64;
/// Mixed into the seed for the fallback directions, so they differ from the pencils' draws.
const FALLBACK_STREAM: u64 = 0x9e37_79b9_7f4a_7c15;

/// Exact recovery of a two-layer rectified network from noiseless labels (rank U* = k).
///
/// Reduces Y to its k-dimensional row space, finds candidate unit directions by whitened
/// Jennrich on the second label-weighted Hermite moment, then, for every candidate and both
/// orientations, takes the samples most negative along it, reads the unit's output off the
/// one-dimensional null space of the labels there, solves for v (through f⁻¹, and jointly
/// with the unit's scale when f is not homogeneous) and checks f(v·x) on max(512, 8 d)
/// samples, then all k units at once on a cache-sized middle part of the search's samples
/// (the largest of 2048, 16 d and 32 k). U is the least-squares fit of Y on
/// the verified units, and the relative residual of that fit over every sample is the
/// certificate. Samples in memory are searched in place: first a contiguous window of
/// max(12·d·k, 8192) from the middle of the data, then, if that falls short, an evenly
/// spread subset of [`ExactRecovery::default_subset`] samples.
///
/// ## Requirements
/// Inputs x ~ N(0, I_d) (other rotation-invariant inputs usually work; the certificate says
/// whether it did); labels y = U* f(V* x) without noise, f rectified (see [`Activation`]);
/// rank U* = k ≤ d; rows of V* pairwise non-parallel. About 40·d·k samples make success reliable for units at least ~10° apart; two
/// units at angle θ differ only on a fraction θ/π of the samples, so closer units need
/// proportionally more.
///
/// ## Reference
/// Bakshi, Jayaram, Woodruff, COLT 2019, section 3 (exact algorithm); docs/algorithms.md section 3.
///
/// Cost: O(n d²) for the centring, O(n d k) for the certificate, O(n k² + k⁴) otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactRecovery {
    k: Option<usize>,
    activation: Activation,
    pencils: Option<usize>,
    seed: u64,
    subset: Option<usize>,
}

impl Default for ExactRecovery {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`ExactRecovery`] found, assumed and checked. Serialises to the `report.json` fields.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ExactReport {
    /// Always `"exact"`.
    pub method: &'static str,
    /// The fit reproduces every label to `residual_rel` < 1e-10: an exact answer.
    pub certified: bool,
    /// ‖Y − U f(V X)‖_F / ‖Y‖_F over all samples.
    pub residual_rel: f64,
    /// Hidden units (given, or detected as the numerical rank of Y).
    pub k: usize,
    /// Samples.
    pub n: usize,
    /// Input dimension.
    pub d: usize,
    /// Output dimension.
    pub m: usize,
    /// Whether k was detected from the rank of Y rather than given.
    pub k_detected: bool,
    /// Singular values of Y relative to the largest (up to k + 1 of them): the evidence for k.
    pub label_singular_values: Vec<f64>,
    /// Conditioning of the span estimate, σ_k/σ_1 (1 is best).
    pub span_ratio: f64,
    /// `"first-order"` (the affine fit's coefficients) or `"second-order"` (T2 slices).
    pub span_source: &'static str,
    /// Relative eigenvalue gap of the best Jennrich pencil.
    pub best_pencil_gap: f64,
    /// Numerical guards that fired, each with its remedy (weak label spectrum, nearly
    /// repeated Jennrich eigenvalues, a failed certificate). Empty when all is well.
    pub warnings: Vec<String>,
    /// Candidate directions (with orientation) examined before k units were verified.
    pub candidates_tried: usize,
    /// Always 0: the exact method has no restarts (the field keeps report.json uniform).
    pub restarts_used: usize,
    /// Samples the search for units ran on (when n is large, a window from the middle of
    /// samples in memory or an evenly spread subset; the certificate always uses all n).
    pub search_samples: usize,
    /// Wall time of the recovery in seconds.
    pub time_s: f64,
    /// Wall time of each phase in seconds.
    pub phase_time_s: PhaseTimes,
    /// What the method assumed, for the reader of the report.
    pub assumptions: Vec<&'static str>,
    /// The hidden activation.
    pub activation: String,
    /// E[f(z) He_j(z)], j = 0..4, for a unit-norm unit (by quadrature): the weights of the
    /// moments the spectral stage uses (j = 1, 2) must not vanish.
    pub hermite_coefficients: [f64; 5],
    /// Input diagnostics (filled by the [`crate::Recovery`] front door).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<crate::inputs::InputDiagnostics>,
}

/// Wall time of each phase of [`ExactRecovery`], in seconds.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct PhaseTimes {
    /// Rank detection and the search's samples (a window read in place, or a gathered
    /// subset).
    pub reduce: f64,
    /// The moments: the pass for the moments of order ≤ 2 (whoever ran it: this method, or
    /// the front door before it; 0 only for moments the caller passed in), then one pass over
    /// the search's samples for the reduction of their labels to k rows, the span of V* and
    /// the whitened second-moment slices.
    pub moments: f64,
    /// The tensor decomposition: the Jennrich pencils.
    pub tensor: f64,
    /// Extreme sets, null vectors and per-unit verification.
    pub units: f64,
    /// Least squares for U and the certificate (a pass over all samples).
    pub certify: f64,
}

/// A recovered network with the report of how it was found.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// The weights, in canonical form (unit rows of V, units sorted).
    pub network: Network,
    /// Diagnostics and certificate.
    pub report: ExactReport,
}

impl ExactRecovery {
    /// Defaults: k detected from the rank of Y, [`ExactRecovery::default_pencils`] Jennrich
    /// pencils, seed 0, default subset.
    pub fn new() -> Self {
        Self {
            k: None,
            activation: Activation::Relu,
            pencils: None,
            seed: 0,
            subset: None,
        }
    }

    /// A cap on the samples the search for units runs on, below the default
    /// [`ExactRecovery::default_subset`] (`None`: no cap). The certificate always uses every
    /// sample (and so do the moments in [`ExactRecovery::recover_source`]; `recover` forms
    /// them on whole chunks spread over the data beyond max(16·d·min(d, m), 64·d,
    /// min(65 536, 2²⁸/(d+m+1)²)) samples); the search only needs enough samples for its
    /// extreme sets, and its cost grows with the subset, not with n.
    /// Never below [`ExactRecovery::min_samples`].
    pub fn subset(mut self, subset: Option<usize>) -> Self {
        self.subset = subset;
        self
    }

    /// The default search subset: max(32·d·k, 32768) samples, a few times the count at
    /// which the method succeeds in every verified configuration at units ≥ 10° apart.
    pub fn default_subset(d: usize, k: usize) -> usize {
        (32 * d * k).max(1 << 15)
    }

    /// The first search window: max(12·d·k, 8192) samples (at most the subset and n), tried
    /// before the full subset; the search usually succeeds from ~3·d·k.
    pub fn search_window(d: usize, k: usize) -> usize {
        (12 * d * k).max(1 << 13)
    }

    /// Number of hidden units; `None` detects it as the numerical rank of Y.
    pub fn k(mut self, k: Option<usize>) -> Self {
        self.k = k;
        self
    }

    /// The hidden activation (default ReLU). Homogeneous f: each unit is solved from
    /// f⁻¹(z) on its support; otherwise its scale is solved jointly (docs/algorithms.md section 5).
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Number of random Jennrich pencils in the candidate pool (at least 1; default
    /// [`ExactRecovery::default_pencils`] of the k found).
    pub fn pencils(mut self, pencils: usize) -> Self {
        self.pencils = Some(pencils.max(1));
        self
    }

    /// The default pencil count: max(10, k/2). With conditioned weights the candidates of one
    /// pencil are rough for some units, and a larger pool holds good ones where a few random
    /// fallback directions do not: measured with V* conditioned 10, 10 → 20 pencils at
    /// (100, 40, 40) took 12 812 → 4 221 candidates and 7.1 → 2.4 s over 10 seeds, and 10 → 25
    /// at (200, 50, 50, 4·10⁵) 7 913 → 1 261 candidates and 19.8 → 4.1 s over 4; plain
    /// weights and k ≤ 20 within noise; 30 or 40 pencils at k = 40 no better than 20. Cost:
    /// a k×k eigenproblem per pencil.
    pub fn default_pencils(k: usize) -> usize {
        (k / 2).max(10)
    }

    /// Seed of every random draw the method makes.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The minimum sample count below which the method refuses to run.
    pub fn min_samples(d: usize, k: usize) -> usize {
        (4 * d * k).max(12 * k).max(d + 2)
    }

    /// The sample count at which success is reliable in every verified configuration.
    pub fn recommended_samples(d: usize, k: usize) -> usize {
        40 * d * k
    }

    /// Recovers U (m×k) and V (k×d) from samples X (n×d, one per row) and labels Y (n×m).
    ///
    /// Returns the canonical network and a report whose `certified` flag says whether the fit
    /// is exact. Fails with a typed error when an assumption visibly fails (rank of Y below k,
    /// too few samples, fewer than k units verified). X and Y are read where they lie in any
    /// layout; the moment pass copies them chunk by chunk unless they are row-major (a
    /// C-order NumPy array).
    ///
    /// Cost: the moments of order ≤ 2 over min(n, max(16·d·min(d, m), 64·d,
    /// min(65 536, 2²⁸/(d+m+1)²))) samples (whole chunks spread over the data), the search on
    /// its subset, and one pass over every sample for the certificate, which also refuses NaN
    /// and infinities (naming the entry).
    pub fn recover(
        &self,
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
    ) -> Result<Recovered, RecoveryError> {
        let start = Instant::now();
        let moments = moments_for_recovery(x, y)?;
        let moments_s = start.elapsed().as_secs_f64();
        let source = InMemory::new(x.transpose(), y.transpose())?;
        let mut found = self.recover_with(&source, Some(&moments))?;
        found.report.phase_time_s.moments += moments_s;
        found.report.time_s += moments_s;
        Ok(found)
    }

    /// [`ExactRecovery::recover`] over any [`SampleSource`], e.g. a file larger than memory.
    ///
    /// Passes over all n samples: one for the moments of order ≤ 2 (skipped when `moments`
    /// of the same samples are given, e.g. merged from shards) and one for the certificate;
    /// the search for units runs on an evenly spread subset of at most
    /// [`ExactRecovery::subset`] samples held in memory. Memory: O((d + m)² + subset·(d + m)).
    pub fn recover_source(
        &self,
        source: &dyn SampleSource,
        moments: Option<&SampleMoments>,
    ) -> Result<Recovered, RecoveryError> {
        if let Some(given) = moments
            && (given.n, given.d, given.m) != (source.n() as u64, source.d(), source.m())
        {
            return Err(RecoveryError::Shape {
                what: "samples described by the given moments (n, then d and m)",
                expected: source.n(),
                got: given.n as usize,
            });
        }
        self.recover_with(source, moments)
    }

    /// [`ExactRecovery::recover_source`] with moments that may come from a spread subsample
    /// of the source (docs/algorithms.md 1.4: the label spectrum and the affine fit only place the
    /// candidates roughly, so they need a few d·k samples, not all of them). The search and
    /// the certificate are unchanged, and the certificate's pass checks every sample's
    /// finiteness.
    pub(crate) fn recover_with(
        &self,
        source: &dyn SampleSource,
        moments: Option<&SampleMoments>,
    ) -> Result<Recovered, RecoveryError> {
        let start = Instant::now();
        let (n, d, m) = (source.n(), source.d(), source.m());
        if n == 0 || d == 0 || m == 0 {
            return Err(RecoveryError::Empty {
                what: if d == 0 { "X" } else { "Y" },
                rows: n,
                cols: if d == 0 { d } else { m },
            });
        }
        if self.k == Some(0) {
            return Err(RecoveryError::ZeroK);
        }
        let mut times = PhaseTimes::default();
        let mut lap = Instant::now();
        let mut tick = |slot: &mut f64| {
            *slot = lap.elapsed().as_secs_f64();
            lap = Instant::now();
        };

        // Pass 1: every moment of order ≤ 2, as one Gram matrix of (x, y, 1).
        let computed;
        let moments_of_all = moments.is_none_or(|g| g.n == n as u64);
        let moments = match moments {
            Some(given) => given,
            None => {
                computed = SampleMoments::compute(source)?;
                &computed
            }
        };
        tick(&mut times.moments);

        // Step 1: k and the reduction of Y to its k-dimensional row space.
        let spectrum = LabelSpectrum::from_second_moment(moments.second_y())?;
        let rank = spectrum.rank(RANK_TOL);
        if rank == 0 {
            return Err(RecoveryError::ZeroLabels);
        }
        let k = self.k.unwrap_or(rank);
        let shown = spectrum
            .rel_sv
            .iter()
            .take(k + 1)
            .copied()
            .collect::<Vec<_>>();
        if k > d {
            return Err(RecoveryError::KTooLarge { k, d });
        }
        if rank < k || k == 0 {
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
                recommended: Self::recommended_samples(d, k),
            });
        }
        let p = spectrum.reduction(k); // m×k: Ỹ = Pᵀ Y
        // The affine fit of the reduced labels, from all samples: Ỹ ≈ Pᵀα + Pᵀ B x.
        let (alpha, linear) = moments.affine_fit()?;
        let alpha_k: Vec<f64> = (0..k)
            .map(|c| (0..m).map(|r| p[(r, c)] * alpha[r]).sum())
            .collect();
        let linear_k = p.transpose() * &linear; // k×d

        // The subset the search runs on: a small one first (the search usually succeeds
        // from ~3·d·k samples), the full one if the small one falls short; every sample
        // when they are few. A search that succeeds is still certified on every sample.
        let full = Self::default_subset(d, k)
            .min(self.subset.unwrap_or(usize::MAX))
            .max(needed);
        let first = Self::search_window(d, k).min(full);
        let mut sizes = vec![first];
        if first < full && first < n {
            sizes.push(full);
        }
        let mut owned: Option<(Mat<f64>, Mat<f64>)> = None;
        let mut found = None;
        let mut tried = 0;
        // In memory, in any layout: the search's reads are products and gathers, which take
        // strided samples as they are.
        let in_memory = source.matrices();
        for (attempt, &size) in sizes.iter().enumerate() {
            let last = attempt + 1 == sizes.len();
            owned = None;
            // Samples in memory are searched where they lie: all of them when few, else
            // first a contiguous window from the middle (no copy, memory read in long runs).
            // Exact labels make a unit solved on any samples right on all of them; a window
            // of atypical samples (sorted data) fails the search and falls through to the
            // spread subset. A NaN in the window is named when its search fails, else by the
            // certificate's pass.
            let in_window = size >= n || !last;
            let window = match in_memory {
                Some(all) if in_window => {
                    let (start, len) = middle(n, size);
                    Some((all, start, len))
                }
                _ => None,
            };
            let (xs, ys) = match window {
                Some((all, start, len)) => {
                    (all.x().subcols(start, len), all.y().subcols(start, len))
                }
                None => {
                    // Samples not in memory (a file) are copied: the same middle window when
                    // a window will do (one contiguous read), else the spread subset.
                    let (start, len) = middle(n, size);
                    let spread = (!in_window).then(|| spread_indices(n, size));
                    let count = spread.as_ref().map_or(len, Vec::len);
                    let mut xs = Mat::zeros(d, count);
                    let mut ys = Mat::zeros(m, count);
                    match &spread {
                        None => source.read(start, xs.as_mut(), ys.as_mut())?,
                        Some(idx) => source.read_indices(idx, xs.as_mut(), ys.as_mut())?,
                    }
                    if !moments_of_all {
                        // The moments saw other samples: these are checked here, and all of
                        // them by the certificate's pass.
                        let row = |j: usize| spread.as_ref().map_or(start + j, |idx| idx[j]);
                        if let Some(e) = first_non_finite(xs.as_ref(), ys.as_ref(), row) {
                            return Err(e.into());
                        }
                    }
                    let o = owned.insert((xs, ys));
                    (o.0.as_ref(), o.1.as_ref())
                }
            };
            let mut reduce_s = 0.0;
            tick(&mut reduce_s);
            times.reduce += reduce_s;

            // Step 2: span and candidate directions, in one pass over the samples with the
            // reduction of their labels when the first-order span will do.
            let params = JennrichParams {
                pencils: self.pencils.unwrap_or(Self::default_pencils(k)),
                seed: self.seed,
            };
            let fused = search_view(
                xs,
                ys,
                p.as_ref(),
                &alpha_k,
                linear_k.as_ref(),
                k,
                &self.activation,
                &params,
            );
            let view = match fused {
                Ok(Some(v)) => Ok((v.yk, v.xqt, v.spectral, v.norms)),
                Ok(None) => {
                    let yk = p.transpose() * ys;
                    let residual =
                        AffineFit::residual_of(&alpha_k, linear_k.as_ref(), xs, yk.as_ref());
                    let fit = AffineFit {
                        alpha: alpha_k.clone(),
                        linear: linear_k.clone(),
                        residual,
                    };
                    spectral_with_fit(xs, fit, k, &self.activation, &params).map(|mut s| {
                        let mut norms = vec![0.0; xs.ncols()];
                        column_norms(xs, &mut norms);
                        // Zeroed padding: the cosines' product reads it (see `find_units`).
                        let mut xqt = twolayer_moments::zeros_by_threads(s.xq.ncols(), k);
                        xqt.copy_from(s.xq.transpose());
                        s.xq = Mat::new();
                        (yk, xqt, s, norms)
                    })
                }
                Err(e) => Err(e),
            };
            // A search that fails on samples nobody has checked yet may have failed on a NaN:
            // it is named then (a search that succeeds leaves it to the certificate).
            let unchecked = window.is_some() && !moments_of_all;
            let (yk, xqt, spectral, norms) = match view {
                Ok(v) => v,
                Err(_)
                    if unchecked
                        && let Some(e) = first_non_finite(xs, ys, |j| j + window_start(window)) =>
                {
                    return Err(e.into());
                }
                Err(e) if last => return Err(e),
                Err(_) => continue,
            };
            let mut spectral_s = 0.0;
            tick(&mut spectral_s);
            times.moments += spectral_s - spectral.tensor_s;
            // The pencils ran inside the spectral stage: their share goes to the tensor slot.
            times.tensor += spectral.tensor_s;

            // Steps 3–4: extreme sets, null vectors, verification: small problems (q×k Gram
            // bounds, an SVD where they are unsure, 1.25d×d solves), each on one thread,
            // batches of them across the threads. Xᵀ Q is not needed after the search, which
            // scales it in place.
            let Spectral { q, pencils, .. } = &spectral;
            let orientation = (spectral.span_source == "first-order")
                .then(|| orientation_key(linear_k.as_ref(), q.as_ref(), &alpha_k, &self.activation))
                .flatten();
            let search = self.find_units(
                xs,
                yk.as_ref(),
                xqt,
                q.as_ref(),
                pencils,
                norms,
                orientation.as_deref(),
            );
            tried += search.tried;
            let mut units_s = 0.0;
            tick(&mut units_s);
            times.units += units_s;
            if search.units.len() == k {
                found = Some((
                    search.units,
                    search.activated,
                    search.from_fallback,
                    spectral,
                    window,
                ));
                break;
            }
            if unchecked && let Some(e) = first_non_finite(xs, ys, |j| j + window_start(window)) {
                return Err(e.into());
            }
            if last {
                return Err(RecoveryError::UnitsNotFound {
                    found: search.units.len(),
                    k,
                    candidates: tried,
                    closest_miss: search.closest_miss,
                    wide_nulls: search.wide_nulls,
                    failed_checks: search.failed_checks,
                    n,
                    recommended: Self::recommended_samples(d, k),
                });
            }
        }
        let (units, activated, from_fallback, spectral, window) =
            found.expect("the last attempt returns or breaks");
        let Spectral {
            span_ratio,
            span_source,
            pencils,
            ..
        } = spectral;
        let (xs, ys) = match (&owned, window) {
            (Some((xs, ys)), _) => (xs.as_ref(), ys.as_ref()),
            (None, Some((all, start, len))) => {
                (all.x().subcols(start, len), all.y().subcols(start, len))
            }
            (None, None) => unreachable!("the search ran on a window or on gathered samples"),
        };
        let search_samples = xs.ncols();

        // Step 5: U by least squares on the search's check samples (k·m unknowns: exact
        // labels fix U from any k samples where the units are independent, so a few
        // thousand are plenty, and read in place), from the hidden layer the confirmation
        // computed there when it has it; its residual on every sample is the certificate.
        let v = Mat::from_fn(k, d, |i, j| units[i][j]);
        let (from, len) = middle(xs.ncols(), check_samples(d, k));
        let (xp, yp) = (xs.subcols(from, len), ys.subcols(from, len));
        let hidden = activated.as_ref().map(|h| h.transpose());
        let (u, _) = fit_output_exact(&self.activation, v.as_ref(), xp, yp, hidden, false)?;
        let certificate = Certificate::of(source, &self.activation, v.as_ref(), u.as_ref())?;
        let residual_rel = certificate.residual_rel;
        tick(&mut times.certify);
        let network = Network {
            u,
            v,
            activation: self.activation.clone(),
        }
        .canonical();
        let best_pencil_gap = pencils.first().map_or(0.0, |p: &Pencil| p.min_rel_gap);
        let mut warnings = label_spectrum_warnings(&shown, k);
        // Close eigenvalues matter only where the pool then missed units: among k random
        // eigenvalues a gap of 1e-4 is common and harmless.
        if !pencils.is_empty() && best_pencil_gap < WEAK_PENCIL_GAP && from_fallback > 0 {
            warnings.push(format!(
                "the Jennrich eigenvalues are nearly repeated (best relative gap {best_pencil_gap:.1e}) \
                 and the pencil pool missed {from_fallback} of the {k} units (random directions \
                 found them): some hidden units look alike to the second moment; if recovery \
                 fails, pass more samples"
            ));
        }
        if !certificate.certified() {
            warnings.push(format!(
                "the exact fit leaves a relative residual of {residual_rel:.2e} (certified needs \
                 < 1e-10): the labels are noisy or an assumption fails; use the least-squares \
                 methods (the front door does: --noise auto or gaussian)"
            ));
        }
        Ok(Recovered {
            network,
            report: ExactReport {
                method: "exact",
                certified: certificate.certified(),
                residual_rel,
                k,
                n,
                d,
                m,
                k_detected: self.k.is_none(),
                label_singular_values: shown,
                span_ratio,
                span_source,
                best_pencil_gap,
                warnings,
                candidates_tried: tried,
                restarts_used: 0,
                search_samples,
                time_s: start.elapsed().as_secs_f64(),
                phase_time_s: times,
                assumptions: vec![
                    "inputs x ~ N(0, I_d)",
                    "labels y = U f(V x) without noise",
                    "rank U = k <= d",
                ],
                activation: self.activation.name(),
                hermite_coefficients: self.activation.hermite_coefficients(1.0),
                inputs: None,
            },
        })
    }

    /// Steps 3–4: every candidate of the pencil pool in both orientations, the most novel
    /// first (least aligned with the units verified so far; ties: best pencil first); then
    /// the fallback directions. Stops at k verified units.
    ///
    /// `xqt` is Xᵀ Q (n×k with zeroed padding rows, scaled here to xᵀQ/‖x‖ per sample), `q`
    /// the span basis (d×k), `norms` the samples' norms. With an `orientation` key g (see
    /// [`orientation_key`]), a candidate d with |dᵀg| clearly above zero is probed in the
    /// orientation that sign predicts, and in the other one only after the pool ran out, if
    /// that probe found no null vector; without it, or when the sign is unclear, in both at
    /// once.
    #[allow(clippy::too_many_arguments)]
    fn find_units<'a>(
        &'a self,
        xt: MatRef<'a, f64>,
        yk: MatRef<'a, f64>,
        mut xqt: Mat<f64>,
        q: MatRef<'_, f64>,
        pencils: &[Pencil],
        mut norms: Vec<f64>,
        orientation: Option<&[f64]>,
    ) -> UnitSearch<'a> {
        let (k, n) = yk.shape();
        norms.iter_mut().for_each(|r| *r = r.max(f64::MIN_POSITIVE));
        // xᵀQ/‖x‖ for every sample: a candidate's cosines are then one product away.
        let inv: Vec<f64> = norms.iter().map(|r| 1.0 / r).collect();
        for a in 0..k {
            column_mut(xqt.as_mut(), a)
                .iter_mut()
                .zip(&inv)
                .for_each(|(t, s)| *t *= s);
        }
        let mut search = UnitSearch::new(xt, yk, &self.activation);
        // One output gives one slice and no pencil: the span's own axes are the candidates
        // (for k = 1, the span is the unit's direction).
        let identity = [Mat::<f64>::identity(k, k)];
        let pool: Vec<&Mat<f64>> = if pencils.is_empty() {
            identity.iter().collect()
        } else {
            pencils.iter().map(|p| &p.directions).collect()
        };
        // Every candidate of every pencil, tried most novel first: least aligned with the
        // units verified so far (ties: best pencil first, then column order). Later pencils
        // mostly repeat the units the first one gave; their few candidates for missing units
        // then come first instead of after whole pencils of repeats. A batch is chosen
        // greedily, each pick also the least aligned with the batch's earlier picks, so that
        // one batch rarely spends two candidates on one unit. `mutual` holds the pool's
        // pairwise |cosines|.
        let total = pool.len() * k;
        let mut dirs = Mat::<f64>::zeros(k, total);
        for (p, m) in pool.iter().enumerate() {
            for c in 0..k {
                let w = m.col(c);
                let norm = w.norm_l2().max(f64::MIN_POSITIVE);
                dirs.col_mut(p * k + c).copy_from(w / norm);
            }
        }
        let mut mutual = Mat::<f64>::zeros(total, total);
        matmul(
            mutual.as_mut(),
            Accum::Replace,
            dirs.transpose(),
            dirs.as_ref(),
            1.0,
            Par::Seq,
        );
        // (candidate, orientation: the sign of dᵀg when clear, else 0 for both) still to probe,
        // and the other orientations of predicted probes that found no null vector, probed
        // once the pool has run out.
        let predicted = |c: usize| match orientation {
            Some(g) => {
                let t: f64 = dirs.col(c).iter().zip(g).map(|(a, b)| a * b).sum();
                if t.abs() > ORIENTATION_MARGIN {
                    t.signum()
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        let mut remaining: Vec<(usize, f64)> = (0..total).map(|c| (c, predicted(c))).collect();
        let mut deferred: Vec<(usize, f64)> = Vec::new();
        // Whether `remaining` holds the deferred orientations (which are not deferred again).
        let mut second_pass = false;
        // Zeroed by both threads: 1.3 MB at a 10⁴-sample window.
        let mut cosines = twolayer_moments::zeros_by_threads(n, 2 * BATCH);
        loop {
            if remaining.is_empty() && !second_pass {
                remaining = std::mem::take(&mut deferred);
                second_pass = true;
            }
            if remaining.is_empty() || search.units.len() >= k || search.hopeless() {
                break;
            }
            let known = Mat::from_fn(k, search.units.len(), |i, u| {
                search.units[u]
                    .iter()
                    .zip(q.col(i).iter())
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
            });
            let mut overlap = vec![0.0f64; total];
            if known.ncols() > 0 {
                let mut with_known = Mat::<f64>::zeros(total, known.ncols());
                matmul(
                    with_known.as_mut(),
                    Accum::Replace,
                    dirs.transpose(),
                    known.as_ref(),
                    1.0,
                    Par::Seq,
                );
                for u in 0..known.ncols() {
                    let norm = known.col(u).norm_l2().max(f64::MIN_POSITIVE);
                    for (o, t) in overlap.iter_mut().zip(with_known.col(u).iter()) {
                        *o = o.max(t.abs() / norm);
                    }
                }
            }
            // Ties: the best pencil first, then column order (the pool's order). A batch holds
            // up to 2·BATCH probes: BATCH candidates in both orientations, or up to twice as
            // many in their predicted one.
            let mut take: Vec<(usize, f64)> = Vec::with_capacity(2 * BATCH);
            let mut probes = 0;
            while probes < 2 * BATCH && !remaining.is_empty() {
                let (at, &pick) = remaining
                    .iter()
                    .enumerate()
                    .min_by(|a, b| {
                        overlap[a.1.0]
                            .total_cmp(&overlap[b.1.0])
                            .then(a.1.0.cmp(&b.1.0))
                    })
                    .expect("remaining is not empty");
                remaining.remove(at);
                take.push(pick);
                probes += orientations(pick.1).len();
                for (c, _) in &remaining {
                    overlap[*c] = overlap[*c].max(mutual[(*c, pick.0)].abs());
                }
            }
            // The batch's cosines with every sample (up to the candidates' norms): one thin
            // product.
            let w = Mat::from_fn(k, take.len(), |i, b| {
                let c = take[b].0;
                pool[c / k][(i, c % k)]
            });
            // faer's own product: xqt's padding rows are zero (both callers make it so),
            // so the copy `twolayer_moments::matmul` makes of a padded operand is not needed.
            faer::linalg::matmul::matmul(
                cosines.as_mut().subcols_mut(0, take.len()),
                Accum::Replace,
                xqt.as_ref(),
                w.as_ref(),
                1.0,
                small_par(k * n * take.len()),
            );
            let tries: Vec<(&[f64], f64)> = take
                .iter()
                .enumerate()
                .flat_map(|(b, &(_, sign))| {
                    let c = column(cosines.as_ref(), b);
                    orientations(sign).iter().map(move |&o| (c, o))
                })
                .collect();
            let nulls = search.try_batch(&tries);
            // A predicted orientation that found no null vector may have been the wrong one.
            let mut t = 0;
            for &(c, sign) in &take {
                if sign != 0.0 && !second_pass && !nulls[t] {
                    deferred.push((c, -sign));
                }
                t += orientations(sign).len();
            }
        }
        let from_pool = search.units.len();
        if search.units.len() < k && !search.hopeless() {
            // Fallback for units whose pool candidates are too rough (typically units at
            // small angles, whose slices blur together; with k = 2 every pencil gives the
            // same two directions): the best pencil's candidates, then random directions in
            // the span, each made orthogonal to the units already verified so that its
            // extreme set keeps those units awake.
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ FALLBACK_STREAM);
            // Random directions alternate between orthogonalised and raw: with few units the
            // orthogonal complement is tiny (one direction for k = 2), and raw random
            // directions sweep the span instead.
            let pool = (0..k).map(|c| (pool[0].col(c).iter().copied().collect(), true));
            let random = (0..RANDOM_DIRECTIONS_PER_UNIT * k).map(|i| {
                let w: Vec<f64> = (0..k).map(|_| rng.sample(StandardNormal)).collect();
                (w, i % 2 == 0)
            });
            // With two units the span is a plane: a full sweep of its directions (every 4°)
            // is sure to pass through the narrow wedge that isolates a unit, where a few random
            // directions may miss it.
            let sweep = (0..if k == 2 { PLANE_SWEEP } else { 0 }).map(|i| {
                let t = std::f64::consts::TAU * i as f64 / PLANE_SWEEP as f64;
                (vec![t.cos(), t.sin()], false)
            });
            for (w, orthogonalise) in pool.chain(random).chain(sweep) {
                if search.units.len() == k || search.hopeless() {
                    break;
                }
                let verified: Vec<Vec<f64>> = search
                    .units
                    .iter()
                    .map(|v| {
                        let vc = ColRef::from_slice(v);
                        (q.transpose() * vc).iter().copied().collect()
                    })
                    .collect();
                let w = if orthogonalise {
                    match orthogonal_to(w, &verified) {
                        Some(w) => w,
                        None => continue,
                    }
                } else {
                    w
                };
                let wc = ColRef::from_slice(&w);
                let cosines = &xqt * wc;
                let cosines: Vec<f64> = cosines.iter().copied().collect();
                search.try_batch(&[(&cosines, 1.0), (&cosines, -1.0)]);
            }
        }
        search.confirm();
        search.from_fallback = search.units.len().saturating_sub(from_pool);
        search
    }
}

/// The orientations a candidate with prediction `sign` is probed in: both (+ first) for 0,
/// else that one alone.
fn orientations(sign: f64) -> &'static [f64] {
    if sign > 0.0 {
        &[1.0]
    } else if sign < 0.0 {
        &[-1.0]
    } else {
        &[1.0, -1.0]
    }
}

/// The orientation key g (unit norm, span coordinates) from the first-order moments: for
/// the direction w = Qᵀv of every unit, wᵀg > 0. Why: with x ~ N(0, I), the reduced labels
/// Ỹ = A f(V x) have mean α = A c₀(‖v_i‖)_i and first-order coefficients L = A diag(c₁ᵢ/‖v_i‖) V
/// (c₀ = E f(‖v‖z) > 0, c₁ = E f(‖v‖z) z, z ~ N(0, 1)). With M = L Q = A D Wᵀ (W's columns
/// the w_i, D positive when c₁ > 0), g ∝ M⁻¹ α = W⁻ᵀ D⁻¹ A⁻¹ α, so Wᵀ g = D⁻¹ c₀ > 0 entry by
/// entry. `None` when f's first Hermite coefficients (at ‖v‖ = 1) are not both positive
/// (then both orientations are probed) or M is singular; a wrong sign costs only order, since
/// an orientation that found no null vector is probed the other way later. Cost: one k×k
/// solve.
fn orientation_key(
    linear: MatRef<'_, f64>,
    q: MatRef<'_, f64>,
    alpha: &[f64],
    f: &Activation,
) -> Option<Vec<f64>> {
    let c = f.hermite_coefficients(1.0);
    let square = linear.nrows() == q.ncols() && linear.nrows() == alpha.len();
    let rising = c[0] > 0.0 && c[1] > 1e-3 * c[0];
    if !rising || !square {
        return None;
    }
    let mut m = Mat::<f64>::zeros(linear.nrows(), q.ncols());
    matmul(m.as_mut(), Accum::Replace, linear, q, 1.0, Par::Seq);
    let a = Mat::from_fn(alpha.len(), 1, |i, _| alpha[i]);
    let g = m.partial_piv_lu().solve(&a);
    let norm = g.norm_l2();
    (norm.is_finite() && norm > 0.0).then(|| g.col(0).iter().map(|t| t / norm).collect())
}

/// Fills `keyed` with (sign·cosine, sample) pairs that include the `q` smallest keys
/// (0 < q ≤ n) and moves those q to its front, in no particular order: the extreme set of a
/// probe. A threshold from an evenly strided sample of about 1024 keys lets one pass over
/// the cosines keep only the keys at or below it (about 2q), and the selection runs on
/// those; when fewer than q fell there (an unlucky sample), every key is kept. Either way
/// the front holds q smallest keys under `total_cmp` (equal keys at the boundary may be
/// taken either way), and the result depends on the keys only. Cost: one pass over the
/// cosines plus selections among ~1024 and ~2q keys, where keying every sample writes and
/// selects over n pairs.
fn select_smallest(cosines: &[f64], sign: f64, q: usize, keyed: &mut Vec<(f64, u32)>) {
    let n = cosines.len();
    let by_key = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0);
    let key = |(j, &c): (usize, &f64)| (sign * c, j as u32);
    keyed.clear();
    let stride = n / 1024;
    if stride >= 4 {
        let mut sample: Vec<f64> = cosines.iter().step_by(stride).map(|&c| sign * c).collect();
        let len = sample.len();
        // Twice the expected count, and a few more: a short count falls back, costing one
        // pass.
        let rank = (2 * q * len).div_ceil(n) + 8;
        if rank < len {
            let (_, &mut threshold, _) = sample.select_nth_unstable_by(rank, f64::total_cmp);
            keyed.extend(
                cosines
                    .iter()
                    .enumerate()
                    .map(key)
                    .filter(|&(t, _)| t.total_cmp(&threshold).is_le()),
            );
            if keyed.len() >= q {
                keyed.select_nth_unstable_by(q - 1, by_key);
                return;
            }
            keyed.clear();
        }
    }
    keyed.extend(cosines.iter().enumerate().map(key));
    keyed.select_nth_unstable_by(q - 1, by_key);
}

/// aᵀ b for samples a (r×n, one per column) and vectors b (r×c): n×c, each b's products with
/// every sample contiguous. Threads: faer's global parallelism for large products, this
/// thread for small ones (see [`small_par`]).
fn per_sample(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Mat<f64> {
    let mut out = Mat::<f64>::zeros(a.ncols(), b.ncols());
    matmul(
        out.as_mut(),
        Accum::Replace,
        a.transpose(),
        b,
        1.0,
        small_par(a.nrows() * a.ncols() * b.ncols()),
    );
    out
}

/// The parallelism for a product of `work` multiply-adds: below [`SEQ_PRODUCT`] one thread
/// (the search's checks and cosines are products of a few hundred microseconds at most,
/// between parallel steps; splitting them buys little and adds a handoff to the pool);
/// above, faer's global parallelism.
fn small_par(work: usize) -> Par {
    if work < SEQ_PRODUCT {
        Par::Seq
    } else {
        faer::get_global_parallelism()
    }
}

/// The start and length of the middle `len` of `n` items (all of them when `len >= n`).
fn middle(n: usize, len: usize) -> (usize, usize) {
    let len = len.min(n);
    ((n - len) / 2, len)
}

/// Where a search window starts in the data (0 for gathered samples, which name their rows
/// themselves).
fn window_start(window: Option<(InMemory<'_>, usize, usize)>) -> usize {
    window.map_or(0, |(_, start, _)| start)
}

/// `w` minus its projection on the span of `basis` (any vectors), normalised; `None` when
/// nothing is left of it.
fn orthogonal_to(mut w: Vec<f64>, basis: &[Vec<f64>]) -> Option<Vec<f64>> {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut ortho: Vec<Vec<f64>> = Vec::with_capacity(basis.len());
    for b in basis {
        let mut b = b.clone();
        for o in &ortho {
            let c = dot(&b, o);
            b.iter_mut().zip(o).for_each(|(x, y)| *x -= c * y);
        }
        let norm = dot(&b, &b).sqrt();
        if norm > 1e-12 {
            b.iter_mut().for_each(|x| *x /= norm);
            ortho.push(b);
        }
    }
    let before = dot(&w, &w).sqrt();
    for o in &ortho {
        let c = dot(&w, o);
        w.iter_mut().zip(o).for_each(|(x, y)| *x -= c * y);
    }
    let norm = dot(&w, &w).sqrt();
    if norm <= 1e-6 * before || norm == 0.0 {
        return None;
    }
    w.iter_mut().for_each(|x| *x /= norm);
    Some(w)
}

/// Whether c f(v·x) (given as f(v·x), `activated`) matches a unit's outputs `z` within
/// [`UNIT_TOL`] relative; NaN does not.
fn within_tolerance(activated: &[f64], z: &[f64], scale: f64) -> bool {
    let limit = UNIT_TOL * UNIT_TOL * z.iter().map(|t| t * t).sum::<f64>();
    let res: f64 = activated
        .iter()
        .zip(z)
        .map(|(t, zj)| (scale * t - zj).powi(2))
        .sum();
    res < limit
}

/// Samples `idx` of `xt` (d×n, a sample per column) as the rows of an |idx|×d column-major
/// matrix, the layout whose Gram matrix faer forms fastest (35 µs against 62 µs for the
/// transposed layout at 133×100). The source is read along the axis it keeps contiguous: a
/// sample at a time when samples are columns in memory, a coordinate at a time when
/// coordinates are (then a sample's entries lie n apart, and reading them a sample at a time
/// would touch a page per entry). Cost: d·|idx| copies.
fn gather_rows(xt: MatRef<'_, f64>, idx: &[usize]) -> Mat<f64> {
    let d = xt.nrows();
    let mut out = Mat::<f64>::zeros(idx.len(), d);
    if xt.row_stride() == 1 {
        for (i, &j) in idx.iter().enumerate() {
            out.as_mut().row_mut(i).copy_from(xt.col(j).transpose());
        }
    } else {
        for c in 0..d {
            let dst = column_mut(out.as_mut(), c);
            match xt.row(c).try_as_row_major() {
                Some(row) => {
                    let row = row.as_slice();
                    dst.iter_mut().zip(idx).for_each(|(t, &j)| *t = row[j]);
                }
                None => dst.iter_mut().zip(idx).for_each(|(t, &j)| *t = xt[(c, j)]),
            }
        }
    }
    out
}

/// Whether two unit null vectors are the same up to sign (then they are one unit's).
fn same_null(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>().abs() > 1.0 - 1e-9
}

/// The state of the search for verified units over the candidate pool.
struct UnitSearch<'a> {
    /// The hidden activation.
    f: &'a Activation,
    /// Labels reduced to their k-dimensional row space (k×n).
    yk: MatRef<'a, f64>,
    /// The samples a candidate unit is solved and checked on: the middle part of the
    /// search's samples, small enough to stay in cache (d×c), and their reduced labels (k×c).
    /// The certificate checks the whole network on every sample afterwards.
    check_x: MatRef<'a, f64>,
    check_y: MatRef<'a, f64>,
    /// A candidate is first checked on this many of the check samples (the first ones), and
    /// confirmed on all of them once k units passed: the few a wrong unit needs to fail, read
    /// from cache, instead of every check sample once per unit.
    pre: usize,
    /// Verified hidden weight vectors (the first `confirmed` on every check sample, the
    /// others on the first `pre`).
    units: Vec<Vec<f64>>,
    /// Their null vectors a (unit, in the reduced label space, signed so that aᵀỸ is the
    /// unit's output): a unit's a is unique up to sign, so a repeated a is a repeated unit and
    /// needs no second verification.
    nulls: Vec<Vec<f64>>,
    /// Their output scales c (1 for homogeneous f): aᵀỸ = c f(v·x).
    scales: Vec<f64>,
    confirmed: usize,
    /// f(v·x) of the units on every check sample (c×k, a unit per column, in the order of
    /// `units`), when one confirmation covered them all and all passed: the output fit's
    /// hidden layer on those samples, which it then need not compute again.
    activated: Option<Mat<f64>>,
    /// Null vectors whose units failed the confirmation: not tried again.
    rejected: Vec<Vec<f64>>,
    tried: usize,
    /// Units found by the fallback directions, after the pencil pool.
    from_fallback: usize,
    /// The smallest σ_k/σ_1 of a probe that ended without a null vector at or above
    /// [`NULL_TOL`] (how near the search came to a unit it did not find).
    closest_miss: f64,
    /// Probes whose extreme sets kept a null space of two or more dimensions (several units
    /// silent together) up to a quarter of the samples.
    wide_nulls: usize,
    /// New null vectors that gave no unit (the solve or the check on other samples failed).
    failed_checks: usize,
    /// Probes that found a null vector (new or not).
    nulls_seen: usize,
}

thread_local! {
    /// Per-thread scratch of the probes: (sign · cosine, sample) pairs.
    static KEYED: std::cell::Cell<Vec<(f64, u32)>> = const { std::cell::Cell::new(Vec::new()) };
}

/// What one candidate in one orientation gave, computed from the search's state before it.
struct Probe {
    /// The smallest σ_k/σ_1 of Ỹ[:, Z] seen while growing Z.
    null_ratio: f64,
    /// The null vector found, if any.
    null: Option<Vec<f64>>,
    /// Its unit, solved and checked (unless its null vector was known before, or found by
    /// an earlier probe of the same batch).
    unit: Option<Checked>,
}

/// What [`UnitSearch::verify`] made of a null vector.
enum Verdict {
    /// A new unit that passed the first check.
    Unit(Checked),
    /// A unit verified before (from another null vector).
    Known,
    /// No unit: a support too small to solve on, a failed solve, or a failed check.
    Failed,
}

/// A unit that passed the first check.
struct Checked {
    v: Vec<f64>,
    /// Its null vector, signed so that aᵀỸ ≥ 0 on the whole.
    null: Vec<f64>,
    scale: f64,
}

impl<'a> UnitSearch<'a> {
    fn new(xt: MatRef<'a, f64>, yk: MatRef<'a, f64>, f: &'a Activation) -> Self {
        let (d, n) = xt.shape();
        let (start, len) = middle(n, check_samples(d, yk.nrows()));
        let (check_x, check_y) = (xt.subcols(start, len), yk.subcols(start, len));
        Self {
            f,
            yk,
            check_x,
            check_y,
            pre: (8 * d).max(PRECHECK_SAMPLES).min(len),
            units: Vec::with_capacity(yk.nrows()),
            nulls: Vec::with_capacity(yk.nrows()),
            scales: Vec::with_capacity(yk.nrows()),
            confirmed: 0,
            activated: None,
            rejected: Vec::new(),
            tried: 0,
            from_fallback: 0,
            closest_miss: f64::INFINITY,
            wide_nulls: 0,
            failed_checks: 0,
            nulls_seen: 0,
        }
    }

    /// A batch of probes: candidate directions given by their cosines with every sample, each
    /// in one orientation (±1). Returns, per probe, whether it found a null vector.
    ///
    /// The probes read the state and run in parallel; then each null vector new to the search
    /// is verified once (in parallel again: a null vector an earlier probe of the batch found
    /// is the same unit from another candidate, and is not verified twice); the outcomes are
    /// then applied in the batch's order. Every step depends on the batch only, never on how
    /// the threads shared it, so the units found are the same bits on any thread count. Each
    /// probe is a selection over the search's samples and a few q×k SVDs;
    /// each verification a d-dimensional solve and a check on the check samples.
    fn try_batch(&mut self, tries: &[(&[f64], f64)]) -> Vec<bool> {
        use rayon::prelude::*;
        if self.units.len() == self.yk.nrows() {
            return vec![true; tries.len()];
        }
        let mut probes: Vec<Probe> = tries
            .par_iter()
            .with_max_len(1)
            .map(|&(c, sign)| self.probe(c, sign))
            .collect();
        let mut fresh: Vec<usize> = Vec::with_capacity(probes.len());
        for (i, probe) in probes.iter().enumerate() {
            let Some(a) = &probe.null else { continue };
            let seen = fresh
                .iter()
                .any(|&j| probes[j].null.as_deref().is_some_and(|b| same_null(a, b)));
            if !seen && !self.known_null(a) {
                fresh.push(i);
            }
        }
        let fresh_nulls: Vec<&[f64]> = fresh
            .iter()
            .map(|&i| probes[i].null.as_deref().expect("fresh nulls exist"))
            .collect();
        let verified = self.verify(&fresh_nulls);
        for (i, verdict) in fresh.into_iter().zip(verified) {
            match verdict {
                Verdict::Unit(unit) => probes[i].unit = Some(unit),
                Verdict::Known => {}
                Verdict::Failed => self.failed_checks += 1,
            }
        }
        let nulls = probes.iter().map(|p| p.null.is_some()).collect();
        for probe in probes {
            self.apply(probe);
        }
        nulls
    }

    /// Records a probe's outcome as the next try: its unit joins the verified ones unless an
    /// earlier try (in the same parallel batch) found the same null vector or unit.
    fn apply(&mut self, probe: Probe) {
        if self.units.len() == self.yk.nrows() {
            return;
        }
        self.tried += 1;
        self.nulls_seen += usize::from(probe.null.is_some());
        if probe.null.is_none() {
            if probe.null_ratio >= NULL_TOL {
                self.closest_miss = self.closest_miss.min(probe.null_ratio);
            } else {
                self.wide_nulls += 1;
            }
        }
        let Some(unit) = probe.unit else {
            return;
        };
        if self.known_null(&unit.null) || self.known_unit(&unit.v) {
            return;
        }
        self.units.push(unit.v);
        self.nulls.push(unit.null);
        self.scales.push(unit.scale);
        if self.units.len() == self.yk.nrows() {
            self.confirm();
        }
    }

    /// Whether the search should give up: [`HOPELESS_PROBES`] (at least 4k) probes and not
    /// one null vector among them, which labels with noise give and exact labels do not.
    fn hopeless(&self) -> bool {
        self.nulls_seen == 0 && self.tried >= HOPELESS_PROBES.max(4 * self.yk.nrows())
    }

    fn known_null(&self, a: &[f64]) -> bool {
        self.nulls
            .iter()
            .chain(&self.rejected)
            .any(|b| same_null(a, b))
    }

    /// Checks the units not yet confirmed on every check sample, in one product, and drops
    /// those that fail (their null vectors are not tried again).
    fn confirm(&mut self) {
        let (xt, yk) = (self.check_x, self.check_y);
        let d = xt.nrows();
        let new = self.confirmed..self.units.len();
        if new.is_empty() {
            return;
        }
        let count = new.len();
        let units = Mat::from_fn(d, count, |c, u| self.units[self.confirmed + u][c]);
        let nulls = Mat::from_fn(yk.nrows(), count, |r, u| self.nulls[self.confirmed + u][r]);
        let mut pre = per_sample(xt, units.as_ref());
        let outputs = per_sample(yk, nulls.as_ref());
        let passed: Vec<bool> = (0..count)
            .map(|u| {
                let vx = column_mut(pre.as_mut(), u);
                self.f.apply_in_place(vx);
                within_tolerance(
                    vx,
                    column(outputs.as_ref(), u),
                    self.scales[self.confirmed + u],
                )
            })
            .collect();
        let all_at_once = self.confirmed == 0 && passed.iter().all(|&p| p);
        self.activated = all_at_once.then_some(pre);
        for u in (0..count).rev() {
            if !passed[u] {
                self.failed_checks += 1;
                let i = self.confirmed + u;
                self.units.remove(i);
                self.scales.remove(i);
                self.rejected.push(self.nulls.remove(i));
            }
        }
        self.confirmed = self.units.len();
    }

    fn known_unit(&self, v: &[f64]) -> bool {
        let vcol = ColRef::from_slice(v);
        let vn = vcol.norm_l2();
        self.units.iter().any(|w| {
            let wc = ColRef::from_slice(w);
            (vcol.transpose() * wc).abs() > (1.0 - DUPLICATE_TOL) * vn * wc.norm_l2()
        })
    }

    /// Grows the extreme set Z (the q samples with the most negative sign·cosine) until
    /// Ỹ[:, Z] has a one-dimensional null space, or cannot have one. Reads the state only.
    fn probe(&self, cosines: &[f64], sign: f64) -> Probe {
        let mut out = Probe {
            null_ratio: f64::INFINITY,
            null: None,
            unit: None,
        };
        // The extreme sets' keys beside their sample numbers, in a buffer each thread keeps:
        // a fresh one per probe would cost its page faults. It is taken out while in use: a
        // probe waiting on a nested parallel call may run another probe on this thread,
        // which then starts from an empty buffer.
        let mut keyed = KEYED.take();
        self.grow(cosines, sign, &mut keyed, &mut out);
        KEYED.set(keyed);
        out
    }

    /// The loop of [`UnitSearch::probe`] over growing extreme sets, keyed in `keyed`.
    fn grow(&self, cosines: &[f64], sign: f64, keyed: &mut Vec<(f64, u32)>, out: &mut Probe) {
        let (k, n) = self.yk.shape();
        let mut q = 3 * k;
        while q <= n / 4 {
            // Z need not be ordered by key: selection is O(n) where a sort is O(n log n).
            // Its samples are taken in index order, so Z's matrix does not depend on how the
            // selection arranged them.
            select_smallest(cosines, sign, q, keyed);
            let mut z: Vec<u32> = keyed[..q].iter().map(|&(_, j)| j).collect();
            z.sort_unstable();
            let yz = Mat::from_fn(q, k, |i, r| self.yk[(r, z[i] as usize)]);
            // The typical size of q labels (Ỹ has identity second moment).
            let typical = (q as f64 * k as f64).sqrt();
            // Most Z are clear-cut (the unit active on them, or one unit certainly silent),
            // which bounds from the Gram matrix show for a fraction of an SVD's cost.
            if k >= 2 {
                match check_null(yz.as_ref(), NULL_TOL * typical) {
                    NullCheck::FullRank(bound) => {
                        out.null_ratio = out.null_ratio.min(bound);
                        return;
                    }
                    NullCheck::Silent => {
                        q *= 2;
                        continue;
                    }
                    NullCheck::Null { vector, ratio } => {
                        out.null_ratio = out.null_ratio.min(ratio);
                        out.null = Some(vector);
                        return;
                    }
                    NullCheck::Unsure => {}
                }
            }
            let Some((s, right)) = svd_right(yz.as_ref()) else {
                return;
            };
            if !s[0].is_finite() {
                return;
            }
            if k >= 2 && s[0] <= NULL_TOL * typical {
                // Every unit is silent on Z (units at small angles): more samples will wake
                // the others.
                q *= 2;
                continue;
            }
            // For k = 1 there is no other unit to compare with: use the typical size.
            let scale = if k >= 2 { s[0] } else { typical };
            let null_ratio = s[k - 1] / scale;
            let second = if k >= 2 { s[k - 2] / scale } else { 1.0 };
            out.null_ratio = out.null_ratio.min(null_ratio);
            if null_ratio >= NULL_TOL {
                // Z already holds samples where the unit is active: growing cannot help.
                return;
            }
            if second > SECOND_TOL {
                out.null = Some(right.col(k - 1).iter().copied().collect());
                return;
            }
            q *= 2;
        }
    }

    /// For each null vector a, z = aᵀ Ỹ should be c f(v·x) for one unit v: solve for v on
    /// its support, then check it on the first `pre` check samples (the rest check it in
    /// [`UnitSearch::confirm`]). A unit that passes there and fails elsewhere cannot pass the
    /// certificate, which covers every sample.
    ///
    /// The outputs z of all the null vectors come from one product, and so do the check's
    /// pre-activations. Cost: 2 b p (k + d) flops for b null vectors and p samples, plus one
    /// solve with about 1.25·d rows each.
    fn verify(&self, nulls: &[&[f64]]) -> Vec<Verdict> {
        use rayon::prelude::*;
        let (xt, yk) = (
            self.check_x.subcols(0, self.pre),
            self.check_y.subcols(0, self.pre),
        );
        let (d, n) = xt.shape();
        if nulls.is_empty() {
            return Vec::new();
        }
        let mut signed: Vec<Vec<f64>> = nulls.iter().map(|a| a.to_vec()).collect();
        let nulls_mat = Mat::from_fn(yk.nrows(), nulls.len(), |r, i| nulls[i][r]);
        let mut outputs = per_sample(yk, nulls_mat.as_ref());
        for (i, a) in signed.iter_mut().enumerate() {
            let z = column_mut(outputs.as_mut(), i);
            if z.iter().sum::<f64>() < 0.0 {
                z.iter_mut().for_each(|t| *t = -*t);
                a.iter_mut().for_each(|t| *t = -*t);
            }
        }
        let fits: Vec<Option<(Vec<f64>, f64)>> = (0..nulls.len())
            .into_par_iter()
            .with_max_len(1)
            .map(|i| {
                let z = column(outputs.as_ref(), i);
                let zmax = z.iter().copied().fold(0.0, f64::max);
                let support: Vec<usize> = (0..n).filter(|&j| z[j] > 1e-9 * zmax).collect();
                if support.len() < d {
                    return None;
                }
                // About 1.25·d samples spread over the support determine v (exact labels: any
                // d independent ones would; the margin keeps the solve well conditioned, κ ≈ 15
                // for Gaussian rows; the Gram then costs 1.25·d³ multiply-adds, against 2·d³
                // for 2d rows); all the samples then check it.
                let rows = support.len().min(d + d / 4 + 8);
                let step = support.len() as f64 / rows as f64;
                let pick: Vec<usize> = (0..rows)
                    .map(|i| support[(i as f64 * step) as usize])
                    .collect();
                let picked = gather_rows(xt, &pick);
                let zs: Vec<f64> = pick.iter().map(|&j| z[j]).collect();
                fit_unit(picked.as_ref(), &zs, self.f)
            })
            .collect();
        let mut verdicts: Vec<Verdict> = fits
            .iter()
            .map(|fit| match fit {
                Some((v, _)) if self.known_unit(v) => Verdict::Known,
                _ => Verdict::Failed,
            })
            .collect();
        let fitted: Vec<usize> = (0..nulls.len())
            .filter(|&i| fits[i].is_some() && !matches!(verdicts[i], Verdict::Known))
            .collect();
        if fitted.is_empty() {
            return verdicts;
        }
        let units = Mat::from_fn(d, fitted.len(), |c, u| {
            fits[fitted[u]].as_ref().expect("fitted").0[c]
        });
        let mut pre = per_sample(xt, units.as_ref());
        for (u, &i) in fitted.iter().enumerate() {
            let (v, scale) = fits[i].as_ref().expect("fitted");
            let vx = column_mut(pre.as_mut(), u);
            self.f.apply_in_place(vx);
            if within_tolerance(vx, column(outputs.as_ref(), i), *scale) {
                verdicts[i] = Verdict::Unit(Checked {
                    v: v.clone(),
                    null: std::mem::take(&mut signed[i]),
                    scale: *scale,
                });
            }
        }
        verdicts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extreme_set_holds_the_smallest_keys() {
        // Keys with ties and a skewed spread, in both orientations; q from tiny to a quarter
        // of n, and n below and above the sampled path's threshold. The third pattern puts
        // the smallest keys exactly where the strided sample looks, so the threshold keeps
        // those ~1024 keys only and a q above that takes the fallback over every key.
        let skewed = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|j| (((j * 7919) % 1009) as f64 - 500.0).powi(3) / 1e6)
                .collect()
        };
        let hidden = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|j| {
                    if j % (n / 1024) == 0 {
                        -1e9
                    } else {
                        -(j as f64)
                    }
                })
                .collect()
        };
        for n in [100usize, 5000, 20_000] {
            for (cosines, sign) in [
                (skewed(n), 1.0),
                (skewed(n), -1.0),
                (hidden(n.max(4096)), 1.0),
            ] {
                let mut sorted: Vec<f64> = cosines.iter().map(|&c| sign * c).collect();
                sorted.sort_by(f64::total_cmp);
                for q in [1, 7, 60, cosines.len() / 4] {
                    let mut keyed = vec![(f64::NAN, u32::MAX); 3];
                    select_smallest(&cosines, sign, q, &mut keyed);
                    let mut front: Vec<f64> = keyed[..q].iter().map(|&(t, _)| t).collect();
                    front.sort_by(f64::total_cmp);
                    assert_eq!(front, sorted[..q], "n = {n}, q = {q}, sign = {sign}");
                    // Every pair kept is a sample's own key.
                    assert!(
                        keyed
                            .iter()
                            .all(|&(t, j)| t.to_bits() == (sign * cosines[j as usize]).to_bits()),
                        "n = {n}, q = {q}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_null_vector_comes_with_the_singular_values() {
        let a = crate::null_space::with_singular_values(12, &[2.0, 1.0, 0.0]);
        let (s, v) = svd_right(a.as_ref()).expect("converges");
        assert!((s[0] - 2.0).abs() < 1e-14 && (s[1] - 1.0).abs() < 1e-14 && s[2] < 1e-14);
        let null = v.col(2);
        assert!((&a * null).norm_l2() < 1e-14);
        assert!((null.norm_l2() - 1.0).abs() < 1e-14);
    }

    /// The population moments of Ỹ = A ReLU(V x), x ~ N(0, I₃): α = A ‖v‖/√(2π) and
    /// L = A V / 2. The key must orient every unit's direction positively, whatever A mixes,
    /// in any orthonormal span basis Q; and there is none when L Q is singular.
    #[test]
    fn the_orientation_key_points_into_every_unit() {
        let a = Mat::from_fn(3, 3, |i, j| {
            [[1.0, -2.0, 0.5], [0.3, 1.0, -1.5], [-0.7, 0.4, 2.0]][i][j]
        });
        let v = Mat::from_fn(3, 3, |i, j| {
            [[1.0, 0.2, -0.3], [-0.5, 2.0, 0.1], [0.4, -0.6, -1.2]][i][j]
        });
        let norms: Vec<f64> = (0..3).map(|i| v.row(i).norm_l2()).collect();
        let alpha: Vec<f64> = (0..3)
            .map(|r| {
                (0..3).map(|i| a[(r, i)] * norms[i]).sum::<f64>()
                    / (2.0 * std::f64::consts::PI).sqrt()
            })
            .collect();
        let linear = &a * &v * 0.5;
        // A rotated basis of R³ (the span is all of it here).
        let q = Mat::from_fn(3, 3, |i, j| {
            [[0.0, 0.6, 0.8], [1.0, 0.0, 0.0], [0.0, 0.8, -0.6]][i][j]
        });
        let g = orientation_key(linear.as_ref(), q.as_ref(), &alpha, &Activation::Relu)
            .expect("ReLU has positive c0 and c1");
        for i in 0..3 {
            // The unit's direction in span coordinates, Qᵀ v_i.
            let w = q.transpose() * v.row(i).transpose();
            let t: f64 = w.iter().zip(&g).map(|(x, y)| x * y).sum();
            assert!(t > 0.05 * w.norm_l2(), "unit {i}: wᵀg = {t}");
        }
        // First-order coefficients that do not span (a unit the labels' mean and L miss):
        // no key rather than a meaningless one.
        let mut flat = linear.clone();
        flat.row_mut(2).fill(0.0);
        assert!(orientation_key(flat.as_ref(), q.as_ref(), &alpha, &Activation::Relu).is_none());
    }
}
