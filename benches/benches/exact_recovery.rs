//! End-to-end exact recovery (ALGORITHMS.md section 3) on planted Gaussian instances.
//!
//! `cargo bench -p twolayer-benches --bench exact_recovery`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use twolayer_hardness::PlantedNetwork;
use twolayer_recovery::ExactRecovery;

fn exact_recovery(c: &mut Criterion) {
    let mut group = c.benchmark_group("exact_recovery");
    group.sample_size(10);
    for (d, k, m, n) in [(50, 10, 10, 3000), (100, 20, 20, 30_000)] {
        let inst = PlantedNetwork::new(d, k, m, n).seed(1).generate().unwrap();
        let id = BenchmarkId::from_parameter(format!("d{d}_k{k}_m{m}_n{n}"));
        group.bench_with_input(id, &inst, |b, inst| {
            b.iter(|| {
                let out = ExactRecovery::new()
                    .recover(black_box(inst.x.as_ref()), black_box(inst.y.as_ref()))
                    .unwrap();
                assert!(out.report.certified);
                out
            })
        });
    }
    group.finish();
}

criterion_group!(benches, exact_recovery);
criterion_main!(benches);
