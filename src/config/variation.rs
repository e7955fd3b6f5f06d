//! `[device.variation]`: the base sigma and the variation maps that scale it per device.

use super::ConfigError;
use super::check;
use serde::{Deserialize, Serialize};

/// Device-to-device variation: each device's sigma is `sigma` (or the `level_poly` value) times the product
/// of the other maps' multipliers. For the statistical device a device's sigma is the std of its open-loop
/// write error (fraction of the range); for the pulse-level device it scales that device's eta, Vth and
/// cycle-to-cycle spreads by sigma_i / sigma (see `uswim::variation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariationConfig {
    /// Base open-loop programming error std, as a fraction of the range, in [0, 2]. For the pulse-level
    /// device, the reference sigma at which its spreads are the configured eta_d2d, vth_d2d_v and c2c.
    pub sigma: f64,
    /// Std of a write-verified device's final error (the papers' sigma after verify), fraction of range:
    /// the final error of the statistical device with `outcome = "gaussian"`, and the after-verify sigma
    /// the sensitivity analyzer assumes.
    #[serde(default)]
    pub sigma_wv: f64,
    /// Maps composed multiplicatively, in order (`[[device.variation.maps]] kind = ...`).
    #[serde(default)]
    pub maps: Vec<VariationMapConfig>,
}

impl VariationConfig {
    /// Checks every range of the variation section.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::within("device.variation.sigma", self.sigma, 0.0, 2.0)?;
        check::within("device.variation.sigma_wv", self.sigma_wv, 0.0, 2.0)?;
        for (i, map) in self.maps.iter().enumerate() {
            map.validate(&format!("device.variation.maps[{i}]"))?;
        }
        let level_polys: Vec<usize> = (self.maps.iter().enumerate())
            .filter(|(_, m)| matches!(m, VariationMapConfig::LevelPoly { .. }))
            .map(|(i, _)| i)
            .collect();
        if let [_, second, ..] = level_polys[..] {
            return Err(ConfigError::at(
                format!("device.variation.maps[{second}]"),
                "a second `level_poly` map; at most one is allowed (it replaces the base sigma)",
            ));
        }
        Ok(())
    }
}

/// One variation map, chosen by `kind`. Struct variants (never unit variants) so that misspelt keys are
/// rejected for every kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum VariationMapConfig {
    /// Every device gets multiplier 1.
    Uniform {},
    /// The U-SWIM authors' scheme: weights with low < |w|/max|W| < high get `multiplier`; all sigmas are
    /// divided by sqrt(0.4 m^2 + 0.6) so the mean variance is unchanged.
    Band {
        /// Multiplier s inside the band.
        multiplier: f64,
        /// Lower edge of the band on |w|/max|W|.
        #[serde(default = "band_low")]
        low: f64,
        /// Upper edge of the band on |w|/max|W|.
        #[serde(default = "band_high")]
        high: f64,
    },
    /// Sigma as a polynomial of x = G*/g_max: sigma(x) = sum c_k x^k, in uS, divided by the range; it
    /// replaces the base sigma (at most one per configuration), and the other maps multiply it.
    LevelPoly {
        /// Polynomial coefficients c_0, c_1, ... in uS.
        coefficients_us: Vec<f64>,
    },
    /// A linear gradient across rows and columns of each array and a per-array lognormal factor.
    Spatial {
        /// Relative change of sigma from the first to the last row.
        row_gradient: f64,
        /// Relative change of sigma from the first to the last column.
        col_gradient: f64,
        /// Std of ln(factor) drawn once per array.
        array_sigma_log: f64,
    },
    /// A lognormal multiplier per device: exp(sigma_log * z - sigma_log^2 / 2) (mean 1).
    Lognormal {
        /// Std of the multiplier's logarithm.
        sigma_log: f64,
    },
    /// A fraction of devices get a large multiplier.
    Outliers {
        /// Fraction of devices that are outliers, in [0, 1].
        fraction: f64,
        /// Their multiplier.
        multiplier: f64,
    },
}

fn band_low() -> f64 {
    0.25
}

fn band_high() -> f64 {
    0.75
}

impl VariationMapConfig {
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        match self {
            VariationMapConfig::Uniform {} => Ok(()),
            VariationMapConfig::Band {
                multiplier,
                low,
                high,
            } => {
                check::within(&format!("{key}.multiplier"), *multiplier, 0.0, 1e3)?;
                check::within(&format!("{key}.low"), *low, 0.0, 1.0)?;
                check::within(&format!("{key}.high"), *high, *low, 1.0)
            }
            VariationMapConfig::LevelPoly { coefficients_us } => {
                if coefficients_us.is_empty() || coefficients_us.iter().any(|c| !c.is_finite()) {
                    return Err(ConfigError::at(
                        format!("{key}.coefficients_us"),
                        "needs at least one finite coefficient",
                    ));
                }
                Ok(())
            }
            VariationMapConfig::Spatial {
                row_gradient,
                col_gradient,
                array_sigma_log,
            } => {
                check::within(&format!("{key}.row_gradient"), *row_gradient, -0.99, 100.0)?;
                check::within(&format!("{key}.col_gradient"), *col_gradient, -0.99, 100.0)?;
                check::within(&format!("{key}.array_sigma_log"), *array_sigma_log, 0.0, 5.0)
            }
            VariationMapConfig::Lognormal { sigma_log } => {
                check::within(&format!("{key}.sigma_log"), *sigma_log, 0.0, 5.0)
            }
            VariationMapConfig::Outliers { fraction, multiplier } => {
                check::within(&format!("{key}.fraction"), *fraction, 0.0, 1.0)?;
                check::within(&format!("{key}.multiplier"), *multiplier, 0.0, 1e3)
            }
        }
    }
}
