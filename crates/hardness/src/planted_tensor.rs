//! Planted symmetric low-rank tensors, for the `tensor` crate's tests, benches and CLI.

use faer::Mat;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use twolayer_tensor::{SymmetricTensor, TensorError};

/// T = Σ_r w_r a_r^{⊗order} + noise, with unit Gaussian factors a_r, weights of alternating
/// sign and magnitude uniform in [1, 2], and symmetric Gaussian noise of Frobenius norm
/// `noise` · ‖Σ_r w_r a_r^{⊗order}‖. Deterministic given the seed.
///
/// Cost: O(R d^order), O(order! d^order) for the noise.
pub fn planted_tensor(
    d: usize,
    rank: usize,
    order: usize,
    noise: f64,
    seed: u64,
) -> Result<(SymmetricTensor, Vec<f64>, Mat<f64>), TensorError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut factors = Mat::from_fn(rank, d, |_, _| rng.sample::<f64, _>(StandardNormal));
    for r in 0..rank {
        let n = factors.row(r).norm_l2();
        let mut row = factors.row_mut(r);
        row /= n;
    }
    let weights: Vec<f64> = (0..rank)
        .map(|r| (1.0 + rng.random::<f64>()) * if r % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let clean = SymmetricTensor::from_factors(&weights, &factors, order)?;
    if noise <= 0.0 {
        return Ok((clean, weights, factors));
    }
    let raw: Vec<f64> = (0..clean.data().len())
        .map(|_| rng.sample(StandardNormal))
        .collect();
    let sym = SymmetricTensor::symmetrise(d, order, &raw);
    let scale = noise * clean.norm() / sym.iter().map(|v| v * v).sum::<f64>().sqrt();
    let data = clean
        .data()
        .iter()
        .zip(&sym)
        .map(|(a, b)| a + scale * b)
        .collect();
    Ok((SymmetricTensor::new(d, order, data)?, weights, factors))
}
