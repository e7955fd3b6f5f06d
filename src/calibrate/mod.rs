//! Calibration of the pulse-level device (DESIGN.md section 3) from measured pulse-response data:
//! `uswim device fit`.
//!
//! Architects bring measured conductance-versus-pulse ramps; this module fits uswim's pulse-level device to
//! them and writes a ready hardware configuration. The pipeline, one file per step:
//!
//! 1. [`data`]: load ramps (one column per ramp) or per-pulse changes, with errors naming file, row and
//!    column.
//! 2. [`shape`]: least squares of every measured point against the deterministic trajectory of the step law
//!    [`model::Law`]: shared window and saturation exponents, per-ramp start and step scale.
//! 3. [`noise`]: cycle-to-cycle and read noise from moments of the increments; [`fit`] adds the
//!    device-to-device spread of the per-ramp step scales and ties the steps together.
//! 4. [`export`]: convert to the device's parameters under a stated measurement pulse and write them into
//!    the base configuration; [`verify`] checks (and if needed tunes the scheme's voltages so) that
//!    write-verify converges with uswim's own write-verify loop.
//! 5. [`goodness`]: simulate the measured ramps with the fitted configuration's device ([`synth`]) and
//!    compare means and scatters; [`uncertainty`]: bootstrap.
//!
//! **Invariant:** every simulation here runs uswim's own [`crate::device::PulseLevel`], so a configuration
//! written by the fit reproduces, in the simulator, the ramps it was fitted to.
//! **Invariant:** every random draw comes from `rng::stream(seed, Purpose::Device, id)` with a fixed id per
//! use; results do not depend on the thread count.

pub mod data;
pub mod dwell;
mod error;
pub mod export;
pub mod fit;
pub mod goodness;
pub mod model;
pub mod noise;
pub mod shape;
pub mod synth;
pub mod uncertainty;
pub mod verify;

pub use error::CalibrateError;

use crate::config::{HwConfig, PulseSchemeConfig};
use crate::plot::{Chart, Series};
use crate::pulse::Polarity;
use data::{Measured, Ramp};
use export::{Fitted, MeasurementPulse, ReadNoiseSource};
use fit::{DeviceFit, FitSettings, WindowEnd};
use goodness::Goodness;
use synth::{Amplitudes, Simulator, UnitMap};
use uncertainty::Uncertainty;
use verify::Convergence;

/// How to calibrate.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The measurement pulse; what is not given is the base scheme's first pulse.
    pub pulse: PulseChoice,
    /// The window, in uS, that normalised data is mapped onto (None: the base configuration's).
    pub window_us: Option<(f64, f64)>,
    /// Where the written read noise comes from.
    pub read_noise: ReadNoiseSource,
    /// Bootstrap replicates for the uncertainties (0: none).
    pub bootstrap: usize,
    /// Seed of every simulation.
    pub seed: u64,
    /// Fit settings (`non_negative` is set from the data's quantity).
    pub settings: FitSettings,
    /// Devices per level in the write-verify check.
    pub verify_devices_per_level: u32,
    /// Fewest simulated ramps per polarity in the measured-versus-simulated comparison.
    pub simulated_ramps: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            pulse: PulseChoice::default(),
            window_us: None,
            read_noise: ReadNoiseSource::Base,
            bootstrap: 200,
            seed: 0,
            settings: FitSettings::default(),
            verify_devices_per_level: 2000,
            simulated_ramps: 800,
        }
    }
}

/// A finished calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The data that was fitted.
    pub measured: Measured,
    /// The base configuration's name.
    pub base_name: String,
    /// The fit in data units.
    pub fit: DeviceFit,
    /// Data units to uS.
    pub map: UnitMap,
    /// The measurement pulse assumed.
    pub pulse: MeasurementPulse,
    /// The fitted parameters in configuration units.
    pub fitted: Fitted,
    /// Their uncertainties.
    pub uncertainty: Uncertainty,
    /// Measured versus simulated.
    pub goodness: Vec<Goodness>,
    /// Write-verify on the written configuration.
    pub convergence: Convergence,
    /// The configuration written.
    pub hw: HwConfig,
    /// Choices made where the data is silent, and warnings.
    pub notes: Vec<String>,
    /// Fewest simulated ramps per polarity in `goodness`.
    pub simulated_ramps: usize,
}

/// The measurement pulse as given: amplitudes in V and width in ns, each None for the base scheme's.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PulseChoice {
    /// SET amplitude, in V.
    pub set_v: Option<f64>,
    /// RESET amplitude, in V.
    pub reset_v: Option<f64>,
    /// Width, in ns.
    pub width_ns: Option<f64>,
}

impl PulseChoice {
    /// The pulse, with what is not given taken from the base scheme's first pulse.
    pub fn resolve(&self, base: &HwConfig) -> Result<MeasurementPulse, CalibrateError> {
        let first = match base.program.scheme {
            PulseSchemeConfig::Ispp {
                set_start_v,
                reset_start_v,
                ..
            } => Some((set_start_v, reset_start_v)),
            PulseSchemeConfig::Fixed { set_v, reset_v, .. }
            | PulseSchemeConfig::OpenLoop { set_v, reset_v, .. } => Some((set_v, reset_v)),
            PulseSchemeConfig::Adaptive { .. } => None,
        };
        let missing = |option: &str| CalibrateError::Setting {
            option: option.to_string(),
            problem: "needed: the base scheme is adaptive and has no fixed first pulse".to_string(),
        };
        Ok(MeasurementPulse {
            amplitudes: Amplitudes {
                set_v: self
                    .set_v
                    .or(first.map(|f| f.0))
                    .ok_or_else(|| missing("--set-v"))?,
                reset_v: self
                    .reset_v
                    .or(first.map(|f| f.1))
                    .ok_or_else(|| missing("--reset-v"))?,
            },
            width_ns: self.width_ns.unwrap_or(base.program.scheme.width_ns()),
        })
    }
}

/// Fits the pulse-level device to `measured` and writes it into `base`.
pub fn calibrate(
    measured: &Measured,
    base: &HwConfig,
    options: &Options,
) -> Result<Calibration, CalibrateError> {
    let model = export::base_model(base)?.clone();
    let pulse = options.pulse.resolve(base)?;
    export::check_pulse(base, &pulse)?;
    let window_us = options
        .window_us
        .unwrap_or((base.device.g_min_us, base.device.g_max_us));
    if !(window_us.0 >= 0.0 && window_us.1 > window_us.0 && window_us.1.is_finite()) {
        return Err(CalibrateError::Setting {
            option: "--window-us".to_string(),
            problem: format!(
                "{},{} is out of range; allowed: 0 <= LO < HI (finite)",
                window_us.0, window_us.1
            ),
        });
    }
    if measured.ramps.is_empty() {
        return Err(CalibrateError::Setting {
            option: "--data/--set/--reset".to_string(),
            problem: "no ramps to fit".to_string(),
        });
    }
    let settings = FitSettings {
        non_negative: !measured.quantity.is_normalized(),
        ..options.settings.clone()
    };
    let ramps: Vec<&Ramp> = measured.ramps.iter().collect();
    let fit = fit::fit(&ramps, &settings, None);
    let map = export::unit_map(&fit, measured.quantity, window_us);
    let fitted = export::fitted(&fit, map, &model, &pulse);
    let (hw, mut notes) = export::build_config(base, &fitted, &pulse, options.read_noise)?;
    for (end, name, polarity) in [(fit.g_min_end, "g_min", "RESET"), (fit.g_max_end, "g_max", "SET")] {
        match end {
            WindowEnd::Fitted => {}
            WindowEnd::Measured => notes.push(format!(
                "{name} is the end of the measured span: no {polarity} ramp reaches a window end there, and the \
                 step table covers the measured conductances only"
            )),
            WindowEnd::NotIdentified => notes.push(format!(
                "{name} not identified ({polarity} ramps show no saturation, or there are none): set to the \
                 furthest conductance the fitted ramps reach"
            )),
            WindowEnd::AtBound => notes.push(format!(
                "{name} pressed against the allowed extrapolation ({:.0}% of the measured span beyond the data): \
                 the {polarity} ramps do not locate it",
                100.0 * settings.extrapolation
            )),
        }
    }
    if measured.quantity.is_normalized() {
        notes.push(format!(
            "normalised data: the fitted window is mapped onto {} - {} uS",
            window_us.0, window_us.1
        ));
    }
    if options.read_noise == ReadNoiseSource::Base {
        notes.push(format!(
            "device.read_noise = {} kept from the base configuration (the chip's verify read path); the \
             measurement's read noise was {:.4} of the window",
            base.device.read_noise, fitted.read_noise
        ));
    }
    let mut hw = hw;
    let names: Vec<&str> = measured
        .files
        .iter()
        .map(|f| f.rsplit('/').next().unwrap_or(f))
        .collect();
    hw.name = format!("{}, device fitted to {}", base.name, names.join(" + "));
    let tuned = verify::tune(
        hw,
        model.vth_set_v,
        model.vth_reset_v,
        options.verify_devices_per_level,
        options.seed,
    );
    notes.extend(tuned.note.clone());
    export::checked(&tuned.hw)?;
    let simulator = Simulator::new(&tuned.hw)?;
    let goodness = goodness::compare(
        &ramps,
        &fit,
        &goodness::Setup {
            simulator: &simulator,
            map,
            amplitudes: pulse.amplitudes,
            read_noise: fit.noise.read_noise,
            min_ramps: options.simulated_ramps,
            seed: options.seed,
        },
    );
    let uncertainty = uncertainty::bootstrap(
        &uncertainty::Context {
            ramps: &ramps,
            fit: &fit,
            settings: &settings,
            quantity: measured.quantity,
            window_us,
            base: &model,
            pulse: &pulse,
            simulator: &simulator,
            map,
        },
        options.bootstrap,
        options.seed,
    );
    Ok(Calibration {
        measured: measured.clone(),
        base_name: base.name.clone(),
        fit,
        map,
        pulse,
        fitted,
        uncertainty,
        goodness,
        convergence: tuned.convergence,
        hw: tuned.hw,
        notes,
        simulated_ramps: options.simulated_ramps,
    })
}

/// The fitted parameters with their uncertainties, one line each (`name = value ± std unit`), then the
/// step tables, if any.
pub fn parameter_lines(cal: &Calibration) -> Vec<String> {
    let parameters = export::parameters(&cal.fitted);
    // Node standard deviations follow the scalar parameters', SET's nodes first.
    let mut offset = parameters.len();
    let mut lines: Vec<String> = parameters
        .into_iter()
        .enumerate()
        // A step table replaces the exponent of its polarity (the table law fits none).
        .filter(|(_, (name, _, _))| match *name {
            "nu_set" => cal.fitted.set_step_table.is_none(),
            "nu_reset" => cal.fitted.reset_step_table.is_none(),
            _ => true,
        })
        .map(|(index, (name, unit, value))| {
            let std = cal.uncertainty.std.get(index).copied().flatten();
            let bound = match (name, value) {
                ("nu_set" | "nu_reset", Some(v)) if fit::exponent_at_bound(v) => " (at its bound)",
                _ => "",
            };
            let unit = if unit.is_empty() {
                String::new()
            } else {
                format!(" {unit}")
            };
            match (value, std) {
                (None, _) => format!("{name:16} = not identified (see notes)"),
                (Some(v), Some(s)) => format!("{name:16} = {} ± {}{unit}{bound}", sig(v), sig(s)),
                (Some(v), None) => format!("{name:16} = {}{unit}{bound}", sig(v)),
            }
        })
        .collect();
    for (name, table) in [
        ("set_step_table", &cal.fitted.set_step_table),
        ("reset_step_table", &cal.fitted.reset_step_table),
    ] {
        if let Some(values) = table {
            let cells: Vec<String> = values
                .iter()
                .enumerate()
                .map(
                    |(j, v)| match cal.uncertainty.std.get(offset + j).copied().flatten() {
                        Some(s) => format!("{v:.3} ± {s:.3}"),
                        None => format!("{v:.3}"),
                    },
                )
                .collect();
            lines.push(format!(
                "{name:16} = [{}] (relative step at {} evenly spaced conductances, g_min to g_max)",
                cells.join(", "),
                values.len()
            ));
            offset += values.len();
        }
    }
    lines
}

/// A number with about four significant digits.
fn sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 8) as usize;
    format!("{v:.digits$}")
}

/// One line per goodness group.
pub fn goodness_lines(cal: &Calibration) -> Vec<String> {
    let unit = cal.measured.quantity.unit();
    cal.goodness
        .iter()
        .map(|g| {
            let scatter = match (g.measured_scatter, g.simulated_scatter) {
                (Some(m), Some(s)) => format!(
                    "; scatter around the simulated mean: measured {} {unit}, simulated {} {unit}",
                    sig(m),
                    sig(s)
                ),
                _ => String::new(),
            };
            format!(
                "{:6} R^2 = {:.4} (mean of {} ramps, {} pulses), residual rms {} {unit}{scatter}",
                g.label,
                g.r2,
                g.ramps,
                g.measured_mean.len(),
                sig(g.residual_rms)
            )
        })
        .collect()
}

/// The configuration file: a comment header stating the data, the assumptions, the fitted parameters with
/// uncertainties, the goodness of fit and the write-verify check, then the TOML.
pub fn config_text(cal: &Calibration) -> String {
    let mut head = vec![
        cal.hw.name.clone(),
        String::new(),
        "Pulse-level device fitted by `uswim device fit` to measured pulse-response data.".to_string(),
    ];
    let set = cal.measured.count(Polarity::Set);
    let reset = cal.measured.count(Polarity::Reset);
    head.push(format!(
        "Data: {} ({set} SET ramps, {reset} RESET ramps; {}).",
        cal.measured.files.join(", "),
        describe_quantity(cal.measured.quantity)
    ));
    head.push(format!(
        "Base: {}; every section but [device] and [program.scheme] is the base's.",
        cal.base_name
    ));
    head.push(format!(
        "Measurement pulse assumed: SET {} V, RESET {} V, {} ns. Fixed-amplitude ramps give the step \
         a = k (V - Vth) (t/t_ref)^beta; k follows from a with the base's Vth, t_ref and beta.",
        cal.pulse.amplitudes.set_v, cal.pulse.amplitudes.reset_v, cal.pulse.width_ns
    ));
    head.push(String::new());
    head.push(format!(
        "Fitted (± std: {}, {} replicates):",
        cal.uncertainty.method.describe(),
        cal.uncertainty.replicates
    ));
    head.extend(parameter_lines(cal).into_iter().map(|l| format!("  {l}")));
    head.push(String::new());
    head.push(format!(
        "Measured vs simulated (this file's device, at least {} simulated ramps per polarity, each started \
         where a measured ramp starts):",
        cal.simulated_ramps
    ));
    head.extend(goodness_lines(cal).into_iter().map(|l| format!("  {l}")));
    head.push(String::new());
    head.push(format!(
        "Write-verify check (uswim device report): {:.2}% of {} devices converge ({:.2}% at the worst \
         level), {:.1} correction pulses per device on average (after {:.1} open-loop pulses).",
        100.0 * cal.convergence.success(),
        cal.convergence.devices,
        100.0 * cal.convergence.worst_level_success,
        cal.convergence.mean_pulses,
        cal.convergence.mean_open_loop_pulses
    ));
    head.push(format!("Scheme: {}.", verify::describe(&cal.hw.program.scheme)));
    if !cal.notes.is_empty() {
        head.push("Notes:".to_string());
        head.extend(cal.notes.iter().map(|n| format!("- {n}")));
    }
    let mut text = String::new();
    for line in head {
        if line.is_empty() {
            text.push_str("#\n");
        } else {
            text.push_str(&format!("# {line}\n"));
        }
    }
    text.push('\n');
    text.push_str(&crate::config::to_toml_string(&cal.hw));
    text
}

fn describe_quantity(q: data::Quantity) -> String {
    match q {
        data::Quantity::Siemens => "conductance in S".to_string(),
        data::Quantity::Millisiemens => "conductance in mS".to_string(),
        data::Quantity::Microsiemens => "conductance in uS".to_string(),
        data::Quantity::Current { read_voltage_v } => {
            format!("read current in A at {read_voltage_v} V, G = I / V")
        }
        data::Quantity::Normalized => "normalised conductance".to_string(),
    }
}

/// Measured versus simulated ramps, one chart per polarity, in uS.
pub fn charts(cal: &Calibration) -> Vec<Chart> {
    let unit = if cal.measured.quantity.is_normalized() {
        "conductance (uS, mapped from normalised data)"
    } else {
        "conductance (uS)"
    };
    let to_us = |v: f64| cal.map.to_us(v);
    let mut out = Vec::new();
    for g in cal.goodness.iter().filter(|g| g.label != "cycle") {
        let polarity = if g.label == "SET" {
            Polarity::Set
        } else {
            Polarity::Reset
        };
        let mut chart = Chart::new(format!(
            "{} ramps: measured vs simulated (R^2 = {:.3})",
            g.label, g.r2
        ))
        .x_label("pulse")
        .y_label(unit);
        // Individual ramps, unless the group has only one (then its mean is the ramp).
        let samples: Vec<&Ramp> = if g.ramps > 1 {
            cal.measured.of(polarity).take(3).collect()
        } else {
            Vec::new()
        };
        for (k, r) in samples.iter().enumerate() {
            let pts =
                r.g.iter()
                    .enumerate()
                    .map(|(i, v)| (i as f64, to_us(*v)))
                    .collect();
            let name = if k == 0 { "measured ramps (first 3)" } else { "" };
            chart = chart.with_series(Series::points(name, pts));
        }
        let line = |values: &[f64]| {
            values
                .iter()
                .enumerate()
                .map(|(i, v)| (i as f64, to_us(*v)))
                .collect()
        };
        chart = chart
            .with_series(Series::line("measured mean", line(&g.measured_mean)))
            .with_series(Series::line("simulated mean", line(&g.simulated_mean)));
        let band = |sign: f64| -> Vec<f64> {
            g.simulated_mean
                .iter()
                .zip(&g.simulated_std)
                .map(|(m, s)| m + sign * s)
                .collect()
        };
        chart = chart
            .with_series(Series::line("simulated ± 1 std", line(&band(1.0))))
            .with_series(Series::line("", line(&band(-1.0))));
        out.push(chart);
    }
    out
}
