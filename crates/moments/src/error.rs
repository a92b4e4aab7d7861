use thiserror::Error;

/// What went wrong while forming a moment. Every message says what to do about it.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum MomentsError {
    /// Two inputs disagree on the number of samples (or another dimension).
    #[error("{what}: expected {expected}, got {got}; pass arrays that describe the same samples")]
    ShapeMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// There are no samples, or fewer than the statistic needs.
    #[error("only {n} samples, but {what} needs at least {needed}; pass more samples")]
    TooFewSamples {
        what: &'static str,
        n: usize,
        needed: usize,
    },
    /// The sample covariance of the inputs is singular, so the affine fit is not unique.
    #[error(
        "the input covariance is singular or nearly so (smallest eigenvalue {min_eig:.3e}, \
         largest {max_eig:.3e}): some input coordinates are constant or linearly dependent; \
         drop or combine them"
    )]
    SingularCovariance { min_eig: f64, max_eig: f64 },
    /// Reading samples from their source failed (I/O error, non-finite value, bad file).
    #[error("{0}")]
    Source(String),
    /// Two accumulators cannot be merged: they describe different shapes of data.
    #[error(
        "cannot merge moments of (d = {d_left}, m = {m_left}) with moments of (d = {d_right}, \
         m = {m_right}); merge only shards of the same data set"
    )]
    MergeMismatch {
        d_left: usize,
        m_left: usize,
        d_right: usize,
        m_right: usize,
    },
}
