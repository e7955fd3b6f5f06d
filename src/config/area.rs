//! Area, leakage and energy per conversion of the programming peripherals (ADCs, DACs, write drivers): the
//! per-instance numbers of `[adc]`, `[dac]` and `[program]`, scaled from the resolution they are given at
//! (`ref_bits`) to the configured one, and summed per array.
//!
//! Scaling with resolution b:
//! - **ADC** (SAR) area and leakage: proportional to the transistor count of NeuroSim's SAR ADC model
//!   (DNN+NeuroSim V2.1, `SarADC.cpp`: 269 + 109 (b - 1) NMOS and 209 + 73 (b - 1) PMOS minimum
//!   transistors), i.e. 478 + 182 (b - 1): one comparator/SAR-logic slice per bit, linear in b.
//! - **ADC energy per conversion**: Walden's figure of merit held constant (R. H. Walden, "Analog-to-digital
//!   converter survey and analysis", IEEE JSAC 17 (4), 1999): E = FoM_W 2^ENOB, with the effective bits a
//!   fixed loss below b, so E(b) = E(ref_bits) 2^(b - ref_bits): doubling per bit. It is the figure of
//!   merit B. Murmann's ADC performance survey (1997-present) ranks converters of moderate resolution by;
//!   at high resolution (SNDR above ~60 dB, ~10 bits) the best designs follow the thermal-noise limit
//!   instead (Schreier's figure of merit, 4x per bit), so 2^b underestimates the energy there.
//! - **DAC** area, leakage and energy per conversion: proportional to its unit elements, 2^b - 1 (a
//!   binary-weighted or thermometer current-steering or capacitive DAC). For the energy: the charge a
//!   capacitive DAC draws from its reference grows with its total capacitance, 2^b unit capacitors (the
//!   conventional switching of a 10-bit array costs 1363 C V^2 on average, Liu et al., IEEE JSSC 45 (4),
//!   2010; Saberi et al., IEEE TCAS-I 58 (8), 2011, derive it in closed form): doubling per bit.
//! - **Write driver**: no resolution; its numbers are per instance.
//!
//! Counts per array: `adc.adcs_per_array` ADCs, and `program.write_drivers_per_array` write drivers, each
//! with its own DAC (every pulse slot sets one amplitude per driver). Peripherals leak while their array
//! programs (the arrays not being programmed are power-gated), so an array's leakage energy is its
//! leakage power times its busy time. A zero area or leakage means "not modelled" and reports 0.

use super::ConfigError;
use super::HwConfig;
use super::check;

/// Largest area accepted for one instance, in um^2 (1000 mm^2).
pub const MAX_AREA_UM2: f64 = 1e9;
/// Largest leakage accepted for one instance, in uW (1 W).
pub const MAX_LEAKAGE_UW: f64 = 1e6;

/// `value` must be a finite area in [0, [`MAX_AREA_UM2`]].
pub fn check_area_um2(key: &str, value: f64) -> Result<(), ConfigError> {
    check::within(key, value, 0.0, MAX_AREA_UM2)
}

/// `value` must be a finite leakage power in [0, [`MAX_LEAKAGE_UW`]].
pub fn check_leakage_uw(key: &str, value: f64) -> Result<(), ConfigError> {
    check::within(key, value, 0.0, MAX_LEAKAGE_UW)
}

/// Minimum transistors of NeuroSim V2.1's SAR ADC at `bits` of resolution (NMOS plus PMOS).
pub fn sar_adc_transistors(bits: u32) -> f64 {
    let extra = f64::from(bits.max(1) - 1);
    (269.0 + 109.0 * extra) + (209.0 + 73.0 * extra)
}

/// How an ADC's area and leakage scale from `ref_bits` to `bits`: the ratio of SAR transistor counts.
pub fn adc_scale(bits: u32, ref_bits: u32) -> f64 {
    sar_adc_transistors(bits) / sar_adc_transistors(ref_bits)
}

/// How an ADC's energy per conversion scales from `ref_bits` to `bits`: 2^(bits - ref_bits) (Walden's
/// figure of merit held constant).
pub fn adc_energy_scale(bits: u32, ref_bits: u32) -> f64 {
    2f64.powi(bits as i32 - ref_bits as i32)
}

/// How a DAC's area, leakage and energy per conversion scale from `ref_bits` to `bits`: the ratio of unit
/// elements, 2^b - 1.
pub fn dac_scale(bits: u32, ref_bits: u32) -> f64 {
    let units = |b: u32| ((1u64 << b) - 1) as f64;
    units(bits) / units(ref_bits)
}

/// The peripherals of one array: their area by kind and their total leakage.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PeriphCost {
    /// ADCs of one array, in um^2.
    pub adc_area_um2: f64,
    /// DACs of one array, in um^2.
    pub dac_area_um2: f64,
    /// Write drivers of one array, in um^2.
    pub driver_area_um2: f64,
    /// Leakage of all the array's peripherals while it programs, in uW.
    pub leakage_uw: f64,
    /// Energy of one ADC conversion at `adc.bits`, in pJ ([`crate::config::AdcConfig::conversion_energy_pj`]).
    pub adc_conversion_pj: f64,
    /// Energy of one DAC conversion at `dac.bits`, in pJ ([`crate::config::DacConfig::conversion_energy_pj`]).
    pub dac_conversion_pj: f64,
}

impl PeriphCost {
    /// The peripherals of one array of a (validated) configuration, and the energy of one conversion of
    /// its ADCs and DACs.
    pub fn of(hw: &HwConfig) -> Self {
        let adcs = f64::from(hw.adc.adcs_per_array);
        let drivers = f64::from(hw.program.write_drivers_per_array);
        let adc = adc_scale(hw.adc.bits, hw.adc.ref_bits);
        let dac = dac_scale(hw.dac.bits, hw.dac.ref_bits);
        Self {
            adc_area_um2: adcs * adc * hw.adc.area_um2,
            dac_area_um2: drivers * dac * hw.dac.area_um2,
            driver_area_um2: drivers * hw.program.driver_area_um2,
            leakage_uw: adcs * adc * hw.adc.leakage_uw
                + drivers * (dac * hw.dac.leakage_uw + hw.program.driver_leakage_uw),
            adc_conversion_pj: hw.adc.conversion_energy_pj(),
            dac_conversion_pj: hw.dac.conversion_energy_pj(),
        }
    }

    /// Area of one array's peripherals, in um^2.
    pub fn area_um2(&self) -> f64 {
        self.adc_area_um2 + self.dac_area_um2 + self.driver_area_um2
    }

    /// Leakage energy of one array's peripherals over `busy_ns` of programming, in pJ
    /// (1 uW for 1 ns = 1e-15 J = 1e-3 pJ).
    pub fn leakage_pj(&self, busy_ns: f64) -> f64 {
        self.leakage_uw * busy_ns * 1e-3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_one_at_the_reference_and_follow_their_laws() {
        for b in 1..=16 {
            assert_eq!(adc_scale(b, b), 1.0);
            assert_eq!(dac_scale(b, b), 1.0);
        }
        // NeuroSim's SAR ADC: 478 transistors at 1 bit, 182 more per bit: 1752 at 8 bits, 1388 at 6.
        assert_eq!(sar_adc_transistors(8), 1752.0);
        assert!((adc_scale(6, 8) - 1388.0 / 1752.0).abs() < 1e-15);
        // A DAC doubles (plus one unit) per bit: 255 units at 8 bits, 63 at 6, 1 at 1.
        assert!((dac_scale(6, 8) - 63.0 / 255.0).abs() < 1e-15);
        assert_eq!(dac_scale(8, 1), 255.0);
        // Walden: the energy per conversion doubles per bit, exactly 1 at the reference.
        assert_eq!(adc_energy_scale(8, 8), 1.0);
        assert_eq!(adc_energy_scale(10, 8), 4.0);
        assert_eq!(adc_energy_scale(4, 8), 1.0 / 16.0);
        assert_eq!(adc_energy_scale(16, 1), 32768.0);
    }

    #[test]
    fn leakage_energy_is_power_times_time() {
        let cost = PeriphCost {
            leakage_uw: 250.0,
            ..PeriphCost::default()
        };
        // 250 uW for 2 ms: 0.5 uJ = 5e5 pJ.
        assert!((cost.leakage_pj(2e6) - 5e5).abs() < 1e-6);
    }
}
