//! What the inputs look like: mean, covariance, Gaussianity (ALGORITHMS.md section 6).

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Side};
use serde::Serialize;

use crate::error::RecoveryError;

/// Inputs are whitened when the condition number of their covariance exceeds this.
const WHITEN_ABOVE: f64 = 2.0;
/// A coordinate mean this many standard errors from 0 is a bias in disguise.
const MEAN_Z_MAX: f64 = 8.0;
/// Excess kurtosis beyond this (in absolute value) on a whitened coordinate is not Gaussian.
const KURTOSIS_WARN: f64 = 1.0;
/// Var(‖x‖²)/(2d) is 1 for Gaussian inputs; further than this from 1 is not Gaussian.
const NORM_DISPERSION_WARN: f64 = 0.25;

/// Diagnostics of the inputs, reported so that a user knows when the guarantees apply.
#[derive(Debug, Clone, Serialize)]
pub struct InputDiagnostics {
    /// Whether X was whitened by Σ̂^{-1/2} before recovery (and V mapped back).
    pub whitened: bool,
    /// Condition number of the sample covariance Σ̂ = XᵀX/n.
    pub covariance_condition: f64,
    /// Smallest excess kurtosis E(u⁴)/E(u²)² − 3 over whitened coordinates (0 if Gaussian).
    pub excess_kurtosis_min: f64,
    /// Largest excess kurtosis over whitened coordinates.
    pub excess_kurtosis_max: f64,
    /// Var(‖u‖²)/(2d) over whitened samples u: 1 for Gaussian inputs, 0 for inputs of fixed
    /// norm (the sphere, ±1 coordinates).
    pub norm_dispersion: f64,
    /// Plain-language warnings; empty when X looks like N(0, Σ).
    pub warnings: Vec<String>,
}

/// The inputs after analysis: possibly whitened, with the map back for V.
pub(crate) struct PreparedInputs {
    /// X or X Σ̂^{-1/2} (n×d).
    pub x: Mat<f64>,
    /// Σ̂^{-1/2} when whitened: V = V_w Σ̂^{-1/2}.
    pub whitening: Option<Mat<f64>>,
    pub diagnostics: InputDiagnostics,
}

/// Checks that X (n×d) has mean zero (refusing a significant mean), measures its covariance
/// and Gaussianity, and whitens it when it is anisotropic.
///
/// Cost: O(n d²) (one Gram matrix, one product when whitening) and O(d³).
pub(crate) fn prepare_inputs(x: MatRef<'_, f64>) -> Result<PreparedInputs, RecoveryError> {
    let (n, d) = x.shape();
    let nf = n as f64;
    for a in 0..d {
        let col = x.col(a);
        let mean = col.sum() / nf;
        let var = col.squared_norm_l2() / nf - mean * mean;
        let se = (var.max(0.0) / nf).sqrt();
        if n > 1 && mean.abs() > MEAN_Z_MAX * se && se > 0.0 {
            return Err(RecoveryError::NonzeroInputMean {
                column: a,
                mean,
                z: mean.abs() / se,
            });
        }
    }
    let mut cov = Mat::<f64>::zeros(d, d);
    matmul(
        cov.as_mut(),
        Accum::Replace,
        x.transpose(),
        x,
        1.0 / nf,
        faer::get_global_parallelism(),
    );
    let eig = cov
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| RecoveryError::Numerical("the eigen-decomposition of the input covariance"))?;
    let lam: Vec<f64> = (0..d).map(|i| eig.S().column_vector()[i]).collect();
    let (lo, hi) = (lam[0], lam[d - 1]);
    if lo <= 1e-12 * hi || lo.is_nan() {
        return Err(RecoveryError::Moments(
            twolayer_moments::MomentsError::SingularCovariance {
                min_eig: lo,
                max_eig: hi,
            },
        ));
    }
    let condition = hi / lo;
    let whiten = condition > WHITEN_ABOVE;
    // Σ̂^{-1/2} = R diag(λ^{-1/2}) Rᵀ.
    let r = eig.U();
    let root_inv = Mat::from_fn(d, d, |a, b| {
        (0..d)
            .map(|i| r[(a, i)] * r[(b, i)] / lam[i].sqrt())
            .sum::<f64>()
    });
    let mut xw = Mat::<f64>::zeros(n, d);
    matmul(
        xw.as_mut(),
        Accum::Replace,
        x,
        root_inv.as_ref(),
        1.0,
        faer::get_global_parallelism(),
    );

    let mut kmin = f64::INFINITY;
    let mut kmax = f64::NEG_INFINITY;
    for a in 0..d {
        let (m2, m4) = xw
            .col(a)
            .iter()
            .fold((0.0, 0.0), |(s2, s4), &t| (s2 + t * t, s4 + t.powi(4)));
        let (m2, m4) = (m2 / nf, m4 / nf);
        let k = m4 / (m2 * m2) - 3.0;
        kmin = kmin.min(k);
        kmax = kmax.max(k);
    }
    let sq: Vec<f64> = (0..n).map(|j| xw.row(j).squared_norm_l2()).collect();
    let mean_sq = sq.iter().sum::<f64>() / nf;
    let var_sq = sq.iter().map(|s| (s - mean_sq).powi(2)).sum::<f64>() / nf;
    let norm_dispersion = var_sq / (2.0 * d as f64);

    let mut warnings = Vec::new();
    if kmin < -KURTOSIS_WARN || kmax > KURTOSIS_WARN {
        warnings.push(format!(
            "inputs do not look Gaussian: excess kurtosis of whitened coordinates ranges over \
             [{kmin:.2}, {kmax:.2}] (0 for Gaussian); the recovery guarantees assume x ~ N(0, Σ)"
        ));
    }
    if (norm_dispersion - 1.0).abs() > NORM_DISPERSION_WARN {
        warnings.push(format!(
            "inputs do not look Gaussian: Var(|x|²)/(2d) = {norm_dispersion:.2} (1 for \
             Gaussian; {}); the recovery guarantees assume x ~ N(0, Σ)",
            if norm_dispersion < 1.0 {
                "near 0 means samples of nearly fixed norm, e.g. on a sphere or with ±1 coordinates"
            } else {
                "above 1 means heavy tails"
            }
        ));
    }
    let diagnostics = InputDiagnostics {
        whitened: whiten,
        covariance_condition: condition,
        excess_kurtosis_min: kmin,
        excess_kurtosis_max: kmax,
        norm_dispersion,
        warnings,
    };
    Ok(if whiten {
        PreparedInputs {
            x: xw,
            whitening: Some(root_inv),
            diagnostics,
        }
    } else {
        PreparedInputs {
            x: x.to_owned(),
            whitening: None,
            diagnostics,
        }
    })
}
