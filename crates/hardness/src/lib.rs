//! Instance generators for two-layer rectified networks (and, in time, the k = 2 NP-hardness
//! reduction).
//!
//! Every test, benchmark, sweep and CLI command draws its instances from here, so that "the
//! planted (20, 10, 10) instance with seed 3" means one thing across the project. Every draw
//! comes from a ChaCha8 generator seeded explicitly.
//!
//! # Example
//! ```
//! use twolayer_hardness::PlantedNetwork;
//!
//! let inst = PlantedNetwork::new(10, 5, 5, 1000).seed(7).generate().unwrap();
//! assert_eq!((inst.x.nrows(), inst.x.ncols()), (1000, 10));
//! assert_eq!((inst.y.nrows(), inst.y.ncols()), (1000, 5));
//! assert_eq!(inst.network.k(), 5);
//! ```

mod error;
mod planted;

pub use error::HardnessError;
pub use planted::{NoiseKind, PlantedInstance, PlantedNetwork};
