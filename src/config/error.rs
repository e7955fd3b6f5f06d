//! The configuration error: one message naming the file, the key path and the allowed range.

use std::fmt;

/// A hardware configuration that cannot be used. Displays as `FILE: KEY: PROBLEM`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConfigError {
    /// The file (or preset name) the configuration came from.
    pub file: String,
    /// The dotted key path, such as `device.g_max_us` (empty for syntax errors located by line).
    pub key: String,
    /// What is wrong: the value found and the allowed range, or the parser's message.
    pub problem: String,
}

impl ConfigError {
    /// An error at `key`, with the file filled in later by the loader.
    pub fn at(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            file: String::new(),
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// A value outside its allowed range; `allowed` reads like `(0, 1]` or `1..=8`.
    pub fn out_of_range(key: &str, value: impl fmt::Display, allowed: &str) -> Self {
        Self::at(key, format!("{value} is out of range; allowed: {allowed}"))
    }

    /// The same error, attributed to `file`.
    pub fn in_file(mut self, file: &str) -> Self {
        self.file = file.to_string();
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.file.is_empty(), self.key.is_empty()) {
            (false, false) => write!(f, "{}: {}: {}", self.file, self.key, self.problem),
            (false, true) => write!(f, "{}: {}", self.file, self.problem),
            (true, false) => write!(f, "{}: {}", self.key, self.problem),
            (true, true) => f.write_str(&self.problem),
        }
    }
}

impl std::error::Error for ConfigError {}
