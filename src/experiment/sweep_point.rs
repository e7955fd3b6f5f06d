//! Running one sweep point: load (once) the network, map it onto the point's arrays, and evaluate it with
//! the experiment engine ([`super::engine`]: select, program, read back, classify, one chip per run);
//! turn the outcome into CSV cells.

pub use super::engine::PointFailure;
use super::engine::{Engine, PointOutcome, Selector};
use super::sweep_spec::Point;
use crate::eval::Stats;
use crate::map::{LayerWeights, Mapped};
use crate::nn::{Dataset, Network};
use crate::sensitivity::{self, Curvature, Method};
use crate::trace::{Counts, Energy, Summary};
use std::collections::BTreeMap;
use std::path::Path;

/// Columns every results CSV starts with: the point, its seed and the run keys.
pub const FIXED_COLUMNS: [&str; 5] = ["point", "seed", "model", "method", "fraction"];

/// The programmer-summary columns of a results CSV (after the axis columns), in order: time, energy
/// (total then by component, as [`Energy::components`] names them), the peripherals' area, sizes and work
/// counts.
pub fn metric_columns() -> Vec<String> {
    let mut columns: Vec<String> = ["total_time_ns", "total_cycles", "total_energy_pj"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    columns.extend(
        Energy::default()
            .components()
            .iter()
            .map(|(name, _)| format!("energy_{name}_pj")),
    );
    columns.push("periph_area_um2".into());
    columns.extend(
        ["arrays", "weights", "selected_weights"]
            .iter()
            .chain(&Counts::DEVICE_COLUMNS)
            .map(|s| s.to_string()),
    );
    columns
}

/// The Monte-Carlo accuracy columns, appended after [`metric_columns`] only when the spec asks for
/// `mc_runs` > 0: mean and sample standard deviation of the runs' test accuracies in percent (as every
/// accuracy uswim reports), the half width of the 95% confidence interval of the mean in percentage
/// points, and the mean programming time and energy of the same chips (the metric columns are run 0's
/// chip).
pub const ACCURACY_COLUMNS: [&str; 5] = [
    "accuracy_mean_pct",
    "accuracy_std_pct",
    "accuracy_ci95_pct",
    "time_mean_ns",
    "energy_mean_pj",
];

/// Whether `name` is one of the fixed, metric or accuracy columns (an axis column may not take it, even
/// in a sweep without accuracy runs).
pub fn is_reserved_column(name: &str) -> bool {
    FIXED_COLUMNS.contains(&name)
        || ACCURACY_COLUMNS.contains(&name)
        || metric_columns().iter().any(|c| c == name)
}

/// The cells of [`ACCURACY_COLUMNS`] for the statistics of the runs' accuracies and the runs' mean time
/// and energy (shortest round-trip formatting, like [`metric_cells`]).
pub fn accuracy_cells(accuracy: &Stats, outcome: &PointOutcome) -> Vec<String> {
    vec![
        (100.0 * accuracy.mean).to_string(),
        (100.0 * accuracy.std).to_string(),
        (100.0 * accuracy.ci95_half_width()).to_string(),
        outcome.time_ns().to_string(),
        outcome.energy_pj().to_string(),
    ]
}

/// The Monte-Carlo accuracy runs every point of a sweep makes after its timing run.
#[derive(Debug, Clone, Copy)]
pub struct AccuracyRuns<'a> {
    /// The test set, loaded once per sweep (the first `test_images` of the test split of `data`).
    pub test: &'a Dataset,
    /// Runs per point (at least 1).
    pub runs: u32,
}

/// The cells of [`metric_columns`] for a programmer summary. Numbers use Rust's shortest round-trip
/// formatting, so a value read back is bit-identical.
pub fn metric_cells(s: &Summary) -> Vec<String> {
    let mut cells = vec![
        s.total_time_ns.to_string(),
        s.total_cycles.to_string(),
        s.energy.total_pj().to_string(),
    ];
    cells.extend(s.energy.components().iter().map(|(_, v)| v.to_string()));
    cells.push(s.periph_area_um2().to_string());
    cells.extend([
        s.arrays.to_string(),
        s.weights.to_string(),
        s.selected_weights.to_string(),
    ]);
    cells.extend(s.counts.device_cells());
    cells
}

/// A network loaded for a sweep: its programmable weights, and its sensitivity pass when a point selects
/// weights by score.
#[derive(Debug)]
pub struct LoadedModel {
    /// The network.
    pub network: Network,
    /// Its programmable tensors (conv and linear weights), in order, as the mapping takes them.
    pub weights: Vec<LayerWeights>,
    /// Gradients and second derivatives over the calibration set (see [`Models::analyze`]).
    pub curvature: Option<Curvature>,
}

/// The networks of a sweep, each loaded once and shared by every point that uses it.
#[derive(Debug, Default)]
pub struct Models {
    models: BTreeMap<String, LoadedModel>,
}

impl Models {
    /// Loads every model in `names`: a zoo name (the architecture with its default, untrained weights
    /// from seed 0) or a `.safetensors` file (with `arch` when the file does not record it). Relative
    /// file paths are resolved by `resolve`.
    pub fn load<'a>(
        names: impl IntoIterator<Item = &'a str>,
        arch: Option<&str>,
        resolve: impl Fn(&str) -> String,
    ) -> Result<Self, (String, String)> {
        let mut models = BTreeMap::new();
        for name in names {
            if models.contains_key(name) {
                continue;
            }
            let path = resolve(name);
            let network = if name.ends_with(".safetensors") || Path::new(&path).is_file() {
                crate::nn::model_file::load(arch, Path::new(&path))
                    .map(|(net, _)| net)
                    .map_err(|e| (name.to_string(), e.to_string()))?
            } else {
                crate::nn::zoo::build(name)
                    .map_err(|e| (name.to_string(), format!("not a model file, and {e}")))?
            };
            let weights = network
                .programmable()
                .into_iter()
                .map(|i| {
                    let p = network.param(i);
                    LayerWeights {
                        name: p.name.clone(),
                        shape: p.value.shape().to_vec(),
                        values: p.value.iter().copied().collect(),
                    }
                })
                .collect();
            models.insert(
                name.to_string(),
                LoadedModel {
                    network,
                    weights,
                    curvature: None,
                },
            );
        }
        Ok(Self { models })
    }

    /// Every loaded model with its name, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &LoadedModel)> {
        self.models.iter().map(|(name, model)| (name.as_str(), model))
    }

    /// The model loaded under `name`.
    pub fn get(&self, name: &str) -> Option<&LoadedModel> {
        self.models.get(name)
    }

    /// Runs the sensitivity pass (one forward and second-order backward pass, no weight update) of
    /// model `name` over `calib`, once; the scores of every point that uses the model derive from it.
    pub fn analyze(&mut self, name: &str, calib: &Dataset) -> Result<(), String> {
        let model = self
            .models
            .get_mut(name)
            .ok_or_else(|| format!("model `{name}` was not loaded"))?;
        if model.curvature.is_none() {
            let curvature =
                sensitivity::analyze(&model.network, calib, |_, _| {}).map_err(|e| e.to_string())?;
            model.curvature = Some(curvature);
        }
        Ok(())
    }
}

/// Whether `point` selects its weights by sensitivity score (and so needs a calibration pass).
pub fn needs_scores(point: &Point) -> bool {
    point.fraction > 0.0 && point.fraction < 1.0 && point.method != "random"
}

/// Runs one point with the experiment engine ([`super::engine`]) and returns its metric cells
/// ([`metric_columns`] order, the programming of run 0's chip), followed by its [`ACCURACY_COLUMNS`]
/// cells when `accuracy` is given.
///
/// Run r programs the chip of [`crate::eval::run_seed`]`(seed, r)` once, with the selection made for
/// that chip, and takes its accuracy and its time and energy from that programming; with the spec's
/// default `common_seed = true` every point uses the same chips.
pub fn run_point(
    point: &Point,
    models: &Models,
    accuracy: Option<AccuracyRuns<'_>>,
) -> Result<Vec<String>, PointFailure> {
    let model = models
        .get(&point.model)
        .ok_or_else(|| PointFailure::input(format!("model `{}` was not loaded", point.model)))?;
    let mapped = Mapped::new(&model.weights, &point.hw).map_err(|e| PointFailure::input(e.to_string()))?;
    let method: Method = point.method.parse()?;
    let selector = Selector {
        method,
        fraction: point.fraction,
        knowledge: point.knowledge,
    };
    let engine = Engine::new(
        &model.network,
        &mapped,
        &point.hw,
        model.curvature.as_ref(),
        accuracy.map(|a| a.test),
    )?;
    let outcome = engine.evaluate(&selector, point.seed, accuracy.map_or(1, |a| a.runs))?;
    let mut cells = metric_cells(&outcome.runs[0].summary);
    if let Some(stats) = outcome.accuracy() {
        cells.extend(accuracy_cells(&stats, &outcome));
    }
    Ok(cells)
}
