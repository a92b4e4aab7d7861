use thiserror::Error;

/// What is wrong with a generator's settings. Every message says what to change.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum HardnessError {
    /// The settings make numbers that overflow (or a size beyond any memory).
    #[error(
        "the generated {what} are not all finite numbers (they overflowed); lower the noise, \
         the row norms of V or the activation's power"
    )]
    Overflow {
        /// What overflowed.
        what: &'static str,
    },
    /// The instance would hold more values than any machine's memory.
    #[error(
        "an instance with n = {n}, d = {d}, k = {k}, m = {m} would hold more than 2^60 bytes; \
         pass smaller sizes"
    )]
    TooLarge {
        /// Samples.
        n: usize,
        /// Input dimension.
        d: usize,
        /// Hidden units.
        k: usize,
        /// Outputs.
        m: usize,
    },
    /// A dimension is zero.
    #[error("{what} must be at least 1")]
    ZeroDimension {
        /// What was being checked.
        what: &'static str,
    },
    /// A prescribed condition number needs k ≤ d.
    #[error("a condition number for V needs k ≤ d (got k = {k}, d = {d}): lower k or drop it")]
    ConditionNeedsFullRank {
        /// Hidden units.
        k: usize,
        /// Input dimension.
        d: usize,
    },
    /// The exact Partition solver refuses instances this large.
    #[error(
        "the exact Partition solver handles at most {max} values (got {d}); use a smaller instance"
    )]
    TooLargeToSolve {
        /// Input dimension.
        d: usize,
        /// The largest value accepted.
        max: usize,
    },
    /// No no-instance was found within the draw budget.
    #[error(
        "no Partition no-instance with {d} values up to {max} was found in 1000 draws; \
         raise the largest value (no-instances need values large against 2^d)"
    )]
    NoInstanceNotFound {
        /// Input dimension.
        d: usize,
        /// The largest value accepted.
        max: u64,
    },
    /// Signs of the wrong length or not ±1.
    #[error("signs must be {expected} values, each +1 or -1")]
    BadSigns {
        /// The value required.
        expected: usize,
    },
    /// Signs that do not balance the instance.
    #[error("the signs do not balance the instance: ε·s = {imbalance}, not 0")]
    NotBalanced {
        /// Difference of the two part sums.
        imbalance: i64,
    },
    /// A network of the wrong shape for the gadget.
    #[error(
        "the gadget needs a network with k = 2 hidden units, m = 1 output and d = {expected_d} \
         inputs; got k = {k}, m = {m}, d = {d}"
    )]
    NotAGadgetNetwork {
        /// Hidden units.
        k: usize,
        /// Output dimension.
        m: usize,
        /// Input dimension.
        d: usize,
        /// The input dimension required.
        expected_d: usize,
    },
    /// The network does not fit the gadget within the tolerance.
    #[error(
        "the network does not fit the gadget: relative residual {residual:.3e} > tolerance \
         {tol:.1e}; only an exact (or near-exact) fit encodes a partition"
    )]
    NotAFit {
        /// Residual reached.
        residual: f64,
        /// The tolerance.
        tol: f64,
    },
    /// The fit is close but its weights do not read as signs of a partition.
    #[error("the fit does not decode to a partition: {reason}")]
    Undecodable {
        /// Why it failed.
        reason: String,
    },
    /// A parameter is out of range.
    #[error("{what} must be {range} (got {got})")]
    OutOfRange {
        /// What was being checked.
        what: &'static str,
        /// The accepted range.
        range: &'static str,
        /// The value found.
        got: f64,
    },
}
