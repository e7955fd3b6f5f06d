//! A folder that several runs add sets of files to (the shards of one sweep, each writing
//! `shard-I-of-N.csv` and `.json`, then `uswim merge` adding `results.csv` and `sweep.json`), changed
//! whole: every set appears complete or not at all, and a `kill -9` at any instant leaves the folder as
//! it was before the commit or as it is after it.
//!
//! POSIX renames one name at a time, so two files cannot appear together in a folder that stays in place.
//! [`FileSet::commit`] therefore builds the next state of the whole folder beside it and swaps it in, as
//! [`super::out_dir::OutDir::commit`] does for a command's own folder: under the folder's lock (the same
//! `.NAME.uswim-lock` that [`super::out_dir::OutDir`] takes, held for the commit only, so shards running
//! at once commit one after the other), the staging folder, which already holds the new set, gets a hard
//! link (a copy where the file system has none) of every other file of the folder, then the manifest,
//! then it is exchanged with the folder in one `renameat2(RENAME_EXCHANGE)`, and the old folder is
//! removed. Hard links share the files' data, so the other shards' files are kept byte for byte at no
//! cost. Nothing else ever writes inside the folder: a sweep's partial results and locks live in a work
//! folder beside it ([`work_dir`]).
//!
//! A folder holding sub-folders is refused (they cannot be linked, and moving them is not atomic): a
//! mistyped `--out ~` fails instead of having its files shuffled.

use super::cleanup;
use super::fault;
use super::out_dir::{self, MANIFEST, OutDirError, OutputLock, split};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a commit waits for another run's commit (or a command's run) to release the folder's lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(120);

/// A set of files being added to (or replacing files of the same names in) a shared output folder.
#[derive(Debug)]
pub struct FileSet {
    final_dir: PathBuf,
    parent: PathBuf,
    name: String,
    staging: PathBuf,
    command: String,
    committed: bool,
}

/// The work folder of the shared output folder `out`: `.NAME.uswim-work` beside it, for the partial
/// results and locks of the runs writing into it (created on demand; it is not swept, so that an
/// interrupted run can be resumed).
pub fn work_dir(out: &Path) -> Result<PathBuf, OutDirError> {
    let (name, parent) = split(out)?;
    Ok(parent.join(format!(".{}.uswim-work", out_dir::stem(&name))))
}

/// Removes the work folder of `out` if it is empty (best effort: another run may be using it).
pub fn remove_work_dir_if_empty(out: &Path) {
    if let Ok(dir) = work_dir(out) {
        let _ = std::fs::remove_dir(dir);
    }
}

/// `out` may receive a set: it does not exist, or it is a folder holding only files.
fn check_shared(out: &Path) -> Result<(), OutDirError> {
    let not = |problem: String| OutDirError::NotAnOutputFolder {
        path: out.to_path_buf(),
        problem,
    };
    let Ok(meta) = std::fs::symlink_metadata(out) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return Err(not("exists and is not a folder".into()));
    }
    let entries =
        std::fs::read_dir(out).map_err(|e| OutDirError::io(format!("cannot read {}", out.display()), e))?;
    for entry in entries.filter_map(Result::ok) {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            return Err(not(format!(
                "holds the folder `{}`; a sweep's output folder holds only files, so it is not used",
                entry.file_name().to_string_lossy()
            )));
        }
    }
    Ok(())
}

impl FileSet {
    /// Checks `out` and creates the staging folder beside it, before any work (which proves the
    /// location writable); `command` is recorded in the manifest.
    pub fn begin(out: &Path, command: &str) -> Result<Self, OutDirError> {
        let (name, parent) = split(out)?;
        std::fs::create_dir_all(&parent).map_err(|e| {
            OutDirError::io(
                format!("--out {}: cannot create the folder it is in", out.display()),
                e,
            )
        })?;
        check_shared(out)?;
        out_dir::sweep_stale_folders(&parent);
        let staging = out_dir::staging_path(&parent, &name);
        if staging.exists() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        std::fs::create_dir(&staging)
            .map_err(|e| OutDirError::io(format!("--out {}: cannot write beside it", out.display()), e))?;
        cleanup::register(&staging);
        Ok(Self {
            final_dir: out.to_path_buf(),
            parent,
            name,
            staging,
            command: command.to_string(),
            committed: false,
        })
    }

    /// The folder to write the set's files into (the staging folder until [`FileSet::commit`]).
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The final folder.
    pub fn final_path(&self) -> &Path {
        &self.final_dir
    }

    /// Moves the set into the folder in one step, keeping the folder's other files (module docs).
    pub fn commit(mut self) -> io::Result<()> {
        let _lock = self.wait_for_lock()?;
        fault::commit_pause();
        if self.final_dir.exists() {
            check_shared(&self.final_dir).map_err(|e| io::Error::other(e.to_string()))?;
            for entry in std::fs::read_dir(&self.final_dir)?.filter_map(Result::ok) {
                let file_name = entry.file_name();
                let staged = self.staging.join(&file_name);
                if file_name == MANIFEST || staged.exists() {
                    continue;
                }
                if std::fs::hard_link(entry.path(), &staged).is_err() {
                    std::fs::copy(entry.path(), &staged)?;
                }
            }
            if let Ok(meta) = std::fs::metadata(&self.final_dir) {
                let _ = std::fs::set_permissions(&self.staging, meta.permissions());
            }
        }
        out_dir::write_manifest(&self.staging, &self.command)?;
        fault::commit_pause();
        if self.final_dir.exists() {
            out_dir::replace(&self.staging, &self.final_dir)?;
            fault::commit_pause();
            // The staging path now holds the old folder (whose files are linked into the new one).
            let _ = std::fs::remove_dir_all(&self.staging);
        } else {
            std::fs::rename(&self.staging, &self.final_dir)?;
        }
        out_dir::sync_dir(&self.parent);
        self.committed = true;
        cleanup::unregister(&self.staging);
        Ok(())
    }

    /// Takes the folder's lock, waiting up to [`LOCK_WAIT`] while another live run holds it.
    fn wait_for_lock(&self) -> io::Result<OutputLock> {
        let lock = out_dir::lock_path(&self.parent, &self.name);
        let start = Instant::now();
        loop {
            match OutputLock::acquire(&lock, &self.final_dir) {
                Ok(l) => return Ok(l),
                Err(OutDirError::Locked { .. }) if start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
    }
}

impl Drop for FileSet {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
            cleanup::unregister(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::trace::out_dir::tests::names;

    fn scratch(tag: &str) -> PathBuf {
        crate::trace::out_dir::tests::scratch(&format!("shared-{tag}"))
    }

    #[test]
    fn sets_add_to_the_folder_keep_the_others_and_replace_their_own_names() {
        let root = scratch("add");
        let out = root.join("sweep");
        for (i, text) in [(0, "a"), (1, "b"), (0, "c")] {
            let set = FileSet::begin(&out, "sweep").unwrap();
            std::fs::write(set.path().join(format!("shard-{i}.csv")), text).unwrap();
            std::fs::write(set.path().join(format!("shard-{i}.json")), text).unwrap();
            set.commit().unwrap();
        }
        assert_eq!(
            names(&out),
            [
                MANIFEST,
                "shard-0.csv",
                "shard-0.json",
                "shard-1.csv",
                "shard-1.json"
            ]
        );
        assert_eq!(std::fs::read_to_string(out.join("shard-0.csv")).unwrap(), "c");
        assert_eq!(std::fs::read_to_string(out.join("shard-1.json")).unwrap(), "b");
        assert_eq!(names(&root), ["sweep"]);
        // An uncommitted set leaves nothing.
        drop(FileSet::begin(&out, "sweep").unwrap());
        assert_eq!(names(&root), ["sweep"]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_folder_with_sub_folders_is_refused() {
        let root = scratch("sub");
        std::fs::create_dir_all(root.join("home/docs")).unwrap();
        let err = FileSet::begin(&root.join("home"), "sweep").unwrap_err();
        assert!(err.is_bad_input() && err.to_string().contains("docs"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
