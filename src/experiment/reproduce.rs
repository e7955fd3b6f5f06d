//! The U-SWIM experiment (`uswim reproduce`): a built-in sweep over (variation setting, method,
//! fraction), with Monte-Carlo accuracy and the simulated programming time and energy of every point.
//!
//! How a run is organised:
//! 1. One sensitivity pass of the network over the calibration set (gradients and second derivatives);
//!    every method's scores derive from it, and under each setting they differ only through the device
//!    information ([`super::selection::device_info`], under the spec's [`Knowledge`]: `prior` by default).
//! 2. The settings: each variation setting on `spec.hw` (the papers' statistical preset by default: the
//!    comparison with the papers), and optionally `spec.physical`, a pulse-level preset with its own
//!    physics (the tool's own result), on a smaller grid.
//! 3. Every point (setting, method, fraction) and the two references (no and full write-verify) are
//!    evaluated by the experiment engine ([`super::engine`]), the same function `uswim sweep` uses: run
//!    `r` programs the chip of seed [`crate::eval::run_seed`]`(seed, r)` once, the same chips for every
//!    point (common random numbers), and takes its accuracy, time and energy from that one programming.
//! 4. Statistics: mean and 95% interval of the accuracy over runs, and the paired difference from full
//!    write-verify on the same chips with its 95% interval; a fraction is within the allowed drop only
//!    when the paired interval's upper bound is ([`smallest_within`]).

use super::engine::{Engine, PointFailure, PointOutcome, Selector};
use super::selection::Knowledge;
use crate::config::{self, ConfigError, HwConfig, Override, VariationMapConfig};
use crate::error::InputError;
use crate::eval::Stats;
use crate::map::{LayerWeights, MapError, Mapped};
use crate::nn::{Dataset, Network};
use crate::sensitivity::{self, Method};
use rayon::prelude::*;
use serde::Serialize;
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

/// The default grid of write-verify fractions: 1-2-5 steps from 0.1% to 100%.
pub const DEFAULT_FRACTIONS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];

/// The pulse-level preset run beside the statistical one: programmed with its own device physics (no
/// variation override), on its own grid of fractions and runs (fewer: its programmer is slower).
#[derive(Debug, Clone, PartialEq)]
pub struct PhysicalRun {
    /// A preset name or TOML file (`rram_1t1r_256`).
    pub hw: String,
    /// Fractions of weights verified, ascending, in (0, 1].
    pub fractions: Vec<f64>,
    /// Monte-Carlo runs per point.
    pub runs: u32,
}

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
    /// Monte-Carlo runs per point on `hw`.
    pub runs: u32,
    /// Seed of every run (run r of every point programs the chip `run_seed(seed, r)`).
    pub seed: u64,
    /// What the device-aware scores know of the devices.
    pub knowledge: Knowledge,
    /// The headline's accuracy drop allowed from full write-verify, in percentage points.
    pub max_drop_pct: f64,
}

/// One setting as run: a configuration with overrides, its grid and runs.
#[derive(Debug, Clone, PartialEq)]
struct Group {
    name: String,
    hw: String,
    overrides: Vec<String>,
    fractions: Vec<f64>,
    runs: u32,
    physical: bool,
}

impl Spec {
    /// Checks the grid: at least one setting, method and fraction; fractions ascending in (0, 1];
    /// runs >= 1; distinct setting names.
    pub fn validate(&self) -> Result<(), InputError> {
        let bad = |field: &str, problem: String| Err(InputError::new("reproduce", field, problem));
        if self.variations.is_empty() || self.methods.is_empty() {
            return bad(
                "grid",
                "needs at least one variation setting and one method".into(),
            );
        }
        let groups = self.groups();
        for (i, g) in groups.iter().enumerate() {
            if g.runs == 0 {
                return bad(
                    "runs",
                    format!("{}: 0 Monte-Carlo runs; allowed: at least 1", g.name),
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
            if groups[..i].iter().any(|h| h.name == g.name) {
                return bad("variations", format!("the name `{}` is used twice", g.name));
            }
        }
        if !(self.max_drop_pct >= 0.0 && self.max_drop_pct.is_finite()) {
            return bad("max_drop_pct", format!("{}; allowed: >= 0", self.max_drop_pct));
        }
        Ok(())
    }

    /// The settings run: every variation setting on `hw`, then the physical preset (named after it).
    fn groups(&self) -> Vec<Group> {
        let mut groups: Vec<Group> = self
            .variations
            .iter()
            .map(|v| Group {
                name: v.name.clone(),
                hw: self.hw.clone(),
                overrides: v.overrides.clone(),
                fractions: self.fractions.clone(),
                runs: self.runs,
                physical: false,
            })
            .collect();
        if let Some(p) = &self.physical {
            groups.push(Group {
                name: p.hw.clone(),
                hw: p.hw.clone(),
                overrides: Vec::new(),
                fractions: p.fractions.clone(),
                runs: p.runs,
                physical: true,
            });
        }
        groups
    }

    /// The number of progress units [`run`] reports: one per Monte-Carlo run.
    pub fn work_units(&self) -> u64 {
        self.groups()
            .iter()
            .map(|g| {
                let points = 2 + self.methods.len() * g.fractions.iter().filter(|&&f| f < 1.0).count();
                points as u64 * u64::from(g.runs)
            })
            .sum()
    }
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

/// One row of `results.csv`: a point (setting, method, fraction) or a reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
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
    /// Monte-Carlo runs.
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

/// What the experiment ran on, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// The statistical configuration as given (preset name or file).
    pub hw_source: String,
    /// Calibration images of the sensitivity pass.
    pub calib_images: usize,
    /// Test images per Monte-Carlo run.
    pub test_images: usize,
    /// Device knowledge of the device-aware scores.
    pub knowledge: Knowledge,
    /// The settings, in order.
    pub settings: Vec<SettingInfo>,
}

/// A setting as run.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingInfo {
    /// Its name.
    pub name: String,
    /// The configuration's name.
    pub hw_name: String,
    /// Arrays of its mapping.
    pub arrays: u32,
    /// Monte-Carlo runs per point.
    pub runs: u32,
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

/// The experiment's results: one row per point and reference, settings in order, then references, then
/// methods in order, fractions ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// The rows.
    pub rows: Vec<Row>,
    /// What it ran on.
    pub info: RunInfo,
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
        for &method in &spec.methods {
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

/// Runs the experiment on `network` with the sensitivity pass over `calib` and accuracy on `test`.
/// `progress(units)` is called as work finishes (see [`Spec::work_units`]).
pub fn run(
    spec: &Spec,
    network: &Network,
    calib: &Dataset,
    test: &Dataset,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Results, ReproduceError> {
    spec.validate()?;
    let curvature = sensitivity::analyze(network, calib, |_, _| {})?;
    let weights = LayerWeights::of_network(network);
    let groups = spec.groups();
    let settings = groups
        .iter()
        .map(|g| build_setting(spec, g, &weights))
        .collect::<Result<Vec<_>, _>>()?;
    let engines = settings
        .iter()
        .map(|s| Engine::new(network, &s.mapped, &s.hw, Some(&curvature), Some(test)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|failure| ReproduceError::Point {
            point: "setup".into(),
            failure,
        })?;
    let points = points(spec, &groups);
    let outcomes: Vec<PointOutcome> = points
        .par_iter()
        .map(|p| {
            let runs = groups[p.setting].runs;
            let outcome = engines[p.setting]
                .evaluate(&p.selector, spec.seed, runs)
                .map_err(|failure| ReproduceError::Point {
                    point: format!("{}/{}/{}", groups[p.setting].name, p.method, p.selector.fraction),
                    failure,
                })?;
            progress(u64::from(runs));
            Ok(outcome)
        })
        .collect::<Result<_, ReproduceError>>()?;
    let chip0 = crate::eval::run_seed(spec.seed, 0);
    let predicted: Vec<f64> = points
        .par_iter()
        .map(|p| {
            engines[p.setting]
                .predicted_time_ns(&p.selector, chip0)
                .map_err(|failure| ReproduceError::Point {
                    point: format!(
                        "{}/{}/{} (predicted time)",
                        groups[p.setting].name, p.method, p.selector.fraction
                    ),
                    failure,
                })
        })
        .collect::<Result<_, ReproduceError>>()?;

    let rows = collect_rows(&groups, &points, &settings, &outcomes, &predicted);
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
        calib_images: curvature.samples,
        test_images: test.len(),
        knowledge: spec.knowledge,
        settings: groups
            .iter()
            .zip(&settings)
            .zip(&characterisation_ns)
            .map(|((g, s), &characterisation_ns)| SettingInfo {
                name: g.name.clone(),
                hw_name: s.hw.name.clone(),
                arrays: s.mapped.num_arrays(),
                runs: g.runs,
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
    Ok(Results { rows, info })
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
/// sensitivity pass over `calib` (as [`run`] does) when the point selects by score.
pub fn write_point_timeline(
    spec: &Spec,
    network: &Network,
    calib: &Dataset,
    label: Option<&str>,
    path: &std::path::Path,
) -> Result<crate::sim::ProgramResult, ReproduceError> {
    spec.validate()?;
    let groups = spec.groups();
    let points = points(spec, &groups);
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

/// One row per point, with the paired drop from its setting's full-verify point (same chips); after a
/// method's last fraction below 1, its fraction 1 repeats the full-verify reference under its name.
fn collect_rows(
    groups: &[Group],
    points: &[Point],
    settings: &[Setting],
    outcomes: &[PointOutcome],
    predicted_ns: &[f64],
) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::with_capacity(points.len());
    let mut full_row = 0;
    let mut full_point = 0;
    for (i, (p, outcome)) in points.iter().zip(outcomes).enumerate() {
        if p.method == FULL_VERIFY {
            full_row = rows.len();
            full_point = i;
        }
        let accuracies = outcome.accuracies();
        let drops: Vec<f64> = outcomes[full_point]
            .accuracies()
            .iter()
            .zip(&accuracies)
            .map(|(f, a)| f - a)
            .collect();
        let stats = Stats::of(&accuracies).expect("runs >= 1");
        let drop = Stats::of(&drops).expect("runs >= 1");
        let first = &outcome.runs[0].summary;
        let mapped = &settings[p.setting].mapped;
        let knowledge = if p.selector.method.needs_devices() {
            p.selector.knowledge.name().to_string()
        } else {
            String::new()
        };
        rows.push(Row {
            variation: groups[p.setting].name.clone(),
            hw: settings[p.setting].hw.name.clone(),
            method: p.method.clone(),
            knowledge: knowledge.clone(),
            fraction: p.selector.fraction,
            weights_verified: first.selected_weights,
            weights_total: mapped.num_weights(),
            devices_verified: first.counts.selected_devices,
            devices_total: mapped.num_devices(),
            runs: stats.runs,
            accuracy_mean_pct: 100.0 * stats.mean,
            accuracy_std_pct: 100.0 * stats.std,
            accuracy_ci95_low_pct: 100.0 * stats.ci95_low,
            accuracy_ci95_high_pct: 100.0 * stats.ci95_high,
            drop_mean_pct: 100.0 * drop.mean,
            drop_ci95_low_pct: 100.0 * drop.ci95_low,
            drop_ci95_high_pct: 100.0 * drop.ci95_high,
            time_ns: outcome.time_ns(),
            energy_pj: outcome.energy_pj(),
            predicted_time_ns: predicted_ns[i],
        });
        let is_reference = p.method == FULL_VERIFY || p.method == NO_VERIFY;
        let last_of_method = points
            .get(i + 1)
            .is_none_or(|q| q.setting != p.setting || q.method != p.method);
        if !is_reference && last_of_method && groups[p.setting].fractions.last() == Some(&1.0) {
            let alias = Row {
                method: p.method.clone(),
                knowledge,
                ..rows[full_row].clone()
            };
            rows.push(alias);
        }
    }
    rows
}

/// The rows of `results` for `variation` and `method`, fractions ascending.
pub fn series<'a>(results: &'a Results, variation: &str, method: &str) -> Vec<&'a Row> {
    let mut rows: Vec<&Row> = results
        .rows
        .iter()
        .filter(|r| r.variation == variation && r.method == method)
        .collect();
    rows.sort_by(|a, b| a.fraction.total_cmp(&b.fraction));
    rows
}

/// The reference row `method` (`no-verify` or `full-verify`) of `variation`.
pub fn reference<'a>(results: &'a Results, variation: &str, method: &str) -> Option<&'a Row> {
    results
        .rows
        .iter()
        .find(|r| r.variation == variation && r.method == method)
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
    fn grids_and_settings_are_checked() {
        let spec = Spec {
            hw: "paper_statistical".into(),
            overrides: vec![],
            variations: default_variations(),
            physical: Some(PhysicalRun {
                hw: "rram_1t1r_256".into(),
                fractions: vec![0.01, 0.1, 1.0],
                runs: 2,
            }),
            methods: DEFAULT_METHODS.to_vec(),
            fractions: DEFAULT_FRACTIONS.to_vec(),
            runs: 6,
            seed: 1,
            knowledge: Knowledge::Prior,
            max_drop_pct: 0.5,
        };
        assert!(spec.validate().is_ok());
        // 3 settings x (2 references + 6 methods x 9 fractions below 1) x 6 runs, and the physical
        // preset's (2 + 6 x 2) x 2.
        assert_eq!(spec.work_units(), 3 * 56 * 6 + 14 * 2);
        for bad in [
            Spec {
                runs: 0,
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
