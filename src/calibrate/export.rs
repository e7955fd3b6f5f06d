//! From a fit in data units to the pulse-level device's parameters (DESIGN.md section 3) and a complete
//! hardware configuration.
//!
//! Fixed-amplitude ramps identify the per-pulse step a = eta k (V - Vth) (t / t_ref)^beta, not k, Vth and
//! beta separately. The conversion therefore assumes the measurement pulse (amplitude V and width t, by
//! default the base scheme's first pulse) and keeps the base configuration's thresholds, t_ref and beta:
//! k = a / ((V - Vth) (t / t_ref)^beta). The written scheme starts at that same pulse, so its first pulse
//! reproduces the measured step. Device-to-device spread of the step cannot be split between eta and Vth
//! with one amplitude: all of it goes to eta_d2d and vth_d2d_v is 0.

use super::CalibrateError;
use super::data::Quantity;
use super::fit::DeviceFit;
use super::synth::{Amplitudes, UnitMap};
use crate::config::{self, DeviceModelConfig, HwConfig, PulseDeviceConfig, PulseSchemeConfig};
use crate::pulse::Polarity;

/// Largest cycle-to-cycle std written to a configuration: the device draws a step factor
/// max(0, 1 + c2c z), whose mean exceeds 1 by less than 0.5% up to c2c = 0.5 and by 40% at c2c = 2.
pub const C2C_MAX: f64 = 0.5;

/// The measurement pulse assumed for the conversion to k.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeasurementPulse {
    /// SET and RESET amplitudes, in V.
    pub amplitudes: Amplitudes,
    /// Width, in ns.
    pub width_ns: f64,
}

/// The fitted device in configuration units.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// Window low end, in uS.
    pub g_min_us: f64,
    /// Window high end, in uS.
    pub g_max_us: f64,
    /// Fresh-device SET step of one measurement pulse at full headroom, in uS.
    pub step_set_us: Option<f64>,
    /// Fresh-device RESET step, in uS.
    pub step_reset_us: Option<f64>,
    /// k_SET, in uS/V.
    pub k_set_us_per_v: Option<f64>,
    /// k_RESET, in uS/V.
    pub k_reset_us_per_v: Option<f64>,
    /// SET saturation exponent.
    pub nu_set: Option<f64>,
    /// RESET saturation exponent.
    pub nu_reset: Option<f64>,
    /// Cycle-to-cycle relative std (as estimated, before any cap).
    pub c2c: f64,
    /// Device-to-device relative std of eta.
    pub eta_d2d: Option<f64>,
    /// Read noise of the measurement, as a fraction of the window.
    pub read_noise: f64,
    /// SET step table (table law only): relative steps at evenly spaced conductances from g_min to g_max.
    pub set_step_table: Option<Vec<f64>>,
    /// RESET step table (table law only), on the same nodes.
    pub reset_step_table: Option<Vec<f64>>,
}

/// Names and values of the fitted parameters, in report order (None: not identified by the data).
pub fn parameters(f: &Fitted) -> Vec<(&'static str, &'static str, Option<f64>)> {
    vec![
        ("g_min_us", "uS", Some(f.g_min_us)),
        ("g_max_us", "uS", Some(f.g_max_us)),
        ("step_set_us", "uS", f.step_set_us),
        ("step_reset_us", "uS", f.step_reset_us),
        ("k_set_us_per_v", "uS/V", f.k_set_us_per_v),
        ("k_reset_us_per_v", "uS/V", f.k_reset_us_per_v),
        ("nu_set", "", f.nu_set),
        ("nu_reset", "", f.nu_reset),
        ("c2c", "", Some(f.c2c)),
        ("eta_d2d", "", f.eta_d2d),
        ("read_noise", "of range", Some(f.read_noise)),
    ]
}

/// The step tables' nodes, SET's then RESET's (empty for the power law): the bootstrap's values after
/// [`parameters`].
pub fn table_nodes(f: &Fitted) -> Vec<f64> {
    [&f.set_step_table, &f.reset_step_table]
        .into_iter()
        .flatten()
        .flatten()
        .copied()
        .collect()
}

/// The map from data units to uS: identity for physical data; for normalised data, the fitted window onto
/// `window_us`.
pub fn unit_map(fit: &DeviceFit, quantity: Quantity, window_us: (f64, f64)) -> UnitMap {
    if !quantity.is_normalized() {
        return UnitMap::IDENTITY;
    }
    let law = fit.law();
    let scale = (window_us.1 - window_us.0) / law.range();
    UnitMap {
        offset_us: window_us.0 - scale * law.g_min,
        scale,
    }
}

/// The base configuration's pulse device.
pub fn base_model(base: &HwConfig) -> Result<&PulseDeviceConfig, CalibrateError> {
    match &base.device.model {
        DeviceModelConfig::Pulse(c) => Ok(c),
        DeviceModelConfig::Statistical(_) => Err(CalibrateError::NotPulseDevice {
            config: base.name.clone(),
        }),
    }
}

/// Checks that both measurement amplitudes are above the base thresholds.
pub fn check_pulse(base: &HwConfig, pulse: &MeasurementPulse) -> Result<(), CalibrateError> {
    let model = base_model(base)?;
    for (option, amplitude_v, polarity, threshold_v) in [
        ("--set-v", pulse.amplitudes.set_v, "set", model.vth_set_v),
        ("--reset-v", pulse.amplitudes.reset_v, "reset", model.vth_reset_v),
    ] {
        if !amplitude_v.is_finite() || amplitude_v <= threshold_v {
            return Err(CalibrateError::Amplitude {
                option: option.to_string(),
                amplitude_v,
                polarity,
                threshold_v,
            });
        }
    }
    if !pulse.width_ns.is_finite() || pulse.width_ns <= 0.0 {
        return Err(CalibrateError::Setting {
            option: "--width-ns".to_string(),
            problem: format!("{} is out of range; allowed: > 0", pulse.width_ns),
        });
    }
    Ok(())
}

/// The fitted parameters in configuration units.
pub fn fitted(fit: &DeviceFit, map: UnitMap, base: &PulseDeviceConfig, pulse: &MeasurementPulse) -> Fitted {
    let law = fit.law();
    let width_factor = (pulse.width_ns / base.t_ref_ns).powf(base.beta);
    let step = |p: Polarity| fit.full_step(p).map(|a| a * map.scale);
    let k = |p: Polarity, a: Option<f64>| {
        let vth = match p {
            Polarity::Set => base.vth_set_v,
            Polarity::Reset => base.vth_reset_v,
        };
        a.map(|a| a / ((pulse.amplitudes.of(p) - vth) * width_factor))
    };
    let step_set_us = step(Polarity::Set);
    let step_reset_us = step(Polarity::Reset);
    Fitted {
        g_min_us: map.to_us(law.g_min),
        g_max_us: map.to_us(law.g_max),
        step_set_us,
        step_reset_us,
        k_set_us_per_v: k(Polarity::Set, step_set_us),
        k_reset_us_per_v: k(Polarity::Reset, step_reset_us),
        nu_set: fit.has(Polarity::Set).then_some(law.nu_set),
        nu_reset: fit.has(Polarity::Reset).then_some(law.nu_reset),
        c2c: fit.noise.c2c,
        eta_d2d: fit.eta_d2d,
        read_noise: fit.noise.read_noise / law.range(),
        set_step_table: law.table_on_window(Polarity::Set),
        reset_step_table: law.table_on_window(Polarity::Reset),
    }
}

/// Whether the written configuration takes the read noise from the data or keeps the base's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadNoiseSource {
    /// The base configuration's `device.read_noise` (the chip's verify read path).
    Base,
    /// The measurement's read noise.
    Data,
}

/// The base configuration with the fitted device, the measurement pulse as the scheme's first pulse, and
/// notes on every choice made for parameters the data does not determine.
pub fn build_config(
    base: &HwConfig,
    f: &Fitted,
    pulse: &MeasurementPulse,
    read_noise: ReadNoiseSource,
) -> Result<(HwConfig, Vec<String>), CalibrateError> {
    let model = base_model(base)?;
    let mut notes = Vec::new();
    // A polarity without ramps mirrors the other: the same exponent on its own headroom, and the table
    // reversed (SET's node j is RESET's node K-1-j in headroom).
    let mirrored = |t: &Option<Vec<f64>>| t.as_ref().map(|v| v.iter().rev().copied().collect::<Vec<f64>>());
    let (k_set, k_reset, nu_set, nu_reset, set_table, reset_table) =
        match (f.k_set_us_per_v, f.k_reset_us_per_v) {
            (Some(ks), Some(kr)) => (
                ks,
                kr,
                f.nu_set.unwrap_or(0.0),
                f.nu_reset.unwrap_or(0.0),
                f.set_step_table.clone(),
                f.reset_step_table.clone(),
            ),
            (Some(ks), None) => {
                notes.push(
                    "no RESET ramps: RESET assumed symmetric to SET (k_reset = k_set, nu_reset = nu_set, \
                     the RESET step table the SET table mirrored)"
                        .into(),
                );
                let nu = f.nu_set.unwrap_or(0.0);
                let table = f.set_step_table.clone();
                (ks, ks, nu, nu, table.clone(), mirrored(&table))
            }
            (None, Some(kr)) => {
                notes.push(
                    "no SET ramps: SET assumed symmetric to RESET (k_set = k_reset, nu_set = nu_reset, \
                     the SET step table the RESET table mirrored)"
                        .into(),
                );
                let nu = f.nu_reset.unwrap_or(0.0);
                let table = f.reset_step_table.clone();
                (kr, kr, nu, nu, mirrored(&table), table)
            }
            (None, None) => {
                return Err(CalibrateError::Setting {
                    option: "--data/--set/--reset".to_string(),
                    problem: "no ramps to fit".to_string(),
                });
            }
        };
    let c2c = if f.c2c > C2C_MAX {
        notes.push(format!(
            "measured pulse-to-pulse fluctuation is c2c = {:.3} of the mean step; capped at {C2C_MAX} (larger \
             values bias the device's mean step through its max(0, 1 + c2c z) factor); the excess is not \
             multiplicative cycle-to-cycle noise of the step",
            f.c2c
        ));
        C2C_MAX
    } else {
        f.c2c
    };
    let eta_d2d = match f.eta_d2d {
        Some(e) => e.min(2.0),
        None => {
            notes.push(format!(
                "device-to-device spread not identified (fewer than two ramps per polarity): eta_d2d = {} kept \
                 from the base configuration",
                model.eta_d2d
            ));
            model.eta_d2d
        }
    };
    notes.push(
        "fixed-amplitude ramps cannot separate eta from Vth spread: all of it is in eta_d2d, vth_d2d_v = 0"
            .into(),
    );
    let mut hw = base.clone();
    hw.device.g_min_us = f.g_min_us;
    hw.device.g_max_us = f.g_max_us;
    hw.device.model = DeviceModelConfig::Pulse(PulseDeviceConfig {
        k_set_us_per_v: k_set,
        k_reset_us_per_v: k_reset,
        nu_set,
        nu_reset,
        c2c,
        eta_d2d,
        vth_d2d_v: 0.0,
        set_step_table: set_table,
        reset_step_table: reset_table,
        ..model.clone()
    });
    if read_noise == ReadNoiseSource::Data {
        hw.device.read_noise = f.read_noise.min(0.5);
    }
    let (set_v, reset_v, width_ns) = (pulse.amplitudes.set_v, pulse.amplitudes.reset_v, pulse.width_ns);
    hw.program.scheme = match base.program.scheme {
        PulseSchemeConfig::Ispp {
            v_step_v, v_max_v, ..
        } => PulseSchemeConfig::Ispp {
            set_start_v: set_v,
            reset_start_v: reset_v,
            v_step_v,
            v_max_v: v_max_v.max(set_v).max(reset_v),
            width_ns,
        },
        PulseSchemeConfig::Fixed { .. } => PulseSchemeConfig::Fixed {
            set_v,
            reset_v,
            width_ns,
        },
        PulseSchemeConfig::OpenLoop { .. } => PulseSchemeConfig::OpenLoop {
            set_v,
            reset_v,
            width_ns,
        },
        PulseSchemeConfig::Adaptive {
            gain_v,
            v_min_v,
            v_max_v,
            ..
        } => PulseSchemeConfig::Adaptive {
            gain_v,
            v_min_v,
            v_max_v,
            width_ns,
        },
    };
    checked(&hw)?;
    Ok((hw, notes))
}

/// Validates `hw` exactly as a file is validated: printed as TOML, parsed back and checked.
pub fn checked(hw: &HwConfig) -> Result<(), CalibrateError> {
    let text = config::to_toml_string(hw);
    let parsed = config::from_toml_str(&text, "fitted configuration", &[])?;
    debug_assert_eq!(&parsed, hw);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::data::Ramp;
    use crate::calibrate::fit::{self, FitSettings};
    use crate::calibrate::synth;

    /// The default preset with a noise-free, variation-free device, and a noise-free fit of its ramps.
    fn noise_free() -> (HwConfig, DeviceFit) {
        let mut hw = config::load(config::DEFAULT_PRESET, &[]).unwrap();
        if let DeviceModelConfig::Pulse(p) = &mut hw.device.model {
            (p.c2c, p.eta_d2d, p.vth_d2d_v, p.nu_reset) = (0.0, 0.0, 0.0, 2.0);
        }
        let amplitudes = Amplitudes {
            set_v: 1.0,
            reset_v: 1.0,
        };
        let ramps = synth::cycles(&hw, amplitudes, 2, 80, 200, 0.0, 0).unwrap();
        let refs: Vec<&Ramp> = ramps.iter().collect();
        (hw, fit::fit(&refs, &FitSettings::default(), None))
    }

    fn pulse(v: f64, width_ns: f64) -> MeasurementPulse {
        MeasurementPulse {
            amplitudes: Amplitudes { set_v: v, reset_v: v },
            width_ns,
        }
    }

    /// k = a / ((V - Vth) (t / t_ref)^beta): the same fitted step read under another assumed pulse scales k
    /// exactly so; and under the generating pulse it is the generating k.
    #[test]
    fn k_follows_from_the_step_and_the_assumed_pulse() {
        let (hw, fit) = noise_free();
        let base = base_model(&hw).unwrap();
        let at = |v: f64, w: f64| fitted(&fit, UnitMap::IDENTITY, base, &pulse(v, w));
        let reference = at(1.0, 100.0);
        let k = reference.k_set_us_per_v.unwrap();
        assert!((k / base.k_set_us_per_v - 1.0).abs() < 1e-4, "{reference:?}");
        assert!((reference.nu_reset.unwrap() - 2.0).abs() < 1e-3, "{reference:?}");
        // Twice the overdrive (1.2 V against Vth 0.8 V): half the k.
        assert!((at(1.2, 100.0).k_set_us_per_v.unwrap() * 2.0 / k - 1.0).abs() < 1e-12);
        // Four times t_ref with beta = 0.5: half the k.
        assert!(
            (at(1.0, 400.0).k_reset_us_per_v.unwrap() * 2.0 / reference.k_reset_us_per_v.unwrap() - 1.0)
                .abs()
                < 1e-12
        );
        assert!((reference.g_min_us - 2.0).abs() < 1e-3 && (reference.g_max_us - 50.0).abs() < 1e-3);
    }

    #[test]
    fn written_configuration_caps_c2c_keeps_what_the_data_lacks_and_validates() {
        let (hw, fit) = noise_free();
        let base = base_model(&hw).unwrap().clone();
        let mut f = fitted(&fit, UnitMap::IDENTITY, &base, &pulse(1.0, 100.0));
        f.c2c = 3.0;
        f.eta_d2d = None;
        (f.k_reset_us_per_v, f.nu_reset) = (None, None);
        let (out, notes) = build_config(&hw, &f, &pulse(1.0, 100.0), ReadNoiseSource::Base).unwrap();
        let DeviceModelConfig::Pulse(p) = &out.device.model else {
            panic!()
        };
        assert_eq!(p.c2c, C2C_MAX);
        assert_eq!(p.eta_d2d, base.eta_d2d);
        assert_eq!((p.k_reset_us_per_v, p.nu_reset), (p.k_set_us_per_v, p.nu_set));
        assert_eq!(p.vth_d2d_v, 0.0);
        assert_eq!(out.device.read_noise, hw.device.read_noise);
        let text = notes.join("\n");
        assert!(
            text.contains("capped") && text.contains("eta_d2d") && text.contains("symmetric"),
            "{text}"
        );
        checked(&out).unwrap();
    }

    /// Without RESET ramps the RESET table mirrors the SET table: T_RESET(G) = T_SET(g_min + g_max - G),
    /// so that both see the same step at the same headroom; and the written tables validate.
    #[test]
    fn a_missing_polarity_mirrors_the_step_table() {
        let (hw, fit) = noise_free();
        let base = base_model(&hw).unwrap().clone();
        let mut f = fitted(&fit, UnitMap::IDENTITY, &base, &pulse(1.0, 100.0));
        (f.k_reset_us_per_v, f.nu_reset, f.reset_step_table) = (None, None, None);
        f.set_step_table = Some(vec![0.2, 0.5, 1.0, 0.7]);
        let (out, _) = build_config(&hw, &f, &pulse(1.0, 100.0), ReadNoiseSource::Base).unwrap();
        let DeviceModelConfig::Pulse(p) = &out.device.model else {
            panic!()
        };
        assert_eq!(p.set_step_table.as_deref(), Some(&[0.2, 0.5, 1.0, 0.7][..]));
        assert_eq!(p.reset_step_table.as_deref(), Some(&[0.7, 1.0, 0.5, 0.2][..]));
        checked(&out).unwrap();
    }

    #[test]
    fn measurement_pulse_below_threshold_is_refused() {
        let (hw, _) = noise_free();
        let e = check_pulse(&hw, &pulse(0.7, 100.0)).unwrap_err().to_string();
        assert!(
            e.contains("--set-v") && e.contains("0.7") && e.contains("vth_set_v = 0.8"),
            "{e}"
        );
        assert!(check_pulse(&hw, &pulse(1.0, 0.0)).is_err());
    }
}
