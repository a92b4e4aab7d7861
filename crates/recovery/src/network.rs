pub use crate::activation::Activation;
use crate::data::checks::check_finite;
use crate::error::RecoveryError;
use faer::{Accum, Mat, MatRef};
use twolayer_moments::matmul;

/// A two-layer network x ↦ U f(V x), without biases.
///
/// `u` is m×k and `v` is k×d, as PyTorch's `nn.Linear` stores them.
#[derive(Debug, Clone)]
pub struct Network {
    /// Output weights U (m×k).
    pub u: Mat<f64>,
    /// Hidden weights V (k×d); row i is unit i.
    pub v: Mat<f64>,
    /// The hidden activation f.
    pub activation: Activation,
}

impl Network {
    /// Builds a network, checking that U has as many columns as V has rows and that every
    /// weight is finite.
    pub fn new(u: Mat<f64>, v: Mat<f64>, activation: Activation) -> Result<Self, RecoveryError> {
        if u.ncols() != v.nrows() {
            return Err(RecoveryError::Shape {
                what: "columns of U (one per hidden unit, i.e. rows of V)",
                expected: v.nrows(),
                got: u.ncols(),
            });
        }
        check_finite("U", u.as_ref())?;
        check_finite("V", v.as_ref())?;
        Ok(Self { u, v, activation })
    }

    /// Input dimension d.
    pub fn d(&self) -> usize {
        self.v.ncols()
    }

    /// Number of hidden units k.
    pub fn k(&self) -> usize {
        self.v.nrows()
    }

    /// Output dimension m.
    pub fn m(&self) -> usize {
        self.u.nrows()
    }

    /// Checks samples X (n×d) and labels Y (n×m) against this network: non-empty, one label
    /// row per sample, finite, and X and Y as wide as the network's d and m.
    ///
    /// Cost: one pass over X and Y.
    pub(crate) fn check_data(
        &self,
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
    ) -> Result<(), RecoveryError> {
        crate::data::checks::check_samples(x, y)?;
        for (what, expected, got) in [
            (
                "columns of X (the input dimension d of V)",
                self.d(),
                x.ncols(),
            ),
            (
                "columns of Y (the output dimension m of U)",
                self.m(),
                y.ncols(),
            ),
        ] {
            if got != expected {
                return Err(RecoveryError::Shape {
                    what,
                    expected,
                    got,
                });
            }
        }
        Ok(())
    }

    /// Hidden activations f(X Vᵀ) (n×k) for samples X (n×d, one per row).
    ///
    /// Cost: O(n d k) flops.
    pub fn hidden(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>, RecoveryError> {
        if x.ncols() != self.d() {
            return Err(RecoveryError::Shape {
                what: "columns of X (the input dimension d of V)",
                expected: self.d(),
                got: x.ncols(),
            });
        }
        let mut h = Mat::zeros(x.nrows(), self.k());
        matmul(
            h.as_mut(),
            Accum::Replace,
            x,
            self.v.transpose(),
            1.0,
            faer::get_global_parallelism(),
        );
        self.activation.apply_to(h.as_mut());
        Ok(h)
    }

    /// Predictions f(X Vᵀ) Uᵀ (n×m) for samples X (n×d, one per row).
    ///
    /// Cost: O(n k (d + m)) flops.
    pub fn predict(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>, RecoveryError> {
        let h = self.hidden(x)?;
        let mut out = Mat::zeros(x.nrows(), self.m());
        matmul(
            out.as_mut(),
            Accum::Replace,
            h.as_ref(),
            self.u.transpose(),
            1.0,
            faer::get_global_parallelism(),
        );
        Ok(out)
    }

    /// The canonical representative of this network's symmetry class: units sorted
    /// lexicographically by their unit-normalised V row and, when f is homogeneous of degree p,
    /// rows of V scaled to unit norm with U absorbing the scale (‖V_i‖^p). A non-homogeneous f
    /// has no rescaling symmetry, so its V keeps its scale. Zero rows are left as they are.
    pub fn canonical(&self) -> Network {
        let (k, d) = (self.k(), self.d());
        let norms: Vec<f64> = (0..k).map(|i| self.v.row(i).norm_l2()).collect();
        let scale = |i: usize| if norms[i] > 0.0 { norms[i] } else { 1.0 };
        let degree = self.activation.homogeneity();
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| {
            (0..d)
                .map(|j| (self.v[(a, j)] / scale(a)).total_cmp(&(self.v[(b, j)] / scale(b))))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let (v, u) = match degree {
            Some(p) => (
                Mat::from_fn(k, d, |i, j| self.v[(order[i], j)] / scale(order[i])),
                Mat::from_fn(self.m(), k, |r, i| {
                    self.u[(r, order[i])] * scale(order[i]).powf(p)
                }),
            ),
            None => (
                Mat::from_fn(k, d, |i, j| self.v[(order[i], j)]),
                Mat::from_fn(self.m(), k, |r, i| self.u[(r, order[i])]),
            ),
        };
        Network {
            u,
            v,
            activation: self.activation.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Network {
        let v = Mat::from_fn(2, 2, |i, j| [[0.0, 2.0], [3.0, -4.0]][i][j]);
        let u = Mat::from_fn(1, 2, |_, j| [1.0, -1.0][j]);
        Network::new(u, v, Activation::Relu).unwrap()
    }

    #[test]
    fn predict_computes_u_relu_vx() {
        let net = tiny();
        let x = Mat::from_fn(2, 2, |i, j| [[1.0, 1.0], [1.0, -1.0]][i][j]);
        let y = net.predict(x.as_ref()).unwrap();
        // x = (1, 1): relu(2) − relu(−1) = 2;  x = (1, −1): relu(−2) − relu(7) = −7.
        assert_eq!(y[(0, 0)], 2.0);
        assert_eq!(y[(1, 0)], -7.0);
    }

    #[test]
    fn canonical_form_keeps_the_function_and_sorts() {
        let net = tiny();
        let c = net.canonical();
        assert_eq!(c.v[(0, 0)], 0.0); // (0, 1) sorts before (0.6, −0.8)
        assert!((c.v.row(1).norm_l2() - 1.0).abs() < 1e-15);
        let x = Mat::from_fn(5, 2, |i, j| (i as f64 - 2.0) * (j as f64 + 0.5));
        let (a, b) = (
            net.predict(x.as_ref()).unwrap(),
            c.predict(x.as_ref()).unwrap(),
        );
        assert!((&a - &b).norm_max() < 1e-12);
    }

    #[test]
    fn shape_and_finiteness_are_checked() {
        let v = Mat::<f64>::zeros(2, 3);
        assert!(Network::new(Mat::zeros(1, 3), v.clone(), Activation::Relu).is_err());
        let mut u = Mat::<f64>::zeros(1, 2);
        u[(0, 1)] = f64::INFINITY;
        let err = Network::new(u, v, Activation::Relu).unwrap_err();
        assert_eq!(
            err,
            RecoveryError::NotFinite {
                what: "U",
                row: 0,
                col: 1
            }
        );
        let x = Mat::<f64>::zeros(4, 2);
        assert!(tiny().predict(Mat::<f64>::zeros(4, 3).as_ref()).is_err());
        assert!(tiny().predict(x.as_ref()).is_ok());
    }
}
