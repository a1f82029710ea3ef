//! The engine's one error type. Every entry point returns `Result<_, EngineError>`;
//! `lib.rs` is the only place that turns it into an R error.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum EngineError {
    /// A smooth asks for more basis functions than its covariate has distinct values.
    TooFewUniqueValues { term: String, k: usize, unique: usize },
    /// A basis dimension that the smooth class cannot use.
    BadBasisDimension { term: String, k: usize, reason: String },
    /// Fewer observations than coefficients.
    TooFewRows { rows: usize, coefficients: usize },
    /// A value that must be finite is not.
    NonFinite { what: String },
    /// The penalized normal equations are not positive definite: the model is not
    /// identifiable (e.g. aliased parametric columns).
    NotIdentifiable { detail: String },
    /// A spec field is missing or malformed (a bug in the R layer, or a hand-made spec).
    InvalidSpec { what: String },
    /// The model's matrices cannot fit in this machine's memory.
    TooLarge { what: String, bytes: f64, available: f64 },
    /// Data whose magnitude double precision cannot carry through the fit.
    OutOfRange { what: String },
    /// The user pressed Ctrl-C.
    Interrupted,
    /// A smooth's knots are still to be drawn from the data and the store had no
    /// exact hit to serve without them: the R layer draws them and calls again.
    KnotsPending,
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::TooFewUniqueValues { term, k, unique } => write!(
                f,
                "`{term}` has k = {k} but its covariate has only {unique} unique values; \
                 use k <= {unique}"
            ),
            EngineError::BadBasisDimension { term, k, reason } => {
                write!(f, "`{term}` cannot use k = {k}: {reason}")
            }
            EngineError::TooFewRows { rows, coefficients } => write!(
                f,
                "the model has {coefficients} coefficients but the data have only {rows} rows; \
                 reduce k or supply more data"
            ),
            EngineError::NonFinite { what } => write!(f, "{what} contains non-finite values"),
            EngineError::NotIdentifiable { detail } => {
                write!(f, "the model is not identifiable: {detail}")
            }
            EngineError::InvalidSpec { what } => write!(f, "invalid model specification: {what}"),
            EngineError::TooLarge { what, bytes, available } => write!(
                f,
                "the model ({what}) needs at least {:.1} GiB of memory for its matrices, more than this \
                 machine's {:.1} GiB; reduce k (or the number of levels)",
                bytes / GIB,
                available / GIB
            ),
            EngineError::OutOfRange { what } => write!(f, "{what}"),
            EngineError::Interrupted => write!(f, "interrupted by the user"),
            EngineError::KnotsPending => write!(f, "the knots of a smooth are still to be drawn from the data"),
        }
    }
}

impl EngineError {
    /// What kind of failure this is: the R condition's class is
    /// `warmgam_error_<kind>` (under `warmgam_error`), so that callers and tests
    /// match the kind, not the message.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::TooFewUniqueValues { .. } | EngineError::BadBasisDimension { .. } => "basis",
            EngineError::TooFewRows { .. } => "data",
            EngineError::NonFinite { .. } => "non_finite",
            EngineError::NotIdentifiable { .. } => "identifiability",
            EngineError::InvalidSpec { .. } => "spec",
            EngineError::TooLarge { .. } => "memory",
            EngineError::OutOfRange { .. } => "range",
            EngineError::Interrupted => "interrupted",
            EngineError::KnotsPending => "knots_pending",
        }
    }
}

impl std::error::Error for EngineError {}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

pub type Result<T> = std::result::Result<T, EngineError>;
