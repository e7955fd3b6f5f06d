//! Expected write-verify cost of a device, for cost-aware selection (the `uswim-cost` score).
//!
//! Expected verify reads E(r):
//! - **statistical** device, in closed form (read noise and ADC rounding ignored): the first read sees
//!   the open-loop error N(0, sigma), accepted with p0 = erf(tol / (sigma sqrt 2)); each re-program draws
//!   N(0, sigma retry_ratio), accepted with p1 = erf(tol / (sigma retry_ratio sqrt 2)); at most
//!   max_iterations reads: E(r) = 1 + (1 - p0) (1 - (1 - p1)^(M - 1)) / p1.
//! - **pulse-level** device: measured per level with the device report (`device::report`: devices made,
//!   written open-loop and verified exactly as the programmer does), so it reflects the level but not the
//!   individual device's sigma.
//! - `open_loop` scheme: no verify, cost 0.
//!
//! A device's cost in ns is the time it occupies on its array's shared converters and drivers:
//! E(r) reads of adc.conversion_ns / adcs_per_array and E(r) - 1 pulses of slot / write_drivers_per_array
//! (slot = dac.conversion_ns + pulse width). These shares add over the devices of a row; the row's own
//! overheads (read settle, rounding up to whole conversions and slots, the slowest device) are not
//! attributed to any weight.

use crate::config::{DeviceModelConfig, HwConfig};
use crate::device::report;

/// Devices simulated per level to measure a pulse-level device's expected reads.
const TRIALS_PER_LEVEL: u32 = 4096;

/// How expected reads are obtained.
#[derive(Debug, Clone, PartialEq)]
enum Reads {
    /// The statistical device's closed form.
    Statistical {
        tolerance: f64,
        retry_ratio: f64,
        max_iterations: u32,
    },
    /// Measured mean reads per level.
    PerLevel(Vec<f64>),
    /// No verify.
    None,
}

/// The expected write-verify cost of devices on a chip.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyCost {
    reads: Reads,
    read_share_ns: f64,
    pulse_share_ns: f64,
}

impl VerifyCost {
    /// The cost model of `hw`; for the pulse-level device this simulates 4096 devices per level from
    /// `seed` (a fraction of a second).
    pub fn new(hw: &HwConfig, seed: u64) -> Self {
        let reads = if !hw.program.scheme.verifies() {
            Reads::None
        } else {
            match &hw.device.model {
                DeviceModelConfig::Statistical(c) => Reads::Statistical {
                    tolerance: hw.program.tolerance,
                    retry_ratio: c.retry_ratio,
                    max_iterations: hw.program.max_iterations,
                },
                DeviceModelConfig::Pulse(_) => {
                    let levels: Vec<u32> = (0..hw.device.levels()).collect();
                    Reads::PerLevel(
                        report::run(hw, &levels, TRIALS_PER_LEVEL, seed)
                            .iter()
                            .map(|r| r.reads.mean())
                            .collect(),
                    )
                }
            }
        };
        Self {
            reads,
            read_share_ns: hw.adc.conversion_ns / f64::from(hw.adc.adcs_per_array),
            pulse_share_ns: (hw.dac.conversion_ns + hw.program.scheme.width_ns())
                / f64::from(hw.program.write_drivers_per_array),
        }
    }

    /// Expected verify reads of a device of open-loop sigma `sigma` storing `level`.
    pub fn expected_reads(&self, sigma: f32, level: u16) -> f64 {
        match &self.reads {
            Reads::None => 0.0,
            Reads::PerLevel(mean) => mean[usize::from(level)],
            Reads::Statistical {
                tolerance,
                retry_ratio,
                max_iterations,
            } => {
                let accept = |s: f64| {
                    if s <= 0.0 {
                        1.0
                    } else {
                        erf(tolerance / (s * std::f64::consts::SQRT_2))
                    }
                };
                let sigma = f64::from(sigma);
                let p0 = accept(sigma);
                let p1 = accept(sigma * retry_ratio);
                let retries = max_iterations - 1;
                let more = if retries == 0 || p1 >= 1.0 {
                    f64::from(retries.min(1))
                } else {
                    (1.0 - (1.0 - p1).powi(retries as i32)) / p1
                };
                1.0 + (1.0 - p0) * more
            }
        }
    }

    /// Expected cost of verifying a device, in ns (see the module docs).
    pub fn device_ns(&self, sigma: f32, level: u16) -> f64 {
        let r = self.expected_reads(sigma, level);
        if r == 0.0 {
            return 0.0;
        }
        r * self.read_share_ns + (r - 1.0) * self.pulse_share_ns
    }
}

/// The error function, to a relative error below 1.2e-7 (Numerical Recipes' Chebyshev fit of erfc).
fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 { 1.0 - erfc } else { erfc - 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    #[test]
    fn erf_matches_reference_values() {
        for (x, want) in [
            (0.0, 0.0),
            (0.141_421_356, 0.158_519_418_878),
            (0.5, 0.520_499_877_813),
            (1.0, 0.842_700_792_950),
            (2.0, 0.995_322_265_019),
            (-1.0, -0.842_700_792_950),
        ] {
            assert!((erf(x) - want).abs() < 2e-7, "erf({x}) = {}", erf(x));
        }
    }

    #[test]
    fn statistical_expected_reads_follow_the_capped_geometric_law() {
        let mut hw = config::load("paper_statistical", &[]).unwrap();
        let cost = VerifyCost::new(&hw, 0);
        // p = erf(0.06 / (0.3 sqrt 2)) = 0.158519 for the first read and every retry, 100 reads at most.
        let p: f64 = 0.158_519_4;
        let want = (1.0 - (1.0 - p).powi(100)) / p;
        assert!((cost.expected_reads(0.3, 1) - want).abs() < 1e-5);
        assert_eq!(cost.expected_reads(0.0, 0), 1.0);
        // One read, one pulse share per extra read: 10 ns / 16 ADCs, (5 + 100) ns / 32 drivers.
        let r = cost.expected_reads(0.3, 0);
        assert!((cost.device_ns(0.3, 0) - (r * 10.0 / 16.0 + (r - 1.0) * 105.0 / 32.0)).abs() < 1e-9);
        hw.program.max_iterations = 1;
        assert_eq!(VerifyCost::new(&hw, 0).expected_reads(0.3, 0), 1.0);
    }

    #[test]
    fn the_open_loop_scheme_costs_nothing() {
        let hw = config::load("neurosim_v21_openloop", &[]).unwrap();
        assert_eq!(VerifyCost::new(&hw, 0).device_ns(0.1, 2), 0.0);
    }
}
