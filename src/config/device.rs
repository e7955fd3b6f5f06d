//! `[device]`: the conductance range, the device model (`[device.model] kind = ...`) and its variation
//! (`[device.variation]`).

use super::ConfigError;
use super::check;
use super::variation::VariationConfig;
use serde::{Deserialize, Serialize};

/// The smallest headroom, as a fraction of the window, at which a negative saturation exponent is
/// evaluated: f_s = max(x, HEADROOM_FLOOR)^nu, so f_s <= 1000^|nu| and a pulse below threshold at the
/// window edge (x = 0) never gives 0 * inf = NaN.
pub const HEADROOM_FLOOR: f64 = 1e-3;

/// The memory device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Lowest programmable conductance, in uS (>= 0).
    pub g_min_us: f64,
    /// Highest programmable conductance, in uS (> g_min_us).
    pub g_max_us: f64,
    /// Bits stored per device, 1..=8 (2^bits levels evenly spaced over [g_min, g_max]).
    pub bits_per_cell: u32,
    /// Standard deviation of one verify read, as a fraction of the range, in [0, 0.5].
    #[serde(default)]
    pub read_noise: f64,
    /// The device model.
    pub model: DeviceModelConfig,
    /// Device-to-device variation.
    pub variation: VariationConfig,
}

impl DeviceConfig {
    /// Checks every range of the device section.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::non_negative("device.g_min_us", self.g_min_us)?;
        check::positive("device.g_max_us", self.g_max_us)?;
        if self.g_min_us >= self.g_max_us {
            return Err(ConfigError::at(
                "device.g_max_us",
                format!(
                    "{} must be greater than device.g_min_us = {}",
                    self.g_max_us, self.g_min_us
                ),
            ));
        }
        check::count("device.bits_per_cell", self.bits_per_cell, 1, 8)?;
        check::within("device.read_noise", self.read_noise, 0.0, 0.5)?;
        self.model.validate()?;
        self.variation.validate()
    }

    /// Number of conductance levels, 2^bits_per_cell.
    pub fn levels(&self) -> u32 {
        1 << self.bits_per_cell
    }

    /// The conductance range R = g_max - g_min, in uS.
    pub fn range_us(&self) -> f64 {
        self.g_max_us - self.g_min_us
    }

    /// The target conductance of `level` (0..levels), in uS.
    pub fn level_us(&self, level: u32) -> f64 {
        self.g_min_us + self.range_us() * f64::from(level) / f64::from(self.levels() - 1)
    }
}

/// The device model, chosen by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeviceModelConfig {
    /// The statistical device of the U-SWIM papers: a write lands at G* + R*sigma_i*z.
    Statistical(StatisticalConfig),
    /// The pulse-level physical device: each pulse moves G by a voltage-, width- and state-dependent step.
    Pulse(PulseDeviceConfig),
}

impl DeviceModelConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        match self {
            DeviceModelConfig::Statistical(c) => c.validate(),
            DeviceModelConfig::Pulse(c) => c.validate(),
        }
    }
}

/// What the final error of a verified statistical device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatisticalOutcome {
    /// The error left by the last accepted write-verify iteration.
    #[default]
    Iterate,
    /// Replace a verified device's error by N(0, variation.sigma_wv), as the papers do.
    Gaussian,
}

/// Parameters of the statistical device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatisticalConfig {
    /// Std of a re-programming attempt relative to the device's open-loop sigma, in (0, 10].
    #[serde(default = "unit")]
    pub retry_ratio: f64,
    /// Final-error model of verified devices.
    #[serde(default)]
    pub outcome: StatisticalOutcome,
}

fn unit() -> f64 {
    1.0
}

impl StatisticalConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check::above_up_to("device.model.retry_ratio", self.retry_ratio, 0.0, 10.0)
    }
}

/// Parameters of the pulse-level device (DESIGN.md section 3):
/// dG = s * eta_i * k_s * max(0, V - Vth_i,s) * (t / t_ref)^beta * f_s(G) * (1 + c2c * z), with the state
/// dependence f_s(G) = headroom_s(G)^nu_s * T_s(G): headroom_SET = (G_max - G) / R,
/// headroom_RESET = (G - G_min) / R, and T_s an optional step table (1 without one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PulseDeviceConfig {
    /// SET step k_SET: conductance change per volt of overdrive of a t_ref pulse on a fresh device, in uS/V.
    pub k_set_us_per_v: f64,
    /// RESET step k_RESET, in uS/V.
    pub k_reset_us_per_v: f64,
    /// Nominal SET threshold voltage, in V.
    pub vth_set_v: f64,
    /// Nominal RESET threshold voltage (magnitude), in V.
    pub vth_reset_v: f64,
    /// Reference pulse width t_ref, in ns.
    pub t_ref_ns: f64,
    /// Pulse-width exponent beta.
    pub beta: f64,
    /// Saturation exponent of SET, nu_SET, in [-3, 10]: the factor ((G_max - G) / R)^nu_SET of the SET step.
    /// Positive: the step shrinks as G approaches G_max (a saturating device); 0: no dependence on G;
    /// negative: the step grows as the headroom shrinks (the abrupt, self-accelerating SET of filamentary
    /// RRAM), with the headroom floored at [`HEADROOM_FLOOR`].
    pub nu_set: f64,
    /// Saturation exponent of RESET, nu_RESET, in [-3, 10]: the factor ((G - G_min) / R)^nu_RESET of the
    /// RESET step; the sign means what it means for `nu_set`, with G_min in place of G_max.
    pub nu_reset: f64,
    /// Cycle-to-cycle noise sigma_c2c: relative std of each pulse's step.
    pub c2c: f64,
    /// Device-to-device relative std of eta_i (mean 1) at the base variation sigma.
    pub eta_d2d: f64,
    /// Device-to-device std of the threshold voltages at the base variation sigma, in V.
    pub vth_d2d_v: f64,
    /// Spread of the RESET (high-resistance) state: after a full RESET the device rests at
    /// G_min + R hrs_spread |z| (half-normal above the window floor, the residual filament), as a
    /// fraction of the range at the base variation sigma, in [0, 0.5].
    #[serde(default)]
    pub hrs_spread: f64,
    /// Optional SET step table T_SET: relative step factors at K evenly spaced conductances
    /// G_min + j R / (K - 1), j = 0..K-1 (index 0 at G_min), linearly interpolated between the points and
    /// clamped at the ends; it multiplies the saturation law (a pure table has nu_set = 0). 2 <= K <= 256,
    /// every value in [0, 1000], at least one > 0. The measured-device lookup of CrossSim and of aihwkit's
    /// PiecewiseStepDevice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_step_table: Option<Vec<f64>>,
    /// Optional RESET step table T_RESET: as `set_step_table` (index 0 also at G_min), multiplying the
    /// RESET saturation law.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_step_table: Option<Vec<f64>>,
}

impl PulseDeviceConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check::positive("device.model.k_set_us_per_v", self.k_set_us_per_v)?;
        check::positive("device.model.k_reset_us_per_v", self.k_reset_us_per_v)?;
        check::within("device.model.vth_set_v", self.vth_set_v, 0.0, 10.0)?;
        check::within("device.model.vth_reset_v", self.vth_reset_v, 0.0, 10.0)?;
        check::positive("device.model.t_ref_ns", self.t_ref_ns)?;
        check::within("device.model.beta", self.beta, 0.0, 4.0)?;
        check::within("device.model.nu_set", self.nu_set, NU_MIN, NU_MAX)?;
        check::within("device.model.nu_reset", self.nu_reset, NU_MIN, NU_MAX)?;
        if let Some(table) = &self.set_step_table {
            check_step_table("device.model.set_step_table", table)?;
        }
        if let Some(table) = &self.reset_step_table {
            check_step_table("device.model.reset_step_table", table)?;
        }
        check::within("device.model.c2c", self.c2c, 0.0, 2.0)?;
        check::within("device.model.eta_d2d", self.eta_d2d, 0.0, 2.0)?;
        check::within("device.model.vth_d2d_v", self.vth_d2d_v, 0.0, 5.0)?;
        check::within("device.model.hrs_spread", self.hrs_spread, 0.0, 0.5)
    }
}

/// Most negative saturation exponent (an accelerating step; see [`HEADROOM_FLOOR`]).
const NU_MIN: f64 = -3.0;
/// Largest saturation exponent (a strongly saturating step).
const NU_MAX: f64 = 10.0;
/// Fewest points of a step table (one interval).
const STEP_TABLE_MIN_POINTS: usize = 2;
/// Most points of a step table.
const STEP_TABLE_MAX_POINTS: usize = 256;
/// Largest relative step factor of a step table.
const STEP_TABLE_MAX_VALUE: f64 = 1000.0;

/// A step table has 2..=256 points, each finite and in [0, 1000], not all 0 (a device that never moves).
fn check_step_table(key: &str, table: &[f64]) -> Result<(), ConfigError> {
    if !(STEP_TABLE_MIN_POINTS..=STEP_TABLE_MAX_POINTS).contains(&table.len()) {
        let n = table.len();
        let plural = if n == 1 { "" } else { "s" };
        return Err(ConfigError::out_of_range(
            key,
            format!("{n} point{plural}"),
            &format!("{STEP_TABLE_MIN_POINTS}..={STEP_TABLE_MAX_POINTS} points"),
        ));
    }
    for (j, &value) in table.iter().enumerate() {
        check::within(&format!("{key}[{j}]"), value, 0.0, STEP_TABLE_MAX_VALUE)?;
    }
    if table.iter().all(|&value| value == 0.0) {
        return Err(ConfigError::at(
            key,
            format!(
                "every point is 0 (the device would never move); allowed: values in [0, {STEP_TABLE_MAX_VALUE}], \
                 at least one > 0"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, HwConfig, from_toml_str, parse_override, to_toml_string};

    /// The RRAM preset with its pulse model changed by `edit`.
    fn rram_with(edit: impl FnOnce(&mut PulseDeviceConfig)) -> HwConfig {
        let mut hw = config::load("rram_1t1r_256", &[]).unwrap();
        let DeviceModelConfig::Pulse(p) = &mut hw.device.model else {
            panic!("the rram preset is pulse-level")
        };
        edit(p);
        hw
    }

    /// The error of `hw`, which must be invalid.
    fn rejected(hw: &HwConfig) -> ConfigError {
        hw.validate().expect_err("must be rejected")
    }

    #[test]
    fn saturation_exponents_from_minus_three_to_ten_are_accepted() {
        for nu in [-3.0, -0.8, 0.0, 10.0] {
            rram_with(|p| p.nu_set = nu).validate().unwrap();
            rram_with(|p| p.nu_reset = nu).validate().unwrap();
        }
        for (key, nu) in [
            ("device.model.nu_set", -3.5),
            ("device.model.nu_set", 10.5),
            ("device.model.nu_reset", -3.5),
            ("device.model.nu_reset", 10.5),
            ("device.model.nu_set", f64::NAN),
        ] {
            let hw = rram_with(|p| {
                if key.ends_with("nu_set") {
                    p.nu_set = nu
                } else {
                    p.nu_reset = nu
                }
            });
            let e = rejected(&hw);
            assert_eq!(e.key, key);
            assert!(e.problem.contains("[-3, 10]"), "{e}");
        }
    }

    #[test]
    fn step_tables_are_checked_for_length_values_and_a_nonzero_point() {
        let set = "device.model.set_step_table";
        let reset = "device.model.reset_step_table";
        for ok in [vec![1.0, 0.0], vec![0.0, 1000.0, 3.5], vec![0.5; 256]] {
            rram_with(|p| p.set_step_table = Some(ok.clone()))
                .validate()
                .unwrap();
            rram_with(|p| p.reset_step_table = Some(ok.clone()))
                .validate()
                .unwrap();
        }
        let cases: [(&str, Vec<f64>, String, &str); 8] = [
            (set, vec![1.0], set.into(), "2..=256 points"),
            (set, vec![], set.into(), "2..=256 points"),
            (reset, vec![1.0; 257], reset.into(), "2..=256 points"),
            (set, vec![1.0, 1.0, 1.0, -0.5], format!("{set}[3]"), "[0, 1000]"),
            (reset, vec![1.0, 1000.5], format!("{reset}[1]"), "[0, 1000]"),
            (set, vec![1.0, f64::NAN], format!("{set}[1]"), "[0, 1000]"),
            (
                reset,
                vec![f64::INFINITY, 1.0],
                format!("{reset}[0]"),
                "[0, 1000]",
            ),
            (set, vec![0.0; 5], set.into(), "at least one > 0"),
        ];
        for (which, table, key, range) in cases {
            let hw = rram_with(|p| {
                if which == set {
                    p.set_step_table = Some(table.clone())
                } else {
                    p.reset_step_table = Some(table.clone())
                }
            });
            let e = rejected(&hw);
            assert_eq!(e.key, key, "{table:?}: {e}");
            assert!(e.problem.contains(range), "{table:?}: {e}");
        }
    }

    #[test]
    fn step_tables_round_trip_through_toml_and_overrides() {
        // Absent tables are not printed, and read back as absent.
        let plain = config::load("rram_1t1r_256", &[]).unwrap();
        assert!(!to_toml_string(&plain).contains("step_table"));
        // Tables set with --set, printed, read back: the same configuration, bit for bit.
        let overrides = [
            parse_override("device.model.set_step_table=[4, 4, 1, 1, 1, 1, 1, 1, 0.5]").unwrap(),
            parse_override("device.model.reset_step_table=[0.1, 0.30000000000000004, 2.5e-3]").unwrap(),
            parse_override("device.model.nu_set=-0.8").unwrap(),
        ];
        let hw = config::load("rram_1t1r_256", &overrides).unwrap();
        let DeviceModelConfig::Pulse(p) = &hw.device.model else {
            panic!("pulse-level")
        };
        assert_eq!(
            p.set_step_table.as_deref(),
            Some(&[4.0, 4.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5][..])
        );
        assert_eq!(
            p.reset_step_table.as_deref(),
            Some(&[0.1, 0.30000000000000004, 2.5e-3][..])
        );
        let printed = to_toml_string(&hw);
        assert!(printed.contains("set_step_table") && printed.contains("reset_step_table"));
        let again = from_toml_str(&printed, "printed", &[]).unwrap();
        assert_eq!(hw, again, "{printed}");
        // A bad table given with --set names the key.
        let bad = [parse_override("device.model.set_step_table=[1.0]").unwrap()];
        let e = config::load("rram_1t1r_256", &bad).unwrap_err();
        assert_eq!(e.key, "device.model.set_step_table");
    }
}
