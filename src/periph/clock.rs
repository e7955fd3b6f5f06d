//! The controller clock: durations rounded up to whole cycles, and the controller's static energy.

use crate::config::ControllerConfig;

/// The programming controller's clock and static power.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    clock_mhz: f64,
    static_power_mw: f64,
}

impl Clock {
    /// The clock of a (validated) controller section.
    pub fn new(config: &ControllerConfig) -> Self {
        Self {
            clock_mhz: config.clock_mhz,
            static_power_mw: config.static_power_mw,
        }
    }

    /// The clock period, in ns.
    pub fn period_ns(&self) -> f64 {
        1e3 / self.clock_mhz
    }

    /// Whole cycles needed for `ns` nanoseconds: ceil(ns / period). A duration within a relative 1e-9 of a
    /// whole number of cycles counts as exactly that number (100 ns at 200 MHz is 20 cycles, not 21 through
    /// rounding error). Zero and negative durations take zero cycles.
    pub fn cycles(&self, ns: f64) -> u64 {
        if ns.is_nan() || ns <= 0.0 {
            return 0;
        }
        // Multiplying by the frequency (not dividing by the period) keeps integer products exact.
        let exact = ns * self.clock_mhz / 1e3;
        let nearest = exact.round();
        if (exact - nearest).abs() <= 1e-9 * nearest.max(1.0) {
            nearest as u64
        } else {
            exact.ceil() as u64
        }
    }

    /// The duration of `cycles` cycles, in ns.
    pub fn ns(&self, cycles: u64) -> f64 {
        cycles as f64 * 1e3 / self.clock_mhz
    }

    /// Static power of the controller and peripherals, in mW.
    pub fn static_power_mw(&self) -> f64 {
        self.static_power_mw
    }

    /// Static energy over `ns` nanoseconds, in pJ (1 mW for 1 ns is 1 pJ).
    pub fn static_energy_pj(&self, ns: f64) -> f64 {
        self.static_power_mw * ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(mhz: f64) -> Clock {
        Clock::new(&ControllerConfig {
            clock_mhz: mhz,
            static_power_mw: 5.0,
            parallel_arrays: 1,
        })
    }

    #[test]
    fn durations_round_up_to_whole_cycles_without_float_artifacts() {
        let c = clock(200.0);
        assert_eq!(c.cycles(100.0), 20);
        assert_eq!(c.cycles(100.1), 21);
        assert_eq!(c.cycles(0.0), 0);
        assert_eq!(c.cycles(0.001), 1);
        assert_eq!(c.ns(20), 100.0);
        // 100 ns at 300 MHz is 30 cycles although 100 / (1000 / 300) = 30.000000000000004.
        assert_eq!(clock(300.0).cycles(100.0), 30);
        assert_eq!(clock(300.0).cycles(10.0), 3);
        assert_eq!(clock(300.0).cycles(10.5), 4);
        assert_eq!(clock(1000.0).cycles(9.803921568627452), 10);
        assert!((c.static_energy_pj(1000.0) - 5000.0).abs() < 1e-9);
    }
}
