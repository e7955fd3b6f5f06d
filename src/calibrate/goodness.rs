//! Measured versus simulated: the fitted configuration's device (uswim's own, with its device-to-device and
//! cycle-to-cycle draws) is given every measured ramp's pulses from that ramp's fitted start, several
//! times over (at least `min_ramps` simulated ramps per polarity), with the measurement's read noise; the
//! means and scatters are compared.

use super::data::Ramp;
use super::fit::DeviceFit;
use super::synth::{Amplitudes, Simulator, Template, UnitMap};
use crate::pulse::Polarity;
use crate::rng::{Purpose, stream};

/// Goodness of fit of one group of ramps (all SET, all RESET, or the mean cycle SET then RESET).
#[derive(Debug, Clone, PartialEq)]
pub struct Goodness {
    /// `SET`, `RESET` or `cycle`.
    pub label: &'static str,
    /// Measured ramps in the group.
    pub ramps: usize,
    /// R^2 of the measured mean ramp against the simulated mean ramp.
    pub r2: f64,
    /// RMS of measured mean minus simulated mean, in data units.
    pub residual_rms: f64,
    /// RMS of the measured ramps around the simulated mean, in data units (None for the cycle).
    pub measured_scatter: Option<f64>,
    /// RMS of the simulated ramps around the simulated mean, in data units (None for the cycle).
    pub simulated_scatter: Option<f64>,
    /// The measured mean ramp (pulses present in every ramp of the group).
    pub measured_mean: Vec<f64>,
    /// The simulated mean ramp.
    pub simulated_mean: Vec<f64>,
    /// Std of the simulated ramps at each pulse.
    pub simulated_std: Vec<f64>,
}

/// The simulation behind the comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setup<'a> {
    /// The fitted configuration's device.
    pub simulator: &'a Simulator,
    /// Data units to uS.
    pub map: UnitMap,
    /// The measurement pulse amplitudes.
    pub amplitudes: Amplitudes,
    /// Read noise of the measurement, in data units.
    pub read_noise: f64,
    /// Fewest simulated ramps per polarity (each measured ramp is simulated equally often).
    pub min_ramps: usize,
    /// Seed of the simulation.
    pub seed: u64,
}

struct Group {
    measured: Vec<Vec<f64>>,
    simulated: Vec<Vec<f64>>,
}

fn column_mean(rows: &[Vec<f64>], n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| rows.iter().map(|r| r[i]).sum::<f64>() / rows.len() as f64)
        .collect()
}

fn rms_around(rows: &[Vec<f64>], mean: &[f64]) -> f64 {
    let (mut s, mut k) = (0.0, 0usize);
    for r in rows {
        for (v, m) in r.iter().zip(mean) {
            s += (v - m).powi(2);
            k += 1;
        }
    }
    (s / k.max(1) as f64).sqrt()
}

fn score(label: &'static str, group: &Group) -> Goodness {
    let n = group.measured.iter().map(Vec::len).min().unwrap_or(0);
    let measured_mean = column_mean(&group.measured, n);
    let simulated_mean = column_mean(&group.simulated, n);
    let simulated_std: Vec<f64> = (0..n)
        .map(|i| {
            let m = simulated_mean[i];
            let var = group.simulated.iter().map(|r| (r[i] - m).powi(2)).sum::<f64>()
                / (group.simulated.len().max(2) - 1) as f64;
            var.sqrt()
        })
        .collect();
    let grand = measured_mean.iter().sum::<f64>() / n.max(1) as f64;
    let ss_tot: f64 = measured_mean.iter().map(|v| (v - grand).powi(2)).sum();
    let ss_res: f64 = measured_mean
        .iter()
        .zip(&simulated_mean)
        .map(|(a, b)| (a - b).powi(2))
        .sum();
    let trim = |rows: &[Vec<f64>]| rows.iter().map(|r| r[..n].to_vec()).collect::<Vec<_>>();
    Goodness {
        label,
        ramps: group.measured.len(),
        r2: 1.0 - ss_res / ss_tot,
        residual_rms: (ss_res / n.max(1) as f64).sqrt(),
        measured_scatter: Some(rms_around(&trim(&group.measured), &simulated_mean)),
        simulated_scatter: Some(rms_around(&trim(&group.simulated), &simulated_mean)),
        measured_mean,
        simulated_mean,
        simulated_std,
    }
}

/// Goodness of fit per polarity present, and of the mean cycle (SET mean then RESET mean) when both are.
pub fn compare(ramps: &[&Ramp], fit: &DeviceFit, setup: &Setup) -> Vec<Goodness> {
    let mut out = Vec::new();
    let mut groups = Vec::new();
    for (polarity, label) in [(Polarity::Set, "SET"), (Polarity::Reset, "RESET")] {
        let members: Vec<usize> = (0..ramps.len())
            .filter(|&i| ramps[i].polarity == polarity)
            .collect();
        if members.is_empty() {
            continue;
        }
        let templates: Vec<Template> = members
            .iter()
            .map(|&i| Template {
                polarity,
                start: fit.shape.ramps[i][0],
                points: ramps[i].g.len(),
            })
            .collect();
        let copies = setup.min_ramps.div_ceil(templates.len()).max(1);
        let mut simulated = Vec::with_capacity(templates.len() * copies);
        for copy in 0..copies {
            let id = 2_000_000 + 2 * copy as u64 + u64::from(polarity == Polarity::Reset);
            let mut rng = stream(setup.seed, Purpose::Device, id);
            let sim = setup.simulator.replicate(
                setup.map,
                setup.amplitudes,
                &templates,
                setup.read_noise,
                &mut rng,
            );
            simulated.extend(sim.into_iter().map(|r| r.g));
        }
        let group = Group {
            measured: members.iter().map(|&i| ramps[i].g.clone()).collect(),
            simulated,
        };
        out.push(score(label, &group));
        groups.push(group);
    }
    if let [set, reset] = &groups[..] {
        // The mean cycle: the SET mean ramp followed by the RESET mean ramp.
        let n_set = set.measured.iter().map(Vec::len).min().unwrap_or(0);
        let n_reset = reset.measured.iter().map(Vec::len).min().unwrap_or(0);
        let join = |a: &[Vec<f64>], b: &[Vec<f64>]| -> Vec<Vec<f64>> {
            let (ma, mb) = (column_mean(a, n_set), column_mean(b, n_reset));
            vec![ma.into_iter().chain(mb).collect()]
        };
        let cycle = Group {
            measured: join(&set.measured, &reset.measured),
            simulated: join(&set.simulated, &reset.simulated),
        };
        let mut g = score("cycle", &cycle);
        g.ramps = set.measured.len() + reset.measured.len();
        // Scatters of a cycle of means say nothing new; keep those of the polarities.
        g.measured_scatter = None;
        g.simulated_scatter = None;
        g.simulated_std = Vec::new();
        out.push(g);
    }
    out
}
