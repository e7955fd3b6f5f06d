//! `arrays.csv`, `layers.csv` and `summary.json`: the per-array, per-layer and whole-network results of a
//! programming run, each written atomically.

use super::atomic::{AtomicFile, write_bytes};
use super::record::{ArrayStats, Counts, Energy, LayerStats, Summary};
use crate::config::HwConfig;
use serde_json::{Map, Value, json};
use std::io;
use std::path::Path;

/// What was run, recorded in `summary.json` next to the hardware configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// The network: a model file and architecture, or a named shape.
    pub network: String,
    /// The hardware configuration's source (file or preset).
    pub hw_source: String,
    /// The seed.
    pub seed: u64,
    /// The mask: `all`, `none`, `random:F` or a file.
    pub mask: String,
    /// The trace level.
    pub trace_level: String,
}

/// The count columns of `arrays.csv` and `layers.csv`: the device work, then the rows.
fn count_columns() -> impl Iterator<Item = String> {
    Counts::DEVICE_COLUMNS
        .iter()
        .chain(&["rows", "verified_rows"])
        .map(|s| s.to_string())
}

/// The cells of [`count_columns`].
fn count_fields(c: &Counts) -> impl Iterator<Item = String> {
    c.device_cells()
        .into_iter()
        .chain([c.rows.to_string(), c.verified_rows.to_string()])
}

/// Energy columns by component (leakage and the static share included), then the total.
fn energy_columns() -> Vec<String> {
    let mut cols: Vec<String> = Energy::default()
        .components()
        .iter()
        .map(|(name, _)| format!("energy_{name}_pj"))
        .collect();
    cols.push("energy_total_pj".into());
    cols
}

fn energy_fields(e: &Energy) -> Vec<String> {
    let mut fields: Vec<String> = e.components().iter().map(|(_, v)| v.to_string()).collect();
    fields.push(e.total_pj().to_string());
    fields
}

fn write_csv(path: &Path, header: Vec<String>, rows: impl Iterator<Item = Vec<String>>) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(AtomicFile::create(path)?);
    w.write_record(&header)?;
    for row in rows {
        w.write_record(&row)?;
    }
    w.into_inner().map_err(|e| e.into_error())?.commit()
}

/// Writes `arrays.csv`: one row per array, in array order, with its layer's name from `layers`.
pub fn write_arrays_csv(
    path: impl AsRef<Path>,
    arrays: &[ArrayStats],
    layers: &[LayerStats],
) -> io::Result<()> {
    let mut header: Vec<String> = [
        "array",
        "layer",
        "layer_name",
        "channel",
        "rows_used",
        "cols_used",
        "start_cycle",
        "end_cycle",
        "start_ns",
        "end_ns",
        "time_ns",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(count_columns());
    header.extend(energy_columns());
    let rows = arrays.iter().map(|a| {
        let mut row = vec![
            a.array.to_string(),
            a.layer.to_string(),
            layers
                .get(a.layer as usize)
                .map(|l| l.name.clone())
                .unwrap_or_default(),
            a.channel.to_string(),
            a.rows_used.to_string(),
            a.cols_used.to_string(),
            a.start_cycle.to_string(),
            a.end_cycle.to_string(),
            a.start_ns.to_string(),
            a.end_ns.to_string(),
            (a.end_ns - a.start_ns).to_string(),
        ];
        row.extend(count_fields(&a.counts));
        row.extend(energy_fields(&a.energy));
        row
    });
    write_csv(path.as_ref(), header, rows)
}

/// Writes `layers.csv`: one row per layer, in layer order.
pub fn write_layers_csv(path: impl AsRef<Path>, layers: &[LayerStats]) -> io::Result<()> {
    let mut header: Vec<String> = [
        "layer",
        "name",
        "arrays",
        "weights",
        "selected_weights",
        "start_cycle",
        "end_cycle",
        "start_ns",
        "end_ns",
        "time_ns",
        "array_time_ns",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(count_columns());
    header.extend(energy_columns());
    let rows = layers.iter().map(|l| {
        let mut row = vec![
            l.layer.to_string(),
            l.name.clone(),
            l.arrays.to_string(),
            l.weights.to_string(),
            l.selected_weights.to_string(),
            l.start_cycle.to_string(),
            l.end_cycle.to_string(),
            l.start_ns.to_string(),
            l.end_ns.to_string(),
            (l.end_ns - l.start_ns).to_string(),
            l.array_time_ns.to_string(),
        ];
        row.extend(count_fields(&l.counts));
        row.extend(energy_fields(&l.energy));
        row
    });
    write_csv(path.as_ref(), header, rows)
}

/// The content of `summary.json`: the totals, what was run, and the hardware configuration (its tree as in
/// the TOML).
pub fn summary_json(summary: &Summary, hw: &HwConfig, run: &RunInfo) -> Value {
    let c = &summary.counts;
    let mut by_component = Map::new();
    for (name, v) in summary.energy.components() {
        by_component.insert(name.to_string(), json!(v));
    }
    json!({
        "total_time_ns": summary.total_time_ns,
        "total_cycles": summary.total_cycles,
        "total_energy_pj": summary.total_energy_pj(),
        "energy_pj_by_component": by_component,
        "periph_area_um2": summary.periph_area_um2(),
        "periph_per_array": {
            "adc_area_um2": summary.periph.adc_area_um2,
            "dac_area_um2": summary.periph.dac_area_um2,
            "driver_area_um2": summary.periph.driver_area_um2,
            "area_um2": summary.periph.area_um2(),
            "leakage_uw": summary.periph.leakage_uw,
            "adc_conversion_pj": summary.periph.adc_conversion_pj,
            "dac_conversion_pj": summary.periph.dac_conversion_pj,
        },
        "arrays": summary.arrays,
        "layers": summary.layers,
        "weights": summary.weights,
        "selected_weights": summary.selected_weights,
        "devices": c.devices,
        "selected_devices": c.selected_devices,
        "pulses": c.pulses,
        "open_loop_pulses": c.open_loop_pulses,
        "verify_pulses": c.verify_pulses,
        "verify_reads": c.verify_reads,
        "adc_conversions": c.adc_conversions,
        "iterations_mean": c.iterations_mean(),
        "iterations_max": c.iterations_max,
        "failed_devices": c.failed_devices,
        "rows": c.rows,
        "verified_rows": c.verified_rows,
        "run": {
            "network": run.network,
            "hw": run.hw_source,
            "seed": run.seed,
            "mask": run.mask,
            "trace_level": run.trace_level,
        },
        "hw": serde_json::to_value(hw).unwrap_or(Value::Null),
    })
}

/// Writes `summary.json` (pretty-printed).
pub fn write_summary_json(
    path: impl AsRef<Path>,
    summary: &Summary,
    hw: &HwConfig,
    run: &RunInfo,
) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(&summary_json(summary, hw, run)).map_err(io::Error::other)?;
    text.push('\n');
    write_bytes(path, text.as_bytes())
}
