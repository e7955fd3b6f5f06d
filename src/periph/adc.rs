//! The ADC that digitises verify reads.

use crate::config::{AdcConfig, DeviceConfig};

/// 1.5 * 2^23: adding and subtracting it rounds an f32 of magnitude below 2^22 to the nearest integer.
const ROUNDING_MAGIC: f32 = 12_582_912.0;

/// Rounds `x` to the nearest integer (ties to even; exact for |x| < 2^22) with two additions: no libm
/// call and no integer conversion (x86-64 without SSE4.1 has no single rounding instruction).
#[inline(always)]
fn round_code(x: f32) -> f32 {
    (x + ROUNDING_MAGIC) - ROUNDING_MAGIC
}

/// A uniform ADC over the device window [g_min, g_max]: 2^bits codes, code k reads
/// g_min + k * step with step = R / (2^bits - 1), so both window edges are codes.
///
/// Codes are carried as integral `f32` values. [`Adc::code`] is the unsaturated code (an ADC with
/// headroom: what the statistical device's verify uses), [`Adc::saturate`] clamps it to 0..=2^bits - 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adc {
    g_min_us: f32,
    step_us: f32,
    inv_step: f32,
    max_code: f32,
    bits: u32,
    conversion_ns: f64,
    energy_pj: f64,
    adcs_per_array: u32,
}

impl Adc {
    /// The ADC of a (validated) `[adc]` section over the window of `device`.
    pub fn new(config: &AdcConfig, device: &DeviceConfig) -> Self {
        let codes = (1u64 << config.bits) as f64;
        let step = device.range_us() / (codes - 1.0);
        Self {
            g_min_us: device.g_min_us as f32,
            step_us: step as f32,
            inv_step: (1.0 / step) as f32,
            max_code: (codes - 1.0) as f32,
            bits: config.bits,
            conversion_ns: config.conversion_ns,
            energy_pj: config.conversion_energy_pj(),
            adcs_per_array: config.adcs_per_array,
        }
    }

    /// The nearest code of a conductance, not saturated (may be negative or above the top code; exact
    /// while within 2^22 codes of g_min).
    #[inline(always)]
    pub fn code(&self, g_us: f32) -> f32 {
        round_code((g_us - self.g_min_us) * self.inv_step)
    }

    /// A code clamped to the converter's range 0..=2^bits - 1.
    #[inline(always)]
    pub fn saturate(&self, code: f32) -> f32 {
        // Compare-and-select (one maxss, one minss): `f32::clamp` would add NaN handling and a bounds assert.
        let c = if code > 0.0 { code } else { 0.0 };
        if c < self.max_code { c } else { self.max_code }
    }

    /// The conductance a code stands for, in uS.
    #[inline(always)]
    pub fn value(&self, code: f32) -> f32 {
        self.g_min_us + code * self.step_us
    }

    /// The reading of a conductance: the nearest code, clamped to the window (a saturating converter).
    #[inline]
    pub fn quantize(&self, g_us: f32) -> f32 {
        self.value(self.saturate(self.code(g_us)))
    }

    /// The reading with the same step but no saturation: an ADC with headroom beyond the window. Used only
    /// by the statistical device, whose conductance is an unbounded abstraction (see `device::statistical`).
    #[inline]
    pub fn quantize_unclamped(&self, g_us: f32) -> f32 {
        self.value(self.code(g_us))
    }

    /// The acceptance band in codes: (lo, hi) such that an unsaturated code c satisfies lo <= c <= hi
    /// exactly when its reading (saturated if `saturating`) r satisfies |target - r| <= tolerance, with
    /// the same f32 arithmetic as [`Adc::quantize`]. An empty band gives lo > hi. Lets the verify loop test
    /// a read with two comparisons on the code instead of a dependent chain of float operations.
    pub fn band_codes(&self, target_us: f32, tolerance_us: f32, saturating: bool) -> (f32, f32) {
        let accepts = |k: f32| (target_us - self.value(k)).abs() <= tolerance_us;
        let (floor, ceil) = if saturating {
            (0.0, self.max_code)
        } else {
            (f32::NEG_INFINITY, f32::INFINITY)
        };
        // Start from the rounded edges and move by single codes until the exact test agrees (one or two
        // steps: the estimate is off only by rounding).
        let mut lo =
            round_code((target_us - tolerance_us - self.g_min_us) * self.inv_step).clamp(floor, ceil);
        let mut hi =
            round_code((target_us + tolerance_us - self.g_min_us) * self.inv_step).clamp(floor, ceil);
        if accepts(lo) {
            while lo > floor && accepts(lo - 1.0) {
                lo -= 1.0;
            }
        } else {
            while lo <= hi && !accepts(lo) {
                lo += 1.0;
            }
        }
        if accepts(hi) {
            while hi < ceil && accepts(hi + 1.0) {
                hi += 1.0;
            }
        } else {
            while hi >= lo && !accepts(hi) {
                hi -= 1.0;
            }
        }
        if lo > hi {
            return (f32::INFINITY, f32::NEG_INFINITY);
        }
        if saturating {
            // Saturated codes read as the edge codes: open the band where it reaches an edge.
            if lo == 0.0 {
                lo = f32::NEG_INFINITY;
            }
            if hi == self.max_code {
                hi = f32::INFINITY;
            }
        }
        (lo, hi)
    }

    /// One code step, in uS.
    pub fn step_us(&self) -> f32 {
        self.step_us
    }

    /// Resolution, in bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Time of one conversion, in ns.
    pub fn conversion_ns(&self) -> f64 {
        self.conversion_ns
    }

    /// Energy of one conversion at its resolution, in pJ (the config's `energy_pj` scaled from `ref_bits`:
    /// [`crate::config::AdcConfig::conversion_energy_pj`]).
    pub fn energy_pj(&self) -> f64 {
        self.energy_pj
    }

    /// ADCs per array (columns share an ADC through a multiplexer).
    pub fn adcs_per_array(&self) -> u32 {
        self.adcs_per_array
    }

    /// Conversion rounds needed to read `devices` devices of a row: ceil(devices / adcs_per_array).
    pub fn rounds(&self, devices: u32) -> u32 {
        devices.div_ceil(self.adcs_per_array)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    #[test]
    fn quantize_rounds_to_the_nearest_code_and_clamps() {
        let hw = config::load("rram_1t1r_256", &[]).unwrap();
        let adc = Adc::new(&hw.adc, &hw.device);
        let step = 48.0 / 255.0;
        assert!((adc.step_us() - step).abs() < 1e-6);
        assert_eq!(adc.quantize(2.0), 2.0);
        assert_eq!(adc.quantize(-5.0), 2.0);
        assert_eq!(adc.quantize(80.0), 50.0);
        for k in [0u32, 1, 17, 128, 254, 255] {
            let code = 2.0 + k as f32 * step;
            assert!((adc.quantize(code + 0.4 * step) - code).abs() < 1e-4);
            assert!((adc.quantize(code - 0.4 * step) - code).abs() < 1e-4);
        }
        assert!((adc.quantize_unclamped(2.0 - 3.3 * step) - (2.0 - 3.0 * step)).abs() < 1e-4);
        assert!((adc.quantize_unclamped(50.0 + 2.6 * step) - (50.0 + 3.0 * step)).abs() < 1e-4);
        assert_eq!(adc.rounds(65), 3);
    }

    #[test]
    fn band_codes_agree_with_quantize_then_compare() {
        let hw = config::load("rram_1t1r_256", &[]).unwrap();
        let adc = Adc::new(&hw.adc, &hw.device);
        for (target, tol) in [
            (2.0f32, 1.44f32),
            (18.0, 1.44),
            (50.0, 1.44),
            (26.3, 0.05),
            (26.3, 0.0),
            (49.9, 0.5),
        ] {
            for saturating in [true, false] {
                let (lo, hi) = adc.band_codes(target, tol, saturating);
                for i in -2000..2000 {
                    let g = 2.0 + 0.0311 * i as f32;
                    let read = if saturating {
                        adc.quantize(g)
                    } else {
                        adc.quantize_unclamped(g)
                    };
                    let want = (target - read).abs() <= tol;
                    let c = adc.code(g);
                    assert_eq!(
                        lo <= c && c <= hi,
                        want,
                        "target {target} tol {tol} g {g} sat {saturating}"
                    );
                }
            }
        }
    }
}
