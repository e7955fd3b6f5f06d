//! Monte-Carlo accuracy of a programmed network (DESIGN.md section 8).
//!
//! One run programs every device of the mapped network with the programmer of the hardware
//! configuration (statistical or pulse-level, whichever it says), in process, with a no-op trace sink
//! and the final conductances kept; reads the weights back ([`crate::map::read_back`], analog); puts
//! them into a copy of the network (biases and other parameters stay exact: they live in digital
//! periphery); and classifies the test set. Run `r` of a report with seed `s` programs with the seed
//! [`run_seed`]`(s, r)`, drawn from the stream `(s, MonteCarlo, r)`: runs are independent rayon tasks
//! and the results do not depend on the thread count or on which runs execute together.
//!
//! A run's seed drives both the chip's device-to-device variation map and its programming noise (the
//! programmer has one seed): every run is a freshly drawn chip. A selection that depends on the device
//! sigmas is therefore made per run from the run's seed (see [`Evaluator::monte_carlo`]).

use super::error::EvalError;
use super::stats::Stats;
use crate::config::HwConfig;
use crate::error::InputError;
use crate::map::{Mapped, read_back};
use crate::nn::{Dataset, Network};
use crate::rng::{self, Purpose};
use crate::sim::{self, Mask, ProgramOptions};
use crate::trace::{NullSink, Summary, TraceFilter, TraceLevel};
use rand::Rng;
use rayon::prelude::*;
use std::borrow::Cow;

/// The programming seed of Monte-Carlo run `run` of an evaluation with seed `seed`.
pub fn run_seed(seed: u64, run: u32) -> u64 {
    rng::stream(seed, Purpose::MonteCarlo, u64::from(run)).random::<u64>()
}

/// The outcome of one Monte-Carlo run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Test accuracy of the programmed network, a fraction in [0, 1].
    pub accuracy: f64,
    /// The programmer's summary (time, energy, counts) of this run.
    pub summary: Summary,
}

/// The runs of one evaluated point, in run order, and their statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct McResult {
    /// Every run, in run order.
    pub runs: Vec<Run>,
    /// Statistics of the runs' accuracies (fractions in [0, 1]).
    pub accuracy: Stats,
}

impl McResult {
    /// The mean over runs of a summary quantity (time, energy, ...).
    pub fn mean_of(&self, f: impl Fn(&Summary) -> f64) -> f64 {
        self.runs.iter().map(|r| f(&r.summary)).sum::<f64>() / self.runs.len() as f64
    }
}

/// A network, its mapping onto a chip, and a test set: everything a Monte-Carlo run needs.
#[derive(Debug)]
pub struct Evaluator<'a> {
    network: &'a Network,
    mapped: &'a Mapped,
    hw: &'a HwConfig,
    test: &'a Dataset,
    /// The parameter index of each mapped layer.
    params: Vec<usize>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator of `network` as `mapped` onto `hw` (made from the network's programmable weights,
    /// [`crate::map::LayerWeights::of_network`]), on `test`.
    pub fn new(
        network: &'a Network,
        mapped: &'a Mapped,
        hw: &'a HwConfig,
        test: &'a Dataset,
    ) -> Result<Self, EvalError> {
        network.check_dataset(test)?;
        let programmable = network.programmable();
        let names: Vec<&str> = programmable
            .iter()
            .map(|&i| network.param(i).name.as_str())
            .collect();
        let mapped_names: Vec<&str> = mapped.layers().iter().map(|l| l.name.as_str()).collect();
        if names != mapped_names {
            return Err(InputError::new(
                "mapping",
                "layers",
                format!(
                    "mapped layers {mapped_names:?} are not the programmable tensors {names:?} of {}",
                    network.arch()
                ),
            )
            .into());
        }
        for (&i, layer) in programmable.iter().zip(mapped.layers()) {
            if network.param(i).len() != layer.weights() {
                return Err(InputError::new(
                    "mapping",
                    &layer.name,
                    format!(
                        "{} weights mapped, the network's tensor has {}",
                        layer.weights(),
                        network.param(i).len()
                    ),
                )
                .into());
            }
        }
        Ok(Self {
            network,
            mapped,
            hw,
            test,
            params: programmable,
        })
    }

    /// The mapping evaluated.
    pub fn mapped(&self) -> &Mapped {
        self.mapped
    }

    /// The hardware configuration evaluated.
    pub fn hw(&self) -> &HwConfig {
        self.hw
    }

    /// One run: program with `mask` and `seed`, read back, classify the test set.
    pub fn run(&self, mask: &Mask, seed: u64) -> Result<Run, EvalError> {
        let options = ProgramOptions {
            seed,
            trace: TraceFilter::level(TraceLevel::Off),
            keep_conductances: true,
        };
        let result = sim::program(self.mapped, self.hw, mask, &options, &mut NullSink)?;
        let conductances = result
            .conductances_us
            .as_deref()
            .expect("the programmer returns conductances when asked");
        let weights = read_back(self.mapped, conductances)?;
        let mut net = self.network.clone();
        for (&param, values) in self.params.iter().zip(&weights) {
            net.values_mut(param).copy_from_slice(values);
        }
        let accuracy = net.accuracy(self.test)?.fraction();
        Ok(Run {
            accuracy,
            summary: result.summary,
        })
    }

    /// `runs` Monte-Carlo runs with seed `seed`, in parallel; `mask(run_seed)` gives each run's mask
    /// (the same borrowed mask for a fixed selection, or one made from the run's seed when the selection
    /// depends on the chip's sigmas, see [`crate::experiment::selection`]).
    pub fn monte_carlo<'m, F>(&self, runs: u32, seed: u64, mask: F) -> Result<McResult, EvalError>
    where
        F: Fn(u64) -> Result<Cow<'m, Mask>, EvalError> + Sync,
    {
        if runs == 0 {
            return Err(EvalError::NoRuns);
        }
        let results: Vec<Run> = (0..runs)
            .into_par_iter()
            .map(|r| {
                let s = run_seed(seed, r);
                let m = mask(s)?;
                self.run(&m, s)
            })
            .collect::<Result<_, _>>()?;
        let accuracies: Vec<f64> = results.iter().map(|r| r.accuracy).collect();
        let accuracy = Stats::of(&accuracies).expect("at least one run");
        Ok(McResult {
            runs: results,
            accuracy,
        })
    }

    /// The two reference points of every report: no write-verify ([`Mask::None`]) and full
    /// write-verify ([`Mask::All`]), `runs` runs each with seed `seed`.
    pub fn references(&self, runs: u32, seed: u64) -> Result<References, EvalError> {
        let none = Mask::None;
        let all = Mask::All;
        Ok(References {
            no_verify: self.monte_carlo(runs, seed, |_| Ok(Cow::Borrowed(&none)))?,
            full_verify: self.monte_carlo(runs, seed, |_| Ok(Cow::Borrowed(&all)))?,
        })
    }
}

/// The reference points of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct References {
    /// Open-loop programming only.
    pub no_verify: McResult,
    /// Every device write-verified.
    pub full_verify: McResult,
}
