//! Temporary files and folders that must not outlive the process: a registry of paths removed when the
//! process is interrupted (SIGINT, SIGTERM, SIGHUP), and the test of whether another process (the owner
//! of a stale temporary file) is still alive.
//!
//! [`crate::trace::atomic::AtomicFile`] and [`crate::trace::out_dir::OutDir`] register what they create
//! and unregister it once it is committed or dropped; the signal thread started by
//! [`install_signal_handlers`] removes whatever is still registered and exits with 128 + the signal
//! number, as a shell reports a process killed by that signal. A `kill -9` cannot be caught: what it
//! leaves behind carries the dead process's id in its name and is swept by the next run
//! ([`is_stale_owner`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Paths to remove on interruption.
static REGISTERED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Set once an interruption started removing files; new temporary files are refused from then on.
static TERMINATING: AtomicBool = AtomicBool::new(false);

/// Registers `path` (a file or a folder) for removal on interruption.
pub fn register(path: &Path) {
    if let Ok(mut paths) = REGISTERED.lock() {
        paths.push(path.to_path_buf());
    }
}

/// Forgets `path` (it was committed or already removed).
pub fn unregister(path: &Path) {
    if let Ok(mut paths) = REGISTERED.lock()
        && let Some(i) = paths.iter().rposition(|p| p == path)
    {
        paths.swap_remove(i);
    }
}

/// Whether the process is being interrupted (no new temporary file may be created).
pub fn terminating() -> bool {
    TERMINATING.load(Ordering::SeqCst)
}

/// Removes every registered path (folders recursively); returns how many were removed.
pub fn remove_registered() -> usize {
    TERMINATING.store(true, Ordering::SeqCst);
    let paths = match REGISTERED.lock() {
        Ok(mut paths) => std::mem::take(&mut *paths),
        Err(_) => return 0,
    };
    paths
        .iter()
        .filter(|p| {
            if p.is_dir() {
                std::fs::remove_dir_all(p).is_ok()
            } else {
                std::fs::remove_file(p).is_ok()
            }
        })
        .count()
}

/// Starts the thread that, on SIGINT, SIGTERM or SIGHUP, removes every registered path and exits with
/// 128 + the signal number. Call once, at the start of `main`.
pub fn install_signal_handlers() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("uswim-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                remove_registered();
                eprintln!("\ninterrupted (signal {signal}): temporary outputs removed");
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}

/// Whether a temporary file owned by process `pid` may be removed: its owner is not this process and no
/// longer runs. On platforms where that cannot be known, nothing is stale.
pub fn is_stale_owner(pid: u32) -> bool {
    if pid == std::process::id() || pid == 0 {
        return false;
    }
    !process_alive(pid)
}

/// Whether a process with this id exists.
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: kill with signal 0 only checks for existence and permission; it sends nothing.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_never_stale_and_an_unused_pid_is() {
        assert!(!is_stale_owner(std::process::id()));
        assert!(process_alive(std::process::id()));
        // Linux pids are below 2^22.
        assert!(is_stale_owner(u32::MAX - 1));
    }
}
