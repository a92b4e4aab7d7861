use thiserror::Error;

/// What went wrong while forming a moment. Every message says what to do about it.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum MomentsError {
    /// Two inputs disagree on the number of samples (or another dimension).
    #[error("{what}: expected {expected}, got {got}; pass arrays that describe the same samples")]
    ShapeMismatch {
        /// What was being checked.
        what: &'static str,
        /// The value required.
        expected: usize,
        /// The value found.
        got: usize,
    },
    /// There are no samples, or fewer than the statistic needs.
    #[error("only {n} samples, but {what} needs at least {needed}; pass more samples")]
    TooFewSamples {
        /// What was being checked.
        what: &'static str,
        /// Samples given.
        n: usize,
        /// The minimum required.
        needed: usize,
    },
    /// The sample covariance of the inputs is singular, so the affine fit is not unique.
    #[error(
        "the input covariance is singular or nearly so (smallest eigenvalue {min_eig:.3e}, \
         largest {max_eig:.3e}): some input coordinates are constant or linearly dependent; \
         drop or combine them"
    )]
    SingularCovariance {
        /// Smallest eigenvalue.
        min_eig: f64,
        /// Largest eigenvalue.
        max_eig: f64,
    },
    /// A sample holds NaN or an infinity.
    #[error(
        "{what} holds a non-finite value (NaN or ±inf) at row {row}, column {col}; \
         clean or drop that sample"
    )]
    NotFinite {
        /// "X" or "Y".
        what: &'static str,
        /// The sample (row of the file) of the first bad entry.
        row: usize,
        /// Its column.
        col: usize,
    },
    /// Reading samples from their source failed (I/O error, non-finite value, bad file).
    #[error("{0}")]
    Source(String),
    /// Two accumulators cannot be merged: they describe different shapes of data.
    #[error(
        "cannot merge moments of (d = {d_left}, m = {m_left}) with moments of (d = {d_right}, \
         m = {m_right}); merge only shards of the same data set"
    )]
    MergeMismatch {
        /// Input dimension of the left operand.
        d_left: usize,
        /// Output dimension of the left operand.
        m_left: usize,
        /// Input dimension of the right operand.
        d_right: usize,
        /// Output dimension of the right operand.
        m_right: usize,
    },
}
