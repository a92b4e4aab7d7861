//! Local least-squares fitters (docs/algorithms.md sections 4 and 5): sign-pattern least
//! squares and its matrix-free Gauss–Newton step, Gauss–Newton for other activations, the
//! Levenberg–Marquardt baseline, and the output layer given the hidden layer.

pub(crate) mod gauss_newton;
pub(crate) mod levenberg_marquardt;
pub(crate) mod output_fit;
pub(crate) mod pattern_gn;
pub(crate) mod sign_pattern;

/// An iteration improves the fit when it lowers the objective by more than this fraction of
/// the share of the residual that the fit's own statistical error accounts for, p/(n m) for
/// p = k (d + m) parameters and n m labels (and by more than 1e-10 relative in any case).
///
/// Why: with noise, least squares leaves the predictions off by about σ √p, a fraction
/// p/(n m) of the residual's square; a step that lowers the (relative) residual by less than
/// 10⁻⁵ of that fraction moves the predictions by √(2·10⁻⁵) ≈ 0.5% of their statistical error,
/// and Gauss–Newton–CG's inexact steps go on making such steps for many iterations: at
/// (100, 20, 20, 10⁵, σ = 0.01) each one cost 0.3 s and changed the residual in its 9th
/// digit. Noiseless fits are unaffected: they improve by whole factors until exact.
pub(crate) const STATISTICAL_TOL: f64 = 1e-5;
