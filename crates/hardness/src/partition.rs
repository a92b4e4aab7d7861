//! The k = 2 NP-hardness reduction from Partition (docs/algorithms.md section 7).

use faer::Mat;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use twolayer_recovery::{Activation, Network};

use crate::error::HardnessError;

/// Largest instance [`PartitionInstance::solve`] handles: meet in the middle enumerates
/// 2^(d/2) signed sums per half.
pub const MAX_SOLVE_LEN: usize = 40;

/// A Partition instance: positive integers s_1, …, s_d. It is a yes-instance when some signs
/// ε ∈ {±1}^d balance it, ε·s = 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInstance {
    values: Vec<u64>,
}

/// Signs ε ∈ {±1}^d, one per value.
pub type Signs = Vec<i8>;

impl PartitionInstance {
    /// An instance from positive integers whose total fits in 62 bits (so every signed sum is
    /// exact in i64 and, below 2^53, in f64).
    pub fn new(values: Vec<u64>) -> Result<Self, HardnessError> {
        if values.is_empty() {
            return Err(HardnessError::ZeroDimension {
                what: "the number of values",
            });
        }
        if let Some(&v) = values.iter().find(|&&v| v == 0) {
            return Err(HardnessError::OutOfRange {
                what: "every Partition value",
                range: "a positive integer",
                got: v as f64,
            });
        }
        let total = values.iter().try_fold(0u64, |acc, &v| acc.checked_add(v));
        match total {
            Some(t) if t < (1 << 53) => Ok(Self { values }),
            _ => Err(HardnessError::OutOfRange {
                what: "the sum of the values",
                range: "below 2^53 (so the gadget's labels are exact in f64)",
                got: f64::INFINITY,
            }),
        }
    }

    /// The values.
    pub fn values(&self) -> &[u64] {
        &self.values
    }

    /// Number of values d (the gadget's input dimension).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Always false: an instance has at least one value.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// ε·s, exact.
    pub fn imbalance(&self, signs: &[i8]) -> i64 {
        self.values
            .iter()
            .zip(signs)
            .map(|(&v, &e)| i64::from(e) * v as i64)
            .sum()
    }

    /// Exact solver: signs that balance the instance, or `None` for a no-instance. Meet in
    /// the middle: O(2^(d/2) d) time and memory; refuses d > [`MAX_SOLVE_LEN`].
    pub fn solve(&self) -> Result<Option<Signs>, HardnessError> {
        let d = self.len();
        if d > MAX_SOLVE_LEN {
            return Err(HardnessError::TooLargeToSolve {
                d,
                max: MAX_SOLVE_LEN,
            });
        }
        let half = d / 2;
        let (left, right) = self.values.split_at(half);
        // Signed sums of the left half, with the mask that made each (bit set = sign −1).
        let mut sums: HashMap<i64, u64> = HashMap::with_capacity(1 << left.len());
        for mask in 0u64..(1 << left.len()) {
            sums.entry(signed_sum(left, mask)).or_insert(mask);
        }
        for mask in 0u64..(1 << right.len()) {
            if let Some(&lmask) = sums.get(&-signed_sum(right, mask)) {
                let signs = (0..d)
                    .map(|i| {
                        let bit = if i < half {
                            (lmask >> i) & 1
                        } else {
                            (mask >> (i - half)) & 1
                        };
                        if bit == 1 { -1 } else { 1 }
                    })
                    .collect();
                return Ok(Some(signs));
            }
        }
        Ok(None)
    }

    /// A random yes-instance: d − 1 values uniform in 1..=max, random signs, and a last value
    /// that balances them. Deterministic given the seed. Needs d ≥ 2.
    pub fn planted_yes(d: usize, max: u64, seed: u64) -> Result<(Self, Signs), HardnessError> {
        if d < 2 || max == 0 {
            return Err(HardnessError::OutOfRange {
                what: "d (and the largest value) of a planted yes-instance",
                range: "d ≥ 2 and max ≥ 1",
                got: d as f64,
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        loop {
            let mut values: Vec<u64> = (0..d - 1).map(|_| rng.random_range(1..=max)).collect();
            let mut signs: Signs = (0..d - 1)
                .map(|_| if rng.random::<bool>() { 1 } else { -1 })
                .collect();
            let partial: i64 = values
                .iter()
                .zip(&signs)
                .map(|(&v, &e)| i64::from(e) * v as i64)
                .sum();
            if partial == 0 {
                continue; // the last value must be positive
            }
            values.push(partial.unsigned_abs());
            signs.push(if partial > 0 { -1 } else { 1 });
            let inst = Self::new(values)?;
            debug_assert_eq!(inst.imbalance(&signs), 0);
            return Ok((inst, signs));
        }
    }

    /// A random no-instance with an even total (so parity alone does not decide it), checked
    /// by [`Self::solve`]: values uniform in 1..=max, redrawn until the solver finds no
    /// partition (at most 1000 draws). Large `max` relative to 2^d makes no-instances common.
    pub fn planted_no(d: usize, max: u64, seed: u64) -> Result<Self, HardnessError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..1000 {
            let values: Vec<u64> = (0..d).map(|_| rng.random_range(1..=max.max(1))).collect();
            if values.iter().sum::<u64>() % 2 == 1 {
                continue;
            }
            let inst = Self::new(values)?;
            if inst.solve()?.is_none() {
                return Ok(inst);
            }
        }
        Err(HardnessError::NoInstanceNotFound { d, max })
    }
}

fn signed_sum(values: &[u64], mask: u64) -> i64 {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if (mask >> i) & 1 == 1 {
                -(v as i64)
            } else {
                v as i64
            }
        })
        .sum()
}

/// The gadget of the reduction: 2d + 2 samples in R^d (one per row) and their labels,
/// x = ±e_i with label 1 and x = ±s with label 0. Exact in f64 (values below 2^53).
pub fn encode(instance: &PartitionInstance) -> (Mat<f64>, Mat<f64>) {
    let d = instance.len();
    let s = instance.values();
    let x = Mat::from_fn(2 * d + 2, d, |r, c| {
        let sign = if r % 2 == 0 { 1.0 } else { -1.0 };
        match r / 2 {
            i if i < d => {
                if i == c {
                    sign
                } else {
                    0.0
                }
            }
            _ => sign * s[c] as f64,
        }
    });
    let y = Mat::from_fn(2 * d + 2, 1, |r, _| if r / 2 < d { 1.0 } else { 0.0 });
    (x, y)
}

/// The certificate of a yes-instance: U = (1, 1), V = (ε; −ε), which computes |ε·x| and so
/// fits the gadget exactly. Refuses signs that do not balance the instance.
pub fn certificate(instance: &PartitionInstance, signs: &[i8]) -> Result<Network, HardnessError> {
    check_signs(instance, signs)?;
    let d = instance.len();
    let v = Mat::from_fn(2, d, |r, c| {
        let e = f64::from(signs[c]);
        if r == 0 { e } else { -e }
    });
    let u = Mat::from_fn(1, 2, |_, _| 1.0);
    Ok(Network::new(u, v, Activation::Relu).expect("finite weights of matching shapes"))
}

fn check_signs(instance: &PartitionInstance, signs: &[i8]) -> Result<(), HardnessError> {
    if signs.len() != instance.len() || signs.iter().any(|&e| e != 1 && e != -1) {
        return Err(HardnessError::BadSigns {
            expected: instance.len(),
        });
    }
    let imbalance = instance.imbalance(signs);
    if imbalance != 0 {
        return Err(HardnessError::NotBalanced { imbalance });
    }
    Ok(())
}

/// Reads ε off a network that fits the gadget (exactly, or to relative residual `tol`):
/// ε = sign(u_i V_i) for the unit with the larger ‖u_i V_i‖, then checks that every
/// |u_i V_ij| is near 1 and that ε·s = 0. A fit that does not decode is reported, not guessed.
pub fn decode(
    network: &Network,
    instance: &PartitionInstance,
    tol: f64,
) -> Result<Signs, HardnessError> {
    if !(tol.is_finite() && tol >= 0.0) {
        return Err(HardnessError::OutOfRange {
            what: "the tolerance",
            range: "finite and ≥ 0",
            got: tol,
        });
    }
    let d = instance.len();
    if network.k() != 2 || network.m() != 1 || network.d() != d {
        return Err(HardnessError::NotAGadgetNetwork {
            k: network.k(),
            m: network.m(),
            d: network.d(),
            expected_d: d,
        });
    }
    let (x, y) = encode(instance);
    let pred = network.predict(x.as_ref()).expect("shapes checked above");
    let residual = (&pred - &y).norm_l2() / y.norm_l2();
    if residual.is_nan() || residual > tol {
        return Err(HardnessError::NotAFit { residual, tol });
    }
    let unit = |i: usize| -> Vec<f64> {
        (0..d)
            .map(|c| network.u[(0, i)] * network.v[(i, c)])
            .collect()
    };
    let (w0, w1) = (unit(0), unit(1));
    let norm = |w: &[f64]| w.iter().map(|t| t * t).sum::<f64>();
    let w = if norm(&w0) >= norm(&w1) { w0 } else { w1 };
    // An exact fit has |u_i V_ij| = 1 for every j; far from 1 the fit is not the gadget's.
    if let Some((j, &wj)) = w
        .iter()
        .enumerate()
        .find(|(_, t)| !t.is_finite() || (t.abs() - 1.0).abs() > 0.5)
    {
        return Err(HardnessError::Undecodable {
            reason: format!(
                "|u·V| = {:.3e} at coordinate {j}, expected about 1",
                wj.abs()
            ),
        });
    }
    // Every |t| is within 0.5 of 1 here, so its sign is ±1.
    let signs: Signs = w.iter().map(|&t| t.signum() as i8).collect();
    check_signs(instance, &signs).map_err(|e| HardnessError::Undecodable {
        reason: e.to_string(),
    })?;
    Ok(signs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solver_decides_small_instances() {
        let yes = PartitionInstance::new(vec![3, 1, 1, 2, 2, 1]).unwrap();
        let signs = yes.solve().unwrap().unwrap();
        assert_eq!(yes.imbalance(&signs), 0);
        let no = PartitionInstance::new(vec![2, 4, 8]).unwrap(); // even total, no partition
        assert_eq!(no.solve().unwrap(), None);
        let odd = PartitionInstance::new(vec![1, 2, 4]).unwrap();
        assert_eq!(odd.solve().unwrap(), None);
    }

    #[test]
    fn gadget_shape_and_labels() {
        let inst = PartitionInstance::new(vec![3, 1, 2]).unwrap();
        let (x, y) = encode(&inst);
        assert_eq!((x.nrows(), x.ncols(), y.nrows()), (8, 3, 8));
        assert_eq!((x[(2, 1)], x[(3, 1)], y[(3, 0)]), (1.0, -1.0, 1.0));
        assert_eq!((x[(7, 0)], y[(7, 0)]), (-3.0, 0.0));
    }

    #[test]
    fn certificate_fits_exactly_and_decodes() {
        let inst = PartitionInstance::new(vec![3, 1, 1, 2, 2, 1]).unwrap();
        let signs = inst.solve().unwrap().unwrap();
        let net = certificate(&inst, &signs).unwrap();
        let (x, y) = encode(&inst);
        assert_eq!(net.predict(x.as_ref()).unwrap(), y);
        let back = decode(&net, &inst, 0.0).unwrap();
        assert!(back == signs || back.iter().zip(&signs).all(|(a, b)| a == &-b));
    }

    #[test]
    fn bad_certificates_and_fits_are_reported() {
        let inst = PartitionInstance::new(vec![3, 1, 1, 2, 2, 1]).unwrap();
        assert!(matches!(
            certificate(&inst, &[1, 1, 1, 1, 1, 1]),
            Err(HardnessError::NotBalanced { imbalance: 10 })
        ));
        assert!(matches!(
            certificate(&inst, &[1, 1]),
            Err(HardnessError::BadSigns { .. })
        ));
        let zero = Network::new(Mat::zeros(1, 2), Mat::zeros(2, 6), Activation::Relu).unwrap();
        assert!(matches!(
            decode(&zero, &inst, 1e-6),
            Err(HardnessError::NotAFit { .. })
        ));
        let wrong = Network::new(Mat::zeros(1, 3), Mat::zeros(3, 6), Activation::Relu).unwrap();
        assert!(matches!(
            decode(&wrong, &inst, 1e-6),
            Err(HardnessError::NotAGadgetNetwork { .. })
        ));
    }

    /// The checks after the fit: a network accepted as a fit (a loose tolerance) whose
    /// |u_i V_ij| are far from 1 is not the gadget's, and signs read off a fit must balance.
    #[test]
    fn decode_refuses_what_is_not_a_partition() {
        let inst = PartitionInstance::new(vec![3, 1, 1, 2, 2, 1]).unwrap();
        let zero = Network::new(Mat::zeros(1, 2), Mat::zeros(2, 6), Activation::Relu).unwrap();
        match decode(&zero, &inst, 10.0) {
            Err(HardnessError::Undecodable { reason }) => {
                assert!(
                    reason.contains("|u·V| = 0.000e0 at coordinate 0"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
        // |u V| = 1 everywhere, but all signs +: ε·s = 10, so no partition.
        let u = Mat::from_fn(1, 2, |_, _| 1.0);
        let v = Mat::from_fn(2, 6, |i, _| if i == 0 { 1.0 } else { -1.0 });
        let unbalanced = Network::new(u, v, Activation::Relu).unwrap();
        match decode(&unbalanced, &inst, 1e3) {
            Err(HardnessError::Undecodable { reason }) => {
                assert!(reason.contains("do not balance"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        // The certificate decodes to its own signs (unit 0 is u₀V₀ = ε) at tolerance 0.
        let signs = inst.solve().unwrap().unwrap();
        let net = certificate(&inst, &signs).unwrap();
        assert_eq!(decode(&net, &inst, 0.0).unwrap(), signs);
        // The signs come from the larger unit: a faint unit 0 (0.01 ε') beside a real unit 1.
        let other: Vec<i8> = signs.iter().map(|s| -s).collect();
        let u = Mat::from_fn(1, 2, |_, _| 1.0);
        let v = Mat::from_fn(2, 6, |i, j| {
            if i == 0 {
                0.01 * f64::from(signs[j])
            } else {
                f64::from(other[j])
            }
        });
        let faint = Network::new(u, v, Activation::Relu).unwrap();
        assert_eq!(decode(&faint, &inst, 1e3).unwrap(), other);
        // |u V| = 1.5 is still "about 1" (the bound is 0.5 away, inclusive).
        let u = Mat::from_fn(1, 2, |_, _| 1.5);
        let v = Mat::from_fn(2, 6, |i, j| {
            f64::from(signs[j]) * if i == 0 { 1.0 } else { -1.0 }
        });
        let wide = Network::new(u, v, Activation::Relu).unwrap();
        assert_eq!(decode(&wide, &inst, 1e3).unwrap(), signs);
        // A weight that is not a number decodes to nothing (not to a sign).
        let mut broken = net.clone();
        broken.v[(0, 2)] = f64::NAN;
        broken.v[(1, 2)] = f64::NAN;
        match decode(&broken, &inst, 1e300) {
            Err(HardnessError::Undecodable { reason }) => {
                assert!(reason.contains("NaN at coordinate 2"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        // A negative tolerance is refused, as NaN is.
        for tol in [-1.0, f64::NAN] {
            assert!(matches!(
                decode(&net, &inst, tol),
                Err(HardnessError::OutOfRange { .. })
            ));
        }
        // A two-unit, one-output network of the wrong input dimension is not the gadget's.
        let narrow = Network::new(Mat::zeros(1, 2), Mat::zeros(2, 5), Activation::Relu).unwrap();
        assert!(matches!(
            decode(&narrow, &inst, 1e-6),
            Err(HardnessError::NotAGadgetNetwork { .. })
        ));
    }

    #[test]
    fn generators_are_what_they_say() {
        for seed in 0..5 {
            let (yes, signs) = PartitionInstance::planted_yes(8, 100, seed).unwrap();
            assert_eq!(yes.imbalance(&signs), 0);
            let no = PartitionInstance::planted_no(8, 1 << 20, seed).unwrap();
            assert_eq!(no.values().iter().sum::<u64>() % 2, 0);
            assert_eq!(no.solve().unwrap(), None);
        }
        assert!(PartitionInstance::new(vec![0, 1]).is_err());
        assert!(PartitionInstance::new(vec![]).is_err());
    }
}
