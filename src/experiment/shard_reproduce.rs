//! `uswim reproduce --shard i/n` and its merge: the experiment's points sharded like a sweep's.
//!
//! Shard `i` of `n` evaluates the grid points `p` with `p mod n = i` ([`reproduce::evaluate`]) and
//! writes `shard-I-of-N.csv`, one row per point with everything its results row derives from (the
//! runs' accuracies, the mean time and energy, the verified counts, the predicted time: numbers in
//! Rust's shortest round-trip form, so they read back bit for bit), and `shard-I-of-N.json`, the sweep
//! metadata ([`SweepMeta`], format [`FORMAT`]) with what the experiment ran on ([`ShardInfo`]).
//! `uswim merge` checks the shards as it checks a sweep's (one experiment, every shard once, every row
//! hashed) and writes `results.csv`, `headline.md` and the plots that a whole run writes, byte for byte
//! ([`merge_into_folder`]).

use super::reproduce::{self, Evaluated, PointRecord, RunInfo};
use super::reproduce_report::{self, Context};
use super::shard::{RowsHash, Shard, SweepMeta};
use super::shard_merge::{self, MergeError, MergeReport};
use super::sweep_error::SweepError;
use crate::error::InputError;
use crate::trace::atomic::{self, AtomicFile};
use crate::trace::out_dir_shared::FileSet;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// Format tag of a reproduce shard's metadata.
pub const FORMAT: &str = "uswim-reproduce/1";

/// The columns of a reproduce shard's CSV.
pub const COLUMNS: [&str; 11] = [
    "point",
    "setting",
    "method",
    "knowledge",
    "fraction",
    "weights_verified",
    "devices_verified",
    "time_ns",
    "energy_pj",
    "predicted_time_ns",
    "accuracies",
];

/// What a reproduce shard records beside the sweep metadata: the same in every shard of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardInfo {
    /// Every setting and network of the experiment.
    pub info: RunInfo,
    /// The command line without its neutral options ([`reproduce_report::canonical_command`]).
    pub command: String,
}

/// A record's CSV cells, in [`COLUMNS`] order.
fn cells(r: &PointRecord) -> Vec<String> {
    let accuracies: Vec<String> = r.accuracies.iter().map(f64::to_string).collect();
    vec![
        r.point.to_string(),
        r.setting.to_string(),
        r.method.clone(),
        r.knowledge.clone(),
        r.fraction.to_string(),
        r.weights_verified.to_string(),
        r.devices_verified.to_string(),
        r.time_ns.to_string(),
        r.energy_pj.to_string(),
        r.predicted_time_ns.to_string(),
        accuracies.join(";"),
    ]
}

/// The record of a CSV row in [`COLUMNS`] order; on error, what is wrong.
fn record(row: &csv::StringRecord) -> Result<PointRecord, String> {
    if row.len() != COLUMNS.len() {
        return Err(format!("{} fields; expected {}", row.len(), COLUMNS.len()));
    }
    fn num<T: std::str::FromStr>(row: &csv::StringRecord, i: usize) -> Result<T, String> {
        row[i]
            .parse()
            .map_err(|_| format!("{} `{}` is not a number", COLUMNS[i], &row[i]))
    }
    let accuracies = row[10]
        .split(';')
        .map(|a| {
            a.parse::<f64>()
                .map_err(|_| format!("accuracies: `{a}` is not a number"))
        })
        .collect::<Result<_, _>>()?;
    Ok(PointRecord {
        point: num(row, 0)?,
        setting: num(row, 1)?,
        method: row[2].to_string(),
        knowledge: row[3].to_string(),
        fraction: num(row, 4)?,
        weights_verified: num(row, 5)?,
        devices_verified: num(row, 6)?,
        time_ns: num(row, 7)?,
        energy_pj: num(row, 8)?,
        predicted_time_ns: num(row, 9)?,
        accuracies,
    })
}

/// The identity of a reproduce run written into its shards' metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardRun<'a> {
    /// [`reproduce::spec_hash`].
    pub spec_hash: &'a str,
    /// The canonical command line.
    pub command: &'a str,
    /// Wall time of the shard, in seconds (informational).
    pub wall_time_s: f64,
}

/// Writes the shard's `shard-I-of-N.csv` and `.json` into `dir` (a [`FileSet`]'s staging folder);
/// returns their paths there.
pub fn write_shard(
    dir: &Path,
    shard: Shard,
    evaluated: &Evaluated,
    run: &ShardRun<'_>,
) -> io::Result<(PathBuf, PathBuf)> {
    let stem = shard.file_stem();
    let csv_path = dir.join(format!("{stem}.csv"));
    let meta_path = dir.join(format!("{stem}.json"));
    let mut file = AtomicFile::create(&csv_path)?;
    let mut hash = RowsHash::default();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(&mut file);
        w.write_record(COLUMNS)?;
        for r in &evaluated.records {
            let fields = cells(r);
            hash.add(fields.iter());
            w.write_record(&fields)?;
        }
        w.flush()?;
    }
    file.commit()?;
    let meta = SweepMeta {
        format: FORMAT.to_string(),
        uswim_version: env!("CARGO_PKG_VERSION").to_string(),
        name: "reproduce".into(),
        spec: run.command.to_string(),
        spec_hash: run.spec_hash.to_string(),
        grid_points: evaluated.grid_points,
        shard,
        rows: evaluated.records.len(),
        columns: COLUMNS.iter().map(|c| c.to_string()).collect(),
        csv: format!("{stem}.csv"),
        wall_time_s: run.wall_time_s,
        threads: rayon::current_num_threads(),
        rows_hash: hash.hex(),
        reproduce: Some(ShardInfo {
            info: evaluated.info.clone(),
            command: run.command.to_string(),
        }),
    };
    atomic::write_bytes(&meta_path, meta.to_json().as_bytes())?;
    Ok((csv_path, meta_path))
}

/// What merging reproduce shards wrote: the report of the merge and the headline's text.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// Files, shards and rows.
    pub report: MergeReport,
    /// `headline.md`'s text.
    pub headline: String,
}

/// Merges the reproduce shards found in `dirs` into the folder `dir`: `results.csv`, `headline.md` and
/// the plots, added as one set beside the shards, the same bytes a whole run writes.
pub fn merge_into_folder(dirs: &[PathBuf], dir: &Path) -> Result<Merged, MergeError> {
    let (reference, rows) = shard_merge::checked_rows(dirs)?;
    let Some(shard_info) = &reference.reproduce else {
        return Err(MergeError::Unreadable(InputError::new(
            &reference.spec,
            "reproduce",
            "the metadata has no reproduce section",
        )));
    };
    let records = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            record(row).map_err(|problem| MergeError::Rows {
                file: PathBuf::from(format!("{} (merged)", reference.csv)),
                problem: format!("row {}: {problem}", i + 1),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let results = reproduce::assemble(&shard_info.info, &records)
        .map_err(|e| MergeError::Unreadable(InputError::new(&reference.spec, "records", e.to_string())))?;
    let set = FileSet::begin(dir, "merge").map_err(|e| {
        if e.is_bad_input() {
            MergeError::Unreadable(InputError::new(dir.display().to_string(), "", e.to_string()))
        } else {
            MergeError::from(SweepError::io(dir, io::Error::other(e.to_string())))
        }
    })?;
    let ctx = Context {
        command: shard_info.command.clone(),
    };
    let (headline, _) = reproduce_report::write_outputs(set.path(), &results, &ctx)
        .map_err(|e| MergeError::from(SweepError::io(dir, e)))?;
    set.commit().map_err(|e| SweepError::io(dir, e))?;
    Ok(Merged {
        report: MergeReport {
            out: dir.join("results.csv"),
            shards: reference.shard.count,
            rows: results.rows.len(),
            spec_hash: reference.spec_hash.clone(),
        },
        headline,
    })
}
