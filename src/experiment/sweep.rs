//! Parameter sweeps: run every point of a [`SweepSpec`] grid (or one shard of it) in parallel and write
//! one CSV row per point, in point order, with the programmer's summary columns and, when the spec asks
//! for `mc_runs`, the Monte-Carlo accuracy of the programmed network.
//!
//! Output, in the output folder: `results.csv` and `sweep.json` for a whole run, or
//! `shard-I-of-N.csv` and `shard-I-of-N.json` for a shard ([`super::shard`]); `uswim merge` joins shards
//! into the `results.csv` a whole run writes, byte for byte. The CSV and its JSON are one set: they
//! appear in the folder together or not at all ([`crate::trace::out_dir_shared`]), and a `kill -9` at
//! any instant leaves the folder's previous sets as they were.
//!
//! CSV columns: [`FIXED_COLUMNS`] (`point`, `seed`, `model`, `method`, `fraction`), then
//! [`SweepSpec::axis_columns`], then [`metric_columns`], then [`ACCURACY_COLUMNS`] when `mc_runs` > 0
//! (so a sweep without accuracy runs writes exactly the columns it always did).
//!
//! Sweeps stream: points run in chunks of [`chunk_points`], each finished chunk is appended to a partial
//! file beside the results and synced, so memory does not grow with the grid, a crash keeps the finished
//! chunks and [`SweepOptions::resume`] continues after them; the results CSV and its metadata (with a
//! hash of the rows that `uswim merge` checks) appear only once every point is done.
//!
//! Results depend only on the spec: each point's seed derives from (spec seed, point index), every
//! random stream inside the programmer from that seed and array ids, so neither the thread count nor the
//! sharding changes a single byte of the CSV.

use super::shard::{FORMAT, RowsHash, Shard, SweepMeta};
use super::sweep_error::SweepError;
use super::sweep_point::{
    ACCURACY_COLUMNS, AccuracyRuns, FIXED_COLUMNS, Models, metric_columns, needs_scores, run_point,
};
use super::sweep_spec::SweepSpec;
use crate::error::InputError;
use crate::nn::{Dataset, Split};
use crate::trace::atomic::{self, AtomicFile};
use crate::trace::fault;
use crate::trace::out_dir::{self, OutDirError, OutputLock};
use crate::trace::out_dir_shared::{FileSet, remove_work_dir_if_empty, work_dir};
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How to run a sweep.
#[derive(Default)]
pub struct SweepOptions<'a> {
    /// Run only this shard (and name the outputs after it); `None` runs the whole grid.
    pub shard: Option<Shard>,
    /// Called once per finished point, from worker threads (a progress bar).
    pub on_point_done: Option<&'a (dyn Fn() + Sync)>,
    /// Continue the partial results of an interrupted run of the same spec and shard, skipping the
    /// points it finished; without it, a partial file is started afresh.
    pub resume: bool,
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
    /// Rows taken over from an interrupted run (`--resume`).
    pub resumed_rows: usize,
    /// Points in the whole grid.
    pub grid_points: usize,
    /// Wall time, in seconds.
    pub wall_time_s: f64,
}

/// What checking every point of a grid found: the models to load, without keeping the points.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GridCheck {
    /// Points checked (the shard's points).
    pub points: usize,
    /// Every model the points use, sorted, without repeats.
    pub models: Vec<String>,
    /// The models of points that select weights by sensitivity score.
    pub scored_models: Vec<String>,
}

/// The fewest points run and appended to the partial results together.
pub const MIN_CHUNK_POINTS: usize = 8;

/// Points whose configurations are built, run and appended to the partial results together: four per
/// worker thread (enough to keep every thread busy), at least [`MIN_CHUNK_POINTS`]. The memory of a sweep
/// is bounded by this many points whatever the grid size, and an interrupted sweep loses at most one
/// chunk of work. The results do not depend on it.
pub fn chunk_points() -> usize {
    (4 * rayon::current_num_threads()).max(MIN_CHUNK_POINTS)
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

/// The partial results file of a run (or shard) into `out_dir`: `NAME.csv.partial` in the folder's work
/// folder ([`work_dir`]), outside the output folder, which changes only whole.
pub fn partial_path(out_dir: &Path, shard: Option<Shard>) -> PathBuf {
    let (csv, _) = output_paths(out_dir, shard);
    let work = work_dir(out_dir).unwrap_or_else(|_| out_dir.with_extension("uswim-work"));
    work.join(format!("{}.partial", file_name(&csv)))
}

/// The last component of `path` as text.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Locks the outputs of one run (a shard's, or the whole grid's) for as long as it runs, with a lock file
/// beside its partial results: a second run of the same outputs fails at once. The work folder is
/// created if missing (again if another run removed it meanwhile).
fn lock_outputs(partial: &Path, csv: &Path) -> Result<OutputLock, OutDirError> {
    let work = partial.parent().unwrap_or(Path::new("."));
    let lock = work.join(format!(".{}.uswim-lock", out_dir::stem(&file_name(csv))));
    let mut tries = 0;
    loop {
        std::fs::create_dir_all(work).map_err(|e| OutDirError::Io {
            action: format!("cannot create {}", work.display()),
            error: e,
        })?;
        match OutputLock::acquire(&lock, csv) {
            Err(OutDirError::Io { error, .. })
                if error.kind() == std::io::ErrorKind::NotFound && tries < 5 =>
            {
                tries += 1;
            }
            other => return other,
        }
    }
}

/// Builds and checks the configuration of every point of the shard, chunk by chunk (nothing is kept, so
/// a grid at the size limit checks in bounded memory), so that a bad point fails before any work starts.
/// On several failures, the lowest point index is reported.
pub fn check_grid(spec: &SweepSpec, shard: Shard) -> Result<GridCheck, SweepError> {
    let mut check = GridCheck::default();
    let mut models = BTreeSet::new();
    let mut scored = BTreeSet::new();
    let mut indices = shard.points(spec.len());
    loop {
        let chunk: Vec<usize> = indices.by_ref().take(chunk_points() * 16).collect();
        if chunk.is_empty() {
            break;
        }
        let found: Vec<Result<(String, bool), SweepError>> = chunk
            .par_iter()
            .map(|&i| spec.point(i).map(|p| (p.model.clone(), needs_scores(&p))))
            .collect();
        for f in found {
            let (model, needs) = f?;
            if needs {
                scored.insert(model.clone());
            }
            models.insert(model);
        }
        check.points += chunk.len();
    }
    check.models = models.into_iter().collect();
    check.scored_models = scored.into_iter().collect();
    Ok(check)
}

/// Everything a run of the grid needs, loaded and checked: the models (with their sensitivity passes
/// when `analyze`) and the test set of the accuracy runs. `sweep --check` calls it without `analyze`,
/// so that it refuses every spec a run refuses (a missing model file, an unknown zoo name, a dataset
/// that does not fit the models) without doing the work.
pub fn prepare(
    spec: &SweepSpec,
    grid: &GridCheck,
    analyze: bool,
) -> Result<(Models, Option<Dataset>), SweepError> {
    let mut models = Models::load(
        grid.models.iter().map(String::as_str),
        spec.arch.as_deref(),
        |m| spec.resolve_model(m),
    )
    .map_err(|(name, problem)| {
        SweepError::Spec(InputError::new(&spec.file, format!("model {name}"), problem))
    })?;
    if analyze {
        prepare_scores(spec, &grid.scored_models, &mut models)?;
    } else if !grid.scored_models.is_empty() {
        crate::nn::normalize::load(&spec.data, Split::Train, spec.normalize.as_ref())
            .map_err(|e| SweepError::spec(&spec.file, "data", e.to_string()))?;
    }
    let test = load_test_set(spec, &models)?;
    Ok((models, test))
}

/// Runs the sweep (or its shard) and writes its CSV and metadata into `out_dir`.
///
/// Before any work, the folder is checked, its staging folder created (proving the location writable)
/// and the shard's outputs locked (a second run of the same outputs fails at once). Points run in chunks
/// of [`chunk_points`]; each finished chunk is appended to the partial file ([`partial_path`]) and
/// synced, followed by a marker line (a chunk without its marker, cut by a crash or a full disk, is
/// dropped), so that a crash keeps every finished chunk and `resume` continues after the last one. At
/// the end the CSV is written from the partial file (streamed, not held in memory) and the metadata with
/// the rows' hash beside it into the staging folder, the pair is committed into `out_dir` as one set,
/// and the partial file is removed.
pub fn run(spec: &SweepSpec, out_dir: &Path, options: &SweepOptions<'_>) -> Result<SweepReport, SweepError> {
    let report = run_locked(spec, out_dir, options);
    // The work folder goes once no run uses it (an interrupted run's partial results keep it).
    remove_work_dir_if_empty(out_dir);
    report
}

/// [`run`], holding the lock of its outputs until it returns.
fn run_locked(
    spec: &SweepSpec,
    out_dir: &Path,
    options: &SweepOptions<'_>,
) -> Result<SweepReport, SweepError> {
    let start = Instant::now();
    let shard = options.shard.unwrap_or(Shard::WHOLE);
    let (csv_path, meta_path) = output_paths(out_dir, options.shard);
    let out_error = |e: OutDirError, path: &Path| {
        if e.is_bad_input() {
            SweepError::spec(&spec.file, "--out", e.to_string())
        } else {
            SweepError::io(path, std::io::Error::other(e.to_string()))
        }
    };
    let set = FileSet::begin(out_dir, "sweep").map_err(|e| out_error(e, out_dir))?;
    let partial_file = partial_path(out_dir, options.shard);
    let _lock = lock_outputs(&partial_file, &csv_path).map_err(|e| out_error(e, &partial_file))?;
    let grid = check_grid(spec, shard)?;
    let (models, test) = prepare(spec, &grid, true)?;
    let accuracy = test.as_ref().map(|test| AccuracyRuns {
        test,
        runs: spec.mc_runs,
    });
    let columns = header(spec);
    let mut partial = Partial::open(&partial_file, spec, shard, &columns, options.resume)?;
    let resumed_rows = partial.rows;
    let mut indices = shard.points(spec.len()).skip(partial.rows);
    loop {
        let chunk: Vec<usize> = indices.by_ref().take(chunk_points()).collect();
        if chunk.is_empty() {
            break;
        }
        let rows: Vec<Result<Vec<String>, SweepError>> = chunk
            .par_iter()
            .map(|&i| {
                let row = run_one(spec, i, &models, accuracy);
                if let Some(done) = options.on_point_done {
                    done();
                }
                row
            })
            .collect();
        let rows: Vec<Vec<String>> = rows.into_iter().collect::<Result<_, _>>()?;
        partial.append(&rows)?;
    }
    let staged_csv = set.path().join(file_name(&csv_path));
    let staged_meta = set.path().join(file_name(&meta_path));
    let (rows, rows_hash) = partial.finish(&staged_csv)?;
    let wall_time_s = start.elapsed().as_secs_f64();
    let meta = SweepMeta {
        format: FORMAT.to_string(),
        uswim_version: env!("CARGO_PKG_VERSION").to_string(),
        name: spec.name.clone(),
        spec: spec.file.clone(),
        spec_hash: spec.hash_hex(),
        grid_points: spec.len(),
        shard,
        rows,
        columns,
        csv: csv_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        wall_time_s,
        threads: rayon::current_num_threads(),
        rows_hash: rows_hash.hex(),
        reproduce: None,
    };
    atomic::write_bytes(&staged_meta, meta.to_json().as_bytes())
        .map_err(|e| SweepError::io(&meta_path, e))?;
    set.commit().map_err(|e| SweepError::io(out_dir, e))?;
    std::fs::remove_file(&partial_file).map_err(|e| SweepError::io(&partial_file, e))?;
    Ok(SweepReport {
        csv: csv_path,
        meta: meta_path,
        rows,
        resumed_rows,
        grid_points: spec.len(),
        wall_time_s,
    })
}

/// One point's CSV row: its configuration built again (configurations are not kept between the check
/// and the run, to bound memory), then evaluated by [`run_point`].
fn run_one(
    spec: &SweepSpec,
    index: usize,
    models: &Models,
    accuracy: Option<AccuracyRuns<'_>>,
) -> Result<Vec<String>, SweepError> {
    let p = spec.point(index)?;
    let metrics = run_point(&p, models, accuracy).map_err(|f| SweepError::Run {
        spec: spec.file.clone(),
        index: p.index,
        label: p.label.clone(),
        message: f.message,
        bad_input: f.bad_input,
    })?;
    let mut row = vec![
        p.index.to_string(),
        p.seed.to_string(),
        p.model.clone(),
        p.method.clone(),
        p.fraction.to_string(),
    ];
    row.extend(p.cells);
    row.extend(metrics);
    Ok(row)
}

/// The first line of a partial results file: what run it belongs to.
fn partial_tag(spec: &SweepSpec, shard: Shard) -> String {
    format!(
        "# uswim sweep partial results: spec {} shard {shard}\n",
        spec.hash_hex()
    )
}

/// The line that ends each appended chunk of rows.
const CHUNK_END: &str = "# chunk ";

/// The partial results of a running sweep: a tag line, the CSV header, then chunks of CSV rows, each
/// followed by `# chunk ROWS` once it is synced to disk.
struct Partial {
    path: PathBuf,
    file: std::fs::File,
    /// Rows in complete chunks.
    rows: usize,
}

impl Partial {
    /// Opens the partial file: with `resume`, keeps its complete chunks (when it belongs to this spec and
    /// shard) and cuts off a chunk a crash left half written; otherwise starts it afresh.
    fn open(
        path: &Path,
        spec: &SweepSpec,
        shard: Shard,
        columns: &[String],
        resume: bool,
    ) -> Result<Self, SweepError> {
        let io = |e: std::io::Error| SweepError::io(path, e);
        let tag = partial_tag(spec, shard);
        let mut head = Vec::new();
        head.extend_from_slice(tag.as_bytes());
        head.extend_from_slice(&csv_line(columns));
        if resume && let Some((keep, rows)) = complete_prefix(path, &head)? {
            let file = std::fs::OpenOptions::new().write(true).open(path).map_err(io)?;
            file.set_len(keep).map_err(io)?;
            let mut file = file;
            file.seek(SeekFrom::End(0)).map_err(io)?;
            return Ok(Self {
                path: path.to_path_buf(),
                file,
                rows,
            });
        }
        let mut file = std::fs::File::create(path).map_err(io)?;
        let written = fault::charge_write(head.len())
            .and_then(|()| file.write_all(&head))
            .and_then(|()| file.sync_data());
        if let Err(e) = written {
            let _ = std::fs::remove_file(path);
            return Err(io(e));
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            rows: 0,
        })
    }

    /// Appends a chunk of rows and its end marker, synced.
    fn append(&mut self, rows: &[Vec<String>]) -> Result<(), SweepError> {
        let mut bytes = Vec::new();
        for row in rows {
            bytes.extend_from_slice(&csv_line(row));
        }
        bytes.extend_from_slice(format!("{CHUNK_END}{}\n", rows.len()).as_bytes());
        let io = |e: std::io::Error| SweepError::io(&self.path, e);
        let before = self.file.stream_position().map_err(io)?;
        let written = fault::charge_write(bytes.len())
            .and_then(|()| self.file.write_all(&bytes))
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // A full disk mid-chunk: cut the half-written chunk off, so the file stays resumable (or,
            // holding no finished point, goes).
            let _ = self.file.set_len(before);
            if self.rows == 0 {
                let _ = std::fs::remove_file(&self.path);
            }
            return Err(io(std::io::Error::new(
                e.kind(),
                format!("{e} (the finished points are kept: rerun with --resume to continue)"),
            )));
        }
        self.rows += rows.len();
        Ok(())
    }

    /// Writes the results CSV (header and rows, no tag or markers) atomically from the partial file,
    /// streaming; returns the rows and their hash.
    fn finish(self, csv: &Path) -> Result<(usize, RowsHash), SweepError> {
        let io = |e: std::io::Error| SweepError::io(&self.path, e);
        drop(self.file);
        let reader = BufReader::new(std::fs::File::open(&self.path).map_err(io)?);
        let mut out = AtomicFile::create(csv).map_err(|e| SweepError::io(csv, e))?;
        for line in reader.split(b'\n').skip(1) {
            let line = line.map_err(io)?;
            if !line.starts_with(CHUNK_END.as_bytes()) {
                out.write_all(&line).map_err(|e| SweepError::io(csv, e))?;
                out.write_all(b"\n").map_err(|e| SweepError::io(csv, e))?;
            }
        }
        out.commit().map_err(|e| SweepError::io(csv, e))?;
        let mut reader =
            csv::Reader::from_path(csv).map_err(|e| SweepError::io(csv, std::io::Error::other(e)))?;
        let mut hash = RowsHash::default();
        let mut rows = 0;
        for record in reader.records() {
            let record = record.map_err(|e| SweepError::io(csv, std::io::Error::other(e)))?;
            hash.add(record.iter());
            rows += 1;
        }
        Ok((rows, hash))
    }
}

/// The byte length of the complete chunks of a partial file and their rows, if the file exists and
/// starts with `head` (this spec, this shard, these columns).
fn complete_prefix(path: &Path, head: &[u8]) -> Result<Option<(u64, usize)>, SweepError> {
    let io = |e: std::io::Error| SweepError::io(path, e);
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut reader = BufReader::new(file);
    let mut start = vec![0; head.len()];
    if reader.read_exact(&mut start).is_err() || start != head {
        return Ok(None);
    }
    let (mut offset, mut keep, mut rows) = (head.len() as u64, head.len() as u64, 0);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io)?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        offset += n as u64;
        if let Some(count) = line.strip_prefix(CHUNK_END.as_bytes()) {
            let Some(count) = std::str::from_utf8(count)
                .ok()
                .and_then(|c| c.trim().parse::<usize>().ok())
            else {
                break;
            };
            rows += count;
            keep = offset;
        }
    }
    Ok(Some((keep, rows)))
}

/// One CSV record as the results file writes it: quoted only where needed, `\n` line end.
fn csv_line<S: AsRef<[u8]>>(fields: &[S]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = writer.write_record(fields);
    writer.into_inner().unwrap_or_default()
}

/// Runs the sensitivity pass of every model in `scored` (the models of points that select weights by
/// score), over the first `calib_samples` training images of `data`.
fn prepare_scores(spec: &SweepSpec, scored: &[String], models: &mut Models) -> Result<(), SweepError> {
    if scored.is_empty() {
        return Ok(());
    }
    let mut calib = crate::nn::normalize::load(&spec.data, Split::Train, spec.normalize.as_ref())
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
    let mut test = crate::nn::normalize::load(&spec.data, Split::Test, spec.normalize.as_ref())
        .map_err(|e| SweepError::spec(&spec.file, "data", e.to_string()))?;
    if let Some(n) = spec.test_images {
        test.truncate(n);
    }
    if test.is_empty() {
        return Err(SweepError::spec(
            &spec.file,
            "data",
            format!(
                "the test split of {} has 0 images; allowed: at least 1",
                spec.data
            ),
        ));
    }
    for (name, model) in models.iter() {
        model
            .network
            .check_dataset(&test)
            .map_err(|e| SweepError::spec(&spec.file, format!("model {name}"), e.to_string()))?;
    }
    Ok(Some(test))
}
