//! Parameter sweeps: run every point of a [`SweepSpec`] grid (or one shard of it) in parallel and write
//! one CSV row per point, in point order, with the programmer's summary columns and, when the spec asks
//! for `mc_runs`, the Monte-Carlo accuracy of the programmed network.
//!
//! Output, in the output folder: `results.csv` and `sweep.json` for a whole run, or
//! `shard-I-of-N.csv` and `shard-I-of-N.json` for a shard ([`super::shard`]); `uswim merge` joins shards
//! into the `results.csv` a whole run writes, byte for byte.
//!
//! CSV columns: [`FIXED_COLUMNS`] (`point`, `seed`, `model`, `method`, `fraction`), then
//! [`SweepSpec::axis_columns`], then [`metric_columns`], then [`ACCURACY_COLUMNS`] when `mc_runs` > 0
//! (so a sweep without accuracy runs writes exactly the columns it always did).
//!
//! Results depend only on the spec: each point's seed derives from (spec seed, point index), every
//! random stream inside the programmer from that seed and array ids, so neither the thread count nor the
//! sharding changes a single byte of the CSV.

use super::shard::{FORMAT, Shard, SweepMeta};
use super::sweep_error::SweepError;
use super::sweep_point::{
    ACCURACY_COLUMNS, AccuracyRuns, FIXED_COLUMNS, Models, metric_columns, needs_scores, run_point,
};
use super::sweep_spec::{Point, SweepSpec};
use crate::error::InputError;
use crate::nn::{Dataset, Split};
use crate::trace::atomic::{self, AtomicFile};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How to run a sweep.
#[derive(Default)]
pub struct SweepOptions<'a> {
    /// Run only this shard (and name the outputs after it); `None` runs the whole grid.
    pub shard: Option<Shard>,
    /// Called once per finished point, from worker threads (a progress bar).
    pub on_point_done: Option<&'a (dyn Fn() + Sync)>,
}

/// What a sweep run wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepReport {
    /// The results CSV.
    pub csv: PathBuf,
    /// The metadata JSON beside it.
    pub meta: PathBuf,
    /// Rows written (points run).
    pub rows: usize,
    /// Points in the whole grid.
    pub grid_points: usize,
    /// Wall time, in seconds.
    pub wall_time_s: f64,
}

/// The CSV header of a sweep's results.
pub fn header(spec: &SweepSpec) -> Vec<String> {
    let mut columns: Vec<String> = FIXED_COLUMNS.iter().map(|s| s.to_string()).collect();
    columns.extend(spec.axis_columns());
    columns.extend(metric_columns());
    if spec.mc_runs > 0 {
        columns.extend(ACCURACY_COLUMNS.iter().map(|s| s.to_string()));
    }
    columns
}

/// The file stem of a run's outputs in its folder: `results`/`sweep` or `shard-I-of-N`.
pub fn output_paths(out_dir: &Path, shard: Option<Shard>) -> (PathBuf, PathBuf) {
    match shard {
        None => (out_dir.join("results.csv"), out_dir.join("sweep.json")),
        Some(s) => {
            let stem = s.file_stem();
            (
                out_dir.join(format!("{stem}.csv")),
                out_dir.join(format!("{stem}.json")),
            )
        }
    }
}

/// Builds the configuration of every point to run, so that a bad point fails before any work starts.
/// On several failures, the lowest point index is reported.
pub fn expand(spec: &SweepSpec, shard: Shard) -> Result<Vec<Point>, SweepError> {
    let indices: Vec<usize> = shard.points(spec.len()).collect();
    let points: Vec<Result<Point, SweepError>> = indices.par_iter().map(|&i| spec.point(i)).collect();
    points.into_iter().collect()
}

/// Runs the sweep (or its shard) and writes its CSV and metadata into `out_dir`.
pub fn run(spec: &SweepSpec, out_dir: &Path, options: &SweepOptions<'_>) -> Result<SweepReport, SweepError> {
    let start = Instant::now();
    let shard = options.shard.unwrap_or(Shard::WHOLE);
    let points = expand(spec, shard)?;
    let mut names: Vec<&str> = points.iter().map(|p| p.model.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut models =
        Models::load(names, spec.arch.as_deref(), |m| spec.resolve_model(m)).map_err(|(name, problem)| {
            SweepError::Spec(InputError::new(&spec.file, format!("model {name}"), problem))
        })?;
    prepare_scores(spec, &points, &mut models)?;
    let test = load_test_set(spec, &models)?;
    let accuracy = test.as_ref().map(|test| AccuracyRuns {
        test,
        runs: spec.mc_runs,
    });

    let results: Vec<Result<Vec<String>, SweepError>> = points
        .par_iter()
        .map(|p| {
            let metrics = run_point(p, &models, accuracy).map_err(|f| SweepError::Run {
                spec: spec.file.clone(),
                index: p.index,
                label: p.label.clone(),
                message: f.message,
                bad_input: f.bad_input,
            });
            if let Some(done) = options.on_point_done {
                done();
            }
            let mut row = vec![
                p.index.to_string(),
                p.seed.to_string(),
                p.model.clone(),
                p.method.clone(),
                p.fraction.to_string(),
            ];
            row.extend(p.cells.iter().cloned());
            row.extend(metrics?);
            Ok(row)
        })
        .collect();
    let rows: Vec<Vec<String>> = results.into_iter().collect::<Result<_, _>>()?;

    let columns = header(spec);
    let (csv_path, meta_path) = output_paths(out_dir, options.shard);
    write_csv(&csv_path, &columns, rows.iter())?;
    let wall_time_s = start.elapsed().as_secs_f64();
    let meta = SweepMeta {
        format: FORMAT.to_string(),
        uswim_version: env!("CARGO_PKG_VERSION").to_string(),
        name: spec.name.clone(),
        spec: spec.file.clone(),
        spec_hash: spec.hash_hex(),
        grid_points: spec.len(),
        shard,
        rows: rows.len(),
        columns,
        csv: csv_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        wall_time_s,
        threads: rayon::current_num_threads(),
    };
    atomic::write_bytes(&meta_path, meta.to_json().as_bytes()).map_err(|e| SweepError::io(&meta_path, e))?;
    Ok(SweepReport {
        csv: csv_path,
        meta: meta_path,
        rows: rows.len(),
        grid_points: spec.len(),
        wall_time_s,
    })
}

/// Runs the sensitivity pass of every model that a point selects weights for by score, over the first
/// `calib_samples` training images of `data`.
fn prepare_scores(spec: &SweepSpec, points: &[Point], models: &mut Models) -> Result<(), SweepError> {
    let mut scored: Vec<&str> = points
        .iter()
        .filter(|p| needs_scores(p))
        .map(|p| p.model.as_str())
        .collect();
    if scored.is_empty() {
        return Ok(());
    }
    scored.sort_unstable();
    scored.dedup();
    let mut calib = Dataset::load(&spec.data, Split::Train)
        .map_err(|e| SweepError::spec(&spec.file, "data", e.to_string()))?;
    calib.truncate(spec.calib_samples);
    for name in scored {
        models
            .analyze(name, &calib)
            .map_err(|problem| SweepError::spec(&spec.file, format!("model {name}"), problem))?;
    }
    Ok(())
}

/// The test set of the accuracy runs (the first `test_images` of the test split of `data`), loaded once
/// when the spec asks for `mc_runs` > 0, and checked against every model of the sweep before any point
/// runs; `None` without accuracy runs.
fn load_test_set(spec: &SweepSpec, models: &Models) -> Result<Option<Dataset>, SweepError> {
    if spec.mc_runs == 0 {
        return Ok(None);
    }
    let mut test = Dataset::load(&spec.data, Split::Test)
        .map_err(|e| SweepError::spec(&spec.file, "data", e.to_string()))?;
    if let Some(n) = spec.test_images {
        test.truncate(n);
    }
    for (name, model) in models.iter() {
        model
            .network
            .check_dataset(&test)
            .map_err(|e| SweepError::spec(&spec.file, format!("model {name}"), e.to_string()))?;
    }
    Ok(Some(test))
}

/// Writes a results CSV atomically (the exact bytes `uswim merge` reproduces): a header, then the rows,
/// quoted only where needed, `\n` line ends.
pub fn write_csv<'a, R>(
    path: &Path,
    columns: &[String],
    rows: impl Iterator<Item = &'a R>,
) -> Result<(), SweepError>
where
    R: AsRef<[String]> + 'a,
{
    let io = |e: std::io::Error| SweepError::io(path, e);
    let file = AtomicFile::create(path).map_err(io)?;
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(file);
    let csv_err = |e: csv::Error| SweepError::io(path, std::io::Error::other(e));
    writer.write_record(columns).map_err(csv_err)?;
    for row in rows {
        writer.write_record(row.as_ref()).map_err(csv_err)?;
    }
    let file = writer.into_inner().map_err(|e| io(e.into_error()))?;
    file.commit().map_err(io)
}
