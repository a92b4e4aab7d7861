//! The method practitioners use: minibatch Adam on the squared loss.

use std::time::{Duration, Instant};

use faer::{Accum, Mat, MatRef, Par};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use twolayer_moments::matmul;

use crate::align::align;
use crate::data::checks::check_samples;
use crate::error::RecoveryError;
use crate::network::{Activation, Network};

/// Minibatch Adam on the mean squared error of y = U f(V x) (no biases), with PyTorch's
/// defaults: learning rate 1e-3, batch 256, β = (0.9, 0.999), ε = 1e-8, and `nn.Linear`'s
/// initialisation (entries uniform in ±1/√fan_in).
///
/// A baseline for benchmarks (it logs its parameter error against a known truth over time)
/// and a polish step for users. It has no guarantee: it stops at its step or time budget.
///
/// Cost per step: O(batch · k (d + m)) flops.
#[derive(Debug, Clone, PartialEq)]
pub struct Adam {
    /// Learning rate.
    pub lr: f64,
    /// Minibatch size.
    pub batch: usize,
    /// Exponential decay rates of the first and second moment estimates.
    pub betas: (f64, f64),
    /// Added to the denominator for stability.
    pub eps: f64,
    /// Most optimisation steps.
    pub max_steps: usize,
    /// Wall-time budget.
    pub time_budget: Duration,
    /// Seed of the initialisation and of the batch order.
    pub seed: u64,
}

impl Default for Adam {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            batch: 256,
            betas: (0.9, 0.999),
            eps: 1e-8,
            max_steps: usize::MAX,
            time_budget: Duration::from_secs(60),
            seed: 0,
        }
    }
}

/// One point of an Adam run's log.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct AdamPoint {
    /// Seconds since the start.
    pub time_s: f64,
    /// Steps taken.
    pub steps: usize,
    /// Mean squared error on the full data.
    pub loss: f64,
    /// Aligned parameter error √(‖ΔV‖_F² + (‖ΔU‖_F/‖U‖_F)²) against the truth, if given.
    pub param_err: Option<f64>,
}

/// The result of an Adam run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AdamRun {
    /// The network at the end.
    pub network: Network,
    /// Log points: at the start, after every epoch, and at the end.
    pub log: Vec<AdamPoint>,
    /// First time the parameter error reached the target, if it did.
    pub time_to_target: Option<f64>,
}

impl Adam {
    /// Trains k hidden units with activation `f` on X (n×d), Y (n×m), logging against
    /// `truth` when given; stops at the budget or when the parameter error reaches `target`.
    pub fn fit(
        &self,
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
        k: usize,
        f: Activation,
        truth: Option<&Network>,
        target: f64,
    ) -> Result<AdamRun, RecoveryError> {
        check_samples(x, y)?;
        if k == 0 {
            return Err(RecoveryError::ZeroK);
        }
        let start = Instant::now();
        let (n, d) = x.shape();
        let m = y.ncols();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let (bv, bu) = (1.0 / (d as f64).sqrt(), 1.0 / (k as f64).sqrt());
        let mut v = Mat::from_fn(k, d, |_, _| bv * (2.0 * rng.random::<f64>() - 1.0));
        let mut u = Mat::from_fn(m, k, |_, _| bu * (2.0 * rng.random::<f64>() - 1.0));
        let (mut mv, mut sv) = (Mat::<f64>::zeros(k, d), Mat::<f64>::zeros(k, d));
        let (mut mu, mut su) = (Mat::<f64>::zeros(m, k), Mat::<f64>::zeros(m, k));
        let (b1, b2) = self.betas;
        let batch = self.batch.clamp(1, n);
        let mut order: Vec<usize> = (0..n).collect();
        let mut steps = 0usize;
        let mut log = Vec::new();
        let mut time_to_target = None;
        let record = |u: &Mat<f64>, v: &Mat<f64>, steps: usize, log: &mut Vec<AdamPoint>| {
            let net = Network {
                u: u.clone(),
                v: v.clone(),
                activation: f.clone(),
            };
            let pred = net.predict(x).expect("shapes checked");
            let loss = (&pred - y).squared_norm_l2() / (n * m) as f64;
            let param_err = truth
                .and_then(|t| align(&net, t).ok())
                .map(|a| a.parameter_error());
            let point = AdamPoint {
                time_s: start.elapsed().as_secs_f64(),
                steps,
                loss,
                param_err,
            };
            log.push(point);
            point
        };
        record(&u, &v, 0, &mut log);
        'epochs: loop {
            order.shuffle(&mut rng);
            for chunk in order.chunks(batch) {
                let b = chunk.len();
                let xb = Mat::from_fn(b, d, |i, a| x[(chunk[i], a)]);
                let mut pre = Mat::zeros(b, k);
                matmul(
                    pre.as_mut(),
                    Accum::Replace,
                    xb.as_ref(),
                    v.transpose(),
                    1.0,
                    Par::Seq,
                );
                let h = Mat::from_fn(b, k, |i, j| f.apply(pre[(i, j)]));
                let mut r = Mat::from_fn(b, m, |i, o| -y[(chunk[i], o)]);
                matmul(
                    r.as_mut(),
                    Accum::Add,
                    h.as_ref(),
                    u.transpose(),
                    1.0,
                    Par::Seq,
                );
                let scale = 2.0 / (b * m) as f64;
                let mut gu = Mat::zeros(m, k);
                matmul(
                    gu.as_mut(),
                    Accum::Replace,
                    r.transpose(),
                    h.as_ref(),
                    scale,
                    Par::Seq,
                );
                let mut gh = Mat::zeros(b, k);
                matmul(
                    gh.as_mut(),
                    Accum::Replace,
                    r.as_ref(),
                    u.as_ref(),
                    scale,
                    Par::Seq,
                );
                for j in 0..k {
                    for i in 0..b {
                        gh[(i, j)] *= f.derivative(pre[(i, j)]);
                    }
                }
                let mut gv = Mat::zeros(k, d);
                matmul(
                    gv.as_mut(),
                    Accum::Replace,
                    gh.transpose(),
                    xb.as_ref(),
                    1.0,
                    Par::Seq,
                );
                steps += 1;
                let (c1, c2) = (1.0 - b1.powi(steps as i32), 1.0 - b2.powi(steps as i32));
                let update =
                    |w: &mut Mat<f64>, g: &Mat<f64>, m1: &mut Mat<f64>, m2: &mut Mat<f64>| {
                        for j in 0..w.ncols() {
                            for i in 0..w.nrows() {
                                let gi = g[(i, j)];
                                m1[(i, j)] = b1 * m1[(i, j)] + (1.0 - b1) * gi;
                                m2[(i, j)] = b2 * m2[(i, j)] + (1.0 - b2) * gi * gi;
                                let step = self.lr * (m1[(i, j)] / c1)
                                    / ((m2[(i, j)] / c2).sqrt() + self.eps);
                                w[(i, j)] -= step;
                            }
                        }
                    };
                update(&mut v, &gv, &mut mv, &mut sv);
                update(&mut u, &gu, &mut mu, &mut su);
                if steps >= self.max_steps || start.elapsed() >= self.time_budget {
                    break 'epochs;
                }
            }
            let p = record(&u, &v, steps, &mut log);
            if let Some(e) = p.param_err
                && e <= target
            {
                time_to_target = Some(p.time_s);
                break;
            }
        }
        if log.last().is_none_or(|p| p.steps != steps) {
            let p = record(&u, &v, steps, &mut log);
            if time_to_target.is_none() && p.param_err.is_some_and(|e| e <= target) {
                time_to_target = Some(p.time_s);
            }
        }
        Ok(AdamRun {
            network: Network {
                u,
                v,
                activation: f,
            }
            .canonical(),
            log,
            time_to_target,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_reduces_the_loss_and_logs() {
        let v = Mat::from_fn(2, 3, |i, j| [[1.0, 0.5, -0.2], [-0.3, 1.0, 0.4]][i][j]);
        let u = Mat::from_fn(1, 2, |_, j| [1.0, -0.8][j]);
        let truth = Network::new(u, v, Activation::Relu).unwrap();
        let x = Mat::from_fn(2000, 3, |i, j| {
            (((i * 7 + 3) * (j * 13 + 5) + i * i) % 97) as f64 / 48.0 - 1.0
        });
        let y = truth.predict(x.as_ref()).unwrap();
        let run = Adam {
            lr: 1e-2,
            max_steps: 3000,
            ..Adam::default()
        }
        .fit(
            x.as_ref(),
            y.as_ref(),
            2,
            Activation::Relu,
            Some(&truth),
            0.0,
        )
        .unwrap();
        let (first, last) = (run.log[0], *run.log.last().unwrap());
        assert_eq!(first.steps, 0);
        assert!(last.loss < 0.5 * first.loss, "{first:?} → {last:?}");
        assert!(last.param_err.is_some() && last.steps == 3000);
        assert!(run.time_to_target.is_none());
    }
}
