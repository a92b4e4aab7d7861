use faer::Mat;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp1, StandardNormal, StudentT};
use twolayer_recovery::{Activation, Network};

use crate::error::HardnessError;

/// A planted Gaussian instance: X with rows x_j ~ N(0, I_d), labels y_j = U f(V x_j) + e_j.
///
/// Defaults: rows of V uniform on the unit sphere, U with N(0, 1) entries, no noise, seed 0.
#[derive(Debug, Clone, PartialEq)]
pub struct PlantedNetwork {
    d: usize,
    k: usize,
    m: usize,
    n: usize,
    noise: f64,
    noise_kind: NoiseKind,
    noise_mean: f64,
    v_condition: Option<f64>,
    seed: u64,
}

/// The distribution of the label noise, always scaled to unit variance before `noise` (the
/// standard deviation relative to the label RMS) is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    /// Normal.
    Gaussian,
    /// Laplace (double exponential): heavier tails than Gaussian.
    Laplace,
    /// Student-t with 3 degrees of freedom: heavy tails, finite variance.
    Student3,
    /// Uniform on [−√3, √3].
    Uniform,
}

impl NoiseKind {
    fn draw(self, rng: &mut ChaCha8Rng) -> f64 {
        match self {
            NoiseKind::Gaussian => rng.sample(StandardNormal),
            NoiseKind::Laplace => {
                let e: f64 = rng.sample(Exp1);
                let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
                sign * e / std::f64::consts::SQRT_2
            }
            NoiseKind::Student3 => {
                let t: f64 = rng.sample(StudentT::new(3.0).expect("3 degrees of freedom"));
                t / 3f64.sqrt()
            }
            NoiseKind::Uniform => (2.0 * rng.random::<f64>() - 1.0) * 3f64.sqrt(),
        }
    }
}

/// A generated instance and the network that produced it.
#[derive(Debug, Clone)]
pub struct PlantedInstance {
    /// Samples (n×d), one per row.
    pub x: Mat<f64>,
    /// Labels (n×m), one per row.
    pub y: Mat<f64>,
    /// The planted weights: U (m×k), V (k×d).
    pub network: Network,
    /// Standard deviation of the Gaussian label noise actually added (absolute).
    pub noise_std: f64,
}

impl PlantedNetwork {
    /// An instance with input dimension d, k hidden units, m outputs and n samples.
    pub fn new(d: usize, k: usize, m: usize, n: usize) -> Self {
        Self {
            d,
            k,
            m,
            n,
            noise: 0.0,
            noise_kind: NoiseKind::Gaussian,
            noise_mean: 0.0,
            v_condition: None,
            seed: 0,
        }
    }

    /// Gaussian label noise with standard deviation `sigma` times the RMS of the clean labels.
    pub fn noise(mut self, sigma: f64) -> Self {
        self.noise = sigma;
        self
    }

    /// The distribution of the label noise (default Gaussian).
    pub fn noise_kind(mut self, kind: NoiseKind) -> Self {
        self.noise_kind = kind;
        self
    }

    /// A constant added to every label, relative to the RMS of the clean labels: noise
    /// independent of x but not mean-zero.
    pub fn noise_mean(mut self, mu: f64) -> Self {
        self.noise_mean = mu;
        self
    }

    /// V = A diag(s) Bᵀ with Haar-random orthogonal A, B and singular values s spaced
    /// geometrically from 1 down to 1/κ (needs k ≤ d). `None` keeps unit-norm random rows.
    pub fn v_condition(mut self, kappa: Option<f64>) -> Self {
        self.v_condition = kappa;
        self
    }

    /// Seed of the ChaCha8 generator; the instance is a pure function of the settings.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Draws the instance. Cost: O(n d) normal draws and O(n k (d + m)) flops.
    pub fn generate(&self) -> Result<PlantedInstance, HardnessError> {
        for (what, v) in [("d", self.d), ("k", self.k), ("m", self.m), ("n", self.n)] {
            if v == 0 {
                return Err(HardnessError::ZeroDimension { what });
            }
        }
        if !self.noise_mean.is_finite() {
            return Err(HardnessError::OutOfRange {
                what: "the noise mean",
                range: "finite",
                got: self.noise_mean,
            });
        }
        if !(self.noise >= 0.0 && self.noise.is_finite()) {
            return Err(HardnessError::OutOfRange {
                what: "the noise level",
                range: "finite and ≥ 0",
                got: self.noise,
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let (d, k, m, n) = (self.d, self.k, self.m, self.n);
        let v = match self.v_condition {
            None => {
                let mut v = gaussian(&mut rng, k, d);
                for i in 0..k {
                    let norm = v.row(i).norm_l2();
                    let mut row = v.row_mut(i);
                    row /= norm;
                }
                v
            }
            Some(kappa) => {
                if !(kappa >= 1.0 && kappa.is_finite()) {
                    return Err(HardnessError::OutOfRange {
                        what: "the condition number of V",
                        range: "finite and ≥ 1",
                        got: kappa,
                    });
                }
                if k > d {
                    return Err(HardnessError::ConditionNeedsFullRank { k, d });
                }
                let a = haar_orthonormal(&mut rng, k, k);
                let b = haar_orthonormal(&mut rng, d, k);
                let s = |i: usize| {
                    if k == 1 {
                        1.0
                    } else {
                        kappa.powf(-(i as f64) / (k - 1) as f64)
                    }
                };
                let as_ = Mat::from_fn(k, k, |i, j| a[(i, j)] * s(j));
                &as_ * b.transpose()
            }
        };
        let u = gaussian(&mut rng, m, k);
        let network = Network::new(u, v, Activation::Relu).expect("generated weights are finite");
        let x = gaussian(&mut rng, n, d);
        let mut y = network
            .predict(x.as_ref())
            .expect("shapes agree by construction");
        let rms = y.norm_l2() / ((n * m) as f64).sqrt();
        let noise_std = self.noise * rms;
        if noise_std > 0.0 {
            let kind = self.noise_kind;
            for i in 0..n {
                for o in 0..m {
                    y[(i, o)] += noise_std * kind.draw(&mut rng);
                }
            }
        }
        let offset = self.noise_mean * rms;
        if offset != 0.0 {
            for i in 0..n {
                for o in 0..m {
                    y[(i, o)] += offset;
                }
            }
        }
        Ok(PlantedInstance {
            x,
            y,
            network,
            noise_std,
        })
    }
}

fn gaussian(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Mat<f64> {
    // Row-major draw order, so that the first rows of a larger X equal a smaller X's.
    let mut out = Mat::zeros(rows, cols);
    for i in 0..rows {
        for j in 0..cols {
            out[(i, j)] = rng.sample(StandardNormal);
        }
    }
    out
}

/// A rows×cols matrix with orthonormal columns, Haar-distributed (QR of a Gaussian matrix with
/// the signs of R's diagonal fixed).
fn haar_orthonormal(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Mat<f64> {
    let g = gaussian(rng, rows, cols);
    let qr = g.qr();
    let q = qr.compute_thin_Q();
    let r = qr.thin_R();
    Mat::from_fn(rows, cols, |i, j| q[(i, j)] * r[(j, j)].signum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_instance_other_seed_other() {
        let a = PlantedNetwork::new(5, 3, 2, 50).seed(1).generate().unwrap();
        let b = PlantedNetwork::new(5, 3, 2, 50).seed(1).generate().unwrap();
        let c = PlantedNetwork::new(5, 3, 2, 50).seed(2).generate().unwrap();
        assert_eq!(a.x, b.x);
        assert_eq!(a.y, b.y);
        assert_ne!(a.x, c.x);
    }

    #[test]
    fn rows_are_unit_and_labels_follow_the_network() {
        let inst = PlantedNetwork::new(6, 4, 3, 100)
            .seed(3)
            .generate()
            .unwrap();
        for i in 0..4 {
            assert!((inst.network.v.row(i).norm_l2() - 1.0).abs() < 1e-14);
        }
        let pred = inst.network.predict(inst.x.as_ref()).unwrap();
        assert_eq!(pred, inst.y);
    }

    #[test]
    fn prescribed_condition_number_is_met() {
        let inst = PlantedNetwork::new(8, 4, 4, 10)
            .v_condition(Some(100.0))
            .generate()
            .unwrap();
        let s = inst.network.v.singular_values().unwrap();
        assert!((s[0] / s[3] - 100.0).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn noise_has_the_requested_relative_size() {
        let clean = PlantedNetwork::new(5, 3, 3, 20_000)
            .seed(4)
            .generate()
            .unwrap();
        let noisy = PlantedNetwork::new(5, 3, 3, 20_000)
            .seed(4)
            .noise(0.1)
            .generate()
            .unwrap();
        let rms = |m: &Mat<f64>| m.norm_l2() / ((m.nrows() * m.ncols()) as f64).sqrt();
        let ratio = rms(&(&noisy.y - &clean.y)) / rms(&clean.y);
        assert!((ratio - 0.1).abs() < 0.005, "{ratio}");
    }

    #[test]
    fn every_noise_kind_has_the_requested_size_and_mean() {
        let clean = PlantedNetwork::new(4, 2, 2, 40_000)
            .seed(8)
            .generate()
            .unwrap();
        for kind in [
            NoiseKind::Gaussian,
            NoiseKind::Laplace,
            NoiseKind::Student3,
            NoiseKind::Uniform,
        ] {
            let noisy = PlantedNetwork::new(4, 2, 2, 40_000)
                .seed(8)
                .noise(0.1)
                .noise_kind(kind)
                .noise_mean(0.5)
                .generate()
                .unwrap();
            let e = &noisy.y - &clean.y;
            let cnt = (e.nrows() * e.ncols()) as f64;
            let rms = clean.y.norm_l2() / cnt.sqrt();
            let mean = e.sum() / cnt;
            let centred = e.norm_l2().powi(2) / cnt - mean * mean;
            assert!(
                (mean / rms - 0.5).abs() < 0.01,
                "{kind:?} mean {}",
                mean / rms
            );
            let sd = centred.sqrt() / rms;
            // Student-t(3) has a heavy tail: its sample variance converges slowly.
            let tol = if kind == NoiseKind::Student3 {
                0.02
            } else {
                0.005
            };
            assert!((sd - 0.1).abs() < tol, "{kind:?} sd {sd}");
        }
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(PlantedNetwork::new(0, 1, 1, 1).generate().is_err());
        assert!(
            PlantedNetwork::new(3, 4, 1, 1)
                .v_condition(Some(2.0))
                .generate()
                .is_err()
        );
        assert!(
            PlantedNetwork::new(3, 2, 1, 1)
                .noise(f64::NAN)
                .generate()
                .is_err()
        );
        assert!(
            PlantedNetwork::new(3, 2, 1, 1)
                .v_condition(Some(0.5))
                .generate()
                .is_err()
        );
    }
}
