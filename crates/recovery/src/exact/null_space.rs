//! The null space of a unit's extreme set, decided from certified bounds where they suffice.
//!
//! The exact method's probes ask of each q×k label matrix A = Ỹ[:, Z]ᵀ whether it has a
//! one-dimensional null space (one unit silent on Z, every other one active somewhere). An SVD
//! answers, but at the sizes here (q = 60…240, k = 20) faer's costs 80 µs, most of a probe.
//! Nearly every extreme set is clear-cut: σ_min/σ_max is about 1e-15 or well above 1e-5, and
//! σ_{k−1}/σ_max far above 1e-6. [`check_null`] decides those cases from the Gram matrix AᵀA,
//! with bounds that hold whatever the rounding of the Gram (which squares the condition
//! number), and says [`NullCheck::Unsure`] otherwise, for the caller's SVD.

use faer::dyn_stack::MemStack;
use faer::linalg::cholesky::llt;
use faer::{Mat, MatRef, Par};

use crate::linalg::cholesky;

/// A sample set Z certifies a null vector when σ_min/σ_max of Ỹ[:, Z] is below this…
pub(crate) const NULL_TOL: f64 = 1e-9;
/// …and the next singular value is above this (the null space is one-dimensional).
pub(crate) const SECOND_TOL: f64 = 1e-6;
/// An extreme set is passed over without an SVD when a Cholesky factor bounds σ_min/σ_max of
/// Ỹ[:, Z] above this: four decades above [`NULL_TOL`], far beyond the bound's slack (√k at
/// most) and its rounding (κ² ε ≤ 1e-6 where it applies).
pub(crate) const SCREEN_TOL: f64 = 1e-5;
/// The bounds of [`check_null`] must clear [`NULL_TOL`] and [`SECOND_TOL`] by this factor:
/// a case within it is left to the SVD, so that the bounds' slack never decides.
const MARGIN: f64 = 4.0;
/// The shift of the inverse iteration, relative to tr AᵀA: far above the Gram's rounding
/// (about q·ε), far below the σ²_{k−1} of any set [`check_null`] certifies (≥ 16·SECOND_TOL²).
const SHIFT: f64 = 1e-12;

/// What [`check_null`] could certify about A (q×k).
#[derive(Debug)]
pub(crate) enum NullCheck {
    /// σ_min/σ_max is above [`SCREEN_TOL`]: no null vector. The lower bound.
    FullRank(f64),
    /// σ_max is at most the `silent` level (every unit is silent on Z).
    Silent,
    /// σ_min/σ_max < [`NULL_TOL`] and σ_{k−1}/σ_max > [`SECOND_TOL`]: the unit null vector
    /// (to the accuracy of an SVD's, ε σ_max/σ_{k−1}) and the upper bound on σ_min/σ_max.
    Null { vector: Vec<f64>, ratio: f64 },
    /// The bounds do not decide: an SVD must.
    Unsure,
}

/// Decides what it can of the null space of `a` (q×k, k ≥ 2, q ≥ k), where `silent` is the
/// σ_max below which every unit counts as silent. On this thread.
///
/// - Full rank: the Cholesky factor L of AᵀA bounds λ_min ≥ 1/‖L⁻¹‖²_F.
/// - A null vector: inverse iteration on AᵀA + SHIFT·tr(AᵀA)·I, refined twice against A
///   itself (the correction is solved with the Gram, the residual A u is formed from A, so
///   the vector is as accurate as an SVD's); then σ_min ≤ ‖A u‖ and σ_max ≥ ‖A x‖ for the
///   power iterate x, and by Cauchy interlacing σ²_{k−1} ≥ λ_min(AᵀA + tr(AᵀA) u uᵀ), bounded
///   through its Cholesky factor as above.
///
/// Cost: q k² + O(k³) flops (the Gram and three k×k Cholesky factors), against the SVD's
/// O(q k² + k³) with a far larger constant.
pub(crate) fn check_null(a: MatRef<'_, f64>, silent: f64) -> NullCheck {
    let k = a.ncols();
    let trace = a.squared_norm_l2();
    if !trace.is_finite() {
        return NullCheck::Unsure;
    }
    // σ_max ≤ ‖A‖_F.
    let top_hi = trace.sqrt();
    if top_hi <= silent {
        return NullCheck::Silent;
    }
    let gram = twolayer_moments::lower_gram(a.transpose(), 1.0, Par::Seq);
    if top_hi > (k as f64).sqrt() * silent {
        let mut l = gram.clone();
        if cholesky(&mut l) {
            let bound = twolayer_moments::condition_lower_bound(l.as_ref(), trace).sqrt();
            if bound > SCREEN_TOL {
                return NullCheck::FullRank(bound);
            }
        }
    }

    let mut shifted = gram.clone();
    for i in 0..k {
        shifted[(i, i)] += SHIFT * trace;
    }
    if !cholesky(&mut shifted) {
        return NullCheck::Unsure;
    }
    let solve = |v: &mut Mat<f64>| {
        llt::solve::solve_in_place(
            shifted.as_ref(),
            v.as_mut(),
            Par::Seq,
            MemStack::new(&mut []),
        )
    };
    let mut u = Mat::<f64>::from_fn(k, 1, |_, _| 1.0);
    for _ in 0..2 {
        solve(&mut u);
        if !normalise(&mut u) {
            return NullCheck::Unsure;
        }
    }
    for _ in 0..2 {
        // g = Gs⁻¹ Aᵀ (A u): the part of u off the null vector (the shift is negligible
        // there), plus some multiple of u, which the projection drops.
        let mut g = a.transpose() * (a * &u);
        solve(&mut g);
        let along: f64 = (0..k).map(|i| g[(i, 0)] * u[(i, 0)]).sum();
        for i in 0..k {
            u[(i, 0)] -= g[(i, 0)] - along * u[(i, 0)];
        }
        if !normalise(&mut u) {
            return NullCheck::Unsure;
        }
    }
    let low_hi = (a * &u).norm_l2();
    let top_lo = top_lower_bound(a, gram.as_ref());
    if top_lo <= silent {
        return NullCheck::Unsure;
    }
    let ratio = low_hi / top_lo;
    // NaN is unsure too.
    if (ratio * MARGIN).partial_cmp(&NULL_TOL) != Some(std::cmp::Ordering::Less) {
        return NullCheck::Unsure;
    }
    let mut deflated = gram;
    for i in 0..k {
        for j in 0..=i {
            deflated[(i, j)] += trace * u[(i, 0)] * u[(j, 0)];
        }
    }
    if !cholesky(&mut deflated) {
        return NullCheck::Unsure;
    }
    // λ_min ≥ 1/tr(M⁻¹) = 1/‖L⁻¹‖²_F: the bound of `condition_lower_bound` with unit trace.
    let second_lo = twolayer_moments::condition_lower_bound(deflated.as_ref(), 1.0).sqrt();
    if second_lo > MARGIN * SECOND_TOL * top_hi {
        NullCheck::Null {
            vector: (0..k).map(|i| u[(i, 0)]).collect(),
            ratio,
        }
    } else {
        NullCheck::Unsure
    }
}

/// ‖A x‖ for x after four power iterations on AᵀA (its lower triangle `gram`) from the
/// all-ones vector: a lower bound on σ_max, within a few percent of it.
fn top_lower_bound(a: MatRef<'_, f64>, gram: MatRef<'_, f64>) -> f64 {
    let k = gram.nrows();
    let mut x = vec![1.0; k];
    let mut next = vec![0.0; k];
    for _ in 0..4 {
        for (i, t) in next.iter_mut().enumerate() {
            *t = (0..k)
                .map(|j| gram[(i.max(j), i.min(j))] * x[j])
                .sum::<f64>();
        }
        let norm = next.iter().map(|t| t * t).sum::<f64>().sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            return 0.0;
        }
        x.iter_mut().zip(&next).for_each(|(t, s)| *t = s / norm);
    }
    let x = MatRef::from_column_major_slice(&x, k, 1);
    (a * x).norm_l2()
}

/// Scales the column `v` to unit norm; false if its norm is zero or not finite.
fn normalise(v: &mut Mat<f64>) -> bool {
    let norm = v.norm_l2();
    if !(norm > 0.0 && norm.is_finite()) {
        return false;
    }
    *v /= faer::Scale(norm);
    true
}

/// A q×k matrix (q ≥ 2k) with singular values `s`: column c is s[c] (0.6 e_c + 0.8 e_{k+c}),
/// so the columns are orthogonal with norms s.
#[cfg(test)]
pub(crate) fn with_singular_values(q: usize, s: &[f64]) -> Mat<f64> {
    let k = s.len();
    Mat::from_fn(q, k, |r, c| {
        let (cos, sin) = (0.6, 0.8);
        if r == c {
            s[c] * cos
        } else if r == k + c {
            s[c] * sin
        } else {
            0.0
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A q×k matrix with singular values `s` and right singular vectors the columns of an
    /// orthogonal k×k matrix (a Householder reflection), left ones orthonormal by
    /// construction (disjoint supports).
    fn with_spectrum(q: usize, s: &[f64]) -> (Mat<f64>, Mat<f64>) {
        let k = s.len();
        let w: Vec<f64> = (0..k).map(|i| 1.0 + (i * 7 % 5) as f64).collect();
        let ww: f64 = w.iter().map(|t| t * t).sum();
        let right = Mat::from_fn(k, k, |i, j| {
            f64::from(u8::from(i == j)) - 2.0 * w[i] * w[j] / ww
        });
        // Left vectors: column c lives on rows c, c + k, … with equal weights.
        let left = Mat::from_fn(q, k, |r, c| {
            if r % k == c {
                1.0 / ((q - c).div_ceil(k) as f64).sqrt()
            } else {
                0.0
            }
        });
        let mut a = Mat::<f64>::zeros(q, k);
        for c in 0..k {
            for r in 0..q {
                for j in 0..k {
                    a[(r, j)] += left[(r, c)] * s[c] * right[(j, c)];
                }
            }
        }
        (a, right)
    }

    #[test]
    fn a_clear_null_vector_comes_back_as_accurate_as_an_svd() {
        // σ_{k−1}/σ_max = 1e-3: the Gram alone would place the null vector to about
        // ε/1e-6 = 1e-10; against A itself, to about ε/1e-3.
        let mut s: Vec<f64> = (0..12).map(|i| 3.0 / (1.0 + i as f64)).collect();
        s[10] = 3e-3;
        s[11] = 1e-15;
        let (a, right) = with_spectrum(40, &s);
        match check_null(a.as_ref(), 1e-12) {
            NullCheck::Null { vector, ratio } => {
                assert!(ratio < NULL_TOL, "{ratio}");
                let v = faer::ColRef::from_slice(&vector);
                let off = (right.col(11) * (right.col(11).transpose() * v) - v).norm_l2();
                assert!(off < 1e-13, "{off:e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_screen_passes_over_only_clearly_full_rank_sets() {
        let well = with_singular_values(30, &[3.0, 2.0, 1.0, 0.5]);
        let NullCheck::FullRank(bound) = check_null(well.as_ref(), 1e-12) else {
            panic!("well conditioned")
        };
        // A lower bound on σ_min/σ_max = 1/6, within √k of it.
        assert!((0.5 / 3.0 / 2.0..=0.5 / 3.0).contains(&bound), "{bound}");

        // A null vector (σ_min = 0) is certified as one, here e₃.
        let null = with_singular_values(30, &[3.0, 2.0, 1.0, 0.0]);
        let NullCheck::Null { vector, ratio } = check_null(null.as_ref(), 1e-12) else {
            panic!("a clear null vector")
        };
        assert!(
            ratio < 1e-15 && (vector[3].abs() - 1.0).abs() < 1e-15,
            "{vector:?}"
        );
        // One near the threshold is left to the SVD.
        let near = with_singular_values(30, &[3.0, 2.0, 1.0, 1e-6]);
        assert!(matches!(
            check_null(near.as_ref(), 1e-12),
            NullCheck::Unsure
        ));

        // All rounding (every unit silent), however well conditioned it looks.
        let tiny = with_singular_values(30, &[3e-15, 2e-15, 1e-15, 1e-15]);
        assert!(matches!(
            check_null(tiny.as_ref(), 1e-12),
            NullCheck::Silent
        ));
    }

    /// Two silent directions (a two-dimensional null space), a null ratio too close to the
    /// tolerance, a second singular value too close to its own: the bounds must not decide.
    #[test]
    fn borderline_and_two_dimensional_null_spaces_are_left_to_the_svd() {
        let base: Vec<f64> = (0..10).map(|i| 2.0 / (1.0 + i as f64)).collect();
        for (second, last) in [(1e-15, 1e-16), (0.5, 0.5e-9), (2e-6, 1e-16)] {
            let mut s = base.clone();
            s[8] = second;
            s[9] = last;
            let (a, _) = with_spectrum(30, &s);
            let got = check_null(a.as_ref(), 1e-12);
            assert!(matches!(got, NullCheck::Unsure), "{second} {last}: {got:?}");
        }
    }
}
