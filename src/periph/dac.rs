//! The DAC that sets word-line and write-pulse amplitudes.

use crate::config::DacConfig;

/// A DAC: each conversion (a new amplitude on a line) takes `conversion_ns` and `energy_pj`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dac {
    bits: u32,
    conversion_ns: f64,
    energy_pj: f64,
}

impl Dac {
    /// The DAC of a (validated) `[dac]` section.
    pub fn new(config: &DacConfig) -> Self {
        Self {
            bits: config.bits,
            conversion_ns: config.conversion_ns,
            energy_pj: config.energy_pj,
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

    /// Energy of one conversion, in pJ.
    pub fn energy_pj(&self) -> f64 {
        self.energy_pj
    }
}
