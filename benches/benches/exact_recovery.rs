//! End-to-end exact recovery (docs/algorithms.md section 3) on planted Gaussian instances, and
//! issue 7's ratio at (100, 20, 20, 10⁴): the front door (`Recovery`, input analysis
//! included) beside its reference, the moment pass plus one certifying product V·X on the
//! same data. `cargo xtask bench` prints the same comparison as a ratio.
//!
//! `cargo bench -p twolayer-benches --bench exact_recovery`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat};
use std::hint::black_box;
use twolayer_hardness::PlantedNetwork;
use twolayer_moments::{InMemory, SampleMoments};
use twolayer_recovery::{ExactRecovery, Recovery};

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

fn against_reference(c: &mut Criterion) {
    let (d, k, m, n) = (100, 20, 20, 10_000);
    let inst = PlantedNetwork::new(d, k, m, n).seed(2).generate().unwrap();
    let (xt, yt) = (inst.x.transpose(), inst.y.transpose());
    let source = InMemory::new(xt, yt).unwrap();
    let mut vx = Mat::<f64>::zeros(k, n);
    let mut group = c.benchmark_group("end_to_end_vs_reference");
    group.sample_size(20);
    group.bench_function(format!("front_door_d{d}_k{k}_m{m}_n{n}"), |b| {
        b.iter(|| {
            let (net, report) = Recovery::new()
                .recover(black_box(inst.x.as_ref()), black_box(inst.y.as_ref()))
                .unwrap();
            assert!(report.certified());
            net
        })
    });
    group.bench_function(format!("moment_pass_plus_vx_d{d}_k{k}_m{m}_n{n}"), |b| {
        b.iter(|| {
            let moments = SampleMoments::compute(black_box(&source)).unwrap();
            matmul(
                vx.as_mut(),
                Accum::Replace,
                inst.network.v.as_ref(),
                xt,
                1.0,
                faer::get_global_parallelism(),
            );
            moments
        })
    });
    group.finish();
}

criterion_group!(benches, exact_recovery, against_reference);
criterion_main!(benches);
