//! Output folders that are whole or absent (as SQLite treats a transaction): a run writes into a staging
//! folder beside `--out` and moves it into place in one step at the end.
//!
//! [`OutDir::begin`], before any work:
//! - refuses an `--out` that exists and is neither an empty folder, a uswim output folder (one with a
//!   [`MANIFEST`]) nor a folder holding only this command's known outputs (written before manifests
//!   existed), so that a mistyped `--out ~` never replaces a user's folder;
//! - takes the folder's lock (`.NAME.uswim-lock` beside it, holding the process id): a second run into
//!   the same folder fails with a clear error while the first runs; a lock left by a dead process is
//!   taken over;
//! - removes staging folders left beside it by dead processes (`kill -9`);
//! - creates the staging folder `.uswim-stage-PID-HASH` beside `--out` (a short name, so a long `--out`
//!   still fits), which proves the location writable, and registers it with [`super::cleanup`] so that
//!   SIGINT, SIGTERM and SIGHUP remove it.
//!
//! The command writes every output into [`OutDir::path`]. [`OutDir::commit`] writes the manifest last,
//! then swaps the staging folder with the old output folder in one `renameat2(RENAME_EXCHANGE)` (or
//! renames it into place if there was none), and removes the old set. At every instant `--out` is
//! therefore either the previous complete set of files or the new complete set, never a mix, and files
//! of an earlier run that this run did not write are gone. Dropping an uncommitted [`OutDir`] (an error
//! path) removes the staging folder and the lock.

use super::atomic;
use super::cleanup;
use super::fault;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// The file a uswim output folder holds, written last: the command and the files of the set.
pub const MANIFEST: &str = ".uswim-manifest";

/// Prefix of staging folder names.
const STAGE_PREFIX: &str = ".uswim-stage-";
/// Prefix of the folder an old output set is moved to when an atomic exchange is not available.
const OLD_PREFIX: &str = ".uswim-old-";

/// Why an output folder cannot be used.
#[derive(Debug)]
pub enum OutDirError {
    /// `--out` is a file, or a folder that is not empty and is not a uswim output folder.
    NotAnOutputFolder {
        /// The folder.
        path: PathBuf,
        /// Why.
        problem: String,
    },
    /// Another live process is writing the same folder.
    Locked {
        /// The folder.
        path: PathBuf,
        /// The process that holds the lock.
        pid: u32,
    },
    /// The location cannot be written (permissions, missing parent, full disk...).
    Io {
        /// What was being done, with the path.
        action: String,
        /// The system error.
        error: io::Error,
    },
}

impl OutDirError {
    /// Whether this is the user's mistake (exit code 2) rather than a runtime failure.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, OutDirError::Io { .. })
    }

    pub(super) fn io(action: String, error: io::Error) -> Self {
        OutDirError::Io { action, error }
    }
}

impl fmt::Display for OutDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutDirError::NotAnOutputFolder { path, problem } => write!(
                f,
                "--out {}: {problem}; choose a new or empty folder, or one a previous uswim run wrote",
                path.display()
            ),
            OutDirError::Locked { path, pid } => write!(
                f,
                "--out {}: another uswim run (process {pid}) is writing this folder; wait for it or \
                 choose another --out",
                path.display()
            ),
            OutDirError::Io { action, error } => write!(f, "{action}: {error}"),
        }
    }
}

impl std::error::Error for OutDirError {}

/// An output folder being written: see the module documentation.
#[derive(Debug)]
pub struct OutDir {
    final_dir: PathBuf,
    staging: PathBuf,
    lock: Option<OutputLock>,
    command: String,
    known: Vec<String>,
    committed: bool,
}

/// A lock on one output (a folder, or the files of a sweep shard): a file holding this process's id,
/// created exclusively and removed on drop. A lock whose process is dead is taken over.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
}

impl OutputLock {
    /// Takes the lock file `lock` for the output `subject` (named in the error).
    pub fn acquire(lock: &Path, subject: &Path) -> Result<Self, OutDirError> {
        take_lock(lock, subject)?;
        Ok(Self {
            path: lock.to_path_buf(),
        })
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        cleanup::unregister(&self.path);
    }
}

/// The folder name and parent of `out` (`.` when `out` has none); an error when `out` names no folder
/// of its own (`.`, `..`, `/`).
pub(crate) fn split(out: &Path) -> Result<(String, PathBuf), OutDirError> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n != "." && n != "..")
        .ok_or_else(|| OutDirError::NotAnOutputFolder {
            path: out.to_path_buf(),
            problem: "has no folder name of its own".into(),
        })?;
    let parent = match out.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from("."),
    };
    Ok((name, parent))
}

impl OutDir {
    /// Checks, locks and stages `out` for `command` (a name recorded in the manifest, e.g. `program`),
    /// whose outputs are named by `known` (exact names, or `*.ext` patterns).
    pub fn begin(out: &Path, command: &str, known: &[&str]) -> Result<Self, OutDirError> {
        let (name, parent) = split(out)?;
        std::fs::create_dir_all(&parent).map_err(|e| {
            OutDirError::io(
                format!("--out {}: cannot create the folder it is in", out.display()),
                e,
            )
        })?;
        check_not_shared(out, command)?;
        check_replaceable(out, known)?;
        let lock = OutputLock::acquire(&lock_path(&parent, &name), out)?;
        let dir = Self {
            final_dir: out.to_path_buf(),
            staging: staging_path(&parent, &name),
            lock: Some(lock),
            command: command.to_string(),
            known: known.iter().map(|k| k.to_string()).collect(),
            committed: false,
        };
        sweep_stale_folders(&parent);
        if dir.staging.exists() {
            let _ = std::fs::remove_dir_all(&dir.staging);
        }
        std::fs::create_dir(&dir.staging)
            .map_err(|e| OutDirError::io(format!("--out {}: cannot write beside it", out.display()), e))?;
        cleanup::register(&dir.staging);
        Ok(dir)
    }

    /// The folder to write every output into (the staging folder until [`OutDir::commit`]).
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The final folder (`--out`).
    pub fn final_path(&self) -> &Path {
        &self.final_dir
    }

    /// Free bytes on the file system of the output folder, if the platform tells.
    pub fn free_bytes(&self) -> Option<u64> {
        free_bytes(&self.staging)
    }

    /// Writes the manifest and moves the staged set into place in one step (module documentation).
    pub fn commit(mut self) -> io::Result<()> {
        write_manifest(&self.staging, &self.command)?;
        fault::commit_pause();
        if self.final_dir.exists() {
            // Re-checked: a user may have put files into the folder while the run worked.
            let known: Vec<&str> = self.known.iter().map(String::as_str).collect();
            check_replaceable(&self.final_dir, &known).map_err(|e| io::Error::other(e.to_string()))?;
            replace(&self.staging, &self.final_dir)?;
            fault::commit_pause();
            // The staging path now holds the old set.
            let _ = std::fs::remove_dir_all(&self.staging);
        } else {
            std::fs::rename(&self.staging, &self.final_dir)?;
        }
        if let Some(parent) = self.final_dir.parent() {
            sync_dir(parent);
        }
        self.committed = true;
        cleanup::unregister(&self.staging);
        self.lock = None;
        Ok(())
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
            cleanup::unregister(&self.staging);
        }
    }
}

/// Writes the manifest of the files in `staging` (written last, synced with the folder).
pub(super) fn write_manifest(staging: &Path, command: &str) -> io::Result<()> {
    let mut files: Vec<String> = std::fs::read_dir(staging)?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != MANIFEST)
        .collect();
    files.sort();
    let manifest = serde_json::json!({
        "format": "uswim-output-1",
        "command": command,
        "uswim_version": env!("CARGO_PKG_VERSION"),
        "files": files,
    });
    atomic::write_bytes(staging.join(MANIFEST), format!("{manifest:#}\n").as_bytes())?;
    sync_dir(staging);
    Ok(())
}

/// The staging folder of the output folder named `name` in `parent`, for this process.
pub(super) fn staging_path(parent: &Path, name: &str) -> PathBuf {
    parent.join(format!(
        "{STAGE_PREFIX}{}-{:016x}",
        std::process::id(),
        name_hash(name)
    ))
}

/// The lock file of the output folder named `name` in `parent`.
pub(super) fn lock_path(parent: &Path, name: &str) -> PathBuf {
    parent.join(format!(".{}.uswim-lock", stem(name)))
}

/// Whether `name` is one of the `known` outputs (an exact name or a `*.ext` pattern), or a temporary file.
fn is_known(name: &str, known: &[&str]) -> bool {
    atomic::temp_owner(name).is_some()
        || known.iter().any(|k| match k.strip_prefix('*') {
            Some(suffix) => name.ends_with(suffix),
            None => name == *k,
        })
}

/// Refuses to replace a folder that several runs add to (a sweep's, per its manifest) by another
/// command's outputs: it holds the shards of a sweep, which a mistyped `--out` must not delete.
fn check_not_shared(out: &Path, command: &str) -> Result<(), OutDirError> {
    let Ok(text) = std::fs::read_to_string(out.join(MANIFEST)) else {
        return Ok(());
    };
    let owner = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|m| m["command"].as_str().map(str::to_string))
        .unwrap_or_default();
    if (owner == "sweep" || owner == "merge") && owner != command {
        return Err(OutDirError::NotAnOutputFolder {
            path: out.to_path_buf(),
            problem: format!("holds the outputs of `uswim {owner}`, which `uswim {command}` would delete"),
        });
    }
    Ok(())
}

/// `out` may be replaced: it does not exist, or it is a uswim output folder (with a manifest), or a
/// folder holding nothing but `known` outputs.
fn check_replaceable(out: &Path, known: &[&str]) -> Result<(), OutDirError> {
    let not = |problem: &str| OutDirError::NotAnOutputFolder {
        path: out.to_path_buf(),
        problem: problem.to_string(),
    };
    let Ok(meta) = std::fs::symlink_metadata(out) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return Err(not("exists and is not a folder"));
    }
    if out.join(MANIFEST).is_file() {
        return Ok(());
    }
    let entries =
        std::fs::read_dir(out).map_err(|e| OutDirError::io(format!("cannot read {}", out.display()), e))?;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if !is_file || !is_known(&name, known) {
            return Err(not(&format!(
                "holds `{name}`, which this command does not write, and no {MANIFEST} (not a uswim \
                 output folder), so it is not replaced"
            )));
        }
    }
    Ok(())
}

/// Creates the lock file holding this process's id; takes over a lock whose process is dead.
fn take_lock(lock: &Path, out: &Path) -> Result<(), OutDirError> {
    for _ in 0..3 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(lock)
        {
            Ok(mut file) => {
                use std::io::Write;
                let _ = write!(file, "{}", std::process::id());
                cleanup::register(lock);
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let owner = std::fs::read_to_string(lock)
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok());
                match owner {
                    Some(pid) if !cleanup::is_stale_owner(pid) => {
                        return Err(OutDirError::Locked {
                            path: out.to_path_buf(),
                            pid,
                        });
                    }
                    // A dead owner, or a lock being written this instant (no pid yet: retry).
                    Some(_) => {
                        let _ = std::fs::remove_file(lock);
                    }
                    None => std::thread::sleep(std::time::Duration::from_millis(20)),
                }
            }
            Err(e) => {
                return Err(OutDirError::io(
                    format!("--out {}: cannot write beside it", out.display()),
                    e,
                ));
            }
        }
    }
    let _ = std::fs::remove_file(lock);
    Err(OutDirError::io(
        format!("--out {}: cannot take the lock {}", out.display(), lock.display()),
        io::Error::other("the lock file has no owner"),
    ))
}

/// Removes staging and old-set folders in `parent` left by processes that no longer run.
pub(super) fn sweep_stale_folders(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let owner = [STAGE_PREFIX, OLD_PREFIX]
            .iter()
            .find_map(|p| name.strip_prefix(p))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if owner.is_some_and(cleanup::is_stale_owner) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Swaps `staging` and `target` atomically where the system can (Linux `renameat2`), else in two
/// renames with the old set kept under a swept name in between.
pub(super) fn replace(staging: &Path, target: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let a = CString::new(staging.as_os_str().as_bytes())?;
        let b = CString::new(target.as_os_str().as_bytes())?;
        // SAFETY: both are valid NUL-terminated paths; renameat2 reads them and changes no memory.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(e);
        }
    }
    let parent = staging.parent().unwrap_or(Path::new("."));
    let old = parent.join(format!("{OLD_PREFIX}{}", std::process::id()));
    std::fs::rename(target, &old)?;
    std::fs::rename(staging, target)?;
    std::fs::rename(&old, staging)
}

/// Flushes a folder's entries to disk (best effort).
pub(super) fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Free bytes on the file system of `path` (or `USWIM_FAULT_FREE_BYTES`, a test hook: [`super::fault`]).
pub fn free_bytes(path: &Path) -> Option<u64> {
    if let Some(free) = fault::free_bytes_override() {
        return Some(free);
    }
    #[cfg(unix)]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c = CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: statvfs fills the zeroed struct we own from a valid NUL-terminated path.
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::statvfs(c.as_ptr(), &mut stat) };
        // The field types differ between targets (u32 on some 32-bit systems).
        #[allow(clippy::useless_conversion)]
        let (blocks, block_size) = (u64::from(stat.f_bavail), u64::from(stat.f_frsize));
        (rc == 0).then(|| blocks.saturating_mul(block_size))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// `name` cut to at most 200 bytes at a character boundary.
pub fn stem(name: &str) -> &str {
    let mut end = name.len().min(atomic::MAX_TEMP_STEM);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// FNV-1a of a name: a short, stable tag for the staging folder of one `--out`.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const KNOWN: &[&str] = &["a.csv", "*.png"];

    /// An empty scratch folder of this process named after `tag` (unique per test).
    pub(crate) fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("uswim-outdir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The sorted names in `dir`.
    pub(crate) fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_second_run_replaces_the_whole_set_and_leaves_nothing_beside_it() {
        let root = scratch("replace");
        let out = root.join("run");
        let first = OutDir::begin(&out, "test", KNOWN).unwrap();
        std::fs::write(first.path().join("a.csv"), "1").unwrap();
        std::fs::write(first.path().join("old_only.png"), "1").unwrap();
        assert!(!out.exists(), "nothing under the final name before commit");
        first.commit().unwrap();
        let second = OutDir::begin(&out, "test", KNOWN).unwrap();
        std::fs::write(second.path().join("a.csv"), "2").unwrap();
        assert_eq!(std::fs::read_to_string(out.join("a.csv")).unwrap(), "1");
        second.commit().unwrap();
        assert_eq!(names(&out), vec![MANIFEST.to_string(), "a.csv".to_string()]);
        assert_eq!(std::fs::read_to_string(out.join("a.csv")).unwrap(), "2");
        assert_eq!(names(&root), vec!["run".to_string()]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_dropped_run_leaves_the_old_set_and_no_staging() {
        let root = scratch("drop");
        let out = root.join("run");
        {
            let d = OutDir::begin(&out, "test", KNOWN).unwrap();
            std::fs::write(d.path().join("partial.csv"), "x").unwrap();
        }
        assert_eq!(names(&root), Vec::<String>::new());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn concurrent_runs_into_one_folder_are_refused_and_a_dead_lock_is_taken_over() {
        let root = scratch("lock");
        let out = root.join("run");
        let first = OutDir::begin(&out, "test", KNOWN).unwrap();
        let err = OutDir::begin(&out, "test", KNOWN).unwrap_err();
        // The same process holds it, so it is not stale.
        assert!(matches!(err, OutDirError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("another uswim run"), "{err}");
        drop(first);
        std::fs::write(root.join(".run.uswim-lock"), format!("{}", u32::MAX - 1)).unwrap();
        std::fs::create_dir(root.join(format!("{STAGE_PREFIX}{}-00", u32::MAX - 1))).unwrap();
        let d = OutDir::begin(&out, "test", KNOWN).unwrap();
        d.commit().unwrap();
        assert_eq!(names(&root), vec!["run".to_string()]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_folder_of_user_files_or_a_file_is_never_replaced() {
        let root = scratch("user");
        let out = root.join("mine");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("thesis.tex"), "x").unwrap();
        let err = OutDir::begin(&out, "test", KNOWN).unwrap_err();
        assert!(
            err.is_bad_input() && err.to_string().contains("thesis.tex"),
            "{err}"
        );
        // A folder of this command's outputs from before manifests existed is replaced.
        let legacy = root.join("legacy");
        std::fs::create_dir(&legacy).unwrap();
        std::fs::write(legacy.join("a.csv"), "old").unwrap();
        std::fs::write(legacy.join("old_timing_hw.png"), "old").unwrap();
        let d = OutDir::begin(&legacy, "test", KNOWN).unwrap();
        std::fs::write(d.path().join("a.csv"), "new").unwrap();
        d.commit().unwrap();
        assert_eq!(names(&legacy), vec![MANIFEST.to_string(), "a.csv".to_string()]);
        std::fs::write(root.join("file"), "x").unwrap();
        assert!(OutDir::begin(&root.join("file"), "test", KNOWN).is_err());
        assert!(OutDir::begin(Path::new("."), "test", KNOWN).is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_long_output_name_stages_under_a_short_name() {
        let root = scratch("long");
        let out = root.join("o".repeat(250));
        let d = OutDir::begin(&out, "test", KNOWN).unwrap();
        std::fs::write(d.path().join("summary.json"), "{}").unwrap();
        d.commit().unwrap();
        assert!(out.join("summary.json").is_file());
        assert!(free_bytes(&root).is_some_and(|b| b > 0));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
