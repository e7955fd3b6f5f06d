//! Sensitivity scores (DESIGN.md section 7). Weights are normalised per layer by `s = max|W|` so that
//! scores compare across layers: `w' = w/s`, `g' = g s`, `H' = H s^2`.
//!
//! | method | score |
//! |---|---|
//! | `magnitude` | `|w'|` |
//! | `random` | uniform in [0, 1) from the `(seed, Selection, tensor index)` stream |
//! | `swim` | `|H' + 2 g'|` (the authors' form; `|H'|` without the first-order term) |
//! | `uswim` | `0.5 H' v`, the expected loss reduction, `v` the weight's variance reduction |
//! | `uswim-paper` | `|H' + 2 g'|` times the weight's band multiplier (the authors' code) |
//! | `uswim-cost` | the `uswim` score divided by the weight's expected write-verify time (per ns) |
//! | `uswim-time` | the `uswim` score; the selection orders weights by expected loss reduction per predicted ns of their row's verify loop (`experiment::time_select`) |
//! | `uswim-classes` | the `uswim` score; the selection assigns tolerance classes (none, loose, tight) by the same rule, at the predicted time of `uswim-time` (`experiment::class_select`) |
//! | `measured` | `0.5 H' e^2`, `e` the weight's error measured after the open-loop write (passed as its variance reduction) |

use super::curvature::Curvature;
use super::device_info::{WeightDeviceInfo, validate_all};
use crate::error::InputError;
use crate::rng::{Purpose, stream};
use rand::Rng;
use std::fmt;
use std::str::FromStr;

/// How weights are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Normalised magnitude.
    Magnitude,
    /// Uniform random (a baseline).
    Random,
    /// SWIM: `|H' + 2 g'|`.
    Swim,
    /// U-SWIM: expected loss reduction `0.5 H' v`.
    Uswim,
    /// U-SWIM as in the authors' code: `|H' + 2 g'|` times the band multiplier.
    UswimPaper,
    /// U-SWIM per unit of write-verify time.
    UswimCost,
    /// U-SWIM selected by expected loss reduction per predicted nanosecond of programming time, rows
    /// sharing their verify loops (the order is made by `experiment::time_select`).
    UswimTime,
    /// Tolerance classes (none, loose, tight) chosen by expected loss reduction per predicted
    /// nanosecond, at the predicted programming time of `uswim-time` (the classes are assigned by
    /// `experiment::class_select`).
    UswimClasses,
    /// The loss each weight's measured open-loop error costs, `0.5 H' e^2`: no variation model (the
    /// experiment engine measures `e` by reading every device after the open-loop write).
    Measured,
}

impl Method {
    /// Every method, in the order listed in messages.
    pub const ALL: [Method; 9] = [
        Method::Magnitude,
        Method::Random,
        Method::Swim,
        Method::Uswim,
        Method::UswimPaper,
        Method::UswimCost,
        Method::UswimTime,
        Method::UswimClasses,
        Method::Measured,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Magnitude => "magnitude",
            Self::Random => "random",
            Self::Swim => "swim",
            Self::Uswim => "uswim",
            Self::UswimPaper => "uswim-paper",
            Self::UswimCost => "uswim-cost",
            Self::UswimTime => "uswim-time",
            Self::UswimClasses => "uswim-classes",
            Self::Measured => "measured",
        }
    }

    /// Whether the method needs per-weight device information.
    pub fn needs_devices(self) -> bool {
        matches!(
            self,
            Self::Uswim
                | Self::UswimPaper
                | Self::UswimCost
                | Self::UswimTime
                | Self::UswimClasses
                | Self::Measured
        )
    }

    /// Whether the selection orders weights by their predicted share of the programming time rather
    /// than by score alone.
    pub fn times_rows(self) -> bool {
        self == Self::UswimTime
    }

    /// Whether the selection assigns tolerance classes (a [`crate::sim::Mask::Classes`]) rather than
    /// verify / no verify.
    pub fn assigns_classes(self) -> bool {
        self == Self::UswimClasses
    }

    /// Whether the method scores from errors measured on the chip after its open-loop write (rather
    /// than from a variation model).
    pub fn measures_chip(self) -> bool {
        self == Self::Measured
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = InputError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let valid: Vec<&str> = Self::ALL.iter().map(|m| m.name()).collect();
            InputError::new(
                "--method",
                s,
                format!("unknown score; valid: {}", valid.join(", ")),
            )
        })
    }
}

/// Scoring settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreOptions {
    /// The method.
    pub method: Method,
    /// Seed of the `random` method.
    pub seed: u64,
    /// Whether `swim` and `uswim-paper` include the first-order term `2 g'` (the authors do).
    pub first_order: bool,
}

impl ScoreOptions {
    /// Options for `method` with seed 0 and the first-order term on.
    pub fn new(method: Method) -> Self {
        Self {
            method,
            seed: 0,
            first_order: true,
        }
    }
}

/// Scores for every weight, aligned with [`Curvature::layers`].
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// The method that made them.
    pub method: Method,
    /// Per tensor, per weight (flat row-major index).
    pub layers: Vec<Vec<f64>>,
}

/// Scores every weight of `curvature` by `options.method`. `devices` (one entry per tensor, e.g. from
/// the mapping or [`WeightDeviceInfo::uniform_for`]) is required by `uswim`, `uswim-paper` and
/// `uswim-cost` and ignored by the others.
pub fn score(
    curvature: &Curvature,
    devices: Option<&[WeightDeviceInfo]>,
    options: &ScoreOptions,
) -> Result<Scores, InputError> {
    let method = options.method;
    let devices = match (method.needs_devices(), devices) {
        (false, _) => None,
        (true, Some(d)) => {
            validate_all(curvature, d)?;
            Some(d)
        }
        (true, None) => {
            return Err(InputError::new(
                "--method",
                method.name(),
                "needs per-weight device information (from the hardware mapping, or the uniform fallback)",
            ));
        }
    };
    let first = if options.first_order { 2.0 } else { 0.0 };
    let layers = curvature
        .layers
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let s = f64::from(l.scale());
            let h = |i: usize| f64::from(l.hess[i]) * s * s;
            let g = |i: usize| f64::from(l.grad[i]) * s;
            let dev = devices.map(|d| &d[k]);
            let v = |i: usize| f64::from(dev.expect("checked above").variance_reduction[i]);
            let n = l.len();
            match method {
                Method::Magnitude => l.weight.iter().map(|&w| f64::from(w.abs()) / s).collect(),
                Method::Random => {
                    let mut rng = stream(options.seed, Purpose::Selection, k as u64);
                    (0..n).map(|_| rng.random::<f64>()).collect()
                }
                Method::Swim => (0..n).map(|i| (h(i) + first * g(i)).abs()).collect(),
                Method::Uswim | Method::UswimTime | Method::UswimClasses | Method::Measured => {
                    (0..n).map(|i| 0.5 * h(i) * v(i)).collect()
                }
                Method::UswimPaper => {
                    let band = &dev.expect("checked above").band_multiplier;
                    (0..n)
                        .map(|i| (h(i) + first * g(i)).abs() * f64::from(band[i]))
                        .collect()
                }
                Method::UswimCost => {
                    let ns = &dev.expect("checked above").expected_verify_ns;
                    (0..n).map(|i| 0.5 * h(i) * v(i) / f64::from(ns[i])).collect()
                }
            }
        })
        .collect();
    Ok(Scores { method, layers })
}
