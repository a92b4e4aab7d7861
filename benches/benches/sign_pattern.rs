//! Sign-pattern least squares (docs/algorithms.md section 4): the cost of one iteration (one pass
//! forming the structured normal equations, a solve, the output fit) at a single-output and a
//! many-output shape, one matrix-free Gauss–Newton iteration (section 4.5, the step large
//! k·d takes), and end-to-end noisy recovery.
//!
//! `cargo bench -p twolayer-benches --bench sign_pattern`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use twolayer_hardness::PlantedNetwork;
use twolayer_recovery::{NoisyRecovery, SignPatternLs, StepSolver};

fn sign_pattern(c: &mut Criterion) {
    let mut group = c.benchmark_group("sign_pattern_iteration");
    group.sample_size(10);
    for (d, k, m, n) in [(50, 10, 1, 20_000), (50, 10, 10, 100_000)] {
        let inst = PlantedNetwork::new(d, k, m, n)
            .seed(1)
            .noise(0.01)
            .generate()
            .unwrap();
        let id = BenchmarkId::from_parameter(format!("d{d}_k{k}_m{m}_n{n}"));
        group.bench_with_input(id, &inst, |b, inst| {
            b.iter(|| {
                SignPatternLs::new()
                    .max_iter(1)
                    .fit(
                        black_box(inst.x.as_ref()),
                        black_box(inst.y.as_ref()),
                        inst.network.v.as_ref(),
                    )
                    .unwrap()
            })
        });
    }

    // The Gauss–Newton–CG iteration (orientation, output fit, one step: a gradient pass, CG
    // on its spread subsample of 10⁵ samples, the step's loss), from a start near the truth.
    let (d, k, m, n) = (100, 20, 20, 200_000);
    let inst = PlantedNetwork::new(d, k, m, n)
        .seed(4)
        .noise(0.01)
        .generate()
        .unwrap();
    let start = faer::Mat::from_fn(k, d, |i, a| {
        inst.network.v[(i, a)] + 0.02 * (((i * 7 + a * 3) % 5) as f64 - 2.0)
    });
    let id = BenchmarkId::from_parameter(format!("gauss_newton_d{d}_k{k}_m{m}_n{n}"));
    group.bench_with_input(id, &inst, |b, inst| {
        b.iter(|| {
            SignPatternLs::new()
                .step_solver(StepSolver::GaussNewtonCg)
                .max_iter(1)
                .fit(
                    black_box(inst.x.as_ref()),
                    black_box(inst.y.as_ref()),
                    start.as_ref(),
                )
                .unwrap()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("noisy_recovery");
    group.sample_size(10);
    let (d, k, m, n) = (50, 10, 10, 100_000);
    let inst = PlantedNetwork::new(d, k, m, n)
        .seed(1)
        .noise(0.01)
        .generate()
        .unwrap();
    group.bench_function(format!("d{d}_k{k}_m{m}_n{n}_sigma0.01"), |b| {
        b.iter(|| {
            NoisyRecovery::new()
                .k(Some(k))
                .recover(black_box(inst.x.as_ref()), black_box(inst.y.as_ref()))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, sign_pattern);
criterion_main!(benches);
