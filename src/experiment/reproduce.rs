//! The U-SWIM experiment (`uswim reproduce`): selection methods over a grid of write-verify fractions,
//! under several device-variation settings, with Monte-Carlo accuracy and the simulated programming time
//! and energy of every point.
//!
//! How a run is organised:
//! 1. One sensitivity pass of the network over the calibration set (gradients and second derivatives);
//!    every method's scores derive from it, and under each variation setting they differ only through the
//!    device information ([`super::selection::device_info`]).
//! 2. Per variation setting: the accuracy configuration (`spec.hw` with the setting's overrides) and,
//!    optionally, a timing configuration (`spec.timing_hw` with the same overrides).
//! 3. Every point (setting, method, fraction) and the two references (no and full write-verify) get
//!    `spec.runs` Monte-Carlo runs; run `r` programs a fresh chip with seed [`run_seed`]`(seed, r)`, the
//!    same for every point (common random numbers: methods are compared on the same chips and the same
//!    programming noise). A selection that depends on the device sigmas (device-aware scores under a map
//!    that draws per device, such as `lognormal`) is made per run, from that run's seed, so the analyzer
//!    sees exactly the sigmas programmed; `random` draws its mask from the run's seed. All runs of all
//!    points are one flat list of rayon tasks.
//! 4. Time and energy: `time_ns` / `energy_pj` are the means over the runs of the accuracy
//!    configuration's cycle-level programmer; the timing configuration programs run 0's mask once per
//!    point (its time is a deterministic function of the mask and the seed).

use super::selection::{device_info, sigmas_depend_on_seed};
use crate::config::{self, ConfigError, HwConfig, Override, VariationMapConfig};
use crate::error::InputError;
use crate::eval::{EvalError, Evaluator, Stats, run_seed};
use crate::map::{LayerWeights, MapError, Mapped};
use crate::nn::{Dataset, Network};
use crate::sensitivity::{self, Budget, Method, ScoreOptions, Scores};
use crate::sim::{self, Mask, ProgramOptions, SimError};
use crate::trace::{NullSink, Summary, TraceFilter, TraceLevel};
use rayon::prelude::*;
use serde::Serialize;
use std::borrow::Cow;
use std::sync::OnceLock;
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

/// The default methods: uswim, swim, magnitude, random.
pub const DEFAULT_METHODS: [Method; 4] = [Method::Uswim, Method::Swim, Method::Magnitude, Method::Random];

/// The default grid of write-verify fractions: 1-2-5 steps from 0.1% to 100%.
pub const DEFAULT_FRACTIONS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The accuracy configuration: a preset name or TOML file (`paper_statistical`).
    pub hw: String,
    /// Overrides applied to `hw` before each variation setting's.
    pub overrides: Vec<Override>,
    /// A second configuration programmed for time and energy only (`rram_1t1r_256`), with each
    /// setting's overrides too.
    pub timing_hw: Option<String>,
    /// The variation settings.
    pub variations: Vec<VariationSetting>,
    /// The selection methods.
    pub methods: Vec<Method>,
    /// Fractions of weights verified, ascending, in (0, 1].
    pub fractions: Vec<f64>,
    /// Monte-Carlo runs per point.
    pub runs: u32,
    /// Seed of every run (see [`run_seed`]).
    pub seed: u64,
    /// The headline's accuracy drop allowed from full write-verify, in percentage points.
    pub max_drop_pct: f64,
}

impl Spec {
    /// Checks the grid: at least one setting, method and fraction; fractions ascending in (0, 1];
    /// runs >= 1; distinct setting names.
    pub fn validate(&self) -> Result<(), InputError> {
        let bad = |field: &str, problem: String| Err(InputError::new("reproduce", field, problem));
        if self.runs == 0 {
            return bad("runs", "0 Monte-Carlo runs; allowed: at least 1".into());
        }
        if self.variations.is_empty() || self.methods.is_empty() || self.fractions.is_empty() {
            return bad(
                "grid",
                "needs at least one variation setting, one method and one fraction".into(),
            );
        }
        if let Some(f) = self.fractions.iter().find(|f| !(**f > 0.0 && **f <= 1.0)) {
            return bad("fractions", format!("{f} is out of range; allowed: (0, 1]"));
        }
        if self.fractions.windows(2).any(|w| w[0] >= w[1]) {
            return bad("fractions", "must be strictly ascending".into());
        }
        for (i, v) in self.variations.iter().enumerate() {
            if self.variations[..i].iter().any(|w| w.name == v.name) {
                return bad("variations", format!("the name `{}` is used twice", v.name));
            }
        }
        if !(self.max_drop_pct >= 0.0 && self.max_drop_pct.is_finite()) {
            return bad("max_drop_pct", format!("{}; allowed: >= 0", self.max_drop_pct));
        }
        Ok(())
    }

    /// The number of progress units [`run`] reports: one per Monte-Carlo run and one per timing run.
    pub fn work_units(&self) -> u64 {
        let points = self.points_per_setting() as u64;
        let timing = u64::from(self.timing_hw.is_some());
        self.variations.len() as u64 * points * (u64::from(self.runs) + timing)
    }

    /// Points simulated per setting: the two references and every method at every fraction below 1
    /// (fraction 1 is the full write-verify reference).
    fn points_per_setting(&self) -> usize {
        2 + self.methods.len() * self.fractions.iter().filter(|&&f| f < 1.0).count()
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
    /// A Monte-Carlo run failed.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// A timing run failed.
    #[error("timing run: {0}")]
    Sim(#[from] SimError),
}

/// Method name of the no-write-verify reference row.
pub const NO_VERIFY: &str = "no-verify";
/// Method name of the full-write-verify reference row.
pub const FULL_VERIFY: &str = "full-verify";

/// One row of `results.csv`: a point (setting, method, fraction) or a reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Variation setting.
    pub variation: String,
    /// Method (or `no-verify` / `full-verify`).
    pub method: String,
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
    /// Programming time on the accuracy configuration, mean over runs, in ns.
    pub time_ns: f64,
    /// Programming energy on the accuracy configuration, mean over runs, in pJ.
    pub energy_pj: f64,
    /// Programming time of run 0's mask on the timing configuration, in ns (empty without one).
    pub timing_hw_time_ns: Option<f64>,
    /// Programming energy of run 0's mask on the timing configuration, in pJ.
    pub timing_hw_energy_pj: Option<f64>,
}

/// What the experiment ran on, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// Name of the accuracy configuration.
    pub hw_name: String,
    /// The accuracy configuration as given (preset name or file).
    pub hw_source: String,
    /// The timing configuration as given.
    pub timing_hw_source: Option<String>,
    /// Name of the timing configuration.
    pub timing_hw_name: Option<String>,
    /// Calibration images of the sensitivity pass.
    pub calib_images: usize,
    /// Test images per Monte-Carlo run.
    pub test_images: usize,
    /// Arrays of the accuracy configuration's mapping.
    pub arrays: u32,
    /// Arrays of the timing configuration's mapping.
    pub timing_arrays: Option<u32>,
    /// The variation settings, in order.
    pub settings: Vec<SettingInfo>,
}

/// A variation setting as run.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingInfo {
    /// Its name.
    pub name: String,
    /// Its overrides, as typed.
    pub overrides: Vec<String>,
    /// Whether any of its maps makes device sigmas differ (anything but `uniform`).
    pub nonuniform: bool,
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

/// How a point's mask is made.
enum Selector {
    /// No write-verify.
    None,
    /// Full write-verify.
    All,
    /// One mask for every run.
    Fixed(Mask),
    /// A uniformly random mask from the run's seed.
    Random(f64),
    /// Fraction 1 of a method: the rows of the `full-verify` reference point with this index.
    SameAs(usize),
    /// A device-aware method under seed-dependent sigmas: the scores of each run's chip.
    PerRun {
        /// The fraction selected.
        fraction: f64,
        /// Index of the method's per-run scores.
        scores: usize,
    },
}

/// A point of the grid.
struct Point {
    setting: usize,
    method: String,
    fraction: f64,
    selector: Selector,
}

/// Everything built once per variation setting.
struct Setting {
    hw: HwConfig,
    mapped: Mapped,
    timing: Option<(HwConfig, Mapped)>,
}

/// The work items: every run of every point, and every point's timing run.
#[derive(Clone, Copy)]
enum Job {
    Mc { point: usize, run: u32 },
    Timing { point: usize },
}

/// A job's outcome.
enum Outcome {
    Mc { accuracy: f64, summary: Box<Summary> },
    Timing { summary: Box<Summary> },
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
    let settings = spec
        .variations
        .iter()
        .map(|v| build_setting(spec, v, &weights))
        .collect::<Result<Vec<_>, _>>()?;
    let evaluators = settings
        .iter()
        .map(|s| Evaluator::new(network, &s.mapped, &s.hw, test))
        .collect::<Result<Vec<_>, _>>()?;

    // Scores that need no device information are the same under every setting.
    let plain: Vec<Option<Scores>> = spec
        .methods
        .iter()
        .map(|&m| {
            (!m.needs_devices() && m != Method::Random)
                .then(|| sensitivity::score(&curvature, None, &score_options(m, spec.seed)))
                .transpose()
        })
        .collect::<Result<_, _>>()?;

    let mut points = Vec::new();
    let mut per_run_keys: Vec<(usize, Method)> = Vec::new();
    for (si, setting) in settings.iter().enumerate() {
        let full = points.len() + 1;
        points.push(Point {
            setting: si,
            method: NO_VERIFY.into(),
            fraction: 0.0,
            selector: Selector::None,
        });
        points.push(Point {
            setting: si,
            method: FULL_VERIFY.into(),
            fraction: 1.0,
            selector: Selector::All,
        });
        let per_run = sigmas_depend_on_seed(&setting.hw.device.variation);
        let fixed_devices = OnceLock::new();
        for (mi, &method) in spec.methods.iter().enumerate() {
            // Device-aware scores under sigmas that do not depend on the seed: one selection for all runs.
            let scores: Option<Scores> = match (method, &plain[mi]) {
                (Method::Random, _) => None,
                (_, Some(s)) => Some(s.clone()),
                _ if per_run => None,
                _ => {
                    let devices = fixed_devices
                        .get_or_init(|| device_info(&setting.mapped, &setting.hw, run_seed(spec.seed, 0)));
                    Some(sensitivity::score(
                        &curvature,
                        Some(devices),
                        &score_options(method, spec.seed),
                    )?)
                }
            };
            let key = if method != Method::Random && scores.is_none() {
                per_run_keys.push((si, method));
                Some(per_run_keys.len() - 1)
            } else {
                None
            };
            for &fraction in spec.fractions.iter().filter(|&&f| f < 1.0) {
                let selector = match (&scores, key) {
                    (Some(s), _) => Selector::Fixed(Mask::Weights(
                        sensitivity::select(s, Budget::Fraction(fraction), None)?.layers,
                    )),
                    (None, Some(k)) => Selector::PerRun { fraction, scores: k },
                    (None, None) => Selector::Random(fraction),
                };
                points.push(Point {
                    setting: si,
                    method: method.name().to_string(),
                    fraction,
                    selector,
                });
            }
            if spec.fractions.last() == Some(&1.0) {
                points.push(Point {
                    setting: si,
                    method: method.name().to_string(),
                    fraction: 1.0,
                    selector: Selector::SameAs(full),
                });
            }
        }
    }

    // Device-aware scores under seed-dependent sigmas: each run's chip has its own sigmas (from the run's
    // seed, as the programmer draws them) and so its own scores, made here once per (key, run) before the
    // runs start (not lazily inside them: rayon's work stealing could re-enter a lazy initialisation).
    let pairs: Vec<(usize, u32)> = (0..per_run_keys.len())
        .flat_map(|k| (0..spec.runs).map(move |r| (k, r)))
        .collect();
    let flat: Vec<Scores> = pairs
        .par_iter()
        .map(|&(k, r)| {
            let (si, method) = per_run_keys[k];
            let s = &settings[si];
            let devices = device_info(&s.mapped, &s.hw, run_seed(spec.seed, r));
            sensitivity::score(&curvature, Some(&devices), &score_options(method, spec.seed))
        })
        .collect::<Result<_, _>>()?;
    let mut flat = flat.into_iter();
    let per_run_scores: PerRunScores = per_run_keys
        .iter()
        .map(|_| flat.by_ref().take(spec.runs as usize).collect())
        .collect();
    let masks = Masks {
        seed: spec.seed,
        settings: &settings,
        per_run_scores: &per_run_scores,
    };
    let mut jobs = Vec::new();
    for (point, p) in points.iter().enumerate() {
        if matches!(p.selector, Selector::SameAs(_)) {
            continue;
        }
        jobs.extend((0..spec.runs).map(|run| Job::Mc { point, run }));
        if spec.timing_hw.is_some() {
            jobs.push(Job::Timing { point });
        }
    }
    let outcomes: Vec<Outcome> = jobs
        .par_iter()
        .map(|&job| -> Result<Outcome, ReproduceError> {
            let outcome = match job {
                Job::Mc { point, run } => {
                    let p = &points[point];
                    let mask = masks.of(p, run)?;
                    let r = evaluators[p.setting].run(&mask, run_seed(spec.seed, run))?;
                    Outcome::Mc {
                        accuracy: r.accuracy,
                        summary: Box::new(r.summary),
                    }
                }
                Job::Timing { point } => {
                    let p = &points[point];
                    let mask = masks.of(p, 0)?;
                    let (hw, mapped) = settings[p.setting]
                        .timing
                        .as_ref()
                        .expect("timing jobs exist only with a timing configuration");
                    let options = ProgramOptions {
                        seed: run_seed(spec.seed, 0),
                        trace: TraceFilter::level(TraceLevel::Off),
                        keep_conductances: false,
                    };
                    let result = sim::program(mapped, hw, &mask, &options, &mut NullSink)?;
                    Outcome::Timing {
                        summary: Box::new(result.summary),
                    }
                }
            };
            progress(1);
            Ok(outcome)
        })
        .collect::<Result<_, _>>()?;

    let rows = collect_rows(spec, &points, &settings, &jobs, outcomes);
    let info = RunInfo {
        hw_name: settings[0].hw.name.clone(),
        hw_source: spec.hw.clone(),
        timing_hw_source: spec.timing_hw.clone(),
        timing_hw_name: settings[0].timing.as_ref().map(|(hw, _)| hw.name.clone()),
        calib_images: curvature.samples,
        test_images: test.len(),
        arrays: settings[0].mapped.num_arrays(),
        timing_arrays: settings[0].timing.as_ref().map(|(_, m)| m.num_arrays()),
        settings: spec
            .variations
            .iter()
            .zip(&settings)
            .map(|(v, s)| SettingInfo {
                name: v.name.clone(),
                overrides: v.overrides.clone(),
                nonuniform: s
                    .hw
                    .device
                    .variation
                    .maps
                    .iter()
                    .any(|m| !matches!(m, VariationMapConfig::Uniform {})),
            })
            .collect(),
    };
    Ok(Results { rows, info })
}

/// Scores of a device-aware method under seed-dependent sigmas, per key, per run.
type PerRunScores = Vec<Vec<Scores>>;

/// Makes the mask of a point for a run.
struct Masks<'a> {
    seed: u64,
    settings: &'a [Setting],
    per_run_scores: &'a PerRunScores,
}

impl<'a> Masks<'a> {
    /// The mask of `point` in run `run`.
    fn of(&self, point: &'a Point, run: u32) -> Result<Cow<'a, Mask>, ReproduceError> {
        static NONE: Mask = Mask::None;
        static ALL: Mask = Mask::All;
        let seed = run_seed(self.seed, run);
        let setting = &self.settings[point.setting];
        Ok(match &point.selector {
            Selector::None => Cow::Borrowed(&NONE),
            Selector::All => Cow::Borrowed(&ALL),
            Selector::Fixed(m) => Cow::Borrowed(m),
            Selector::SameAs(_) => unreachable!("an alias point has no jobs"),
            Selector::Random(f) => Cow::Owned(Mask::random(&setting.mapped, *f, seed)),
            Selector::PerRun { fraction, scores } => {
                let s = &self.per_run_scores[*scores][run as usize];
                Cow::Owned(Mask::Weights(
                    sensitivity::select(s, Budget::Fraction(*fraction), None)?.layers,
                ))
            }
        })
    }
}

/// Scoring options of the experiment: the authors' first-order term on.
fn score_options(method: Method, seed: u64) -> ScoreOptions {
    ScoreOptions {
        seed,
        ..ScoreOptions::new(method)
    }
}

/// The configurations and mappings of one setting.
fn build_setting(
    spec: &Spec,
    v: &VariationSetting,
    weights: &[LayerWeights],
) -> Result<Setting, ReproduceError> {
    let config_error = |source: ConfigError| ReproduceError::Config {
        setting: v.name.clone(),
        source,
    };
    let own: Vec<Override> = v
        .overrides
        .iter()
        .map(|t| config::parse_override(t))
        .collect::<Result<_, _>>()
        .map_err(config_error)?;
    let mut all = spec.overrides.clone();
    all.extend(own.iter().cloned());
    let hw = config::load(&spec.hw, &all).map_err(config_error)?;
    let mapped = Mapped::new(weights, &hw)?;
    let timing = match &spec.timing_hw {
        None => None,
        Some(t) => {
            let hw = config::load(t, &own).map_err(config_error)?;
            let mapped = Mapped::new(weights, &hw)?;
            Some((hw, mapped))
        }
    };
    Ok(Setting { hw, mapped, timing })
}

/// Aggregates the job outcomes into one row per point.
fn collect_rows(
    spec: &Spec,
    points: &[Point],
    settings: &[Setting],
    jobs: &[Job],
    outcomes: Vec<Outcome>,
) -> Vec<Row> {
    let mut accuracies: Vec<Vec<f64>> = vec![Vec::new(); points.len()];
    let mut summaries: Vec<Vec<Summary>> = vec![Vec::new(); points.len()];
    let mut timing: Vec<Option<Summary>> = vec![None; points.len()];
    for (job, outcome) in jobs.iter().zip(outcomes) {
        match (job, outcome) {
            (Job::Mc { point, .. }, Outcome::Mc { accuracy, summary }) => {
                accuracies[*point].push(accuracy);
                summaries[*point].push(*summary);
            }
            (Job::Timing { point }, Outcome::Timing { summary }) => timing[*point] = Some(*summary),
            _ => unreachable!("each job gives its own kind of outcome"),
        }
    }
    let mut rows: Vec<Row> = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        if let Selector::SameAs(full) = p.selector {
            let row = Row {
                method: p.method.clone(),
                ..rows[full].clone()
            };
            rows.push(row);
            continue;
        }
        let stats = Stats::of(&accuracies[i]).expect("runs >= 1");
        let runs = &summaries[i];
        let mean = |f: &dyn Fn(&Summary) -> f64| runs.iter().map(f).sum::<f64>() / runs.len() as f64;
        let first = &runs[0];
        let mapped = &settings[p.setting].mapped;
        rows.push(Row {
            variation: spec.variations[p.setting].name.clone(),
            method: p.method.clone(),
            fraction: p.fraction,
            weights_verified: first.selected_weights,
            weights_total: mapped.num_weights(),
            devices_verified: first.counts.selected_devices,
            devices_total: mapped.num_devices(),
            runs: stats.runs,
            accuracy_mean_pct: 100.0 * stats.mean,
            accuracy_std_pct: 100.0 * stats.std,
            accuracy_ci95_low_pct: 100.0 * stats.ci95_low,
            accuracy_ci95_high_pct: 100.0 * stats.ci95_high,
            time_ns: mean(&|s| s.total_time_ns),
            energy_pj: mean(&|s| s.energy.total_pj()),
            timing_hw_time_ns: timing[i].as_ref().map(|s| s.total_time_ns),
            timing_hw_energy_pj: timing[i].as_ref().map(|s| s.energy.total_pj()),
        });
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

/// The smallest fraction of a method's series (ascending) from which on every fraction's mean accuracy
/// is within `max_drop_pct` points of `full_pct` (so one lucky Monte-Carlo mean below a failing fraction
/// does not count); `None` if even the largest is not.
pub fn smallest_within<'a>(rows: &[&'a Row], full_pct: f64, max_drop_pct: f64) -> Option<&'a Row> {
    let mut best = None;
    for r in rows.iter().rev() {
        if r.accuracy_mean_pct >= full_pct - max_drop_pct {
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

    fn row(fraction: f64, acc: f64) -> Row {
        Row {
            variation: "v".into(),
            method: "m".into(),
            fraction,
            weights_verified: 0,
            weights_total: 0,
            devices_verified: 0,
            devices_total: 0,
            runs: 1,
            accuracy_mean_pct: acc,
            accuracy_std_pct: 0.0,
            accuracy_ci95_low_pct: acc,
            accuracy_ci95_high_pct: acc,
            time_ns: 1.0,
            energy_pj: 1.0,
            timing_hw_time_ns: None,
            timing_hw_energy_pj: None,
        }
    }

    #[test]
    fn the_headline_fraction_ignores_a_lucky_mean_below_a_failing_fraction() {
        let rows = [row(0.01, 98.6), row(0.1, 97.0), row(0.2, 98.6), row(1.0, 99.0)];
        let refs: Vec<&Row> = rows.iter().collect();
        assert_eq!(smallest_within(&refs, 99.0, 0.5).unwrap().fraction, 0.2);
        assert_eq!(smallest_within(&refs, 99.0, 2.0).unwrap().fraction, 0.01);
        assert!(smallest_within(&refs, 99.6, 0.5).is_none());
    }

    #[test]
    fn grids_and_settings_are_checked() {
        let spec = Spec {
            hw: "paper_statistical".into(),
            overrides: vec![],
            timing_hw: None,
            variations: default_variations(),
            methods: DEFAULT_METHODS.to_vec(),
            fractions: DEFAULT_FRACTIONS.to_vec(),
            runs: 6,
            seed: 1,
            max_drop_pct: 0.5,
        };
        assert!(spec.validate().is_ok());
        // 3 settings x (2 references + 4 methods x 9 fractions below 1) x 6 runs.
        assert_eq!(spec.work_units(), 3 * 38 * 6);
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
