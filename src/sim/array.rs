//! One array's device work, condensed into the script of phases its state machine plays.
//!
//! An array is programmed row group by row group (`rows_in_parallel` rows at a time, their devices
//! pooled). Each column binds to one ADC (through its multiplexer) and one write driver
//! ([`crate::config::ColumnBinding`]); devices of the group's rows in the same column share both. For
//! each group, in row-major device order:
//! 1. every device is made (`instantiate`) and given its open-loop write (`program.open_loop`). The
//!    group's RESET pulses come first, then its SET pulses, each in their own slots: the write takes
//!    max over drivers of the driver's RESET pulses + max over drivers of its SET pulses pulse slots;
//! 2. each selected device runs its program-and-verify loop from that state. Verify iteration j reads the
//!    devices still pending (read settle and read pulse, then as many conversions as the busiest ADC has
//!    pending devices) and pulses those found out of band: SET slots, then RESET slots, as many of each as
//!    the busiest driver has pulses of that polarity.
//!
//! Devices are independent, so running each device's whole loop at once gives the same physics as
//! interleaving them iteration by iteration; the script records, per iteration, the devices read and
//! pulsed, the busiest ADC's conversions, the pulse slots and the energy, which is all the timeline needs.
//!
//! Random streams: the open-loop writes (and device instantiation) of array a draw from
//! `stream(seed, Program, a)`, the verify loops from `substream(seed, Program, a, 1)`. The open-loop
//! result of every device is thus the same whatever the mask (common random numbers across masks).

use super::mask::{Mask, WvClass};
use super::time::Cycle;
use crate::config::{ColumnBinding, HwConfig};
use crate::device::{Device, DeviceEvent, DeviceState, VerifyReport, WriteVerify};
use crate::map::sigma::device_sigmas;
use crate::map::{Mapped, MappedDevice};
use crate::periph::Clock;
use crate::pulse::Polarity;
use crate::rng::{self, Purpose};
use crate::trace::{Counts, DeviceOp, Energy, TraceFilter};
use crate::variation::VariationMap;

/// Durations (in cycles), per-operation peripheral energies and the column binding of the programming
/// steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Row setup, cycles(row_setup_ns).
    pub setup: Cycle,
    /// One pulse slot, cycles(dac.conversion_ns + pulse width): the DAC sets the amplitude, then the pulse.
    pub slot: Cycle,
    /// The start of a verify read before its conversions: cycles(read_settle_ns + read_pulse_ns), the
    /// bit lines settling, then the read voltage held while the column values are sampled.
    pub settle: Cycle,
    /// One ADC conversion, cycles(adc.conversion_ns).
    pub conversion: Cycle,
    /// Columns per array.
    pub cols: u32,
    /// Write drivers per array.
    pub drivers: u32,
    /// Which columns each driver serves.
    pub driver_columns: ColumnBinding,
    /// ADCs per array.
    pub adcs: u32,
    /// Which columns share each ADC.
    pub adc_columns: ColumnBinding,
    /// Rows programmed together.
    pub rows_in_parallel: u32,
    /// DAC energy per pulse, in pJ.
    pub dac_pj: f64,
    /// ADC energy per conversion, in pJ.
    pub adc_pj: f64,
    /// Write-driver energy per pulse, in pJ.
    pub driver_pj: f64,
    /// Energy of one row setup, in pJ.
    pub setup_pj: f64,
    /// Verify read voltage, in V.
    pub read_v: f32,
    /// Verify read duration, in ns.
    pub read_ns: f32,
}

impl Timing {
    /// The timing of a (validated) configuration.
    pub fn new(hw: &HwConfig) -> Self {
        let clock = Clock::new(&hw.controller);
        let cycles = |ns: f64| Cycle(clock.cycles(ns));
        Self {
            setup: cycles(hw.program.row_setup_ns),
            slot: cycles(hw.dac.conversion_ns + hw.program.scheme.width_ns()),
            settle: cycles(hw.program.read_settle_ns + hw.program.read_pulse_ns),
            conversion: cycles(hw.adc.conversion_ns),
            cols: hw.array.cols,
            drivers: hw.program.write_drivers_per_array,
            driver_columns: hw.program.driver_columns,
            adcs: hw.adc.adcs_per_array,
            adc_columns: hw.adc.columns,
            rows_in_parallel: hw.program.rows_in_parallel,
            dac_pj: hw.dac.energy_pj,
            adc_pj: hw.adc.energy_pj,
            driver_pj: hw.program.driver_energy_pj,
            setup_pj: hw.program.row_setup_energy_pj,
            read_v: hw.program.read_voltage_v as f32,
            read_ns: hw.program.read_pulse_ns as f32,
        }
    }

    /// The ADC that converts column `col`.
    #[inline]
    pub fn adc_of(&self, col: u32) -> u32 {
        self.adc_columns.unit(col, self.cols, self.adcs)
    }

    /// The write driver that pulses column `col`.
    #[inline]
    pub fn driver_of(&self, col: u32) -> u32 {
        self.driver_columns.unit(col, self.cols, self.drivers)
    }

    /// Cycles of a verify read whose busiest ADC converts `conversions` devices: settle + conversions.
    #[inline]
    pub fn read_cycles(&self, conversions: u32) -> Cycle {
        Cycle(self.settle.0 + u64::from(conversions) * self.conversion.0)
    }

    /// Cycles of `slots` pulse slots.
    #[inline]
    pub fn pulse_cycles(&self, slots: u32) -> Cycle {
        Cycle(u64::from(slots) * self.slot.0)
    }
}

/// One verify iteration of a row group.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Iteration {
    /// Devices read.
    pub pending: u32,
    /// Conversions of the busiest ADC: the read's length in conversions.
    pub conversions: u32,
    /// Energy of the read phase: device reads and ADC conversions, in pJ (computed only when the
    /// array's phases are traced; the array's totals come from the devices' reports).
    pub read_energy_pj: f64,
    /// Devices pulsed after the read.
    pub pulses: u32,
    /// Pulse slots after the read: the busiest driver's SET pulses, then the busiest driver's RESET pulses.
    pub slots: u32,
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
    /// Pulse slots of the open-loop write.
    pub write_slots: u32,
    /// Pulses of the open-loop write.
    pub write_pulses: u32,
    /// Energy of the open-loop write: device pulses, DAC and drivers, in pJ.
    pub write_energy_pj: f64,
    /// Its verify iterations, a range of [`ArrayRun::iterations`].
    pub iterations: std::ops::Range<u32>,
}

/// A phase of a row group, in the order they play: setup, write, then read j and pulse j for
/// j = 1, 2, ... while devices are pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Word-line select and DAC settle.
    Setup,
    /// The open-loop write of every device of the group.
    Write,
    /// Verify read j (1-based).
    VerifyRead(u32),
    /// The correction pulses after verify read j.
    VerifyPulse(u32),
}

impl Phase {
    /// A key that sorts phases in play order.
    pub fn order(self) -> u32 {
        match self {
            Phase::Setup => 0,
            Phase::Write => 1,
            Phase::VerifyRead(j) => 2 * j,
            Phase::VerifyPulse(j) => 2 * j + 1,
        }
    }
}

/// A device event recorded for a device-level trace, placed within its phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DeviceRecord {
    /// Group index within the array.
    pub group: u32,
    /// Phase within the group.
    pub phase: Phase,
    /// Cycles from the phase start.
    pub offset: Cycle,
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
    /// The write-verify of the tight class (and of every selected weight of a binary mask).
    pub wv: WriteVerify,
    /// The write-verify of the loose class, when the mask has loose weights.
    pub wv_loose: Option<WriteVerify>,
    pub variation: VariationMap,
    pub timing: Timing,
    pub seed: u64,
    /// Whether selected devices are verified (false for the `open_loop` scheme).
    pub verify: bool,
    pub keep_conductances: bool,
    pub filter: &'a TraceFilter,
}

/// What an array's trace needs beyond timing: phase energies, device events.
#[derive(Debug, Clone, Copy)]
struct Tracing {
    phases: bool,
    devices: bool,
}

/// The two random streams of an array and the scratch of a row group's verify loops (kept across
/// groups so that no group allocates).
struct Streams {
    write: rng::Stream,
    verify: rng::Stream,
    scratch: VerifyScratch,
}

/// One selected device's verify loop as the timing needs it.
#[derive(Debug, Clone, Copy)]
struct Verified {
    /// Its ADC and write driver.
    adc: u32,
    driver: u32,
    /// Verify reads made.
    reads: u32,
    /// Index of its first pulse's polarity in [`VerifyScratch::polarities`].
    first_pulse: u32,
}

/// Per (iteration, peripheral, kind) counters of a device-traced group: the next conversion of an ADC,
/// the next SET or RESET pulse of a driver.
#[derive(Debug, Default)]
struct Ranks {
    /// Peripherals per iteration: max(ADCs, drivers).
    units: usize,
    counts: Vec<u32>,
}

impl Ranks {
    fn reset(&mut self, units: u32) {
        self.units = units as usize;
        self.counts.clear();
    }

    /// The count so far of `kind` (0 read, 1 SET, 2 RESET) on peripheral `unit` at iteration `j` (1-based),
    /// then one more.
    fn next(&mut self, j: usize, unit: u32, kind: usize) -> u32 {
        let index = ((j - 1) * self.units + unit as usize) * 3 + kind;
        if index >= self.counts.len() {
            self.counts.resize(index + 1, 0);
        }
        let rank = self.counts[index];
        self.counts[index] += 1;
        rank
    }
}

/// Per-group scratch of the verify loops.
#[derive(Debug, Default)]
struct VerifyScratch {
    /// The selected devices of the group, in device order.
    devices: Vec<Verified>,
    /// The polarity of every correction pulse, device after device (pulse j of a device follows read j).
    polarities: Vec<Polarity>,
    /// A permutation of `devices` grouped by peripheral (ADC, then driver), see [`VerifyScratch::bucket`].
    order: Vec<u32>,
    /// Where each peripheral's devices start in `order` (one more entry than peripherals).
    starts: Vec<u32>,
    /// The next free position of each peripheral while bucketing.
    fill: Vec<u32>,
    /// One ADC's read counts, sorted descending.
    unit_reads: Vec<u32>,
    /// Per rank k: the largest k-th largest read count over the ADCs.
    kth_reads: Vec<u32>,
    /// Per iteration of one driver: its SET and RESET pulses.
    driver_pulses: Vec<[u32; 2]>,
    /// Per iteration: the busiest driver's SET and RESET pulses.
    busiest_pulses: Vec<[u32; 2]>,
    /// Device-traced groups: the ranks of reads and pulses on their peripherals.
    ranks: Ranks,
}

impl VerifyScratch {
    fn clear(&mut self) {
        self.devices.clear();
        self.polarities.clear();
    }

    /// Orders the devices by `unit` (a counting sort, stable: no comparison sort in the per-row path) into
    /// `order`, with `starts[u]..starts[u + 1]` the positions of unit u.
    fn bucket(&mut self, units: u32, unit: impl Fn(&Verified) -> u32) {
        self.starts.clear();
        self.starts.resize(units as usize + 1, 0);
        for d in &self.devices {
            self.starts[unit(d) as usize + 1] += 1;
        }
        for u in 0..units as usize {
            self.starts[u + 1] += self.starts[u];
        }
        self.order.clear();
        self.order.resize(self.devices.len(), 0);
        self.fill.clear();
        self.fill.extend_from_slice(&self.starts[..units as usize]);
        for (i, d) in self.devices.iter().enumerate() {
            let u = unit(d) as usize;
            self.order[self.fill[u] as usize] = i as u32;
            self.fill[u] += 1;
        }
    }

    /// Fills `iterations` (one per verify read of the group's longest loop, pending and pulses counted)
    /// with the busiest ADC's conversions and the pulse slots of every iteration; `adcs` and `drivers`
    /// are the peripherals per array.
    fn schedule(&mut self, iterations: &mut [Iteration], adcs: u32, drivers: u32) {
        if self.devices.is_empty() {
            return;
        }
        // Reads: the ADC a has pending_a(j) = #{its devices with reads >= j}. With r_a(k) its k-th largest
        // read count and R(k) = max over a of r_a(k), the busiest ADC has #{k : R(k) >= j} pending.
        self.bucket(adcs, |d| d.adc);
        self.kth_reads.clear();
        for u in 0..adcs as usize {
            let (start, end) = (self.starts[u] as usize, self.starts[u + 1] as usize);
            self.unit_reads.clear();
            self.unit_reads.extend(
                self.order[start..end]
                    .iter()
                    .map(|&i| self.devices[i as usize].reads),
            );
            // A handful of devices per ADC: an insertion sort, descending.
            for i in 1..self.unit_reads.len() {
                let mut k = i;
                while k > 0 && self.unit_reads[k - 1] < self.unit_reads[k] {
                    self.unit_reads.swap(k - 1, k);
                    k -= 1;
                }
            }
            if self.kth_reads.len() < self.unit_reads.len() {
                self.kth_reads.resize(self.unit_reads.len(), 0);
            }
            for (kth, &r) in self.kth_reads.iter_mut().zip(&self.unit_reads) {
                *kth = (*kth).max(r);
            }
        }
        let mut ranks = self.kth_reads.len();
        for (j, it) in iterations.iter_mut().enumerate() {
            let read = j as u32 + 1;
            while ranks > 0 && self.kth_reads[ranks - 1] < read {
                ranks -= 1;
            }
            it.conversions = ranks as u32;
        }
        // Pulses: per driver and iteration, its SET and RESET pulses; the busiest of each polarity.
        self.bucket(drivers, |d| d.driver);
        self.busiest_pulses.clear();
        self.busiest_pulses.resize(iterations.len(), [0, 0]);
        for u in 0..drivers as usize {
            let mine = &self.order[self.starts[u] as usize..self.starts[u + 1] as usize];
            let longest = mine
                .iter()
                .map(|&i| self.devices[i as usize].reads as usize - 1)
                .max()
                .unwrap_or(0);
            self.driver_pulses.clear();
            self.driver_pulses.resize(longest, [0, 0]);
            for &i in mine {
                let d = self.devices[i as usize];
                let first = d.first_pulse as usize;
                for (j, p) in self.polarities[first..first + d.reads as usize - 1]
                    .iter()
                    .enumerate()
                {
                    self.driver_pulses[j][p.index()] += 1;
                }
            }
            for (busiest, mine) in self.busiest_pulses.iter_mut().zip(&self.driver_pulses) {
                busiest[0] = busiest[0].max(mine[0]);
                busiest[1] = busiest[1].max(mine[1]);
            }
        }
        for (it, busiest) in iterations.iter_mut().zip(&self.busiest_pulses) {
            it.slots = busiest[0] + busiest[1];
        }
    }
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
            scratch: VerifyScratch::default(),
        };
        let tracing = Tracing {
            phases: self.filter.wants_array(array),
            devices: self.filter.wants_devices(array),
        };
        let mut states = Vec::new();
        let mut write_counts = vec![[0u32; 2]; self.timing.drivers as usize];
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
                &mut write_counts,
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
    #[allow(clippy::too_many_arguments)]
    fn group(
        &self,
        devices: &[MappedDevice],
        sigmas: &[f32],
        states: &mut Vec<DeviceState>,
        write_counts: &mut [[u32; 2]],
        streams: &mut Streams,
        tracing: Tracing,
        run: &mut ArrayRun,
    ) {
        let t = &self.timing;
        let device = self.wv.device();
        let group_index = run.groups.len() as u32;
        let records_start = run.records.len();
        states.clear();

        // 1. Open-loop write: per driver, its devices' RESET pulses then SET pulses, one after another.
        write_counts.fill([0, 0]);
        let mut write_pulses = 0u32;
        let mut pulse_pj = 0.0;
        for (d, &sigma) in devices.iter().zip(sigmas) {
            let mut state = device.instantiate(sigma, &mut streams.write);
            let driver = t.driver_of(d.col) as usize;
            let report = if !tracing.devices {
                // Untraced, the sink is a no-op closure that compiles to nothing.
                device.open_loop_write(&mut state, d.target_us, &mut streams.write, &mut |_| {})
            } else {
                let mut rank = write_counts[driver];
                device.open_loop_write(&mut state, d.target_us, &mut streams.write, &mut |e| {
                    if let Some(mut r) = pulse_record(device, group_index, Phase::Write, d, e) {
                        // Offset: provisionally the pulse's rank among its driver's pulses of its polarity.
                        let k = usize::from(r.op == DeviceOp::Reset);
                        r.offset = Cycle(u64::from(rank[k]));
                        rank[k] += 1;
                        run.records.push(r);
                    }
                })
            };
            write_counts[driver][0] += report.set_pulses;
            write_counts[driver][1] += report.reset_pulses;
            write_pulses += report.pulses();
            pulse_pj += report.energy_pj;
            states.push(state);
        }
        let max_set = write_counts.iter().map(|c| c[0]).max().unwrap_or(0);
        let max_reset = write_counts.iter().map(|c| c[1]).max().unwrap_or(0);
        if tracing.devices {
            // RESET pulses take the first max_reset slots, SET pulses the next max_set.
            for r in &mut run.records[records_start..] {
                let slot = match r.op {
                    DeviceOp::Reset => r.offset.0,
                    _ => u64::from(max_reset) + r.offset.0,
                };
                r.offset = Cycle(slot * t.slot.0);
            }
        }
        let write_periph = f64::from(write_pulses) * (t.dac_pj + t.driver_pj);
        run.energy.write_pulses_pj += pulse_pj;
        run.energy.dac_pj += f64::from(write_pulses) * t.dac_pj;
        run.energy.drivers_pj += f64::from(write_pulses) * t.driver_pj;
        run.energy.row_setup_pj += t.setup_pj;
        run.counts.pulses += u64::from(write_pulses);
        run.counts.open_loop_pulses += u64::from(write_pulses);

        // 2. Program-and-verify of the selected devices, from their open-loop state.
        let first_iteration = run.iterations.len();
        let scratch = &mut streams.scratch;
        scratch.clear();
        scratch.ranks.reset(t.adcs.max(t.drivers));
        if self.verify {
            for (d, state) in devices.iter().zip(states.iter_mut()) {
                let wv = match self.mask.class(d.layer, d.weight) {
                    WvClass::None => continue,
                    WvClass::Loose => self.wv_loose.as_ref().unwrap_or(&self.wv),
                    WvClass::Tight => &self.wv,
                };
                let first_pulse = scratch.polarities.len() as u32;
                let (polarities, ranks) = (&mut scratch.polarities, &mut scratch.ranks);
                let report = if !tracing.phases {
                    wv.run(state, d.target_us, &mut streams.verify, &mut |e| {
                        if let DeviceEvent::Pulse { polarity, .. } = e {
                            polarities.push(polarity);
                        }
                    })
                } else {
                    self.traced_verify(
                        wv,
                        d,
                        state,
                        group_index,
                        first_iteration,
                        &mut streams.verify,
                        tracing,
                        polarities,
                        ranks,
                        run,
                    )
                };
                scratch.devices.push(Verified {
                    adc: t.adc_of(d.col),
                    driver: t.driver_of(d.col),
                    reads: report.reads,
                    first_pulse,
                });
                run.add_verify(&report, t);
            }
        }
        // Iteration j reads the devices that made at least j reads; the pulses after read j go to those read
        // again.
        let longest = scratch.devices.iter().map(|v| v.reads).max().unwrap_or(0) as usize;
        if run.iterations.len() < first_iteration + longest {
            run.iterations
                .resize(first_iteration + longest, Iteration::default());
        }
        if !tracing.phases {
            for v in &scratch.devices {
                for it in &mut run.iterations[first_iteration..first_iteration + v.reads as usize] {
                    it.pending += 1;
                }
                for it in &mut run.iterations[first_iteration..first_iteration + v.reads as usize - 1] {
                    it.pulses += 1;
                }
            }
        }
        scratch.schedule(&mut run.iterations[first_iteration..], t.adcs, t.drivers);
        if tracing.phases {
            // Phase energies: the devices' plus the peripherals' of each read and pulse phase.
            for it in &mut run.iterations[first_iteration..] {
                it.read_energy_pj += f64::from(it.pending) * t.adc_pj;
                it.pulse_energy_pj += f64::from(it.pulses) * (t.dac_pj + t.driver_pj);
            }
        }
        if tracing.devices {
            // Place each verify pulse: SET pulses in the first slots of their iteration, RESET after them.
            for r in &mut run.records[records_start..] {
                if let Phase::VerifyPulse(j) = r.phase {
                    let it = run.iterations[first_iteration + j as usize - 1];
                    let set_slots = it.slots - scratch.busiest_pulses[j as usize - 1][1];
                    let slot = match r.op {
                        DeviceOp::Set => r.offset.0,
                        _ => u64::from(set_slots) + r.offset.0,
                    };
                    r.offset = Cycle(slot * t.slot.0);
                }
            }
            run.records[records_start..].sort_by_key(|r| (r.phase.order(), r.offset));
        }
        if let Some(g) = run.conductances_us.as_mut() {
            g.extend(states.iter().map(|s| s.g_us));
        }
        run.counts.rows += 1;
        run.counts.verified_rows += u64::from(longest > 0);
        run.groups.push(Group {
            row: devices[0].row,
            devices: devices.len() as u32,
            write_slots: max_set + max_reset,
            write_pulses,
            write_energy_pj: pulse_pj + write_periph,
            iterations: first_iteration as u32..(first_iteration + longest) as u32,
        });
    }

    /// One device's verify loop with its phases traced: counts and energies per iteration, and at device
    /// level its records (reads placed after their ADC's earlier conversions; pulses provisionally at
    /// their rank among their driver's pulses of the same polarity, placed by the caller).
    #[allow(clippy::too_many_arguments)]
    fn traced_verify(
        &self,
        wv: &WriteVerify,
        d: &MappedDevice,
        state: &mut DeviceState,
        group_index: u32,
        first_iteration: usize,
        rng: &mut rng::Stream,
        tracing: Tracing,
        polarities: &mut Vec<Polarity>,
        ranks: &mut Ranks,
        run: &mut ArrayRun,
    ) -> VerifyReport {
        let t = &self.timing;
        let device = self.wv.device();
        let adc = t.adc_of(d.col);
        let driver = t.driver_of(d.col);
        let iterations = &mut run.iterations;
        let records = &mut run.records;
        let mut j = 0usize;
        wv.run(state, d.target_us, rng, &mut |e| match e {
            DeviceEvent::Read { g_us, read_us } => {
                j += 1;
                if first_iteration + j > iterations.len() {
                    iterations.push(Iteration::default());
                }
                let it = &mut iterations[first_iteration + j - 1];
                it.pending += 1;
                let energy_pj = wv.read_energy_pj(g_us);
                it.read_energy_pj += energy_pj;
                if tracing.devices {
                    records.push(DeviceRecord {
                        group: group_index,
                        phase: Phase::VerifyRead(j as u32),
                        // After the ADC's earlier conversions of this iteration.
                        offset: Cycle(t.settle.0 + u64::from(ranks.next(j, adc, 0)) * t.conversion.0),
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
            DeviceEvent::Pulse { polarity, .. } => {
                polarities.push(polarity);
                let it = &mut iterations[first_iteration + j - 1];
                it.pulses += 1;
                if let Some(r) = pulse_record(device, group_index, Phase::VerifyPulse(j as u32), d, e) {
                    it.pulse_energy_pj += r.energy_pj;
                    if tracing.devices {
                        // Provisional: the rank among the driver's pulses of this polarity (placed later).
                        let rank = ranks.next(j, driver, 1 + polarity.index());
                        records.push(DeviceRecord {
                            offset: Cycle(u64::from(rank)),
                            ..r
                        });
                    }
                }
            }
        })
    }
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
    phase: Phase,
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
    let energy_pj = device.pulse_energy_pj(amplitude_v, g_before_us, g_after_us);
    Some(DeviceRecord {
        group,
        phase,
        offset: Cycle::ZERO,
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
