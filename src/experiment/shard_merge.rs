//! `uswim merge`: join the shard outputs of one sweep into the `results.csv` a single run writes.
//!
//! Every `shard-I-of-N.json` in the given folders is read; the shards must come from the same sweep
//! (format, uswim version, spec hash, grid size, shard count and columns all equal), each shard 0..N
//! must be present exactly once, and each shard's CSV must hold exactly its points (p mod N = I) with
//! the recorded header, and its rows must hash to what its metadata records. Anything else is an error
//! naming the files: never a silently short result.
//!
//! The merge streams: every shard's CSV is open at once and read one row at a time in point order, so
//! memory does not grow with the grid (one row per shard, whatever the number of points).

use super::shard::{FORMAT, RowsHash, SweepMeta, parse_shard_file_name};
use super::shard_reproduce::FORMAT as REPRODUCE_FORMAT;
use super::sweep_error::SweepError;
use crate::error::InputError;
use crate::trace::atomic::{self, AtomicFile};
use crate::trace::out_dir_shared::FileSet;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// No `shard-I-of-N.json` in any folder.
    #[error("no shard metadata (shard-I-of-N.json) in {}", list_paths(.dirs))]
    NoShards {
        /// The folders searched.
        dirs: Vec<PathBuf>,
    },
    /// A metadata or CSV file is unreadable or malformed.
    #[error("{0}")]
    Unreadable(InputError),
    /// Two shards disagree on something that must be equal: they come from different sweeps.
    #[error(
        "{file}: {field} is {found}, but {reference} has {expected}: the shards come from different sweeps \
         (or different uswim versions); merge only the shards of one run"
    )]
    Mismatch {
        /// The shard that disagrees.
        file: PathBuf,
        /// What differs (`spec_hash`, `grid_points`, `the shard count`, `columns`, `uswim_version`).
        field: &'static str,
        /// The value in `reference`.
        expected: String,
        /// The value in `file`.
        found: String,
        /// The first shard read, taken as the reference.
        reference: PathBuf,
    },
    /// The same shard appears twice.
    #[error("shard {shard} appears twice: {} and {}", .first.display(), .second.display())]
    Duplicate {
        /// The shard, `i/n`.
        shard: String,
        /// One copy.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// Some shards are missing.
    #[error(
        "{} of {count} shards missing: {} (expected files such as {}); run them, or pass the folders \
         that hold them",
        .missing.len(), compact(.missing), .example
    )]
    Missing {
        /// Missing shard indices.
        missing: Vec<u32>,
        /// Number of shards.
        count: u32,
        /// The file name of the first missing shard.
        example: String,
    },
    /// A shard's CSV does not hold exactly the rows its metadata promises.
    #[error("{}: {problem}", .file.display())]
    Rows {
        /// The CSV.
        file: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Writing the merged file failed.
    #[error(transparent)]
    Write(Box<SweepError>),
}

impl From<SweepError> for MergeError {
    fn from(e: SweepError) -> Self {
        MergeError::Write(Box::new(e))
    }
}

impl MergeError {
    /// Whether the error comes from bad input (files given) rather than an I/O failure writing.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, MergeError::Write(_))
    }
}

/// What a merge wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeReport {
    /// The merged CSV.
    pub out: PathBuf,
    /// Shards merged.
    pub shards: u32,
    /// Rows written.
    pub rows: usize,
    /// The sweep's spec hash.
    pub spec_hash: String,
}

/// The format of the shards found in `dirs` (the first one's): [`FORMAT`] for a sweep's,
/// [`REPRODUCE_FORMAT`] for `uswim reproduce --shard`'s.
pub fn format_of(dirs: &[PathBuf]) -> Result<String, MergeError> {
    let metas = find_shards(dirs)?;
    metas
        .first()
        .map(|(_, m)| m.format.clone())
        .ok_or_else(|| MergeError::NoShards { dirs: dirs.to_vec() })
}

/// The shards found in `dirs`, checked (as [`merge`] checks them), and their rows in point order, held
/// in memory (for `uswim reproduce`'s shards, whose grid is small): the first shard's metadata and the
/// rows.
pub(crate) fn checked_rows(dirs: &[PathBuf]) -> Result<(SweepMeta, Vec<csv::StringRecord>), MergeError> {
    let shards = check_shards(dirs)?;
    let mut bytes: Vec<u8> = Vec::new();
    let target = Path::new("merged rows");
    stream_rows(&shards, &mut bytes, target)?;
    let rows = csv::Reader::from_reader(bytes.as_slice())
        .records()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| MergeError::from(SweepError::io(target, std::io::Error::other(e))))?;
    Ok((shards.reference, rows))
}

/// Refuses `uswim reproduce` shards where a sweep's are merged.
fn sweep_only(shards: &Shards) -> Result<(), MergeError> {
    if shards.reference.format == FORMAT {
        return Ok(());
    }
    Err(MergeError::Unreadable(InputError::new(
        shards.by_index[0].0.display().to_string(),
        "format",
        "these are `uswim reproduce` shards: merge them into a folder (`uswim merge DIR`, without -o)",
    )))
}

/// Merges the shards found in `dirs` into the CSV `out` (written atomically), nothing else.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<MergeReport, MergeError> {
    let shards = check_shards(dirs)?;
    sweep_only(&shards)?;
    let mut file = AtomicFile::create(out).map_err(|e| SweepError::io(out, e))?;
    let (rows, _) = stream_rows(&shards, &mut file, out)?;
    file.commit().map_err(|e| SweepError::io(out, e))?;
    Ok(MergeReport {
        out: out.to_path_buf(),
        shards: shards.count,
        rows,
        spec_hash: shards.reference.spec_hash.clone(),
    })
}

/// Merges the shards found in `dirs` into the folder `dir` as a whole run writes it: `results.csv` and
/// `sweep.json` (with the rows' hash), added to the folder as one set beside the shards
/// ([`crate::trace::out_dir_shared`]).
pub fn merge_into_folder(dirs: &[PathBuf], dir: &Path) -> Result<MergeReport, MergeError> {
    let start = std::time::Instant::now();
    let shards = check_shards(dirs)?;
    sweep_only(&shards)?;
    let (csv_final, meta_final) = super::sweep::output_paths(dir, None);
    let set = FileSet::begin(dir, "merge").map_err(|e| {
        if e.is_bad_input() {
            MergeError::Unreadable(InputError::new(dir.display().to_string(), "", e.to_string()))
        } else {
            MergeError::from(SweepError::io(dir, std::io::Error::other(e.to_string())))
        }
    })?;
    let csv = set.path().join("results.csv");
    let mut file = AtomicFile::create(&csv).map_err(|e| SweepError::io(&csv_final, e))?;
    let (rows, hash) = stream_rows(&shards, &mut file, &csv_final)?;
    file.commit().map_err(|e| SweepError::io(&csv_final, e))?;
    let reference = &shards.reference;
    let meta = SweepMeta {
        shard: super::shard::Shard::WHOLE,
        rows,
        csv: "results.csv".into(),
        wall_time_s: start.elapsed().as_secs_f64() + shards.wall_time_s,
        rows_hash: hash.hex(),
        ..reference.clone()
    };
    let meta_path = set.path().join("sweep.json");
    atomic::write_bytes(&meta_path, meta.to_json().as_bytes()).map_err(|e| SweepError::io(&meta_final, e))?;
    set.commit().map_err(|e| SweepError::io(dir, e))?;
    Ok(MergeReport {
        out: csv_final,
        shards: shards.count,
        rows,
        spec_hash: reference.spec_hash.clone(),
    })
}

/// The shards of one sweep, checked to be complete and consistent (from their metadata alone).
struct Shards {
    /// The first shard's metadata, which every other one matches.
    reference: SweepMeta,
    /// The shard count.
    count: u32,
    /// Each shard's metadata path and metadata, by index.
    by_index: Vec<(PathBuf, SweepMeta)>,
    /// The shards' wall times, summed.
    wall_time_s: f64,
}

/// Finds the shards in `dirs` and checks that they form exactly one sweep (module documentation).
fn check_shards(dirs: &[PathBuf]) -> Result<Shards, MergeError> {
    let metas = find_shards(dirs)?;
    let Some((reference_path, reference)) = metas.first().cloned() else {
        return Err(MergeError::NoShards { dirs: dirs.to_vec() });
    };
    let count = reference.shard.count;
    let mut by_index: BTreeMap<u32, (PathBuf, SweepMeta)> = BTreeMap::new();
    for (path, meta) in metas {
        let mismatch = |field: &'static str, expected: String, found: String| MergeError::Mismatch {
            file: path.clone(),
            field,
            expected,
            found,
            reference: reference_path.clone(),
        };
        if meta.format != reference.format {
            return Err(mismatch("format", reference.format.clone(), meta.format));
        }
        if meta.uswim_version != reference.uswim_version {
            return Err(mismatch(
                "uswim_version",
                reference.uswim_version.clone(),
                meta.uswim_version,
            ));
        }
        if meta.spec_hash != reference.spec_hash {
            return Err(mismatch("spec_hash", reference.spec_hash.clone(), meta.spec_hash));
        }
        if meta.grid_points != reference.grid_points {
            return Err(mismatch(
                "grid_points",
                reference.grid_points.to_string(),
                meta.grid_points.to_string(),
            ));
        }
        if meta.shard.count != count {
            return Err(mismatch(
                "the shard count",
                count.to_string(),
                meta.shard.count.to_string(),
            ));
        }
        if meta.columns != reference.columns {
            return Err(mismatch(
                "columns",
                reference.columns.join(","),
                meta.columns.join(","),
            ));
        }
        if meta.reproduce != reference.reproduce {
            let describe = |m: &SweepMeta| {
                m.reproduce
                    .as_ref()
                    .map_or("absent".to_string(), |r| format!("the command `{}`", r.command))
            };
            return Err(mismatch(
                "the experiment (settings, networks, command)",
                describe(&reference),
                describe(&meta),
            ));
        }
        if let Some((first, _)) = by_index.get(&meta.shard.index) {
            return Err(MergeError::Duplicate {
                shard: meta.shard.to_string(),
                first: first.clone(),
                second: path,
            });
        }
        by_index.insert(meta.shard.index, (path, meta));
    }
    let missing: Vec<u32> = (0..count).filter(|i| !by_index.contains_key(i)).collect();
    if let Some(&first) = missing.first() {
        let example = super::shard::Shard { index: first, count }.file_stem() + ".json";
        return Err(MergeError::Missing {
            missing,
            count,
            example,
        });
    }

    let wall_time_s = by_index.values().map(|(_, m)| m.wall_time_s).sum();
    Ok(Shards {
        reference,
        count,
        by_index: by_index.into_values().collect(),
        wall_time_s,
    })
}

/// Writes the merged CSV into `out` (named `target` in errors), reading every shard's CSV at once, one
/// row at a time in point order (point p from shard p mod N), so that memory does not grow with the
/// grid. Every shard is checked while streaming: its header, exactly its points in order, and the hash
/// of its rows against its metadata. Returns the rows written and their hash.
fn stream_rows(
    shards: &Shards,
    out: &mut impl std::io::Write,
    target: &Path,
) -> Result<(usize, RowsHash), MergeError> {
    raise_open_file_limit(shards.by_index.len(), target)?;
    let mut streams = shards
        .by_index
        .iter()
        .map(|(path, meta)| ShardStream::open(path, meta))
        .collect::<Result<Vec<_>, _>>()?;
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    let write_error = |e: csv::Error| MergeError::from(SweepError::io(target, std::io::Error::other(e)));
    writer
        .write_record(&shards.reference.columns)
        .map_err(write_error)?;
    let mut hash = RowsHash::default();
    let grid = shards.reference.grid_points;
    for point in 0..grid {
        let stream = &mut streams[point % shards.count as usize];
        let record = stream.next_row(point, grid)?;
        hash.add(record.iter());
        writer.write_record(record).map_err(write_error)?;
    }
    for stream in &mut streams {
        stream.finish()?;
    }
    writer
        .flush()
        .map_err(|e| MergeError::from(SweepError::io(target, e)))?;
    Ok((grid, hash))
}

/// Lets the process open one file per shard (raising its soft limit up to the hard one); an error
/// naming the limit when even that is too low.
fn raise_open_file_limit(files: usize, target: &Path) -> Result<(), MergeError> {
    #[cfg(unix)]
    {
        let needed = files as u64 + 64;
        // SAFETY: getrlimit/setrlimit read and write the struct we own.
        let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return Ok(());
        }
        #[allow(clippy::useless_conversion)]
        let (soft, hard) = (u64::from(limit.rlim_cur), u64::from(limit.rlim_max));
        if needed <= soft {
            return Ok(());
        }
        if needed <= hard {
            limit.rlim_cur = needed as libc::rlim_t;
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } == 0 {
                return Ok(());
            }
        }
        Err(MergeError::from(SweepError::io(
            target,
            std::io::Error::other(format!(
                "merging {files} shards reads {files} files at once, above this system's limit of \
                 {hard} open files; raise it (`ulimit -n {needed}`)"
            )),
        )))
    }
    #[cfg(not(unix))]
    {
        let _ = (files, target);
        Ok(())
    }
}

/// One shard's CSV, read one row at a time and checked against its metadata as it goes.
struct ShardStream {
    path: PathBuf,
    meta: SweepMeta,
    reader: csv::Reader<std::fs::File>,
    record: csv::StringRecord,
    rows: usize,
    hash: RowsHash,
}

impl ShardStream {
    /// Opens the CSV of the shard whose metadata is `meta_path` and checks its header.
    fn open(meta_path: &Path, meta: &SweepMeta) -> Result<Self, MergeError> {
        let path = meta.csv_path(meta_path);
        let rows_error = |problem: String| MergeError::Rows {
            file: path.clone(),
            problem,
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(&path)
            .map_err(|e| rows_error(format!("cannot read: {e}")))?;
        let header = reader
            .headers()
            .map_err(|e| rows_error(format!("cannot read the header: {e}")))?;
        if !header.iter().eq(meta.columns.iter().map(String::as_str)) {
            return Err(rows_error(
                "its header differs from the columns recorded in its metadata".into(),
            ));
        }
        Ok(Self {
            path,
            meta: meta.clone(),
            reader,
            record: csv::StringRecord::new(),
            rows: 0,
            hash: RowsHash::default(),
        })
    }

    fn error(&self, problem: String) -> MergeError {
        MergeError::Rows {
            file: self.path.clone(),
            problem,
        }
    }

    /// The shard's next row, which must be point `want` of a grid of `grid` points.
    fn next_row(&mut self, want: usize, grid: usize) -> Result<&csv::StringRecord, MergeError> {
        let line = self.rows + 1;
        let more = self
            .reader
            .read_record(&mut self.record)
            .map_err(|e| self.error(format!("row {line}: {e}")))?;
        if !more {
            return Err(self.error(format!(
                "{} rows, but shard {} has {} points (first missing: point {want}); the file is truncated",
                self.rows,
                self.meta.shard,
                self.meta.shard.len(grid)
            )));
        }
        let point: usize = self
            .record
            .get(0)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| self.error(format!("row {line}: the point column is not an index")))?;
        if point != want {
            return Err(self.error(format!(
                "row {line} is point {point}, expected point {want} (shard {} holds points = {} mod {})",
                self.meta.shard, self.meta.shard.index, self.meta.shard.count
            )));
        }
        self.rows += 1;
        self.hash.add(self.record.iter());
        Ok(&self.record)
    }

    /// Checks that no row is left and that the rows hash to what the metadata records.
    fn finish(&mut self) -> Result<(), MergeError> {
        let mut extra = csv::StringRecord::new();
        if self
            .reader
            .read_record(&mut extra)
            .map_err(|e| self.error(format!("row {}: {e}", self.rows + 1)))?
        {
            return Err(self.error(format!(
                "row {} (point {}) is one row too many",
                self.rows + 1,
                extra.get(0).unwrap_or("?")
            )));
        }
        if !self.meta.rows_hash.is_empty() && self.hash.hex() != self.meta.rows_hash {
            return Err(self.error(format!(
                "its rows hash to {}, but its metadata records {}: the CSV was changed or belongs to \
                 another run",
                self.hash.hex(),
                self.meta.rows_hash
            )));
        }
        Ok(())
    }
}

/// Every shard metadata file in `dirs` (each folder once), sorted by folder order then file name.
fn find_shards(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, SweepMeta)>, MergeError> {
    let mut seen_dirs: Vec<PathBuf> = Vec::new();
    let mut found = Vec::new();
    for dir in dirs {
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if seen_dirs.contains(&canonical) {
            continue;
        }
        seen_dirs.push(canonical);
        let entries = std::fs::read_dir(dir).map_err(|e| {
            MergeError::Unreadable(InputError::new(
                dir.display().to_string(),
                "",
                format!("cannot list: {e}"),
            ))
        })?;
        let mut names: Vec<(String, u32, u32)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                parse_shard_file_name(&name).map(|(i, n)| (name, i, n))
            })
            .collect();
        names.sort();
        for (name, i, n) in names {
            let path = dir.join(&name);
            let meta = SweepMeta::read(&path).map_err(MergeError::Unreadable)?;
            if meta.format != FORMAT && meta.format != REPRODUCE_FORMAT {
                return Err(MergeError::Unreadable(InputError::new(
                    path.display().to_string(),
                    "format",
                    format!("{:?} is not {FORMAT:?} or {REPRODUCE_FORMAT:?}", meta.format),
                )));
            }
            if (meta.shard.index, meta.shard.count) != (i, n) {
                return Err(MergeError::Unreadable(InputError::new(
                    path.display().to_string(),
                    "shard",
                    format!(
                        "the file name says shard {i}/{n} but its content says {}",
                        meta.shard
                    ),
                )));
            }
            found.push((path, meta));
        }
    }
    Ok(found)
}

/// Indices as compact ranges: `0, 2-4, 7`.
fn compact(indices: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            i += 1;
            end = indices[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(", ")
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_ranges() {
        assert_eq!(compact(&[0, 2, 3, 4, 7]), "0, 2-4, 7");
        assert_eq!(compact(&[5]), "5");
    }
}
