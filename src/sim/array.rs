//! One array's device work, condensed into the script of phases its state machine plays.
//!
//! An array is programmed row group by row group (`rows_in_parallel` rows at a time, their devices
//! pooled). For each group, in row-major device order:
//! 1. every device is made (`instantiate`) and written open-loop, in chunks of `write_drivers_per_array`
//!    devices; a chunk takes (its most RESET pulses + its most SET pulses) pulse slots (all RESETs of the
//!    chunk in parallel, then all SETs, as NeuroSim V2.1 does);
//! 2. each selected device runs its write-verify loop. Verify iteration j reads the pending_j devices
//!    still unverified (read settle, then ceil(pending_j / adcs_per_array) conversions) and pulses the
//!    pulses_j = pending_(j+1) devices found out of band (ceil(pulses_j / write_drivers_per_array) slots).
//!
//! Devices are independent, so running each device's whole loop at once gives the same physics as
//! interleaving them iteration by iteration; the script records, per iteration, how many devices were read
//! and pulsed and the energy, which is all the timeline needs.
//!
//! Random streams: the open-loop writes (and device instantiation) of array a draw from
//! `stream(seed, Program, a)`, the verify loops from `substream(seed, Program, a, 1)`. The open-loop
//! result of every device is thus the same whatever the mask (common random numbers across masks).

use super::mask::Mask;
use crate::config::HwConfig;
use crate::device::{Device, DeviceEvent, DeviceState, VerifyReport, WriteVerify};
use crate::map::sigma::device_sigmas;
use crate::map::{Mapped, MappedDevice};
use crate::periph::Clock;
use crate::pulse::Polarity;
use crate::rng::{self, Purpose};
use crate::trace::{Counts, DeviceOp, Energy, TraceFilter};
use crate::variation::VariationMap;

/// Durations (in cycles) and per-operation peripheral energies of the programming steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Row setup, cycles(row_setup_ns).
    pub setup: u64,
    /// One pulse slot, cycles(dac.conversion_ns + pulse width): the DAC sets the amplitude, then the pulse.
    pub slot: u64,
    /// Read settle, cycles(read_settle_ns).
    pub settle: u64,
    /// One ADC conversion, cycles(adc.conversion_ns).
    pub conversion: u64,
    /// Write drivers per array.
    pub drivers: u32,
    /// ADCs per array.
    pub adcs: u32,
    /// Rows programmed together.
    pub rows_in_parallel: u32,
    /// DAC energy per pulse, in pJ.
    pub dac_pj: f64,
    /// ADC energy per conversion, in pJ.
    pub adc_pj: f64,
    /// Write-driver energy per pulse, in pJ.
    pub driver_pj: f64,
    /// Verify read voltage, in V.
    pub read_v: f32,
    /// Verify read duration, in ns.
    pub read_ns: f32,
}

impl Timing {
    /// The timing of a (validated) configuration.
    pub fn new(hw: &HwConfig) -> Self {
        let clock = Clock::new(&hw.controller);
        Self {
            setup: clock.cycles(hw.program.row_setup_ns),
            slot: clock.cycles(hw.dac.conversion_ns + hw.program.scheme.width_ns()),
            settle: clock.cycles(hw.program.read_settle_ns),
            conversion: clock.cycles(hw.adc.conversion_ns),
            drivers: hw.program.write_drivers_per_array,
            adcs: hw.adc.adcs_per_array,
            rows_in_parallel: hw.program.rows_in_parallel,
            dac_pj: hw.dac.energy_pj,
            adc_pj: hw.adc.energy_pj,
            driver_pj: hw.program.driver_energy_pj,
            read_v: hw.program.read_voltage_v as f32,
            read_ns: hw.program.read_pulse_ns as f32,
        }
    }

    /// Cycles of a verify read of `pending` devices: settle + ceil(pending / adcs) conversions.
    #[inline]
    pub fn read_cycles(&self, pending: u32) -> u64 {
        self.settle + u64::from(pending.div_ceil(self.adcs)) * self.conversion
    }

    /// Cycles of one correction pulse to each of `pulses` devices: ceil(pulses / drivers) slots.
    #[inline]
    pub fn pulse_cycles(&self, pulses: u32) -> u64 {
        u64::from(pulses.div_ceil(self.drivers)) * self.slot
    }
}

/// One verify iteration of a row group.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Iteration {
    /// Devices read.
    pub pending: u32,
    /// Energy of the read phase: device reads and ADC conversions, in pJ (computed only when the
    /// array's phases are traced; the array's totals come from the devices' reports).
    pub read_energy_pj: f64,
    /// Devices pulsed after the read.
    pub pulses: u32,
    /// Energy of the pulse phase: device pulses, DAC and drivers, in pJ (only when traced, as above).
    pub pulse_energy_pj: f64,
}

/// One row group's script.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Group {
    /// First row of the group.
    pub row: u32,
    /// Devices in the group.
    pub devices: u32,
    /// Cycles of the open-loop write.
    pub write_cycles: u64,
    /// Pulses of the open-loop write.
    pub write_pulses: u32,
    /// Energy of the open-loop write: device pulses, DAC and drivers, in pJ.
    pub write_energy_pj: f64,
    /// Its verify iterations, a range of [`ArrayRun::iterations`].
    pub iterations: std::ops::Range<u32>,
}

/// Index of a phase within its group: 0 setup, 1 write, 2j verify read j, 2j+1 verify pulse j.
pub(crate) type PhaseIndex = u32;

/// A device event recorded for a device-level trace, placed within its phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DeviceRecord {
    /// Group index within the array.
    pub group: u32,
    /// Phase within the group.
    pub phase: PhaseIndex,
    /// Cycles from the phase start.
    pub offset: u64,
    /// Row within the array.
    pub row: u32,
    /// Column within the array.
    pub col: u32,
    /// What happened.
    pub op: DeviceOp,
    /// Conductance before, in uS.
    pub g_before_us: f32,
    /// Conductance after, in uS.
    pub g_after_us: f32,
    /// ADC reading (reads), NaN for pulses.
    pub read_us: f32,
    /// Target, in uS.
    pub target_us: f32,
    /// Amplitude, in V.
    pub amplitude_v: f32,
    /// Width, in ns.
    pub width_ns: f32,
    /// Energy in the device, in pJ.
    pub energy_pj: f64,
}

/// An array's programming, computed ahead of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArrayRun {
    /// Array id.
    pub array: u32,
    /// Layer index.
    pub layer: u32,
    /// Row groups, in order.
    pub groups: Vec<Group>,
    /// Verify iterations of all groups.
    pub iterations: Vec<Iteration>,
    /// Device events (device-level traces only), sorted by (group, phase, offset).
    pub records: Vec<DeviceRecord>,
    /// Work done.
    pub counts: Counts,
    /// Dynamic energy by component.
    pub energy: Energy,
    /// Final conductances in device order, when kept.
    pub conductances_us: Option<Vec<f32>>,
}

/// Everything the per-array work needs, shared by all arrays (read-only, so arrays run in parallel).
#[derive(Debug)]
pub(crate) struct ArrayProgrammer<'a> {
    pub mapped: &'a Mapped,
    pub mask: &'a Mask,
    pub wv: WriteVerify,
    pub variation: VariationMap,
    pub timing: Timing,
    pub seed: u64,
    /// Whether selected devices are verified (false for the `open_loop` scheme).
    pub verify: bool,
    pub keep_conductances: bool,
    pub filter: &'a TraceFilter,
}

impl ArrayProgrammer<'_> {
    /// Programs array `array`.
    pub fn run(&self, array: u32) -> ArrayRun {
        let mut devices = Vec::new();
        self.mapped.array_devices(array, &mut devices);
        let sigmas = device_sigmas(&self.variation, self.seed, array, &devices);
        let tile = self.mapped.tiles()[array as usize];
        let mut run = ArrayRun {
            array,
            layer: tile.layer,
            groups: Vec::with_capacity(tile.rows.div_ceil(self.timing.rows_in_parallel) as usize),
            iterations: Vec::new(),
            records: Vec::new(),
            counts: Counts::default(),
            energy: Energy::default(),
            conductances_us: self.keep_conductances.then(|| Vec::with_capacity(devices.len())),
        };
        let mut streams = Streams {
            write: rng::stream(self.seed, Purpose::Program, u64::from(array)),
            verify: rng::substream(self.seed, Purpose::Program, u64::from(array), 1),
            reads_histogram: Vec::new(),
        };
        let tracing = Tracing {
            phases: self.filter.wants_array(array),
            devices: self.filter.wants_devices(array),
        };
        let mut states = Vec::new();
        let mut start = 0;
        while start < devices.len() {
            let group_rows = devices[start].row / self.timing.rows_in_parallel;
            let len = devices[start..]
                .iter()
                .position(|d| d.row / self.timing.rows_in_parallel != group_rows)
                .unwrap_or(devices.len() - start);
            let end = start + len;
            self.group(
                &devices[start..end],
                &sigmas[start..end],
                &mut states,
                &mut streams,
                tracing,
                &mut run,
            );
            start = end;
        }
        run.counts.devices = devices.len() as u64;
        run
    }

    /// Programs one row group and appends its script to `run`.
    fn group(
        &self,
        devices: &[MappedDevice],
        sigmas: &[f32],
        states: &mut Vec<DeviceState>,
        streams: &mut Streams,
        tracing: Tracing,
        run: &mut ArrayRun,
    ) {
        let t = &self.timing;
        let device = self.wv.device();
        let group_index = run.groups.len() as u32;
        let records_start = run.records.len();
        states.clear();

        // 1. Open-loop write, chunk by chunk of write drivers.
        let mut write_cycles = 0u64;
        let mut write_pulses = 0u32;
        let mut pulse_pj = 0.0;
        for (c, chunk) in devices.chunks(t.drivers as usize).enumerate() {
            let chunk_records = run.records.len();
            let (mut max_set, mut max_reset) = (0u32, 0u32);
            for (i, d) in chunk.iter().enumerate() {
                let sigma = sigmas[c * t.drivers as usize + i];
                let mut state = device.instantiate(d.target_us, sigma, &mut streams.write);
                let (mut k_set, mut k_reset) = (0u64, 0u64);
                // Untraced, the sink is a no-op closure that compiles to nothing.
                let report = if !tracing.devices {
                    device.open_loop_write(&mut state, d.target_us, &mut streams.write, &mut |_| {})
                } else {
                    device.open_loop_write(&mut state, d.target_us, &mut streams.write, &mut |e| {
                        if let Some(mut r) = pulse_record(device, group_index, 1, d, e) {
                            // Offset: provisionally the pulse's rank within its polarity (placed below).
                            let rank = if r.op == DeviceOp::Reset {
                                &mut k_reset
                            } else {
                                &mut k_set
                            };
                            r.offset = *rank;
                            *rank += 1;
                            run.records.push(r);
                        }
                    })
                };
                max_set = max_set.max(report.set_pulses);
                max_reset = max_reset.max(report.reset_pulses);
                write_pulses += report.pulses();
                pulse_pj += report.energy_pj;
                states.push(state);
            }
            if tracing.devices {
                // RESET pulses of the chunk share the first max_reset slots, SET pulses the next max_set.
                for r in &mut run.records[chunk_records..] {
                    let slot = match r.op {
                        DeviceOp::Reset => r.offset,
                        _ => u64::from(max_reset) + r.offset,
                    };
                    r.offset = write_cycles + slot * t.slot;
                }
            }
            write_cycles += u64::from(max_set + max_reset) * t.slot;
        }
        let write_periph = f64::from(write_pulses) * (t.dac_pj + t.driver_pj);
        run.energy.write_pulses_pj += pulse_pj;
        run.energy.dac_pj += f64::from(write_pulses) * t.dac_pj;
        run.energy.drivers_pj += f64::from(write_pulses) * t.driver_pj;
        run.counts.pulses += u64::from(write_pulses);
        run.counts.open_loop_pulses += u64::from(write_pulses);

        // 2. Write-verify of the selected devices.
        let first_iteration = run.iterations.len();
        let reads_histogram = &mut streams.reads_histogram;
        if self.verify {
            for (d, state) in devices.iter().zip(states.iter_mut()) {
                if !self.mask.selected(d.layer, d.weight) {
                    continue;
                }
                if !tracing.phases {
                    // Untraced: no sink; the iteration counts follow from the reads histogram.
                    let report = self.wv.run(state, d.target_us, &mut streams.verify, &mut |_| {});
                    let r = report.reads as usize;
                    if r >= reads_histogram.len() {
                        reads_histogram.resize(r + 1, 0);
                    }
                    reads_histogram[r] += 1;
                    run.add_verify(&report, t);
                    continue;
                }
                let iterations = &mut run.iterations;
                let records = &mut run.records;
                let mut j = 0usize;
                let report = self
                    .wv
                    .run(state, d.target_us, &mut streams.verify, &mut |e| match e {
                        DeviceEvent::Read { g_us, read_us } => {
                            j += 1;
                            if first_iteration + j > iterations.len() {
                                iterations.push(Iteration::default());
                            }
                            let it = &mut iterations[first_iteration + j - 1];
                            let rank = it.pending;
                            it.pending += 1;
                            if tracing.phases {
                                let energy_pj = self.wv.read_energy_pj(g_us);
                                it.read_energy_pj += energy_pj;
                                if tracing.devices {
                                    records.push(DeviceRecord {
                                        group: group_index,
                                        phase: 2 * j as u32,
                                        offset: t.settle + u64::from(rank / t.adcs) * t.conversion,
                                        row: d.row,
                                        col: d.col,
                                        op: DeviceOp::Read,
                                        g_before_us: g_us,
                                        g_after_us: g_us,
                                        read_us,
                                        target_us: d.target_us,
                                        amplitude_v: t.read_v,
                                        width_ns: t.read_ns,
                                        energy_pj,
                                    });
                                }
                            }
                        }
                        DeviceEvent::Pulse { .. } => {
                            let it = &mut iterations[first_iteration + j - 1];
                            let rank = it.pulses;
                            it.pulses += 1;
                            if tracing.phases
                                && let Some(r) = pulse_record(device, group_index, 2 * j as u32 + 1, d, e)
                            {
                                it.pulse_energy_pj += r.energy_pj;
                                if tracing.devices {
                                    records.push(DeviceRecord {
                                        offset: u64::from(rank / t.drivers) * t.slot,
                                        ..r
                                    });
                                }
                            }
                        }
                    });
                run.add_verify(&report, t);
            }
        }
        if !tracing.phases {
            // Iteration j reads the devices that made at least j reads; the pulses after read j go to
            // those read again.
            let mut pending = 0u32;
            let mut counts: Vec<u32> = (1..reads_histogram.len())
                .rev()
                .map(|r| {
                    pending += reads_histogram[r];
                    pending
                })
                .collect();
            counts.reverse();
            for (j, &p) in counts.iter().enumerate() {
                run.iterations.push(Iteration {
                    pending: p,
                    pulses: counts.get(j + 1).copied().unwrap_or(0),
                    ..Iteration::default()
                });
            }
            reads_histogram.clear();
        } else {
            // Phase energies: the devices' plus the peripherals' of each read and pulse phase.
            for it in &mut run.iterations[first_iteration..] {
                it.read_energy_pj += f64::from(it.pending) * t.adc_pj;
                it.pulse_energy_pj += f64::from(it.pulses) * (t.dac_pj + t.driver_pj);
            }
        }
        if tracing.devices {
            run.records[records_start..].sort_by_key(|r| (r.phase, r.offset));
        }
        if let Some(g) = run.conductances_us.as_mut() {
            g.extend(states.iter().map(|s| s.g_us));
        }
        run.counts.rows += 1;
        run.counts.verified_rows += u64::from(run.iterations.len() > first_iteration);
        run.groups.push(Group {
            row: devices[0].row,
            devices: devices.len() as u32,
            write_cycles,
            write_pulses,
            write_energy_pj: pulse_pj + write_periph,
            iterations: first_iteration as u32..run.iterations.len() as u32,
        });
    }
}

/// What an array's trace needs beyond timing: phase energies, device events.
#[derive(Debug, Clone, Copy)]
struct Tracing {
    phases: bool,
    devices: bool,
}

/// The two random streams of an array, and a scratch histogram of verify reads.
struct Streams {
    write: rng::Stream,
    verify: rng::Stream,
    reads_histogram: Vec<u32>,
}

impl ArrayRun {
    /// Adds one device's write-verify to the counts and energies.
    fn add_verify(&mut self, report: &VerifyReport, t: &Timing) {
        let c = &mut self.counts;
        c.selected_devices += 1;
        c.verify_reads += u64::from(report.reads);
        c.adc_conversions += u64::from(report.reads);
        c.verify_pulses += u64::from(report.pulses);
        c.pulses += u64::from(report.pulses);
        c.iterations_sum += u64::from(report.reads);
        c.iterations_max = c.iterations_max.max(report.reads);
        c.failed_devices += u64::from(!report.converged);
        let e = &mut self.energy;
        e.write_pulses_pj += report.pulse_energy_pj;
        e.verify_reads_pj += report.read_energy_pj;
        e.adc_pj += f64::from(report.reads) * t.adc_pj;
        e.dac_pj += f64::from(report.pulses) * t.dac_pj;
        e.drivers_pj += f64::from(report.pulses) * t.driver_pj;
    }
}

/// The device record of a pulse event (with its device energy, offset 0); `None` for a read.
fn pulse_record(
    device: &Device,
    group: u32,
    phase: PhaseIndex,
    d: &MappedDevice,
    e: DeviceEvent,
) -> Option<DeviceRecord> {
    let DeviceEvent::Pulse {
        g_before_us,
        g_after_us,
        amplitude_v,
        width_ns,
        polarity,
    } = e
    else {
        return None;
    };
    let energy_pj = match device {
        Device::Statistical(m) => m.pulse_energy_pj(amplitude_v, g_before_us, g_after_us),
        Device::Pulse(m) => m.pulse_energy_pj(amplitude_v, g_before_us, g_after_us),
    };
    Some(DeviceRecord {
        group,
        phase,
        offset: 0,
        row: d.row,
        col: d.col,
        op: match polarity {
            Polarity::Set => DeviceOp::Set,
            Polarity::Reset => DeviceOp::Reset,
        },
        g_before_us,
        g_after_us,
        read_us: f32::NAN,
        target_us: d.target_us,
        amplitude_v,
        width_ns,
        energy_pj,
    })
}
