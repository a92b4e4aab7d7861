//! Decomposition of low-rank symmetric tensors, stored or given only through contractions.
//!
//! [`decompose`] is the front door: T ≈ Σ_r w_r a_r^{⊗p} for order p = 3 or 4, from a dense
//! [`SymmetricTensor`] or from any [`Contractions`] (an [`ImplicitTensor`] wraps a closure
//! returning T(I, I, g) or T(I, I, g, h)), with a whitened Jennrich or power-method start,
//! an ALS polish and a report (residual, eigen-gap, iterations, convergence, time).
//!
//! A symmetric tensor T = Σ_i w_i b_i ⊗ b_i ⊗ b_i (or its order-4 analogue) is never stored:
//! callers hand over its contractions M_r = T(I, I, e_r) = B D_r Bᵀ, d×d matrices that share
//! the factor B ∈ R^{d×k} and differ only in the diagonal D_r. [`jennrich`] recovers the
//! columns of B (up to permutation, sign and scale) by whitening onto their common span and
//! simultaneously diagonalising random combinations of the slices. With slices estimated from
//! samples a single pencil's directions are rough (two can land on one factor);
//! [`joint_diagonalise`] fits the factor to all slices at once from a pencil's directions,
//! and [`polish_pencils`] does so for the pencils in rank order until two agree.
//!
//! # Example
//! ```
//! use faer::Mat;
//! use twolayer_tensor::{JennrichParams, jennrich};
//!
//! // B = [e₀ + e₁, e₂] in R³; two slices with different diagonal weights.
//! let b = Mat::from_fn(3, 2, |i, j| [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]][i][j]);
//! let slice = |d0: f64, d1: f64| {
//!     Mat::from_fn(3, 3, |i, j| d0 * b[(i, 0)] * b[(j, 0)] + d1 * b[(i, 1)] * b[(j, 1)])
//! };
//! let (m1, m2) = (slice(1.0, 2.0), slice(-3.0, 0.5));
//! let out = jennrich(&[m1.as_ref(), m2.as_ref()], 2, &JennrichParams::default()).unwrap();
//! let best = &out.pencils[0];
//! // Each column of B is found (up to sign) among the unit directions.
//! let s = std::f64::consts::FRAC_1_SQRT_2;
//! let found = (0..2).any(|c| (best.directions[(0, c)].abs() - s).abs() < 1e-12);
//! assert!(found);
//! ```
//!
//! # Reference
//! R. Harshman (1970) and S. Leurgans, R. Ross, R. Abel (1993) for simultaneous
//! diagonalisation ("Jennrich's algorithm"); `docs/algorithms.md` section 2.

#![warn(missing_docs)]

mod contractions;
mod decompose;
mod error;
mod jennrich;
mod joint;
mod symmetric;

pub use contractions::{Contractions, ImplicitTensor};
pub use decompose::{
    DecomposeParams, Decomposition, DecompositionReport, Method, decompose, refine,
};
pub use error::TensorError;
pub use jennrich::{
    Jennrich, JennrichParams, Pencil, Whitened, jennrich, simultaneous_diagonalisation, whiten,
};
pub use joint::{JointFit, joint_diagonalise, polish_pencils};
pub use symmetric::SymmetricTensor;

/// The faer this crate is built with, so that callers use the same matrix types.
pub use faer;

// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
