//! Exact recovery when rank U* = k (ALGORITHMS.md section 3).

use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Par, Side};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::Serialize;
use twolayer_moments::{centre_labels, t2, weighted_gram};
use twolayer_tensor::{JennrichParams, Pencil, simultaneous_diagonalisation, whiten};

use crate::error::RecoveryError;
use crate::input::check_samples;
use crate::network::{Activation, Network};

/// Singular values of Y below this fraction of the largest count as zero when detecting k.
const RANK_TOL: f64 = 1e-6;
/// A sample set Z certifies a null vector when σ_min/σ_max of Ỹ[:, Z] is below this…
const NULL_TOL: f64 = 1e-9;
/// …and the next singular value is above this (the null space is one-dimensional).
const SECOND_TOL: f64 = 1e-6;
/// A unit is verified when ‖f(v·X) − z‖ / ‖z‖ over all samples is below this.
const UNIT_TOL: f64 = 1e-7;
/// Two verified units with |cos| above 1 − this are the same unit.
const DUPLICATE_TOL: f64 = 1e-8;
/// The fit is certified exact when ‖Y − U f(VX)‖_F / ‖Y‖_F is below this.
const CERTIFY_TOL: f64 = 1e-10;
/// Random fallback directions tried per hidden unit when the pencil pool falls short.
const RANDOM_DIRECTIONS_PER_UNIT: usize = 10;
/// Mixed into the seed for the fallback directions, so they differ from the pencils' draws.
const FALLBACK_STREAM: u64 = 0x9e37_79b9_7f4a_7c15;
/// Below this ratio σ_k/σ_1 of the first-order coefficients, the span comes from the second
/// moment instead.
const FIRST_ORDER_SPAN_MIN: f64 = 1e-2;

/// Exact recovery of a two-layer ReLU network from noiseless labels (rank U* = k).
///
/// Reduces Y to its k-dimensional row space, finds candidate unit directions by whitened
/// Jennrich on the second label-weighted Hermite moment, then, for every candidate and both
/// orientations, takes the samples most negative along it, reads the unit's output off the
/// one-dimensional null space of the labels there, solves for v and verifies f(v·x) on every
/// sample. U is the least-squares fit of Y on the verified units, and the relative residual of
/// that fit is the certificate.
///
/// ## Requirements
/// Inputs x ~ N(0, I_d) (other rotation-invariant inputs usually work; the certificate says
/// whether it did); labels y = U* relu(V* x) without noise; rank U* = k ≤ d; rows of V* pairwise
/// non-parallel. About 40·d·k samples make success reliable for units at least ~10° apart; two
/// units at angle θ differ only on a fraction θ/π of the samples, so closer units need
/// proportionally more.
///
/// ## Reference
/// Bakshi, Jayaram, Woodruff, COLT 2019, section 3 (exact algorithm); ALGORITHMS.md section 3.
///
/// Cost: O(n d²) for the centring, O(n d k) for the certificate, O(n k² + k⁴) otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactRecovery {
    k: Option<usize>,
    pencils: usize,
    seed: u64,
}

impl Default for ExactRecovery {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`ExactRecovery`] found, assumed and checked. Serialises to the `report.json` fields.
#[derive(Debug, Clone, Serialize)]
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
    /// Candidate directions (with orientation) examined before k units were verified.
    pub candidates_tried: usize,
    /// Wall time of the recovery in seconds.
    pub time_s: f64,
    /// Wall time of each phase in seconds.
    pub phase_time_s: PhaseTimes,
    /// What the method assumed, for the reader of the report.
    pub assumptions: Vec<&'static str>,
}

/// Wall time of each phase of [`ExactRecovery`], in seconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseTimes {
    /// Rank detection and reduction of Y to k rows.
    pub reduce: f64,
    /// Label centring (the affine fit) and the span of V*.
    pub centre_span: f64,
    /// Whitened second-moment slices and the Jennrich pencils.
    pub tensor: f64,
    /// Extreme sets, null vectors and per-unit verification.
    pub units: f64,
    /// Least squares for U and the certificate.
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
    /// Defaults: k detected from the rank of Y, 10 Jennrich pencils, seed 0.
    pub fn new() -> Self {
        Self {
            k: None,
            pencils: 10,
            seed: 0,
        }
    }

    /// Number of hidden units; `None` detects it as the numerical rank of Y.
    pub fn k(mut self, k: Option<usize>) -> Self {
        self.k = k;
        self
    }

    /// Number of random Jennrich pencils in the candidate pool (at least 1).
    pub fn pencils(mut self, pencils: usize) -> Self {
        self.pencils = pencils.max(1);
        self
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
    /// too few samples, fewer than k units verified).
    pub fn recover(
        &self,
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
    ) -> Result<Recovered, RecoveryError> {
        let start = Instant::now();
        check_samples(x, y)?;
        let (n, d) = x.shape();
        let m = y.ncols();
        if self.k == Some(0) {
            return Err(RecoveryError::ZeroK);
        }
        // Samples as columns: each sample contiguous, the layout every pass below wants.
        let xt = x.transpose().to_owned();
        let yt = y.transpose().to_owned();
        let par = faer::get_global_parallelism();
        let mut times = PhaseTimes::default();
        let mut lap = Instant::now();
        let mut tick = |slot: &mut f64| {
            *slot = lap.elapsed().as_secs_f64();
            lap = Instant::now();
        };

        // Step 1: k and the reduction Ỹ = Pᵀ Y onto the top-k left singular space of Y.
        let gy = weighted_gram(yt.as_ref(), None)?;
        let eig = gy
            .self_adjoint_eigen(Side::Lower)
            .map_err(|_| RecoveryError::Numerical("the eigen-decomposition of YᵀY"))?;
        let lambda = eig.S().column_vector();
        let top = lambda[m - 1].max(0.0);
        let rel_sv: Vec<f64> = (0..m)
            .rev()
            .map(|i| {
                if top > 0.0 {
                    (lambda[i].max(0.0) / top).sqrt()
                } else {
                    0.0
                }
            })
            .collect();
        let rank = rel_sv.iter().take_while(|&&s| s > RANK_TOL).count();
        let k = self.k.unwrap_or(rank);
        let shown = rel_sv.iter().take(k + 1).copied().collect::<Vec<_>>();
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
        // Whitened reduction: Ỹ = Λ^{-1/2} Pᵀ Y has identity second moment, so the reduced
        // output weights are well conditioned and the null vectors of distinct units are far
        // apart (without it, they crowd around the weakest label direction).
        let p = Mat::from_fn(m, k, |r, c| {
            eig.U()[(r, m - k + c)] / lambda[m - k + c].max(f64::MIN_POSITIVE).sqrt()
        });
        let mut yk = Mat::zeros(k, n);
        matmul(
            yk.as_mut(),
            Accum::Replace,
            p.transpose(),
            yt.as_ref(),
            1.0,
            par,
        );
        tick(&mut times.reduce);

        // Step 2: candidate directions. The span of V* comes from the affine fit's linear
        // part, E[relu(v·x) x] = v/2 (free: the centring computes it), unless that is badly
        // conditioned; then from the second-moment slices.
        let fit = centre_labels(xt.as_ref(), yk.as_ref())?;
        let (q, span_ratio, span_source) = self.span(&xt, &fit, k)?;
        tick(&mut times.centre_span);
        let mut xq = Mat::zeros(k, n);
        matmul(
            xq.as_mut(),
            Accum::Replace,
            q.transpose(),
            xt.as_ref(),
            1.0,
            par,
        );
        let slices = (0..k)
            .map(|r| t2(xq.as_ref(), row_vec(&fit.residual, r).as_slice()))
            .collect::<Result<Vec<_>, _>>()?;
        let views: Vec<MatRef<'_, f64>> = slices.iter().map(|s| s.as_ref()).collect();
        let pencils = simultaneous_diagonalisation(
            &views,
            &JennrichParams {
                pencils: self.pencils,
                seed: self.seed,
            },
        )?;

        tick(&mut times.tensor);

        // Steps 3–4: extreme sets, null vectors, verification.
        let search = self.find_units(xt.as_ref(), yk.as_ref(), xq.as_ref(), q.as_ref(), &pencils);
        if search.units.len() < k {
            return Err(RecoveryError::UnitsNotFound {
                found: search.units.len(),
                k,
                candidates: search.tried,
                best_null_ratio: search.best_null_ratio,
                recommended: Self::recommended_samples(d, k),
            });
        }

        tick(&mut times.units);

        // Step 5: U by least squares on all samples; the residual is the certificate.
        let v = Mat::from_fn(k, d, |i, j| search.units[i][j]);
        let (u, residual_rel) = fit_output_weights(&v, xt.as_ref(), yt.as_ref())?;
        tick(&mut times.certify);
        let network = Network {
            u,
            v,
            activation: Activation::Relu,
        }
        .canonical();
        Ok(Recovered {
            network,
            report: ExactReport {
                method: "exact",
                certified: residual_rel < CERTIFY_TOL,
                residual_rel,
                k,
                n,
                d,
                m,
                k_detected: self.k.is_none(),
                label_singular_values: shown,
                span_ratio,
                span_source,
                best_pencil_gap: pencils.first().map_or(0.0, |p: &Pencil| p.min_rel_gap),
                candidates_tried: search.tried,
                time_s: start.elapsed().as_secs_f64(),
                phase_time_s: times,
                assumptions: vec![
                    "inputs x ~ N(0, I_d)",
                    "labels y = U relu(V x) without noise",
                    "rank U = k <= d",
                ],
            },
        })
    }

    /// Steps 3–4: every candidate of the pencil pool, best pencil first, in both
    /// orientations; then the fallback directions. Stops at k verified units.
    ///
    /// `xq` is Qᵀ X (k×n), `q` the span basis (d×k).
    fn find_units<'a>(
        &self,
        xt: MatRef<'a, f64>,
        yk: MatRef<'a, f64>,
        xq: MatRef<'_, f64>,
        q: MatRef<'_, f64>,
        pencils: &[Pencil],
    ) -> UnitSearch<'a> {
        let (k, n) = yk.shape();
        let par = faer::get_global_parallelism();
        let norms: Vec<f64> = (0..n)
            .map(|j| xt.col(j).norm_l2().max(f64::MIN_POSITIVE))
            .collect();
        let mut search = UnitSearch::new(xt, yk);
        'pool: for pencil in pencils {
            // Every sample projected on every candidate of this pencil in one GEMM (n×k).
            let mut proj = Mat::zeros(n, k);
            matmul(
                proj.as_mut(),
                Accum::Replace,
                xq.transpose(),
                pencil.directions.as_ref(),
                1.0,
                par,
            );
            for c in 0..k {
                let cosines: Vec<f64> =
                    proj.col(c).iter().zip(&norms).map(|(p, r)| p / r).collect();
                for sign in [1.0, -1.0] {
                    if search.units.len() == k {
                        break 'pool;
                    }
                    search.try_candidate(&cosines, sign);
                }
            }
        }
        if search.units.len() < k {
            // Fallback for units whose pool candidates are too rough (typically units at
            // small angles, whose slices blur together; with k = 2 every pencil gives the
            // same two directions): the best pencil's candidates, then random directions in
            // the span, each made orthogonal to the units already verified so that its
            // extreme set keeps those units awake.
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ FALLBACK_STREAM);
            // Random directions alternate between orthogonalised and raw: with few units the
            // orthogonal complement is tiny (one direction for k = 2), and raw random
            // directions sweep the span instead.
            let pool =
                (0..k).map(|c| (pencils[0].directions.col(c).iter().copied().collect(), true));
            let random = (0..RANDOM_DIRECTIONS_PER_UNIT * k).map(|i| {
                let w: Vec<f64> = (0..k).map(|_| rng.sample(StandardNormal)).collect();
                (w, i % 2 == 0)
            });
            for (w, orthogonalise) in pool.chain(random) {
                if search.units.len() == k {
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
                let proj = xq.transpose() * wc;
                let cosines: Vec<f64> = proj.iter().zip(&norms).map(|(p, r)| p / r).collect();
                for sign in [1.0, -1.0] {
                    if search.units.len() < k {
                        search.try_candidate(&cosines, sign);
                    }
                }
            }
        }
        search
    }

    /// Orthonormal basis (d×k) of the estimated span of V*, its conditioning and its source.
    fn span(
        &self,
        xt: &Mat<f64>,
        fit: &twolayer_moments::AffineFit,
        k: usize,
    ) -> Result<(Mat<f64>, f64, &'static str), RecoveryError> {
        let svd = fit
            .linear
            .transpose()
            .thin_svd()
            .map_err(|_| RecoveryError::Numerical("the SVD of the first-order coefficients"))?;
        let s = svd.S().column_vector();
        let ratio = if s[0] > 0.0 { s[k - 1] / s[0] } else { 0.0 };
        if ratio >= FIRST_ORDER_SPAN_MIN {
            return Ok((svd.U().subcols(0, k).to_owned(), ratio, "first-order"));
        }
        let slices = (0..k)
            .map(|r| t2(xt.as_ref(), row_vec(&fit.residual, r).as_slice()))
            .collect::<Result<Vec<_>, _>>()?;
        let views: Vec<MatRef<'_, f64>> = slices.iter().map(|s| s.as_ref()).collect();
        let w = whiten(&views, k)?;
        Ok((w.basis, w.span_ratio, "second-order"))
    }
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

fn row_vec(m: &Mat<f64>, r: usize) -> Vec<f64> {
    m.row(r).iter().copied().collect()
}

/// The state of the search for verified units over the candidate pool.
struct UnitSearch<'a> {
    /// Samples as columns (d×n).
    xt: MatRef<'a, f64>,
    /// Labels reduced to their k-dimensional row space (k×n).
    yk: MatRef<'a, f64>,
    /// Verified hidden weight vectors.
    units: Vec<Vec<f64>>,
    /// Their null vectors a (unit, in the reduced label space): a unit's a is unique up to
    /// sign, so a repeated a is a repeated unit and needs no second verification.
    nulls: Vec<Vec<f64>>,
    tried: usize,
    best_null_ratio: f64,
    /// Scratch: sample indices, partially ordered by the current candidate.
    order: Vec<usize>,
}

impl<'a> UnitSearch<'a> {
    fn new(xt: MatRef<'a, f64>, yk: MatRef<'a, f64>) -> Self {
        Self {
            xt,
            yk,
            units: Vec::with_capacity(yk.nrows()),
            nulls: Vec::with_capacity(yk.nrows()),
            tried: 0,
            best_null_ratio: f64::INFINITY,
            order: Vec::with_capacity(yk.ncols()),
        }
    }

    /// One candidate in one orientation: grow the extreme set Z (the q samples with the most
    /// negative sign·cosine), and if Ỹ[:, Z] has a one-dimensional null space, solve for the
    /// unit and verify it on all samples.
    fn try_candidate(&mut self, cosines: &[f64], sign: f64) {
        self.tried += 1;
        let (k, n) = self.yk.shape();
        self.order.clear();
        self.order.extend(0..n);
        let mut q = 3 * k;
        while q <= n / 4 {
            // Z need not be sorted: selection is O(n) where a sort is O(n log n).
            self.order.select_nth_unstable_by(q - 1, |&a, &b| {
                (sign * cosines[a]).total_cmp(&(sign * cosines[b]))
            });
            let yz = Mat::from_fn(q, k, |i, r| self.yk[(r, self.order[i])]);
            let Ok(svd) = yz.thin_svd() else { return };
            let s = svd.S().column_vector();
            // The typical size of q labels (Ỹ has identity second moment).
            let typical = (q as f64 * k as f64).sqrt();
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
            self.best_null_ratio = self.best_null_ratio.min(null_ratio);
            if null_ratio >= NULL_TOL {
                // Z already holds samples where the unit is active: growing cannot help.
                return;
            }
            if second > SECOND_TOL {
                let a: Vec<f64> = (0..k).map(|r| svd.V()[(r, k - 1)]).collect();
                let known = self
                    .nulls
                    .iter()
                    .any(|b| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>().abs() > 1.0 - 1e-9);
                if !known {
                    self.verify(a);
                }
                return;
            }
            q *= 2;
        }
    }

    /// z = aᵀ Ỹ should be f(v·x) for one unit v: solve for v on its support, check everywhere.
    fn verify(&mut self, a: Vec<f64>) {
        let (d, n) = self.xt.shape();
        let mut zm = Mat::<f64>::zeros(1, n);
        let acol = ColRef::from_slice(&a);
        matmul(
            zm.as_mut(),
            Accum::Replace,
            acol.transpose().as_mat(),
            self.yk,
            1.0,
            Par::Seq,
        );
        let mut z: Vec<f64> = zm.row(0).iter().copied().collect();
        if z.iter().sum::<f64>() < 0.0 {
            z.iter_mut().for_each(|t| *t = -*t);
        }
        let zmax = z.iter().copied().fold(0.0, f64::max);
        let support: Vec<usize> = (0..n).filter(|&j| z[j] > 1e-9 * zmax).collect();
        if support.len() < d {
            return;
        }
        // About 4d samples spread over the support determine v; all samples then verify it.
        let rows = support.len().min(4 * d);
        let step = support.len() as f64 / rows as f64;
        let pick: Vec<usize> = (0..rows)
            .map(|i| support[(i as f64 * step) as usize])
            .collect();
        let a_mat = Mat::from_fn(rows, d, |i, c| self.xt[(c, pick[i])]);
        let b = Mat::from_fn(rows, 1, |i, _| z[pick[i]]);
        let v = a_mat.qr().solve_lstsq(&b);
        let v: Vec<f64> = (0..d).map(|c| v[(c, 0)]).collect();
        if !v.iter().all(|t| t.is_finite()) {
            return;
        }
        let vcol = ColRef::from_slice(&v);
        let vn = vcol.norm_l2();
        let duplicate = self.units.iter().any(|w| {
            let wc = ColRef::from_slice(w);
            (vcol.transpose() * wc).abs() > (1.0 - DUPLICATE_TOL) * vn * wc.norm_l2()
        });
        if duplicate {
            return;
        }
        let mut vx = Mat::<f64>::zeros(1, n);
        matmul(
            vx.as_mut(),
            Accum::Replace,
            vcol.transpose().as_mat(),
            self.xt,
            1.0,
            Par::Seq,
        );
        let (mut res, mut nz) = (0.0, 0.0);
        for (j, &zj) in z.iter().enumerate() {
            let e = vx[(0, j)].max(0.0) - zj;
            res += e * e;
            nz += zj * zj;
        }
        if res.sqrt() < UNIT_TOL * nz.sqrt() {
            self.units.push(v);
            self.nulls.push(a);
        }
    }
}

/// U = argmin ‖Y − U f(V X)‖_F by QR least squares, and the relative residual.
///
/// `xt` is d×n and `yt` m×n. Cost: O(n k (d + k + m)).
fn fit_output_weights(
    v: &Mat<f64>,
    xt: MatRef<'_, f64>,
    yt: MatRef<'_, f64>,
) -> Result<(Mat<f64>, f64), RecoveryError> {
    let (k, n) = (v.nrows(), xt.ncols());
    let par = faer::get_global_parallelism();
    let mut ft = Mat::zeros(n, k); // f(V X)ᵀ
    matmul(
        ft.as_mut(),
        Accum::Replace,
        xt.transpose(),
        v.transpose(),
        1.0,
        par,
    );
    for j in 0..k {
        for t in ft.col_mut(j).iter_mut() {
            *t = t.max(0.0);
        }
    }
    let ut = ft.qr().solve_lstsq(yt.transpose()); // k×m
    if !ut.is_all_finite() {
        return Err(RecoveryError::Numerical("the least-squares fit of U"));
    }
    let mut resid = yt.transpose().to_owned();
    matmul(
        resid.as_mut(),
        Accum::Add,
        ft.as_ref(),
        ut.as_ref(),
        -1.0,
        par,
    );
    let denom = yt.norm_l2();
    let residual_rel = if denom > 0.0 {
        resid.norm_l2() / denom
    } else {
        resid.norm_l2()
    };
    Ok((ut.transpose().to_owned(), residual_rel))
}
