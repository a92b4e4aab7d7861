//! Instance generators for two-layer rectified networks, and the NP-hardness reduction that
//! shows why the recovery guarantees need assumptions.
//!
//! Every test, benchmark, sweep and CLI command draws its instances from here, so that "the
//! planted (20, 10, 10) instance with seed 3" means one thing across the project. Every draw
//! comes from a ChaCha8 generator seeded explicitly.
//!
//! # Example
//! ```
//! use twolayer_hardness::{PartitionInstance, PlantedNetwork, certificate, decode, encode};
//!
//! let inst = PlantedNetwork::new(10, 5, 5, 1000).seed(7).generate().unwrap();
//! assert_eq!((inst.x.nrows(), inst.x.ncols()), (1000, 10));
//! assert_eq!(inst.network.k(), 5);
//!
//! // Partition {3, 1, 1, 2, 2, 1} is a yes-instance; its certificate fits the gadget exactly.
//! let p = PartitionInstance::new(vec![3, 1, 1, 2, 2, 1]).unwrap();
//! let signs = p.solve().unwrap().unwrap();
//! let net = certificate(&p, &signs).unwrap();
//! let (x, y) = encode(&p);
//! assert_eq!(net.predict(x.as_ref()).unwrap(), y);
//! assert_eq!(p.imbalance(&decode(&net, &p, 0.0).unwrap()), 0);
//! ```
//!
//! # Fitting two ReLU units exactly is NP-hard
//!
//! **Partition.** Given positive integers s_1, …, s_d, are there signs ε ∈ {±1}^d with
//! ε·s = 0? This is NP-complete (in the weak sense: the numbers are written in binary, and a
//! pseudo-polynomial dynamic program solves it when they are small).
//!
//! **Gadget.** In R^d take the 2d + 2 samples x = ±e_i with label 1 (i = 1..d) and x = ±s
//! with label 0. The question: is there a network y = u_1 relu(v_1·x) + u_2 relu(v_2·x), no
//! biases, that fits all 2d + 2 labels exactly?
//!
//! **Yes-instance ⇒ fit.** With ε balancing s, take u = (1, 1), v_1 = ε, v_2 = −ε. Since
//! relu(t) + relu(−t) = |t|, the network computes |ε·x|: at ±e_i it gives |ε_i| = 1, at ±s it
//! gives |ε·s| = 0. Every label matches ([`certificate`]).
//!
//! **Fit ⇒ yes-instance.** Suppose some (u, v_1, v_2) fits. Because relu(t) − relu(−t) = t,
//! the network's value at x minus its value at −x is (u_1 v_1 + u_2 v_2)·x. Every sample comes
//! with its negation and both carry the same label, so (u_1 v_1 + u_2 v_2)·e_i = 0 for every i:
//! u_1 v_1 + u_2 v_2 = 0. If u_1 = 0 or u_2 = 0, the other unit's term vanishes too and the
//! network is identically 0, which misses the label 1 at e_1. If u_1 and u_2 have opposite
//! signs, v_2 = −(u_1/u_2) v_1 is a positive multiple of v_1, so both units switch on together
//! and their contributions u_1 relu(v_1·x) + u_2 relu(v_2·x) = relu(v_1·x)(u_1 + u_2 · (−u_1/u_2))
//! = 0 cancel: the network is 0 again. So u_1, u_2 share a sign, v_2 = −c v_1 with
//! c = u_1/u_2 > 0, and the network is u_1 relu(v_1·x) + u_2 c relu(−v_1·x) = u_1 |v_1·x|.
//! Label 1 at e_i gives |u_1 v_1i| = 1, so w = u_1 v_1 ∈ {±1}^d up to the sign of u_1, and label
//! 0 at s gives w·s = 0: ε = sign(u_1 v_1) balances s ([`decode`]).
//!
//! **Caveats.** (1) Every network that fits a gadget has rank V = 1 (v_2 ∝ v_1), so this says
//! nothing against the recovery algorithms, which assume Gaussian inputs and rank V* = k; the
//! hardness lives in adversarial inputs. (2) Partition is only weakly NP-hard: the reduction
//! shows hardness when the input magnitudes can be exponentially large. (3) The statement is
//! about *exact* fitting: the labels of a no-instance can still be fitted to small, nonzero
//! error, so approximate training is not ruled out by this argument.
//!
//! # Reference
//! Bakshi, Jayaram, Woodruff, COLT 2019 (the k = 2 hardness result); docs/algorithms.md section 7.

#![warn(missing_docs)]

mod error;
mod partition;
mod planted;
mod planted_tensor;

pub use error::HardnessError;
pub use partition::{MAX_SOLVE_LEN, PartitionInstance, Signs, certificate, decode, encode};
pub use planted::{Inputs, NoiseKind, PlantedInstance, PlantedNetwork};
pub use planted_tensor::planted_tensor;

/// The faer this crate is built with, so that callers use the same matrix types.
pub use faer;

// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
