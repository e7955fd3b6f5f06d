//! Energy of the analog events and of the write drivers.

use crate::config::ProgramConfig;

/// Energy of a pulse of `amplitude_v` volts and `width_ns` ns through a device of `g_us` uS, in pJ:
/// V^2 * G * t (1 V^2 * 1 uS * 1 ns = 1e-3 pJ).
#[inline]
pub fn pulse_energy_pj(amplitude_v: f64, g_us: f64, width_ns: f64) -> f64 {
    amplitude_v * amplitude_v * g_us * width_ns * 1e-3
}

/// Energy of a verify read at `read_v` volts for `read_ns` ns through `g_us` uS, in pJ (same law as a pulse).
#[inline]
pub fn read_energy_pj(read_v: f64, g_us: f64, read_ns: f64) -> f64 {
    pulse_energy_pj(read_v, g_us, read_ns)
}

/// The write drivers: a fixed overhead energy per pulse (driver, level shifter, bit-line switch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteDriver {
    energy_per_pulse_pj: f64,
    per_array: u32,
}

impl WriteDriver {
    /// The write drivers of a (validated) `[program]` section.
    pub fn new(config: &ProgramConfig) -> Self {
        Self {
            energy_per_pulse_pj: config.driver_energy_pj,
            per_array: config.write_drivers_per_array,
        }
    }

    /// Overhead energy of one pulse, in pJ.
    pub fn energy_per_pulse_pj(&self) -> f64 {
        self.energy_per_pulse_pj
    }

    /// Drivers per array: devices of a row that can receive a pulse in the same slot.
    pub fn per_array(&self) -> u32 {
        self.per_array
    }

    /// Pulse slots needed to give one pulse to each of `devices` devices of a row: ceil(devices / drivers).
    pub fn slots(&self, devices: u32) -> u32 {
        devices.div_ceil(self.per_array)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pulse_energy_is_v_squared_g_t_in_pj() {
        // 2 V on 50 uS for 100 ns: 4 * 50e-6 * 100e-9 J = 2e-11 J = 20 pJ.
        assert!((pulse_energy_pj(2.0, 50.0, 100.0) - 20.0).abs() < 1e-12);
        // 0.1 V read of 10 uS for 10 ns: 0.01 * 1e-5 * 1e-8 J = 1e-15 J = 1e-3 pJ.
        assert!((read_energy_pj(0.1, 10.0, 10.0) - 1e-3).abs() < 1e-15);
    }
}
