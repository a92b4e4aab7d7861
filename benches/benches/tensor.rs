//! Symmetric order-3 decomposition (`twolayer_tensor::decompose`), stored and implicit,
//! against faer's matmul on the same data: the tensor unfolded to d²×d times a d×R matrix,
//! the GEMM each polish iteration performs once.
//!
//! Then the noisy search's tensor start on k×k slices: the Jennrich pencils alone against
//! the pencils polished by joint diagonalisation of every slice (`polish_pencils`).
//!
//! `cargo bench -p twolayer-benches --bench tensor`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use faer::{Accum, Mat, MatRef};
use std::hint::black_box;
use twolayer_hardness::planted_tensor;
use twolayer_tensor::{
    DecomposeParams, ImplicitTensor, JennrichParams, decompose, polish_pencils,
    simultaneous_diagonalisation,
};

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

/// k slices T(I, I, e_r) of a noisy rank-k order-3 tensor in R^k (each B D_r Bᵀ plus
/// noise), the shape of the noisy search's whitened second-moment slices at k = r.
fn joint(c: &mut Criterion) {
    let mut group = c.benchmark_group("joint_diagonalisation");
    group.sample_size(10);
    for k in [10, 20, 40] {
        let (t, _, _) = planted_tensor(k, k, 3, 1e-2, 2).unwrap();
        let slices: Vec<Mat<f64>> = (0..k)
            .map(|r| {
                let e: Vec<f64> = (0..k).map(|i| f64::from(u8::from(i == r))).collect();
                t.slice(&e, None)
            })
            .collect();
        let views: Vec<MatRef<'_, f64>> = slices.iter().map(|s| s.as_ref()).collect();
        let params = JennrichParams::default();
        group.bench_function(BenchmarkId::new("pencils", format!("k{k}")), |b| {
            b.iter(|| simultaneous_diagonalisation(black_box(&views), &params).unwrap())
        });
        group.bench_function(BenchmarkId::new("pencils_polished", format!("k{k}")), |b| {
            b.iter(|| {
                let pencils = simultaneous_diagonalisation(black_box(&views), &params).unwrap();
                polish_pencils(&views, &pencils, 200).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, tensor, joint);
criterion_main!(benches);
