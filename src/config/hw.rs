//! The top-level hardware configuration and its peripheral sections (array, mapping, program, DAC, ADC,
//! controller). Device, variation and pulse-scheme sections live in their own files.

use super::ConfigError;
use super::check;
use super::device::DeviceConfig;
use super::pulse::PulseSchemeConfig;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A complete hardware configuration: the object tree that one `hw_configs/*.toml` file describes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HwConfig {
    /// A short human-readable name shown in reports.
    #[serde(default)]
    pub name: String,
    /// Crossbar array geometry.
    pub array: ArrayConfig,
    /// The memory device, its physics and its variation.
    pub device: DeviceConfig,
    /// How weights become device conductances.
    pub mapping: MappingConfig,
    /// The write-verify programming procedure.
    pub program: ProgramConfig,
    /// The DAC that drives word lines and write pulses.
    pub dac: DacConfig,
    /// The ADC that digitises verify reads.
    pub adc: AdcConfig,
    /// The programming controller.
    pub controller: ControllerConfig,
}

impl HwConfig {
    /// Checks every range and every cross-section constraint.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.array.validate()?;
        self.device.validate()?;
        self.mapping.validate()?;
        self.program.validate(&self.device)?;
        self.dac.validate()?;
        self.adc.validate(&self.array)?;
        self.controller.validate()?;
        if self.program.write_drivers_per_array > self.array.cols {
            return Err(ConfigError::out_of_range(
                "program.write_drivers_per_array",
                self.program.write_drivers_per_array,
                &format!("1..={} (array.cols)", self.array.cols),
            ));
        }
        if self.program.rows_in_parallel > self.array.rows {
            return Err(ConfigError::out_of_range(
                "program.rows_in_parallel",
                self.program.rows_in_parallel,
                &format!("1..={} (array.rows)", self.array.rows),
            ));
        }
        check::array_time_fits(self)
    }

    /// The conductance range R = g_max - g_min, in microsiemens.
    pub fn range_us(&self) -> f64 {
        self.device.g_max_us - self.device.g_min_us
    }
}

/// Crossbar array geometry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrayConfig {
    /// Word lines (rows) per array, 1..=65536.
    pub rows: u32,
    /// Bit lines (columns) per array, 1..=65536.
    pub cols: u32,
    /// Arrays on the chip: a number, or `"auto"` for as many as the network needs.
    #[serde(default)]
    pub count: ArrayCount,
}

impl ArrayConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check::count("array.rows", self.rows, 1, 65_536)?;
        check::count("array.cols", self.cols, 1, 65_536)?;
        if let ArrayCount::Fixed(n) = self.count {
            check::count("array.count", n, 1, check::MAX_ARRAYS)?;
        }
        Ok(())
    }
}

/// How many arrays the chip has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArrayCount {
    /// As many as the mapped network needs.
    #[default]
    Auto,
    /// Exactly this many; a network that needs more is an error.
    Fixed(u32),
}

impl Serialize for ArrayCount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ArrayCount::Auto => s.serialize_str("auto"),
            ArrayCount::Fixed(n) => s.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for ArrayCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ArrayCount;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a positive integer or \"auto\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ArrayCount, E> {
                u32::try_from(v)
                    .ok()
                    .filter(|&n| n > 0)
                    .map(ArrayCount::Fixed)
                    .ok_or_else(|| {
                        E::custom(format!(
                            "{v} is out of range; allowed: 1..={} or \"auto\"",
                            u32::MAX
                        ))
                    })
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ArrayCount, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(-1))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ArrayCount, E> {
                if v == "auto" {
                    Ok(ArrayCount::Auto)
                } else {
                    Err(E::custom(format!(
                        "`{v}` is not allowed; expected a positive integer or \"auto\""
                    )))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// How signed weights map onto devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedMapping {
    /// Positive magnitudes on G+ devices, negative on G- devices; the unused device stays at g_min.
    Differential,
    /// One signed value per weight with device errors summed at significance 2^(-k*bits_per_cell),
    /// exactly as the U-SWIM authors' code.
    Paper,
}

/// How weights become device conductances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// Bits per weight magnitude after per-layer quantisation over max|W|, 1..=16.
    pub weight_bits: u32,
    /// Signed mapping: `"differential"` or `"paper"`.
    pub signed: SignedMapping,
}

impl MappingConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check::count("mapping.weight_bits", self.weight_bits, 1, 16)
    }
}

/// The write-verify programming procedure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramConfig {
    /// The pulse scheme (`[program.scheme] kind = "fixed" | "ispp" | "adaptive" | "open_loop"`).
    pub scheme: PulseSchemeConfig,
    /// Acceptance band half-width, as a fraction of the conductance range, in (0, 0.5].
    pub tolerance: f64,
    /// Acceptance band half-width of the weights a mask puts in the `loose` tolerance class
    /// ([`crate::sim::WvClass::Loose`]), as a fraction of the range, in [tolerance, 0.5] (and at most one
    /// level step for multi-level cells); absent: twice `tolerance`, capped at that maximum
    /// ([`ProgramConfig::loose_tolerance`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loose_tolerance: Option<f64>,
    /// Verify iterations after which a device is left as failed, 1..=100000.
    pub max_iterations: u32,
    /// Write drivers per array: devices of a row that receive a pulse in the same slot.
    pub write_drivers_per_array: u32,
    /// Rows programmed at the same time in one array.
    #[serde(default = "one")]
    pub rows_in_parallel: u32,
    /// Row setup (word-line select and DAC settle) before a row is written, in ns.
    pub row_setup_ns: f64,
    /// Read settle time of a verify read before the ADC converts, in ns.
    pub read_settle_ns: f64,
    /// Verify read voltage, in V.
    pub read_voltage_v: f64,
    /// Duration the read voltage is applied to each read device, in ns (for read energy).
    pub read_pulse_ns: f64,
    /// Write-driver overhead energy per pulse, in pJ.
    pub driver_energy_pj: f64,
    /// Energy of one row setup (word-line select and gate charge), in pJ.
    #[serde(default)]
    pub row_setup_energy_pj: f64,
    /// Which columns each write driver serves (`"adjacent"` or `"interleaved"`).
    #[serde(default)]
    pub driver_columns: ColumnBinding,
    /// The unverified write (`[program.open_loop] kind = "one_shot" | "ramp"`): what a device that is not
    /// write-verified gets, and the first write of one that is.
    #[serde(default)]
    pub open_loop: OpenLoopConfig,
    /// Area of one write driver, in um^2 (0: not modelled). See [`super::area`].
    #[serde(default)]
    pub driver_area_um2: f64,
    /// Leakage of one write driver while its array programs, in uW (0: not modelled).
    #[serde(default)]
    pub driver_leakage_uw: f64,
}

/// How columns bind to a shared peripheral (ADCs through their multiplexer, write drivers): with n
/// peripherals per array of C columns, each serves ceil(C / n) columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnBinding {
    /// Peripheral k serves columns k m .. (k + 1) m - 1 (m = ceil(C / n)): neighbouring columns share.
    #[default]
    Adjacent,
    /// Peripheral k serves columns k, k + n, k + 2n, ...: neighbouring columns on different peripherals.
    Interleaved,
}

impl ColumnBinding {
    /// The peripheral (0..per_array) that serves column `col` of an array of `cols` columns.
    #[inline]
    pub fn unit(self, col: u32, cols: u32, per_array: u32) -> u32 {
        match self {
            ColumnBinding::Adjacent => col / cols.div_ceil(per_array),
            ColumnBinding::Interleaved => col % per_array,
        }
    }
}

/// The unverified (open-loop) write, chosen by `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OpenLoopConfig {
    /// What chips do without verify: a RESET, then one SET pulse whose amplitude is set per target level
    /// from the nominal device (the gate-controlled compliance SET of a 1T1R cell): 2 pulse slots per
    /// device, 1 for level 0. Its error comes from the device's d2d and c2c variation. The default.
    OneShot {},
    /// The nominal pulse count of the target level from RESET, with the scheme's amplitudes (NeuroSim
    /// V2.1's open-loop model: ceil(|dG| / dG_min) pulses for the `open_loop` scheme).
    Ramp {},
}

impl Default for OpenLoopConfig {
    fn default() -> Self {
        OpenLoopConfig::OneShot {}
    }
}

fn one() -> u32 {
    1
}

impl ProgramConfig {
    /// The largest acceptance half-width `device` allows, as a fraction of the range: 0.5, and one level
    /// step for multi-level cells.
    fn max_tolerance(device: &DeviceConfig) -> f64 {
        if device.bits_per_cell > 1 {
            1.0 / f64::from((1u32 << device.bits_per_cell) - 1)
        } else {
            0.5
        }
    }

    /// The loose class's acceptance half-width, as a fraction of the range: `loose_tolerance`, or twice
    /// `tolerance` capped at the largest `device` allows.
    pub fn loose_tolerance(&self, device: &DeviceConfig) -> f64 {
        self.loose_tolerance.unwrap_or_else(|| {
            (2.0 * self.tolerance)
                .min(Self::max_tolerance(device))
                .max(self.tolerance)
        })
    }

    fn validate(&self, device: &DeviceConfig) -> Result<(), ConfigError> {
        self.scheme.validate()?;
        check::above_up_to("program.tolerance", self.tolerance, 0.0, 0.5)?;
        check::count("program.max_iterations", self.max_iterations, 1, 100_000)?;
        check::count(
            "program.write_drivers_per_array",
            self.write_drivers_per_array,
            1,
            65_536,
        )?;
        check::count("program.rows_in_parallel", self.rows_in_parallel, 1, 65_536)?;
        check::duration_ns("program.row_setup_ns", self.row_setup_ns)?;
        check::duration_ns("program.read_settle_ns", self.read_settle_ns)?;
        check::within("program.read_voltage_v", self.read_voltage_v, 0.0, 5.0)?;
        check::duration_ns("program.read_pulse_ns", self.read_pulse_ns)?;
        check::energy_pj("program.driver_energy_pj", self.driver_energy_pj)?;
        check::energy_pj("program.row_setup_energy_pj", self.row_setup_energy_pj)?;
        super::area::check_area_um2("program.driver_area_um2", self.driver_area_um2)?;
        super::area::check_leakage_uw("program.driver_leakage_uw", self.driver_leakage_uw)?;
        let step = 1.0 / f64::from((1u32 << device.bits_per_cell) - 1);
        if let Some(loose) = self.loose_tolerance {
            let max = Self::max_tolerance(device);
            if !(loose >= self.tolerance && loose <= max) {
                return Err(ConfigError::out_of_range(
                    "program.loose_tolerance",
                    loose,
                    &format!("[{} (program.tolerance), {max:.4}]", self.tolerance),
                ));
            }
        }
        if device.bits_per_cell > 1 && self.tolerance > step {
            return Err(ConfigError::out_of_range(
                "program.tolerance",
                self.tolerance,
                &format!(
                    "(0, {step:.4}] (one level step at device.bits_per_cell = {})",
                    device.bits_per_cell
                ),
            ));
        }
        Ok(())
    }
}

/// The DAC that drives rows and write pulses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DacConfig {
    /// Resolution in bits, 1..=16.
    pub bits: u32,
    /// Settling time of one conversion, in ns.
    pub conversion_ns: f64,
    /// Energy of one conversion at `ref_bits`, in pJ; scaled to `bits` with the unit elements, 2^b - 1
    /// ([`DacConfig::conversion_energy_pj`], [`super::area`]).
    pub energy_pj: f64,
    /// Area of one DAC at `ref_bits`, in um^2 (0: not modelled); scaled to `bits` by [`super::area`].
    #[serde(default)]
    pub area_um2: f64,
    /// Leakage of one DAC at `ref_bits` while its array programs, in uW (0: not modelled).
    #[serde(default)]
    pub leakage_uw: f64,
    /// The resolution at which `energy_pj`, `area_um2` and `leakage_uw` are given, 1..=16 (default 8).
    #[serde(default = "eight")]
    pub ref_bits: u32,
}

impl DacConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check::count("dac.bits", self.bits, 1, 16)?;
        check::duration_ns("dac.conversion_ns", self.conversion_ns)?;
        check::energy_pj("dac.energy_pj", self.energy_pj)?;
        super::area::check_area_um2("dac.area_um2", self.area_um2)?;
        super::area::check_leakage_uw("dac.leakage_uw", self.leakage_uw)?;
        check::count("dac.ref_bits", self.ref_bits, 1, 16)?;
        scaled_energy_fits(
            "dac",
            self.energy_pj,
            self.conversion_energy_pj(),
            self.bits,
            self.ref_bits,
        )
    }

    /// Energy of one conversion at `bits`, in pJ: `energy_pj` (given at `ref_bits`) times
    /// (2^bits - 1) / (2^ref_bits - 1), the DAC's unit elements ([`super::area::dac_scale`]).
    pub fn conversion_energy_pj(&self) -> f64 {
        self.energy_pj * super::area::dac_scale(self.bits, self.ref_bits)
    }
}

/// `scaled_pj`, the energy per conversion of section `section`'s `energy_pj` scaled from `ref_bits` to
/// `bits`, must be at most [`check::MAX_ENERGY_PJ`] like every per-operation energy.
fn scaled_energy_fits(
    section: &str,
    energy_pj: f64,
    scaled_pj: f64,
    bits: u32,
    ref_bits: u32,
) -> Result<(), ConfigError> {
    if scaled_pj <= check::MAX_ENERGY_PJ {
        return Ok(());
    }
    Err(ConfigError::out_of_range(
        &format!("{section}.energy_pj"),
        energy_pj,
        &format!(
            "[0, {:e}] once scaled from {section}.ref_bits = {ref_bits} to {section}.bits = {bits} \
             ({scaled_pj:e} pJ per conversion; at most {:e})",
            check::MAX_ENERGY_PJ * energy_pj / scaled_pj,
            check::MAX_ENERGY_PJ
        ),
    ))
}

fn eight() -> u32 {
    8
}

/// The ADC that digitises verify reads; columns share an ADC through a multiplexer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdcConfig {
    /// Resolution in bits over the conductance range, 1..=16.
    pub bits: u32,
    /// Time of one conversion, in ns.
    pub conversion_ns: f64,
    /// Energy of one conversion at `ref_bits`, in pJ; scaled to `bits` by Walden's figure of merit,
    /// 2^(bits - ref_bits) ([`AdcConfig::conversion_energy_pj`], [`super::area`]).
    pub energy_pj: f64,
    /// ADCs per array, 1..=array.cols (columns per ADC = ceil(cols / adcs_per_array)).
    pub adcs_per_array: u32,
    /// Which columns share an ADC through its multiplexer (`"adjacent"` or `"interleaved"`).
    #[serde(default)]
    pub columns: ColumnBinding,
    /// Area of one ADC at `ref_bits`, in um^2 (0: not modelled); scaled to `bits` by [`super::area`].
    #[serde(default)]
    pub area_um2: f64,
    /// Leakage of one ADC at `ref_bits` while its array programs, in uW (0: not modelled).
    #[serde(default)]
    pub leakage_uw: f64,
    /// The resolution at which `energy_pj`, `area_um2` and `leakage_uw` are given, 1..=16 (default 8).
    #[serde(default = "eight")]
    pub ref_bits: u32,
}

impl AdcConfig {
    /// Energy of one conversion at `bits`, in pJ: `energy_pj` (given at `ref_bits`) times
    /// 2^(bits - ref_bits), Walden's E = FoM 2^ENOB at a fixed figure of merit
    /// ([`super::area::adc_energy_scale`]).
    pub fn conversion_energy_pj(&self) -> f64 {
        self.energy_pj * super::area::adc_energy_scale(self.bits, self.ref_bits)
    }

    fn validate(&self, array: &ArrayConfig) -> Result<(), ConfigError> {
        check::count("adc.bits", self.bits, 1, 16)?;
        check::positive_duration_ns("adc.conversion_ns", self.conversion_ns)?;
        check::energy_pj("adc.energy_pj", self.energy_pj)?;
        check::count("adc.adcs_per_array", self.adcs_per_array, 1, array.cols)?;
        super::area::check_area_um2("adc.area_um2", self.area_um2)?;
        super::area::check_leakage_uw("adc.leakage_uw", self.leakage_uw)?;
        check::count("adc.ref_bits", self.ref_bits, 1, 16)?;
        scaled_energy_fits(
            "adc",
            self.energy_pj,
            self.conversion_energy_pj(),
            self.bits,
            self.ref_bits,
        )
    }
}

/// The programming controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerConfig {
    /// Clock frequency, in MHz; every duration is rounded up to whole cycles of it.
    pub clock_mhz: f64,
    /// Static power of the controller and peripherals while programming, in mW.
    pub static_power_mw: f64,
    /// Arrays programmed at the same time (programming channels), >= 1.
    pub parallel_arrays: u32,
}

impl ControllerConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check::within("controller.clock_mhz", self.clock_mhz, 1e-3, 1e5)?;
        check::power_mw("controller.static_power_mw", self.static_power_mw)?;
        check::count("controller.parallel_arrays", self.parallel_arrays, 1, 1 << 20)
    }

    /// The clock period, in ns.
    pub fn period_ns(&self) -> f64 {
        1e3 / self.clock_mhz
    }
}
