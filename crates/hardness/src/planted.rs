use faer::Mat;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp1, StandardNormal, StudentT};
use serde::Serialize;
use twolayer_recovery::{Activation, Network};

use crate::error::HardnessError;

/// A planted Gaussian instance: X with rows x_j ~ N(0, I_d), labels y_j = U f(V x_j) + e_j.
///
/// Defaults: rows of V uniform on the unit sphere, U with N(0, 1) entries, no noise, seed 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlantedNetwork {
    d: usize,
    k: usize,
    m: usize,
    n: usize,
    noise: f64,
    noise_kind: NoiseKind,
    noise_mean: f64,
    v_condition: Option<f64>,
    v_row_norms: Option<(f64, f64)>,
    near_parallel: Option<f64>,
    duplicate_unit: bool,
    u_condition: Option<f64>,
    small_output: Option<f64>,
    inputs: Inputs,
    #[serde(serialize_with = "activation_name")]
    activation: Activation,
    seed: u64,
}

/// The activation by its command-line name (a user's own function has no other form).
fn activation_name<S: serde::Serializer>(f: &Activation, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&f.name())
}

/// The distribution of the inputs x.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Inputs {
    /// N(0, I_d): what the guarantees assume.
    Gaussian,
    /// N(0, Σ), Σ = R diag(λ) Rᵀ with Haar R and λ spaced geometrically from 1 down to 1/κ:
    /// Gaussian but anisotropic, condition number κ.
    Anisotropic {
        /// Condition number of Σ (≥ 1).
        kappa: f64,
    },
    /// Uniform on the sphere of radius √d: rotation-invariant, not Gaussian.
    Sphere,
    /// Independent ±1 coordinates: discrete, not rotation-invariant.
    Rademacher,
    /// Independent Student-t(3) coordinates scaled to unit variance: heavy tails.
    Student3,
}

/// The distribution of the label noise, always scaled to unit variance before `noise` (the
/// standard deviation relative to the label RMS) is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
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
            v_row_norms: None,
            near_parallel: None,
            duplicate_unit: false,
            u_condition: None,
            small_output: None,
            inputs: Inputs::Gaussian,
            activation: Activation::Relu,
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

    /// Rows of V rescaled to norms drawn log-uniformly from [lo, hi] (hidden units of very
    /// different scales). `None` keeps the norms from the construction.
    pub fn v_row_norms(mut self, range: Option<(f64, f64)>) -> Self {
        self.v_row_norms = range;
        self
    }

    /// Unit 1 placed at this angle (degrees) from unit 0: nearly parallel units, the hard
    /// case for every method (the samples telling them apart are a fraction θ/180 of all).
    /// Needs k ≥ 2 and d ≥ 2.
    pub fn near_parallel(mut self, degrees: Option<f64>) -> Self {
        self.near_parallel = degrees;
        self
    }

    /// Unit 1 an exact copy of unit 0: a degenerate network (rank V < k), identifiable only
    /// through the sum of the two output weights. Needs k ≥ 2.
    pub fn duplicate_unit(mut self, duplicate: bool) -> Self {
        self.duplicate_unit = duplicate;
        self
    }

    /// U = A diag(s) Bᵀ with Haar A, B and min(m, k) singular values spaced geometrically
    /// from 1 down to 1/κ. `None` keeps N(0, 1) entries.
    pub fn u_condition(mut self, kappa: Option<f64>) -> Self {
        self.u_condition = kappa;
        self
    }

    /// The last column of U scaled by this factor: one unit that barely reaches the output.
    pub fn small_output(mut self, scale: Option<f64>) -> Self {
        self.small_output = scale;
        self
    }

    /// The hidden activation (default ReLU).
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// The input distribution (default N(0, I_d)).
    pub fn inputs(mut self, inputs: Inputs) -> Self {
        self.inputs = inputs;
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
        // n·(d + m + k) float64 values and the d·k, m·k weights, without overflow.
        let fits = n_values(self.n, self.d, self.k, self.m)
            .and_then(|v| v.checked_mul(8))
            .is_some_and(|bytes| bytes <= 1 << 60);
        if !fits {
            return Err(HardnessError::TooLarge {
                n: self.n,
                d: self.d,
                k: self.k,
                m: self.m,
            });
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
        let v = self.shape_v(v, &mut rng)?;
        let u = self.draw_u(&mut rng)?;
        let network = Network::new(u, v, self.activation.clone())
            .map_err(|_| HardnessError::Overflow { what: "weights" })?;
        let x = self.draw_inputs(&mut rng)?;
        let mut y = network
            .predict(x.as_ref())
            .map_err(|_| HardnessError::Overflow { what: "labels" })?;
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
        if !y.col_iter().all(|c| c.iter().all(|v| v.is_finite())) || !rms.is_finite() {
            return Err(HardnessError::Overflow { what: "labels" });
        }
        Ok(PlantedInstance {
            x,
            y,
            network,
            noise_std,
        })
    }
}

/// n·(d + m + k) + k·(d + m): how many float64 values an instance holds, if it fits a
/// `usize`.
fn n_values(n: usize, d: usize, k: usize, m: usize) -> Option<usize> {
    let per_sample = d.checked_add(m)?.checked_add(k)?;
    n.checked_mul(per_sample)?
        .checked_add(k.checked_mul(d.checked_add(m)?)?)
}

impl PlantedNetwork {
    /// The bytes the instance takes in memory (samples, labels, hidden activations and
    /// weights as float64), or `None` when that overflows: for callers to check against the
    /// memory they have before [`generate`](Self::generate).
    pub fn bytes(&self) -> Option<u64> {
        n_values(self.n, self.d, self.k, self.m)?
            .checked_mul(8)
            .map(|b| b as u64)
    }

    /// Applies the near-parallel, duplicate and row-norm options to V.
    fn shape_v(&self, mut v: Mat<f64>, rng: &mut ChaCha8Rng) -> Result<Mat<f64>, HardnessError> {
        let (k, d) = v.shape();
        if let Some(deg) = self.near_parallel {
            if k < 2 || d < 2 || !(deg.is_finite() && deg > 0.0 && deg < 180.0) {
                return Err(HardnessError::OutOfRange {
                    what: "the near-parallel angle (needs k ≥ 2, d ≥ 2)",
                    range: "in (0, 180) degrees",
                    got: deg,
                });
            }
            let n0 = v.row(0).norm_l2();
            let v0: Vec<f64> = (0..d).map(|a| v[(0, a)] / n0).collect();
            // A random unit vector orthogonal to v0.
            let mut w: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
            let c: f64 = w.iter().zip(&v0).map(|(a, b)| a * b).sum();
            w.iter_mut().zip(&v0).for_each(|(a, b)| *a -= c * b);
            let nw = w.iter().map(|a| a * a).sum::<f64>().sqrt();
            let t = deg.to_radians();
            let n1 = v.row(1).norm_l2();
            for a in 0..d {
                v[(1, a)] = n1 * (t.cos() * v0[a] + t.sin() * w[a] / nw);
            }
        }
        if self.duplicate_unit {
            if k < 2 {
                return Err(HardnessError::OutOfRange {
                    what: "k for a duplicated unit",
                    range: "at least 2",
                    got: k as f64,
                });
            }
            for a in 0..d {
                v[(1, a)] = v[(0, a)];
            }
        }
        if let Some((lo, hi)) = self.v_row_norms {
            if !(lo > 0.0 && hi >= lo && hi.is_finite()) {
                return Err(HardnessError::OutOfRange {
                    what: "the row-norm range of V",
                    range: "0 < lo ≤ hi < ∞",
                    got: lo,
                });
            }
            for i in 0..k {
                let target = (lo.ln() + rng.random::<f64>() * (hi / lo).ln()).exp();
                let norm = v.row(i).norm_l2();
                let mut row = v.row_mut(i);
                row *= target / norm;
            }
        }
        Ok(v)
    }

    /// U with N(0, 1) entries or a prescribed condition number, then the small-output option.
    fn draw_u(&self, rng: &mut ChaCha8Rng) -> Result<Mat<f64>, HardnessError> {
        let (m, k) = (self.m, self.k);
        let mut u = match self.u_condition {
            None => gaussian(rng, m, k),
            Some(kappa) => {
                if !(kappa >= 1.0 && kappa.is_finite()) {
                    return Err(HardnessError::OutOfRange {
                        what: "the condition number of U",
                        range: "finite and ≥ 1",
                        got: kappa,
                    });
                }
                let r = m.min(k);
                let a = haar_orthonormal(rng, m, r);
                let b = haar_orthonormal(rng, k, r);
                let s = |i: usize| {
                    if r == 1 {
                        1.0
                    } else {
                        kappa.powf(-(i as f64) / (r - 1) as f64)
                    }
                };
                let as_ = Mat::from_fn(m, r, |i, j| a[(i, j)] * s(j));
                // Scaled so that entries have unit mean square, like the default.
                let mut u = &as_ * b.transpose();
                let rms = u.norm_l2() / ((m * k) as f64).sqrt();
                u *= faer::Scale(1.0 / rms);
                u
            }
        };
        if let Some(scale) = self.small_output {
            if !scale.is_finite() {
                return Err(HardnessError::OutOfRange {
                    what: "the small-output scale",
                    range: "finite",
                    got: scale,
                });
            }
            for o in 0..m {
                u[(o, k - 1)] *= scale;
            }
        }
        Ok(u)
    }

    /// n samples of the chosen input distribution, one per row.
    fn draw_inputs(&self, rng: &mut ChaCha8Rng) -> Result<Mat<f64>, HardnessError> {
        let (n, d) = (self.n, self.d);
        Ok(match self.inputs {
            Inputs::Gaussian => gaussian(rng, n, d),
            Inputs::Anisotropic { kappa } => {
                if !(kappa >= 1.0 && kappa.is_finite()) {
                    return Err(HardnessError::OutOfRange {
                        what: "the condition number of the input covariance",
                        range: "finite and ≥ 1",
                        got: kappa,
                    });
                }
                let r = haar_orthonormal(rng, d, d);
                let lam = |i: usize| {
                    if d == 1 {
                        1.0
                    } else {
                        kappa.powf(-(i as f64) / (d - 1) as f64)
                    }
                };
                // x = Σ^{1/2} z with Σ^{1/2} = R diag(√λ) Rᵀ.
                let root = Mat::from_fn(d, d, |a, b| {
                    (0..d)
                        .map(|i| r[(a, i)] * lam(i).sqrt() * r[(b, i)])
                        .sum::<f64>()
                });
                let z = gaussian(rng, n, d);
                &z * root.transpose()
            }
            Inputs::Sphere => {
                let mut z = gaussian(rng, n, d);
                for j in 0..n {
                    let norm = z.row(j).norm_l2().max(f64::MIN_POSITIVE);
                    let mut row = z.row_mut(j);
                    row *= (d as f64).sqrt() / norm;
                }
                z
            }
            Inputs::Rademacher => {
                Mat::from_fn(n, d, |_, _| if rng.random::<bool>() { 1.0 } else { -1.0 })
            }
            Inputs::Student3 => {
                let t = StudentT::new(3.0).expect("3 degrees of freedom");
                Mat::from_fn(n, d, |_, _| rng.sample::<f64, _>(t) / 3f64.sqrt())
            }
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
    fn weight_options_do_what_they_say() {
        let base = || PlantedNetwork::new(6, 4, 5, 10).seed(2);
        let near = base()
            .near_parallel(Some(5.0))
            .generate()
            .unwrap()
            .network
            .v;
        let cos = (near.row(0) * near.row(1).transpose())
            / (near.row(0).norm_l2() * near.row(1).norm_l2());
        assert!((cos - 5f64.to_radians().cos()).abs() < 1e-12);
        let dup = base().duplicate_unit(true).generate().unwrap().network.v;
        assert_eq!(dup.row(0), dup.row(1));
        let normed = base()
            .v_row_norms(Some((0.1, 10.0)))
            .generate()
            .unwrap()
            .network
            .v;
        assert!((0..4).all(|i| (0.1 - 1e-12..=10.0 + 1e-12).contains(&normed.row(i).norm_l2())));
        let u = base().u_condition(Some(50.0)).generate().unwrap().network.u;
        let s = u.singular_values().unwrap();
        assert!((s[0] / s[3] - 50.0).abs() < 1e-8, "{s:?}");
        let small = base()
            .small_output(Some(1e-3))
            .generate()
            .unwrap()
            .network
            .u;
        let plain = base().generate().unwrap().network.u;
        assert!((small[(2, 3)] - 1e-3 * plain[(2, 3)]).abs() < 1e-15);
    }

    #[test]
    fn input_distributions_have_their_shape() {
        let draw = |inputs| {
            PlantedNetwork::new(4, 2, 1, 20_000)
                .seed(3)
                .inputs(inputs)
                .generate()
                .unwrap()
                .x
        };
        let sphere = draw(Inputs::Sphere);
        assert!((sphere.row(7).norm_l2() - 2.0).abs() < 1e-12);
        let rad = draw(Inputs::Rademacher);
        assert!(rad.col(1).iter().all(|&t| t == 1.0 || t == -1.0));
        for inputs in [
            Inputs::Student3,
            Inputs::Gaussian,
            Inputs::Sphere,
            Inputs::Rademacher,
        ] {
            let x = draw(inputs);
            let var = x.squared_norm_l2() / (x.nrows() * x.ncols()) as f64;
            assert!((var - 1.0).abs() < 0.1, "{inputs:?}: variance {var}");
        }
        let aniso = draw(Inputs::Anisotropic { kappa: 100.0 });
        let cov = aniso.transpose() * &aniso * faer::Scale(1.0 / 20_000.0);
        let ev = cov.self_adjoint_eigenvalues(faer::Side::Lower).unwrap();
        let ratio = ev[3] / ev[0];
        assert!((ratio / 100.0 - 1.0).abs() < 0.1, "condition {ratio}");
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(
            PlantedNetwork::new(3, 1, 1, 5)
                .near_parallel(Some(5.0))
                .generate()
                .is_err()
        );
        assert!(
            PlantedNetwork::new(3, 2, 1, 5)
                .near_parallel(Some(200.0))
                .generate()
                .is_err()
        );
        assert!(
            PlantedNetwork::new(3, 1, 1, 5)
                .duplicate_unit(true)
                .generate()
                .is_err()
        );
        assert!(
            PlantedNetwork::new(3, 2, 1, 5)
                .v_row_norms(Some((2.0, 1.0)))
                .generate()
                .is_err()
        );
        assert!(
            PlantedNetwork::new(3, 2, 1, 5)
                .u_condition(Some(0.5))
                .generate()
                .is_err()
        );
        assert!(
            PlantedNetwork::new(3, 2, 1, 5)
                .inputs(Inputs::Anisotropic { kappa: f64::NAN })
                .generate()
                .is_err()
        );
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
