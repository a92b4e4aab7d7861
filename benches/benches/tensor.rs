//! Symmetric order-3 decomposition (`twolayer_tensor::decompose`), stored and implicit,
//! against faer's matmul on the same data: the tensor unfolded to d²×d times a d×R matrix,
//! the GEMM each polish iteration performs once.
//!
//! `cargo bench -p twolayer-benches --bench tensor`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use faer::{Accum, Mat, MatRef};
use std::hint::black_box;
use twolayer_hardness::planted_tensor;
use twolayer_tensor::{DecomposeParams, ImplicitTensor, decompose};

fn tensor(c: &mut Criterion) {
    let mut group = c.benchmark_group("tensor_order3");
    group.sample_size(10);
    for (d, rank) in [(50, 10), (100, 20), (200, 40)] {
        let (t, _, _) = planted_tensor(d, rank, 3, 1e-3, 1).unwrap();
        group.bench_with_input(
            BenchmarkId::new("decompose", format!("d{d}_r{rank}")),
            &t,
            |b, t| b.iter(|| decompose(black_box(t), &DecomposeParams::new(rank)).unwrap()),
        );
        // The same tensor behind its contractions only: the implicit path's cost (R + 2
        // slices, R compressions, R MTTKRP columns per iteration, probes) on equal data.
        let hidden = ImplicitTensor::new(d, 3, |v: &[&[f64]]| t.slice(v[0], None)).unwrap();
        group.bench_with_input(
            BenchmarkId::new("decompose_implicit", format!("d{d}_r{rank}")),
            &hidden,
            |b, h| b.iter(|| decompose(black_box(h), &DecomposeParams::new(rank)).unwrap()),
        );
        let unfold = MatRef::from_row_major_slice(t.data(), d * d, d);
        let a = Mat::<f64>::from_fn(d, rank, |i, j| ((i + 3 * j) % 7) as f64);
        group.bench_with_input(
            BenchmarkId::new("faer_matmul_unfold_x_factors", format!("d{d}_r{rank}")),
            &a,
            |b, a| {
                b.iter(|| {
                    let mut z = Mat::<f64>::zeros(d * d, rank);
                    faer::linalg::matmul::matmul(
                        z.as_mut(),
                        Accum::Replace,
                        unfold,
                        a.as_ref(),
                        1.0,
                        faer::get_global_parallelism(),
                    );
                    z
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, tensor);
criterion_main!(benches);
