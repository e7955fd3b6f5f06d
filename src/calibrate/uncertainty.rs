//! Uncertainty of the fitted parameters by bootstrap.
//!
//! With at least [`MIN_RAMPS_FOR_RESAMPLING`] ramps of every polarity present, the ramps are resampled
//! with replacement (within each polarity) and refitted: this captures ramp-to-ramp variation and model
//! error alike. With fewer, resampling ramps says nothing, and the bootstrap is parametric: ramps like the
//! measured ones (same starts and lengths) are simulated from the fitted configuration with uswim's device
//! and refitted. Replicate r draws from stream (seed, Device, 3_000_000 + r) and replicates run in
//! parallel, so results do not depend on the thread count.

use super::data::{Quantity, Ramp};
use super::export::{self, MeasurementPulse};
use super::fit::{self, DeviceFit, FitSettings};
use super::shape::ShapeFit;
use super::synth::{Simulator, Template, UnitMap};
use crate::config::PulseDeviceConfig;
use crate::pulse::Polarity;
use crate::rng::{Purpose, stream};
use rand::Rng;
use rayon::prelude::*;

/// Fewest ramps per polarity for the ramp-resampling bootstrap.
pub const MIN_RAMPS_FOR_RESAMPLING: usize = 8;

/// How the uncertainty was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Ramps resampled with replacement.
    ResampledRamps,
    /// Ramps simulated from the fitted configuration.
    Parametric,
}

impl Method {
    /// A short description for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Method::ResampledRamps => "bootstrap over measured ramps",
            Method::Parametric => "parametric bootstrap (ramps simulated from the fitted device)",
        }
    }
}

/// Standard deviations of the fitted parameters, in the order of [`export::parameters`], then of the step
/// tables' nodes ([`export::table_nodes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Uncertainty {
    /// How.
    pub method: Method,
    /// Replicates used (0: no uncertainty computed).
    pub replicates: usize,
    /// Std of each parameter (None where it is not identified or no replicates ran).
    pub std: Vec<Option<f64>>,
}

/// What a replicate needs.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The measured ramps.
    pub ramps: &'a [&'a Ramp],
    /// The full fit (warm start of every replicate).
    pub fit: &'a DeviceFit,
    /// Fit settings.
    pub settings: &'a FitSettings,
    /// What the data held.
    pub quantity: Quantity,
    /// Window for normalised data, in uS.
    pub window_us: (f64, f64),
    /// The base device (thresholds, t_ref, beta).
    pub base: &'a PulseDeviceConfig,
    /// The measurement pulse.
    pub pulse: &'a MeasurementPulse,
    /// The fitted configuration's device, for the parametric bootstrap.
    pub simulator: &'a Simulator,
    /// Data units to uS of the full fit.
    pub map: UnitMap,
}

fn warm_start(full: &DeviceFit, picks: &[usize]) -> ShapeFit {
    ShapeFit {
        ramps: picks.iter().map(|&i| full.shape.ramps[i]).collect(),
        ..full.shape.clone()
    }
}

fn replicate(ctx: &Context, method: Method, r: usize, seed: u64) -> Vec<Option<f64>> {
    let mut rng = stream(seed, Purpose::Device, 3_000_000 + r as u64);
    let n = ctx.ramps.len();
    let (owned, picks): (Vec<Ramp>, Vec<usize>) = match method {
        Method::ResampledRamps => {
            let mut picks = Vec::with_capacity(n);
            for polarity in [Polarity::Set, Polarity::Reset] {
                let members: Vec<usize> = (0..n).filter(|&i| ctx.ramps[i].polarity == polarity).collect();
                for _ in 0..members.len() {
                    picks.push(members[rng.random_range(0..members.len())]);
                }
            }
            (picks.iter().map(|&i| ctx.ramps[i].clone()).collect(), picks)
        }
        Method::Parametric => {
            let templates: Vec<Template> = (0..n)
                .map(|i| Template {
                    polarity: ctx.ramps[i].polarity,
                    start: ctx.fit.shape.ramps[i][0],
                    points: ctx.ramps[i].g.len(),
                })
                .collect();
            let sim = ctx.simulator.replicate(
                ctx.map,
                ctx.pulse.amplitudes,
                &templates,
                ctx.fit.noise.read_noise,
                &mut rng,
            );
            (sim, (0..n).collect())
        }
    };
    let refs: Vec<&Ramp> = owned.iter().collect();
    let fit = fit::fit(&refs, ctx.settings, Some(warm_start(ctx.fit, &picks)));
    let map = export::unit_map(&fit, ctx.quantity, ctx.window_us);
    let fitted = export::fitted(&fit, map, ctx.base, ctx.pulse);
    export::parameters(&fitted)
        .into_iter()
        .map(|(_, _, v)| v)
        .chain(export::table_nodes(&fitted).into_iter().map(Some))
        .collect()
}

/// Bootstraps `replicates` refits.
pub fn bootstrap(ctx: &Context, replicates: usize, seed: u64) -> Uncertainty {
    let enough = [Polarity::Set, Polarity::Reset].iter().all(|&p| {
        let k = ctx.ramps.iter().filter(|r| r.polarity == p).count();
        k == 0 || k >= MIN_RAMPS_FOR_RESAMPLING
    });
    let method = if enough {
        Method::ResampledRamps
    } else {
        Method::Parametric
    };
    let draws: Vec<Vec<Option<f64>>> = (0..replicates)
        .into_par_iter()
        .map(|r| replicate(ctx, method, r, seed))
        .collect();
    let count = draws.first().map_or(0, Vec::len);
    let std = (0..count)
        .map(|k| {
            let values: Vec<f64> = draws.iter().filter_map(|d| d[k]).collect();
            if values.len() < 2 {
                return None;
            }
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64;
            Some(var.sqrt())
        })
        .collect();
    Uncertainty {
        method,
        replicates,
        std,
    }
}
