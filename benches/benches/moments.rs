//! The moment pass (docs/algorithms.md 1.2, 1.5) against faer's own matmul on the same data: the
//! Gram matrix of (x, y, 1) by `SampleMoments` (lower triangle, chunked, bit-identical for
//! any thread count) and a weighted Gram matrix, each beside the full product faer computes
//! for the same 2p²n flop count. `cargo xtask bench` prints the same comparison as ratios.
//!
//! `cargo bench -p twolayer-benches --bench moments`

use criterion::{Criterion, criterion_group, criterion_main};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat};
use std::hint::black_box;
use twolayer_hardness::PlantedNetwork;
use twolayer_moments::{InMemory, SampleMoments, weighted_gram};

fn moments(c: &mut Criterion) {
    let (d, k, m, n) = (100, 20, 20, 200_000);
    let inst = PlantedNetwork::new(d, k, m, n).seed(1).generate().unwrap();
    let (xt, yt) = (inst.x.transpose(), inst.y.transpose());
    let p = d + m + 1;
    let z = Mat::from_fn(p, n, |i, j| match i {
        i if i < d => xt[(i, j)],
        i if i < d + m => yt[(i - d, j)],
        _ => 1.0,
    });
    let w: Vec<f64> = (0..n).map(|j| yt[(0, j)]).collect();
    let source = InMemory::new(xt, yt).unwrap();

    let mut group = c.benchmark_group("moment_pass");
    group.sample_size(10);
    group.bench_function(format!("sample_moments_p{p}_n{n}"), |b| {
        b.iter(|| SampleMoments::compute(black_box(&source)).unwrap())
    });
    group.bench_function(format!("faer_matmul_zzt_p{p}_n{n}"), |b| {
        let mut out = Mat::zeros(p, p);
        b.iter(|| {
            matmul(
                out.as_mut(),
                Accum::Replace,
                black_box(z.as_ref()),
                z.transpose(),
                1.0,
                faer::get_global_parallelism(),
            )
        })
    });
    group.bench_function(format!("weighted_gram_d{d}_n{n}"), |b| {
        b.iter(|| weighted_gram(black_box(xt), Some(&w)).unwrap())
    });
    group.bench_function(format!("faer_matmul_xxt_d{d}_n{n}"), |b| {
        let mut out = Mat::zeros(d, d);
        let x = xt.to_owned();
        b.iter(|| {
            matmul(
                out.as_mut(),
                Accum::Replace,
                black_box(x.as_ref()),
                x.transpose(),
                1.0,
                faer::get_global_parallelism(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, moments);
criterion_main!(benches);
