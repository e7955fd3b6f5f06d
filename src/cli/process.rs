//! Process-level reliability of the binary: printing to stdout without panicking, the exit code of a
//! closed or full output stream, and the `--threads` ceiling.
//!
//! `print!` panics when stdout is closed (`uswim hw list | true`) or full (`> /dev/full`). Every command
//! prints through [`out!`] and [`outln!`] instead, which return a [`StdoutError`]; [`exit_code_of`] turns
//! a closed pipe into a quiet success (the reader asked for no more, as `ripgrep` and `cat` treat it) and
//! any other write failure into exit code 1 with a clear message.

use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use uswim::trace::out_dir::{OutDir, OutDirError};

/// Writes formatted text to stdout: `out!("{x}")?`. Never panics; fails with [`StdoutError`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::process::write_stdout(format_args!($($arg)*), false)
    };
}

/// Writes formatted text and a newline to stdout: `outln!("{x}")?`. Never panics.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::process::write_stdout(format_args!($($arg)*), true)
    };
}

/// The most worker threads `--threads` may ask for; larger requests are clamped with a warning.
pub const MAX_THREADS: usize = 1024;

/// Writing to standard output failed.
#[derive(Debug)]
pub struct StdoutError(pub io::Error);

impl fmt::Display for StdoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write to standard output: {}", self.0)
    }
}

impl std::error::Error for StdoutError {}

/// Writes `args` (and a newline if `newline`) to stdout and flushes.
pub fn write_stdout(args: fmt::Arguments<'_>, newline: bool) -> Result<(), StdoutError> {
    let mut out = io::stdout().lock();
    out.write_fmt(args).map_err(StdoutError)?;
    if newline {
        out.write_all(b"\n").map_err(StdoutError)?;
    }
    out.flush().map_err(StdoutError)
}

/// Flushes stdout at the end of a command (whatever a library wrote without flushing).
pub fn flush_stdout() -> Result<(), StdoutError> {
    io::stdout().lock().flush().map_err(StdoutError)
}

/// Whether an error chain is a closed stdout pipe (the reader went away): a quiet success.
pub fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<StdoutError>()
            .is_some_and(|s| s.0.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Prints an error line to stderr; if stderr itself is closed there is nobody to tell, so it is dropped.
pub fn report_error(e: &anyhow::Error) {
    let _ = writeln!(io::stderr().lock(), "error: {e:#}");
}

/// The thread count to use for `--threads N`: at least 1, at most [`MAX_THREADS`] (with a warning).
pub fn clamp_threads(requested: usize) -> usize {
    if requested > MAX_THREADS {
        let _ = writeln!(
            io::stderr().lock(),
            "warning: --threads {requested} is above the maximum of {MAX_THREADS}; using {MAX_THREADS}"
        );
        MAX_THREADS
    } else {
        requested.max(1)
    }
}

/// Stages the output folder `out` of `command` before any work ([`OutDir::begin`], with the names of
/// the command's outputs, so that a folder of them written before manifests existed is replaced): a
/// folder that cannot be used is bad input (exit 2), one that cannot be written a runtime failure (exit 1).
pub fn begin_out(out: &Path, command: &str) -> anyhow::Result<OutDir> {
    let known: &[&str] = match command {
        "program" => &["events.csv", "arrays.csv", "layers.csv", "summary.json"],
        "reproduce" => &["results.csv", "headline.md", "*.png", "*.svg"],
        "analyze" => &["sensitivity.csv", "mask.safetensors"],
        _ => &[],
    };
    OutDir::begin(out, command, known).map_err(|e: OutDirError| {
        if e.is_bad_input() {
            anyhow::Error::new(super::BadInput(e.to_string()))
        } else {
            anyhow::Error::new(e)
        }
    })
}

/// Refuses a dataset split with no images (an accuracy over 0 images would print as 0.00%).
pub fn require_images(set: &uswim::nn::Dataset, split: &str, source: impl AsRef<Path>) -> anyhow::Result<()> {
    if set.is_empty() {
        return Err(anyhow::Error::new(super::BadInput(format!(
            "{}: the {split} split has 0 images; allowed: at least 1",
            source.as_ref().display()
        ))));
    }
    Ok(())
}

/// `items` without repeats, in first-seen order, with a warning naming each repeat of `flag`.
pub fn dedup_with_warning<T: PartialEq + fmt::Display>(flag: &str, items: Vec<T>) -> Vec<T> {
    let mut kept: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if kept.contains(&item) {
            let _ = writeln!(
                io::stderr().lock(),
                "warning: {flag}: `{item}` is given twice; it runs once"
            );
        } else {
            kept.push(item);
        }
    }
    kept
}

/// Bytes of one device-level trace row, on average (measured on LeNet traces: 120-160).
const DEVICE_ROW_BYTES: f64 = 140.0;
/// Verify iterations per device when estimating a device trace (LeNet on the default preset: 1.5).
const TYPICAL_ITERATIONS: f64 = 1.5;
/// Above this estimated size, a device trace is announced with a warning.
pub const LARGE_TRACE_BYTES: f64 = 1e9;

/// The estimated size of a device-level trace of `devices` traced devices, in bytes: one open-loop
/// pulse plus a read and a pulse per verify iteration, each a row of [`DEVICE_ROW_BYTES`].
pub fn device_trace_estimate_bytes(devices: f64) -> f64 {
    devices * (1.0 + 2.0 * TYPICAL_ITERATIONS) * DEVICE_ROW_BYTES
}

/// Checks, before any work, that a device-level trace of `devices` traced devices fits: an estimate
/// above the free space of `out`'s file system is refused (bad input, exit 2, with both figures), one
/// above [`LARGE_TRACE_BYTES`] that fits is announced with a warning.
pub fn check_trace_room(devices: f64, out: &OutDir) -> anyhow::Result<()> {
    let estimate = device_trace_estimate_bytes(devices);
    let free = out.free_bytes().map(|b| b as f64);
    let keep_a_part = "--trace-sample F or --trace-arrays LIST keep a part of it, --trace-level phase none";
    if let Some(free) = free.filter(|&f| estimate > f) {
        return Err(anyhow::Error::new(super::BadInput(format!(
            "--out {}: the device trace of {devices:.0} devices is estimated at {:.2} GB, more than the \
             {:.2} GB free on its file system; nothing was run ({keep_a_part})",
            out.final_path().display(),
            estimate / 1e9,
            free / 1e9
        ))));
    }
    if estimate > LARGE_TRACE_BYTES {
        let room = free.map_or(String::new(), |f| format!(" ({:.1} GB free)", f / 1e9));
        let _ = writeln!(
            io::stderr().lock(),
            "warning: the device trace of {devices:.0} devices is estimated at {:.1} GB{room}; {keep_a_part}",
            estimate / 1e9
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_clamped_to_one_and_to_the_maximum() {
        assert_eq!(clamp_threads(0), 1);
        assert_eq!(clamp_threads(7), 7);
        assert_eq!(clamp_threads(100_000), MAX_THREADS);
    }

    #[test]
    fn only_a_broken_stdout_pipe_is_a_closed_pipe() {
        let pipe = anyhow::Error::new(StdoutError(io::Error::from(io::ErrorKind::BrokenPipe)));
        assert!(is_closed_pipe(&pipe));
        let full = anyhow::Error::new(StdoutError(io::Error::from(io::ErrorKind::StorageFull)));
        assert!(!is_closed_pipe(&full));
        assert!(full.to_string().contains("standard output"));
    }
}
