//! Extreme sets: the samples most negative along a candidate direction, where its unit is
//! silent, and the orientation key that predicts which side of a candidate holds a unit
//! (docs/algorithms.md section 3, step 3).

use faer::prelude::*;
use faer::{Accum, Mat, MatRef};
use twolayer_moments::matmul;

use crate::network::Activation;

/// The orientations a candidate with prediction `sign` is probed in: both (+ first) for 0,
/// else that one alone.
pub(super) fn orientations(sign: f64) -> &'static [f64] {
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
pub(super) fn orientation_key(
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
pub(super) fn select_smallest(cosines: &[f64], sign: f64, q: usize, keyed: &mut Vec<(f64, u32)>) {
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
