//! Does write-verify converge on the fitted device? The check is the device report of `uswim device`
//! ([`crate::device::report`]: open-loop write then write-verify of many devices per level, with the
//! configuration's variation map); when it does not converge, a search over the scheme's voltages.

use crate::config::{HwConfig, PulseSchemeConfig};
use crate::device::report;

/// Fraction of devices that must converge at every level for a scheme to be accepted (above the 99% asked
/// of the device report, for margin).
pub const REQUIRED_SUCCESS: f64 = 0.998;

/// Outcome of a convergence check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Convergence {
    /// Devices programmed.
    pub devices: u32,
    /// Devices that ended inside the band.
    pub converged: u32,
    /// Mean write-verify correction pulses per device.
    pub mean_pulses: f64,
    /// Mean open-loop pulses per device.
    pub mean_open_loop_pulses: f64,
    /// Converged fraction of the level that converges least.
    pub worst_level_success: f64,
}

impl Convergence {
    /// Converged fraction over all levels.
    pub fn success(&self) -> f64 {
        f64::from(self.converged) / f64::from(self.devices.max(1))
    }

    /// Whether every level converges at [`REQUIRED_SUCCESS`].
    pub fn acceptable(&self) -> bool {
        self.worst_level_success >= REQUIRED_SUCCESS
    }
}

/// The device report of `hw` with `devices_per_level` devices at every level.
pub fn check(hw: &HwConfig, devices_per_level: u32, seed: u64) -> Convergence {
    let levels: Vec<u32> = (0..hw.device.levels()).collect();
    let reports = report::run(hw, &levels, devices_per_level, seed);
    let (mut devices, mut converged, mut pulses, mut open_loop) = (0u64, 0u64, 0.0, 0.0);
    let mut worst: f64 = 1.0;
    for r in &reports {
        worst = worst.min(r.success_rate());
        devices += r.trials();
        converged += r.successes;
        // The report's pulses are open-loop plus verify corrections.
        pulses += (r.pulses.mean() - r.open_loop_pulses.mean()) * r.trials() as f64;
        open_loop += r.open_loop_pulses.mean() * r.trials() as f64;
    }
    let n = devices.max(1) as f64;
    Convergence {
        devices: u32::try_from(devices).unwrap_or(u32::MAX),
        converged: u32::try_from(converged).unwrap_or(u32::MAX),
        mean_pulses: pulses / n,
        mean_open_loop_pulses: open_loop / n,
        worst_level_success: worst,
    }
}

/// The schemes tried, in order of preference, when the configured one does not converge: for ISPP,
/// gentler first pulses (a start overdrive of 1/2, 1/4, 1/8 of the measured one, for devices whose first
/// step overshoots the band) crossed with larger increments and caps (for devices too slow to cross the
/// window in `max_iterations`); for fixed pulses, gentler amplitudes. Other schemes are left as they are.
fn candidates(hw: &HwConfig, vth_set_v: f64, vth_reset_v: f64) -> Vec<PulseSchemeConfig> {
    let mut out = Vec::new();
    match hw.program.scheme {
        PulseSchemeConfig::Ispp {
            set_start_v,
            reset_start_v,
            v_step_v,
            v_max_v,
            width_ns,
        } => {
            for factor in [1.0, 0.5, 0.25, 0.125] {
                for step_factor in [1.0, 2.0, 4.0] {
                    for extra_v in [0.0, 0.5, 1.0] {
                        let set = vth_set_v + factor * (set_start_v - vth_set_v);
                        let reset = vth_reset_v + factor * (reset_start_v - vth_reset_v);
                        out.push(PulseSchemeConfig::Ispp {
                            set_start_v: set,
                            reset_start_v: reset,
                            v_step_v: (v_step_v * step_factor).min(5.0),
                            v_max_v: (v_max_v + extra_v).min(20.0),
                            width_ns,
                        });
                    }
                }
            }
        }
        PulseSchemeConfig::Fixed {
            set_v,
            reset_v,
            width_ns,
        } => {
            for factor in [1.0, 0.5, 0.25, 0.125] {
                out.push(PulseSchemeConfig::Fixed {
                    set_v: vth_set_v + factor * (set_v - vth_set_v),
                    reset_v: vth_reset_v + factor * (reset_v - vth_reset_v),
                    width_ns,
                });
            }
        }
        PulseSchemeConfig::Adaptive { .. } | PulseSchemeConfig::OpenLoop { .. } => {}
    }
    out
}

/// The outcome of [`tune`].
#[derive(Debug, Clone, PartialEq)]
pub struct Tuned {
    /// The configuration with the chosen scheme.
    pub hw: HwConfig,
    /// Its convergence.
    pub convergence: Convergence,
    /// What was changed, if anything.
    pub note: Option<String>,
}

/// Keeps `hw`'s scheme if write-verify converges with it at every level; otherwise the first candidate
/// scheme that does (or the one with the best worst level, with a note saying that none reached
/// [`REQUIRED_SUCCESS`]).
pub fn tune(hw: HwConfig, vth_set_v: f64, vth_reset_v: f64, devices_per_level: u32, seed: u64) -> Tuned {
    let first = check(&hw, devices_per_level, seed);
    if first.acceptable() || !hw.program.scheme.verifies() {
        return Tuned {
            hw,
            convergence: first,
            note: None,
        };
    }
    let mut best = (hw.clone(), first);
    for scheme in candidates(&hw, vth_set_v, vth_reset_v).into_iter().skip(1) {
        let mut trial = hw.clone();
        trial.program.scheme = scheme;
        if trial.program.scheme.validate().is_err() {
            continue;
        }
        let c = check(&trial, devices_per_level, seed);
        if c.worst_level_success > best.1.worst_level_success {
            best = (trial, c);
        }
        if best.1.acceptable() {
            break;
        }
    }
    let (tuned, convergence) = best;
    let note = if convergence.acceptable() {
        format!(
            "write-verify converged on only {:.1}% of the devices of its worst level with the measurement \
             pulse as the scheme's start; scheme voltages changed to {} ({:.1}% at the worst level)",
            100.0 * first.worst_level_success,
            describe(&tuned.program.scheme),
            100.0 * convergence.worst_level_success
        )
    } else {
        format!(
            "write-verify converges on at most {:.1}% of the devices of the worst level with every scheme \
             tried; kept the best, {}",
            100.0 * convergence.worst_level_success,
            describe(&tuned.program.scheme)
        )
    };
    Tuned {
        hw: tuned,
        convergence,
        note: Some(note),
    }
}

/// A one-line description of a scheme.
pub fn describe(scheme: &PulseSchemeConfig) -> String {
    match scheme {
        PulseSchemeConfig::Ispp {
            set_start_v,
            reset_start_v,
            v_step_v,
            v_max_v,
            width_ns,
        } => format!(
            "ISPP from {set_start_v:.3} V (SET) / {reset_start_v:.3} V (RESET), +{v_step_v:.3} V per pulse, \
             cap {v_max_v:.2} V, {width_ns} ns"
        ),
        PulseSchemeConfig::Fixed {
            set_v,
            reset_v,
            width_ns,
        } => format!("fixed {set_v:.3} V (SET) / {reset_v:.3} V (RESET), {width_ns} ns"),
        PulseSchemeConfig::Adaptive {
            gain_v,
            v_min_v,
            v_max_v,
            width_ns,
        } => format!("adaptive, gain {gain_v} V, {v_min_v}-{v_max_v} V, {width_ns} ns"),
        PulseSchemeConfig::OpenLoop {
            set_v,
            reset_v,
            width_ns,
        } => format!("open loop {set_v} V / {reset_v} V, {width_ns} ns"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, DeviceModelConfig};

    /// The default preset with a moderate device (eta 20%, c2c 10%, no RESET-state spread), the nominal
    /// ISPP ramp as its open-loop write and a 1.0-2.0 V ISPP, and step `k_us_per_v`.
    fn with_k(k_us_per_v: f64) -> HwConfig {
        let overrides: Vec<_> = [
            "device.model.eta_d2d=0.2",
            "device.model.c2c=0.1",
            "device.model.hrs_spread=0.0",
            "program.open_loop={kind=\"ramp\"}",
            "program.max_iterations=100",
            "program.scheme.set_start_v=1.0",
            "program.scheme.reset_start_v=1.0",
            "program.scheme.v_step_v=0.05",
            "program.scheme.v_max_v=2.0",
        ]
        .iter()
        .map(|o| config::parse_override(o).unwrap())
        .collect();
        let mut hw = config::load(config::DEFAULT_PRESET, &overrides).unwrap();
        if let DeviceModelConfig::Pulse(p) = &mut hw.device.model {
            (p.k_set_us_per_v, p.k_reset_us_per_v) = (k_us_per_v, k_us_per_v);
        }
        hw
    }

    #[test]
    fn converging_scheme_is_kept() {
        let hw = with_k(12.0);
        let tuned = tune(hw.clone(), 0.8, 0.8, 200, 1);
        assert!(tuned.convergence.acceptable(), "{:?}", tuned.convergence);
        assert_eq!(tuned.hw, hw);
        assert!(tuned.note.is_none());
    }

    /// A device too slow to cross the window in max_iterations pulses gets larger ISPP increments or caps,
    /// and the change is reported.
    #[test]
    fn slow_device_gets_a_stronger_scheme() {
        let hw = with_k(0.3);
        let before = check(&hw, 200, 1);
        assert!(!before.acceptable(), "{before:?}");
        let tuned = tune(hw.clone(), 0.8, 0.8, 200, 1);
        assert!(tuned.convergence.acceptable(), "{:?}", tuned.convergence);
        assert_ne!(tuned.hw.program.scheme, hw.program.scheme);
        assert!(tuned.note.unwrap().contains("scheme voltages changed"));
        let (
            PulseSchemeConfig::Ispp {
                v_step_v: a,
                v_max_v: b,
                ..
            },
            PulseSchemeConfig::Ispp {
                v_step_v: c,
                v_max_v: d,
                ..
            },
        ) = (&hw.program.scheme, &tuned.hw.program.scheme)
        else {
            panic!()
        };
        assert!(c > a || d > b);
    }
}
