//! `[program.scheme]`: the pulse scheme that write-verify (or open-loop writing) uses.

use super::ConfigError;
use super::check;
use serde::{Deserialize, Serialize};

/// A pulse scheme, chosen by `kind`. SET pulses have positive polarity, RESET pulses negative; amplitudes
/// are magnitudes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PulseSchemeConfig {
    /// Identical pulses of fixed amplitude.
    Fixed {
        /// SET amplitude, in V.
        set_v: f64,
        /// RESET amplitude, in V.
        reset_v: f64,
        /// Pulse width, in ns.
        width_ns: f64,
    },
    /// Incremental step pulse programming: the amplitude starts at `v_start_v`, rises by `v_step_v` per
    /// pulse in the same direction, is capped at `v_max_v`, and restarts on a direction change.
    Ispp {
        /// First SET amplitude, in V.
        set_start_v: f64,
        /// First RESET amplitude, in V.
        reset_start_v: f64,
        /// Amplitude increment per pulse, in V.
        v_step_v: f64,
        /// Amplitude cap, in V.
        v_max_v: f64,
        /// Pulse width, in ns.
        width_ns: f64,
    },
    /// Amplitude proportional to the read error: V = V_th + gain * |error| / range, within [v_min, v_max].
    Adaptive {
        /// Volts of overdrive per unit of relative error.
        gain_v: f64,
        /// Smallest amplitude, in V.
        v_min_v: f64,
        /// Largest amplitude, in V.
        v_max_v: f64,
        /// Pulse width, in ns.
        width_ns: f64,
    },
    /// NeuroSim V2.1 open-loop programming: pulses = ceil(|dG| / dG_min), no verify.
    OpenLoop {
        /// SET amplitude, in V.
        set_v: f64,
        /// RESET amplitude, in V.
        reset_v: f64,
        /// Pulse width, in ns.
        width_ns: f64,
    },
}

impl PulseSchemeConfig {
    /// Checks every range of the scheme.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            PulseSchemeConfig::Fixed {
                set_v,
                reset_v,
                width_ns,
            }
            | PulseSchemeConfig::OpenLoop {
                set_v,
                reset_v,
                width_ns,
            } => {
                check::within("program.scheme.set_v", *set_v, 0.0, 20.0)?;
                check::within("program.scheme.reset_v", *reset_v, 0.0, 20.0)?;
                check::positive_duration_ns("program.scheme.width_ns", *width_ns)
            }
            PulseSchemeConfig::Ispp {
                set_start_v,
                reset_start_v,
                v_step_v,
                v_max_v,
                width_ns,
            } => {
                check::within("program.scheme.set_start_v", *set_start_v, 0.0, 20.0)?;
                check::within("program.scheme.reset_start_v", *reset_start_v, 0.0, 20.0)?;
                check::within("program.scheme.v_step_v", *v_step_v, 0.0, 5.0)?;
                check::within(
                    "program.scheme.v_max_v",
                    *v_max_v,
                    set_start_v.max(*reset_start_v),
                    20.0,
                )?;
                check::positive_duration_ns("program.scheme.width_ns", *width_ns)
            }
            PulseSchemeConfig::Adaptive {
                gain_v,
                v_min_v,
                v_max_v,
                width_ns,
            } => {
                check::within("program.scheme.gain_v", *gain_v, 0.0, 100.0)?;
                check::within("program.scheme.v_min_v", *v_min_v, 0.0, 20.0)?;
                check::within("program.scheme.v_max_v", *v_max_v, *v_min_v, 20.0)?;
                check::positive_duration_ns("program.scheme.width_ns", *width_ns)
            }
        }
    }

    /// The pulse width, in ns.
    pub fn width_ns(&self) -> f64 {
        match self {
            PulseSchemeConfig::Fixed { width_ns, .. }
            | PulseSchemeConfig::Ispp { width_ns, .. }
            | PulseSchemeConfig::Adaptive { width_ns, .. }
            | PulseSchemeConfig::OpenLoop { width_ns, .. } => *width_ns,
        }
    }

    /// Whether the scheme verifies at all (`open_loop` does not).
    pub fn verifies(&self) -> bool {
        !matches!(self, PulseSchemeConfig::OpenLoop { .. })
    }
}
