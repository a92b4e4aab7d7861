//! Exact recovery when rank U* = k (docs/algorithms.md section 3).

mod extreme;
use extreme::orientation_key;
pub(crate) mod null_space;
mod pool;
mod search;
use pool::find_units;
use search::{check_samples, middle};
pub(crate) mod unit_fit;

use std::time::Instant;

use faer::{Mat, MatRef};
use serde::Serialize;
use twolayer_moments::{
    AffineFit, InMemory, SampleMoments, SampleSource, column_norms, first_non_finite,
    spread_indices,
};
use twolayer_tensor::{JennrichParams, Pencil};

use crate::certificate::Certificate;
use crate::data::checks::moments_for_recovery;
use crate::error::RecoveryError;
use crate::local::output_fit::fit_output_exact;
use crate::network::{Activation, Network};
use crate::spectral::{
    LabelSpectrum, RANK_TOL, SpanSource, Spectral, label_spectrum_warnings, search_view,
    spectral_with_fit,
};

/// Below this relative gap the best Jennrich pencil's eigenvalues count as nearly repeated.
const WEAK_PENCIL_GAP: f64 = 1e-3;

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
#[non_exhaustive]
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
    pub inputs: Option<crate::data::analysis::InputDiagnostics>,
}

/// Wall time of each phase of [`ExactRecovery`], in seconds.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct Recovered {
    /// The weights, in canonical form (unit rows of V, units sorted).
    pub network: Network,
    /// Diagnostics and certificate.
    pub report: ExactReport,
}

/// The labels reduced to k dimensions (step 1).
struct Reduced {
    k: usize,
    /// σ_1..σ_{k+1} of Y relative to σ_1, for the report.
    shown: Vec<f64>,
    /// The fewest samples the method runs on at this (d, k).
    needed: usize,
    /// P (m×k): Ỹ = Pᵀ Y.
    p: Mat<f64>,
    /// Pᵀ α and Pᵀ B of the affine fit Y ≈ α + B x.
    alpha_k: Vec<f64>,
    linear_k: Mat<f64>,
}

/// Step 2's output on the search's samples: the reduced labels Ỹ (k×n), Xᵀ Q (n×k, zeroed
/// padding rows), the spectral stage (span and pencils) and the samples' norms.
struct Candidates {
    yk: Mat<f64>,
    xqt: Mat<f64>,
    spectral: Spectral,
    norms: Vec<f64>,
}

/// The samples one search ran on: a window of the data read in place, or samples copied
/// from the source (its middle window or an evenly spread subset).
enum Searched<'a> {
    /// Samples `start..start + len` of data in memory.
    Window(InMemory<'a>, usize, usize),
    /// Copied samples, d×len and m×len.
    Copied(Mat<f64>, Mat<f64>),
}

impl Searched<'_> {
    /// The samples as d×len and m×len views.
    fn views(&self) -> (MatRef<'_, f64>, MatRef<'_, f64>) {
        match self {
            Searched::Window(all, start, len) => {
                (all.x().subcols(*start, *len), all.y().subcols(*start, *len))
            }
            Searched::Copied(x, y) => (x.as_ref(), y.as_ref()),
        }
    }
}

/// A search that found all k units: the units, the hidden layer its confirmation computed
/// on the check samples (when it did), how many came from the fallback directions, the
/// spectral stage it ran on, and the samples it searched.
struct Found<'a> {
    units: Vec<Vec<f64>>,
    activated: Option<Mat<f64>>,
    from_fallback: usize,
    spectral: Spectral,
    samples: Searched<'a>,
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

    /// Number of random Jennrich pencils in the candidate pool (at least 1, 0 being an error
    /// when recovering; default [`ExactRecovery::default_pencils`] of the k found).
    pub fn pencils(mut self, pencils: usize) -> Self {
        self.pencils = Some(pencils);
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

    /// Step 1: k (the labels' numerical rank unless given), the checks that the method can
    /// run at that k, and the reduction of the labels to their k-dimensional row space with
    /// the affine fit in reduced coordinates. Cost: O((d + m)³) on the moments.
    fn reduce_labels(
        &self,
        moments: &SampleMoments,
        n: usize,
        d: usize,
        m: usize,
    ) -> Result<Reduced, RecoveryError> {
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
        Ok(Reduced {
            k,
            shown,
            needed,
            p,
            alpha_k,
            linear_k,
        })
    }

    /// Step 2 on the search's samples `xs` (d×n), `ys` (m×n): the reduced labels Ỹ, Xᵀ Q
    /// (n×k, zeroed padding rows), the span and the Jennrich candidate pool, and the samples'
    /// norms, in one pass with the reduction of the labels when the first-order span will do.
    /// Cost: O(n k (d + m)) and the pencils' O(k³) each.
    fn candidates(
        &self,
        xs: MatRef<'_, f64>,
        ys: MatRef<'_, f64>,
        p: &Mat<f64>,
        alpha_k: &[f64],
        linear_k: MatRef<'_, f64>,
        k: usize,
    ) -> Result<Candidates, RecoveryError> {
        let params = JennrichParams {
            pencils: self.pencils.unwrap_or(Self::default_pencils(k)),
            seed: self.seed,
        };
        let fused = search_view(
            xs,
            ys,
            p.as_ref(),
            alpha_k,
            linear_k,
            k,
            &self.activation,
            &params,
        );
        match fused {
            Ok(Some(v)) => Ok(Candidates {
                yk: v.yk,
                xqt: v.xqt,
                spectral: v.spectral,
                norms: v.norms,
            }),
            Ok(None) => {
                let yk = p.transpose() * ys;
                let residual = AffineFit::residual_of(alpha_k, linear_k, xs, yk.as_ref());
                let fit = AffineFit {
                    alpha: alpha_k.to_vec(),
                    linear: linear_k.to_owned(),
                    residual,
                };
                spectral_with_fit(xs, fit, k, &self.activation, &params).map(|mut s| {
                    let mut norms = vec![0.0; xs.ncols()];
                    column_norms(xs, &mut norms);
                    // Zeroed padding: the cosines' product reads it (see `find_units`).
                    let mut xqt = twolayer_moments::zeros_by_threads(s.xq.ncols(), k);
                    xqt.copy_from(s.xq.transpose());
                    s.xq = Mat::new();
                    Candidates {
                        yk,
                        xqt,
                        spectral: s,
                        norms,
                    }
                })
            }
            Err(e) => Err(e),
        }
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
        crate::error::at_least_one("pencils", self.pencils.unwrap_or(1))?;
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
        let Reduced {
            k,
            shown,
            needed,
            p,
            alpha_k,
            linear_k,
        } = self.reduce_labels(moments, n, d, m)?;

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
        let mut found = None;
        let mut tried = 0;
        // In memory, in any layout: the search's reads are products and gathers, which take
        // strided samples as they are.
        let in_memory = source.matrices();
        for (attempt, &size) in sizes.iter().enumerate() {
            let last = attempt + 1 == sizes.len();
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
            let searched = match window {
                Some((all, start, len)) => Searched::Window(all, start, len),
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
                    Searched::Copied(xs, ys)
                }
            };
            let (xs, ys) = searched.views();
            let mut reduce_s = 0.0;
            tick(&mut reduce_s);
            times.reduce += reduce_s;

            // Step 2: span and candidate directions, in one pass over the samples with the
            // reduction of their labels when the first-order span will do.
            let view = self.candidates(xs, ys, &p, &alpha_k, linear_k.as_ref(), k);
            // A search that fails on samples nobody has checked yet may have failed on a NaN:
            // it is named then (a search that succeeds leaves it to the certificate).
            let unchecked = window.is_some() && !moments_of_all;
            let Candidates {
                yk,
                xqt,
                spectral,
                norms,
            } = match view {
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
            let orientation = (spectral.span_source == SpanSource::FirstOrder)
                .then(|| orientation_key(linear_k.as_ref(), q.as_ref(), &alpha_k, &self.activation))
                .flatten();
            let search = find_units(
                &self.activation,
                self.seed,
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
                found = Some(Found {
                    units: search.units,
                    activated: search.activated,
                    from_fallback: search.from_fallback,
                    spectral,
                    samples: searched,
                });
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
        let Found {
            units,
            activated,
            from_fallback,
            spectral,
            samples,
        } = found.expect("the last attempt returns or breaks");
        let Spectral {
            span_ratio,
            span_source,
            pencils,
            ..
        } = spectral;
        let (xs, ys) = samples.views();
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
                span_source: span_source.name(),
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
}

/// Where a search window starts in the data (0 for gathered samples, which name their rows
/// themselves).
fn window_start(window: Option<(InMemory<'_>, usize, usize)>) -> usize {
    window.map_or(0, |(_, start, _)| start)
}
