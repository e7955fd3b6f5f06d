//! The chip: one event queue, a state machine per busy programming channel, and the scheduler that starts
//! arrays on `parallel_arrays` channels as they free up (arrays in id order, each on the first channel to
//! free; at time 0 on channels 0, 1, ...).
//!
//! Each array's state machine walks its script ([`ArrayRun`]) phase by phase: row setup, open-loop write,
//! then verify read j and verify pulse j while devices are pending, then the next row group. At the start
//! of each phase it reports the phase (and, at device level, the phase's device events) to the trace sink
//! and schedules the phase's end. Events are a closed enum; the queue knows nothing about physics.

use super::array::{ArrayRun, Iteration, Phase, Timing};
use super::queue::EventQueue;
use super::time::Cycle;
use crate::map::Mapped;
use crate::periph::Clock;
use crate::trace::{ArrayStats, PhaseEvent, PhaseOp, PulseEvent, TraceFilter, TraceSink};
use std::collections::VecDeque;
use std::io;

/// What happens on the chip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// A channel is free: start the next array on it, if any is left.
    Start {
        /// The channel.
        channel: u32,
    },
    /// The current phase of the array on a channel ends.
    PhaseEnd {
        /// The channel.
        channel: u32,
    },
}

/// The state machine of an array being programmed: where it is in its script.
#[derive(Debug)]
struct Machine {
    run: ArrayRun,
    group: usize,
    phase: Phase,
    record: usize,
    start: Cycle,
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
    channels: Vec<Option<Machine>>,
    next_array: u32,
    loaded: VecDeque<ArrayRun>,
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
        let mut queue = EventQueue::new();
        for channel in 0..channels {
            queue.schedule(Cycle::ZERO, Event::Start { channel });
        }
        Self {
            queue,
            channels: (0..channels).map(|_| None).collect(),
            next_array: 0,
            loaded: VecDeque::new(),
            mapped,
            timing,
            clock,
            filter,
            stats: vec![None; arrays as usize],
            conductances_us: keep_conductances.then(|| vec![0.0; mapped.num_devices() as usize]),
        }
    }

    /// Hands the chip computed arrays, which must be the next ones in id order.
    pub fn load(&mut self, runs: Vec<ArrayRun>) {
        self.loaded.extend(runs);
    }

    /// Plays events until every array is done (`true`) or the next array to start has not been loaded
    /// yet (`false`; nothing has been consumed, so loading it and calling again continues exactly).
    pub fn run<S: TraceSink>(&mut self, sink: &mut S) -> io::Result<bool> {
        let arrays = self.mapped.num_arrays();
        loop {
            match self.queue.peek() {
                None => return Ok(true),
                Some((_, Event::Start { .. })) if self.next_array < arrays && self.loaded.is_empty() => {
                    return Ok(false);
                }
                _ => {}
            }
            let Some((now, event)) = self.queue.pop() else {
                return Ok(true);
            };
            match event {
                Event::Start { channel } => {
                    if self.next_array == arrays {
                        continue;
                    }
                    let run = self.loaded.pop_front().expect("checked before popping");
                    debug_assert_eq!(run.array, self.next_array, "arrays load in id order");
                    self.next_array += 1;
                    let machine = Machine {
                        run,
                        group: 0,
                        phase: Phase::Setup,
                        record: 0,
                        start: now,
                    };
                    self.channels[channel as usize] = Some(machine);
                    self.begin_phase(channel, now, sink)?;
                }
                Event::PhaseEnd { channel } => {
                    let machine = self.channels[channel as usize]
                        .as_mut()
                        .expect("a phase ends on a busy channel");
                    if machine.advance() {
                        self.begin_phase(channel, now, sink)?;
                    } else {
                        let machine = self.channels[channel as usize].take().expect("busy channel");
                        self.finish(machine, channel, now, sink)?;
                        self.queue.schedule(now, Event::Start { channel });
                    }
                }
            }
        }
    }

    /// Reports the phase the machine on `channel` is at and schedules its end.
    fn begin_phase<S: TraceSink>(&mut self, channel: u32, now: Cycle, sink: &mut S) -> io::Result<()> {
        let m = self.channels[channel as usize].as_mut().expect("busy channel");
        let phase = m.played(&self.timing);
        let array = m.run.array;
        let row = m.run.groups[m.group].row;
        if self.filter.wants_row(array, row) {
            sink.on_phase(&PhaseEvent {
                cycle: now.get(),
                t_ns: now.to_ns(&self.clock).get(),
                cycles: phase.cycles.get(),
                array,
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
        self.queue
            .schedule(now + phase.cycles, Event::PhaseEnd { channel });
        Ok(())
    }

    fn finish<S: TraceSink>(&mut self, m: Machine, channel: u32, now: Cycle, sink: &mut S) -> io::Result<()> {
        let array = m.run.array;
        let tile = self.mapped.tiles()[array as usize];
        let stats = ArrayStats {
            array,
            layer: m.run.layer,
            channel,
            rows_used: tile.rows,
            cols_used: tile.outputs * self.mapped.spec().devices_per_weight(),
            start_cycle: m.start.get(),
            end_cycle: now.get(),
            start_ns: m.start.to_ns(&self.clock).get(),
            end_ns: now.to_ns(&self.clock).get(),
            counts: m.run.counts,
            energy: m.run.energy,
        };
        if let (Some(all), Some(mine)) = (self.conductances_us.as_mut(), m.run.conductances_us.as_ref()) {
            let range = self.mapped.device_range(array);
            all[range.start as usize..range.end as usize].copy_from_slice(mine);
        }
        sink.on_array_done(&stats)?;
        self.stats[array as usize] = Some(stats);
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
