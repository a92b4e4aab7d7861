//! Label-weighted Hermite moments of a two-layer rectified network, computed as weighted Gram
//! matrices and never as d×d×d or d⁴ tensors.
//!
//! Every statistic here is a sum over samples. Sums run over fixed-size chunks of samples in
//! parallel (rayon) and the chunk results are reduced in a fixed tree order, so a result is
//! identical to the last bit for any number of threads.
//!
//! Streaming: every pass reads samples through a [`SampleSource`] ([`InMemory`], or a file read
//! chunk by chunk, as the `twolayer` binary's `.npy` source does), and sums chunk results with
//! [`TreeSum`] in the same order as the in-memory reduction: a pass over a file larger than
//! memory holds O(d² + chunk) and gives the in-memory bits. [`SampleMoments`] is the first
//! pass (every moment of order ≤ 2 of (x, y)) as a mergeable, serialisable accumulator.
//!
//! Layout: the math (and this crate) takes samples as **columns**: `x` is d×n, labels `w` are
//! length-n slices, `y` is m×n. A C-order `(n, d)` NumPy array is exactly such a column-major
//! d×n matrix, so no copy is needed at the boundary.
//!
//! # Example
//! ```
//! use faer::Mat;
//! use twolayer_moments::{centre_labels, t2};
//!
//! // Four samples in R², labels y = x₀ (purely linear, so the centred labels vanish).
//! let x = Mat::from_fn(2, 4, |i, j| [[1.0, -1.0, 2.0, 0.5], [0.0, 1.0, -1.0, 3.0]][i][j]);
//! let y = Mat::from_fn(1, 4, |_, j| x[(0, j)]);
//! let fit = centre_labels(x.as_ref(), y.as_ref()).unwrap();
//! assert!(fit.residual.norm_max() < 1e-12);
//!
//! // T2(w) = (1/n) Σ w_j (x_j x_jᵀ − I).
//! let m = t2(x.as_ref(), &[1.0; 4]).unwrap();
//! assert!((m[(0, 0)] - (1.0 + 1.0 + 4.0 + 0.25) / 4.0 + 1.0).abs() < 1e-15);
//! ```
//!
//! # Reference
//! Bakshi, Jayaram, Woodruff, "Learning Two Layer Rectified Neural Networks in Polynomial
//! Time", COLT 2019; `docs/algorithms.md` section 1.

#![warn(missing_docs)]

mod allocator;
mod centre;
mod chunked;
mod dots;
mod error;
mod gram;
mod hermite;
mod pattern;
mod product;
mod sample_moments;
mod source;

pub use allocator::zeros_by_threads;
pub use centre::{AffineFit, centre_labels};
pub use chunked::{CHUNK, TreeSum, chunked_sum, try_chunked_sum, try_chunked_sum_by};
pub use dots::{column_dots, column_norms};
pub use error::MomentsError;
pub use gram::{cross_moment, weighted_gram};
pub use hermite::{he4_entry, t2, t4_contracted};
pub use pattern::pattern_normal_equations;
pub use product::{PaddedOperand, PaddedScratch, lower_gram, matmul, matmul_padded, product};
pub use sample_moments::{
    SampleMoments, condition_lower_bound, first_non_finite, symmetric_eigenvalues,
};
pub use source::{InMemory, SampleSource, spread_indices};

/// The faer this crate is built with, so that callers use the same matrix types.
pub use faer;

// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
