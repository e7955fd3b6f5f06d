//! Fault injection for the reliability tests (issue 15): a full disk, a small file system and a slow
//! commit, simulated without root. **Test-only**: these environment variables exist so that the tests in
//! `tests/it/reliability.rs` can prove what a real full disk or a `kill -9` mid-commit does; a user has
//! no reason to set them, and without them nothing here changes behaviour.
//!
//! - `USWIM_FAULT_WRITE_LIMIT_BYTES=N`: the process may write N bytes in total into output files
//!   ([`super::atomic::AtomicFile`] and a sweep's partial results); the write that would pass the limit
//!   fails with `ENOSPC` ("No space left on device"), as a full disk fails it.
//! - `USWIM_FAULT_FREE_BYTES=N`: the free space reported for `--out`'s file system
//!   ([`super::out_dir::free_bytes`]) is N bytes.
//! - `USWIM_FAULT_COMMIT_PAUSE_MS=N`: every step of moving an output set into place
//!   ([`super::out_dir::OutDir::commit`], [`super::out_dir_shared::FileSet::commit`]) and every file's
//!   rename into place ([`super::atomic::AtomicFile::commit`]) pauses N ms, so a test's `kill -9` lands
//!   inside a commit often enough to prove it atomic.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes written into output files so far (only counted under a write limit).
static WRITTEN: AtomicU64 = AtomicU64::new(0);

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn write_limit() -> Option<u64> {
    static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
    *LIMIT.get_or_init(|| env_u64("USWIM_FAULT_WRITE_LIMIT_BYTES"))
}

/// Accounts for writing `bytes` more bytes into an output file: fails with `ENOSPC` when that passes
/// `USWIM_FAULT_WRITE_LIMIT_BYTES`.
pub fn charge_write(bytes: usize) -> io::Result<()> {
    let Some(limit) = write_limit() else {
        return Ok(());
    };
    let before = WRITTEN.fetch_add(bytes as u64, Ordering::SeqCst);
    if before.saturating_add(bytes as u64) > limit {
        return Err(no_space());
    }
    Ok(())
}

/// The error a full disk gives.
pub fn no_space() -> io::Error {
    #[cfg(unix)]
    {
        io::Error::from_raw_os_error(libc::ENOSPC)
    }
    #[cfg(not(unix))]
    {
        io::Error::from(io::ErrorKind::StorageFull)
    }
}

/// The free space to report instead of the file system's (`USWIM_FAULT_FREE_BYTES`).
pub fn free_bytes_override() -> Option<u64> {
    env_u64("USWIM_FAULT_FREE_BYTES")
}

/// Pauses a step of a commit by `USWIM_FAULT_COMMIT_PAUSE_MS`.
pub fn commit_pause() {
    static PAUSE: OnceLock<Option<u64>> = OnceLock::new();
    if let Some(ms) = *PAUSE.get_or_init(|| env_u64("USWIM_FAULT_COMMIT_PAUSE_MS")) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// A file whose writes are accounted by [`charge_write`].
#[derive(Debug)]
pub struct LimitedFile(pub std::fs::File);

impl io::Write for LimitedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        charge_write(buf.len())?;
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
