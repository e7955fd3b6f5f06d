//! Sharding a sweep over a cluster: shard `i` of `n` runs the grid points `p` with `p mod n = i`
//! (interleaved, so that every shard gets a similar mix of small and large points), and writes its rows
//! with a metadata file that lets `uswim merge` prove the shards form exactly one complete sweep.
//!
//! A shard is chosen by `--shard i/n`, or, inside a Slurm job array, by `SLURM_ARRAY_TASK_ID` (minus
//! `SLURM_ARRAY_TASK_MIN` when set) and `SLURM_ARRAY_TASK_COUNT`.

use crate::error::InputError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Format tag written to every sweep metadata file.
pub const FORMAT: &str = "uswim-sweep/1";

/// One of `count` disjoint slices of a grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, 0-based, `< count`.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// The whole grid as one shard.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// A shard, checked: `count >= 1` and `index < count`.
    pub fn new(index: u32, count: u32, source: &str) -> Result<Self, InputError> {
        if count == 0 {
            return Err(InputError::new(
                source,
                "n",
                "the number of shards must be at least 1",
            ));
        }
        if index >= count {
            return Err(InputError::new(
                source,
                "i",
                format!(
                    "shard {index} is out of range; allowed: 0..={} (0-based, of {count})",
                    count - 1
                ),
            ));
        }
        Ok(Self { index, count })
    }

    /// Parses `i/n` (0-based `i`).
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let bad = || InputError::new("--shard", text, "expected i/n with 0 <= i < n, such as 0/4");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let i: u32 = i.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Self::new(i, n, "--shard")
    }

    /// The shard of a Slurm job-array task, from an environment lookup (`std::env::var` in the CLI):
    /// `None` outside a job array. Task ids are made 0-based with `SLURM_ARRAY_TASK_MIN` when it is set,
    /// so `--array=1-8` and `--array=0-7` both give shards 0..8 of 8.
    pub fn from_slurm(var: impl Fn(&str) -> Option<String>) -> Option<Result<Self, InputError>> {
        let Some(id) = var("SLURM_ARRAY_TASK_ID") else {
            // A task count without a task id is a broken job script, not "the whole grid".
            return var("SLURM_ARRAY_TASK_COUNT").map(|count| {
                Err(InputError::new(
                    "SLURM_ARRAY_TASK_ID",
                    "",
                    format!("not set while SLURM_ARRAY_TASK_COUNT is ({count}); give --shard i/n"),
                ))
            });
        };
        let parse = |name: &str, text: String| {
            text.trim()
                .parse::<u32>()
                .map_err(|_| InputError::new(name, text.clone(), "not a non-negative integer"))
        };
        Some((|| {
            let id = parse("SLURM_ARRAY_TASK_ID", id)?;
            let count = var("SLURM_ARRAY_TASK_COUNT").ok_or_else(|| {
                InputError::new(
                    "SLURM_ARRAY_TASK_COUNT",
                    "",
                    "not set while SLURM_ARRAY_TASK_ID is; give --shard i/n",
                )
            })?;
            let count = parse("SLURM_ARRAY_TASK_COUNT", count)?;
            let min = match var("SLURM_ARRAY_TASK_MIN") {
                Some(m) => parse("SLURM_ARRAY_TASK_MIN", m)?,
                None => 0,
            };
            let index = id.checked_sub(min).ok_or_else(|| {
                InputError::new(
                    "SLURM_ARRAY_TASK_ID",
                    id.to_string(),
                    "below SLURM_ARRAY_TASK_MIN",
                )
            })?;
            Self::new(index, count, "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT")
        })())
    }

    /// The grid points of this shard, in increasing order.
    pub fn points(&self, grid: usize) -> impl Iterator<Item = usize> + use<> {
        (self.index as usize..grid).step_by(self.count as usize)
    }

    /// Number of grid points in this shard.
    pub fn len(&self, grid: usize) -> usize {
        grid.saturating_sub(self.index as usize)
            .div_ceil(self.count as usize)
    }

    /// The file stem of this shard's outputs, `shard-I-of-N` with I zero-padded to N's width.
    pub fn file_stem(&self) -> String {
        let width = self.count.to_string().len();
        format!("shard-{:0width$}-of-{}", self.index, self.count)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a sweep run (whole or shard) records beside its CSV (`sweep.json` or `shard-I-of-N.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepMeta {
    /// [`FORMAT`].
    pub format: String,
    /// The uswim version that wrote it (shards of different versions are not merged).
    pub uswim_version: String,
    /// The sweep's display name.
    pub name: String,
    /// The spec file as given.
    pub spec: String,
    /// [`crate::experiment::sweep_spec::SweepSpec::hash_hex`].
    pub spec_hash: String,
    /// Points in the whole grid.
    pub grid_points: usize,
    /// Which shard this is ([`Shard::WHOLE`] for a single run).
    pub shard: Shard,
    /// Rows in the CSV.
    pub rows: usize,
    /// The CSV header.
    pub columns: Vec<String>,
    /// The CSV file name, in the same folder.
    pub csv: String,
    /// Wall time of the run, in seconds (informational).
    pub wall_time_s: f64,
    /// Worker threads used (informational; results do not depend on it).
    pub threads: usize,
    /// [`RowsHash`] of the CSV's rows, 16 hex digits; `uswim merge` refuses a CSV whose rows differ.
    /// Empty in metadata written before it existed (then only the row count and points are checked).
    #[serde(default)]
    pub rows_hash: String,
    /// A `uswim reproduce` shard's experiment ([`super::shard_reproduce::ShardInfo`]); absent in a
    /// sweep's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproduce: Option<super::shard_reproduce::ShardInfo>,
}

/// A 64-bit FNV-1a hash of a results CSV's rows (not its header), independent of CSV quoting: every
/// field's bytes followed by 0x1f, every row followed by 0x1e.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowsHash(u64);

impl Default for RowsHash {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl RowsHash {
    /// Adds one row.
    pub fn add<S: AsRef<str>>(&mut self, fields: impl IntoIterator<Item = S>) {
        for field in fields {
            self.bytes(field.as_ref().as_bytes());
            self.bytes(&[0x1f]);
        }
        self.bytes(&[0x1e]);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// As 16 hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

impl SweepMeta {
    /// Pretty JSON text.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a metadata file.
    pub fn read(path: &Path) -> Result<Self, InputError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(&source, "", format!("cannot read: {e}")))?;
        serde_json::from_str(&text)
            .map_err(|e| InputError::new(&source, format!("line {}", e.line()), e.to_string()))
    }

    /// The CSV this metadata describes, beside `meta_path`.
    pub fn csv_path(&self, meta_path: &Path) -> PathBuf {
        meta_path.with_file_name(&self.csv)
    }
}

/// The shard number in a file name `shard-I-of-N.json`, as (I, N).
pub fn parse_shard_file_name(name: &str) -> Option<(u32, u32)> {
    let stem = name.strip_prefix("shard-")?.strip_suffix(".json")?;
    let (i, n) = stem.split_once("-of-")?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_grid() {
        for grid in [0usize, 1, 7, 20] {
            for count in 1..6u32 {
                let mut all: Vec<usize> = (0..count)
                    .flat_map(|i| {
                        let s = Shard::new(i, count, "t").unwrap();
                        assert_eq!(s.points(grid).count(), s.len(grid));
                        s.points(grid).collect::<Vec<_>>()
                    })
                    .collect();
                all.sort_unstable();
                assert_eq!(all, (0..grid).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn parse_and_names() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        assert!(
            Shard::parse("3/3")
                .unwrap_err()
                .to_string()
                .contains("out of range")
        );
        assert!(Shard::parse("1/0").is_err());
        assert!(Shard::parse("1-3").is_err());
        let s = Shard::new(7, 120, "t").unwrap();
        assert_eq!(s.file_stem(), "shard-007-of-120");
        assert_eq!(parse_shard_file_name("shard-007-of-120.json"), Some((7, 120)));
        assert_eq!(parse_shard_file_name("shard-7-of-x.json"), None);
    }

    #[test]
    fn slurm_variables_give_the_shard() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert!(Shard::from_slurm(env(&[])).is_none());
        let s = Shard::from_slurm(env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]));
        assert_eq!(s.unwrap().unwrap(), Shard { index: 3, count: 4 });
        let one_based = env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
        ]);
        assert_eq!(
            Shard::from_slurm(one_based).unwrap().unwrap(),
            Shard { index: 3, count: 4 }
        );
        let err = Shard::from_slurm(env(&[("SLURM_ARRAY_TASK_ID", "3")]))
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("SLURM_ARRAY_TASK_COUNT"), "{err}");
        let err = Shard::from_slurm(env(&[("SLURM_ARRAY_TASK_COUNT", "4")]))
            .expect("a task count alone is refused, not ignored")
            .unwrap_err();
        assert!(err.to_string().contains("SLURM_ARRAY_TASK_ID"), "{err}");
    }

    #[test]
    fn rows_hash_depends_on_every_field_and_its_boundaries() {
        let hash = |rows: &[&[&str]]| {
            let mut h = RowsHash::default();
            for r in rows {
                h.add(r.iter());
            }
            h.hex()
        };
        let base = hash(&[&["0", "a,b"], &["1", "c"]]);
        assert_eq!(base, hash(&[&["0", "a,b"], &["1", "c"]]));
        assert_ne!(base, hash(&[&["0", "a", "b"], &["1", "c"]]));
        assert_ne!(base, hash(&[&["0", "a,b", "1", "c"]]));
        assert_ne!(base, hash(&[&["0", "a,b"], &["1", "d"]]));
    }
}
