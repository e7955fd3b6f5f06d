//! `[device]`: the conductance range, the device model (`[device.model] kind = ...`) and its variation
//! (`[device.variation]`).

use super::ConfigError;
use super::check;
use super::variation::VariationConfig;
use serde::{Deserialize, Serialize};

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
/// dG = s * eta_i * k_s * max(0, V - Vth_i,s) * (t / t_ref)^beta * f_s(G) * (1 + c2c * z).
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
    /// Saturation exponent of SET, nu_SET.
    pub nu_set: f64,
    /// Saturation exponent of RESET, nu_RESET.
    pub nu_reset: f64,
    /// Cycle-to-cycle noise sigma_c2c: relative std of each pulse's step.
    pub c2c: f64,
    /// Device-to-device relative std of eta_i (mean 1) at the base variation sigma.
    pub eta_d2d: f64,
    /// Device-to-device std of the threshold voltages at the base variation sigma, in V.
    pub vth_d2d_v: f64,
}

impl PulseDeviceConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check::positive("device.model.k_set_us_per_v", self.k_set_us_per_v)?;
        check::positive("device.model.k_reset_us_per_v", self.k_reset_us_per_v)?;
        check::within("device.model.vth_set_v", self.vth_set_v, 0.0, 10.0)?;
        check::within("device.model.vth_reset_v", self.vth_reset_v, 0.0, 10.0)?;
        check::positive("device.model.t_ref_ns", self.t_ref_ns)?;
        check::within("device.model.beta", self.beta, 0.0, 4.0)?;
        check::within("device.model.nu_set", self.nu_set, 0.0, 10.0)?;
        check::within("device.model.nu_reset", self.nu_reset, 0.0, 10.0)?;
        check::within("device.model.c2c", self.c2c, 0.0, 2.0)?;
        check::within("device.model.eta_d2d", self.eta_d2d, 0.0, 2.0)?;
        check::within("device.model.vth_d2d_v", self.vth_d2d_v, 0.0, 5.0)
    }
}
