//! `timeline.json`: the programming schedule in the Chrome trace-event format, which Perfetto
//! (ui.perfetto.dev) and chrome://tracing open.
//!
//! One process (the chip) with one track per programming channel. On a channel's track the arrays it
//! programmed are slices named by their layer (so the arrays of one layer share a colour), the rows (row
//! groups) of each array are slices nested in it, and the phases of each row (`row_setup`, `write`,
//! `verify_read`, `verify_pulse`, the `op` names of `events.csv`) are slices nested in the row. The phases
//! of a row tile it, the rows of an array tile it (when every row is traced), and the arrays of a channel
//! tile its busy time. One counter track per channel, `pending devices, channel C`, holds the devices of
//! the current row still being verified: the devices read at each verify read, the devices pulsed at each
//! verify pulse, 0 from each row's setup and after the channel's last array.
//!
//! Times (`ts`, `dur`) are in microseconds, the format's unit, computed from controller cycles so that
//! adjacent slices share their boundary; `displayTimeUnit` is `ns`. Slices carry their counts and energy
//! in `args`.
//!
//! The file is streamed: events are written as they arrive, through a buffered writer, under a temporary
//! name renamed by [`Timeline::finish`]. Per channel at most two rows of phases are held back: the current
//! row until it ends (its duration is known only then), and the first traced row of the current array
//! until the array's slice has been written before it, so that viewers breaking timestamp ties by file
//! order nest the row inside the array. Memory is O(channels x phases per row), whatever the network.
//!
//! Arrays whose rows are not traced (`--trace-arrays`, `--trace-sample`) appear as slices without rows.

use super::atomic::AtomicFile;
use super::record::{ArrayStats, PhaseEvent, PhaseOp};
use super::sink::TraceSink;
use serde::Serialize;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// The process id of the chip in the trace.
const PID: u32 = 1;

/// A [`TraceSink`] writing `timeline.json`.
#[derive(Debug)]
pub struct Timeline {
    out: BufWriter<AtomicFile>,
    us_per_cycle: f64,
    layer_names: Vec<String>,
    channels: Vec<Channel>,
    events_written: u64,
}

/// What the timeline holds for one channel.
#[derive(Debug, Default)]
struct Channel {
    /// Whether its track has been named.
    named: bool,
    /// The array being programmed (from its phases), if any.
    array: Option<u32>,
    /// Rows of the current array already closed.
    rows_closed: u32,
    /// Phases of the current row.
    row: Vec<PhaseEvent>,
    /// The first row of the current array, held until the array's slice is written.
    first_row: Vec<PhaseEvent>,
    /// The last value of its pending-devices counter.
    pending: Option<u32>,
}

/// A slice: a complete (`X`) event.
#[derive(Serialize)]
struct Slice<'a, A: Serialize> {
    name: &'a str,
    cat: &'static str,
    ph: &'static str,
    ts: f64,
    dur: f64,
    pid: u32,
    tid: u32,
    args: A,
}

/// A counter (`C`) event.
#[derive(Serialize)]
struct Counter<'a> {
    name: &'a str,
    ph: &'static str,
    ts: f64,
    pid: u32,
    args: PendingArgs,
}

/// A metadata (`M`) event naming or ordering a process or a track.
#[derive(Serialize)]
struct Meta<A: Serialize> {
    name: &'static str,
    ph: &'static str,
    pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    tid: Option<u32>,
    args: A,
}

#[derive(Serialize)]
struct NameArgs<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct SortArgs {
    sort_index: u32,
}

#[derive(Serialize)]
struct PendingArgs {
    devices: u32,
}

/// `args` of an array slice.
#[derive(Serialize)]
struct ArrayArgs<'a> {
    array: u32,
    layer: u32,
    layer_name: &'a str,
    rows_used: u32,
    cols_used: u32,
    devices: u64,
    selected_devices: u64,
    pulses: u64,
    verify_reads: u64,
    adc_conversions: u64,
    failed_devices: u64,
    energy_pj: f64,
}

/// `args` of a row slice.
#[derive(Serialize)]
struct RowArgs {
    array: u32,
    row: u32,
    phases: usize,
    verify_iterations: u32,
    energy_pj: f64,
}

/// `args` of a phase slice.
#[derive(Serialize)]
struct PhaseArgs {
    array: u32,
    row: u32,
    iteration: u32,
    devices: u32,
    pulses: u32,
    adc_conversions: u32,
    energy_pj: f64,
}

/// Trace-wide data in the file's `otherData`.
#[derive(Serialize)]
struct OtherData<'a> {
    generator: String,
    title: &'a str,
    clock_mhz: f64,
}

impl Timeline {
    /// Starts writing `path`: `clock_mhz` converts cycles to time, `layer_names` (by layer index) name the
    /// array slices, `title` names the chip's process (e.g. the hardware configuration's name).
    pub fn create(
        path: impl AsRef<Path>,
        clock_mhz: f64,
        layer_names: Vec<String>,
        title: &str,
    ) -> io::Result<Self> {
        if !(clock_mhz > 0.0 && clock_mhz.is_finite()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("timeline: clock {clock_mhz} MHz is not a positive frequency"),
            ));
        }
        let mut out = BufWriter::new(AtomicFile::create(path)?);
        let other = OtherData {
            generator: format!("uswim {}", env!("CARGO_PKG_VERSION")),
            title,
            clock_mhz,
        };
        out.write_all(b"{\"displayTimeUnit\":\"ns\",\"otherData\":")?;
        serde_json::to_writer(&mut out, &other)?;
        out.write_all(b",\"traceEvents\":[\n")?;
        let mut timeline = Self {
            out,
            us_per_cycle: 1.0 / clock_mhz,
            layer_names,
            channels: Vec::new(),
            events_written: 0,
        };
        let process = format!("uswim chip: {title}");
        timeline.write(&Meta {
            name: "process_name",
            ph: "M",
            pid: PID,
            tid: None,
            args: NameArgs { name: &process },
        })?;
        Ok(timeline)
    }

    /// Completes the file and renames it into place.
    pub fn finish(mut self) -> io::Result<()> {
        for c in 0..self.channels.len() {
            let pending = std::mem::take(&mut self.channels[c].row);
            if !pending.is_empty() {
                self.write_row(c as u32, &pending)?;
            }
            let first = std::mem::take(&mut self.channels[c].first_row);
            if !first.is_empty() {
                self.write_row(c as u32, &first)?;
            }
        }
        self.out.write_all(b"\n]}\n")?;
        self.out.into_inner().map_err(|e| e.into_error())?.commit()
    }

    /// Events written so far (metadata included).
    pub fn events_written(&self) -> u64 {
        self.events_written
    }

    fn us(&self, cycle: u64) -> f64 {
        cycle as f64 * self.us_per_cycle
    }

    fn write<T: Serialize>(&mut self, event: &T) -> io::Result<()> {
        if self.events_written > 0 {
            self.out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut self.out, event)?;
        self.events_written += 1;
        Ok(())
    }

    /// The state of `channel`, naming its tracks the first time it appears.
    fn channel(&mut self, channel: u32) -> io::Result<&mut Channel> {
        let c = channel as usize;
        if self.channels.len() <= c {
            self.channels.resize_with(c + 1, Channel::default);
        }
        if !self.channels[c].named {
            self.channels[c].named = true;
            let name = format!("channel {channel}");
            self.write(&Meta {
                name: "thread_name",
                ph: "M",
                pid: PID,
                tid: Some(channel),
                args: NameArgs { name: &name },
            })?;
            self.write(&Meta {
                name: "thread_sort_index",
                ph: "M",
                pid: PID,
                tid: Some(channel),
                args: SortArgs { sort_index: channel },
            })?;
        }
        Ok(&mut self.channels[c])
    }

    fn set_pending(&mut self, channel: u32, cycle: u64, devices: u32) -> io::Result<()> {
        let c = &mut self.channels[channel as usize];
        if c.pending == Some(devices) {
            return Ok(());
        }
        c.pending = Some(devices);
        let name = format!("pending devices, channel {channel}");
        let ts = self.us(cycle);
        self.write(&Counter {
            name: &name,
            ph: "C",
            ts,
            pid: PID,
            args: PendingArgs { devices },
        })
    }

    /// Writes a row's slice, then its phases' slices.
    fn write_row(&mut self, channel: u32, phases: &[PhaseEvent]) -> io::Result<()> {
        let (Some(first), Some(last)) = (phases.first(), phases.last()) else {
            return Ok(());
        };
        let start = self.us(first.cycle);
        let end = self.us(last.cycle + last.cycles);
        let name = format!("row {}", first.row);
        self.write(&Slice {
            name: &name,
            cat: "row",
            ph: "X",
            ts: start,
            dur: end - start,
            pid: PID,
            tid: channel,
            args: RowArgs {
                array: first.array,
                row: first.row,
                phases: phases.len(),
                verify_iterations: phases.iter().map(|p| p.iteration).max().unwrap_or(0),
                energy_pj: phases.iter().map(|p| p.energy_pj).sum(),
            },
        })?;
        for p in phases {
            let ts = self.us(p.cycle);
            let dur = self.us(p.cycle + p.cycles) - ts;
            self.write(&Slice {
                name: p.op.name(),
                cat: "phase",
                ph: "X",
                ts,
                dur,
                pid: PID,
                tid: channel,
                args: PhaseArgs {
                    array: p.array,
                    row: p.row,
                    iteration: p.iteration,
                    devices: p.devices,
                    pulses: p.pulses,
                    adc_conversions: p.adc_conversions,
                    energy_pj: p.energy_pj,
                },
            })?;
        }
        Ok(())
    }

    /// Closes the current row of `channel`: written now, or held if it is its array's first.
    fn close_row(&mut self, channel: u32) -> io::Result<()> {
        let c = &mut self.channels[channel as usize];
        if c.row.is_empty() {
            return Ok(());
        }
        let row = std::mem::take(&mut c.row);
        c.rows_closed += 1;
        if c.rows_closed == 1 {
            c.first_row = row;
            return Ok(());
        }
        self.write_row(channel, &row)?;
        // Reuse the buffer for the next row.
        let c = &mut self.channels[channel as usize];
        c.row = row;
        c.row.clear();
        Ok(())
    }
}

impl TraceSink for Timeline {
    fn on_phase(&mut self, event: &PhaseEvent) -> io::Result<()> {
        let c = self.channel(event.channel)?;
        if c.array != Some(event.array) {
            c.array = Some(event.array);
            c.rows_closed = 0;
        }
        let new_row = event.op == PhaseOp::RowSetup;
        if new_row {
            self.close_row(event.channel)?;
        }
        self.channels[event.channel as usize].row.push(*event);
        match event.op {
            PhaseOp::RowSetup => self.set_pending(event.channel, event.cycle, 0),
            PhaseOp::VerifyRead | PhaseOp::VerifyPulse => {
                self.set_pending(event.channel, event.cycle, event.devices)
            }
            PhaseOp::Write => Ok(()),
        }
    }

    fn on_array_done(&mut self, stats: &ArrayStats) -> io::Result<()> {
        self.channel(stats.channel)?;
        self.close_row(stats.channel)?;
        let layer_name = self
            .layer_names
            .get(stats.layer as usize)
            .cloned()
            .unwrap_or_else(|| format!("layer {}", stats.layer));
        let start = self.us(stats.start_cycle);
        let end = self.us(stats.end_cycle);
        self.write(&Slice {
            name: &layer_name,
            cat: "array",
            ph: "X",
            ts: start,
            dur: end - start,
            pid: PID,
            tid: stats.channel,
            args: ArrayArgs {
                array: stats.array,
                layer: stats.layer,
                layer_name: &layer_name,
                rows_used: stats.rows_used,
                cols_used: stats.cols_used,
                devices: stats.counts.devices,
                selected_devices: stats.counts.selected_devices,
                pulses: stats.counts.pulses,
                verify_reads: stats.counts.verify_reads,
                adc_conversions: stats.counts.adc_conversions,
                failed_devices: stats.counts.failed_devices,
                energy_pj: stats.energy.total_pj(),
            },
        })?;
        let first = std::mem::take(&mut self.channels[stats.channel as usize].first_row);
        self.write_row(stats.channel, &first)?;
        let c = &mut self.channels[stats.channel as usize];
        c.first_row = first;
        c.first_row.clear();
        c.array = None;
        c.rows_closed = 0;
        self.set_pending(stats.channel, stats.end_cycle, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::record::{Counts, Energy};

    fn phase(channel: u32, array: u32, row: u32, op: PhaseOp, cycle: u64, cycles: u64) -> PhaseEvent {
        PhaseEvent {
            cycle,
            t_ns: cycle as f64 * 10.0,
            cycles,
            array,
            channel,
            layer: 0,
            row,
            op,
            iteration: u32::from(matches!(op, PhaseOp::VerifyRead | PhaseOp::VerifyPulse)),
            devices: 4,
            pulses: 0,
            adc_conversions: 0,
            energy_pj: 1.0,
        }
    }

    fn done(channel: u32, array: u32, start: u64, end: u64) -> ArrayStats {
        ArrayStats {
            array,
            layer: 0,
            channel,
            rows_used: 2,
            cols_used: 8,
            start_cycle: start,
            end_cycle: end,
            start_ns: start as f64 * 10.0,
            end_ns: end as f64 * 10.0,
            counts: Counts::default(),
            energy: Energy::default(),
        }
    }

    #[test]
    fn two_rows_nest_in_their_array_and_the_array_precedes_its_first_row() {
        let dir = std::env::temp_dir().join(format!("uswim-timeline-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.json");
        let mut t = Timeline::create(&path, 100.0, vec!["fc1".into()], "test").unwrap();
        for e in [
            phase(0, 0, 0, PhaseOp::RowSetup, 0, 2),
            phase(0, 0, 0, PhaseOp::Write, 2, 5),
            phase(0, 0, 0, PhaseOp::VerifyRead, 7, 3),
            phase(0, 0, 1, PhaseOp::RowSetup, 10, 2),
            phase(0, 0, 1, PhaseOp::Write, 12, 5),
        ] {
            t.on_phase(&e).unwrap();
        }
        t.on_array_done(&done(0, 0, 0, 17)).unwrap();
        t.finish().unwrap();
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let events = json["traceEvents"].as_array().unwrap();
        let slices: Vec<(&str, &str, f64, f64)> = events
            .iter()
            .filter(|e| e["ph"] == "X")
            .map(|e| {
                (
                    e["cat"].as_str().unwrap(),
                    e["name"].as_str().unwrap(),
                    e["ts"].as_f64().unwrap(),
                    e["dur"].as_f64().unwrap(),
                )
            })
            .collect();
        // 100 MHz: 0.01 us per cycle. Row 1 is written when it ends; the array, then row 0, at the end.
        let expected = [
            ("row", "row 1", 0.10, 0.07),
            ("phase", "row_setup", 0.10, 0.02),
            ("phase", "write", 0.12, 0.05),
            ("array", "fc1", 0.0, 0.17),
            ("row", "row 0", 0.0, 0.10),
            ("phase", "row_setup", 0.0, 0.02),
            ("phase", "write", 0.02, 0.05),
            ("phase", "verify_read", 0.07, 0.03),
        ];
        assert_eq!(slices.len(), expected.len(), "{slices:?}");
        for (got, want) in slices.iter().zip(expected) {
            assert_eq!((got.0, got.1), (want.0, want.1));
            assert!(
                (got.2 - want.2).abs() < 1e-12 && (got.3 - want.3).abs() < 1e-12,
                "{got:?} {want:?}"
            );
        }
        let counters: Vec<u64> = events
            .iter()
            .filter(|e| e["ph"] == "C")
            .map(|e| e["args"]["devices"].as_u64().unwrap())
            .collect();
        assert_eq!(counters, [0, 4, 0]);
        assert_eq!(json["displayTimeUnit"], "ns");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
