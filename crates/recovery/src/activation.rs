//! Rectified activations: f(t) = 0 for t ≤ 0, f(t) > 0 for t > 0.

use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::error::RecoveryError;

/// A user-supplied rectified function, described on t > 0 (it is 0 for t ≤ 0).
///
/// `value` must be positive and increasing on (0, ∞) so that `inverse` exists.
pub trait Rectified: Send + Sync + fmt::Debug {
    /// The name used in reports.
    fn name(&self) -> String;
    /// f(t) for t > 0.
    fn value(&self, t: f64) -> f64;
    /// f'(t) for t > 0.
    fn derivative(&self, t: f64) -> f64;
    /// f⁻¹(y) for y > 0.
    fn inverse(&self, y: f64) -> f64;
    /// `Some(p)` when f(c t) = c^p f(t) for c > 0 (then the scale of a unit is not identified:
    /// U absorbs it), `None` otherwise (then the scale of V is identified).
    fn homogeneity(&self) -> Option<f64>;
}

/// The rectified activation f of the hidden layer.
#[derive(Clone)]
#[non_exhaustive]
pub enum Activation {
    /// f(t) = max(t, 0), homogeneous of degree 1.
    Relu,
    /// f(t) = max(t, 0)^p for p > 0, homogeneous of degree p.
    ReluPow(f64),
    /// f(t) = log(1 + max(t, 0)): not homogeneous, so the scale of V is identified.
    LogRelu,
    /// Any rectified function given by its values, derivative and inverse on (0, ∞).
    Custom(Arc<dyn Rectified>),
}

impl fmt::Debug for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl PartialEq for Activation {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Activation::Relu, Activation::Relu) | (Activation::LogRelu, Activation::LogRelu) => {
                true
            }
            (Activation::ReluPow(a), Activation::ReluPow(b)) => a == b,
            (Activation::Custom(a), Activation::Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Serialize for Activation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// The largest power `relupow:P` accepts: above it t^P overflows or loses all precision at
/// the scales of real labels.
pub const RELUPOW_MAX: f64 = 8.0;

impl Activation {
    /// Parses `relu`, `relu2`, `relupow:P` (0 < P ≤ [`RELUPOW_MAX`]) or `logrelu`.
    pub fn parse(text: &str) -> Result<Self, RecoveryError> {
        let bad = || RecoveryError::BadActivation {
            given: text.to_string(),
        };
        match text {
            "relu" => Ok(Activation::Relu),
            "relu2" => Ok(Activation::ReluPow(2.0)),
            "logrelu" => Ok(Activation::LogRelu),
            _ => {
                let p: f64 = text
                    .strip_prefix("relupow:")
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(bad)?;
                if p.is_finite() && p > 0.0 && p <= RELUPOW_MAX {
                    Ok(if p == 1.0 {
                        Activation::Relu
                    } else {
                        Activation::ReluPow(p)
                    })
                } else {
                    Err(bad())
                }
            }
        }
    }

    /// The name used in files and on the command line.
    pub fn name(&self) -> String {
        match self {
            Activation::Relu => "relu".into(),
            Activation::ReluPow(p) if *p == 2.0 => "relu2".into(),
            Activation::ReluPow(p) => format!("relupow:{p}"),
            Activation::LogRelu => "logrelu".into(),
            Activation::Custom(c) => c.name(),
        }
    }

    /// f(t): 0 for t ≤ 0.
    #[inline]
    pub fn apply(&self, t: f64) -> f64 {
        if t <= 0.0 || t.is_nan() {
            return 0.0;
        }
        match self {
            Activation::Relu => t,
            Activation::ReluPow(p) => t.powf(*p),
            Activation::LogRelu => t.ln_1p(),
            Activation::Custom(c) => c.value(t),
        }
    }

    /// f applied to every entry of `ts` in place (the values of [`Activation::apply`]).
    ///
    /// ReLU runs branch-free: over samples the sign of a pre-activation is a coin flip, and a
    /// branch per entry mispredicts half the time (the certificate pass spent more time there
    /// than in its GEMMs). Cost: one pass over `ts`.
    pub fn apply_in_place(&self, ts: &mut [f64]) {
        match self {
            Activation::Relu => ts
                .iter_mut()
                .for_each(|t| *t = if *t > 0.0 { *t } else { 0.0 }),
            _ => ts.iter_mut().for_each(|t| *t = self.apply(*t)),
        }
    }

    /// [`Activation::apply_in_place`] on every entry of a matrix.
    pub fn apply_to(&self, mut a: faer::MatMut<'_, f64>) {
        for j in 0..a.ncols() {
            match a.as_mut().col_mut(j).try_as_col_major_mut() {
                Some(col) => self.apply_in_place(col.as_slice_mut()),
                None => a
                    .as_mut()
                    .col_mut(j)
                    .iter_mut()
                    .for_each(|t| *t = self.apply(*t)),
            }
        }
    }

    /// f'(t), taken as 0 for t ≤ 0 (the one-sided derivative Gauss–Newton uses at the kink).
    #[inline]
    pub fn derivative(&self, t: f64) -> f64 {
        if t <= 0.0 || t.is_nan() {
            return 0.0;
        }
        match self {
            Activation::Relu => 1.0,
            Activation::ReluPow(p) => p * t.powf(p - 1.0),
            Activation::LogRelu => 1.0 / (1.0 + t),
            Activation::Custom(c) => c.derivative(t),
        }
    }

    /// f⁻¹(y) for y > 0.
    #[inline]
    pub fn inverse(&self, y: f64) -> f64 {
        match self {
            Activation::Relu => y,
            Activation::ReluPow(p) => y.powf(1.0 / p),
            Activation::LogRelu => y.exp_m1(),
            Activation::Custom(c) => c.inverse(y),
        }
    }

    /// `Some(p)` when f is positively homogeneous of degree p, `None` otherwise.
    pub fn homogeneity(&self) -> Option<f64> {
        match self {
            Activation::Relu => Some(1.0),
            Activation::ReluPow(p) => Some(*p),
            Activation::LogRelu => None,
            Activation::Custom(c) => c.homogeneity(),
        }
    }

    /// E[f(r z) He_j(z)] for z ~ N(0, 1) and j = 0..=4 (He_j the probabilists' Hermite
    /// polynomials, unnormalised): the constants that scale unit i's contribution to the j-th
    /// label-weighted moment when ‖v_i‖ = r. Computed by quadrature, not tables.
    ///
    /// The integrand vanishes for z ≤ 0 and has a kink (or, for p < 1, a singular derivative)
    /// at 0, where a Gauss–Hermite rule over the line converges slowly; so the integral over
    /// z ∈ (0, 12] is split into 48 panels with 20-point Gauss–Legendre rules, exact to about
    /// 1e-13 for smooth f. Cost: about 1000 evaluations of f.
    pub fn hermite_coefficients(&self, r: f64) -> [f64; 5] {
        let (nodes, weights) = gauss_legendre(20);
        let (panels, top) = (48, 12.0);
        let mut out = [0.0; 5];
        for p in 0..panels {
            // Panels graded towards 0, where the integrand is least smooth.
            let (a, b) = (grade(p, panels) * top, grade(p + 1, panels) * top);
            for (t, w) in nodes.iter().zip(&weights) {
                let z = 0.5 * (b - a) * t + 0.5 * (a + b);
                let phi = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
                let fz = self.apply(r * z) * phi * 0.5 * (b - a) * w;
                let he = [
                    1.0,
                    z,
                    z * z - 1.0,
                    z * z * z - 3.0 * z,
                    z.powi(4) - 6.0 * z * z + 3.0,
                ];
                for j in 0..5 {
                    out[j] += fz * he[j];
                }
            }
        }
        out
    }
}

/// Panel edges on [0, 1], quadratically graded towards 0.
fn grade(p: usize, panels: usize) -> f64 {
    let s = p as f64 / panels as f64;
    s * s
}

/// Gauss–Legendre nodes and weights on [−1, 1] (Golub–Welsch: eigenvalues of the Jacobi
/// matrix).
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let jacobi = faer::Mat::from_fn(n, n, |i, j| {
        let k = i.max(j);
        if i.abs_diff(j) == 1 {
            let k = k as f64;
            k / (4.0 * k * k - 1.0).sqrt()
        } else {
            0.0
        }
    });
    let eig = jacobi
        .self_adjoint_eigen(faer::Side::Lower)
        .expect("the Jacobi matrix is symmetric tridiagonal");
    let nodes = (0..n).map(|i| eig.S().column_vector()[i]).collect();
    let weights = (0..n).map(|i| 2.0 * eig.U()[(0, i)].powi(2)).collect();
    (nodes, weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_place_application_gives_the_bits_of_apply() {
        let ts = [
            -2.0,
            -0.0,
            0.0,
            1e-300,
            0.5,
            3.0,
            f64::NAN,
            f64::INFINITY,
            -f64::INFINITY,
        ];
        for f in [
            Activation::Relu,
            Activation::ReluPow(2.0),
            Activation::LogRelu,
        ] {
            let mut got = ts;
            f.apply_in_place(&mut got);
            for (t, g) in ts.iter().zip(&got) {
                assert_eq!(g.to_bits(), f.apply(*t).to_bits(), "{f:?} at {t}");
            }
            // A strided matrix takes the entry-by-entry path, the same values.
            let mut a = faer::Mat::from_fn(ts.len(), 2, |i, _| ts[i]);
            f.apply_to(a.as_mut().transpose_mut());
            for (i, t) in ts.iter().enumerate() {
                assert_eq!(a[(i, 1)].to_bits(), f.apply(*t).to_bits());
            }
        }
    }

    #[test]
    fn relu_constants_match_the_verified_values() {
        let c = Activation::Relu.hermite_coefficients(1.0);
        let inv = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        assert!((c[0] - inv).abs() < 1e-13, "{c:?}"); // E relu(z) = 1/√(2π)
        assert!((c[1] - 0.5).abs() < 1e-13, "{c:?}");
        assert!((c[2] - inv).abs() < 1e-13, "{c:?}");
        assert!(c[3].abs() < 1e-13, "{c:?}");
        assert!((c[4] + inv).abs() < 1e-13, "{c:?}");
    }

    #[test]
    fn homogeneous_coefficients_scale_and_others_do_not() {
        let f = Activation::ReluPow(1.5);
        let (a, b) = (f.hermite_coefficients(1.0), f.hermite_coefficients(2.0));
        for j in 0..5 {
            assert!((b[j] - 2f64.powf(1.5) * a[j]).abs() < 1e-11 * a[j].abs().max(1.0));
        }
        // relu²: E[z² 1{z>0} z] = E|z|³/2 = √(2/π).
        let c = Activation::ReluPow(2.0).hermite_coefficients(1.0);
        assert!(
            (c[1] - (2.0 / std::f64::consts::PI).sqrt()).abs() < 1e-12,
            "{c:?}"
        );
        let g = Activation::LogRelu;
        let (a, b) = (g.hermite_coefficients(1.0), g.hermite_coefficients(2.0));
        assert!((b[1] / a[1] - 2.0).abs() > 0.1);
        assert!(a[1] > 0.0 && a[2] != 0.0);
    }

    #[test]
    fn parse_names_and_inverses_round_trip() {
        for name in ["relu", "relu2", "relupow:1.5", "logrelu"] {
            let f = Activation::parse(name).unwrap();
            assert_eq!(f.name(), name);
            for t in [0.01, 0.7, 3.0] {
                assert!((f.inverse(f.apply(t)) - t).abs() < 1e-12 * t.max(1.0));
                let num = (f.apply(t + 1e-6) - f.apply(t - 1e-6)) / 2e-6;
                assert!((num - f.derivative(t)).abs() < 1e-5, "{name} at {t}");
            }
        }
        assert!(Activation::parse("tanh").is_err());
        assert!(Activation::parse("relupow:-1").is_err());
        assert!(Activation::parse("relupow:1000").is_err());
        assert!(Activation::parse("relupow:1e308").is_err());
        assert!(Activation::parse("relupow:8").is_ok());
        assert_eq!(Activation::parse("relupow:1").unwrap(), Activation::Relu);
    }
}
