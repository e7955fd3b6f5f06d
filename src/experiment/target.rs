//! The accuracy target (`uswim analyze --max-drop P`): the cheapest selection whose paired Monte-Carlo
//! accuracy drop from full write-verify is within P points with 95% confidence.
//!
//! For a fixed method the simulated programming time grows with the fraction of weights verified, so the
//! cheapest selection in time is the smallest fraction that meets the target. The search bisects the
//! fraction on a log scale between [`MIN_FRACTION`] and 1: every probe is a point of the experiment engine
//! ([`super::engine`]) on the same chips as the full-write-verify reference (common random numbers), and
//! a probe meets the target when the upper end of its paired drop's 95% interval is within P.

use super::engine::{Engine, PointFailure, PointOutcome, Selector};
use crate::eval::Stats;

/// The smallest fraction the search probes.
pub const MIN_FRACTION: f64 = 1e-4;

/// One probe of the search.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Fraction of weights verified.
    pub fraction: f64,
    /// Accuracy over the chips, in percent.
    pub accuracy_pct: Stats,
    /// Paired drop from full write-verify on the same chips, in points.
    pub drop_pct: Stats,
    /// Mean simulated programming time of the chips, in ns.
    pub time_ns: f64,
}

impl Probe {
    fn of(fraction: f64, outcome: &PointOutcome, full: &PointOutcome) -> Self {
        let pct =
            |v: Vec<f64>| Stats::of(&v.iter().map(|a| 100.0 * a).collect::<Vec<_>>()).expect("runs >= 1");
        let drops: Vec<f64> = full
            .accuracies()
            .iter()
            .zip(outcome.accuracies())
            .map(|(f, a)| f - a)
            .collect();
        Self {
            fraction,
            accuracy_pct: pct(outcome.accuracies()),
            drop_pct: pct(drops),
            time_ns: outcome.time_ns(),
        }
    }

    /// Whether the probe meets a target of `max_drop_pct` points with 95% confidence.
    pub fn meets(&self, max_drop_pct: f64) -> bool {
        self.drop_pct.ci95_high <= max_drop_pct
    }
}

/// The search's outcome: the cheapest probe that met the target, every probe in order, and the
/// full-write-verify reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// The cheapest probe that met the target (fraction 1 when no smaller one did).
    pub best: Probe,
    /// Every probe, in the order made.
    pub probes: Vec<Probe>,
    /// Full write-verify on the same chips.
    pub full: Probe,
}

/// Searches the smallest fraction of `selector.method` (its `fraction` is ignored) whose paired drop from
/// full write-verify is within `max_drop_pct` points with 95% confidence, in `steps` bisection steps,
/// each a point of `runs` Monte-Carlo chips from `seed`.
pub fn cheapest_within(
    engine: &Engine<'_>,
    selector: &Selector,
    seed: u64,
    runs: u32,
    max_drop_pct: f64,
    steps: u32,
) -> Result<Search, PointFailure> {
    let at = |fraction: f64| {
        engine.evaluate(
            &Selector {
                fraction,
                ..*selector
            },
            seed,
            runs,
        )
    };
    let full_outcome = at(1.0)?;
    let full = Probe::of(1.0, &full_outcome, &full_outcome);
    let mut probes = Vec::new();
    let mut best = full.clone();
    let (mut lo, mut hi) = (MIN_FRACTION.ln(), 0.0f64);
    let bottom = Probe::of(MIN_FRACTION, &at(MIN_FRACTION)?, &full_outcome);
    let done = bottom.meets(max_drop_pct);
    probes.push(bottom.clone());
    if done {
        best = bottom;
    } else {
        for _ in 0..steps {
            let mid = 0.5 * (lo + hi);
            let probe = Probe::of(mid.exp(), &at(mid.exp())?, &full_outcome);
            probes.push(probe.clone());
            if probe.meets(max_drop_pct) {
                hi = mid;
                best = probe;
            } else {
                lo = mid;
            }
        }
    }
    Ok(Search { best, probes, full })
}
