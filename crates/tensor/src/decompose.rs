//! Symmetric CP decomposition T ≈ Σ_r w_r a_r^{⊗p} of stored or implicit tensors: the front
//! door and the methods behind it.

use std::time::{Duration, Instant};

use faer::prelude::*;
use faer::{Mat, Side};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::contractions::{Contractions, Probes, checked};
use crate::error::TensorError;
use crate::jennrich::{JennrichParams, jennrich};
use crate::symmetric::SymmetricTensor;

/// Diagnostics of a decomposition.
#[derive(Debug, Clone, PartialEq)]
pub struct DecompositionReport {
    /// `"jennrich"`, `"power"` or `"given"` ([`refine`]): where the starting point came from.
    pub method: &'static str,
    /// ‖T − T̂‖ / ‖T‖: exact for a stored tensor, estimated from random probe slices for an
    /// implicit one (see `residual_estimated`).
    pub residual_rel: f64,
    /// Whether `residual_rel` is an estimate: the tensor was given only through contractions,
    /// and the residual is measured on S = max(8, ⌈256/d⌉) fixed Gaussian probe slices
    /// T(I, I, g[, h]), whose squared norms are unbiased for the squared Frobenius norms
    /// (spread about 1/√(S d) ≈ 1/16 or less).
    pub residual_estimated: bool,
    /// Smallest relative eigenvalue gap of the pencil used (Jennrich), or of the whitened
    /// eigenvalues found (power method).
    pub min_rel_gap: f64,
    /// Polishing iterations run.
    pub iterations: usize,
    /// Whether the polish met its tolerance within its budgets.
    pub converged: bool,
    /// Whether the starting point's own iterations converged: always true for Jennrich (a
    /// direct method); for the power method, whether every component's best restart met its
    /// tolerance within 100 iterations.
    pub start_converged: bool,
    /// Wall time in seconds.
    pub time_s: f64,
}

/// Which method finds the starting point (the polish is the same for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Whitened Jennrich on random slices, best of a pencil pool.
    Jennrich,
    /// Whitened tensor power method with deflation and restarts.
    Power,
    /// Jennrich (rank ≤ d); the choice is reported.
    Auto,
}

/// Settings of [`decompose`].
#[derive(Debug, Clone, PartialEq)]
pub struct DecomposeParams {
    /// Number of components R (1 ≤ R ≤ d).
    pub rank: usize,
    /// Method for the starting point.
    pub method: Method,
    /// Seed of every random draw.
    pub seed: u64,
    /// Most polishing iterations.
    pub max_iter: usize,
    /// Wall-time budget of the polish.
    pub time_budget: Duration,
    /// Relative residual improvement below which the polish stops.
    pub tol: f64,
}

impl DecomposeParams {
    /// Defaults for rank R: automatic method, seed 0, at most 100 polishing iterations within
    /// 60 s, tolerance 1e-6 (relative residual improvement per iteration).
    pub fn new(rank: usize) -> Self {
        Self {
            rank,
            method: Method::Auto,
            seed: 0,
            max_iter: 100,
            time_budget: Duration::from_secs(60),
            tol: 1e-6,
        }
    }
}

/// Weights w_r and unit factors a_r with T ≈ Σ_r w_r a_r^{⊗p}, and how they were found.
#[derive(Debug, Clone)]
pub struct Decomposition {
    /// Weights (length R), of either sign.
    pub weights: Vec<f64>,
    /// Unit factors, one per row (R×d); each determined up to the sign symmetry of the order.
    pub factors: Mat<f64>,
    /// Diagnostics.
    pub report: DecompositionReport,
}

/// Decomposes a symmetric tensor of order 3 or 4, stored ([`SymmetricTensor`]) or given only
/// through contractions ([`Contractions`], e.g. an [`ImplicitTensor`](crate::ImplicitTensor)),
/// into R rank-one terms.
///
/// A starting point from [`Method::Jennrich`] (R + 2 random slices T(I, I, g), whitened
/// simultaneous diagonalisation, best of 10 pencils) or [`Method::Power`] (whitening by one
/// slice, then power iterations with deflation and 10 restarts per component on the
/// whitened R×…×R tensor); a symmetric alternating least-squares polish inside the span of
/// the start (on the compressed R^p tensor T(Q, …, Q)), then on the whole tensor, each
/// iteration one MTTKRP [T(I, a_r, …, a_r)]_r with least-squares weights, kept only while the
/// residual decreases.
///
/// A stored tensor reports its exact residual; an implicit one an estimate from fixed
/// Gaussian probe slices ([`DecompositionReport::residual_estimated`]). Every iterative stage
/// runs within `max_iter` and `time_budget`: the polish reports `converged = false` when a
/// budget stops it, the power method answers [`TensorError::OutOfTime`].
///
/// ## Requirements
/// R ≤ d and linearly independent factors. The power method also needs a definite whitening
/// slice, so that the whitened tensor is orthogonally decomposable: weights of one sign for
/// order 4; for order 3, a slice direction g with every w_r (a_r·g) of one sign, which random
/// tries find only for small R (it reports [`TensorError::NotOrthogonallyDecomposable`]
/// otherwise). Jennrich has no such condition and is the automatic choice.
/// Noise is fine: the polish converges to a least-squares fit near the start.
///
/// ## Reference
/// Harshman (1970), Leurgans, Ross and Abel (1993) for simultaneous diagonalisation;
/// Anandkumar, Ge, Hsu, Kakade, Telgarsky (2014) for the whitened power method;
/// docs/algorithms.md section 2.
///
/// Cost, stored: O(R d^p) for the slices and each full polish iteration (one
/// (d^{p−1}×d)·(d×R) GEMM), O(d³) for the whitening. Implicit: R + 2 contractions for the
/// start, R (order 3) or R(R + 1)/2 (order 4) for the compression, R per full polish
/// iteration and max(8, ⌈256/d⌉) for the probes; the rest is O(d³ + R d²) per iteration.
pub fn decompose<T: Contractions + ?Sized>(
    t: &T,
    params: &DecomposeParams,
) -> Result<Decomposition, TensorError> {
    let start = Instant::now();
    let rank = checked_rank(t, params.rank)?;
    if !(params.tol.is_finite() && params.tol >= 0.0) {
        return Err(TensorError::OutOfRange {
            what: "the polish tolerance",
            range: "finite and ≥ 0",
            got: params.tol,
        });
    }
    let meter = Meter::new(t, params.seed)?;
    let (method, factors, gap, start_converged) = match params.method {
        Method::Jennrich | Method::Auto => {
            let (f, g) = jennrich_start(t, rank, params.seed)?;
            ("jennrich", f, g, true)
        }
        Method::Power => {
            let (f, g, c) = power_start(t, rank, params, start)?;
            ("power", f, g, c)
        }
    };
    finish(
        t,
        &meter,
        factors,
        params,
        start,
        (method, gap, start_converged),
    )
}

/// Polishes a caller's starting point: symmetric ALS from the rows of `start` (R×d, any
/// nonzero scale; R = `params.rank`), first in their span, then on the whole tensor, with
/// least-squares weights and the same report as [`decompose`] (method `"given"`, gap 1).
///
/// ## Requirements
/// A start near a decomposition: ALS converges to a stationary point of the residual near
/// where it begins. Linearly independent rows.
///
/// ## Reference
/// Kolda and Bader, "Tensor Decompositions and Applications" (SIAM Review, 2009), section 3.4.
///
/// Cost: as the polish of [`decompose`].
pub fn refine<T: Contractions + ?Sized>(
    t: &T,
    start_factors: &Mat<f64>,
    params: &DecomposeParams,
) -> Result<Decomposition, TensorError> {
    let start = Instant::now();
    let (d, rank) = (t.dim(), checked_rank(t, params.rank)?);
    if start_factors.shape() != (rank, d) {
        return Err(TensorError::StartShape {
            rows: start_factors.nrows(),
            cols: start_factors.ncols(),
            rank,
            d,
        });
    }
    let mut factors = start_factors.clone();
    for r in 0..rank {
        let n = factors.row(r).norm_l2();
        if !(n.is_finite() && n > 0.0) {
            return Err(TensorError::NotFinite { index: r });
        }
        let mut row = factors.row_mut(r);
        row /= n;
    }
    let meter = Meter::new(t, params.seed)?;
    finish(t, &meter, factors, params, start, ("given", 1.0, true))
}

/// The polish shared by [`decompose`] and [`refine`]: first in the R-dimensional span of the
/// start (an R^p tensor: iterations cost O(R^{p+1}), next to nothing), then on the full
/// tensor, where few iterations remain; canonical signs and order; the report.
fn finish<T: Contractions + ?Sized>(
    t: &T,
    meter: &Meter,
    factors: Mat<f64>,
    params: &DecomposeParams,
    start: Instant,
    (method, gap, start_converged): (&'static str, f64, bool),
) -> Result<Decomposition, TensorError> {
    let factors = if factors.nrows() < t.dim() {
        compressed_polish(t, &factors, params, start)?.unwrap_or(factors)
    } else {
        factors
    };
    // The polish computes the least-squares weights and the residual of every point it visits.
    let fit = polish(t, meter, factors, params, start)?;
    let (weights, factors) = canonical(fit.weights, fit.factors, t.order());
    Ok(Decomposition {
        weights,
        factors,
        report: DecompositionReport {
            method,
            residual_rel: fit.residual_rel,
            residual_estimated: matches!(meter, Meter::Probes { .. }),
            min_rel_gap: gap,
            iterations: fit.iterations,
            converged: fit.converged,
            start_converged,
            time_s: start.elapsed().as_secs_f64(),
        },
    })
}

/// The rank, refused unless the order is 3 or 4 and 1 ≤ rank ≤ d.
fn checked_rank<T: Contractions + ?Sized>(t: &T, rank: usize) -> Result<usize, TensorError> {
    if t.order() != 3 && t.order() != 4 {
        return Err(TensorError::BadOrder { order: t.order() });
    }
    if rank == 0 || rank > t.dim() {
        return Err(TensorError::RankOutOfRange {
            rank,
            max: t.dim(),
            why: "simultaneous diagonalisation and the whitened power method recover at most d components",
        });
    }
    Ok(rank)
}

/// How residuals are measured: exactly on a stored tensor, on probe slices otherwise.
enum Meter {
    Stored {
        norm: f64,
    },
    Probes {
        probes: Probes,
        /// ‖T‖² calibrated at the first fit measured: its probed squared residual minus the
        /// exact part −2⟨T, T̂⟩ + ‖T̂‖². The probes' plain ‖T‖² estimate is too rough for the
        /// expanded form (its error is relative to ‖T‖², not to the residual).
        norm_sq: std::cell::OnceCell<f64>,
    },
}

impl Meter {
    fn new<T: Contractions + ?Sized>(t: &T, seed: u64) -> Result<Self, TensorError> {
        match t.norm_if_stored() {
            Some(norm) => Ok(Self::Stored { norm }),
            None => {
                // Their own stream, so the probes do not shift the start's random draws.
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7072_6f62_6573);
                Ok(Self::Probes {
                    probes: Probes::new(t, || rng.sample(StandardNormal))?,
                    norm_sq: std::cell::OnceCell::new(),
                })
            }
        }
    }

    /// ‖T − Σ w_r a_r^{⊗p}‖/‖T‖ given the MTTKRP `m` at `factors`, by the expanded form
    /// ‖T‖² − 2 Σ w_r T(a_r, …) + Σ w_r w_s (a_r·a_s)^p (O(R² d)). Only its first term is
    /// not exact for an implicit tensor (a calibrated constant), so it compares fits exactly
    /// either way. It loses digits below √ε ≈ 1e-8 relative, so small
    /// values are recomputed entry by entry (exactly when stored, on the probes otherwise).
    fn residual<T: Contractions + ?Sized>(
        &self,
        t: &T,
        m: &Mat<f64>,
        weights: &[f64],
        factors: &Mat<f64>,
    ) -> f64 {
        let (rank, d) = factors.shape();
        let gram = factors * factors.transpose();
        let mut model = 0.0;
        for r in 0..rank {
            for s in 0..rank {
                model += weights[r] * weights[s] * gram[(r, s)].powi(t.order() as i32);
            }
        }
        let cross: f64 = (0..rank)
            .map(|r| weights[r] * (0..d).map(|i| m[(i, r)] * factors[(r, i)]).sum::<f64>())
            .sum();
        let exact_part = model - 2.0 * cross;
        let (norm_sq, scale) = match self {
            Self::Stored { norm } => (norm * norm, norm * norm),
            Self::Probes { probes, norm_sq } => {
                let calibrated = *norm_sq.get_or_init(|| {
                    probes.relative_residual(weights, factors).powi(2) * probes.norm_sq()
                        - exact_part
                });
                (calibrated, probes.norm_sq())
            }
        };
        let rel = ((norm_sq + exact_part).max(0.0) / scale.max(f64::MIN_POSITIVE)).sqrt();
        if rel >= 1e-6 {
            return rel;
        }
        match self {
            Self::Probes { probes, .. } => probes.relative_residual(weights, factors),
            Self::Stored { .. } => t.exact_relative_residual(weights, factors).unwrap_or(rel),
        }
    }

    /// The residual to report for the fit whose [`Self::residual`] is `compared`: the same
    /// value when stored; for an implicit tensor the probes' direct estimate, whose error is
    /// relative to the residual itself rather than to ‖T‖².
    fn reported(&self, weights: &[f64], factors: &Mat<f64>, compared: f64) -> f64 {
        match self {
            Self::Probes { probes, .. } => probes.relative_residual(weights, factors),
            Self::Stored { .. } => compared,
        }
    }
}

/// Polishes the factors inside their own span: with Q an orthonormal basis of the rows of
/// `factors`, the compressed tensor T(Q, …, Q) (R^p values) is decomposed from the projected
/// factors, and the result mapped back by Q. `None` when the polish leaves the unit sphere.
/// Cost: one compression ([`Contractions::compress`]), then O(R^{p+1}) per iteration.
fn compressed_polish<T: Contractions + ?Sized>(
    t: &T,
    factors: &Mat<f64>,
    params: &DecomposeParams,
    start: Instant,
) -> Result<Option<Mat<f64>>, TensorError> {
    let (p, rank) = (t.order(), factors.nrows());
    let qr = factors.transpose().qr();
    let q = qr.compute_thin_Q(); // d×R
    let data = t.compress(&q);
    let small = SymmetricTensor::new(rank, p, SymmetricTensor::symmetrise(rank, p, &data))?;
    let projected = factors * &q; // R×R: rows Qᵀ a_r
    let inner = DecomposeParams {
        max_iter: 200,
        tol: 1e-9,
        ..params.clone()
    };
    let meter = Meter::Stored { norm: small.norm() };
    let fit = polish(&small, &meter, projected, &inner, start)?;
    let mut out = &fit.factors * q.transpose();
    for r in 0..rank {
        let n = out.row(r).norm_l2();
        if n.is_nan() || n <= 0.0 {
            return Ok(None);
        }
        let mut row = out.row_mut(r);
        row /= n;
    }
    Ok(out.is_all_finite().then_some(out))
}

/// Random slices of the tensor, then whitened Jennrich: unit factors (R×d) and the pencil gap.
fn jennrich_start<T: Contractions + ?Sized>(
    t: &T,
    rank: usize,
    seed: u64,
) -> Result<(Mat<f64>, f64), TensorError> {
    let d = t.dim();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // R + 2 slices: fewer make a rougher start, which costs more full polish iterations.
    let count = rank + 2;
    let g = Mat::from_fn(d, count, |_, _| rng.sample::<f64, _>(StandardNormal));
    let h = Mat::from_fn(d, count, |_, _| rng.sample::<f64, _>(StandardNormal));
    let slices = t.slices(&g, &h);
    checked(&slices, d)?;
    let views: Vec<_> = slices.iter().map(|s| s.as_ref()).collect();
    let out = jennrich(&views, rank, &JennrichParams { pencils: 10, seed })?;
    let best = &out.pencils[0];
    Ok((best.directions.transpose().to_owned(), best.min_rel_gap))
}

/// Whitened tensor power method: W = U_R |Λ_R|^{-1/2} from one random slice, power iterations
/// with 10 restarts and deflation on T(W, …, W), factors mapped back by U_R |Λ_R|^{1/2}.
/// Returns the factors, the eigenvalue gap and whether every component's iterations met
/// their tolerance.
fn power_start<T: Contractions + ?Sized>(
    t: &T,
    rank: usize,
    params: &DecomposeParams,
    start: Instant,
) -> Result<(Mat<f64>, f64, bool), TensorError> {
    let (d, p) = (t.dim(), t.order());
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    // Whitening makes the tensor orthogonally decomposable only when the slice is definite on
    // the span (its R leading eigenvalues share a sign): try a few random slices.
    let mut found = None;
    for _ in 0..WHITENING_TRIES {
        let g: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
        let gs = vec![g.as_slice(); p - 2];
        let m = t.contract(&gs);
        checked(std::slice::from_ref(&m), d)?;
        let eig = m
            .self_adjoint_eigen(Side::Lower)
            .map_err(|_| TensorError::RankDeficient { rank, ratio: 0.0 })?;
        let lam: Vec<f64> = (0..d).map(|i| eig.S().column_vector()[i]).collect();
        let mut idx: Vec<usize> = (0..d).collect();
        idx.sort_by(|&a, &b| lam[b].abs().total_cmp(&lam[a].abs()));
        let positive = idx[..rank].iter().filter(|&&i| lam[i] > 0.0).count();
        if positive == 0 || positive == rank {
            found = Some((eig, lam, idx));
            break;
        }
    }
    let Some((eig, lam, idx)) = found else {
        return Err(TensorError::NotOrthogonallyDecomposable {
            tries: WHITENING_TRIES,
        });
    };
    let top = lam[idx[0]].abs();
    let ratio = lam[idx[rank - 1]].abs() / top.max(f64::MIN_POSITIVE);
    if ratio <= 1e-12 {
        return Err(TensorError::RankDeficient { rank, ratio });
    }
    let w = Mat::from_fn(d, rank, |i, c| {
        eig.U()[(i, idx[c])] / lam[idx[c]].abs().sqrt()
    });
    let back = Mat::from_fn(d, rank, |i, c| {
        eig.U()[(i, idx[c])] * lam[idx[c]].abs().sqrt()
    });
    // Whitened tensor T(W, …, W) (flat row-major R^p).
    let mut small = t.compress(&w);
    if small.iter().any(|v| !v.is_finite()) {
        return Err(TensorError::NotFinite { index: 0 });
    }
    let mut lambdas = Vec::with_capacity(rank);
    let mut thetas = Vec::with_capacity(rank);
    let mut all_converged = true;
    for _ in 0..rank {
        let mut best: Option<(f64, Vec<f64>, bool)> = None;
        for _ in 0..10 {
            if start.elapsed() > params.time_budget {
                return Err(TensorError::OutOfTime {
                    stage: "the power method",
                    seconds: params.time_budget.as_secs_f64(),
                });
            }
            let mut th: Vec<f64> = (0..rank).map(|_| rng.sample(StandardNormal)).collect();
            normalise(&mut th);
            let mut done = false;
            for _ in 0..POWER_ITERATIONS {
                let mut next = apply_all_but_one(&small, rank, p, &th);
                if normalise(&mut next) == 0.0 {
                    break;
                }
                done = next
                    .iter()
                    .zip(&th)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
                    < 1e-14;
                th = next;
                if done {
                    break;
                }
            }
            let l = dot(&apply_all_but_one(&small, rank, p, &th), &th);
            if best.as_ref().is_none_or(|(b, _, _)| l.abs() > b.abs()) {
                best = Some((l, th, done));
            }
        }
        let (l, th, done) = best.expect("ten restarts ran");
        all_converged &= done;
        // Deflate: small −= λ θ^{⊗p}.
        for (flat, v) in small.iter_mut().enumerate() {
            let mut prod = l;
            let mut rest = flat;
            for _ in 0..p {
                prod *= th[rest % rank];
                rest /= rank;
            }
            *v -= prod;
        }
        lambdas.push(l);
        thetas.push(th);
    }
    let mut gap = f64::INFINITY;
    let scale = lambdas.iter().fold(0.0f64, |a, l| a.max(l.abs()));
    for i in 0..rank {
        for j in 0..i {
            gap = gap.min((lambdas[i] - lambdas[j]).abs() / scale.max(f64::MIN_POSITIVE));
        }
    }
    let mut factors = Mat::zeros(rank, d);
    for (r, th) in thetas.iter().enumerate() {
        let mut a: Vec<f64> = (0..d)
            .map(|i| (0..rank).map(|c| back[(i, c)] * th[c]).sum())
            .collect();
        normalise(&mut a);
        for i in 0..d {
            factors[(r, i)] = a[i];
        }
    }
    Ok((factors, if rank == 1 { 1.0 } else { gap }, all_converged))
}

/// Random slices tried for a definite whitening matrix.
const WHITENING_TRIES: usize = 32;

/// Power iterations per restart.
const POWER_ITERATIONS: usize = 100;

/// T(I, θ, …, θ) for a flat symmetric tensor of dimension r and order p.
fn apply_all_but_one(data: &[f64], r: usize, p: usize, th: &[f64]) -> Vec<f64> {
    let mut cur = data.to_vec();
    let mut len = data.len();
    for _ in 1..p {
        len /= r;
        cur = (0..len)
            .map(|i| {
                cur[i * r..(i + 1) * r]
                    .iter()
                    .zip(th)
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect();
    }
    cur
}

/// Whether two unit factors are within 1e-6 rad of each other (up to sign).
fn merging(factors: &Mat<f64>) -> bool {
    let gram = factors * factors.transpose();
    (0..gram.nrows()).any(|r| (0..r).any(|s| gram[(r, s)].abs() > 1.0 - 5e-13))
}

/// w = argmin ‖T − Σ w_r a_r^{⊗p}‖ given the MTTKRP: G w = b with G_rs = (a_r·a_s)^p and
/// b_r = T(a_r, …) = M[:, r]·a_r. `None` when G is singular to working precision.
fn weights_from_mttkrp(m: &Mat<f64>, factors: &Mat<f64>, order: usize) -> Option<Vec<f64>> {
    let (rank, d) = factors.shape();
    let gram = factors * factors.transpose();
    let g = Mat::from_fn(rank, rank, |r, s| gram[(r, s)].powi(order as i32));
    let b = Mat::from_fn(rank, 1, |r, _| {
        (0..d).map(|i| m[(i, r)] * factors[(r, i)]).sum::<f64>()
    });
    let w = g.partial_piv_lu().solve(&b);
    w.is_all_finite()
        .then(|| (0..rank).map(|r| w[(r, 0)]).collect())
}

/// The point a polish ended at.
struct Fit {
    weights: Vec<f64>,
    factors: Mat<f64>,
    iterations: usize,
    converged: bool,
    residual_rel: f64,
}

/// The MTTKRP at `factors`, refused when the tensor's contractions are not finite.
fn checked_mttkrp<T: Contractions + ?Sized>(
    t: &T,
    factors: &Mat<f64>,
) -> Result<Mat<f64>, TensorError> {
    let m = t.mttkrp(factors);
    if m.nrows() != t.dim() || m.ncols() != factors.nrows() || !m.is_all_finite() {
        return Err(TensorError::NotFinite { index: 0 });
    }
    Ok(m)
}

/// Symmetric alternating least squares: with the MTTKRP M = [T(I, a_r, …, a_r)]_r, the
/// least-squares update of B = [w_r a_r] is M ((AᵀA)^{∘(p−1)})⁻¹. One MTTKRP per iteration
/// also gives the weights and the residual of the current point; a step that raised the
/// residual is taken back and halved.
fn polish<T: Contractions + ?Sized>(
    t: &T,
    meter: &Meter,
    factors: Mat<f64>,
    params: &DecomposeParams,
    start: Instant,
) -> Result<Fit, TensorError> {
    let (d, p, rank) = (t.dim(), t.order(), factors.nrows());
    // The accepted point with its residual, and the proposal under test.
    let mut best = (vec![0.0; rank], factors.clone(), f64::INFINITY);
    let mut trial = factors;
    let mut step = 1.0;
    let mut iterations = 0;
    let mut converged = false;
    // At least one evaluation, so that every answer carries its weights and residual.
    while iterations == 0 || (iterations < params.max_iter && start.elapsed() <= params.time_budget)
    {
        iterations += 1;
        let m = checked_mttkrp(t, &trial)?;
        let w = weights_from_mttkrp(&m, &trial, p);
        // Two factors merging is the way ALS degenerates (weights of opposite sign growing
        // without bound while the residual creeps down): such a point is never accepted.
        let res = if w.is_some() && !merging(&trial) {
            meter.residual(t, &m, w.as_deref().unwrap_or_default(), &trial)
        } else {
            f64::INFINITY
        };
        let accepted = res < best.2;
        if accepted {
            let gain = (best.2 - res) / best.2;
            best = (w.unwrap_or_default(), trial.clone(), res);
            step = 1.0;
            if gain < params.tol || res < 1e-14 {
                converged = true;
                break;
            }
        } else {
            // Worse: back to the accepted point with a shorter step.
            step *= 0.5;
            if step < 1.0 / 16.0 {
                converged = true; // no descent left at this resolution: a stationary point
                break;
            }
        }
        // The ALS target from the accepted point's MTTKRP (recomputed only after a rejection).
        let m = if accepted {
            m
        } else {
            checked_mttkrp(t, &best.1)?
        };
        let gram = &best.1 * best.1.transpose();
        let had = Mat::from_fn(rank, rank, |r, s| gram[(r, s)].powi(p as i32 - 1));
        let Ok(llt) = had.llt(Side::Lower) else { break };
        let b = llt.solve(m.transpose()); // R×d: rows w_r a_r
        let mut next = best.1.clone();
        for r in 0..rank {
            let target: Vec<f64> = (0..d).map(|i| b[(r, i)]).collect();
            let norm = dot(&target, &target).sqrt();
            if norm == 0.0 || !norm.is_finite() {
                continue;
            }
            let old: Vec<f64> = best.1.row(r).iter().copied().collect();
            let sign = if dot(&target, &old) < 0.0 { -1.0 } else { 1.0 };
            let mut a: Vec<f64> = (0..d)
                .map(|i| (1.0 - step) * old[i] + step * sign * target[i] / norm)
                .collect();
            normalise(&mut a);
            for i in 0..d {
                next[(r, i)] = a[i];
            }
        }
        trial = next;
    }
    if !best.2.is_finite() {
        // Not one point had distinct factors and solvable weights: no answer to report.
        return Err(TensorError::DegenerateFactors);
    }
    let residual_rel = meter.reported(&best.0, &best.1, best.2);
    Ok(Fit {
        weights: best.0,
        factors: best.1,
        iterations,
        converged,
        residual_rel,
    })
}

/// Unit factors with a sign convention: for odd order, w_r > 0; for even order, the entry of
/// largest magnitude of a_r is positive. Components sorted by decreasing |w_r|.
fn canonical(weights: Vec<f64>, factors: Mat<f64>, order: usize) -> (Vec<f64>, Mat<f64>) {
    let (rank, d) = factors.shape();
    let mut comps: Vec<(f64, Vec<f64>)> = (0..rank)
        .map(|r| {
            let mut a: Vec<f64> = factors.row(r).iter().copied().collect();
            let norm = normalise(&mut a);
            let mut w = weights[r] * norm.powi(order as i32);
            let flip = if order % 2 == 1 {
                w < 0.0
            } else {
                a.iter()
                    .fold(0.0f64, |m, v| if v.abs() > m.abs() { *v } else { m })
                    < 0.0
            };
            if flip {
                a.iter_mut().for_each(|v| *v = -*v);
                if order % 2 == 1 {
                    w = -w;
                }
            }
            (w, a)
        })
        .collect();
    comps.sort_by(|x, y| y.0.abs().total_cmp(&x.0.abs()));
    let weights = comps.iter().map(|c| c.0).collect();
    let factors = Mat::from_fn(rank, d, |r, i| comps[r].1[i]);
    (weights, factors)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn normalise(v: &mut [f64]) -> f64 {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unit factors (rows) and weights of both signs from the test's own seed.
    pub(crate) fn planted(d: usize, rank: usize, seed: u64) -> (Vec<f64>, Mat<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut f = Mat::from_fn(rank, d, |_, _| rng.sample::<f64, _>(StandardNormal));
        for r in 0..rank {
            let n = f.row(r).norm_l2();
            let mut row = f.row_mut(r);
            row /= n;
        }
        let w = (0..rank)
            .map(|r| (1.0 + rng.random::<f64>()) * if r % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        (w, f)
    }

    #[test]
    fn both_methods_recover_planted_tensors() {
        for (order, d, rank) in [(3, 8, 5), (4, 6, 4)] {
            let (w, f) = planted(d, rank, 3);
            let t = SymmetricTensor::from_factors(&w, &f, order).unwrap();
            let out = decompose(&t, &DecomposeParams::new(rank)).unwrap();
            assert!(
                out.report.residual_rel < 1e-10,
                "order {order}: {:?}",
                out.report
            );
            assert_eq!(out.report.method, "jennrich");
        }
        // The power method where its whitening applies: order 4 with positive weights, and
        // order 3 with few components.
        for (order, d, rank) in [(4, 6, 4), (3, 8, 2)] {
            let (w, f) = planted(d, rank, 5);
            let w: Vec<f64> = w.iter().map(|v: &f64| v.abs()).collect();
            let t = SymmetricTensor::from_factors(&w, &f, order).unwrap();
            let out = decompose(
                &t,
                &DecomposeParams {
                    method: Method::Power,
                    ..DecomposeParams::new(rank)
                },
            )
            .unwrap();
            assert!(
                out.report.residual_rel < 1e-10,
                "power, order {order}: {:?}",
                out.report
            );
            assert_eq!(out.report.method, "power");
            // Not only its own residual: the planted components themselves come back.
            let err = component_error(order, &w, &f, &out);
            assert!(
                err < 1e-8,
                "power, order {order}: component error {err:.2e}"
            );
        }
        // Mixed signs at order 4: no definite whitening slice exists, and the error says so.
        let (w, f) = planted(6, 4, 5);
        let t = SymmetricTensor::from_factors(&w, &f, 4).unwrap();
        assert!(matches!(
            decompose(
                &t,
                &DecomposeParams {
                    method: Method::Power,
                    ..DecomposeParams::new(4)
                }
            ),
            Err(TensorError::NotOrthogonallyDecomposable { .. })
        ));
    }

    /// T plus symmetric Gaussian noise of Frobenius norm `level`·‖T‖.
    fn with_noise(t: &SymmetricTensor, level: f64, seed: u64) -> SymmetricTensor {
        let (d, order) = (t.dim(), t.order());
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let raw: Vec<f64> = (0..t.data().len())
            .map(|_| rng.sample::<f64, _>(StandardNormal))
            .collect();
        let noise = SymmetricTensor::symmetrise(d, order, &raw);
        let scale = level * t.norm() / noise.iter().map(|v| v * v).sum::<f64>().sqrt();
        let data = t
            .data()
            .iter()
            .zip(&noise)
            .map(|(a, b)| a + scale * b)
            .collect();
        SymmetricTensor::new(d, order, data).unwrap()
    }

    /// Largest error over components after matching: unit factors up to the order's sign
    /// symmetry, weights relative.
    fn component_error(order: usize, w: &[f64], f: &Mat<f64>, out: &Decomposition) -> f64 {
        let (tw, tf) = canonical(w.to_vec(), f.clone(), order);
        let rank = tw.len();
        let mut used = vec![false; rank];
        let mut worst: f64 = 0.0;
        for r in 0..rank {
            let best = (0..rank)
                .filter(|&s| !used[s])
                .map(|s| {
                    let e = (0..tf.ncols())
                        .map(|i| (tf[(r, i)] - out.factors[(s, i)]).powi(2))
                        .sum::<f64>()
                        .sqrt();
                    (e + (tw[r] - out.weights[s]).abs() / tw[r].abs(), s)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            let Some((e, s)) = best else {
                return f64::INFINITY;
            };
            used[s] = true;
            worst = worst.max(e);
        }
        worst
    }

    proptest::proptest! {
        // A fixed seed: every CI run checks the same cases.
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 24,
            rng_seed: proptest::test_runner::RngSeed::Fixed(9),
            ..proptest::prelude::ProptestConfig::default()
        })]
        /// Random symmetric rank-R tensors (R ≤ d ≤ 40, orders 3 and 4, weights of both signs)
        /// come back to 1e-8; with noise, the error follows the noise level.
        #[test]
        fn recovers_random_symmetric_tensors(
            order in 3usize..=4,
            d_frac in 0.0f64..=1.0,
            r_frac in 0.0f64..=1.0,
            seed in proptest::prelude::any::<u64>(),
        ) {
            // Order 4 stores d⁴ values: keep d ≤ 24 there so a case stays fast.
            let dmax = if order == 3 { 40 } else { 24 };
            let d = 2 + ((dmax - 2) as f64 * d_frac).round() as usize;
            let rank = 1 + ((d - 1) as f64 * r_frac).round() as usize;
            let (w, f) = planted(d, rank, seed);
            let t = SymmetricTensor::from_factors(&w, &f, order).unwrap();
            let params = DecomposeParams { seed, ..DecomposeParams::new(rank) };
            let out = decompose(&t, &params).unwrap();
            let err = component_error(order, &w, &f, &out);
            proptest::prop_assert!(err < 1e-8, "order {order} d {d} R {rank}: error {err:.2e} {:?}", out.report);

            // Symmetric noise of relative size 1e-6 and 1e-4: the error grows with it.
            let errors: Vec<f64> = [1e-6, 1e-4].iter().map(|&level| {
                let noisy = with_noise(&t, level, seed ^ 77);
                component_error(order, &w, &f, &decompose(&noisy, &params).unwrap())
            }).collect();
            // 100× the noise: about 100× the error (first order in the noise).
            let ratio = errors[1] / errors[0];
            proptest::prop_assert!((20.0..500.0).contains(&ratio), "{errors:?}");
        }
    }

    /// The tensor Σ_r w_r a_r^{⊗p} through its contractions alone:
    /// T(I, I, v…) = Aᵀ diag(w_r Π_v (v·a_r)) A, never the d^p values.
    fn implicit(
        w: Vec<f64>,
        f: Mat<f64>,
        order: usize,
    ) -> crate::ImplicitTensor<impl Fn(&[&[f64]]) -> Mat<f64> + Sync> {
        let d = f.ncols();
        crate::ImplicitTensor::new(d, order, move |v: &[&[f64]]| {
            let scaled = Mat::from_fn(w.len(), d, |r, i| {
                let c: f64 = v
                    .iter()
                    .map(|x| (0..d).map(|j| x[j] * f[(r, j)]).sum::<f64>())
                    .product();
                w[r] * c * f[(r, i)]
            });
            f.transpose() * scaled
        })
        .unwrap()
    }

    #[test]
    fn implicit_tensors_decompose_like_stored_ones() {
        for (order, d, rank) in [(3, 12, 7), (4, 9, 6)] {
            let (w, f) = planted(d, rank, 11);
            let stored = SymmetricTensor::from_factors(&w, &f, order).unwrap();
            let a = decompose(&stored, &DecomposeParams::new(rank)).unwrap();
            let b = decompose(
                &implicit(w.clone(), f.clone(), order),
                &DecomposeParams::new(rank),
            )
            .unwrap();
            assert!(!a.report.residual_estimated && b.report.residual_estimated);
            assert!(
                b.report.residual_rel < 1e-10,
                "order {order}: {:?}",
                b.report
            );
            assert!(component_error(order, &w, &f, &a) < 1e-8);
            assert!(component_error(order, &w, &f, &b) < 1e-8);
        }
    }

    /// Order 4 at d = 120 would be 207 million stored values (1.7 GB); through contractions
    /// it is R(R + 1)/2 + O(R) d×d matrices.
    #[test]
    fn implicit_order_four_beyond_dense_storage() {
        let (d, rank) = (120, 16);
        let (w, f) = planted(d, rank, 4);
        let out = decompose(
            &implicit(w.clone(), f.clone(), 4),
            &DecomposeParams::new(rank),
        )
        .unwrap();
        let err = component_error(4, &w, &f, &out);
        assert!(err < 1e-8, "error {err:.2e} {:?}", out.report);
        assert!(out.report.residual_rel < 1e-10);
    }

    /// The probe estimate of the residual tracks the exact one on a noisy tensor: the same
    /// stored values, once hidden behind their contractions.
    #[test]
    fn probe_residual_estimates_the_exact_residual() {
        let (d, rank, order) = (30, 6, 3);
        let (w, f) = planted(d, rank, 8);
        let clean = SymmetricTensor::from_factors(&w, &f, order).unwrap();
        let noisy = with_noise(&clean, 0.05, 21);
        let hidden =
            crate::ImplicitTensor::new(d, order, |v: &[&[f64]]| noisy.slice(v[0], None)).unwrap();
        let exact = decompose(&noisy, &DecomposeParams::new(rank)).unwrap();
        let est = decompose(&hidden, &DecomposeParams::new(rank)).unwrap();
        let r = est.report.residual_rel / exact.report.residual_rel;
        assert!(
            (0.75..1.33).contains(&r),
            "{:?} {:?}",
            exact.report,
            est.report
        );
        // Both fits are as good: the exact residual of the implicit path's answer.
        let theirs = noisy.relative_residual(&est.weights, &est.factors);
        assert!(
            theirs < 1.01 * exact.report.residual_rel,
            "{theirs} {:?}",
            exact.report
        );
    }

    #[test]
    fn bad_contractions_are_errors() {
        let p = DecomposeParams::new(2);
        let wrong = crate::ImplicitTensor::new(4, 3, |_: &[&[f64]]| Mat::zeros(3, 4)).unwrap();
        assert!(matches!(
            decompose(&wrong, &p),
            Err(TensorError::SliceShape {
                rows: 3,
                cols: 4,
                dim: 4,
                ..
            })
        ));
        let nan =
            crate::ImplicitTensor::new(4, 3, |_: &[&[f64]]| Mat::from_fn(4, 4, |_, _| f64::NAN))
                .unwrap();
        assert!(matches!(
            decompose(&nan, &p),
            Err(TensorError::NotFinite { .. })
        ));
        let skew = crate::ImplicitTensor::new(4, 3, |v: &[&[f64]]| {
            Mat::from_fn(4, 4, |i, j| if i < j { v[0][0] } else { 0.0 })
        })
        .unwrap();
        assert!(matches!(
            decompose(&skew, &p),
            Err(TensorError::NotSymmetric { .. })
        ));
        assert!(matches!(
            crate::ImplicitTensor::new(4, 5, |_: &[&[f64]]| Mat::zeros(4, 4)),
            Err(TensorError::BadOrder { order: 5 })
        ));
        // A closure that turns bad after a while (64 probes and 4 slices pass): in the
        // compression, then in the first full MTTKRP. An error each time, never a panic.
        let (w, f) = planted(4, 2, 3);
        let good = implicit(w, f, 3);
        for fine in [68, 70] {
            let calls = std::sync::atomic::AtomicUsize::new(0);
            let flaky = crate::ImplicitTensor::new(4, 3, |v: &[&[f64]]| {
                if calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < fine {
                    good.contract(v)
                } else {
                    Mat::zeros(2, 2)
                }
            })
            .unwrap();
            let err = decompose(&flaky, &p).unwrap_err();
            assert!(
                matches!(
                    err,
                    TensorError::NotFinite { .. } | TensorError::TensorNotFinite { .. }
                ),
                "after {fine} calls: {err:?}"
            );
        }
    }

    /// Budgets stop every iterative stage: the polish says it did not converge (and still
    /// returns weights with their residual), the power method answers with an error.
    #[test]
    fn budgets_are_reported_not_hung() {
        let (w, f) = planted(10, 4, 2);
        // Noise: the polish needs more than one iteration to meet its tolerance.
        let t = with_noise(&SymmetricTensor::from_factors(&w, &f, 4).unwrap(), 1e-2, 3);
        let none = DecomposeParams {
            time_budget: Duration::ZERO,
            ..DecomposeParams::new(4)
        };
        let out = decompose(&t, &none).unwrap();
        assert!(!out.report.converged && out.report.iterations == 1);
        assert!(out.report.residual_rel.is_finite());
        let w: Vec<f64> = w.iter().map(|v| v.abs()).collect();
        let positive = SymmetricTensor::from_factors(&w, &f, 4).unwrap();
        assert!(matches!(
            decompose(
                &positive,
                &DecomposeParams {
                    method: Method::Power,
                    ..none
                }
            ),
            Err(TensorError::OutOfTime { .. })
        ));
        let power = DecomposeParams {
            method: Method::Power,
            ..DecomposeParams::new(4)
        };
        let ok = decompose(&positive, &power).unwrap();
        assert!(ok.report.start_converged && ok.report.converged);
    }

    /// ALS from a perturbed start (every factor ~0.1 rad off) ends exact; a start of the
    /// wrong shape is an error.
    #[test]
    fn refine_polishes_a_given_start() {
        let (w, f) = planted(12, 5, 6);
        let t = SymmetricTensor::from_factors(&w, &f, 3).unwrap();
        let start = Mat::from_fn(5, 12, |r, i| {
            f[(r, i)] + 0.03 * (((r * 7 + i * 3) % 5) as f64 - 2.0)
        });
        let out = refine(&t, &start, &DecomposeParams::new(5)).unwrap();
        assert_eq!(out.report.method, "given");
        assert!(component_error(3, &w, &f, &out) < 1e-8, "{:?}", out.report);
        assert!(matches!(
            refine(&t, &Mat::zeros(4, 12), &DecomposeParams::new(5)),
            Err(TensorError::StartShape {
                rows: 4,
                rank: 5,
                ..
            })
        ));
        // Every row the same: no weights solve and no ALS step exists, so the answer is an
        // error, not zero weights with an infinite residual.
        let same = Mat::from_fn(5, 12, |_, i| start[(0, i)]);
        assert_eq!(
            refine(&t, &same, &DecomposeParams::new(5)).unwrap_err(),
            TensorError::DegenerateFactors
        );
    }

    #[test]
    fn rank_above_dimension_is_an_error() {
        let (w, f) = planted(3, 2, 1);
        let t = SymmetricTensor::from_factors(&w, &f, 3).unwrap();
        assert!(matches!(
            decompose(&t, &DecomposeParams::new(4)),
            Err(TensorError::RankOutOfRange { .. })
        ));
    }
}
