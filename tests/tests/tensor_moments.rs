//! The `tensor` crate on the tensors `moments` produces: the label-weighted fourth Hermite
//! moment T4(w) = (1/n) Σ_j w_j He4(x_j), given only through `t4_contracted` (d×d matrices
//! T4(I, I, a, b), never the d⁴ values), decomposes as the same tensor stored densely does.

use twolayer_hardness::PlantedNetwork;
use twolayer_moments::{centre_labels, he4_entry, t4_contracted};
use twolayer_tensor::{DecomposeParams, ImplicitTensor, SymmetricTensor, decompose};

#[test]
fn fourth_moment_through_contractions_decomposes_like_the_stored_tensor() {
    let (d, k, n) = (5, 2, 200_000);
    let inst = PlantedNetwork::new(d, k, 1, n).seed(5).generate().unwrap();
    let xt = inst.x.transpose().to_owned(); // d×n
    let yt = inst.y.transpose().to_owned();
    let fit = centre_labels(xt.as_ref(), yt.as_ref()).unwrap();
    let w: Vec<f64> = fit.residual.row(0).iter().copied().collect();

    let implicit = ImplicitTensor::new(d, 4, |v: &[&[f64]]| {
        t4_contracted(xt.as_ref(), &w, v[0], v[1]).unwrap()
    })
    .unwrap();
    // The same tensor, all d⁴ values, sample by sample.
    let mut data = vec![0.0; d.pow(4)];
    for (j, wj) in w.iter().enumerate() {
        let x: Vec<f64> = xt.col(j).iter().copied().collect();
        for (flat, t) in data.iter_mut().enumerate() {
            let idx = [
                flat / (d * d * d),
                (flat / (d * d)) % d,
                (flat / d) % d,
                flat % d,
            ];
            *t += wj * he4_entry(&x, idx) / n as f64;
        }
    }
    let stored = SymmetricTensor::new(d, 4, SymmetricTensor::symmetrise(d, 4, &data)).unwrap();

    // Polished to a tight tolerance, so both runs stop at the same stationary point.
    let params = DecomposeParams {
        tol: 1e-13,
        max_iter: 1000,
        ..DecomposeParams::new(k)
    };
    let a = decompose(&stored, &params).unwrap();
    let b = decompose(&implicit, &params).unwrap();
    assert!(b.report.residual_estimated && !a.report.residual_estimated);
    // A sample tensor is not exactly of rank k: both land on the same least-squares fit.
    let exact_b = stored.relative_residual(&b.weights, &b.factors);
    assert!(
        (exact_b - a.report.residual_rel).abs() < 1e-6,
        "implicit fit {exact_b:.6e} vs stored {:.6e}",
        a.report.residual_rel
    );
    for r in 0..k {
        let cos: f64 = (0..d).map(|i| a.factors[(r, i)] * b.factors[(r, i)]).sum();
        assert!(cos.abs() > 1.0 - 1e-8, "component {r}: |cos| {}", cos.abs());
        let dw = (a.weights[r] - b.weights[r]).abs() / a.weights[r].abs();
        eprintln!(
            "component {r}: 1-|cos| {:.2e}, weight {dw:.2e}",
            1.0 - cos.abs()
        );
        assert!(
            dw < 1e-6,
            "component {r}: weights {} vs {}",
            a.weights[r],
            b.weights[r]
        );
    }
    // The probe estimate of that residual is within its stated spread.
    let ratio = b.report.residual_rel / exact_b;
    assert!((0.75..1.33).contains(&ratio), "estimate/exact {ratio}");

    // And the components are the network's units: E[T4] = −(1/√(2π)) Σ_i u_i v_i^{⊗4}.
    let v = &inst.network.v;
    let worst = (0..k)
        .map(|i| {
            (0..k)
                .map(|r| {
                    (0..d)
                        .map(|c| v[(i, c)] * b.factors[(r, c)])
                        .sum::<f64>()
                        .abs()
                })
                .fold(0.0, f64::max)
        })
        .fold(1.0, f64::min);
    assert!(worst > 0.99, "worst |cos| to a true unit {worst:.4}");
}
