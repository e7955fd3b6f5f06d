//! Monte-Carlo evaluation: the accuracy a programmed network keeps (DESIGN.md section 8).
//!
//! - [`monte_carlo`]: one run programs every device with the cycle-level programmer, reads the weights
//!   back and classifies the test set; an [`Evaluator`] runs many, in parallel, each from its own seed
//!   `(seed, MonteCarlo, run)`, with the reference points no write-verify and full write-verify.
//! - [`stats`]: mean, standard deviation and 95% confidence interval over runs.
//! - [`error`]: the [`EvalError`] type.
//!
//! **Invariant:** results do not depend on the thread count: every run's randomness comes from its
//! run seed, and runs are collected in run order.

pub mod error;
pub mod monte_carlo;
pub mod stats;

pub use error::EvalError;
pub use monte_carlo::{Evaluator, McResult, References, Run, run_seed};
pub use stats::Stats;
