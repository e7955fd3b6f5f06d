//! What the programmer reports: phase and device events, per-array and per-layer statistics, the summary,
//! and energy by component. The simulator fills these; the sinks and writers of this module write them.

use std::ops::AddAssign;

/// The kind of a programming phase of one crossbar row (or group of rows programmed together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhaseOp {
    /// Word-line select and DAC settle before the row is written.
    RowSetup,
    /// Open-loop write of every device of the row, in slots of `write_drivers_per_array` devices.
    Write,
    /// One verify read of the devices still pending: read settle, then the ADC conversions.
    VerifyRead,
    /// Correction pulses to the devices the last verify read found out of band.
    VerifyPulse,
}

impl PhaseOp {
    /// The name written in `events.csv`.
    pub fn name(self) -> &'static str {
        match self {
            PhaseOp::RowSetup => "row_setup",
            PhaseOp::Write => "write",
            PhaseOp::VerifyRead => "verify_read",
            PhaseOp::VerifyPulse => "verify_pulse",
        }
    }
}

/// One phase of one row, as it plays on the chip's timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseEvent {
    /// Start, in controller cycles from the start of programming.
    pub cycle: u64,
    /// Start, in ns.
    pub t_ns: f64,
    /// Duration, in cycles.
    pub cycles: u64,
    /// Array id.
    pub array: u32,
    /// Programming channel the array runs on.
    pub channel: u32,
    /// Layer index.
    pub layer: u32,
    /// Row within the array (the first of the group when rows are programmed in parallel).
    pub row: u32,
    /// What the phase does.
    pub op: PhaseOp,
    /// Verify iteration, 1-based (0 for setup and the open-loop write).
    pub iteration: u32,
    /// Devices the phase works on (written, read or pulsed).
    pub devices: u32,
    /// Write pulses applied.
    pub pulses: u32,
    /// ADC conversions made.
    pub adc_conversions: u32,
    /// Dynamic energy of the phase, in pJ (pulses, reads, ADC, DAC and drivers).
    pub energy_pj: f64,
}

/// What happened to one device in a device-level event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceOp {
    /// A SET pulse.
    Set,
    /// A RESET pulse.
    Reset,
    /// A verify read.
    Read,
}

impl DeviceOp {
    /// The name written in `events.csv`.
    pub fn name(self) -> &'static str {
        match self {
            DeviceOp::Set => "set",
            DeviceOp::Reset => "reset",
            DeviceOp::Read => "read",
        }
    }
}

/// One device pulse or read (device-level traces).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PulseEvent {
    /// When, in controller cycles (the slot or conversion in which it happens).
    pub cycle: u64,
    /// When, in ns.
    pub t_ns: f64,
    /// Array id.
    pub array: u32,
    /// Layer index.
    pub layer: u32,
    /// Row within the array.
    pub row: u32,
    /// Column within the array.
    pub col: u32,
    /// SET, RESET or read.
    pub op: DeviceOp,
    /// Verify iteration, 1-based (0 for the open-loop write).
    pub iteration: u32,
    /// Conductance before, in uS.
    pub g_before_us: f32,
    /// Conductance after, in uS (equal to before for a read).
    pub g_after_us: f32,
    /// What the ADC reported, in uS (reads only; NaN for pulses).
    pub read_us: f32,
    /// The device's target, in uS.
    pub target_us: f32,
    /// Amplitude (read voltage for reads), in V.
    pub amplitude_v: f32,
    /// Width (read pulse for reads), in ns.
    pub width_ns: f32,
    /// Energy dissipated in the device, in pJ, as the device model computes it (V^2 G t, G the mean
    /// conductance during a pulse, the conductance for a read).
    pub energy_pj: f64,
}

/// Energy by component, in pJ.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Energy {
    /// Write pulses in the devices, V^2 G t at each pulse's conductance.
    pub write_pulses_pj: f64,
    /// Verify reads in the devices, V_read^2 G t_read.
    pub verify_reads_pj: f64,
    /// ADC conversions.
    pub adc_pj: f64,
    /// DAC conversions (one per pulse, setting its amplitude).
    pub dac_pj: f64,
    /// Write-driver overhead per pulse.
    pub drivers_pj: f64,
    /// Row setups (word-line select and gate charge).
    pub row_setup_pj: f64,
    /// Leakage of the array's ADCs, DACs and write drivers while it programs (see [`crate::config::area`]).
    pub leakage_pj: f64,
    /// Controller static power over the programming time. The chip's total; an array's or a layer's
    /// is its share in proportion to its busy time (see [`share_static`]), so that arrays and layers sum
    /// to the chip.
    pub static_pj: f64,
}

impl Energy {
    /// The components' names and values, in a fixed order (the order of CSV columns and JSON keys).
    pub fn components(&self) -> [(&'static str, f64); 8] {
        [
            ("write_pulses", self.write_pulses_pj),
            ("verify_reads", self.verify_reads_pj),
            ("adc", self.adc_pj),
            ("dac", self.dac_pj),
            ("drivers", self.drivers_pj),
            ("row_setup", self.row_setup_pj),
            ("leakage", self.leakage_pj),
            ("static", self.static_pj),
        ]
    }

    /// The sum of all components, in pJ.
    pub fn total_pj(&self) -> f64 {
        self.components().iter().map(|(_, v)| v).sum()
    }
}

impl AddAssign for Energy {
    fn add_assign(&mut self, o: Energy) {
        self.write_pulses_pj += o.write_pulses_pj;
        self.verify_reads_pj += o.verify_reads_pj;
        self.adc_pj += o.adc_pj;
        self.dac_pj += o.dac_pj;
        self.drivers_pj += o.drivers_pj;
        self.row_setup_pj += o.row_setup_pj;
        self.leakage_pj += o.leakage_pj;
        self.static_pj += o.static_pj;
    }
}

/// Counts shared by arrays, layers and the whole network.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Counts {
    /// Devices programmed.
    pub devices: u64,
    /// Devices selected for write-verify.
    pub selected_devices: u64,
    /// Write pulses, open-loop and correction.
    pub pulses: u64,
    /// Open-loop write pulses.
    pub open_loop_pulses: u64,
    /// Correction pulses of write-verify.
    pub verify_pulses: u64,
    /// Verify reads (one per device per iteration).
    pub verify_reads: u64,
    /// ADC conversions.
    pub adc_conversions: u64,
    /// Sum over verified devices of their iterations (reads), for the mean.
    pub iterations_sum: u64,
    /// Most iterations of any verified device.
    pub iterations_max: u32,
    /// Verified devices that did not converge within max_iterations.
    pub failed_devices: u64,
    /// Rows (or row groups) programmed.
    pub rows: u64,
    /// Rows that paid any verify.
    pub verified_rows: u64,
}

impl Counts {
    /// Names of the device work columns of `arrays.csv`, `layers.csv` and the sweep results, in the
    /// order of [`Counts::device_cells`] (the row counts are not among them).
    pub const DEVICE_COLUMNS: [&'static str; 10] = [
        "devices",
        "selected_devices",
        "pulses",
        "open_loop_pulses",
        "verify_pulses",
        "verify_reads",
        "adc_conversions",
        "iterations_mean",
        "iterations_max",
        "failed_devices",
    ];

    /// The cells of [`Counts::DEVICE_COLUMNS`], in Rust's shortest round-trip formatting.
    pub fn device_cells(&self) -> [String; 10] {
        [
            self.devices.to_string(),
            self.selected_devices.to_string(),
            self.pulses.to_string(),
            self.open_loop_pulses.to_string(),
            self.verify_pulses.to_string(),
            self.verify_reads.to_string(),
            self.adc_conversions.to_string(),
            self.iterations_mean().to_string(),
            self.iterations_max.to_string(),
            self.failed_devices.to_string(),
        ]
    }

    /// Mean iterations per verified device (0 when none was verified).
    pub fn iterations_mean(&self) -> f64 {
        if self.selected_devices == 0 {
            0.0
        } else {
            self.iterations_sum as f64 / self.selected_devices as f64
        }
    }
}

impl AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.devices += o.devices;
        self.selected_devices += o.selected_devices;
        self.pulses += o.pulses;
        self.open_loop_pulses += o.open_loop_pulses;
        self.verify_pulses += o.verify_pulses;
        self.verify_reads += o.verify_reads;
        self.adc_conversions += o.adc_conversions;
        self.iterations_sum += o.iterations_sum;
        self.iterations_max = self.iterations_max.max(o.iterations_max);
        self.failed_devices += o.failed_devices;
        self.rows += o.rows;
        self.verified_rows += o.verified_rows;
    }
}

/// One array's programming: when, how much work, and what energy.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayStats {
    /// Array id.
    pub array: u32,
    /// Layer index.
    pub layer: u32,
    /// Programming channel it ran on.
    pub channel: u32,
    /// Rows used.
    pub rows_used: u32,
    /// Columns used.
    pub cols_used: u32,
    /// Start, in cycles.
    pub start_cycle: u64,
    /// End, in cycles.
    pub end_cycle: u64,
    /// Start, in ns.
    pub start_ns: f64,
    /// End, in ns.
    pub end_ns: f64,
    /// Work done.
    pub counts: Counts,
    /// Energy by component: dynamic, its peripherals' leakage, and its share of the static energy.
    pub energy: Energy,
}

/// One layer's programming: its arrays together.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerStats {
    /// Layer index.
    pub layer: u32,
    /// Layer (tensor) name.
    pub name: String,
    /// Arrays used.
    pub arrays: u32,
    /// Weights.
    pub weights: u64,
    /// Weights selected for write-verify.
    pub selected_weights: u64,
    /// Start of its first array, in cycles.
    pub start_cycle: u64,
    /// End of its last array, in cycles.
    pub end_cycle: u64,
    /// Start, in ns.
    pub start_ns: f64,
    /// End, in ns.
    pub end_ns: f64,
    /// Sum of its arrays' busy time, in ns.
    pub array_time_ns: f64,
    /// Work done.
    pub counts: Counts,
    /// Energy by component, its arrays' summed (leakage and static shares included).
    pub energy: Energy,
}

/// The whole network's programming.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Time from the first array's start to the last array's end, in ns.
    pub total_time_ns: f64,
    /// The same, in controller cycles.
    pub total_cycles: u64,
    /// Energy by component, static included.
    pub energy: Energy,
    /// Arrays used.
    pub arrays: u32,
    /// Layers.
    pub layers: u32,
    /// Weights.
    pub weights: u64,
    /// Weights selected for write-verify.
    pub selected_weights: u64,
    /// Work done.
    pub counts: Counts,
    /// The peripherals of one array (area by kind, leakage).
    pub periph: crate::config::area::PeriphCost,
}

impl Summary {
    /// Area of the programming peripherals of every array, in um^2.
    pub fn periph_area_um2(&self) -> f64 {
        f64::from(self.arrays) * self.periph.area_um2()
    }

    /// Total energy, in pJ.
    pub fn total_energy_pj(&self) -> f64 {
        self.energy.total_pj()
    }
}

/// The name a layer goes by in every output (CSV files, timeline, plots, console): the layer's name
/// without the `.weight` of its tensor (`conv1` for the tensor `conv1.weight`), as `sensitivity.csv`
/// writes it.
pub fn layer_label(tensor: &str) -> &str {
    tensor.strip_suffix(".weight").unwrap_or(tensor)
}

/// Shares the chip's static energy `static_pj` out to `arrays` in proportion to their busy time (equally
/// when no array took any time), so that arrays, and the layers summing them, add up to the chip.
pub fn share_static(arrays: &mut [ArrayStats], static_pj: f64) {
    let busy: f64 = arrays.iter().map(|a| a.end_ns - a.start_ns).sum();
    let n = arrays.len() as f64;
    for a in arrays.iter_mut() {
        let share = if busy > 0.0 {
            (a.end_ns - a.start_ns) / busy
        } else {
            1.0 / n
        };
        a.energy.static_pj = static_pj * share;
    }
}
