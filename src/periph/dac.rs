//! The DAC that sets word-line and write-pulse amplitudes.

use crate::config::DacConfig;

/// A DAC: each conversion (a new amplitude on a line) takes `conversion_ns` and `energy_pj`, and realises
/// a requested amplitude as the nearest of its 2^bits codes over 0..=full scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dac {
    bits: u32,
    conversion_ns: f64,
    energy_pj: f64,
    /// One code step, in V.
    lsb_v: f32,
    /// Codes per volt, 1 / lsb_v.
    codes_per_v: f32,
    /// The full-scale amplitude, in V.
    full_scale_v: f32,
}

impl Dac {
    /// The DAC of a (validated) `[dac]` section whose full scale is `full_scale_v` (> 0): the largest
    /// amplitude the programmer asks for (see [`crate::pulse::PulseScheme::max_amplitude_v`]).
    pub fn new(config: &DacConfig, full_scale_v: f64) -> Self {
        let steps = ((1u64 << config.bits) - 1) as f64;
        let full_scale_v = full_scale_v.max(f64::MIN_POSITIVE);
        let lsb = full_scale_v / steps;
        Self {
            bits: config.bits,
            conversion_ns: config.conversion_ns,
            energy_pj: config.conversion_energy_pj(),
            lsb_v: lsb as f32,
            codes_per_v: (1.0 / lsb) as f32,
            full_scale_v: full_scale_v as f32,
        }
    }

    /// Resolution, in bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Settling time of one conversion, in ns.
    pub fn conversion_ns(&self) -> f64 {
        self.conversion_ns
    }

    /// Energy of one conversion at its resolution, in pJ (the config's `energy_pj` scaled from `ref_bits`:
    /// [`crate::config::DacConfig::conversion_energy_pj`]).
    pub fn energy_pj(&self) -> f64 {
        self.energy_pj
    }

    /// One code step, in V.
    pub fn lsb_v(&self) -> f32 {
        self.lsb_v
    }

    /// The amplitude the DAC puts out for a requested `amplitude_v` (>= 0): the nearest code, at most full
    /// scale. Two multiplications and a rounding: it sits in the per-pulse loop.
    #[inline(always)]
    pub fn quantize(&self, amplitude_v: f32) -> f32 {
        let v = if amplitude_v < self.full_scale_v {
            amplitude_v
        } else {
            self.full_scale_v
        };
        // 1.5 * 2^23: adding and subtracting it rounds to the nearest integer (codes < 2^16).
        const MAGIC: f32 = 12_582_912.0;
        (((v * self.codes_per_v) + MAGIC) - MAGIC) * self.lsb_v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amplitudes_round_to_the_nearest_code_and_saturate_at_full_scale() {
        let config = DacConfig {
            bits: 3,
            conversion_ns: 5.0,
            energy_pj: 0.5,
            area_um2: 0.0,
            leakage_uw: 0.0,
            ref_bits: 8,
        };
        // 7 steps over 0..=1.4 V: codes every 0.2 V.
        let dac = Dac::new(&config, 1.4);
        for (asked, want) in [
            (0.0, 0.0),
            (0.29, 0.2),
            (0.31, 0.4),
            (1.0, 1.0),
            (1.39, 1.4),
            (3.0, 1.4),
        ] {
            assert!(
                (dac.quantize(asked) - want).abs() < 1e-6,
                "{asked} -> {}",
                dac.quantize(asked)
            );
        }
        // At 16 bits the rounding error is below half a code.
        let fine = Dac::new(&DacConfig { bits: 16, ..config }, 2.0);
        for k in 0..990 {
            let v = k as f32 * 0.002_017;
            assert!((fine.quantize(v) - v).abs() <= 0.5 * fine.lsb_v() * 1.0001);
        }
    }
}
