//! The order of the search (docs/algorithms.md section 3, steps 3 and 4): the candidates of
//! the pencil pool in both orientations, the most novel first, then the fallback directions,
//! until k units are verified.

use faer::prelude::*;
use faer::{Accum, Mat, MatRef};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use twolayer_moments::matmul;
use twolayer_tensor::Pencil;

use super::extreme::orientations;
use super::search::{
    BATCH, FALLBACK_STREAM, ORIENTATION_MARGIN, PLANE_SWEEP, RANDOM_DIRECTIONS_PER_UNIT,
    UnitSearch, orthogonal_to, small_par,
};
use crate::network::Activation;
use crate::spectral::{column, column_mut};

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
pub(super) fn find_units<'a>(
    f: &'a Activation,
    seed: u64,
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
    let mut search = UnitSearch::new(xt, yk, f);
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
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ FALLBACK_STREAM);
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
