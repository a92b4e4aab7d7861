//! The search for units: candidate directions probed in batches, each extreme set's null
//! vector solved for a unit and verified, every unit confirmed together (docs/algorithms.md
//! section 3, steps 3 and 4).

use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Par};
use twolayer_moments::matmul;

use super::extreme::select_smallest;
use crate::exact::null_space::{NULL_TOL, NullCheck, SECOND_TOL, check_null};
use crate::exact::unit_fit::fit_unit;
use crate::network::Activation;
use crate::spectral::{column, column_mut, svd_right};

/// A unit is verified when ‖f(v·X) − z‖ / ‖z‖ over its check samples is below this (the
/// certificate then checks the whole network on every sample).
pub(super) const UNIT_TOL: f64 = 1e-7;

/// Samples a candidate unit is checked on, and U then fitted on (at least; see
/// [`check_samples`]): 1.6 MB at d = 100, so that the checks run from cache. A wrong unit
/// fails on nearly every sample and the certificate covers them all, so more buy nothing
/// (4096 were about 7% slower in the unit search, with the same answers).
pub(super) const CHECK_SAMPLES: usize = 2048;

/// Of which a candidate is first checked on (at least; 8·d when that is more).
pub(super) const PRECHECK_SAMPLES: usize = 512;

/// Candidate directions whose two orientations are probed in one parallel batch (twice as
/// many when each is probed in its predicted orientation only).
pub(super) const BATCH: usize = 8;

/// A candidate d (unit norm) is probed in the orientation sign(dᵀg) alone when |dᵀg| exceeds
/// this, for the unit-norm orientation key g (see [`orientation_key`]): a true unit direction
/// has dᵀg > 0, typically of order 1/√k, and a candidate's error moves it by about that
/// error.
pub(super) const ORIENTATION_MARGIN: f64 = 0.05;

/// Products of fewer multiply-adds run on one thread (1M: about 0.05–0.1 ms on one core).
pub(super) const SEQ_PRODUCT: usize = 1 << 20;

/// Two verified units with |cos| above 1 − this are the same unit.
pub(super) const DUPLICATE_TOL: f64 = 1e-8;

/// Random fallback directions tried per hidden unit when the pencil pool falls short.
pub(super) const RANDOM_DIRECTIONS_PER_UNIT: usize = 10;

/// Directions of the plane swept when k = 2 and the other fallbacks fall short.
pub(super) const PLANE_SWEEP: usize = 90;

/// Probes (at least 4k) after which a search that has not seen a single null vector gives
/// up: exact labels gave their first null vector by the 10th probe on every instance of the
/// robustness set, and noisy labels never give one.
pub(super) const HOPELESS_PROBES: usize = 64;

/// Mixed into the seed for the fallback directions, so they differ from the pencils' draws.
pub(super) const FALLBACK_STREAM: u64 = 0x9e37_79b9_7f4a_7c15;

/// The check samples' count, the middle of the search's: [`CHECK_SAMPLES`], or 16 per input
/// dimension or 32 per unit when that is more (U has k unknowns per output). The output fit
/// runs on the same samples, so it can take the hidden layer the last check computed.
pub(super) fn check_samples(d: usize, k: usize) -> usize {
    (16 * d).max(32 * k).max(CHECK_SAMPLES)
}

/// The parallelism for a product of `work` multiply-adds: below [`SEQ_PRODUCT`] one thread
/// (the search's checks and cosines are products of a few hundred microseconds at most,
/// between parallel steps; splitting them buys little and adds a handoff to the pool);
/// above, faer's global parallelism.
pub(super) fn small_par(work: usize) -> Par {
    if work < SEQ_PRODUCT {
        Par::Seq
    } else {
        faer::get_global_parallelism()
    }
}

/// The start and length of the middle `len` of `n` items (all of them when `len >= n`).
pub(super) fn middle(n: usize, len: usize) -> (usize, usize) {
    let len = len.min(n);
    ((n - len) / 2, len)
}

/// `w` minus its projection on the span of `basis` (any vectors), normalised; `None` when
/// nothing is left of it.
pub(super) fn orthogonal_to(mut w: Vec<f64>, basis: &[Vec<f64>]) -> Option<Vec<f64>> {
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

/// aᵀ b for samples a (r×n, one per column) and vectors b (r×c): n×c, each b's products with
/// every sample contiguous. Threads: faer's global parallelism for large products, this
/// thread for small ones (see [`small_par`]).
pub(super) fn per_sample(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Mat<f64> {
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

/// Whether c f(v·x) (given as f(v·x), `activated`) matches a unit's outputs `z` within
/// [`UNIT_TOL`] relative; NaN does not.
pub(super) fn within_tolerance(activated: &[f64], z: &[f64], scale: f64) -> bool {
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
pub(super) fn gather_rows(xt: MatRef<'_, f64>, idx: &[usize]) -> Mat<f64> {
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
pub(super) fn same_null(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>().abs() > 1.0 - 1e-9
}

/// The state of the search for verified units over the candidate pool.
pub(super) struct UnitSearch<'a> {
    /// The hidden activation.
    pub(super) f: &'a Activation,
    /// Labels reduced to their k-dimensional row space (k×n).
    pub(super) yk: MatRef<'a, f64>,
    /// The samples a candidate unit is solved and checked on: the middle part of the
    /// search's samples, small enough to stay in cache (d×c), and their reduced labels (k×c).
    /// The certificate checks the whole network on every sample afterwards.
    pub(super) check_x: MatRef<'a, f64>,
    pub(super) check_y: MatRef<'a, f64>,
    /// A candidate is first checked on this many of the check samples (the first ones), and
    /// confirmed on all of them once k units passed: the few a wrong unit needs to fail, read
    /// from cache, instead of every check sample once per unit.
    pub(super) pre: usize,
    /// Verified hidden weight vectors (the first `confirmed` on every check sample, the
    /// others on the first `pre`).
    pub(super) units: Vec<Vec<f64>>,
    /// Their null vectors a (unit, in the reduced label space, signed so that aᵀỸ is the
    /// unit's output): a unit's a is unique up to sign, so a repeated a is a repeated unit and
    /// needs no second verification.
    pub(super) nulls: Vec<Vec<f64>>,
    /// Their output scales c (1 for homogeneous f): aᵀỸ = c f(v·x).
    pub(super) scales: Vec<f64>,
    pub(super) confirmed: usize,
    /// f(v·x) of the units on every check sample (c×k, a unit per column, in the order of
    /// `units`), when one confirmation covered them all and all passed: the output fit's
    /// hidden layer on those samples, which it then need not compute again.
    pub(super) activated: Option<Mat<f64>>,
    /// Null vectors whose units failed the confirmation: not tried again.
    pub(super) rejected: Vec<Vec<f64>>,
    pub(super) tried: usize,
    /// Units found by the fallback directions, after the pencil pool.
    pub(super) from_fallback: usize,
    /// The smallest σ_k/σ_1 of a probe that ended without a null vector at or above
    /// [`NULL_TOL`] (how near the search came to a unit it did not find).
    pub(super) closest_miss: f64,
    /// Probes whose extreme sets kept a null space of two or more dimensions (several units
    /// silent together) up to a quarter of the samples.
    pub(super) wide_nulls: usize,
    /// New null vectors that gave no unit (the solve or the check on other samples failed).
    pub(super) failed_checks: usize,
    /// Probes that found a null vector (new or not).
    pub(super) nulls_seen: usize,
}

thread_local! {
    /// Per-thread scratch of the probes: (sign · cosine, sample) pairs.
    static KEYED: std::cell::Cell<Vec<(f64, u32)>> = const { std::cell::Cell::new(Vec::new()) };
}

/// What one candidate in one orientation gave, computed from the search's state before it.
pub(super) struct Probe {
    /// The smallest σ_k/σ_1 of Ỹ[:, Z] seen while growing Z.
    pub(super) null_ratio: f64,
    /// The null vector found, if any.
    pub(super) null: Option<Vec<f64>>,
    /// Its unit, solved and checked (unless its null vector was known before, or found by
    /// an earlier probe of the same batch).
    pub(super) unit: Option<Checked>,
}

/// What [`UnitSearch::verify`] made of a null vector.
pub(super) enum Verdict {
    /// A new unit that passed the first check.
    Unit(Checked),
    /// A unit verified before (from another null vector).
    Known,
    /// No unit: a support too small to solve on, a failed solve, or a failed check.
    Failed,
}

/// A unit that passed the first check.
pub(super) struct Checked {
    pub(super) v: Vec<f64>,
    /// Its null vector, signed so that aᵀỸ ≥ 0 on the whole.
    pub(super) null: Vec<f64>,
    pub(super) scale: f64,
}

impl<'a> UnitSearch<'a> {
    pub(super) fn new(xt: MatRef<'a, f64>, yk: MatRef<'a, f64>, f: &'a Activation) -> Self {
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
    pub(super) fn try_batch(&mut self, tries: &[(&[f64], f64)]) -> Vec<bool> {
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
    pub(super) fn apply(&mut self, probe: Probe) {
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
    pub(super) fn hopeless(&self) -> bool {
        self.nulls_seen == 0 && self.tried >= HOPELESS_PROBES.max(4 * self.yk.nrows())
    }

    pub(super) fn known_null(&self, a: &[f64]) -> bool {
        self.nulls
            .iter()
            .chain(&self.rejected)
            .any(|b| same_null(a, b))
    }

    /// Checks the units not yet confirmed on every check sample, in one product, and drops
    /// those that fail (their null vectors are not tried again).
    pub(super) fn confirm(&mut self) {
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

    pub(super) fn known_unit(&self, v: &[f64]) -> bool {
        let vcol = ColRef::from_slice(v);
        let vn = vcol.norm_l2();
        self.units.iter().any(|w| {
            let wc = ColRef::from_slice(w);
            (vcol.transpose() * wc).abs() > (1.0 - DUPLICATE_TOL) * vn * wc.norm_l2()
        })
    }

    /// Grows the extreme set Z (the q samples with the most negative sign·cosine) until
    /// Ỹ[:, Z] has a one-dimensional null space, or cannot have one. Reads the state only.
    pub(super) fn probe(&self, cosines: &[f64], sign: f64) -> Probe {
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
    pub(super) fn grow(
        &self,
        cosines: &[f64],
        sign: f64,
        keyed: &mut Vec<(f64, u32)>,
        out: &mut Probe,
    ) {
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
    pub(super) fn verify(&self, nulls: &[&[f64]]) -> Vec<Verdict> {
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
