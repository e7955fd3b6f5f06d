//! `uswim compare A B`: two hardware configurations (the same network programmed on each) or two result
//! folders (their `summary.json`, and `accuracy.csv` where `uswim program --data` wrote one), side by
//! side with the ratio B / A.

use super::BadInput;
use super::args::{OutDir, SeedArg, parse_overrides};
use anyhow::Context;
use clap::Args;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use uswim::config;
use uswim::map::{LayerWeights, Mapped};
use uswim::nn::{self, model_file};
use uswim::sim::{self, Mask, ProgramOptions};
use uswim::trace::{NullSink, RunInfo, TraceFilter, atomic::AtomicFile, reports};

/// Compare two hardware configurations, or two result folders, metric by metric.
///
/// Each of A and B is a result folder holding a summary.json (from `uswim program`), or a hardware
/// configuration (a preset or TOML file) on which the network (--shape or --model) is programmed with
/// the same mask and seed. Prints time, energy by component, pulses, reads, conversions and failures (and
/// the accuracy of folders whose run measured it, `uswim program --data`: accuracy.csv) for A and B and
/// the ratio B / A; writes the table as compare.csv into --out.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
uswim compare rram_1t1r_256 pcm_256                       # LeNet (random weights) on both presets\n  \
uswim compare rram_1t1r_256 my_chip.toml --shape resnet18 --mask random:0.1\n  \
uswim compare out/program-a out/program-b                 # two result folders")]
pub struct CompareArgs {
    /// The baseline: a result folder (with summary.json) or a hardware preset or TOML file.
    #[arg(value_name = "A")]
    a: String,
    /// The alternative, compared with A (ratios are B / A).
    #[arg(value_name = "B")]
    b: String,
    /// Override a key of both hardware configurations (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// A zoo architecture with random weights from --seed (for hardware configurations).
    #[arg(long, value_name = "NAME", default_value = "lenet", conflicts_with = "model")]
    shape: String,
    /// Trained model weights (safetensors) instead of --shape.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Weights to write-verify: `all`, `none` or `random:F`.
    #[arg(long, value_name = "all|none|random:F", default_value = "all")]
    mask: String,
    /// Seed of every random draw.
    #[command(flatten)]
    seed: SeedArg,
    /// Output folder (compare.csv).
    #[command(flatten)]
    out: OutDir,
}

/// One side of the comparison: its name and its summary.json content.
struct Side {
    name: String,
    summary: Value,
}

/// Runs `uswim compare`.
pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let a = side(&args, &args.a)?;
    let b = side(&args, &args.b)?;
    let rows = metrics(&a.summary, &b.summary);
    if rows.is_empty() {
        return Err(BadInput(format!("{} and {}: no metric in common", a.name, b.name)).into());
    }
    let out = args.out.resolve("compare");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let csv = out.join("compare.csv");
    write_csv(&csv, &rows).with_context(|| format!("writing {}", csv.display()))?;
    out!("{}", table(&a.name, &b.name, &rows))?;
    outln!("wrote {}", csv.display())?;
    Ok(())
}

/// A or B: a result folder's summary, or the summary of programming the network on a configuration.
fn side(args: &CompareArgs, source: &str) -> anyhow::Result<Side> {
    let folder = Path::new(source);
    let summary_path = folder.join("summary.json");
    if folder.is_dir() {
        let text = std::fs::read_to_string(&summary_path).map_err(|e| {
            BadInput(format!(
                "{}: {e} (a result folder holds summary.json)",
                summary_path.display()
            ))
        })?;
        let mut summary: Value = serde_json::from_str(&text)
            .map_err(|e| BadInput(format!("{}: not JSON: {e}", summary_path.display())))?;
        let accuracy_path = folder.join("accuracy.csv");
        if accuracy_path.is_file()
            && let Some(object) = summary.as_object_mut()
        {
            for (key, value) in accuracy_metrics(&accuracy_path)? {
                object.insert(key.to_string(), value.into());
            }
        }
        return Ok(Side {
            name: source.to_string(),
            summary,
        });
    }
    let hw = config::load(source, &parse_overrides(&args.overrides)?)?;
    let seed = args.seed.seed;
    let (network, net) = match &args.model {
        Some(path) => {
            let (net, _) = model_file::load(None, path)?;
            (format!("{} ({})", path.display(), net.arch()), net)
        }
        None => {
            let mut net = nn::zoo::build(&args.shape)?;
            net.initialize(seed);
            (format!("{} (random weights, seed {seed})", args.shape), net)
        }
    };
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw)
        .map_err(|e| BadInput(format!("{network} on {source}: {e}")))?;
    let mask = match args.mask.as_str() {
        "all" => Mask::All,
        "none" => Mask::None,
        spec => {
            let fraction = spec
                .strip_prefix("random:")
                .and_then(|f| f.parse::<f64>().ok())
                .filter(|f| (0.0..=1.0).contains(f))
                .ok_or_else(|| {
                    BadInput(format!(
                        "--mask: `{spec}` is not all, none or random:F with F in [0, 1]"
                    ))
                })?;
            Mask::random(&mapped, fraction, seed)
        }
    };
    let options = ProgramOptions {
        seed,
        trace: TraceFilter::default(),
        keep_conductances: false,
    };
    let result =
        sim::program(&mapped, &hw, &mask, &options, &mut NullSink).map_err(|e| BadInput(e.to_string()))?;
    let run = RunInfo {
        network,
        hw_source: source.to_string(),
        seed,
        mask: args.mask.clone(),
        trace_level: "off".into(),
    };
    Ok(Side {
        name: format!("{source} ({})", hw.name),
        summary: reports::summary_json(&result.summary, &hw, &run),
    })
}

/// The accuracy metrics of a run folder's `accuracy.csv` (columns `chip`, `accuracy_pct`; chip `traced`
/// is the programmed chip, the others Monte-Carlo chips): `accuracy_traced_pct` and, with Monte-Carlo
/// chips, their mean `accuracy_mc_mean_pct`, in percent as every accuracy uswim reports.
fn accuracy_metrics(path: &Path) -> anyhow::Result<Vec<(&'static str, f64)>> {
    let bad = |e: &dyn std::fmt::Display| BadInput(format!("{}: {e}", path.display()));
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(&e))?;
    let header = reader.headers().map_err(|e| bad(&e))?.clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(&format!("no column `{name}`")))
    };
    let (chip, accuracy) = (column("chip")?, column("accuracy_pct")?);
    let mut metrics = Vec::new();
    let mut mc = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad(&e))?;
        let pct: f64 = record[accuracy]
            .parse()
            .map_err(|_| bad(&format!("accuracy_pct `{}` is not a number", &record[accuracy])))?;
        if &record[chip] == "traced" {
            metrics.push(("accuracy_traced_pct", pct));
        } else {
            mc.push(pct);
        }
    }
    if !mc.is_empty() {
        metrics.push(("accuracy_mc_mean_pct", mc.iter().sum::<f64>() / mc.len() as f64));
    }
    Ok(metrics)
}

/// One compared metric.
#[derive(Debug, Clone, PartialEq)]
struct Metric {
    name: String,
    a: f64,
    b: f64,
}

impl Metric {
    /// B / A; 1 when both are 0, infinite when only A is.
    fn ratio(&self) -> f64 {
        if self.a == 0.0 && self.b == 0.0 {
            1.0
        } else {
            self.b / self.a
        }
    }
}

/// The compared keys of summary.json, in print order (energy components are added after the total).
const KEYS: [&str; 16] = [
    "total_time_ns",
    "total_cycles",
    "total_energy_pj",
    "periph_area_um2",
    "arrays",
    "devices",
    "selected_devices",
    "pulses",
    "open_loop_pulses",
    "verify_pulses",
    "verify_reads",
    "adc_conversions",
    "iterations_mean",
    "failed_devices",
    "rows",
    "verified_rows",
];

/// The metrics both summaries have: [`KEYS`], every energy component, and the accuracy keys (any key
/// starting with `accuracy`).
fn metrics(a: &Value, b: &Value) -> Vec<Metric> {
    let mut names: Vec<String> = Vec::new();
    for key in KEYS {
        names.push(key.to_string());
        if key == "total_energy_pj"
            && let Some(components) = a["energy_pj_by_component"].as_object()
        {
            names.extend(components.keys().map(|c| format!("energy_pj_by_component.{c}")));
        }
    }
    if let Some(object) = a.as_object() {
        names.extend(object.keys().filter(|k| k.starts_with("accuracy")).cloned());
    }
    let value = |v: &Value, name: &str| -> Option<f64> {
        name.split('.')
            .try_fold(v, |v, part| v.get(part))
            .and_then(Value::as_f64)
    };
    names
        .into_iter()
        .filter_map(|name| {
            let (x, y) = (value(a, &name)?, value(b, &name)?);
            Some(Metric {
                name: name.replace("energy_pj_by_component.", "energy_pj."),
                a: x,
                b: y,
            })
        })
        .collect()
}

/// The console table.
fn table(a: &str, b: &str, rows: &[Metric]) -> String {
    let mut text = format!("A = {a}\nB = {b}\n");
    text.push_str(&format!(
        "{:28} {:>16} {:>16} {:>10}\n",
        "metric", "A", "B", "B / A"
    ));
    for m in rows {
        text.push_str(&format!(
            "{:28} {:>16} {:>16} {:>10}\n",
            m.name,
            format!("{:.6}", m.a).trim_end_matches('0').trim_end_matches('.'),
            format!("{:.6}", m.b).trim_end_matches('0').trim_end_matches('.'),
            format!("{:.4}", m.ratio())
        ));
    }
    text
}

fn write_csv(path: &Path, rows: &[Metric]) -> anyhow::Result<()> {
    let mut file = AtomicFile::create(path)?;
    writeln!(file, "metric,a,b,ratio")?;
    for m in rows {
        writeln!(file, "{},{},{},{}", m.name, m.a, m.b, m.ratio())?;
    }
    file.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_b_over_a_and_one_for_two_zeros() {
        let a = serde_json::json!({"total_time_ns": 2.0, "failed_devices": 0,
            "energy_pj_by_component": {"adc": 4.0}, "accuracy_mean_pct": 90.0});
        let b = serde_json::json!({"total_time_ns": 3.0, "failed_devices": 0,
            "energy_pj_by_component": {"adc": 1.0}, "accuracy_mean_pct": 45.0});
        let m = metrics(&a, &b);
        let get = |n: &str| m.iter().find(|x| x.name == n).unwrap().ratio();
        assert_eq!(get("total_time_ns"), 1.5);
        assert_eq!(get("failed_devices"), 1.0);
        assert_eq!(get("energy_pj.adc"), 0.25);
        assert_eq!(get("accuracy_mean_pct"), 0.5);
        assert_eq!(m.len(), 4);
    }
}
