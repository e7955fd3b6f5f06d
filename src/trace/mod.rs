//! Traces and result files: the only module that writes them (DESIGN.md section 6).
//!
//! - [`record`]: what the programmer reports (phase and device events, per-array and per-layer
//!   statistics, the summary, energy by component).
//! - [`sink`]: the [`TraceSink`] interface the programmer pushes events to, the [`TraceFilter`] (level,
//!   arrays, sampled rows), and in-memory sinks for tests.
//! - [`events_csv`]: `events.csv`, streamed to disk through a bounded buffer by a writer thread.
//! - [`timeline`]: `timeline.json`, the schedule in the Chrome trace-event format (Perfetto), streamed.
//! - [`reports`]: `arrays.csv`, `layers.csv`, `summary.json`.
//! - [`atomic`]: every file is written under a temporary name and renamed on success.
//! - [`out_dir`]: every output folder is staged beside `--out` and moved into place whole.
//! - [`out_dir_shared`]: a folder several runs add sets of files to (sweep shards) changes whole.
//! - [`fault`]: test-only fault injection (a full disk, a small file system, a slow commit).
//! - [`cleanup`]: temporary files are removed on SIGINT/SIGTERM/SIGHUP and swept after a `kill -9`.
//!
//! **Invariant:** traces are never held in memory: events stream to their sink as they happen.

pub mod atomic;
pub mod cleanup;
pub mod events_csv;
pub mod fault;
mod num;
pub mod out_dir;
pub mod out_dir_shared;
pub mod record;
pub mod reports;
pub mod sink;
pub mod timeline;

pub use events_csv::EventsCsv;
pub use record::{
    ArrayStats, Counts, DeviceOp, Energy, LayerStats, PhaseEvent, PhaseOp, PulseEvent, Summary,
};
pub use reports::RunInfo;
pub use sink::{NullSink, TraceFilter, TraceLevel, TraceSink, VecSink};
pub use timeline::Timeline;
