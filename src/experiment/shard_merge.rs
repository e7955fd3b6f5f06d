//! `uswim merge`: join the shard outputs of one sweep into the `results.csv` a single run writes.
//!
//! Every `shard-I-of-N.json` in the given folders is read; the shards must come from the same sweep
//! (format, uswim version, spec hash, grid size, shard count and columns all equal), each shard 0..N
//! must be present exactly once, and each shard's CSV must hold exactly its points (p mod N = I) with
//! the recorded header. Anything else is an error naming the files: never a silently short result.

use super::shard::{FORMAT, SweepMeta, parse_shard_file_name};
use super::sweep::write_csv;
use super::sweep_error::SweepError;
use crate::error::InputError;
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

/// Merges the shards found in `dirs` into `out` (written atomically).
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<MergeReport, MergeError> {
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

    let grid = reference.grid_points;
    let mut rows: Vec<Option<Vec<String>>> = vec![None; grid];
    for (path, meta) in by_index.values() {
        for (point, row) in read_rows(path, meta, grid)? {
            rows[point] = Some(row);
        }
    }
    // Every shard contributed exactly its points and the shards partition the grid, so every row is set.
    let rows: Vec<Vec<String>> = rows.into_iter().flatten().collect();
    debug_assert_eq!(rows.len(), grid);
    write_csv(out, &reference.columns, rows.iter())?;
    Ok(MergeReport {
        out: out.to_path_buf(),
        shards: count,
        rows: rows.len(),
        spec_hash: reference.spec_hash,
    })
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
            if meta.format != FORMAT {
                return Err(MergeError::Unreadable(InputError::new(
                    path.display().to_string(),
                    "format",
                    format!("{:?} is not {FORMAT:?}", meta.format),
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

/// The rows of one shard's CSV, checked against its metadata: the header, and exactly the shard's
/// points in increasing order.
fn read_rows(
    meta_path: &Path,
    meta: &SweepMeta,
    grid: usize,
) -> Result<Vec<(usize, Vec<String>)>, MergeError> {
    let path = meta.csv_path(meta_path);
    let rows_error = |problem: String| MergeError::Rows {
        file: path.clone(),
        problem,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(&path)
        .map_err(|e| rows_error(format!("cannot read: {e}")))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| rows_error(format!("cannot read the header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    if header != meta.columns {
        return Err(rows_error(
            "its header differs from the columns recorded in its metadata".into(),
        ));
    }
    let mut expected = meta.shard.points(grid);
    let mut rows = Vec::with_capacity(meta.shard.len(grid));
    let mut hash = super::shard::RowsHash::default();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| rows_error(format!("row {}: {e}", line + 1)))?;
        let point: usize = record
            .get(0)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| rows_error(format!("row {}: the point column is not an index", line + 1)))?;
        match expected.next() {
            Some(want) if want == point => {}
            Some(want) => {
                return Err(rows_error(format!(
                    "row {} is point {point}, expected point {want} (shard {} holds points = {} mod {})",
                    line + 1,
                    meta.shard,
                    meta.shard.index,
                    meta.shard.count
                )));
            }
            None => {
                return Err(rows_error(format!(
                    "row {} (point {point}) is one row too many",
                    line + 1
                )));
            }
        }
        hash.add(record.iter());
        rows.push((point, record.iter().map(str::to_string).collect()));
    }
    if let Some(want) = expected.next() {
        return Err(rows_error(format!(
            "{} rows, but shard {} has {} points (first missing: point {want}); the file is truncated",
            rows.len(),
            meta.shard,
            meta.shard.len(grid)
        )));
    }
    if !meta.rows_hash.is_empty() && hash.hex() != meta.rows_hash {
        return Err(rows_error(format!(
            "its rows hash to {}, but its metadata records {}: the CSV was changed or belongs to \
             another run",
            hash.hex(),
            meta.rows_hash
        )));
    }
    Ok(rows)
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
