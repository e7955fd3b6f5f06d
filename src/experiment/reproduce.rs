//! The U-SWIM experiment (`uswim reproduce`): a built-in sweep over (model, variation setting, method,
//! fraction), with Monte-Carlo accuracy and the simulated programming time and energy of every point.
//!
//! How a run is organised:
//! 1. One sensitivity pass of each network over its calibration set (gradients and second derivatives);
//!    every method's scores derive from it, and under each setting they differ only through the device
//!    information ([`super::selection::device_info`], under the spec's [`Knowledge`]: `prior` by default).
//! 2. The settings: each variation setting on `spec.hw` (the papers' statistical preset by default: the
//!    comparison with the papers), optionally `spec.physical`, a pulse-level preset with its own physics
//!    (the tool's own result), on a smaller grid, and optionally a second network ([`SecondModel`], the
//!    ConvNet on Fashion-MNIST by default) on its own smaller grid.
//! 3. Every point (setting, method, fraction) and the two references (no and full write-verify) are
//!    evaluated by the experiment engine ([`super::engine`]), the same function `uswim sweep` uses: run
//!    `r` programs the chip of seed [`crate::eval::run_seed`]`(seed, r)` once, the same chips for every
//!    point (common random numbers), and takes its accuracy, time and energy from that one programming.
//! 4. Statistics: mean and 95% interval of the accuracy over runs, and the paired difference from full
//!    write-verify on the same chips with its 95% interval; a fraction is within the allowed drop only
//!    when the paired interval's upper bound is ([`smallest_within`]).
//! 5. Enough runs ([`decide`]): a point starts with `runs` chips and doubles them until its paired
//!    interval lies wholly within or wholly outside the allowed drop, or `max_runs` is reached; the
//!    full write-verify reference always makes `max_runs`.
//!
//! The points form one list (settings in order; per setting the two references, then every method at
//! every fraction below 1), so the experiment shards like any sweep: shard `i` of `n` evaluates the
//! points `p` with `p mod n = i` ([`evaluate`]), and [`assemble`] turns the records of every shard into
//! exactly the [`Results`] of a whole run (a point's run count depends only on its own and the full
//! write-verify reference's chips, never on which other points a shard holds).

use super::engine::{Engine, PointFailure, PointOutcome, RunOutcome, Selector};
use super::selection::Knowledge;
use super::shard::Shard;
use crate::config::{self, ConfigError, HwConfig, Override, VariationMapConfig};
use crate::error::InputError;
use crate::eval::Stats;
use crate::map::{LayerWeights, MapError, Mapped};
use crate::nn::{Dataset, Network};
use crate::sensitivity::{self, Curvature, Method};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One device-variation setting: a name and the `--set`-style overrides that make it from the base
/// configuration (typically `device.variation.maps=[...]`).
#[derive(Debug, Clone, PartialEq)]
pub struct VariationSetting {
    /// Short name used in tables, CSV and plots (`uniform`, `band`, `lognormal`).
    pub name: String,
    /// The overrides, as typed (`device.variation.maps=[{kind="band",multiplier=3.0}]`).
    pub overrides: Vec<String>,
}

impl VariationSetting {
    /// A setting from a name and override texts.
    pub fn new(name: &str, overrides: &[&str]) -> Self {
        Self {
            name: name.to_string(),
            overrides: overrides.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Parses `NAME:KEY=VALUE` (one override).
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let (name, set) = text.split_once(':').ok_or_else(|| {
            InputError::new(
                "--variation",
                text,
                "expected NAME:KEY=VALUE, e.g. outliers:device.variation.maps=[{kind=\"outliers\",fraction=0.05,multiplier=5.0}]",
            )
        })?;
        if name.is_empty() || name.contains(',') {
            return Err(InputError::new(
                "--variation",
                text,
                "the name before `:` must be non-empty and without commas",
            ));
        }
        Ok(Self::new(name, &[set]))
    }
}

/// The default variation settings (on `paper_statistical`, base sigma 0.3):
/// - `uniform`: every device the base sigma;
/// - `band`: the authors' scheme: weights with 0.25 < |w|/max|W| < 0.75 get 3x the sigma, every sigma
///   divided by sqrt(0.4 x 9 + 0.6) (mean variance kept when 40% of the weights are in the band; the
///   shipped LeNet has 4.3% there, so its mean variance drops to about a third);
/// - `lognormal`: strongly non-uniform: a lognormal multiplier per device, sigma_log 0.9 (mean 1,
///   E[m^2] = e^0.81 = 2.25; the 5th to 95th percentile of device sigmas span a factor of 19), on a base
///   sigma of 0.2 so that the mean variance 0.2^2 x 2.25 equals 0.3^2. (The pulse-level device only sees
///   sigma_i / sigma, the multiplier, so the base does not change the timing configuration.)
pub fn default_variations() -> Vec<VariationSetting> {
    vec![
        VariationSetting::new("uniform", &["device.variation.maps=[{kind=\"uniform\"}]"]),
        VariationSetting::new(
            "band",
            &["device.variation.maps=[{kind=\"band\",multiplier=3.0}]"],
        ),
        VariationSetting::new(
            "lognormal",
            &[
                "device.variation.sigma=0.2",
                "device.variation.maps=[{kind=\"lognormal\",sigma_log=0.9}]",
            ],
        ),
    ]
}

/// The default methods: uswim, uswim-time, swim, measured, magnitude, random.
pub const DEFAULT_METHODS: [Method; 6] = [
    Method::Uswim,
    Method::UswimTime,
    Method::Swim,
    Method::Measured,
    Method::Magnitude,
    Method::Random,
];

/// The default grid of write-verify fractions: 0.1%, then 1-2-5 steps from 1% to 100% (no method's
/// headline is below 1%, so 0.2% and 0.5% are left out to pay for the runs the enough-runs rule adds).
pub const DEFAULT_FRACTIONS: [f64; 8] = [0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];

/// The pulse-level preset run beside the statistical one: programmed with its own device physics (no
/// variation override), on its own grid of fractions and runs (fewer: its programmer is slower).
#[derive(Debug, Clone, PartialEq)]
pub struct PhysicalRun {
    /// A preset name or TOML file (`rram_1t1r_256`).
    pub hw: String,
    /// Fractions of weights verified, ascending, in (0, 1].
    pub fractions: Vec<f64>,
    /// Monte-Carlo runs of a point's first look ([`decide`]).
    pub runs: u32,
    /// Most Monte-Carlo runs of a point (the full write-verify reference always makes these).
    pub max_runs: u32,
}

/// A second network run beside the first, on `Spec::hw` under some of the variation settings, with
/// its own methods, fractions and runs (a smaller grid: the ConvNet's chips are 8x LeNet's and its
/// classification costs 30x).
#[derive(Debug, Clone, PartialEq)]
pub struct SecondModel {
    /// Its variation settings on `Spec::hw` (typically a subset of `Spec::variations`).
    pub variations: Vec<VariationSetting>,
    /// Its selection methods.
    pub methods: Vec<Method>,
    /// Fractions of weights verified, ascending, in (0, 1].
    pub fractions: Vec<f64>,
    /// Monte-Carlo runs of a point's first look ([`decide`]).
    pub runs: u32,
    /// Most Monte-Carlo runs of a point.
    pub max_runs: u32,
}

/// Most Monte-Carlo runs accepted per point.
pub const MAX_RUNS: u32 = 100_000;

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The configuration of the variation settings: a preset name or TOML file (`paper_statistical`).
    pub hw: String,
    /// Overrides applied to `hw` before each variation setting's.
    pub overrides: Vec<Override>,
    /// The variation settings on `hw`.
    pub variations: Vec<VariationSetting>,
    /// A pulse-level preset run with its own physics (`None`: none).
    pub physical: Option<PhysicalRun>,
    /// The selection methods.
    pub methods: Vec<Method>,
    /// Fractions of weights verified on `hw`, ascending, in (0, 1].
    pub fractions: Vec<f64>,
    /// Monte-Carlo runs of a point's first look on `hw` ([`decide`]).
    pub runs: u32,
    /// Most Monte-Carlo runs of a point on `hw` (`runs` for a fixed count); the full write-verify
    /// reference always makes these.
    pub max_runs: u32,
    /// Seed of every run (run r of every point programs the chip `run_seed(seed, r)`).
    pub seed: u64,
    /// What the device-aware scores know of the devices.
    pub knowledge: Knowledge,
    /// The headline's accuracy drop allowed from full write-verify, in percentage points.
    pub max_drop_pct: f64,
    /// A second network on its own grid (`None`: none); its data is the second [`Benchmark`].
    pub second: Option<SecondModel>,
}

/// One setting as run: a network, a configuration with overrides, its grid and runs.
#[derive(Debug, Clone, PartialEq)]
struct Group {
    model: usize,
    name: String,
    hw: String,
    overrides: Vec<String>,
    methods: Vec<Method>,
    fractions: Vec<f64>,
    runs: u32,
    max_runs: u32,
    physical: bool,
}

impl Spec {
    /// Checks the grid: at least one setting, method and fraction; fractions ascending in (0, 1];
    /// 1 <= runs <= max_runs; distinct setting names per network.
    pub fn validate(&self) -> Result<(), InputError> {
        let bad = |field: &str, problem: String| Err(InputError::new("reproduce", field, problem));
        if self.variations.is_empty() || self.methods.is_empty() {
            return bad(
                "grid",
                "needs at least one variation setting and one method".into(),
            );
        }
        if let Some(second) = &self.second {
            if second.variations.is_empty() || second.methods.is_empty() {
                return bad(
                    "second model",
                    "needs at least one variation setting and one method".into(),
                );
            }
        }
        let groups = self.groups();
        for (i, g) in groups.iter().enumerate() {
            if g.runs == 0 {
                return bad(
                    "runs",
                    format!("{}: 0 Monte-Carlo runs; allowed: at least 1", g.name),
                );
            }
            if g.max_runs < g.runs || g.max_runs > MAX_RUNS {
                return bad(
                    "max runs",
                    format!(
                        "{}: {} is out of range; allowed: {} (the first look's runs) ..= {MAX_RUNS}",
                        g.name, g.max_runs, g.runs
                    ),
                );
            }
            if g.fractions.is_empty() {
                return bad("fractions", format!("{}: needs at least one fraction", g.name));
            }
            if let Some(f) = g.fractions.iter().find(|f| !(**f > 0.0 && **f <= 1.0)) {
                return bad("fractions", format!("{f} is out of range; allowed: (0, 1]"));
            }
            if g.fractions.windows(2).any(|w| w[0] >= w[1]) {
                return bad("fractions", "must be strictly ascending".into());
            }
            if groups[..i].iter().any(|h| h.model == g.model && h.name == g.name) {
                return bad("variations", format!("the name `{}` is used twice", g.name));
            }
        }
        if !(self.max_drop_pct >= 0.0 && self.max_drop_pct.is_finite()) {
            return bad("max_drop_pct", format!("{}; allowed: >= 0", self.max_drop_pct));
        }
        Ok(())
    }

    /// The networks the spec runs: 1, or 2 with a second model.
    pub fn models(&self) -> usize {
        1 + usize::from(self.second.is_some())
    }

    /// The settings run: every variation setting on `hw`, then the physical preset (named after it),
    /// then the second network's settings.
    fn groups(&self) -> Vec<Group> {
        let statistical =
            |model: usize, v: &VariationSetting, methods: &[Method], fractions: &[f64], runs, max_runs| {
                Group {
                    model,
                    name: v.name.clone(),
                    hw: self.hw.clone(),
                    overrides: v.overrides.clone(),
                    methods: methods.to_vec(),
                    fractions: fractions.to_vec(),
                    runs,
                    max_runs,
                    physical: false,
                }
            };
        let mut groups: Vec<Group> = self
            .variations
            .iter()
            .map(|v| statistical(0, v, &self.methods, &self.fractions, self.runs, self.max_runs))
            .collect();
        if let Some(p) = &self.physical {
            groups.push(Group {
                model: 0,
                name: p.hw.clone(),
                hw: p.hw.clone(),
                overrides: Vec::new(),
                methods: self.methods.clone(),
                fractions: p.fractions.clone(),
                runs: p.runs,
                max_runs: p.max_runs,
                physical: true,
            });
        }
        if let Some(s) = &self.second {
            groups.extend(
                s.variations
                    .iter()
                    .map(|v| statistical(1, v, &s.methods, &s.fractions, s.runs, s.max_runs)),
            );
        }
        groups
    }

    /// The number of points of the grid (references included): the grid that shards split.
    pub fn grid_points(&self) -> usize {
        points(self, &self.groups()).len()
    }

    /// The number of progress units [`run`] and [`evaluate`] report: one per point of the shard.
    pub fn work_units(&self, shard: Shard) -> u64 {
        shard.len(self.grid_points()) as u64
    }
}

/// What the enough-runs rule made of a point: whether its paired drop from full write-verify is within
/// the allowed drop with 95% confidence, outside it with 95% confidence, or neither at `max_runs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The paired interval's upper end is within the allowed drop.
    Within,
    /// The paired interval's lower end is above the allowed drop.
    Outside,
    /// Neither (counted as not within by the headline).
    Undecided,
}

impl Decision {
    /// The name written to `results.csv`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Within => "within",
            Self::Outside => "outside",
            Self::Undecided => "undecided",
        }
    }
}

/// The enough-runs rule's test of a paired drop `drop` (fractions of the test set, as [`Stats::of`]
/// the per-chip accuracy differences gives it) against `max_drop_pct` points: within when its 95%
/// upper end is at most the allowed drop (the headline's test), outside when its lower end is above.
/// A point starts with its group's `runs` chips; while undecided it doubles them, up to `max_runs`.
/// One run decides nothing (its interval has no width).
pub fn decide(drop: &Stats, max_drop_pct: f64) -> Decision {
    if drop.runs < 2 {
        Decision::Undecided
    } else if 100.0 * drop.ci95_high <= max_drop_pct {
        Decision::Within
    } else if 100.0 * drop.ci95_low > max_drop_pct {
        Decision::Outside
    } else {
        Decision::Undecided
    }
}

/// The paired drop `full - point` on the first chips they share (the shorter of the two).
fn paired_drop(full: &[f64], point: &[f64]) -> Stats {
    let drops: Vec<f64> = full.iter().zip(point).map(|(f, a)| f - a).collect();
    Stats::of(&drops).expect("runs >= 1")
}

/// Why the experiment could not run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReproduceError {
    /// A configuration (with a setting's overrides) is invalid.
    #[error("variation setting `{setting}`: {source}")]
    Config {
        /// The setting.
        setting: String,
        /// The problem.
        source: ConfigError,
    },
    /// Bad input (grid, model, data).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The network does not fit the configured crossbars.
    #[error("mapping: {0}")]
    Map(#[from] MapError),
    /// A point failed.
    #[error("point {point}: {}", failure.message)]
    Point {
        /// The point (`setting/method/fraction`).
        point: String,
        /// What failed.
        failure: PointFailure,
    },
}

impl ReproduceError {
    /// Whether bad input caused the failure (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::Config { .. } | Self::Input(_) | Self::Map(_) => true,
            Self::Point { failure, .. } => failure.bad_input,
        }
    }
}

/// Method name of the no-write-verify reference row.
pub const NO_VERIFY: &str = "no-verify";
/// Method name of the full-write-verify reference row.
pub const FULL_VERIFY: &str = "full-verify";

/// One row of `results.csv`: a point (model, setting, method, fraction) or a reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The network (its [`Benchmark::name`]).
    pub model: String,
    /// Setting (variation setting on the statistical preset, or the physical preset's name).
    pub variation: String,
    /// The hardware configuration's name.
    pub hw: String,
    /// Method (or `no-verify` / `full-verify`).
    pub method: String,
    /// Device knowledge of a device-aware score (`oracle` is an upper bound); empty for the others.
    pub knowledge: String,
    /// Fraction of weights selected for write-verify.
    pub fraction: f64,
    /// Weights verified (run 0).
    pub weights_verified: u64,
    /// Weights in the network.
    pub weights_total: u64,
    /// Devices verified (run 0).
    pub devices_verified: u64,
    /// Devices in the network.
    pub devices_total: u64,
    /// Monte-Carlo runs (chips) the enough-runs rule made ([`decide`]).
    pub runs: u32,
    /// Mean test accuracy over runs, in percent.
    pub accuracy_mean_pct: f64,
    /// Standard deviation of the accuracy over runs, in percentage points.
    pub accuracy_std_pct: f64,
    /// Lower end of the 95% confidence interval of the mean accuracy, in percent.
    pub accuracy_ci95_low_pct: f64,
    /// Upper end of the 95% confidence interval of the mean accuracy, in percent.
    pub accuracy_ci95_high_pct: f64,
    /// Accuracy drop from full write-verify on the same chips (paired), mean over runs, in points.
    pub drop_mean_pct: f64,
    /// Lower end of the paired drop's 95% interval, in points.
    pub drop_ci95_low_pct: f64,
    /// Upper end of the paired drop's 95% interval, in points.
    pub drop_ci95_high_pct: f64,
    /// The paired drop against the allowed drop: `within`, `outside` or `undecided` ([`Decision`]).
    pub decision: String,
    /// Programming time of the same chips, mean over runs, in ns.
    pub time_ns: f64,
    /// Programming energy of the same chips, mean over runs, in pJ.
    pub energy_pj: f64,
    /// The predicted-time model's total programming time of run 0's selection on run 0's chip
    /// ([`crate::sim::predict::TimeModel`]), in ns: its validation against `time_ns`.
    pub predicted_time_ns: f64,
}

impl Row {
    /// The method as tables and plots name it: `oracle` knowledge is labelled an upper bound.
    pub fn label(&self) -> String {
        if self.knowledge == Knowledge::Oracle.name() {
            format!("{} (oracle: upper bound)", self.method)
        } else {
            self.method.clone()
        }
    }
}

/// A network of the experiment with its data.
#[derive(Debug, Clone, Copy)]
pub struct Benchmark<'a> {
    /// Its name in the `model` column (`lenet_mnist`).
    pub name: &'a str,
    /// What the headline calls it (`models/lenet_mnist.safetensors (lenet) on mnist`).
    pub label: &'a str,
    /// What identifies the network and its data beyond the spec (the model file's content hash, the
    /// dataset and its normalisation), hashed into [`spec_hash`] so that shards of other inputs do not
    /// merge.
    pub source: &'a str,
    /// The network.
    pub network: &'a Network,
    /// The calibration set of its sensitivity pass.
    pub calib: &'a Dataset,
    /// The test set of its Monte-Carlo runs.
    pub test: &'a Dataset,
}

/// A network as run, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// [`Benchmark::name`].
    pub name: String,
    /// [`Benchmark::label`].
    pub label: String,
    /// Calibration images of the sensitivity pass.
    pub calib_images: usize,
    /// Test images per Monte-Carlo run.
    pub test_images: usize,
}

/// What the experiment ran on, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The statistical configuration as given (preset name or file).
    pub hw_source: String,
    /// Device knowledge of the device-aware scores.
    #[serde(with = "knowledge_text")]
    pub knowledge: Knowledge,
    /// The seed of every run.
    pub seed: u64,
    /// The headline's allowed drop, in points.
    pub max_drop_pct: f64,
    /// The networks, in order.
    pub models: Vec<ModelInfo>,
    /// The settings, in order.
    pub settings: Vec<SettingInfo>,
}

/// A setting as run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingInfo {
    /// Its network (index into [`RunInfo::models`]).
    pub model: usize,
    /// Its name.
    pub name: String,
    /// The configuration's name.
    pub hw_name: String,
    /// Arrays of its mapping.
    pub arrays: u32,
    /// Weights of the network.
    pub weights_total: u64,
    /// Devices of the mapping.
    pub devices_total: u64,
    /// Monte-Carlo runs of a point's first look.
    pub runs: u32,
    /// Most Monte-Carlo runs of a point (the full write-verify reference's).
    pub max_runs: u32,
    /// Its fractions, ascending.
    pub fractions: Vec<f64>,
    /// Its overrides, as typed.
    pub overrides: Vec<String>,
    /// Whether any of its maps makes device sigmas differ (anything but `uniform`).
    pub nonuniform: bool,
    /// Whether it is the pulse-level preset run with its own physics.
    pub physical: bool,
    /// Under `characterised` knowledge, the characterisation's time on run 0's chip (K open-loop writes
    /// and reads of every device), in ns.
    pub characterisation_ns: Option<f64>,
}

/// [`Knowledge`] as text in the shard metadata: `prior`, `oracle` or `characterised:K`.
mod knowledge_text {
    use super::Knowledge;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(k: &Knowledge, s: S) -> Result<S::Ok, S::Error> {
        match k {
            Knowledge::Characterised { cycles } => s.serialize_str(&format!("characterised:{cycles}")),
            other => s.serialize_str(other.name()),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Knowledge, D::Error> {
        let text = String::deserialize(d)?;
        let (name, cycles) = match text.split_once(':') {
            Some((name, k)) => (name, k.parse().map_err(serde::de::Error::custom)?),
            None => (text.as_str(), 0),
        };
        Knowledge::parse(name, cycles).map_err(serde::de::Error::custom)
    }
}

/// The experiment's results: one row per point and reference, settings in order, then references, then
/// methods in order, fractions ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// The rows.
    pub rows: Vec<Row>,
    /// What it ran on.
    pub info: RunInfo,
}

/// One evaluated point as a shard records it: everything its results row derives from.
#[derive(Debug, Clone, PartialEq)]
pub struct PointRecord {
    /// Index in the grid.
    pub point: usize,
    /// Its setting (index into [`RunInfo::settings`]).
    pub setting: usize,
    /// Method (or `no-verify` / `full-verify`).
    pub method: String,
    /// Device knowledge of a device-aware score; empty for the others.
    pub knowledge: String,
    /// Fraction of weights selected.
    pub fraction: f64,
    /// The runs' test accuracies (fractions), in run order.
    pub accuracies: Vec<f64>,
    /// Mean programming time over the runs' chips, in ns.
    pub time_ns: f64,
    /// Mean programming energy over the runs' chips, in pJ.
    pub energy_pj: f64,
    /// Weights verified on run 0's chip.
    pub weights_verified: u64,
    /// Devices verified on run 0's chip.
    pub devices_verified: u64,
    /// The predicted-time model's time of run 0's selection on run 0's chip, in ns.
    pub predicted_time_ns: f64,
}

/// What [`evaluate`] made: the records of the shard's points, and what the experiment ran on.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    /// The shard's points, in grid order.
    pub records: Vec<PointRecord>,
    /// Every setting and network (the same in every shard).
    pub info: RunInfo,
    /// Points in the whole grid.
    pub grid_points: usize,
}

/// A point of the grid: its setting and selection.
struct Point {
    setting: usize,
    method: String,
    selector: Selector,
}

/// Everything built once per setting.
struct Setting {
    hw: HwConfig,
    mapped: Mapped,
}

/// The points of every setting, in row order: per setting the two references, then every method at
/// every fraction below 1 (fraction 1 of a method is the full-verify reference, repeated as a row).
fn points(spec: &Spec, groups: &[Group]) -> Vec<Point> {
    let mut points = Vec::new();
    for (si, g) in groups.iter().enumerate() {
        let reference = |name: &str, fraction: f64| Point {
            setting: si,
            method: name.to_string(),
            selector: Selector {
                method: Method::Random,
                fraction,
                knowledge: spec.knowledge,
            },
        };
        points.push(reference(NO_VERIFY, 0.0));
        points.push(reference(FULL_VERIFY, 1.0));
        for &method in &g.methods {
            for &fraction in g.fractions.iter().filter(|&&f| f < 1.0) {
                points.push(Point {
                    setting: si,
                    method: method.name().to_string(),
                    selector: Selector {
                        method,
                        fraction,
                        knowledge: spec.knowledge,
                    },
                });
            }
        }
    }
    points
}

/// A 64-bit FNV-1a hash (16 hex digits) of everything that determines the experiment's results: the
/// spec and every benchmark's name, label, source and data sizes. Shards of one experiment share it.
pub fn spec_hash(spec: &Spec, benchmarks: &[Benchmark<'_>]) -> String {
    let mut text = format!("uswim-reproduce/1 {spec:?}");
    for b in benchmarks {
        text.push_str(&format!(
            "\n{} | {} | {} | {} calib {} | {} test {}",
            b.name,
            b.label,
            b.source,
            b.calib.name(),
            b.calib.len(),
            b.test.name(),
            b.test.len()
        ));
    }
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// Runs the whole experiment on `benchmarks` (the first network, then the second model's when the
/// spec has one). `progress(units)` is called as points finish (see [`Spec::work_units`]).
pub fn run(
    spec: &Spec,
    benchmarks: &[Benchmark<'_>],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Results, ReproduceError> {
    let evaluated = evaluate(spec, benchmarks, Shard::WHOLE, progress)?;
    assemble(&evaluated.info, &evaluated.records)
}

/// The state of one of a shard's points while its runs are made.
struct Pending {
    point: usize,
    runs: Vec<RunOutcome>,
    want: u32,
    done: bool,
}

/// Evaluates the points of `shard` (see the module docs): the sensitivity passes its score points
/// need, every point's runs by the enough-runs rule ([`decide`]), and every point's predicted time.
pub fn evaluate(
    spec: &Spec,
    benchmarks: &[Benchmark<'_>],
    shard: Shard,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Evaluated, ReproduceError> {
    spec.validate()?;
    if benchmarks.len() != spec.models() {
        return Err(InputError::new(
            "reproduce",
            "models",
            format!(
                "the spec runs {} networks but {} were given",
                spec.models(),
                benchmarks.len()
            ),
        )
        .into());
    }
    let groups = spec.groups();
    let points = points(spec, &groups);
    let mine: Vec<usize> = shard.points(points.len()).collect();
    let curvatures = benchmarks
        .iter()
        .enumerate()
        .map(|(m, b)| {
            let needed = mine
                .iter()
                .any(|&p| groups[points[p].setting].model == m && points[p].selector.needs_scores());
            let start = std::time::Instant::now();
            let curvature = needed
                .then(|| sensitivity::analyze(b.network, b.calib, |_, _| {}))
                .transpose();
            tracing::debug!(
                "{}: sensitivity pass over {} images in {:.2} s",
                b.name,
                b.calib.len(),
                start.elapsed().as_secs_f64()
            );
            curvature
        })
        .collect::<Result<Vec<Option<Curvature>>, _>>()?;
    let weights: Vec<Vec<LayerWeights>> = benchmarks
        .iter()
        .map(|b| LayerWeights::of_network(b.network))
        .collect();
    let settings = groups
        .iter()
        .map(|g| build_setting(spec, g, &weights[g.model]))
        .collect::<Result<Vec<_>, _>>()?;
    let engines = settings
        .iter()
        .zip(&groups)
        .map(|(s, g)| {
            let b = &benchmarks[g.model];
            Engine::new(
                b.network,
                &s.mapped,
                &s.hw,
                curvatures[g.model].as_ref(),
                Some(b.test),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|failure| ReproduceError::Point {
            point: "setup".into(),
            failure,
        })?;
    let label = |p: &Point| point_label(&groups, p);
    let failed = |p: &Point| {
        let point = label(p);
        move |failure| ReproduceError::Point { point, failure }
    };

    let full_selector = Selector {
        method: Method::Random,
        fraction: 1.0,
        knowledge: spec.knowledge,
    };
    let mut pending: Vec<Pending> = mine
        .iter()
        .map(|&p| {
            let g = &groups[points[p].setting];
            Pending {
                point: p,
                runs: Vec::new(),
                want: if points[p].method == FULL_VERIFY {
                    g.max_runs
                } else {
                    g.runs
                },
                done: false,
            }
        })
        .collect();
    // Full write-verify runs per setting, made as far as the shard's points need them.
    let mut full: Vec<Vec<RunOutcome>> = vec![Vec::new(); groups.len()];
    loop {
        let mut need = vec![0u32; groups.len()];
        for p in pending.iter().filter(|p| !p.done) {
            let s = points[p.point].setting;
            need[s] = need[s].max(p.want);
        }
        if need.iter().all(|&n| n == 0) {
            break;
        }
        let round = std::time::Instant::now();
        let tasks: Vec<(usize, u32)> = need
            .iter()
            .enumerate()
            .flat_map(|(s, &n)| (full[s].len() as u32..n).map(move |r| (s, r)))
            .collect();
        let made = tasks
            .par_iter()
            .map(|&(s, r)| {
                engines[s]
                    .run_one(&full_selector, spec.seed, r)
                    .map_err(|failure| ReproduceError::Point {
                        point: format!("{}/{FULL_VERIFY}/1", groups[s].name),
                        failure,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let full_runs = tasks.len();
        for (&(s, _), outcome) in tasks.iter().zip(made) {
            full[s].push(outcome);
        }
        let tasks: Vec<(usize, u32)> = pending
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.done && points[p.point].method != FULL_VERIFY)
            .flat_map(|(i, p)| (p.runs.len() as u32..p.want).map(move |r| (i, r)))
            .collect();
        let made = tasks
            .par_iter()
            .map(|&(i, r)| {
                let p = &points[pending[i].point];
                engines[p.setting]
                    .run_one(&p.selector, spec.seed, r)
                    .map_err(failed(p))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let point_runs = tasks.len();
        for (&(i, _), outcome) in tasks.iter().zip(made) {
            pending[i].runs.push(outcome);
        }
        for p in pending.iter_mut().filter(|p| !p.done) {
            let point = &points[p.point];
            let g = &groups[point.setting];
            if point.method == FULL_VERIFY {
                p.runs = full[point.setting][..p.want as usize].to_vec();
                p.done = true;
            } else {
                let full_acc: Vec<f64> = full[point.setting].iter().filter_map(|r| r.accuracy).collect();
                let acc: Vec<f64> = p.runs.iter().filter_map(|r| r.accuracy).collect();
                let decided = decide(&paired_drop(&full_acc, &acc), spec.max_drop_pct) != Decision::Undecided;
                if decided || p.want >= g.max_runs {
                    p.done = true;
                } else {
                    p.want = (2 * p.want).min(g.max_runs);
                }
            }
            if p.done {
                progress(1);
            }
        }
        tracing::debug!(
            "round: {full_runs} full write-verify and {point_runs} point runs in {:.2} s; {} points pending",
            round.elapsed().as_secs_f64(),
            pending.iter().filter(|p| !p.done).count()
        );
    }

    let chip0 = crate::eval::run_seed(spec.seed, 0);
    let start = std::time::Instant::now();
    let predicted: Vec<f64> = mine
        .par_iter()
        .map(|&p| {
            let point = &points[p];
            engines[point.setting]
                .predicted_time_ns(&point.selector, chip0)
                .map_err(failed(point))
        })
        .collect::<Result<_, ReproduceError>>()?;
    tracing::debug!("predicted times in {:.2} s", start.elapsed().as_secs_f64());
    let records = pending
        .into_iter()
        .zip(predicted)
        .map(|(p, predicted_time_ns)| {
            let point = &points[p.point];
            let outcome = PointOutcome { runs: p.runs };
            let first = &outcome.runs[0].summary;
            PointRecord {
                point: p.point,
                setting: point.setting,
                method: point.method.clone(),
                knowledge: if point.selector.method.needs_devices() {
                    point.selector.knowledge.name().to_string()
                } else {
                    String::new()
                },
                fraction: point.selector.fraction,
                accuracies: outcome.accuracies(),
                time_ns: outcome.time_ns(),
                energy_pj: outcome.energy_pj(),
                weights_verified: first.selected_weights,
                devices_verified: first.counts.selected_devices,
                predicted_time_ns,
            }
        })
        .collect();

    let characterisation_ns = engines
        .iter()
        .zip(&groups)
        .map(|(engine, g)| match spec.knowledge {
            Knowledge::Characterised { cycles } => engine
                .characterisation_ns(cycles, chip0)
                .map(Some)
                .map_err(|failure| ReproduceError::Point {
                    point: format!("{} (characterisation time)", g.name),
                    failure,
                }),
            _ => Ok(None),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let info = RunInfo {
        hw_source: spec.hw.clone(),
        knowledge: spec.knowledge,
        seed: spec.seed,
        max_drop_pct: spec.max_drop_pct,
        models: benchmarks
            .iter()
            .map(|b| ModelInfo {
                name: b.name.to_string(),
                label: b.label.to_string(),
                calib_images: b.calib.len(),
                test_images: b.test.len(),
            })
            .collect(),
        settings: groups
            .iter()
            .zip(&settings)
            .zip(&characterisation_ns)
            .map(|((g, s), &characterisation_ns)| SettingInfo {
                model: g.model,
                name: g.name.clone(),
                hw_name: s.hw.name.clone(),
                arrays: s.mapped.num_arrays(),
                weights_total: s.mapped.num_weights(),
                devices_total: s.mapped.num_devices(),
                runs: g.runs,
                max_runs: g.max_runs,
                fractions: g.fractions.clone(),
                overrides: g.overrides.clone(),
                nonuniform: s
                    .hw
                    .device
                    .variation
                    .maps
                    .iter()
                    .any(|m| !matches!(m, VariationMapConfig::Uniform {})),
                physical: g.physical,
                characterisation_ns,
            })
            .collect(),
    };
    Ok(Evaluated {
        records,
        info,
        grid_points: points.len(),
    })
}

/// The results of the whole grid from the records of every point (in grid order, as one run or the
/// merged shards hold them): one row per point, with the paired drop from its setting's full-verify
/// point (same chips) and its [`Decision`]; after a method's last fraction below 1, its fraction 1
/// repeats the full-verify reference under its name.
pub fn assemble(info: &RunInfo, records: &[PointRecord]) -> Result<Results, ReproduceError> {
    let bad = |problem: String| ReproduceError::from(InputError::new("reproduce", "records", problem));
    if let Some((i, r)) = records.iter().enumerate().find(|(i, r)| r.point != *i) {
        return Err(bad(format!(
            "record {i} is point {}; expected point {i}",
            r.point
        )));
    }
    let mut rows: Vec<Row> = Vec::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        let Some(setting) = info.settings.get(rec.setting) else {
            return Err(bad(format!("point {i}: no setting {}", rec.setting)));
        };
        let Some(full) = records
            .iter()
            .find(|r| r.setting == rec.setting && r.method == FULL_VERIFY)
        else {
            return Err(bad(format!(
                "setting `{}` has no full-verify point",
                setting.name
            )));
        };
        let Some(stats) = Stats::of(&rec.accuracies) else {
            return Err(bad(format!("point {i} has no runs")));
        };
        let drop = paired_drop(&full.accuracies, &rec.accuracies);
        let row = Row {
            model: info.models[setting.model].name.clone(),
            variation: setting.name.clone(),
            hw: setting.hw_name.clone(),
            method: rec.method.clone(),
            knowledge: rec.knowledge.clone(),
            fraction: rec.fraction,
            weights_verified: rec.weights_verified,
            weights_total: setting.weights_total,
            devices_verified: rec.devices_verified,
            devices_total: setting.devices_total,
            runs: stats.runs,
            accuracy_mean_pct: 100.0 * stats.mean,
            accuracy_std_pct: 100.0 * stats.std,
            accuracy_ci95_low_pct: 100.0 * stats.ci95_low,
            accuracy_ci95_high_pct: 100.0 * stats.ci95_high,
            drop_mean_pct: 100.0 * drop.mean,
            drop_ci95_low_pct: 100.0 * drop.ci95_low,
            drop_ci95_high_pct: 100.0 * drop.ci95_high,
            decision: decide(&drop, info.max_drop_pct).name().to_string(),
            time_ns: rec.time_ns,
            energy_pj: rec.energy_pj,
            predicted_time_ns: rec.predicted_time_ns,
        };
        rows.push(row);
        let is_reference = rec.method == FULL_VERIFY || rec.method == NO_VERIFY;
        let last_of_method = records
            .get(i + 1)
            .is_none_or(|q| q.setting != rec.setting || q.method != rec.method);
        if !is_reference && last_of_method && setting.fractions.last() == Some(&1.0) {
            let full_row = rows
                .iter()
                .find(|r| {
                    r.model == info.models[setting.model].name
                        && r.variation == setting.name
                        && r.method == FULL_VERIFY
                })
                .expect("the references come first in a setting")
                .clone();
            rows.push(Row {
                method: rec.method.clone(),
                knowledge: rec.knowledge.clone(),
                ..full_row
            });
        }
    }
    Ok(Results {
        rows,
        info: info.clone(),
    })
}

/// The label of a point as `--timeline-point` takes it: `SETTING/METHOD/FRACTION` (e.g.
/// `uniform/uswim/0.1`, `uniform/full-verify/1`).
fn point_label(groups: &[Group], p: &Point) -> String {
    format!("{}/{}/{}", groups[p.setting].name, p.method, p.selector.fraction)
}

/// Programs the point `label` (see [`point_label`]; `None`: the first setting's full write-verify point)
/// once more, on the chip behind its results row's
/// time and energy (run 0's chip, seed `run_seed(spec.seed, 0)`, with the mask its selection makes for
/// that chip), with its phases streamed to a Chrome trace-event timeline at `path`. Runs its own
/// sensitivity pass over the benchmark's calibration set (as [`run`] does) when the point selects by
/// score. The points are those of the first network (`benchmark`).
pub fn write_point_timeline(
    spec: &Spec,
    benchmark: &Benchmark<'_>,
    label: Option<&str>,
    path: &std::path::Path,
) -> Result<crate::sim::ProgramResult, ReproduceError> {
    spec.validate()?;
    let (network, calib) = (benchmark.network, benchmark.calib);
    let groups = spec.groups();
    let points: Vec<Point> = points(spec, &groups)
        .into_iter()
        .filter(|p| groups[p.setting].model == 0)
        .collect();
    let label = match label {
        Some(l) => l.to_string(),
        None => points
            .iter()
            .find(|p| p.method == FULL_VERIFY)
            .map(|p| point_label(&groups, p))
            .unwrap_or_default(),
    };
    let label = label.as_str();
    let Some(point) = points.iter().find(|p| point_label(&groups, p) == label) else {
        let known: Vec<String> = points.iter().take(6).map(|p| point_label(&groups, p)).collect();
        return Err(InputError::new(
            "reproduce",
            "--timeline-point",
            format!(
                "no point `{label}`; points are SETTING/METHOD/FRACTION, e.g. {}",
                known.join(", ")
            ),
        )
        .into());
    };
    let failed = |failure: PointFailure| ReproduceError::Point {
        point: label.to_string(),
        failure,
    };
    let curvature = if point.selector.needs_scores() {
        Some(sensitivity::analyze(network, calib, |_, _| {})?)
    } else {
        None
    };
    let weights = LayerWeights::of_network(network);
    let setting = build_setting(spec, &groups[point.setting], &weights)?;
    let engine =
        Engine::new(network, &setting.mapped, &setting.hw, curvature.as_ref(), None).map_err(failed)?;
    let names = setting
        .mapped
        .layers()
        .iter()
        .map(|l| crate::trace::layer_label(&l.name).to_string())
        .collect();
    let title = format!("{}, point {label}", setting.hw.name);
    let io = |e: std::io::Error| failed(PointFailure::fault(format!("{}: {e}", path.display())));
    let mut timeline =
        crate::trace::Timeline::create(path, setting.hw.controller.clock_mhz, names, &title).map_err(io)?;
    let result = engine
        .program_traced(
            &point.selector,
            crate::eval::run_seed(spec.seed, 0),
            &mut timeline,
        )
        .map_err(failed)?;
    timeline.finish().map_err(io)?;
    Ok(result)
}

/// The configuration and mapping of one setting.
fn build_setting(spec: &Spec, g: &Group, weights: &[LayerWeights]) -> Result<Setting, ReproduceError> {
    let config_error = |source: ConfigError| ReproduceError::Config {
        setting: g.name.clone(),
        source,
    };
    let own: Vec<Override> = g
        .overrides
        .iter()
        .map(|t| config::parse_override(t))
        .collect::<Result<_, _>>()
        .map_err(config_error)?;
    let mut all = if g.physical {
        Vec::new()
    } else {
        spec.overrides.clone()
    };
    all.extend(own);
    let hw = config::load(&g.hw, &all).map_err(config_error)?;
    let mapped = Mapped::new(weights, &hw)?;
    Ok(Setting { hw, mapped })
}

/// The rows of `results` for `model`, `variation` and `method`, fractions ascending.
pub fn series<'a>(results: &'a Results, model: &str, variation: &str, method: &str) -> Vec<&'a Row> {
    let mut rows: Vec<&Row> = results
        .rows
        .iter()
        .filter(|r| r.model == model && r.variation == variation && r.method == method)
        .collect();
    rows.sort_by(|a, b| a.fraction.total_cmp(&b.fraction));
    rows
}

/// The reference row `method` (`no-verify` or `full-verify`) of `model` under `variation`.
pub fn reference<'a>(results: &'a Results, model: &str, variation: &str, method: &str) -> Option<&'a Row> {
    results
        .rows
        .iter()
        .find(|r| r.model == model && r.variation == variation && r.method == method)
}

/// The smallest fraction of a method's series (ascending) from which on every fraction's paired drop from
/// full write-verify is within `max_drop_pct` points with 95% confidence (the upper end of the paired
/// interval; so one lucky Monte-Carlo mean below a failing fraction does not count); `None` if even the
/// largest is not.
pub fn smallest_within<'a>(rows: &[&'a Row], max_drop_pct: f64) -> Option<&'a Row> {
    let mut best = None;
    for r in rows.iter().rev() {
        if r.drop_ci95_high_pct <= max_drop_pct {
            best = Some(*r);
        } else {
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row with paired drop `drop` and interval half width `half`.
    fn row(fraction: f64, drop: f64, half: f64) -> Row {
        Row {
            model: "n".into(),
            variation: "v".into(),
            hw: "h".into(),
            method: "m".into(),
            knowledge: String::new(),
            fraction,
            weights_verified: 0,
            weights_total: 0,
            devices_verified: 0,
            devices_total: 0,
            runs: 1,
            accuracy_mean_pct: 99.0 - drop,
            accuracy_std_pct: 0.0,
            accuracy_ci95_low_pct: 99.0 - drop,
            accuracy_ci95_high_pct: 99.0 - drop,
            drop_mean_pct: drop,
            drop_ci95_low_pct: drop - half,
            drop_ci95_high_pct: drop + half,
            decision: String::new(),
            time_ns: 1.0,
            energy_pj: 1.0,
            predicted_time_ns: 1.0,
        }
    }

    #[test]
    fn the_headline_fraction_ignores_a_lucky_mean_below_a_failing_fraction_and_needs_the_interval() {
        let rows = [
            row(0.01, 0.4, 0.0),
            row(0.1, 2.0, 0.0),
            row(0.2, 0.4, 0.0),
            row(1.0, 0.0, 0.0),
        ];
        let refs: Vec<&Row> = rows.iter().collect();
        assert_eq!(smallest_within(&refs, 0.5).unwrap().fraction, 0.2);
        assert_eq!(smallest_within(&refs, 2.0).unwrap().fraction, 0.01);
        // A mean drop within the limit does not count when its interval's upper end is not.
        let rows = [row(0.01, 0.3, 0.3), row(0.1, 0.1, 0.3), row(1.0, 0.0, 0.0)];
        let refs: Vec<&Row> = rows.iter().collect();
        assert_eq!(smallest_within(&refs, 0.5).unwrap().fraction, 0.1);
        let rows = [row(0.5, 0.6, 0.1)];
        assert!(smallest_within(&[&rows[0]], 0.5).is_none());
    }

    #[test]
    fn the_enough_runs_rule_decides_only_when_the_paired_interval_is_on_one_side_of_the_drop() {
        // Drops in fractions of the test set: 0.1 +- 0.1 points is within 0.5, 0.9 +- 0.1 outside,
        // 0.45 +- 0.2 neither; one run decides nothing.
        let stats = |d: &[f64]| Stats::of(&d.iter().map(|x| x / 100.0).collect::<Vec<_>>()).unwrap();
        assert_eq!(decide(&stats(&[0.0, 0.1, 0.2]), 0.5), Decision::Within);
        assert_eq!(decide(&stats(&[0.8, 0.9, 1.0]), 0.5), Decision::Outside);
        assert_eq!(decide(&stats(&[0.25, 0.45, 0.65]), 0.5), Decision::Undecided);
        assert_eq!(decide(&stats(&[0.1]), 0.5), Decision::Undecided);
        // The headline's test and the rule's agree: upper end at the limit is within.
        let at_limit = stats(&[0.5, 0.5]);
        assert_eq!(decide(&at_limit, 0.5), Decision::Within);
    }

    #[test]
    fn assembled_rows_pair_every_point_with_its_own_settings_full_verify_chips() {
        let setting = |model: usize, name: &str| SettingInfo {
            model,
            name: name.into(),
            hw_name: "hw".into(),
            arrays: 1,
            weights_total: 100,
            devices_total: 800,
            runs: 2,
            max_runs: 4,
            fractions: vec![0.1, 1.0],
            overrides: vec![],
            nonuniform: false,
            physical: false,
            characterisation_ns: None,
        };
        let info = RunInfo {
            hw_source: "hw".into(),
            knowledge: Knowledge::Prior,
            seed: 1,
            max_drop_pct: 0.5,
            models: ["a", "b"]
                .iter()
                .map(|n| ModelInfo {
                    name: n.to_string(),
                    label: n.to_string(),
                    calib_images: 1,
                    test_images: 1,
                })
                .collect(),
            settings: vec![setting(0, "u"), setting(1, "u")],
        };
        let record = |point, setting, method: &str, fraction, accuracies: &[f64]| PointRecord {
            point,
            setting,
            method: method.into(),
            knowledge: String::new(),
            fraction,
            accuracies: accuracies.to_vec(),
            time_ns: 1.0,
            energy_pj: 1.0,
            weights_verified: 0,
            devices_verified: 0,
            predicted_time_ns: 1.0,
        };
        let records = [
            record(0, 0, NO_VERIFY, 0.0, &[0.70, 0.72]),
            record(1, 0, FULL_VERIFY, 1.0, &[0.99, 0.98, 0.99, 0.98]),
            record(2, 0, "random", 0.1, &[0.97, 0.96]),
            record(3, 1, NO_VERIFY, 0.0, &[0.50, 0.50]),
            record(4, 1, FULL_VERIFY, 1.0, &[0.90, 0.90, 0.90, 0.90]),
            record(5, 1, "random", 0.1, &[0.90, 0.90]),
        ];
        let results = assemble(&info, &records).unwrap();
        // Every point, and random's fraction 1 repeating full-verify, per setting.
        assert_eq!(results.rows.len(), 8);
        let none = reference(&results, "a", "u", NO_VERIFY).unwrap();
        // The no-verify drop is against its own setting's full-verify chips (0.99 - 0.70, 0.98 - 0.72).
        assert!((none.drop_mean_pct - 27.5).abs() < 1e-9, "{none:?}");
        assert_eq!(none.decision, "outside");
        let random = series(&results, "a", "u", "random");
        assert_eq!(random.len(), 2);
        assert!((random[0].drop_mean_pct - 2.0).abs() < 1e-9);
        assert_eq!(random[1].runs, 4);
        let other = series(&results, "b", "u", "random");
        assert_eq!(other[0].drop_mean_pct, 0.0);
        assert_eq!(other[0].decision, "within");
        // Records out of grid order are refused.
        let mut shuffled = records.to_vec();
        shuffled.swap(1, 2);
        assert!(assemble(&info, &shuffled).is_err());
    }

    #[test]
    fn grids_and_settings_are_checked() {
        let spec = Spec {
            hw: "paper_statistical".into(),
            overrides: vec![],
            variations: default_variations(),
            physical: Some(PhysicalRun {
                hw: "rram_1t1r_256".into(),
                fractions: vec![0.01, 0.1, 1.0],
                runs: 2,
                max_runs: 4,
            }),
            methods: DEFAULT_METHODS.to_vec(),
            fractions: DEFAULT_FRACTIONS.to_vec(),
            runs: 6,
            max_runs: 24,
            seed: 1,
            knowledge: Knowledge::Prior,
            max_drop_pct: 0.5,
            second: Some(SecondModel {
                variations: vec![default_variations()[1].clone()],
                methods: vec![Method::Uswim, Method::Random],
                fractions: vec![0.05, 1.0],
                runs: 3,
                max_runs: 6,
            }),
        };
        assert!(spec.validate().is_ok());
        assert_eq!(spec.models(), 2);
        // 3 settings x (2 references + 6 methods x 7 fractions below 1), the physical preset's
        // 2 + 6 x 2, and the second model's 2 + 2 x 1, one progress unit each.
        assert_eq!(spec.grid_points(), 3 * 44 + 14 + 4);
        assert_eq!(spec.work_units(Shard::WHOLE), 3 * 44 + 14 + 4);
        let shard = Shard::new(1, 4, "t").unwrap();
        assert_eq!(spec.work_units(shard), 38);
        // The second model's settings may share names with the first's.
        let same_name = Spec {
            second: Some(SecondModel {
                variations: vec![default_variations()[0].clone()],
                ..spec.second.clone().unwrap()
            }),
            ..spec.clone()
        };
        assert!(same_name.validate().is_ok());
        for bad in [
            Spec {
                runs: 0,
                ..spec.clone()
            },
            Spec {
                max_runs: 5,
                ..spec.clone()
            },
            Spec {
                second: Some(SecondModel {
                    methods: vec![],
                    ..spec.second.clone().unwrap()
                }),
                ..spec.clone()
            },
            Spec {
                fractions: vec![0.1, 0.05],
                ..spec.clone()
            },
            Spec {
                fractions: vec![0.0, 1.0],
                ..spec.clone()
            },
            Spec {
                fractions: vec![0.5, 1.5],
                ..spec.clone()
            },
            Spec {
                methods: vec![],
                ..spec.clone()
            },
            Spec {
                variations: vec![default_variations()[0].clone(); 2],
                ..spec.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let v = VariationSetting::parse(
            "out:device.variation.maps=[{kind=\"outliers\",fraction=0.05,multiplier=5.0}]",
        )
        .unwrap();
        assert_eq!(v.name, "out");
        assert!(v.overrides[0].starts_with("device.variation.maps="));
        assert!(VariationSetting::parse("no-colon").is_err());
        assert!(VariationSetting::parse(":x=1").is_err());
        // Every default setting is a valid configuration on both default presets.
        for v in default_variations() {
            let o: Vec<Override> = v
                .overrides
                .iter()
                .map(|t| config::parse_override(t).unwrap())
                .collect();
            config::load("paper_statistical", &o).unwrap();
            config::load("rram_1t1r_256", &o).unwrap();
        }
    }
}
