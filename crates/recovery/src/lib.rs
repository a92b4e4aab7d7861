//! Recovery of the weights of a two-layer rectified network y = U f(V x) from samples.
//!
//! - [`Recovery`]: the front door. Checks the inputs (refuses a nonzero mean, whitens
//!   anisotropic inputs, reports Gaussianity), then tries the exact method and falls back to
//!   least squares, and says which it used and whether the answer is certified exact.
//! - [`ExactRecovery`] (Bakshi, Jayaram, Woodruff 2019, with the refinements of
//!   `docs/algorithms.md` section 3): from noiseless labels, Gaussian inputs and
//!   rank U* = k, the true weights up to permutation and positive rescaling of the hidden
//!   units, with a certificate (the relative residual of the fit on every sample).
//! - [`NoisyRecovery`] (section 4): any number of outputs, noisy labels; iterated
//!   [`SignPatternLs`] for ReLU, structured Gauss–Newton for other activations, from spectral
//!   and random starts. [`OracleLs`] is the least-squares floor it is measured against.
//! - Data larger than memory: [`Recovery::recover_source`] and
//!   [`ExactRecovery::recover_source`] read samples through a
//!   [`twolayer_moments::SampleSource`] (a file read chunk by chunk): two passes over all
//!   samples, the search on a bounded subset.
//! - [`Activation`]: ReLU, ReLU^p, log(1 + relu) and user-supplied rectified functions.
//! - [`align`]: the permutation- and scale-aware error metric; [`baseline::Adam`]: the
//!   gradient-descent baseline.
//!
//! Layout at this API, as in the ML ecosystem: X is (n, d) with one sample per row, Y is
//! (n, m), V is (k, d) and U is (m, k) as PyTorch's `nn.Linear` stores them.
//!
//! # Example
//! ```
//! use faer::Mat;
//! use twolayer_recovery::{Activation, Network, Recovery, align};
//!
//! // A planted network with k = 2 units in d = 3 and inputs on a deterministic grid that
//! // is rich enough in sign patterns (any Gaussian sample would do).
//! let v = Mat::from_fn(2, 3, |i, j| [[1.0, 0.5, 0.0], [-0.3, 1.0, 0.8]][i][j]);
//! let u = Mat::from_fn(2, 2, |i, j| [[1.0, -2.0], [0.5, 1.5]][i][j]);
//! let truth = Network::new(u, v, Activation::Relu).unwrap();
//! let x = Mat::from_fn(600, 3, |i, j| (((i * 7 + 3) * (j * 13 + 5)) % 97) as f64 / 48.0 - 1.0);
//! let y = truth.predict(x.as_ref()).unwrap();
//! // The front door: exact recovery when it certifies, least squares otherwise.
//! let (network, report) = Recovery::new().recover(x.as_ref(), y.as_ref()).unwrap();
//! assert!(report.certified());
//! let err = align(&network, &truth).unwrap();
//! assert!(err.v_max < 1e-9 && err.u_max_rel < 1e-9);
//! ```
//!
//! # Reference
//! A. Bakshi, R. Jayaram, D. P. Woodruff, "Learning Two Layer Rectified Neural Networks in
//! Polynomial Time", COLT 2019.

#![warn(missing_docs)]

mod activation;
mod align;
pub mod baseline;
mod certificate;
mod data;
mod error;
mod exact;
mod front_door;
mod linalg;
mod local;
mod network;
mod noisy;
mod spectral;

pub use activation::{RELUPOW_MAX, Rectified};
pub use align::{Alignment, align, hungarian, relative_prediction_error};
pub use data::analysis::InputDiagnostics;
pub use data::checks::check_finite;
pub use error::RecoveryError;
pub use exact::{ExactRecovery, ExactReport, PhaseTimes, Recovered};
pub use front_door::{NoiseModel, Recovery, Report};
pub use local::levenberg_marquardt::{LevenbergMarquardt, LmFit};
pub use local::sign_pattern::{Loss, OracleLs, SignPatternFit, SignPatternLs, StepSolver};
pub use network::{Activation, Network};
pub use noisy::residual_structure::ResidualStructure;
pub use noisy::{NoisyRecovered, NoisyRecovery, NoisyReport, Stopped};

/// The faer this crate is built with, so that callers use the same matrix types.
pub use faer;

// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
