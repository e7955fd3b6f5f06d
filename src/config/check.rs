//! Range checks used by the `validate` functions, and the upper bounds that keep every run representable.
//!
//! **Why upper bounds.** Simulated time is a `u64` count of controller cycles and energies are `f64` sums,
//! so a configuration must not let one array's programming overflow either. Every duration is at most
//! [`MAX_DURATION_NS`] (one second: no programming step lasts longer), every per-operation energy at most
//! [`MAX_ENERGY_PJ`] and the static power at most [`MAX_POWER_MW`]. On top of those per-key bounds,
//! [`worst_case_array_cycles`] bounds one array's programming time (every row, every device, every
//! iteration at the longest step) and [`crate::config::HwConfig::validate`] requires it to be at most
//! [`MAX_ARRAY_CYCLES`] = 2^43, so that [`MAX_ARRAYS`] = 2^20 arrays programmed one after another still
//! end before 2^63 cycles: the cycle counter cannot wrap for any accepted configuration.

use super::ConfigError;
use super::HwConfig;

/// The longest duration of any single step (pulse, settle, setup, conversion, time constant), in ns.
pub const MAX_DURATION_NS: f64 = 1e9;
/// The largest energy of any single operation (a pulse, a conversion, a driver overhead), in pJ (1 mJ).
pub const MAX_ENERGY_PJ: f64 = 1e9;
/// The largest static power, in mW (1 kW).
pub const MAX_POWER_MW: f64 = 1e6;
/// The most arrays one chip may have (`array.count`), and the most a run can time without overflow.
pub const MAX_ARRAYS: u32 = 1 << 20;
/// The longest worst-case programming time of one array, in controller cycles (2^43).
pub const MAX_ARRAY_CYCLES: f64 = (1u64 << 43) as f64;

/// `value` must be finite and > 0.
pub fn positive(key: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::out_of_range(key, show(value), "> 0 (finite)"))
    }
}

/// `value` must be finite and >= 0.
pub fn non_negative(key: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ConfigError::out_of_range(key, show(value), ">= 0 (finite)"))
    }
}

/// `value` must lie in the closed interval [lo, hi].
pub fn within(key: &str, value: f64, lo: f64, hi: f64) -> Result<(), ConfigError> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::out_of_range(
            key,
            show(value),
            &format!("[{}, {}]", show(lo), show(hi)),
        ))
    }
}

/// `value` must lie in the half-open interval (lo, hi].
pub fn above_up_to(key: &str, value: f64, lo: f64, hi: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > lo && value <= hi {
        Ok(())
    } else {
        Err(ConfigError::out_of_range(
            key,
            show(value),
            &format!("({}, {}]", show(lo), show(hi)),
        ))
    }
}

/// A number as a person reads it: plain digits for ordinary magnitudes, `1e20` for huge or tiny ones.
pub fn show(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude != 0.0 && magnitude.is_finite() && !(1e-4..1e7).contains(&magnitude) {
        format!("{value:e}")
    } else {
        format!("{value}")
    }
}

/// An integer `value` must lie in lo..=hi.
pub fn count(key: &str, value: u32, lo: u32, hi: u32) -> Result<(), ConfigError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::out_of_range(key, value, &format!("{lo}..={hi}")))
    }
}

/// A duration that may be zero: [0, [`MAX_DURATION_NS`]].
pub fn duration_ns(key: &str, value: f64) -> Result<(), ConfigError> {
    within(key, value, 0.0, MAX_DURATION_NS)
}

/// A duration that must be positive: (0, [`MAX_DURATION_NS`]].
pub fn positive_duration_ns(key: &str, value: f64) -> Result<(), ConfigError> {
    above_up_to(key, value, 0.0, MAX_DURATION_NS)
}

/// A per-operation energy: [0, [`MAX_ENERGY_PJ`]].
pub fn energy_pj(key: &str, value: f64) -> Result<(), ConfigError> {
    within(key, value, 0.0, MAX_ENERGY_PJ)
}

/// A static power: [0, [`MAX_POWER_MW`]].
pub fn power_mw(key: &str, value: f64) -> Result<(), ConfigError> {
    within(key, value, 0.0, MAX_POWER_MW)
}

/// An upper bound on the cycles one array takes to program: every row on its own (no row parallelism),
/// each with its setup, an open-loop write and `max_iterations` verify iterations that each read every
/// column (settle plus one conversion per column an ADC serves) and pulse every column (one SET and one
/// RESET slot per column a driver serves). Computed in `f64` so that it cannot itself overflow.
pub fn worst_case_array_cycles(hw: &HwConfig) -> f64 {
    let cycles = |ns: f64| (ns * hw.controller.clock_mhz / 1e3).ceil();
    let cols = f64::from(hw.array.cols);
    let conversions = (cols / f64::from(hw.adc.adcs_per_array.max(1))).ceil();
    let slots = (cols / f64::from(hw.program.write_drivers_per_array.max(1))).ceil();
    let slot = cycles(hw.dac.conversion_ns + hw.program.scheme.width_ns());
    // SET and RESET pulses take separate slots.
    let pulses = 2.0 * slots * slot;
    let iteration = cycles(hw.program.read_settle_ns) + conversions * cycles(hw.adc.conversion_ns) + pulses;
    f64::from(hw.array.rows)
        * (cycles(hw.program.row_setup_ns) + pulses + f64::from(hw.program.max_iterations) * iteration)
}

/// The run-length check: [`worst_case_array_cycles`] must be at most [`MAX_ARRAY_CYCLES`].
pub fn array_time_fits(hw: &HwConfig) -> Result<(), ConfigError> {
    let worst = worst_case_array_cycles(hw);
    if worst <= MAX_ARRAY_CYCLES {
        return Ok(());
    }
    Err(ConfigError::at(
        "program",
        format!(
            "the worst-case programming time of one array is {worst:.3e} cycles (array.rows x \
             program.max_iterations x the longest verify iteration at controller.clock_mhz), above the \
             {MAX_ARRAY_CYCLES:.3e} cycles a run can count for {MAX_ARRAYS} arrays; shorten the durations, \
             lower program.max_iterations or use smaller arrays"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_arrays_at_the_max_array_time_fit_in_the_cycle_counter() {
        let total = MAX_ARRAY_CYCLES * f64::from(MAX_ARRAYS);
        assert!(total <= (1u64 << 63) as f64);
    }

    #[test]
    fn every_preset_is_far_below_the_array_time_bound() {
        for name in crate::config::preset_names() {
            let hw = crate::config::load(name, &[]).unwrap();
            let worst = worst_case_array_cycles(&hw);
            assert!(
                worst > 0.0 && worst < MAX_ARRAY_CYCLES / 100.0,
                "{name}: {worst:e}"
            );
        }
    }

    #[test]
    fn durations_energies_and_powers_have_upper_bounds() {
        assert!(duration_ns("k", MAX_DURATION_NS).is_ok());
        assert!(duration_ns("k", 1e16).is_err());
        assert!(positive_duration_ns("k", 0.0).is_err());
        assert!(energy_pj("k", 1e308).is_err());
        assert!(power_mw("k", f64::INFINITY).is_err());
        let e = duration_ns("program.read_settle_ns", 1e20).unwrap_err();
        assert!(
            e.to_string()
                .contains("program.read_settle_ns: 1e20 is out of range; allowed: [0, 1e9]"),
            "{e}"
        );
    }
}
