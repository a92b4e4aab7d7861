use faer::{Mat, MatRef};

use crate::error::RecoveryError;
use crate::network::Network;

/// How far an estimated network is from a reference, up to the network's symmetries.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Alignment {
    /// `perm[i]` is the estimated unit matched to reference unit i.
    pub perm: Vec<usize>,
    /// max_i ‖V̂_perm(i) − V*_i‖ / ‖V*_i‖ in the canonical form: unit rows for a homogeneous f
    /// (a flipped sign counts as 2), rows at their identified scale otherwise.
    pub v_max: f64,
    /// max_i ‖Û_perm(i) − U*_i‖ / ‖U*_i‖ over columns of U, after the rescaling that makes
    /// rows of V unit (the canonical form).
    pub u_max_rel: f64,
    /// ‖V̂_perm − V*‖_F over unit-normalised rows: the whole-layer version of `v_max`, a
    /// steadier statistic for comparing estimators.
    pub v_fro: f64,
    /// ‖Û_perm − U*‖_F / ‖U*‖_F in the canonical scaling.
    pub u_fro_rel: f64,
}

impl Alignment {
    /// One number for a whole fit: √(‖ΔV‖_F² + (‖ΔU‖_F/‖U‖_F)²), the steadier statistic
    /// used to compare estimators (against the oracle, against Adam).
    pub fn parameter_error(&self) -> f64 {
        self.v_fro.hypot(self.u_fro_rel)
    }
}

/// Aligns `estimate` to `truth`: Hungarian matching on |⟨V̂_i, V*_j⟩| of unit-normalised rows,
/// then the errors of docs/algorithms.md section 0. Sign-, permutation- and scale-aware.
///
/// Cost: O(k² d + k³ + m k).
pub fn align(estimate: &Network, truth: &Network) -> Result<Alignment, RecoveryError> {
    for (what, expected, got) in [
        ("hidden units k of the estimate", truth.k(), estimate.k()),
        ("input dimension d of the estimate", truth.d(), estimate.d()),
        (
            "output dimension m of the estimate",
            truth.m(),
            estimate.m(),
        ),
    ] {
        if expected != got {
            return Err(RecoveryError::Shape {
                what,
                expected,
                got,
            });
        }
    }
    let (e, t) = (estimate.canonical(), truth.canonical());
    let k = t.k();
    let unit = |v: &Mat<f64>, i: usize| {
        let n = v.row(i).norm_l2();
        if n > 0.0 { n } else { 1.0 }
    };
    let cost = Mat::from_fn(k, k, |i, j| {
        -(t.v.row(i) * e.v.row(j).transpose()).abs() / (unit(&t.v, i) * unit(&e.v, j))
    });
    let perm = hungarian(cost.as_ref());
    let (mut v_max, mut u_max_rel, mut v_sq, mut u_sq): (f64, f64, f64, f64) = (0.0, 0.0, 0.0, 0.0);
    for (i, &j) in perm.iter().enumerate() {
        // Relative to the true row: unit rows for a homogeneous f, the identified scale
        // otherwise.
        let dv = (t.v.row(i) - e.v.row(j)).norm_l2() / unit(&t.v, i);
        let du = (t.u.col(i) - e.u.col(j)).norm_l2();
        let nu = t.u.col(i).norm_l2();
        v_max = v_max.max(dv);
        u_max_rel = u_max_rel.max(if nu > 0.0 { du / nu } else { du });
        v_sq += dv * dv;
        u_sq += du * du;
    }
    let u_norm = t.u.norm_l2();
    Ok(Alignment {
        perm,
        v_max,
        u_max_rel,
        v_fro: v_sq.sqrt(),
        u_fro_rel: if u_norm > 0.0 {
            u_sq.sqrt() / u_norm
        } else {
            u_sq.sqrt()
        },
    })
}

/// ‖Y − predict(X)‖_F / ‖Y‖_F for samples X (n×d) and labels Y (n×m).
///
/// Cost: one prediction, O(n k (d + m)).
pub fn relative_prediction_error(
    network: &Network,
    x: MatRef<'_, f64>,
    y: MatRef<'_, f64>,
) -> Result<f64, RecoveryError> {
    network.check_data(x, y)?;
    let pred = network.predict(x)?;
    let denom = y.norm_l2();
    let num = (pred.as_ref() - y).norm_l2();
    Ok(if denom > 0.0 { num / denom } else { num })
}

/// Minimum-cost perfect matching of a square cost matrix (Hungarian method with potentials).
///
/// Returns `assign` with row i matched to column `assign[i]`. Cost: O(k³).
pub fn hungarian(cost: MatRef<'_, f64>) -> Vec<usize> {
    let n = cost.nrows();
    assert_eq!(n, cost.ncols(), "hungarian: cost matrix must be square");
    // 1-based arrays with a sentinel column 0, as in the classical shortest-augmenting-path
    // formulation: p[j] is the row matched to column j.
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; n + 1];
    let mut p = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=n {
                if !used[j] {
                    let cur = cost[(i0 - 1, j - 1)] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut assign = vec![0; n];
    for j in 1..=n {
        assign[p[j] - 1] = j - 1;
    }
    assign
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Activation;

    #[test]
    fn hungarian_beats_greedy() {
        // Greedy takes (0,0) = 1 and is forced into (1,1) = 10: total 11. Optimum: 2 + 3 = 5.
        let c = Mat::from_fn(2, 2, |i, j| [[1.0, 2.0], [3.0, 10.0]][i][j]);
        assert_eq!(hungarian(c.as_ref()), vec![1, 0]);
        let c3 = Mat::from_fn(3, 3, |i, j| {
            [[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]][i][j]
        });
        let a = hungarian(c3.as_ref());
        let total: f64 = a.iter().enumerate().map(|(i, &j)| c3[(i, j)]).sum();
        assert_eq!(total, 5.0);
    }

    #[test]
    fn alignment_ignores_permutation_and_scale_but_not_sign() {
        let v = Mat::from_fn(2, 2, |i, j| [[1.0, 0.0], [0.6, 0.8]][i][j]);
        let u = Mat::from_fn(1, 2, |_, j| [2.0, -1.0][j]);
        let truth = Network::new(u, v, Activation::Relu).unwrap();
        // Swap the units and scale unit 0 by 5 (U compensates by 1/5).
        let v2 = Mat::from_fn(2, 2, |i, j| [[0.6, 0.8], [5.0, 0.0]][i][j]);
        let u2 = Mat::from_fn(1, 2, |_, j| [-1.0, 0.4][j]);
        let est = Network::new(u2, v2, Activation::Relu).unwrap();
        let a = align(&est, &truth).unwrap();
        assert!(a.v_max < 1e-15 && a.u_max_rel < 1e-15, "{a:?}");
        // A flipped unit is a different function: the error says so.
        let v3 = Mat::from_fn(2, 2, |i, j| [[-1.0, 0.0], [0.6, 0.8]][i][j]);
        let flipped = Network::new(truth.u.clone(), v3, Activation::Relu).unwrap();
        assert!((align(&flipped, &truth).unwrap().v_max - 2.0).abs() < 1e-15);
    }

    /// The matching is optimal: on many small cost matrices (ties, negative and repeated
    /// entries included) its total equals the brute-force minimum over all permutations.
    #[test]
    fn hungarian_is_optimal_against_brute_force() {
        fn permutations(k: usize) -> Vec<Vec<usize>> {
            if k == 0 {
                return vec![Vec::new()];
            }
            let mut all = Vec::new();
            for p in permutations(k - 1) {
                for at in 0..=p.len() {
                    let mut q = p.clone();
                    q.insert(at, k - 1);
                    all.push(q);
                }
            }
            all
        }
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % 19) as f64 - 9.0
        };
        for k in 1..=6 {
            let perms = permutations(k);
            for _ in 0..40 {
                let c = Mat::from_fn(k, k, |_, _| next());
                let total =
                    |p: &[usize]| p.iter().enumerate().map(|(i, &j)| c[(i, j)]).sum::<f64>();
                let best = perms.iter().map(|p| total(p)).fold(f64::INFINITY, f64::min);
                let found = hungarian(c.as_ref());
                let mut seen = found.clone();
                seen.sort_unstable();
                assert_eq!(
                    seen,
                    (0..k).collect::<Vec<_>>(),
                    "not a permutation: {found:?}"
                );
                assert_eq!(total(&found), best, "k = {k}: {found:?} on {c:?}");
            }
        }
    }

    /// For an activation that is not homogeneous the rows keep their scale: errors are
    /// relative to the true row's norm, and the matching compares directions, not sizes.
    /// A unit whose true output weight is zero is measured absolutely.
    #[test]
    fn alignment_keeps_scales_and_handles_zero_units() {
        let v = Mat::from_fn(2, 2, |i, j| [[2.0, 0.0], [0.0, 4.0]][i][j]);
        let u = Mat::from_fn(1, 2, |_, j| [1.0, 0.0][j]);
        let truth = Network::new(u, v, Activation::LogRelu).unwrap();
        // Listed in the other order; unit 0 off by 0.2 (a tenth of its norm 2), unit 1's
        // output weight 0.5 where the truth has 0.
        let ve = Mat::from_fn(2, 2, |i, j| [[0.0, 4.0], [2.0, 0.2]][i][j]);
        let ue = Mat::from_fn(1, 2, |_, j| [0.5, 1.0][j]);
        // (`perm` indexes the canonical forms, which sort the units: both list them alike.)
        let a = align(&Network::new(ue, ve, Activation::LogRelu).unwrap(), &truth).unwrap();
        assert!((a.v_max - 0.1).abs() < 1e-15, "{a:?}");
        assert!((a.u_max_rel - 0.5).abs() < 1e-15, "{a:?}");
    }

    /// Without a homogeneous f the rows keep their sizes, and the matching must compare
    /// directions only: a tiny row at 10° from e₁ and a long one at 40° belong to e₁ and e₂
    /// (cosines 0.98 + 0.64 against 0.17 + 0.77), although weighing by size would swap them.
    #[test]
    fn matching_compares_directions_not_sizes() {
        let deg = |a: f64| a.to_radians();
        let truth = Network::new(
            Mat::from_fn(1, 2, |_, _| 1.0),
            Mat::from_fn(2, 2, |i, j| if i == j { 1.0 } else { 0.0 }),
            Activation::LogRelu,
        )
        .unwrap();
        let (small, large) = (0.01, 10.0);
        let ve = Mat::from_fn(2, 2, |i, j| {
            let (r, a) = [(small, deg(10.0)), (large, deg(40.0))][i];
            r * [a.cos(), a.sin()][j]
        });
        let est = Network::new(Mat::from_fn(1, 2, |_, _| 1.0), ve, Activation::LogRelu).unwrap();
        // The canonical forms list e₂ before e₁ and the 40° row before the 10° row.
        let a = align(&est, &truth).unwrap();
        assert_eq!(a.perm, vec![0, 1], "{a:?}");
        // e₂ against the long row: ‖(0, 1) − 10 (cos 40°, sin 40°)‖ = √(100 − 20 sin 40° + 1).
        let want = (101.0 - 20.0 * deg(40.0).sin()).sqrt();
        assert!((a.v_max - want).abs() < 1e-12, "{a:?} vs {want}");
    }

    /// A dead unit (a zero row of V) in the estimate or in the truth is matched and measured
    /// like any other, with finite errors: ‖0 − v‖ relative to 1.
    #[test]
    fn zero_rows_are_measured_not_divided_by() {
        let v = Mat::from_fn(2, 2, |i, j| [[1.0, 0.0], [0.6, 0.8]][i][j]);
        let u = Mat::from_fn(1, 2, |_, j| [2.0, -1.0][j]);
        let truth = Network::new(u.clone(), v, Activation::Relu).unwrap();
        let dead = Mat::from_fn(2, 2, |i, j| [[1.0, 0.0], [0.0, 0.0]][i][j]);
        let est = Network::new(u.clone(), dead.clone(), Activation::Relu).unwrap();
        for (e, t) in [(&est, &truth), (&truth, &est)] {
            let a = align(e, t).unwrap();
            assert!((a.v_max - 1.0).abs() < 1e-15, "{a:?}");
            assert!((a.v_fro - 1.0).abs() < 1e-15, "{a:?}");
            assert!(a.u_max_rel.is_finite() && a.u_fro_rel.is_finite(), "{a:?}");
        }
        // A truth whose every output weight is zero: the error of U is absolute, ‖Û‖_F.
        let silent = Network::new(Mat::zeros(1, 2), dead, Activation::Relu).unwrap();
        let a = align(&est, &silent).unwrap();
        assert!((a.u_fro_rel - 5f64.sqrt()).abs() < 1e-15, "{a:?}");
        assert!((a.u_max_rel - 2.0).abs() < 1e-15, "{a:?}");
    }

    /// A network aligned with itself gets the identity, also when two units are the same
    /// (their costs tie): the reported matching does not wander between equal units.
    #[test]
    fn self_alignment_is_the_identity_even_with_repeated_units() {
        let v = Mat::from_fn(4, 3, |i, j| {
            [
                [1.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
                [0.0, 0.6, 0.8],
                [0.0, 0.6, 0.8],
            ][i][j]
        });
        let u = Mat::from_fn(2, 4, |r, i| (r + 2 * i) as f64 - 3.0);
        let net = Network::new(u, v, Activation::Relu).unwrap();
        let a = align(&net, &net).unwrap();
        assert_eq!(a.perm, vec![0, 1, 2, 3]);
        let tied = Mat::<f64>::zeros(5, 5);
        assert_eq!(hungarian(tied.as_ref()), vec![0, 1, 2, 3, 4]);
    }

    /// ‖Y − ŷ‖_F / ‖Y‖_F, by hand on two samples; with Y = 0 the absolute error.
    #[test]
    fn prediction_error_by_hand() {
        let v = Mat::from_fn(1, 2, |_, j| [1.0, 0.0][j]);
        let net = Network::new(Mat::from_fn(1, 1, |_, _| 2.0), v, Activation::Relu).unwrap();
        // x = (1, 0) → 2, x = (-1, 3) → 0.
        let x = Mat::from_fn(2, 2, |i, j| [[1.0, 0.0], [-1.0, 3.0]][i][j]);
        let y = Mat::from_fn(2, 1, |i, _| [3.0, 4.0][i]);
        let e = relative_prediction_error(&net, x.as_ref(), y.as_ref()).unwrap();
        assert!((e - (1.0f64 + 16.0).sqrt() / 5.0).abs() < 1e-15, "{e}");
        let zero = Mat::<f64>::zeros(2, 1);
        let e = relative_prediction_error(&net, x.as_ref(), zero.as_ref()).unwrap();
        assert!((e - 2.0).abs() < 1e-15, "{e}");
    }

    /// Known wrong output weights and a scale that U does not compensate give the errors
    /// they should, to the last bits: every recovery test leans on these numbers.
    #[test]
    fn alignment_measures_wrong_output_weights() {
        let v = Mat::from_fn(2, 2, |i, j| [[1.0, 0.0], [0.6, 0.8]][i][j]);
        let u = Mat::from_fn(1, 2, |_, j| [2.0, -1.0][j]);
        let truth = Network::new(u, v.clone(), Activation::Relu).unwrap();
        // Unit 1's output weight 50% too large.
        let u1 = Mat::from_fn(1, 2, |_, j| [2.0, -1.5][j]);
        let a = align(
            &Network::new(u1, v.clone(), Activation::Relu).unwrap(),
            &truth,
        )
        .unwrap();
        assert_eq!(a.perm, vec![0, 1]);
        assert!(a.v_max < 1e-15 && a.v_fro < 1e-15, "{a:?}");
        assert!((a.u_max_rel - 0.5).abs() < 1e-15, "{a:?}");
        assert!((a.u_fro_rel - 0.5 / 5f64.sqrt()).abs() < 1e-15, "{a:?}");
        assert!((a.parameter_error() - 0.5 / 5f64.sqrt()).abs() < 1e-15);
        // Unit 0's input weights doubled and U left as it was: the function's unit 0 is
        // twice as large, which the canonical form moves into U (4 against 2).
        let v2 = Mat::from_fn(2, 2, |i, j| [[2.0, 0.0], [0.6, 0.8]][i][j]);
        let u2 = Mat::from_fn(1, 2, |_, j| [2.0, -1.0][j]);
        let a = align(&Network::new(u2, v2, Activation::Relu).unwrap(), &truth).unwrap();
        assert!(a.v_max < 1e-15, "{a:?}");
        assert!((a.u_max_rel - 1.0).abs() < 1e-15, "{a:?}");
        assert!((a.u_fro_rel - 2.0 / 5f64.sqrt()).abs() < 1e-15, "{a:?}");
        // A tilted row: unit 1 at (0.8, 0.6) instead of (0.6, 0.8), ‖Δ‖ = √0.08.
        let v3 = Mat::from_fn(2, 2, |i, j| [[1.0, 0.0], [0.8, 0.6]][i][j]);
        let a = align(
            &Network::new(truth.u.clone(), v3, Activation::Relu).unwrap(),
            &truth,
        )
        .unwrap();
        assert!((a.v_max - 0.08f64.sqrt()).abs() < 1e-15, "{a:?}");
        assert!((a.v_fro - 0.08f64.sqrt()).abs() < 1e-15, "{a:?}");
        assert!(a.u_max_rel < 1e-15);
    }
}
