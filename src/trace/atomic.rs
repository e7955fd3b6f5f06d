//! Crash-safe output files: write to a temporary sibling, rename on success.
//!
//! The temporary name is `.NAME.tmp-PID` (NAME cut to [`MAX_TEMP_STEM`] bytes, so that a long output
//! name still leaves room for the suffix in a 255-byte file name). It is registered with
//! [`super::cleanup`], so an interrupted run removes it, and a file of that form whose process is dead
//! (a `kill -9`) is swept by the next [`AtomicFile::create`] in the same folder.

use super::cleanup;
use super::fault::{self, LimitedFile};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The longest part of the final file name kept in a temporary name, in bytes.
pub const MAX_TEMP_STEM: usize = 200;

/// A file being written under a temporary name (`.NAME.tmp-PID` beside the final path). Call
/// [`AtomicFile::commit`] to flush it and rename it into place; dropping it without committing removes
/// the temporary file, so a failed or interrupted run never leaves a partial file under the final name.
#[derive(Debug)]
pub struct AtomicFile {
    final_path: PathBuf,
    temp_path: PathBuf,
    writer: Option<BufWriter<LimitedFile>>,
}

impl AtomicFile {
    /// Starts writing `path` (its parent folder is created if missing).
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        if cleanup::terminating() {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the process is being interrupted",
            ));
        }
        let final_path = path.as_ref().to_path_buf();
        let parent = final_path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(parent) = parent {
            std::fs::create_dir_all(parent)?;
        }
        sweep_stale_temp_files(parent.unwrap_or(Path::new(".")));
        let name = final_path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "output path has no file name"))?
            .to_string_lossy()
            .into_owned();
        let temp_path = final_path.with_file_name(temp_name(&name, std::process::id()));
        let file = File::create(&temp_path)?;
        cleanup::register(&temp_path);
        Ok(Self {
            final_path,
            temp_path,
            writer: Some(BufWriter::with_capacity(1 << 16, LimitedFile(file))),
        })
    }

    /// The path the file will have once committed.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> io::Result<()> {
        let writer = self.writer.take().expect("writer present until commit");
        let LimitedFile(file) = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fault::commit_pause();
        let renamed = std::fs::rename(&self.temp_path, &self.final_path);
        if renamed.is_err() {
            let _ = std::fs::remove_file(&self.temp_path);
        }
        cleanup::unregister(&self.temp_path);
        renamed
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer
            .as_mut()
            .expect("writer present until commit")
            .write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.as_mut().expect("writer present until commit").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temp_path);
            cleanup::unregister(&self.temp_path);
        }
    }
}

/// The temporary name of `name` written by process `pid`: `.NAME.tmp-PID`, NAME cut at a character
/// boundary to at most [`MAX_TEMP_STEM`] bytes.
pub fn temp_name(name: &str, pid: u32) -> String {
    let mut end = name.len().min(MAX_TEMP_STEM);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!(".{}.tmp-{pid}", &name[..end])
}

/// The process id in a temporary name of the form `.NAME.tmp-PID`, if it is one.
pub fn temp_owner(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?;
    let (_, pid) = rest.rsplit_once(".tmp-")?;
    pid.parse().ok()
}

/// Removes the temporary files in `dir` of processes that no longer run; returns how many. Errors
/// (an unreadable folder, a file removed meanwhile) are ignored: sweeping is a courtesy.
pub fn sweep_stale_temp_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(temp_owner)
                .is_some_and(cleanup::is_stale_owner)
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes(path: impl AsRef<Path>, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_leaves_nothing_and_committed_file_appears() {
        let dir = std::env::temp_dir().join(format!("uswim-atomic-{}", std::process::id()));
        let path = dir.join("out.csv");
        {
            let mut f = AtomicFile::create(&path).unwrap();
            f.write_all(b"partial").unwrap();
        }
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        write_bytes(&path, b"a,b\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"a,b\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temp_names_of_long_output_names_fit_in_a_file_name() {
        let long = "x".repeat(246);
        let name = temp_name(&long, u32::MAX);
        assert!(name.len() <= 255, "{}", name.len());
        assert_eq!(temp_owner(&name), Some(u32::MAX));
        assert_eq!(temp_name("é".repeat(150).as_str(), 7).len(), 1 + 200 + 6);
        assert_eq!(temp_owner(".events.csv.tmp-42"), Some(42));
        assert_eq!(temp_owner("events.csv"), None);
    }

    #[test]
    fn stale_temp_files_of_dead_processes_are_swept_and_live_ones_kept() {
        let dir = std::env::temp_dir().join(format!("uswim-atomic-sweep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dead = dir.join(temp_name("events.csv", u32::MAX - 1));
        let mine = dir.join(temp_name("arrays.csv", std::process::id()));
        let plain = dir.join("notes.tmp-1x");
        for p in [&dead, &mine, &plain] {
            std::fs::write(p, b"x").unwrap();
        }
        assert_eq!(sweep_stale_temp_files(&dir), 1);
        assert!(!dead.exists() && mine.exists() && plain.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
