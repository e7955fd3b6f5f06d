//! The chip: the scheduler that starts arrays on `parallel_arrays` programming channels, and the event
//! queue that plays the traced arrays' phases in time order.
//!
//! Scheduling is list scheduling, decided as arrays arrive: arrays in id order, each on the channel that
//! frees first (ties to the lowest channel; at cycle 0 on channels 0, 1, ...), for the busy time its
//! script adds up to ([`ArrayRun::cycles`]). An array's start, end and channel are thus known when it is
//! loaded, and an untraced array needs no event but its end (which reports it to the sink in time order).
//!
//! A traced array's state machine walks its script phase by phase: row setup, open-loop write, then
//! verify read j and verify pulse j while devices are pending, then the next row group. At the start of
//! each phase it reports the phase (and, at device level, the phase's device events) to the trace sink
//! and schedules the next phase. Events at the same cycle play in a fixed order (array ends first, then
//! phases, each by array id), so the trace never depends on how arrays were batched over threads.
//! Events are a closed enum; the queue knows nothing about physics.

use super::array::{ArrayRun, Iteration, Phase, Timing};
use super::queue::EventQueue;
use super::time::Cycle;
use crate::map::Mapped;
use crate::periph::Clock;
use crate::trace::{ArrayStats, PhaseEvent, PhaseOp, PulseEvent, TraceFilter, TraceSink};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io;

/// What happens on the chip, in the order events of the same cycle play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// An array is done: report it.
    Done {
        /// The array.
        array: u32,
    },
    /// The next phase of a traced array begins.
    Phase {
        /// The array.
        array: u32,
    },
}

/// The state machine of a traced array being played: where it is in its script.
#[derive(Debug)]
struct Machine {
    run: ArrayRun,
    channel: u32,
    group: usize,
    phase: Phase,
    record: usize,
}

/// One phase as it plays.
struct Played {
    op: PhaseOp,
    iteration: u32,
    devices: u32,
    pulses: u32,
    adc_conversions: u32,
    energy_pj: f64,
    cycles: Cycle,
}

impl Machine {
    fn iteration(&self, j: u32) -> &Iteration {
        let g = &self.run.groups[self.group];
        &self.run.iterations[(g.iterations.start + j - 1) as usize]
    }

    fn played(&self, t: &Timing) -> Played {
        let g = &self.run.groups[self.group];
        match self.phase {
            Phase::Setup => Played {
                op: PhaseOp::RowSetup,
                iteration: 0,
                devices: g.devices,
                pulses: 0,
                adc_conversions: 0,
                energy_pj: t.setup_pj,
                cycles: t.setup,
            },
            Phase::Write => Played {
                op: PhaseOp::Write,
                iteration: 0,
                devices: g.devices,
                pulses: g.write_pulses,
                adc_conversions: 0,
                energy_pj: g.write_energy_pj,
                cycles: t.pulse_cycles(g.write_slots),
            },
            Phase::VerifyRead(j) => {
                let it = self.iteration(j);
                Played {
                    op: PhaseOp::VerifyRead,
                    iteration: j,
                    devices: it.pending,
                    pulses: 0,
                    adc_conversions: it.pending,
                    energy_pj: it.read_energy_pj,
                    cycles: t.read_cycles(it.conversions),
                }
            }
            Phase::VerifyPulse(j) => {
                let it = self.iteration(j);
                Played {
                    op: PhaseOp::VerifyPulse,
                    iteration: j,
                    devices: it.pulses,
                    pulses: it.pulses,
                    adc_conversions: 0,
                    energy_pj: it.pulse_energy_pj,
                    cycles: t.pulse_cycles(it.slots),
                }
            }
        }
    }

    /// Moves to the next phase; false when the array is done.
    fn advance(&mut self) -> bool {
        let verify_iterations = self.run.groups[self.group].iterations.len() as u32;
        let next = match self.phase {
            Phase::Setup => Some(Phase::Write),
            Phase::Write => (verify_iterations > 0).then_some(Phase::VerifyRead(1)),
            // After read j, pulse j if any device is still out of band.
            Phase::VerifyRead(j) => (self.iteration(j).pulses > 0).then_some(Phase::VerifyPulse(j)),
            // After pulse j, read j + 1 (the devices pulsed are exactly those read next).
            Phase::VerifyPulse(j) => Some(Phase::VerifyRead(j + 1)),
        };
        match next {
            Some(p) => self.phase = p,
            None => {
                self.group += 1;
                self.phase = Phase::Setup;
            }
        }
        self.group < self.run.groups.len()
    }
}

/// The chip's timeline.
#[derive(Debug)]
pub(crate) struct Chip<'a> {
    queue: EventQueue<Event>,
    /// When each channel frees, with its id: the earliest (then the lowest channel) on top.
    free: BinaryHeap<Reverse<(Cycle, u32)>>,
    next_array: u32,
    /// The traced arrays being played, by id.
    machines: BTreeMap<u32, Machine>,
    mapped: &'a Mapped,
    timing: Timing,
    clock: Clock,
    filter: &'a TraceFilter,
    stats: Vec<Option<ArrayStats>>,
    conductances_us: Option<Vec<f32>>,
}

impl<'a> Chip<'a> {
    /// A chip with `channels` programming channels, all free at cycle 0.
    pub fn new(
        mapped: &'a Mapped,
        timing: Timing,
        clock: Clock,
        channels: u32,
        filter: &'a TraceFilter,
        keep_conductances: bool,
    ) -> Self {
        let arrays = mapped.num_arrays();
        let channels = channels.min(arrays);
        Self {
            queue: EventQueue::new(),
            free: (0..channels).map(|c| Reverse((Cycle::ZERO, c))).collect(),
            next_array: 0,
            machines: BTreeMap::new(),
            mapped,
            timing,
            clock,
            filter,
            stats: vec![None; arrays as usize],
            conductances_us: keep_conductances.then(|| vec![0.0; mapped.num_devices() as usize]),
        }
    }

    /// Hands the chip computed arrays, which must be the next ones in id order: each starts on the
    /// channel that frees first.
    pub fn load(&mut self, runs: Vec<ArrayRun>) {
        for run in runs {
            debug_assert_eq!(run.array, self.next_array, "arrays load in id order");
            self.next_array += 1;
            let Reverse((start, channel)) = self.free.pop().expect("a chip has a channel");
            let end = start + run.cycles;
            self.free.push(Reverse((end, channel)));
            let array = run.array;
            let tile = self.mapped.tiles()[array as usize];
            self.stats[array as usize] = Some(ArrayStats {
                array,
                layer: run.layer,
                channel,
                rows_used: tile.rows,
                cols_used: tile.outputs * self.mapped.spec().devices_per_weight(),
                start_cycle: start.get(),
                end_cycle: end.get(),
                start_ns: start.to_ns(&self.clock).get(),
                end_ns: end.to_ns(&self.clock).get(),
                counts: run.counts,
                energy: run.energy,
            });
            if let (Some(all), Some(mine)) = (self.conductances_us.as_mut(), run.conductances_us.as_ref()) {
                let range = self.mapped.device_range(array);
                all[range.start as usize..range.end as usize].copy_from_slice(mine);
            }
            if self.filter.wants_array(array) && !run.groups.is_empty() {
                let machine = Machine {
                    run,
                    channel,
                    group: 0,
                    phase: Phase::Setup,
                    record: 0,
                };
                self.machines.insert(array, machine);
                self.queue.schedule(start, Event::Phase { array });
            } else {
                self.queue.schedule(end, Event::Done { array });
            }
        }
    }

    /// Plays events until every array is done (`true`), or up to the cycle at which the next array not
    /// yet loaded would start (`false`; loading it and calling again continues exactly as if it had been
    /// loaded before).
    pub fn run<S: TraceSink>(&mut self, sink: &mut S) -> io::Result<bool> {
        let all_loaded = self.next_array == self.mapped.num_arrays();
        let horizon = (!all_loaded).then(|| self.free.peek().map_or(Cycle::ZERO, |Reverse((at, _))| *at));
        while let Some((at, _)) = self.queue.peek() {
            if horizon.is_some_and(|h| at >= h) {
                return Ok(false);
            }
            let (now, event) = self.queue.pop().expect("peeked");
            match event {
                Event::Phase { array } => self.play_phase(array, now, sink)?,
                Event::Done { array } => {
                    sink.on_array_done(self.stats[array as usize].as_ref().expect("loaded"))?;
                }
            }
        }
        Ok(all_loaded)
    }

    /// Reports the phase the machine of `array` is at and schedules the next one (or the array's end).
    fn play_phase<S: TraceSink>(&mut self, array: u32, now: Cycle, sink: &mut S) -> io::Result<()> {
        let m = self.machines.get_mut(&array).expect("a traced array plays");
        let phase = m.played(&self.timing);
        let row = m.run.groups[m.group].row;
        if self.filter.wants_row(array, row) {
            sink.on_phase(&PhaseEvent {
                cycle: now.get(),
                t_ns: now.to_ns(&self.clock).get(),
                cycles: phase.cycles.get(),
                array,
                channel: m.channel,
                layer: m.run.layer,
                row,
                op: phase.op,
                iteration: phase.iteration,
                devices: phase.devices,
                pulses: phase.pulses,
                adc_conversions: phase.adc_conversions,
                energy_pj: phase.energy_pj,
            })?;
        }
        let key = (m.group as u32, m.phase.order());
        while let Some(r) = m.run.records.get(m.record) {
            let place = (r.group, r.phase.order());
            if place > key {
                break;
            }
            m.record += 1;
            if place < key || !self.filter.wants_row(array, r.row) {
                continue;
            }
            let cycle = now + r.offset;
            sink.on_pulse(&PulseEvent {
                cycle: cycle.get(),
                t_ns: cycle.to_ns(&self.clock).get(),
                array,
                layer: m.run.layer,
                row: r.row,
                col: r.col,
                op: r.op,
                iteration: phase.iteration,
                g_before_us: r.g_before_us,
                g_after_us: r.g_after_us,
                read_us: r.read_us,
                target_us: r.target_us,
                amplitude_v: r.amplitude_v,
                width_ns: r.width_ns,
                energy_pj: r.energy_pj,
            })?;
        }
        let next = now + phase.cycles;
        if m.advance() {
            self.queue.schedule(next, Event::Phase { array });
        } else {
            debug_assert_eq!(
                next.get(),
                self.stats[array as usize].as_ref().expect("loaded").end_cycle,
                "the phases add up to the array's busy time"
            );
            self.machines.remove(&array);
            self.queue.schedule(next, Event::Done { array });
        }
        Ok(())
    }

    /// Per-array statistics (in array id order) and the final conductances, once [`Chip::run`] returned
    /// `true`.
    pub fn into_results(self) -> (Vec<ArrayStats>, Option<Vec<f32>>) {
        let stats = self
            .stats
            .into_iter()
            .map(|s| s.expect("every array finished"))
            .collect();
        (stats, self.conductances_us)
    }
}
