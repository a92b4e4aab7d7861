//! Levenberg–Marquardt on the squared loss of a two-layer network: a plain local search.

use faer::prelude::*;
use faer::{Mat, MatRef, Side};

use crate::data::checks::check_samples;
use crate::error::RecoveryError;
use crate::network::Network;

/// Levenberg–Marquardt on ½ Σ_j ‖y_j − U f(V x_j)‖² over all of (U, V), from a given start.
///
/// A local method with no guarantee: it is the project's baseline local search (used, for
/// instance, to show that no-instances of the hardness gadget are never fitted) and a polish
/// step for small problems, for any activation. The kink at 0 is handled as Gauss–Newton
/// does, through the one-sided derivative (f'(t) for t > 0, else 0).
///
/// Cost per iteration: the dense Jacobian, O(n m p²) flops with p = k (d + m) parameters, so
/// it suits small problems; for large ones use [`crate::SignPatternLs`].
#[derive(Debug, Clone, PartialEq)]
pub struct LevenbergMarquardt {
    max_iter: usize,
}

impl Default for LevenbergMarquardt {
    fn default() -> Self {
        Self::new()
    }
}

/// The result of [`LevenbergMarquardt::fit`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LmFit {
    /// The network reached (not canonicalised: a local search reports where it stopped).
    pub network: Network,
    /// ‖Y − U f(V X)‖_F / ‖Y‖_F.
    pub residual_rel: f64,
    /// Iterations run.
    pub iterations: usize,
}

impl LevenbergMarquardt {
    /// At most 200 iterations.
    pub fn new() -> Self {
        Self { max_iter: 200 }
    }

    /// Most iterations (at least 1; 0 is an error when fitting).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Runs from `start` on samples X (n×d) and labels Y (n×m).
    pub fn fit(
        &self,
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
        start: &Network,
    ) -> Result<LmFit, RecoveryError> {
        crate::error::at_least_one("max_iter", self.max_iter)?;
        check_samples(x, y)?;
        let (n, d) = x.shape();
        let (m, k) = start.u.shape();
        if start.d() != d {
            return Err(RecoveryError::Shape {
                what: "input dimension of the starting network (columns of X)",
                expected: d,
                got: start.d(),
            });
        }
        if y.ncols() != m {
            return Err(RecoveryError::Shape {
                what: "outputs of the starting network (columns of Y)",
                expected: y.ncols(),
                got: m,
            });
        }
        let f = start.activation.clone();
        let p = k * (d + m);
        let denom = y.norm_l2().max(f64::MIN_POSITIVE);
        let loss = |net: &Network| -> f64 {
            net.predict(x)
                .map(|pred| (&pred - y).norm_l2())
                .unwrap_or(f64::INFINITY)
        };
        let mut net = start.clone();
        let mut current = loss(&net);
        let mut lambda = 1e-3;
        let mut iterations = 0;
        for _ in 0..self.max_iter {
            iterations += 1;
            // Residuals r = Y − U f(V X) (n·m) and Jacobian of the prediction (n·m × p).
            let pre = Mat::from_fn(n, k, |j, i| {
                (0..d).map(|a| net.v[(i, a)] * x[(j, a)]).sum::<f64>()
            });
            let pred = net.predict(x)?;
            let mut jac = Mat::<f64>::zeros(n * m, p);
            let mut r = Mat::<f64>::zeros(n * m, 1);
            for j in 0..n {
                for o in 0..m {
                    let row = j * m + o;
                    r[(row, 0)] = y[(j, o)] - pred[(j, o)];
                    for i in 0..k {
                        let slope = f.derivative(pre[(j, i)]) * net.u[(o, i)];
                        for a in 0..d {
                            jac[(row, i * d + a)] = slope * x[(j, a)];
                        }
                        jac[(row, k * d + o * k + i)] = f.apply(pre[(j, i)]);
                    }
                }
            }
            let jtj = jac.transpose() * &jac;
            let jtr = jac.transpose() * &r;
            let mut improved = false;
            for _ in 0..20 {
                let mut a = jtj.clone();
                for t in 0..p {
                    a[(t, t)] += lambda * (jtj[(t, t)] + 1e-12);
                }
                let Ok(llt) = a.llt(Side::Lower) else {
                    lambda *= 10.0;
                    continue;
                };
                let step = llt.solve(&jtr);
                let trial = Network {
                    v: Mat::from_fn(k, d, |i, c| net.v[(i, c)] + step[(i * d + c, 0)]),
                    u: Mat::from_fn(m, k, |o, i| net.u[(o, i)] + step[(k * d + o * k + i, 0)]),
                    activation: f.clone(),
                };
                let l = loss(&trial);
                if l < current {
                    net = trial;
                    current = l;
                    lambda = (lambda / 3.0).max(1e-12);
                    improved = true;
                    break;
                }
                lambda *= 4.0;
            }
            if !improved || current / denom < 1e-14 {
                break;
            }
        }
        Ok(LmFit {
            network: net,
            residual_rel: current / denom,
            iterations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Activation;

    #[test]
    fn converges_from_a_nearby_start() {
        let v = Mat::from_fn(2, 3, |i, j| [[1.0, 0.5, -0.2], [-0.3, 1.0, 0.4]][i][j]);
        let u = Mat::from_fn(1, 2, |_, j| [1.0, -0.8][j]);
        let truth = Network::new(u, v, Activation::Relu).unwrap();
        let x = Mat::from_fn(300, 3, |i, j| {
            (((i * 7 + 3) * (j * 13 + 5)) % 97) as f64 / 48.0 - 1.0
        });
        let y = truth.predict(x.as_ref()).unwrap();
        let start = Network::new(
            Mat::from_fn(1, 2, |_, j| truth.u[(0, j)] * 0.9),
            Mat::from_fn(2, 3, |i, j| truth.v[(i, j)] + 0.05),
            Activation::Relu,
        )
        .unwrap();
        let fit = LevenbergMarquardt::new()
            .fit(x.as_ref(), y.as_ref(), &start)
            .unwrap();
        assert!(fit.residual_rel < 1e-10, "{}", fit.residual_rel);
    }
}
