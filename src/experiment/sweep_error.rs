//! The sweep error: a bad spec, a grid point whose configuration is invalid, a point that fails to run,
//! or a file that cannot be read or written.

use crate::config::ConfigError;
use crate::error::InputError;
use std::path::PathBuf;

/// Why a sweep cannot be expanded or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// The spec file is malformed: TOML syntax, an unknown field, a value of the wrong type, an axis
    /// without values, a duplicated key, a bad `--shard`...
    #[error("{0}")]
    Spec(InputError),
    /// The hardware configuration of one grid point is invalid (unknown key path, wrong type, value out
    /// of range): the configuration's own error, with the point that produced it.
    #[error("{spec}: point {index} ({label}): {source}")]
    Point {
        /// The spec file.
        spec: String,
        /// The point's index in the grid.
        index: usize,
        /// The point's axis values, `key=value, ...`.
        label: String,
        /// The configuration error.
        #[source]
        source: Box<ConfigError>,
    },
    /// A point's model, mapping or programming failed.
    #[error("{spec}: point {index} ({label}): {message}")]
    Run {
        /// The spec file.
        spec: String,
        /// The point's index in the grid.
        index: usize,
        /// The point's axis values.
        label: String,
        /// What failed.
        message: String,
        /// Whether the failure comes from bad input (a model file, a mapping that does not fit).
        bad_input: bool,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl SweepError {
    /// A spec error at `field` of `spec`.
    pub fn spec(spec: &str, field: impl Into<String>, problem: impl Into<String>) -> Self {
        SweepError::Spec(InputError::new(spec, field, problem))
    }

    /// Whether the error comes from bad user input (exit code 2) rather than a runtime failure.
    pub fn is_bad_input(&self) -> bool {
        match self {
            SweepError::Spec(_) | SweepError::Point { .. } => true,
            SweepError::Run { bad_input, .. } => *bad_input,
            SweepError::Io { .. } => false,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SweepError::Io {
            path: path.into(),
            source,
        }
    }
}
