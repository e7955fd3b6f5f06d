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
//! interleaving them iteration by iteration. A [`Tally`] counts, as the loops run, how many devices of each
//! ADC stopped after r reads and how many SET and RESET pulses each driver gives after read j; from it
//! follow each iteration's devices read and pulsed, the busiest ADC's conversions and the pulse slots.
//! Every array sums them into its busy time; a traced array also keeps them (with the phase energies)
//! as the script the timeline plays.
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
            dac_pj: hw.dac.conversion_energy_pj(),
            adc_pj: hw.adc.conversion_energy_pj(),
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

/// The peripherals a column is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ColumnUnits {
    /// Its ADC.
    pub adc: u32,
    /// Its write driver.
    pub driver: u32,
}

impl ColumnUnits {
    /// The ADC and driver of every column of an array timed by `timing`, in column order.
    pub fn of(timing: &Timing) -> Vec<ColumnUnits> {
        (0..timing.cols)
            .map(|col| ColumnUnits {
                adc: timing.adc_of(col),
                driver: timing.driver_of(col),
            })
            .collect()
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
    /// Busy time: the sum of every phase of every row group.
    pub cycles: Cycle,
    /// Row groups, in order (traced arrays only: an untraced array is played as one busy span).
    pub groups: Vec<Group>,
    /// Verify iterations of all groups (traced arrays only).
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
    /// The ADC and driver of each column ([`ColumnUnits::of`]): looked up, not divided, per device.
    pub column_units: Vec<ColumnUnits>,
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

/// The two random streams of an array and the counters of a row group's verify loops (kept across
/// groups so that no group allocates).
struct Streams {
    write: rng::Stream,
    verify: rng::Stream,
    tally: Tally,
    ranks: Ranks,
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

/// The counters of a row group's verify loops from which each iteration's length follows: how many
/// devices of each ADC stopped after r reads, and how many SET and RESET pulses each driver gives after
/// read j. One increment per device and one per pulse, in the loop that runs the devices; no second pass
/// over the devices and no sort.
///
/// With n_a(r) the devices of ADC a that made exactly r reads, ADC a converts
/// pending_a(j) = sum over r >= j of n_a(r) devices in read j, and the read lasts the busiest ADC's
/// max_a pending_a(j) conversions. Pulse phase j lasts max_d SET_d(j) + max_d RESET_d(j) slots.
#[derive(Debug, Default)]
struct Tally {
    adcs: usize,
    drivers: usize,
    /// `stopped[(r - 1) * adcs + a]` = n_a(r); all zero between groups.
    stopped: Vec<u32>,
    /// `pulses[((j - 1) * drivers + d) * 2 + p]`: pulses of polarity index p by driver d after read j; all
    /// zero between groups.
    pulses: Vec<u32>,
    /// The most reads any device of the group made.
    longest: usize,
    /// Per ADC, its pending devices while [`Tally::finish`] walks the iterations down.
    pending: Vec<u32>,
    /// Per iteration of the last finished group: the busiest driver's RESET pulses.
    busiest_reset: Vec<u32>,
}

impl Tally {
    /// Starts a group on an array of `adcs` ADCs and `drivers` write drivers.
    fn start(&mut self, adcs: u32, drivers: u32) {
        self.adcs = adcs.max(1) as usize;
        self.drivers = drivers.max(1) as usize;
        self.longest = 0;
    }

    /// A pulse of `polarity` by `driver` after read `j` (1-based) of its device.
    #[inline(always)]
    fn pulse(&mut self, j: u32, driver: u32, polarity: Polarity) {
        self.pulse_at(self.pulse_slot(j, driver) + polarity.index());
    }

    /// Where the counters of `driver` after read `j` (1-based; 0 gives the slot one stride before read
    /// 1's) start: its SET counter, then its RESET. Read j + 1's are [`Tally::pulse_stride`] further on.
    #[inline(always)]
    fn pulse_slot(&self, j: u32, driver: u32) -> usize {
        (j as usize)
            .wrapping_sub(1)
            .wrapping_mul(self.drivers)
            .wrapping_add(driver as usize)
            .wrapping_mul(2)
    }

    /// The distance between one read's pulse counters and the next read's.
    #[inline(always)]
    fn pulse_stride(&self) -> usize {
        2 * self.drivers
    }

    /// One more pulse at counter `index` ([`Tally::pulse_slot`] plus the polarity index).
    #[inline(always)]
    fn pulse_at(&mut self, index: usize) {
        if index >= self.pulses.len() {
            self.pulses
                .resize((index + 1).next_multiple_of(2 * self.drivers), 0);
        }
        self.pulses[index] += 1;
    }

    /// A device on `adc` whose loop made `reads` reads (>= 1).
    #[inline]
    fn stopped(&mut self, adc: u32, reads: u32) {
        let index = (reads as usize - 1) * self.adcs + adc as usize;
        if index >= self.stopped.len() {
            self.stopped.resize((index + 1).next_multiple_of(self.adcs), 0);
        }
        self.stopped[index] += 1;
        self.longest = self.longest.max(reads as usize);
    }

    /// Fills `iterations` (one per read of the group's longest loop) with the devices read and pulsed,
    /// the busiest ADC's conversions and the pulse slots, and zeroes the counters for the next group.
    fn finish(&mut self, iterations: &mut [Iteration]) {
        debug_assert_eq!(iterations.len(), self.longest);
        self.pending.clear();
        self.pending.resize(self.adcs, 0);
        for (j, it) in iterations.iter_mut().enumerate().rev() {
            let stopped = &mut self.stopped[j * self.adcs..(j + 1) * self.adcs];
            let (mut total, mut busiest) = (0u32, 0u32);
            for (pending, n) in self.pending.iter_mut().zip(stopped.iter_mut()) {
                *pending += *n;
                *n = 0;
                total += *pending;
                busiest = busiest.max(*pending);
            }
            it.pending = total;
            it.conversions = busiest;
        }
        self.busiest_reset.clear();
        let per_iteration = 2 * self.drivers;
        for j in 0..iterations.len() {
            // The devices pulsed after read j are those read again.
            let pulsed = iterations.get(j + 1).map_or(0, |next| next.pending);
            let (mut set, mut reset) = (0u32, 0u32);
            if let Some(counts) = self.pulses.get_mut(j * per_iteration..(j + 1) * per_iteration) {
                for pair in counts.chunks_exact_mut(2) {
                    set = set.max(pair[0]);
                    reset = reset.max(pair[1]);
                    pair[0] = 0;
                    pair[1] = 0;
                }
            }
            let it = &mut iterations[j];
            it.pulses = pulsed;
            it.slots = set + reset;
            self.busiest_reset.push(reset);
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
            cycles: Cycle::ZERO,
            groups: Vec::new(),
            iterations: Vec::new(),
            records: Vec::new(),
            counts: Counts::default(),
            energy: Energy::default(),
            conductances_us: self.keep_conductances.then(|| Vec::with_capacity(devices.len())),
        };
        let mut streams = Streams {
            write: rng::stream(self.seed, Purpose::Program, u64::from(array)),
            verify: rng::substream(self.seed, Purpose::Program, u64::from(array), 1),
            tally: Tally::default(),
            ranks: Ranks::default(),
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

    /// Programs one row group, adds its busy time to `run` and, when its phases are traced, appends its
    /// script.
    // Kept out of line: inlined into `run`, the device loops get worse code (4.7% more instructions on
    // the RRAM preset, measured).
    #[inline(never)]
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
            let driver = self.column_units[d.col as usize].driver as usize;
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
        let Streams {
            verify: rng,
            tally,
            ranks,
            ..
        } = streams;
        tally.start(t.adcs, t.drivers);
        ranks.reset(t.adcs.max(t.drivers));
        if self.verify {
            for (d, state) in devices.iter().zip(states.iter_mut()) {
                let wv = match self.mask.class(d.layer, d.weight) {
                    WvClass::None => continue,
                    WvClass::Loose => self.wv_loose.as_ref().unwrap_or(&self.wv),
                    WvClass::Tight => &self.wv,
                };
                let ColumnUnits { adc, driver } = self.column_units[d.col as usize];
                let report = if !tracing.phases {
                    // The driver's counters after the latest read: one stride further at every read.
                    let stride = tally.pulse_stride();
                    let mut at = tally.pulse_slot(0, driver);
                    wv.run(state, d.target_us, rng, &mut |e| match e {
                        DeviceEvent::Read { .. } => at = at.wrapping_add(stride),
                        DeviceEvent::Pulse { polarity, .. } => tally.pulse_at(at + polarity.index()),
                    })
                } else {
                    self.traced_verify(
                        wv,
                        d,
                        state,
                        group_index,
                        first_iteration,
                        rng,
                        tracing,
                        tally,
                        ranks,
                        run,
                    )
                };
                tally.stopped(adc, report.reads);
                run.add_verify(&report, t);
            }
        }
        // Iteration j reads the devices that made at least j reads; the pulses after read j go to those read
        // again.
        let longest = tally.longest;
        if run.iterations.len() < first_iteration + longest {
            run.iterations
                .resize(first_iteration + longest, Iteration::default());
        }
        let iterations = &mut run.iterations[first_iteration..first_iteration + longest];
        tally.finish(iterations);
        let verify_cycles = iterations.iter().fold(Cycle::ZERO, |sum, it| {
            sum + t.read_cycles(it.conversions) + t.pulse_cycles(it.slots)
        });
        run.cycles += t.setup + t.pulse_cycles(max_set + max_reset) + verify_cycles;
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
                    let set_slots = it.slots - tally.busiest_reset[j as usize - 1];
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
        if tracing.phases {
            run.groups.push(Group {
                row: devices[0].row,
                devices: devices.len() as u32,
                write_slots: max_set + max_reset,
                write_pulses,
                write_energy_pj: pulse_pj + write_periph,
                iterations: first_iteration as u32..(first_iteration + longest) as u32,
            });
        } else {
            // An untraced array keeps only its busy time: the iterations were scratch.
            run.iterations.clear();
        }
    }

    /// One device's verify loop with its phases traced: its pulses in the tally, energies per iteration,
    /// and at device level also its records (reads placed after their ADC's earlier conversions; pulses provisionally at
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
        tally: &mut Tally,
        ranks: &mut Ranks,
        run: &mut ArrayRun,
    ) -> VerifyReport {
        let t = &self.timing;
        let device = self.wv.device();
        let ColumnUnits { adc, driver } = self.column_units[d.col as usize];
        let iterations = &mut run.iterations;
        if !tracing.devices {
            let mut sink = PhaseSink {
                wv,
                device,
                stride: tally.pulse_stride(),
                at: tally.pulse_slot(0, driver),
                iteration: first_iteration,
                iterations,
                tally,
            };
            return wv.run(state, d.target_us, rng, &mut |e| sink.event(e));
        }
        let records = &mut run.records;
        let mut j = 0usize;
        wv.run(state, d.target_us, rng, &mut |e| match e {
            DeviceEvent::Read { g_us, read_us } => {
                j += 1;
                if first_iteration + j > iterations.len() {
                    iterations.push(Iteration::default());
                }
                let it = &mut iterations[first_iteration + j - 1];
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
                tally.pulse(j as u32, driver, polarity);
                let it = &mut iterations[first_iteration + j - 1];
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

/// The sink of a device's verify loop with its phases traced but not its devices: per iteration, the
/// devices' read and pulse energies; the tally counts pulses as untraced (its counters one stride
/// further at every read).
struct PhaseSink<'a> {
    wv: &'a WriteVerify,
    device: &'a Device,
    stride: usize,
    at: usize,
    /// Index in `iterations` of the next read's iteration.
    iteration: usize,
    iterations: &'a mut Vec<Iteration>,
    tally: &'a mut Tally,
}

impl PhaseSink<'_> {
    /// Inlined into the loop: a closure this size would stay a call per event.
    #[inline(always)]
    fn event(&mut self, e: DeviceEvent) {
        match e {
            DeviceEvent::Read { g_us, .. } => {
                self.at = self.at.wrapping_add(self.stride);
                if self.iteration == self.iterations.len() {
                    self.iterations.push(Iteration::default());
                }
                self.iterations[self.iteration].read_energy_pj += self.wv.read_energy_pj(g_us);
                self.iteration += 1;
            }
            DeviceEvent::Pulse {
                g_before_us,
                g_after_us,
                amplitude_v,
                polarity,
                ..
            } => {
                self.tally.pulse_at(self.at + polarity.index());
                self.iterations[self.iteration - 1].pulse_energy_pj +=
                    self.device.pulse_energy_pj(amplitude_v, g_before_us, g_after_us);
            }
        }
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
