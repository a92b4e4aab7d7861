use thiserror::Error;

/// What is wrong with a generator's settings. Every message says what to change.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum HardnessError {
    /// A dimension is zero.
    #[error("{what} must be at least 1")]
    ZeroDimension { what: &'static str },
    /// A prescribed condition number needs k ≤ d.
    #[error("a condition number for V needs k ≤ d (got k = {k}, d = {d}): lower k or drop it")]
    ConditionNeedsFullRank { k: usize, d: usize },
    /// A parameter is out of range.
    #[error("{what} must be {range} (got {got})")]
    OutOfRange {
        what: &'static str,
        range: &'static str,
        got: f64,
    },
}
