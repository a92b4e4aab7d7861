//! The moment estimators converge to their population values on planted Gaussian instances
//! (docs/algorithms.md 1.1–1.2): this pins the constants the recovery relies on.

use faer::Mat;
use twolayer_hardness::PlantedNetwork;
use twolayer_moments::{centre_labels, t2};

#[test]
fn first_and_second_moments_match_their_population_values() {
    let (d, k, n) = (8, 3, 400_000);
    let inst = PlantedNetwork::new(d, k, 1, n).seed(11).generate().unwrap();
    let xt = inst.x.transpose().to_owned();
    let yt = inst.y.transpose().to_owned();
    let (u, v) = (&inst.network.u, &inst.network.v); // rows of v are unit vectors

    // Linear part of the affine fit: E[relu(v·x) x] = v/2, so B = Σ_i u_i v_i / 2.
    let fit = centre_labels(xt.as_ref(), yt.as_ref()).unwrap();
    let b_pop = Mat::from_fn(1, d, |_, a| {
        (0..k).map(|i| u[(0, i)] * v[(i, a)] / 2.0).sum::<f64>()
    });
    let b_err = (&fit.linear - &b_pop).norm_l2() / b_pop.norm_l2();
    assert!(b_err < 0.02, "first-order relative error {b_err}");

    // T2 of the centred labels: (1/√(2π)) Σ_i u_i v_i v_iᵀ.
    let w: Vec<f64> = fit.residual.row(0).iter().copied().collect();
    let m2 = t2(xt.as_ref(), &w).unwrap();
    let c2 = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
    let m2_pop = Mat::from_fn(d, d, |a, b| {
        c2 * (0..k)
            .map(|i| u[(0, i)] * v[(i, a)] * v[(i, b)])
            .sum::<f64>()
    });
    let m2_err = (&m2 - &m2_pop).norm_l2() / m2_pop.norm_l2();
    assert!(m2_err < 0.05, "second-order relative error {m2_err}");

    // And the estimate is not trivially close: a wrong constant (c2 × 1.2) is rejected.
    let wrong = (&m2 - faer::Scale(1.2) * &m2_pop).norm_l2() / m2_pop.norm_l2();
    assert!(wrong > 0.1, "{wrong}");
}

#[test]
fn fourth_order_contraction_matches_its_population_value() {
    let (d, k, n) = (4, 2, 1_000_000);
    let inst = PlantedNetwork::new(d, k, 1, n).seed(12).generate().unwrap();
    let xt = inst.x.transpose().to_owned();
    let yt = inst.y.transpose().to_owned();
    let (u, v) = (&inst.network.u, &inst.network.v);
    let fit = centre_labels(xt.as_ref(), yt.as_ref()).unwrap();
    let w: Vec<f64> = fit.residual.row(0).iter().copied().collect();
    let (a, b) = ([0.6, -0.2, 0.5, 0.3], [0.1, 0.7, -0.4, 0.5]);
    let m4 = twolayer_moments::t4_contracted(xt.as_ref(), &w, &a, &b).unwrap();
    // −(1/√(2π)) Σ_i u_i (a·v_i)(b·v_i) v_i v_iᵀ for unit rows v_i.
    let c4 = -1.0 / (2.0 * std::f64::consts::PI).sqrt();
    let dot = |x: &[f64], i: usize| (0..d).map(|t| x[t] * v[(i, t)]).sum::<f64>();
    let pop = Mat::from_fn(d, d, |p, q| {
        c4 * (0..k)
            .map(|i| u[(0, i)] * dot(&a, i) * dot(&b, i) * v[(i, p)] * v[(i, q)])
            .sum::<f64>()
    });
    let err = (&m4 - &pop).norm_l2() / pop.norm_l2();
    assert!(err < 0.15, "fourth-order relative error {err}");
    let wrong = (&m4 + &pop).norm_l2() / pop.norm_l2();
    assert!(wrong > 1.5, "the sign of the constant is pinned: {wrong}");
}
