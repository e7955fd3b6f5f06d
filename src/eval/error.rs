//! Errors of a Monte-Carlo evaluation.

use crate::error::InputError;
use crate::map::MapError;
use crate::sim::SimError;
use thiserror::Error;

/// Why an evaluation could not run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EvalError {
    /// Bad input: a test set that does not fit the network, or a mapping made for another network.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The programmed conductances could not be read back.
    #[error("reading back the programmed weights: {0}")]
    Map(#[from] MapError),
    /// The programmer failed (a mask or configuration that does not fit the mapping).
    #[error("programming: {0}")]
    Sim(#[from] SimError),
    /// Zero Monte-Carlo runs were asked for.
    #[error("--runs: 0 Monte-Carlo runs; allowed: at least 1")]
    NoRuns,
}
