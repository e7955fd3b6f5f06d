//! The error for bad user input that does not come from a hardware configuration (those are
//! [`crate::config::ConfigError`]): a model file, a dataset, a mask, a measured-data CSV, a sweep spec.

use std::fmt;

/// Bad user input: names the file, the field (tensor, column, key, row...) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InputError {
    /// The file (or other source, such as `--mask`) the bad input came from.
    pub source_name: String,
    /// The field inside it: a key path, tensor name, row and column, ...
    pub field: String,
    /// What is wrong, including the allowed range or the expected value.
    pub problem: String,
}

impl InputError {
    /// An error for `field` of `source_name`.
    pub fn new(source_name: impl Into<String>, field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            source_name: source_name.into(),
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.source_name, self.problem)
        } else {
            write!(f, "{}: {}: {}", self.source_name, self.field, self.problem)
        }
    }
}

impl std::error::Error for InputError {}
