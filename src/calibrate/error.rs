//! The error of a calibration.

use crate::config::ConfigError;
use crate::error::InputError;

/// Why a calibration could not be done. Every variant is bad user input: data, base configuration or options.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CalibrateError {
    /// Bad measured data (names the file, row and column).
    #[error("{0}")]
    Input(#[from] InputError),
    /// A bad base configuration, or a fitted configuration that does not validate.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The base configuration does not use the pulse-level device.
    #[error(
        "{config}: the base configuration's device is `statistical`; calibration fits the pulse-level device \
         (`[device.model] kind = \"pulse\"`): start from a pulse-device preset such as rram_1t1r_256"
    )]
    NotPulseDevice {
        /// The base configuration's name.
        config: String,
    },
    /// A measurement pulse amplitude at or below the device threshold.
    #[error(
        "{option} = {amplitude_v} V is not above the {polarity} threshold of the base configuration \
         (device.model.vth_{polarity}_v = {threshold_v} V): a pulse below threshold moves nothing"
    )]
    Amplitude {
        /// The command-line option or key that gave the amplitude.
        option: String,
        /// The amplitude, in V.
        amplitude_v: f64,
        /// `set` or `reset`.
        polarity: &'static str,
        /// The threshold, in V.
        threshold_v: f64,
    },
    /// A setting of the calibration itself out of range.
    #[error("{option}: {problem}")]
    Setting {
        /// The option.
        option: String,
        /// What is wrong.
        problem: String,
    },
}
