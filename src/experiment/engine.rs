//! The point engine: the one function every experiment (`uswim sweep`, `uswim reproduce`) evaluates a
//! point with (DESIGN.md sections 1 and 8).
//!
//! A point is a network mapped onto one hardware configuration, a selection (method, fraction, device
//! knowledge) and a number of Monte-Carlo runs. Run `r` of a point with seed `s`:
//! 1. draws the chip of seed [`run_seed`]`(s, r)`: the same chip for every point of an experiment with
//!    the same seed (common random numbers), so points compare on the same chips and the same
//!    programming noise;
//! 2. selects the weights to verify: `random` from the chip seed; score methods from the sensitivity
//!    pass and the device information [`super::selection::device_info`] gives under the point's
//!    [`Knowledge`] (made once for every chip when it does not depend on the chip); `measured` from the
//!    chip's own open-loop errors, read once after an open-loop programming ([`Engine::measured_mask`]);
//! 3. programs that chip once with the configuration's programmer (statistical or pulse-level, whichever
//!    it says), keeping the final conductances;
//! 4. reads the weights back and classifies the test set.
//!
//! The accuracy and the time and energy of a run come from that one programming: a mask is never timed
//! on another chip. Without a test set a point makes one run (time and energy only).

use super::class_select::{ClassPlan, ClassPlans};
use super::selection::{Knowledge, KnownChip, device_info};
use super::time_select::TimeOrder;
use crate::config::HwConfig;
use crate::error::InputError;
use crate::eval::{EvalError, Evaluator, Stats, run_seed};
use crate::map::{Mapped, read_back};
use crate::nn::{Dataset, Network};
use crate::rng::{self, Purpose};
use crate::sensitivity::{self, Budget, Curvature, Method, ScoreOptions, Scores, WeightDeviceInfo};
use crate::sim::predict::{GroupModel, TimeModel};
use crate::sim::{self, Mask, ProgramOptions, ProgramResult, predict};
use crate::trace::{NullSink, Summary, TraceFilter, TraceLevel, TraceSink};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why a point failed: the message, and whether bad input caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct PointFailure {
    /// What failed.
    pub message: String,
    /// Bad input (a network that does not fit the arrays, an unusable method) rather than a fault.
    pub bad_input: bool,
}

impl PointFailure {
    /// A failure caused by bad input.
    pub fn input(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            bad_input: true,
        }
    }

    /// A failure of the simulation itself.
    pub fn fault(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            bad_input: false,
        }
    }
}

impl From<InputError> for PointFailure {
    fn from(e: InputError) -> Self {
        Self::input(e.to_string())
    }
}

impl From<EvalError> for PointFailure {
    fn from(e: EvalError) -> Self {
        Self {
            bad_input: matches!(e, EvalError::Input(_) | EvalError::NoRuns),
            message: e.to_string(),
        }
    }
}

/// What a point selects: a method (`random` or a score), the fraction of weights verified (0: none, 1:
/// all, no score needed) and what the analyzer knows of the devices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Selector {
    /// The selection method.
    pub method: Method,
    /// Fraction of weights write-verified, in [0, 1].
    pub fraction: f64,
    /// Device knowledge of the device-aware scores.
    pub knowledge: Knowledge,
}

impl Selector {
    /// Whether the selection needs the sensitivity pass.
    pub fn needs_scores(&self) -> bool {
        self.fraction > 0.0 && self.fraction < 1.0 && self.method != Method::Random
    }
}

/// One Monte-Carlo run of a point.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// The chip's seed ([`run_seed`]`(point seed, run)`).
    pub chip_seed: u64,
    /// Test accuracy of the programmed chip, a fraction in [0, 1] (`None` without a test set).
    pub accuracy: Option<f64>,
    /// The programmer's summary of this chip's programming.
    pub summary: Summary,
}

/// The runs of a point, in run order.
#[derive(Debug, Clone, PartialEq)]
pub struct PointOutcome {
    /// Every run.
    pub runs: Vec<RunOutcome>,
}

impl PointOutcome {
    /// The runs' accuracies, in run order (empty without a test set).
    pub fn accuracies(&self) -> Vec<f64> {
        self.runs.iter().filter_map(|r| r.accuracy).collect()
    }

    /// Statistics of the runs' accuracies (`None` without a test set).
    pub fn accuracy(&self) -> Option<Stats> {
        Stats::of(&self.accuracies())
    }

    /// The mean over runs of a summary quantity, summed in run order.
    pub fn mean_of(&self, f: impl Fn(&Summary) -> f64) -> f64 {
        self.runs.iter().map(|r| f(&r.summary)).sum::<f64>() / self.runs.len() as f64
    }

    /// Mean programming time over the runs' chips, in ns.
    pub fn time_ns(&self) -> f64 {
        self.mean_of(|s| s.total_time_ns)
    }

    /// Mean programming energy over the runs' chips, in pJ.
    pub fn energy_pj(&self) -> f64 {
        self.mean_of(|s| s.energy.total_pj())
    }
}

/// Scores cached per (method, knowledge, chip seed; `None` when the same for every chip).
type ScoreKey = (Method, Knowledge, Option<u64>);

/// A network mapped onto one configuration, with its sensitivity pass and test set: evaluates any
/// number of points, sharing scores between them.
pub struct Engine<'a> {
    mapped: &'a Mapped,
    hw: &'a HwConfig,
    curvature: Option<&'a Curvature>,
    evaluator: Option<Evaluator<'a>>,
    scores: Mutex<HashMap<ScoreKey, Arc<Scores>>>,
    time_models: Mutex<HashMap<u64, Arc<TimeModel>>>,
    class_plans: ClassPlans,
}

impl<'a> Engine<'a> {
    /// An engine for `network` as `mapped` onto `hw` (made from the network's programmable weights),
    /// with the sensitivity pass `curvature` (needed by score methods) and the test set `test` (`None`:
    /// time and energy only).
    pub fn new(
        network: &'a Network,
        mapped: &'a Mapped,
        hw: &'a HwConfig,
        curvature: Option<&'a Curvature>,
        test: Option<&'a Dataset>,
    ) -> Result<Self, PointFailure> {
        let evaluator = test.map(|t| Evaluator::new(network, mapped, hw, t)).transpose()?;
        Ok(Self {
            mapped,
            hw,
            curvature,
            evaluator,
            scores: Mutex::new(HashMap::new()),
            time_models: Mutex::new(HashMap::new()),
            class_plans: ClassPlans::default(),
        })
    }

    /// The mapping evaluated.
    pub fn mapped(&self) -> &Mapped {
        self.mapped
    }

    /// Evaluates `selector` with `runs` Monte-Carlo runs (1 without a test set) from seed `seed` (see the
    /// module docs). Runs are rayon tasks; the outcome does not depend on the thread count.
    pub fn evaluate(&self, selector: &Selector, seed: u64, runs: u32) -> Result<PointOutcome, PointFailure> {
        let runs = if self.evaluator.is_some() { runs } else { 1 };
        if runs == 0 {
            return Err(EvalError::NoRuns.into());
        }
        let runs = (0..runs)
            .into_par_iter()
            .map(|r| self.run_one(selector, seed, r))
            .collect::<Result<_, _>>()?;
        Ok(PointOutcome { runs })
    }

    /// Monte-Carlo run `run` of `selector` from seed `seed`: the chip of seed [`run_seed`]`(seed, run)`,
    /// exactly as run `run` of [`Engine::evaluate`] makes it (so a point's runs can be made a few at a
    /// time, as the experiment's adaptive run count does, with the same outcome).
    pub fn run_one(&self, selector: &Selector, seed: u64, run: u32) -> Result<RunOutcome, PointFailure> {
        self.run(selector, run_seed(seed, run))
    }

    /// One run on the chip of `chip_seed`. A `measured` selection first programs the chip open-loop and
    /// reads every device (see [`Engine::measured_mask`]), then programs it again with its mask: the
    /// programmer's open-loop writes draw from a stream independent of the mask, so the second
    /// programming's open-loop states are the ones measured. The read's predicted time and energy
    /// ([`predict::read_all`]) are added to the run's totals (the energy to `verify_reads_pj`).
    fn run(&self, selector: &Selector, chip_seed: u64) -> Result<RunOutcome, PointFailure> {
        let (mask, read) = if selector.method.measures_chip() && selector.needs_scores() {
            let mask = self.measured_mask(selector, chip_seed)?;
            (Cow::Owned(mask), Some(predict::read_all(self.mapped, self.hw)))
        } else {
            (self.mask(selector, chip_seed)?, None)
        };
        let (accuracy, mut summary) = match &self.evaluator {
            Some(evaluator) => {
                let run = evaluator.run(&mask, chip_seed)?;
                (Some(run.accuracy), run.summary)
            }
            None => (None, self.program(&mask, chip_seed, false)?.summary),
        };
        if let Some(read) = read {
            summary.total_time_ns += read.time_ns;
            summary.total_cycles += read.cycles;
            summary.energy.verify_reads_pj += read.energy_pj;
        }
        Ok(RunOutcome {
            chip_seed,
            accuracy,
            summary,
        })
    }

    /// Programs the chip of `chip_seed` with the mask `selector` makes for it, as a run of
    /// [`Engine::evaluate`] does, streaming its phases to `sink` (for a `measured` selection, the
    /// measuring open-loop programming and its read are not traced).
    pub fn program_traced<S: TraceSink + Send>(
        &self,
        selector: &Selector,
        chip_seed: u64,
        sink: &mut S,
    ) -> Result<ProgramResult, PointFailure> {
        let mask = if selector.method.measures_chip() && selector.needs_scores() {
            Cow::Owned(self.measured_mask(selector, chip_seed)?)
        } else {
            self.mask(selector, chip_seed)?
        };
        let options = ProgramOptions {
            seed: chip_seed,
            trace: TraceFilter::level(TraceLevel::Phase),
            keep_conductances: false,
        };
        sim::program(self.mapped, self.hw, &mask, &options, sink)
            .map_err(|e| PointFailure::fault(e.to_string()))
    }

    /// The predicted total programming time of `selector` on the chip of `chip_seed`
    /// ([`TimeModel`]: its mask, the chip's true device sigmas; a `measured` selection adds its read of
    /// every device), in ns.
    pub fn predicted_time_ns(&self, selector: &Selector, chip_seed: u64) -> Result<f64, PointFailure> {
        let (mask, read_ns) = if selector.method.measures_chip() && selector.needs_scores() {
            let mask = self.measured_mask(selector, chip_seed)?;
            (Cow::Owned(mask), predict::read_all(self.mapped, self.hw).time_ns)
        } else {
            (self.mask(selector, chip_seed)?, 0.0)
        };
        let model = self.time_model(chip_seed)?;
        Ok(model.predict_ns(self.mapped, &mask, chip_seed) + read_ns)
    }

    /// The time `characterised` knowledge costs on the chip of `chip_seed` before programming: `cycles`
    /// open-loop writes and reads of every device (the simulated open-loop programming and
    /// [`predict::read_all`]), in ns. It is reported beside, not added to, the programming time.
    pub fn characterisation_ns(&self, cycles: u32, chip_seed: u64) -> Result<f64, PointFailure> {
        let model = self.time_model(chip_seed)?;
        let open_ns = model.total_ns(&vec![0.0; self.mapped.num_arrays() as usize]);
        Ok(f64::from(cycles) * (open_ns + predict::read_all(self.mapped, self.hw).time_ns))
    }

    /// The predicted-time model of the chip of `chip_seed`, made once per chip (outside the cache's lock,
    /// as [`Engine::scores`]).
    pub fn time_model(&self, chip_seed: u64) -> Result<Arc<TimeModel>, PointFailure> {
        if let Some(m) = self
            .time_models
            .lock()
            .expect("no panics under the lock")
            .get(&chip_seed)
        {
            return Ok(Arc::clone(m));
        }
        let model = Arc::new(
            TimeModel::new(self.mapped, self.hw, chip_seed)
                .map_err(|e| PointFailure::fault(e.to_string()))?,
        );
        let mut cache = self.time_models.lock().expect("no panics under the lock");
        Ok(Arc::clone(cache.entry(chip_seed).or_insert(model)))
    }

    /// Programs the chip of `chip_seed` with `mask`.
    fn program(
        &self,
        mask: &Mask,
        chip_seed: u64,
        keep_conductances: bool,
    ) -> Result<ProgramResult, PointFailure> {
        let options = ProgramOptions {
            seed: chip_seed,
            trace: TraceFilter::level(TraceLevel::Off),
            keep_conductances,
        };
        sim::program(self.mapped, self.hw, mask, &options, &mut NullSink)
            .map_err(|e| PointFailure::fault(e.to_string()))
    }

    /// The `measured` mask of the chip of `chip_seed`: program it open-loop, read every device once
    /// (read noise `device.read_noise` from the stream `(chip seed, Measure, array)`), read the weights
    /// back, and score each weight by `0.5 H' e^2`, `e` its error normalised by its layer's max|W|.
    pub fn measured_mask(&self, selector: &Selector, chip_seed: u64) -> Result<Mask, PointFailure> {
        let curvature = self
            .curvature
            .ok_or_else(|| PointFailure::fault("no sensitivity pass for `measured`"))?;
        let open = self.program(&Mask::None, chip_seed, true)?;
        let mut read_us = open
            .conductances_us
            .expect("the programmer returns conductances when asked");
        let noise_us = (self.hw.device.read_noise * self.hw.device.range_us()) as f32;
        if noise_us > 0.0 {
            for a in 0..self.mapped.num_arrays() {
                let range = self.mapped.device_range(a);
                let mut rng = rng::stream(chip_seed, Purpose::Measure, u64::from(a));
                for g in &mut read_us[range.start as usize..range.end as usize] {
                    let z: f32 = rng.sample(StandardNormal);
                    *g += noise_us * z;
                }
            }
        }
        let back = read_back(self.mapped, &read_us).map_err(|e| PointFailure::fault(e.to_string()))?;
        let ideal = self.mapped.quantized_weights();
        let devices: Vec<WeightDeviceInfo> = back
            .iter()
            .zip(&ideal)
            .zip(&curvature.layers)
            .map(|((b, q), l)| {
                let s = f64::from(l.scale());
                let variance_reduction: Vec<f32> = b
                    .iter()
                    .zip(q)
                    .map(|(b, q)| (f64::from(b - q) / s).powi(2) as f32)
                    .collect();
                let n = variance_reduction.len();
                WeightDeviceInfo {
                    variance_reduction,
                    band_multiplier: vec![1.0; n],
                    expected_verify_ns: vec![1.0; n],
                }
            })
            .collect();
        let scores = sensitivity::score(curvature, Some(&devices), &ScoreOptions::new(Method::Measured))?;
        let selection = sensitivity::select(&scores, Budget::Fraction(selector.fraction), None)?;
        Ok(Mask::Weights(selection.layers))
    }

    /// The mask of `selector` on the chip of `chip_seed`: all weights at fraction 1, none at 0; in
    /// between, `random` draws the fraction from the chip seed, and the score methods take the global
    /// top-k of their scores.
    pub fn mask(&self, selector: &Selector, chip_seed: u64) -> Result<Cow<'static, Mask>, PointFailure> {
        static NONE: Mask = Mask::None;
        static ALL: Mask = Mask::All;
        if selector.fraction >= 1.0 {
            return Ok(Cow::Borrowed(&ALL));
        }
        if selector.fraction <= 0.0 {
            return Ok(Cow::Borrowed(&NONE));
        }
        if selector.method == Method::Random {
            return Ok(Cow::Owned(Mask::random(
                self.mapped,
                selector.fraction,
                chip_seed,
            )));
        }
        if selector.method.assigns_classes() {
            return Ok(Cow::Owned(self.class_mask(selector, chip_seed)?));
        }
        let scores = self.scores(selector, chip_seed)?;
        let selection = sensitivity::select(&scores, Budget::Fraction(selector.fraction), None)?;
        Ok(Cow::Owned(Mask::Weights(selection.layers)))
    }

    /// The tolerance-class mask of `selector` on the chip of `chip_seed`: the classes whose predicted
    /// total time on that chip is `uswim-time`'s at the selector's fraction ([`ClassPlan`], made once per
    /// chip, or once for every chip when the knowledge does not depend on it).
    fn class_mask(&self, selector: &Selector, chip_seed: u64) -> Result<Mask, PointFailure> {
        let uswim = Selector {
            method: Method::Uswim,
            ..*selector
        };
        let gains = self.scores(&uswim, chip_seed)?;
        let per_chip = selector.knowledge.per_chip(&self.hw.device.variation);
        let plan = self
            .class_plans
            .get((selector.knowledge, per_chip.then_some(chip_seed)), || {
                let chip = KnownChip::new(self.hw, chip_seed, selector.knowledge);
                ClassPlan::new(self.mapped, self.hw, &chip, &gains)
            });
        let model = self.time_model(chip_seed)?;
        Ok(plan.mask_at(self.mapped, &model, selector.fraction))
    }

    /// The scores of `selector` on the chip of `chip_seed`, made once per chip (or once for every chip
    /// when they do not depend on it). Computed outside the cache's lock, so that rayon tasks waiting for
    /// it never block a thread that would make it.
    fn scores(&self, selector: &Selector, chip_seed: u64) -> Result<Arc<Scores>, PointFailure> {
        let method = selector.method;
        let per_chip = method.needs_devices() && selector.knowledge.per_chip(&self.hw.device.variation);
        let key = (
            method,
            if method.needs_devices() {
                selector.knowledge
            } else {
                Knowledge::Prior
            },
            per_chip.then_some(chip_seed),
        );
        if let Some(s) = self.scores.lock().expect("no panics under the lock").get(&key) {
            return Ok(Arc::clone(s));
        }
        let curvature = self
            .curvature
            .ok_or_else(|| PointFailure::fault(format!("no sensitivity pass for `{method}`")))?;
        let devices = method
            .needs_devices()
            .then(|| device_info(self.mapped, self.hw, chip_seed, selector.knowledge));
        let options = ScoreOptions::new(method);
        let mut scores = sensitivity::score(curvature, devices.as_deref(), &options)?;
        if method.times_rows() {
            let chip = KnownChip::new(self.hw, chip_seed, selector.knowledge);
            let model = GroupModel::new(self.hw, chip.seed());
            scores = TimeOrder::new(self.mapped, &chip, &scores, &model).scores(self.mapped);
        }
        let scores = Arc::new(scores);
        let mut cache = self.scores.lock().expect("no panics under the lock");
        Ok(Arc::clone(cache.entry(key).or_insert(scores)))
    }
}
