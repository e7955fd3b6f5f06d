//! `events.csv`: the event trace, streamed to disk.
//!
//! Events are batched and handed to a writer thread through a bounded channel (at most
//! `QUEUED_BATCHES` x `BATCH` events in memory), which formats and writes them to a temporary file;
//! [`EventsCsv::finish`] renames it into place. Dropping the sink without finishing removes the file.
//!
//! Columns:
//! `t_ns,cycle,cycles,array,layer,layer_name,row,op,iteration,devices,pulses,adc_conversions,energy_pj`;
//! at device level also `col,g_before_us,g_after_us,read_us,target_us,amplitude_v,width_ns`, which phase
//! rows leave empty, while device rows (op `set`, `reset` or `read`) leave `cycles`, `devices`, `pulses`
//! and `adc_conversions` empty. `layer` is the layer index of `layers.csv` and `layer_name` its name there
//! (`layers.csv`'s `name`, `arrays.csv`'s `layer_name`). The names are formatted once, as CSV fields,
//! when the sink is created: a row copies its layer's bytes (no allocation or formatting per row).

use super::atomic::AtomicFile;
use super::num::{push_fixed, push_u64};
use super::record::{ArrayStats, PhaseEvent, PulseEvent};
use super::sink::{TraceLevel, TraceSink};
use std::io::{self, Write};
use std::path::Path;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Events per batch handed to the writer thread.
const BATCH: usize = 8192;
/// Batches waiting for the writer thread at most (the bound on memory).
const QUEUED_BATCHES: usize = 4;

const PHASE_HEADER: &str =
    "t_ns,cycle,cycles,array,layer,layer_name,row,op,iteration,devices,pulses,adc_conversions,energy_pj";
const DEVICE_HEADER: &str = ",col,g_before_us,g_after_us,read_us,target_us,amplitude_v,width_ns";

#[derive(Debug, Clone, Copy)]
enum Record {
    Phase(PhaseEvent),
    Pulse(PulseEvent),
}

/// A [`TraceSink`] writing `events.csv`.
#[derive(Debug)]
pub struct EventsCsv {
    batch: Vec<Record>,
    sender: Option<SyncSender<Vec<Record>>>,
    writer: Option<JoinHandle<io::Result<AtomicFile>>>,
}

impl EventsCsv {
    /// Starts writing `path` with the columns of `level` (device columns only at [`TraceLevel::Device`]);
    /// `layer_names[i]` is the name of layer index i (as [`super::layer_label`] gives it, the names of
    /// `layers.csv`); a layer index without a name gets an empty `layer_name`.
    pub fn create(path: impl AsRef<Path>, level: TraceLevel, layer_names: &[String]) -> io::Result<Self> {
        let device_columns = level == TraceLevel::Device;
        let names = LayerNames::new(layer_names);
        let mut file = AtomicFile::create(path)?;
        file.write_all(PHASE_HEADER.as_bytes())?;
        if device_columns {
            file.write_all(DEVICE_HEADER.as_bytes())?;
        }
        file.write_all(b"\n")?;
        let (sender, receiver) = sync_channel::<Vec<Record>>(QUEUED_BATCHES);
        let writer = std::thread::Builder::new()
            .name("uswim-events-csv".into())
            .spawn(move || {
                let mut text = Vec::with_capacity(BATCH * 96);
                for batch in receiver {
                    text.clear();
                    for record in &batch {
                        match record {
                            Record::Phase(e) => format_phase(&mut text, e, &names, device_columns),
                            Record::Pulse(e) => format_pulse(&mut text, e, &names),
                        }
                    }
                    file.write_all(&text)?;
                }
                Ok(file)
            })?;
        Ok(Self {
            batch: Vec::with_capacity(BATCH),
            sender: Some(sender),
            writer: Some(writer),
        })
    }

    fn push(&mut self, record: Record) -> io::Result<()> {
        self.batch.push(record);
        if self.batch.len() >= BATCH {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        let sent = self.sender.as_ref().is_some_and(|s| s.send(batch).is_ok());
        if sent {
            Ok(())
        } else {
            // The writer stopped: its result says why.
            Err(match self.join()? {
                Ok(_) => io::Error::other("events.csv writer stopped"),
                Err(e) => e,
            })
        }
    }

    fn join(&mut self) -> io::Result<io::Result<AtomicFile>> {
        self.sender = None;
        match self.writer.take() {
            Some(handle) => handle
                .join()
                .map_err(|_| io::Error::other("events.csv writer panicked")),
            None => Err(io::Error::other("events.csv writer already finished")),
        }
    }

    /// Writes the remaining events and renames the file into place.
    pub fn finish(mut self) -> io::Result<()> {
        self.send()?;
        self.join()??.commit()
    }
}

impl Drop for EventsCsv {
    fn drop(&mut self) {
        // Unfinished: stop the writer; its temporary file is removed when its AtomicFile drops.
        let _ = self.join();
    }
}

impl TraceSink for EventsCsv {
    fn on_phase(&mut self, event: &PhaseEvent) -> io::Result<()> {
        self.push(Record::Phase(*event))
    }

    fn on_pulse(&mut self, event: &PulseEvent) -> io::Result<()> {
        self.push(Record::Pulse(*event))
    }

    fn on_array_done(&mut self, _: &ArrayStats) -> io::Result<()> {
        Ok(())
    }
}

/// The layer names as CSV fields (quoted when they hold a comma, a quote or a line break), by layer index.
#[derive(Debug)]
struct LayerNames {
    fields: Vec<Box<[u8]>>,
}

impl LayerNames {
    fn new(names: &[String]) -> Self {
        Self {
            fields: names.iter().map(|n| csv_field(n).into_boxed_slice()).collect(),
        }
    }

    /// The field of layer `layer` (empty for an index without a name).
    #[inline]
    fn field(&self, layer: u32) -> &[u8] {
        self.fields.get(layer as usize).map_or(&[], |f| f)
    }
}

/// `text` as one CSV field (RFC 4180): as is, or in double quotes with its quotes doubled.
fn csv_field(text: &str) -> Vec<u8> {
    if !text.contains([',', '"', '\n', '\r']) {
        return text.as_bytes().to_vec();
    }
    let mut field = Vec::with_capacity(text.len() + 2);
    field.push(b'"');
    for &b in text.as_bytes() {
        if b == b'"' {
            field.push(b'"');
        }
        field.push(b);
    }
    field.push(b'"');
    field
}

/// The columns `array,layer,layer_name,row,op,iteration`, which phase and device rows share.
fn push_place(
    out: &mut Vec<u8>,
    array: u32,
    layer: u32,
    names: &LayerNames,
    row: u32,
    op: &str,
    iteration: u32,
) {
    push_u64(out, array.into());
    out.push(b',');
    push_u64(out, layer.into());
    out.push(b',');
    out.extend_from_slice(names.field(layer));
    out.push(b',');
    push_u64(out, row.into());
    out.push(b',');
    out.extend_from_slice(op.as_bytes());
    out.push(b',');
    push_u64(out, iteration.into());
}

fn format_phase(out: &mut Vec<u8>, e: &PhaseEvent, names: &LayerNames, device_columns: bool) {
    push_fixed(out, e.t_ns, 3);
    out.push(b',');
    push_u64(out, e.cycle);
    out.push(b',');
    push_u64(out, e.cycles);
    out.push(b',');
    push_place(out, e.array, e.layer, names, e.row, e.op.name(), e.iteration);
    out.push(b',');
    push_u64(out, e.devices.into());
    out.push(b',');
    push_u64(out, e.pulses.into());
    out.push(b',');
    push_u64(out, e.adc_conversions.into());
    out.push(b',');
    push_fixed(out, e.energy_pj, 6);
    if device_columns {
        out.extend_from_slice(b",,,,,,,");
    }
    out.push(b'\n');
}

fn format_pulse(out: &mut Vec<u8>, e: &PulseEvent, names: &LayerNames) {
    push_fixed(out, e.t_ns, 3);
    out.push(b',');
    push_u64(out, e.cycle);
    out.extend_from_slice(b",,");
    push_place(out, e.array, e.layer, names, e.row, e.op.name(), e.iteration);
    out.extend_from_slice(b",,,,");
    push_fixed(out, e.energy_pj, 9);
    out.push(b',');
    push_u64(out, e.col.into());
    out.push(b',');
    push_fixed(out, e.g_before_us.into(), 5);
    out.push(b',');
    push_fixed(out, e.g_after_us.into(), 5);
    out.push(b',');
    if !e.read_us.is_nan() {
        push_fixed(out, e.read_us.into(), 5);
    }
    out.push(b',');
    push_fixed(out, e.target_us.into(), 5);
    out.push(b',');
    push_fixed(out, e.amplitude_v.into(), 4);
    out.push(b',');
    push_fixed(out, e.width_ns.into(), 3);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::record::{DeviceOp, PhaseOp};

    fn phase(i: u32) -> PhaseEvent {
        PhaseEvent {
            cycle: u64::from(i) * 3,
            t_ns: f64::from(i) * 15.0,
            cycles: 3,
            array: 1,
            channel: 0,
            layer: 0,
            row: i,
            op: PhaseOp::VerifyRead,
            iteration: 2,
            devices: 7,
            pulses: 0,
            adc_conversions: 7,
            energy_pj: 14.25,
        }
    }

    #[test]
    fn rows_stream_to_a_file_that_appears_only_on_finish() {
        let dir = std::env::temp_dir().join(format!("uswim-events-{}", std::process::id()));
        let path = dir.join("events.csv");
        let names = vec!["conv1".to_string(), "fc, \"last\"".to_string()];
        let mut sink = EventsCsv::create(&path, TraceLevel::Device, &names).unwrap();
        for i in 0..(BATCH as u32 * 2 + 5) {
            sink.on_phase(&phase(i)).unwrap();
        }
        sink.on_pulse(&PulseEvent {
            cycle: 9,
            t_ns: 45.0,
            array: 1,
            layer: 1,
            row: 2,
            col: 5,
            op: DeviceOp::Read,
            iteration: 1,
            g_before_us: 10.5,
            g_after_us: 10.5,
            read_us: 10.25,
            target_us: 10.0,
            amplitude_v: 0.1,
            width_ns: 10.0,
            energy_pj: 0.00105,
        })
        .unwrap();
        assert!(!path.exists());
        sink.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + BATCH * 2 + 5 + 1);
        assert_eq!(lines[0], format!("{PHASE_HEADER}{DEVICE_HEADER}"));
        assert_eq!(lines[3], "30,6,3,1,0,conv1,2,verify_read,2,7,0,7,14.25,,,,,,,");
        assert_eq!(
            *lines.last().unwrap(),
            "45,9,,1,1,\"fc, \"\"last\"\"\",2,read,1,,,,0.00105,5,10.5,10.5,10.25,10,0.1,10"
        );
        // Every row has the header's columns, and a CSV reader gets the name back.
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let columns = reader.headers().unwrap().len();
        let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert!(records.iter().all(|r| r.len() == columns));
        assert_eq!(&records[0][5], "conv1");
        assert_eq!(&records.last().unwrap()[5], "fc, \"last\"");

        // Dropped before finishing: nothing under the final name, no temporary file left.
        let other = dir.join("partial.csv");
        let mut sink = EventsCsv::create(&other, TraceLevel::Phase, &names).unwrap();
        sink.on_phase(&phase(0)).unwrap();
        drop(sink);
        assert!(!other.exists());
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("events.csv")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
