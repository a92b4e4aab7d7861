use thiserror::Error;

/// What went wrong in a decomposition. Every message says what to do about it.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum TensorError {
    /// No slices were given.
    #[error("no slices given; pass at least one contraction of the tensor")]
    NoSlices,
    /// A slice is not square or differs in size from the first one.
    #[error(
        "slice {index} is {rows}×{cols}, expected {dim}×{dim}; all slices must be square and of one size"
    )]
    SliceShape {
        /// The offending index.
        index: usize,
        /// Rows found.
        rows: usize,
        /// Columns found.
        cols: usize,
        /// The dimension.
        dim: usize,
    },
    /// The requested rank is zero or larger than the slice dimension.
    #[error(
        "rank {rank} is not in 1..={dim}; Jennrich's method recovers at most as many factors as the dimension"
    )]
    BadRank {
        /// The rank found.
        rank: usize,
        /// The dimension.
        dim: usize,
    },
    /// A slice holds NaN or an infinity.
    #[error("slice {index} holds NaN or an infinite value; check the data the slices came from")]
    NotFinite {
        /// The offending index.
        index: usize,
    },
    /// The slices do not span `rank` dimensions.
    #[error(
        "the slices span fewer than {rank} dimensions (eigenvalue ratio {ratio:.3e} of the \
         rank-th to the largest); pass a smaller rank or better-estimated slices"
    )]
    RankDeficient {
        /// The rank found.
        rank: usize,
        /// The ratio found.
        ratio: f64,
    },
    /// A dense tensor of an order other than 3 or 4.
    #[error("tensors of order {order} are not supported; pass order 3 or 4")]
    BadOrder {
        /// Tensor order.
        order: usize,
    },
    /// A dense tensor whose value count is not d^order.
    #[error(
        "a symmetric tensor of order {order} and dimension {d} has d^order values, got {len}; check the shape"
    )]
    BadTensorShape {
        /// Input dimension.
        d: usize,
        /// Tensor order.
        order: usize,
        /// The length found.
        len: usize,
    },
    /// A dense tensor value is NaN or infinite.
    #[error("the tensor holds NaN or an infinite value at flat index {index}")]
    TensorNotFinite {
        /// The offending index.
        index: usize,
    },
    /// A dense tensor that is not symmetric.
    #[error(
        "the tensor is not symmetric (largest difference under an index swap {worst:.3e}); symmetrise it first"
    )]
    NotSymmetric {
        /// The worst value found.
        worst: f64,
    },
    /// A dense tensor too large to hold.
    #[error(
        "a dense tensor of dimension {d} and order {order} has {d}^{order} values, more than \
         {max_values} (32 GiB of float64); pass a smaller d"
    )]
    TooLarge {
        /// Dimension.
        d: usize,
        /// Order.
        order: usize,
        /// The most values accepted.
        max_values: u64,
    },
    /// A setting outside its range (noise level, tolerance).
    #[error("{what} must be {range}, got {got}")]
    OutOfRange {
        /// The setting.
        what: &'static str,
        /// What it must be.
        range: &'static str,
        /// The value given.
        got: f64,
    },
    /// The rank asked for is 0 or above what the method handles.
    #[error("rank {rank} is not in 1..={max}; {why}")]
    RankOutOfRange {
        /// The rank found.
        rank: usize,
        /// The largest value accepted.
        max: usize,
        /// Why it failed.
        why: &'static str,
    },
    /// The power method found no definite whitening slice.
    #[error(
        "no definite whitening slice in {tries} random tries, so the whitened tensor is not \
         orthogonally decomposable (weights of both signs?); use the Jennrich method"
    )]
    NotOrthogonallyDecomposable {
        /// Attempts made.
        tries: usize,
    },
    /// A starting point whose shape is not R×d.
    #[error(
        "the starting factors are {rows}×{cols}, expected {rank}×{d} (one row per component, \
         of the tensor's dimension)"
    )]
    StartShape {
        /// Rows given.
        rows: usize,
        /// Columns given.
        cols: usize,
        /// The rank asked for.
        rank: usize,
        /// The tensor's dimension.
        d: usize,
    },
    /// Every point the polish reached had (nearly) parallel factors or singular weights.
    #[error(
        "the factors are (nearly) parallel, so no weights fit them: pass a start with distinct \
         factors, a smaller rank, or use the Jennrich start (decompose)"
    )]
    DegenerateFactors,
    /// An iterative stage ran out of its time budget before it could return an answer.
    #[error(
        "{stage} did not finish within its time budget of {seconds:.1} s; raise the budget \
         (DecomposeParams::time_budget) or use the Jennrich method, which is direct"
    )]
    OutOfTime {
        /// The stage that ran out.
        stage: &'static str,
        /// The budget, in seconds.
        seconds: f64,
    },
    /// Every random pencil was singular or its eigen-decomposition failed.
    #[error(
        "no pencil could be diagonalised ({tried} tried): the slices may not share a \
         diagonalisable structure; pass more or better-estimated slices"
    )]
    NoPencil {
        /// Candidates tried.
        tried: usize,
    },
}
