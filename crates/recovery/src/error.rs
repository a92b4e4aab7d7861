use thiserror::Error;
use twolayer_moments::MomentsError;
use twolayer_tensor::TensorError;

/// What went wrong in a recovery. Every message says what was found and what to do.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum RecoveryError {
    /// An array has no rows or no columns.
    #[error("{what} is empty ({rows}×{cols}); pass at least one sample and one feature")]
    Empty {
        /// What was being checked.
        what: &'static str,
        /// Rows found.
        rows: usize,
        /// Columns found.
        cols: usize,
    },
    /// Two arrays disagree on a dimension.
    #[error("{what}: expected {expected}, got {got}")]
    Shape {
        /// What was being checked.
        what: &'static str,
        /// The value required.
        expected: usize,
        /// The value found.
        got: usize,
    },
    /// An array holds NaN or an infinity.
    #[error(
        "{what} holds a non-finite value (NaN or ±inf) at row {row}, column {col}; \
         clean or drop that sample"
    )]
    NotFinite {
        /// What was being checked.
        what: &'static str,
        /// Row of the first bad entry.
        row: usize,
        /// Column of the first bad entry.
        col: usize,
    },
    /// Every label is zero: no unit can be read off them.
    #[error(
        "the labels Y are all zero (rank 0), so there is nothing to fit; check that Y is the \
         right file (or column) and that it holds the network's outputs"
    )]
    ZeroLabels,
    /// Zero hidden units were requested.
    #[error("k = 0 hidden units requested; pass k ≥ 1 or leave it out to detect it")]
    ZeroK,
    /// More hidden units than input dimensions.
    #[error(
        "k = {k} hidden units but the inputs have d = {d} dimensions; recovery needs \
         k ≤ d (pass a smaller k, or check that the labels are noiseless: noise makes Y full rank)"
    )]
    KTooLarge {
        /// Hidden units.
        k: usize,
        /// Input dimension.
        d: usize,
    },
    /// Not enough samples for the method to run at all.
    #[error(
        "only {n} samples; recovery at d = {d}, k = {k} needs at least {needed} \
         (about {recommended} for reliable success): pass more samples or a smaller k"
    )]
    TooFewSamples {
        /// Samples given.
        n: usize,
        /// Input dimension.
        d: usize,
        /// Hidden units.
        k: usize,
        /// The minimum required.
        needed: usize,
        /// Samples recommended.
        recommended: usize,
    },
    /// The labels span fewer dimensions than the requested number of units.
    #[error(
        "the labels Y have numerical rank {rank} (relative singular values {singular_values:?}) \
         but k = {k}; this method needs rank U* = k: pass k = {rank}, or use more outputs"
    )]
    RankDeficient {
        /// The rank found.
        rank: usize,
        /// Hidden units.
        k: usize,
        /// Singular values of Y relative to the largest.
        singular_values: Vec<f64>,
    },
    /// The exact step verified fewer units than k.
    #[error(
        "found {found} of {k} hidden units after {candidates} candidate directions ({}); {}",
        search_outcome(*closest_miss, *wide_nulls, *failed_checks),
        search_advice(*n, *recommended)
    )]
    UnitsNotFound {
        /// How many were found.
        found: usize,
        /// Hidden units.
        k: usize,
        /// Candidate directions tried.
        candidates: usize,
        /// The smallest null-space ratio σ_k/σ_1 of a candidate that found no null vector,
        /// among those that stayed at or above the 1e-9 a null vector needs (∞ if none did):
        /// near 1e-9 suggests the labels are slightly noisy; far above it, a unit the
        /// candidates never isolated.
        closest_miss: f64,
        /// Candidates whose extreme sets kept a null space of two or more dimensions (units
        /// silent together: near-parallel units, or too few samples to separate them).
        wide_nulls: usize,
        /// Null vectors that gave no unit passing the check on other samples.
        failed_checks: usize,
        /// Samples given.
        n: usize,
        /// Samples recommended.
        recommended: usize,
    },
    /// The labels were declared noiseless but no method found an exact fit.
    #[error(
        "the labels were declared noiseless but the best fit leaves a relative residual of \
         {residual_rel:.2e} (exact needs < 1e-10): pass more samples or more restarts, or \
         declare the noise (--noise gaussian)"
    )]
    NotCertified {
        /// Relative residual reached.
        residual_rel: f64,
    },
    /// Streamed data declared noiseless (`NoiseModel::None`) that the exact method does not
    /// fit.
    #[error(
        "the exact method leaves a relative residual of {residual_rel:.2e} on the streamed \
         data (exact needs < 1e-10) but the labels were declared noiseless (--noise none): \
         drop --noise none to fit them by least squares on a subsample"
    )]
    StreamedNotExact {
        /// Relative residual reached.
        residual_rel: f64,
    },
    /// The inputs have a mean significantly different from zero.
    #[error(
        "column {column} of X has mean {mean:.3e}, {z:.1} standard errors from 0: the model \
         y = U f(V x) has no biases, and a nonzero input mean is a bias in disguise; centre X \
         only if your network has no biases, otherwise this model does not apply"
    )]
    NonzeroInputMean {
        /// The offending column.
        column: usize,
        /// The sample mean.
        mean: f64,
        /// Standard errors from zero.
        z: f64,
    },
    /// An option the chosen activation does not support.
    #[error("{option} is available for relu only (got {activation}); drop the option")]
    UnsupportedOption {
        /// The option given.
        option: &'static str,
        /// The activation given.
        activation: String,
    },
    /// An activation name that is not known.
    #[error("unknown activation {given:?}: use relu, relu2, relupow:P (0 < P ≤ 8) or logrelu")]
    BadActivation {
        /// The text given.
        given: String,
    },
    /// A noise model name that is not known.
    #[error("unknown noise model {given:?}: use auto, none, gaussian or huber")]
    BadNoise {
        /// The text given.
        given: String,
    },
    /// A setting outside its range (checked when the method runs, never clamped).
    #[error("{what} = {got} is out of range: it must be {expected}")]
    BadParameter {
        /// The setting.
        what: &'static str,
        /// Its range.
        expected: &'static str,
        /// The value given.
        got: String,
    },
    /// A dense factorisation failed; the message names it.
    #[error("numerical failure in {0}; check the input for extreme values")]
    Numerical(&'static str),
    /// From the moment estimators (a non-finite sample becomes [`RecoveryError::NotFinite`]).
    #[error(transparent)]
    Moments(MomentsError),
    /// From the tensor decomposition.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

impl From<MomentsError> for RecoveryError {
    /// One error for a bad sample wherever it is found: in a moment pass, in the
    /// certificate's pass, or by a scan.
    fn from(e: MomentsError) -> Self {
        match e {
            MomentsError::NotFinite { what, row, col } => {
                RecoveryError::NotFinite { what, row, col }
            }
            e => RecoveryError::Moments(e),
        }
    }
}

/// Errors unless a count setting is at least 1.
pub(crate) fn at_least_one(what: &'static str, value: usize) -> Result<(), RecoveryError> {
    if value == 0 {
        return Err(RecoveryError::BadParameter {
            what,
            expected: "at least 1",
            got: value.to_string(),
        });
    }
    Ok(())
}

/// The search's near misses in words, for [`RecoveryError::UnitsNotFound`].
fn search_outcome(closest_miss: f64, wide_nulls: usize, failed_checks: usize) -> String {
    let mut parts = Vec::new();
    if closest_miss.is_finite() {
        parts.push(format!(
            "the closest candidate without a null vector reached σ_k/σ_1 = {closest_miss:.1e}, \
             a null vector needs < 1e-9"
        ));
    }
    if wide_nulls > 0 {
        parts.push(format!("{wide_nulls} kept several units silent together"));
    }
    if failed_checks > 0 {
        parts.push(format!(
            "{failed_checks} null vectors gave no unit that passes the check on other samples"
        ));
    }
    if parts.is_empty() {
        "every candidate led to a unit already found".into()
    } else {
        parts.join("; ")
    }
}

/// What to do after a search fell short: more samples below the recommended count, else the
/// labels are the likelier cause.
fn search_advice(n: usize, recommended: usize) -> String {
    if n < recommended {
        format!(
            "the labels may be noisy or the samples too few: pass more samples (about \
             {recommended} at this size), or check that Y = U f(V x) holds without noise"
        )
    } else {
        format!(
            "n = {n} samples is at least the {recommended} recommended at this size, so the \
             labels are likely not exact: check that Y = U f(V x) holds, or declare the noise \
             (--noise gaussian)"
        )
    }
}
