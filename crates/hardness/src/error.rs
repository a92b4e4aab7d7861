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
    /// The exact Partition solver refuses instances this large.
    #[error(
        "the exact Partition solver handles at most {max} values (got {d}); use a smaller instance"
    )]
    TooLargeToSolve { d: usize, max: usize },
    /// No no-instance was found within the draw budget.
    #[error(
        "no Partition no-instance with {d} values up to {max} was found in 1000 draws; \
         raise the largest value (no-instances need values large against 2^d)"
    )]
    NoInstanceNotFound { d: usize, max: u64 },
    /// Signs of the wrong length or not ±1.
    #[error("signs must be {expected} values, each +1 or -1")]
    BadSigns { expected: usize },
    /// Signs that do not balance the instance.
    #[error("the signs do not balance the instance: ε·s = {imbalance}, not 0")]
    NotBalanced { imbalance: i64 },
    /// A network of the wrong shape for the gadget.
    #[error(
        "the gadget needs a network with k = 2 hidden units, m = 1 output and d = {expected_d} \
         inputs; got k = {k}, m = {m}, d = {d}"
    )]
    NotAGadgetNetwork {
        k: usize,
        m: usize,
        d: usize,
        expected_d: usize,
    },
    /// The network does not fit the gadget within the tolerance.
    #[error(
        "the network does not fit the gadget: relative residual {residual:.3e} > tolerance \
         {tol:.1e}; only an exact (or near-exact) fit encodes a partition"
    )]
    NotAFit { residual: f64, tol: f64 },
    /// The fit is close but its weights do not read as signs of a partition.
    #[error("the fit does not decode to a partition: {reason}")]
    Undecodable { reason: String },
    /// A parameter is out of range.
    #[error("{what} must be {range} (got {got})")]
    OutOfRange {
        what: &'static str,
        range: &'static str,
        got: f64,
    },
}
