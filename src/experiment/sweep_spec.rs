//! Sweep specs: the TOML file that names a base hardware configuration and the axes of a grid, its
//! validation, and the expansion of grid points into checked hardware configurations.
//!
//! ```toml
//! name = "array-size"              # shown in reports (optional)
//! hw = "rram_1t1r_256"             # base hardware: a preset name or a TOML file (relative to this spec)
//! set = ["program.max_iterations=50"]  # fixed overrides of the base, like `--set` (optional)
//! model = "lenet"                  # zoo name, or a .safetensors file (then `arch` if not recorded in it)
//! method = "uswim"                 # selection score, used when 0 < fraction < 1
//! fraction = 1.0                   # fraction of weights write-verified (1 = full write-verify)
//! data = "mnist"                   # calibration set (scored methods), and test set of `mc_runs`
//! normalize = "0.1307,0.3081"      # per-channel (x - mean) / std of `data`, like --normalize (optional)
//! calib_samples = 1000             # its first N training images
//! mc_runs = 0                      # > 0: Monte-Carlo accuracy runs per point (needs `data`)
//! test_images = 10000              # accuracy on the first N test images of `data` (default: all)
//! seed = 1                         # Monte-Carlo run r of every point programs the chip run_seed(seed, r)
//! common_seed = true               # false: point p uses a seed derived from (seed, p) instead
//! knowledge = "prior"              # device knowledge of uswim scores: prior, characterised, oracle
//! characterise_cycles = 8          # K of `characterised`
//!
//! [[axis]]                         # keys that move together (zipped): one value list per point
//! keys = ["array.rows", "array.cols"]
//! values = [[64, 64], [128, 128], [256, 256]]
//!
//! [[axis]]                         # a whole table per value; `labels` name them in the CSV
//! key = "program.scheme"
//! values = [{ kind = "fixed", set_v = 1.5, reset_v = 1.5, width_ns = 100.0 },
//!           { kind = "ispp", set_start_v = 1.0, reset_start_v = 1.0, v_step_v = 0.05, v_max_v = 2.0,
//!             width_ns = 100.0 }]
//! labels = ["fixed", "ispp"]
//! name = "scheme"                  # the labels' column (default: the keys joined by "+")
//! ```
//!
//! Keys are dotted paths into the hardware configuration (`array.rows`, `program.tolerance`,
//! `adc.adcs_per_array`, `program.scheme`, `program.scheme.v_step_v`), or one of the run keys `model`,
//! `method` and `fraction`. The grid is the cartesian product of the axes, the first axis varying
//! slowest; point indices follow that order. Each point's configuration is the base table with the
//! point's values applied by [`config::apply_override`] and then checked by [`config::from_table`], so an
//! unknown key path or a value of the wrong type is the configuration's own error, naming the point.

use super::selection::{DEFAULT_CHARACTERISE_CYCLES, Knowledge};
use super::sweep_error::SweepError;
use crate::config::{self, HwConfig};
use crate::nn::normalize::Normalization;
use crate::rng::{self, Purpose};
use crate::sensitivity::Method;
use rand::Rng;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Keys that are not hardware-configuration paths but properties of the run.
pub const RUN_KEYS: [&str; 3] = ["model", "method", "fraction"];

/// Most Monte-Carlo accuracy runs accepted per point (`mc_runs`).
pub const MAX_MC_RUNS: u32 = 100_000;

/// Largest grid accepted (points).
pub const MAX_POINTS: usize = 100_000_000;

/// The spec file as written (before validation).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    #[serde(default)]
    name: Option<String>,
    hw: String,
    #[serde(default)]
    set: Vec<String>,
    #[serde(default = "default_model")]
    model: String,
    #[serde(default)]
    arch: Option<String>,
    #[serde(default = "default_method")]
    method: String,
    #[serde(default = "default_fraction")]
    fraction: f64,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default = "default_common_seed")]
    common_seed: bool,
    #[serde(default)]
    knowledge: Option<String>,
    #[serde(default)]
    characterise_cycles: Option<u32>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    normalize: Option<String>,
    #[serde(default = "default_calib_samples")]
    calib_samples: usize,
    #[serde(default)]
    mc_runs: u32,
    #[serde(default)]
    test_images: Option<usize>,
    #[serde(default)]
    axis: Vec<AxisFile>,
}

fn default_model() -> String {
    "lenet".to_string()
}
fn default_method() -> String {
    "uswim".to_string()
}
fn default_fraction() -> f64 {
    1.0
}
fn default_seed() -> u64 {
    1
}
fn default_common_seed() -> bool {
    true
}
fn default_data() -> String {
    "mnist".to_string()
}
fn default_calib_samples() -> usize {
    1000
}

/// One `[[axis]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AxisFile {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    keys: Option<Vec<String>>,
    values: Vec<toml::Value>,
    #[serde(default)]
    labels: Option<Vec<String>>,
    #[serde(default)]
    name: Option<String>,
}

/// One axis of the grid: one or more keys that take their values together.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Dotted key paths (hardware configuration) or run keys ([`RUN_KEYS`]).
    pub keys: Vec<String>,
    /// The values: `values[v][k]` is key `k`'s value at step `v`.
    pub values: Vec<Vec<toml::Value>>,
    /// Optional names of the steps, written to the column [`Axis::name`].
    pub labels: Option<Vec<String>>,
    /// Column name of the labels (default: the keys joined by `+`).
    pub name: String,
}

/// A validated sweep spec.
#[derive(Debug, Clone)]
pub struct SweepSpec {
    /// The spec file (for messages).
    pub file: String,
    /// Display name (default: the file stem).
    pub name: String,
    /// Where the base hardware came from (file or preset name).
    pub hw_source: String,
    /// Network: zoo name or model file (relative paths resolved against the spec's folder).
    pub model: String,
    /// Architecture for a model file that does not record it.
    pub arch: Option<String>,
    /// Selection method when not swept.
    pub method: String,
    /// Write-verified fraction when not swept.
    pub fraction: f64,
    /// The spec seed; point seeds derive from it.
    pub seed: u64,
    /// What the analyzer knows of the devices when a device-aware method scores weights.
    pub knowledge: Knowledge,
    /// Every point runs with `seed` itself instead of a seed derived from (seed, point): common random
    /// numbers, so that differences between points are not masked by sampling noise.
    pub common_seed: bool,
    /// Calibration set of the sensitivity pass (a dataset name or folder), for scored methods, and the
    /// test set of the accuracy runs.
    pub data: String,
    /// Per-channel normalisation of `data`'s images (the `normalize` key, like `--normalize`).
    pub normalize: Option<Normalization>,
    /// Calibration images (the first ones of the training split).
    pub calib_samples: usize,
    /// Monte-Carlo accuracy runs per point; 0 (the default) writes no accuracy columns.
    pub mc_runs: u32,
    /// Test images of the accuracy runs (the first ones of the test split of `data`); `None`: all.
    pub test_images: Option<usize>,
    /// The axes, slowest first.
    pub axes: Vec<Axis>,
    /// The folder relative paths are resolved against.
    pub dir: PathBuf,
    base: toml::Table,
    hash: u64,
}

/// One grid point, ready to run.
#[derive(Debug, Clone)]
pub struct Point {
    /// Index in the grid (row order of the results).
    pub index: usize,
    /// The point's checked hardware configuration.
    pub hw: HwConfig,
    /// Network (zoo name or model file).
    pub model: String,
    /// Selection method.
    pub method: String,
    /// Write-verified fraction.
    pub fraction: f64,
    /// The point's seed, derived from (spec seed, index), or the spec seed with `common_seed`.
    pub seed: u64,
    /// The spec's device knowledge.
    pub knowledge: Knowledge,
    /// The point's axis cells, in [`SweepSpec::axis_columns`] order.
    pub cells: Vec<String>,
    /// `key=value, ...` for messages.
    pub label: String,
}

impl SweepSpec {
    /// Reads and validates the spec at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SweepError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| SweepError::spec(&path.display().to_string(), "", format!("cannot read: {e}")))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &path.display().to_string(), &dir)
    }

    /// Parses and validates spec text; `file` names it in errors and `dir` resolves relative paths.
    pub fn parse(text: &str, file: &str, dir: &Path) -> Result<Self, SweepError> {
        let value: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let field = line.map(|l| format!("line {l}")).unwrap_or_default();
            SweepError::spec(file, field, e.message().trim())
        })?;
        let raw: SpecFile = serde_path_to_error::deserialize(toml::Value::Table(value)).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            SweepError::spec(file, path, e.into_inner().message().trim())
        })?;
        Self::from_raw(raw, file, dir)
    }

    fn from_raw(raw: SpecFile, file: &str, dir: &Path) -> Result<Self, SweepError> {
        let err = |field: &str, problem: String| SweepError::spec(file, field, problem);
        // Base hardware: a file relative to the spec, else as given (a preset name or a path).
        let hw_path = dir.join(&raw.hw);
        let hw_spec = if hw_path.exists() {
            hw_path.display().to_string()
        } else {
            raw.hw.clone()
        };
        let (hw_text, hw_source) = config::read_source(&hw_spec).map_err(|e| err("hw", e.to_string()))?;
        let mut base: toml::Table = hw_text
            .parse()
            .map_err(|e: toml::de::Error| err("hw", format!("{hw_source}: {}", e.message().trim())))?;
        for (i, text) in raw.set.iter().enumerate() {
            let o = config::parse_override(text).map_err(|e| err(&format!("set[{i}]"), e.to_string()))?;
            config::apply_override(&mut base, &o).map_err(|e| err(&format!("set[{i}]"), e.to_string()))?;
        }
        // The base itself must be valid, so that a failing point is the point's fault.
        config::from_table(base.clone(), &hw_source).map_err(|e| err("hw", e.to_string()))?;

        check_method(&raw.method).map_err(|p| err("method", p))?;
        check_fraction(raw.fraction).map_err(|p| err("fraction", p))?;
        if raw.calib_samples == 0 {
            return Err(err("calib_samples", "0 is out of range; allowed: >= 1".into()));
        }
        if raw.mc_runs > MAX_MC_RUNS {
            return Err(err(
                "mc_runs",
                format!(
                    "{} is out of range; allowed: 0 (no accuracy columns) ..= {MAX_MC_RUNS}",
                    raw.mc_runs
                ),
            ));
        }
        if raw.mc_runs > 0 && raw.data.is_none() {
            return Err(err(
                "mc_runs",
                format!(
                    "{} Monte-Carlo accuracy runs need the test set: add `data` (a dataset name such as \
                     \"mnist\", or a folder)",
                    raw.mc_runs
                ),
            ));
        }
        match raw.test_images {
            Some(0) => return Err(err("test_images", "0 is out of range; allowed: >= 1".into())),
            Some(_) if raw.mc_runs == 0 => {
                return Err(err(
                    "test_images",
                    "only used by the accuracy runs; set `mc_runs` > 0 or remove it".into(),
                ));
            }
            _ => {}
        }
        if raw.model.trim().is_empty() {
            return Err(err(
                "model",
                "empty; give a zoo name (lenet, mlp, ...) or a model file".into(),
            ));
        }

        let mut axes: Vec<Axis> = Vec::with_capacity(raw.axis.len());
        let mut seen_keys: Vec<String> = Vec::new();
        for (a, axis) in raw.axis.into_iter().enumerate() {
            let at = |field: &str| format!("axis[{a}].{field}");
            let keys = match (axis.key, axis.keys) {
                (Some(k), None) => vec![k],
                (None, Some(ks)) if !ks.is_empty() => ks,
                (None, Some(_)) => return Err(err(&at("keys"), "empty; list at least one key".into())),
                (None, None) => return Err(err(&format!("axis[{a}]"), "needs `key` or `keys`".into())),
                (Some(_), Some(_)) => {
                    return Err(err(
                        &format!("axis[{a}]"),
                        "give either `key` or `keys`, not both".into(),
                    ));
                }
            };
            for key in &keys {
                if key.split('.').any(str::is_empty) {
                    return Err(err(&at("key"), format!("`{key}` is not a dotted key path")));
                }
                if seen_keys.contains(key) {
                    return Err(err(&at("key"), format!("`{key}` is swept by more than one axis")));
                }
                seen_keys.push(key.clone());
            }
            if axis.values.is_empty() {
                return Err(err(&at("values"), "empty; list at least one value".into()));
            }
            let values: Vec<Vec<toml::Value>> = if keys.len() == 1 {
                axis.values.into_iter().map(|v| vec![v]).collect()
            } else {
                axis.values
                    .into_iter()
                    .enumerate()
                    .map(|(v, value)| match value {
                        toml::Value::Array(items) if items.len() == keys.len() => Ok(items),
                        other => Err(err(
                            &format!("axis[{a}].values[{v}]"),
                            format!(
                                "{} has {} keys, so each value must be a list of {} values; found {}",
                                keys.join(", "),
                                keys.len(),
                                keys.len(),
                                inline(&other)
                            ),
                        )),
                    })
                    .collect::<Result<_, _>>()?
            };
            for (v, step) in values.iter().enumerate() {
                for (key, value) in keys.iter().zip(step) {
                    let field = format!("axis[{a}].values[{v}]");
                    match key.as_str() {
                        "method" => {
                            let m = value.as_str().ok_or_else(|| {
                                err(
                                    &field,
                                    format!("method must be a string; found {}", inline(value)),
                                )
                            })?;
                            check_method(m).map_err(|p| err(&field, p))?;
                        }
                        "fraction" => {
                            let f = as_f64(value).ok_or_else(|| {
                                err(
                                    &field,
                                    format!("fraction must be a number; found {}", inline(value)),
                                )
                            })?;
                            check_fraction(f).map_err(|p| err(&field, p))?;
                        }
                        "model" => {
                            value.as_str().ok_or_else(|| {
                                err(&field, format!("model must be a string; found {}", inline(value)))
                            })?;
                        }
                        _ => {}
                    }
                }
            }
            if let Some(labels) = &axis.labels {
                if labels.len() != values.len() {
                    return Err(err(
                        &at("labels"),
                        format!(
                            "{} labels for {} values; give one label per value",
                            labels.len(),
                            values.len()
                        ),
                    ));
                }
            }
            let name = axis.name.unwrap_or_else(|| keys.join("+"));
            axes.push(Axis {
                keys,
                values,
                labels: axis.labels,
                name,
            });
        }

        let knowledge = Knowledge::parse(
            raw.knowledge.as_deref().unwrap_or("prior"),
            raw.characterise_cycles.unwrap_or(DEFAULT_CHARACTERISE_CYCLES),
        )
        .map_err(|e| err("knowledge", e.to_string()))?;
        let normalize = raw
            .normalize
            .as_deref()
            .map(|text| Normalization::parse(text, "normalize"))
            .transpose()
            .map_err(|e| err("normalize", format!("{}: {}", e.field, e.problem)))?;
        let name = raw.name.unwrap_or_else(|| {
            Path::new(file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "sweep".to_string())
        });
        let mut spec = SweepSpec {
            file: file.to_string(),
            name,
            hw_source,
            model: raw.model,
            arch: raw.arch,
            method: raw.method,
            fraction: raw.fraction,
            seed: raw.seed,
            knowledge,
            common_seed: raw.common_seed,
            data: raw.data.unwrap_or_else(default_data),
            normalize,
            calib_samples: raw.calib_samples,
            mc_runs: raw.mc_runs,
            test_images: raw.test_images,
            axes,
            dir: dir.to_path_buf(),
            base,
            hash: 0,
        };
        let points = spec
            .axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.values.len()));
        match points {
            Some(n) if n <= MAX_POINTS => {}
            _ => return Err(err("axis", format!("the grid has more than {MAX_POINTS} points"))),
        }
        let columns = spec.axis_columns();
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].contains(c) || super::sweep_point::is_reserved_column(c) {
                return Err(err(
                    "axis",
                    format!("column `{c}` appears twice; rename the axis with `name`"),
                ));
            }
        }
        spec.hash = fnv1a(spec.canonical_text().as_bytes());
        Ok(spec)
    }

    /// Number of points in the grid (1 when there is no axis).
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product()
    }

    /// Always false: a grid has at least one point.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// A 64-bit FNV-1a hash of everything that determines the results (base configuration after `set`,
    /// models and the content of model files, method, fraction, seeds, calibration, accuracy runs, axes),
    /// as 16 hex digits. Shards of one sweep share it; the display name and file path do not enter it.
    pub fn hash_hex(&self) -> String {
        format!("{:016x}", self.hash)
    }

    /// The columns that hold the points' axis values: one per swept configuration key (run keys have
    /// their own fixed columns), then one per labelled axis.
    pub fn axis_columns(&self) -> Vec<String> {
        let keys = self
            .axes
            .iter()
            .flat_map(|a| a.keys.iter())
            .filter(|k| !RUN_KEYS.contains(&k.as_str()))
            .cloned();
        let labels = self
            .axes
            .iter()
            .filter(|a| a.labels.is_some())
            .map(|a| a.name.clone());
        keys.chain(labels).collect()
    }

    /// Grid point `index` with its configuration built and checked.
    pub fn point(&self, index: usize) -> Result<Point, SweepError> {
        let steps = self.steps(index);
        let mut table = self.base.clone();
        let mut model = self.model.clone();
        let mut method = self.method.clone();
        let mut fraction = self.fraction;
        let mut key_cells = Vec::new();
        let mut label_cells = Vec::new();
        let mut label_parts = Vec::new();
        for (axis, &step) in self.axes.iter().zip(&steps) {
            for (key, value) in axis.keys.iter().zip(&axis.values[step]) {
                match key.as_str() {
                    "model" => model = value.as_str().unwrap_or_default().to_string(),
                    "method" => method = value.as_str().unwrap_or_default().to_string(),
                    "fraction" => fraction = as_f64(value).unwrap_or(fraction),
                    _ => {
                        let o = config::Override {
                            path: key.split('.').map(str::to_string).collect(),
                            value: value.clone(),
                        };
                        config::apply_override(&mut table, &o).map_err(|e| SweepError::Point {
                            spec: self.file.clone(),
                            index,
                            label: String::new(),
                            source: Box::new(e.in_file(&self.hw_source)),
                        })?;
                        key_cells.push(cell_text(value));
                    }
                }
            }
            match &axis.labels {
                Some(labels) => {
                    label_cells.push(labels[step].clone());
                    label_parts.push(format!("{}={}", axis.name, labels[step]));
                }
                None => {
                    for (key, value) in axis.keys.iter().zip(&axis.values[step]) {
                        label_parts.push(format!("{key}={}", cell_text(value)));
                    }
                }
            }
        }
        let label = if label_parts.is_empty() {
            "the base configuration".to_string()
        } else {
            label_parts.join(", ")
        };
        let hw = config::from_table(table, &self.hw_source).map_err(|source| SweepError::Point {
            spec: self.file.clone(),
            index,
            label: label.clone(),
            source: Box::new(source),
        })?;
        key_cells.extend(label_cells);
        Ok(Point {
            index,
            hw,
            model,
            method,
            fraction,
            knowledge: self.knowledge,
            seed: if self.common_seed {
                self.seed
            } else {
                point_seed(self.seed, index)
            },
            cells: key_cells,
            label,
        })
    }

    /// The step of each axis at point `index` (mixed radix, first axis slowest).
    fn steps(&self, mut index: usize) -> Vec<usize> {
        let mut steps = vec![0; self.axes.len()];
        for (a, axis) in self.axes.iter().enumerate().rev() {
            let n = axis.values.len();
            steps[a] = index % n;
            index /= n;
        }
        steps
    }

    /// Resolves a model path against the spec's folder (zoo names are returned unchanged).
    pub fn resolve_model(&self, model: &str) -> String {
        let candidate = self.dir.join(model);
        if Path::new(model).is_relative() && candidate.exists() {
            candidate.display().to_string()
        } else {
            model.to_string()
        }
    }

    /// The canonical text hashed by [`SweepSpec::hash_hex`].
    fn canonical_text(&self) -> String {
        let mut t = toml::Table::new();
        t.insert("format".into(), toml::Value::Integer(1));
        t.insert("base".into(), toml::Value::Table(self.base.clone()));
        t.insert("model".into(), toml::Value::String(self.model.clone()));
        if let Some(arch) = &self.arch {
            t.insert("arch".into(), toml::Value::String(arch.clone()));
        }
        t.insert("method".into(), toml::Value::String(self.method.clone()));
        t.insert("fraction".into(), toml::Value::Float(self.fraction));
        t.insert("seed".into(), toml::Value::String(self.seed.to_string()));
        t.insert("common_seed".into(), toml::Value::Boolean(self.common_seed));
        t.insert("data".into(), toml::Value::String(self.data.clone()));
        // Only when given, so that the hashes of specs without the key stay as they were.
        if let Some(n) = &self.normalize {
            t.insert("normalize".into(), toml::Value::String(n.text().to_string()));
        }
        // Only when not the default, so that the hashes of specs without the key stay as they were.
        if self.knowledge != Knowledge::Prior {
            t.insert(
                "knowledge".into(),
                toml::Value::String(format!("{:?}", self.knowledge)),
            );
        }
        // Only when asked, so that the hashes of sweeps without accuracy columns stay as they were.
        if self.mc_runs > 0 {
            t.insert("mc_runs".into(), toml::Value::Integer(i64::from(self.mc_runs)));
            if let Some(n) = self.test_images {
                t.insert("test_images".into(), toml::Value::String(n.to_string()));
            }
        }
        t.insert(
            "calib_samples".into(),
            toml::Value::String(self.calib_samples.to_string()),
        );
        let axes = self
            .axes
            .iter()
            .map(|a| {
                let mut at = toml::Table::new();
                at.insert(
                    "keys".into(),
                    toml::Value::Array(a.keys.iter().cloned().map(toml::Value::String).collect()),
                );
                at.insert(
                    "values".into(),
                    toml::Value::Array(a.values.iter().cloned().map(toml::Value::Array).collect()),
                );
                if let Some(labels) = &a.labels {
                    at.insert(
                        "labels".into(),
                        toml::Value::Array(labels.iter().cloned().map(toml::Value::String).collect()),
                    );
                }
                at.insert("name".into(), toml::Value::String(a.name.clone()));
                toml::Value::Table(at)
            })
            .collect();
        t.insert("axes".into(), toml::Value::Array(axes));
        // Model files enter by content, so that shards run against different weights do not merge.
        let mut files = toml::Table::new();
        for name in self.model_names() {
            let path = self.resolve_model(&name);
            if let Ok(bytes) = std::fs::read(&path) {
                files.insert(name, toml::Value::String(format!("{:016x}", fnv1a(&bytes))));
            }
        }
        t.insert("model_files".into(), toml::Value::Table(files));
        toml::to_string(&t).unwrap_or_default()
    }

    /// Every model the grid uses: the spec's, or the values of a `model` axis.
    fn model_names(&self) -> Vec<String> {
        let swept = self.axes.iter().find_map(|a| {
            let k = a.keys.iter().position(|k| k == "model")?;
            Some(
                a.values
                    .iter()
                    .filter_map(|v| v[k].as_str().map(str::to_string))
                    .collect::<Vec<_>>(),
            )
        });
        swept.unwrap_or_else(|| vec![self.model.clone()])
    }
}

/// The seed of point `index`: the first 64-bit draw of the stream (spec seed, Program, index), so that a
/// point's results depend only on the spec and its index, never on sharding or thread count.
pub fn point_seed(seed: u64, index: usize) -> u64 {
    rng::stream(seed, Purpose::Program, index as u64).random::<u64>()
}

/// A value as written in a CSV cell: strings bare, numbers and booleans as in TOML, tables and arrays
/// as inline TOML.
pub fn cell_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => inline(other),
    }
}

fn inline(value: &toml::Value) -> String {
    value.to_string()
}

fn as_f64(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Float(f) => Some(*f),
        toml::Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

fn check_method(method: &str) -> Result<(), String> {
    method.parse::<Method>().map(|_| ()).map_err(|_| {
        let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
        format!("unknown method `{method}`; expected one of {}", names.join(", "))
    })
}

fn check_fraction(fraction: f64) -> Result<(), String> {
    if fraction.is_finite() && (0.0..=1.0).contains(&fraction) {
        Ok(())
    } else {
        Err(format!("{fraction} is out of range; allowed: [0, 1]"))
    }
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SweepSpec, SweepError> {
        SweepSpec::parse(text, "s.toml", Path::new("."))
    }

    #[test]
    fn grid_is_row_major_first_axis_slowest() {
        let spec = parse(
            "hw = \"rram_1t1r_256\"\n[[axis]]\nkey = \"program.tolerance\"\nvalues = [0.01, 0.02]\n\
             [[axis]]\nkeys = [\"array.rows\", \"array.cols\"]\n\
             values = [[64, 64], [128, 128], [256, 256]]\n",
        )
        .unwrap();
        assert_eq!(spec.len(), 6);
        assert_eq!(
            spec.axis_columns(),
            ["program.tolerance", "array.rows", "array.cols"]
        );
        let p = spec.point(4).unwrap();
        assert_eq!(p.cells, ["0.02", "128", "128"]);
        assert_eq!(
            (p.hw.array.rows, p.hw.array.cols, p.hw.program.tolerance),
            (128, 128, 0.02)
        );
        assert_eq!(p.label, "program.tolerance=0.02, array.rows=128, array.cols=128");
        // Common random numbers by default: every point programs the chips of the spec seed.
        assert_eq!(p.seed, 1);
        assert_eq!(spec.point(3).unwrap().seed, p.seed);
        let own = parse("hw = \"rram_1t1r_256\"\ncommon_seed = false\n[[axis]]\nkey = \"program.tolerance\"\nvalues = [0.01, 0.02]\n").unwrap();
        assert_eq!(own.point(1).unwrap().seed, point_seed(1, 1));
        assert_ne!(own.point(0).unwrap().seed, own.point(1).unwrap().seed);
    }

    #[test]
    fn hash_depends_on_content_not_on_name() {
        let a = parse("hw = \"rram_1t1r_256\"\nname = \"a\"\n").unwrap();
        let b = parse("hw = \"rram_1t1r_256\"\nname = \"b\"\n").unwrap();
        let c = parse("hw = \"rram_1t1r_256\"\nseed = 2\n").unwrap();
        assert_eq!(a.hash_hex(), b.hash_hex());
        assert_ne!(a.hash_hex(), c.hash_hex());
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn run_keys_are_checked_and_not_config_columns() {
        let spec = parse(
            "hw = \"rram_1t1r_256\"\n[[axis]]\nkey = \"method\"\nvalues = [\"swim\", \"uswim\"]\n\
             [[axis]]\nkey = \"fraction\"\nvalues = [0.1, 1]\n",
        )
        .unwrap();
        assert!(spec.axis_columns().is_empty());
        let p = spec.point(1).unwrap();
        assert_eq!((p.method.as_str(), p.fraction), ("swim", 1.0));
        let err =
            parse("hw = \"rram_1t1r_256\"\n[[axis]]\nkey = \"method\"\nvalues = [\"swimm\"]\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("axis[0].values[0]: unknown method `swimm`"),
            "{err}"
        );
        let err = parse("hw = \"rram_1t1r_256\"\nfraction = 1.5\n").unwrap_err();
        assert!(err.to_string().contains("fraction: 1.5 is out of range"), "{err}");
    }
}
