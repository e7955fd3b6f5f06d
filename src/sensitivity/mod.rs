//! The sensitivity analyzer: which weights deserve write-verify.
//!
//! One pass over a calibration set ([`curvature::analyze`]) gives every programmable weight its
//! gradient and Gauss-Newton diagonal second derivative; [`score()`] turns them, with per-weight device
//! information ([`WeightDeviceInfo`], filled by the hardware mapping or the uniform fallback), into
//! scores; [`select()`] picks the global top-k under a weight-fraction or programming-time budget; and
//! [`output`] writes and reads `sensitivity.csv` and `mask.safetensors`.
//!
//! Invariants: no weight is changed; results do not depend on the thread count; the only random
//! numbers (the `random` score) come from the `(seed, Selection, tensor index)` streams.

pub mod curvature;
pub mod device_info;
pub mod output;
pub mod score;
pub mod select;

pub use curvature::{Curvature, LayerCurvature, analyze};
pub use device_info::WeightDeviceInfo;
pub use output::{Mask, MaskTensor, SensitivityRow, read_csv, write_class_csv, write_csv};
pub use score::{Method, ScoreOptions, Scores, score};
pub use select::{Budget, Selection, select};
