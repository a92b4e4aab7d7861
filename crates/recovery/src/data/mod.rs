//! The data: input checks and moments (`checks`), what the inputs look like and their
//! whitening (`analysis`, docs/algorithms.md section 6), evenly spread subsets (`subsample`).

pub(crate) mod analysis;
pub(crate) mod checks;
pub(crate) mod subsample;
