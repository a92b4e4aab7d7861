//! Planted symmetric low-rank tensors, for the `tensor` crate's tests, benches and CLI.

use faer::Mat;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use twolayer_tensor::{SymmetricTensor, TensorError};

/// The most values a planted dense tensor may have: 2^32 (32 GiB as float64), beyond this
/// machine's memory and far beyond what the decompositions are for.
pub const MAX_TENSOR_VALUES: u64 = 1 << 32;

/// T = Σ_r w_r a_r^{⊗order} + noise, with unit Gaussian factors a_r, weights of alternating
/// sign and magnitude uniform in [1, 2], and symmetric Gaussian noise of Frobenius norm
/// `noise` · ‖Σ_r w_r a_r^{⊗order}‖. Deterministic given the seed.
///
/// Cost: O(R d^order), O(order! d^order) for the noise. Settings are checked first: order 3
/// or 4, 1 ≤ rank ≤ d, noise finite and ≥ 0, and at most [`MAX_TENSOR_VALUES`] values.
pub fn planted_tensor(
    d: usize,
    rank: usize,
    order: usize,
    noise: f64,
    seed: u64,
) -> Result<(SymmetricTensor, Vec<f64>, Mat<f64>), TensorError> {
    if order != 3 && order != 4 {
        return Err(TensorError::BadOrder { order });
    }
    if d == 0 || rank == 0 || rank > d {
        return Err(TensorError::RankOutOfRange {
            rank,
            max: d,
            why: "a planted tensor has between 1 and d components (and d ≥ 1)",
        });
    }
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(TensorError::OutOfRange {
            what: "the noise level",
            range: "finite and ≥ 0",
            got: noise,
        });
    }
    if d.checked_pow(order as u32)
        .is_none_or(|len| len as u64 > MAX_TENSOR_VALUES)
    {
        return Err(TensorError::TooLarge {
            d,
            order,
            max_values: MAX_TENSOR_VALUES,
        });
    }
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
