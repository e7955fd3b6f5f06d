//! The outputs of `uswim reproduce`: `results.csv`, the headline (smallest write-verify fraction whose
//! paired accuracy drop from full write-verify is within the allowed drop with 95% confidence, and the
//! speedups it buys) as `headline.md`, and the plots (accuracy versus fraction, accuracy versus simulated
//! programming time, with 95% bands) as PNG and SVG.

use super::reproduce::{
    FULL_VERIFY, NO_VERIFY, Results, Row, SettingInfo, reference, series, smallest_within,
};
use super::selection::Knowledge;
use crate::plot::{self, Chart, PlotError, Series};
use crate::trace::atomic::{AtomicFile, write_bytes};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

/// One method's headline under one setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    /// The network.
    pub model: String,
    /// Setting.
    pub variation: String,
    /// Method (labelled an upper bound under `oracle` knowledge).
    pub method: String,
    /// The smallest fraction from which on the paired drop's 95% upper bound stays within the allowed
    /// drop (see [`smallest_within`]).
    pub fraction: f64,
    /// Monte-Carlo runs there.
    pub runs: u32,
    /// Mean accuracy there, in percent.
    pub accuracy_pct: f64,
    /// Its 95% interval half-width, in points.
    pub ci95_pct: f64,
    /// The paired drop from full write-verify there: mean, in points.
    pub drop_pct: f64,
    /// The paired drop's 95% interval, in points.
    pub drop_ci95_pct: (f64, f64),
    /// Speedup over full write-verify in counted weights: weights / weights verified.
    pub weights_speedup: f64,
    /// Speedup in simulated programming time of the same chips.
    pub time_speedup: f64,
}

/// U-SWIM's gain over SWIM under one setting: the ratio of their headline budgets.
#[derive(Debug, Clone, PartialEq)]
pub struct Gain {
    /// The network.
    pub model: String,
    /// Setting.
    pub variation: String,
    /// Whether the setting makes device sigmas differ.
    pub nonuniform: bool,
    /// SWIM's verified weights / U-SWIM's.
    pub weights: f64,
    /// SWIM's programming time / U-SWIM's.
    pub time: f64,
}

/// The headline of every method under every setting, and uswim's gain over swim per setting.
pub fn headlines(results: &Results, max_drop_pct: f64) -> (Vec<Headline>, Vec<Gain>) {
    let mut heads = Vec::new();
    let mut gains = Vec::new();
    for setting in &results.info.settings {
        let v = &setting.name;
        let model = &results.info.models[setting.model].name;
        let Some(full) = reference(results, model, v, FULL_VERIFY) else {
            continue;
        };
        for m in methods_of(results, model, v) {
            let rows = series(results, model, v, &m);
            let Some(best) = smallest_within(&rows, max_drop_pct) else {
                continue;
            };
            heads.push(Headline {
                model: model.clone(),
                variation: v.clone(),
                method: best.label(),
                fraction: best.fraction,
                runs: best.runs,
                accuracy_pct: best.accuracy_mean_pct,
                ci95_pct: 0.5 * (best.accuracy_ci95_high_pct - best.accuracy_ci95_low_pct),
                drop_pct: best.drop_mean_pct,
                drop_ci95_pct: (best.drop_ci95_low_pct, best.drop_ci95_high_pct),
                weights_speedup: best.weights_total as f64 / best.weights_verified.max(1) as f64,
                time_speedup: full.time_ns / best.time_ns,
            });
        }
        let find = |m: &str| {
            heads
                .iter()
                .find(|h| &h.model == model && &h.variation == v && h.method.split(' ').next() == Some(m))
        };
        if let (Some(u), Some(s)) = (find("uswim"), find("swim")) {
            gains.push(Gain {
                model: model.clone(),
                variation: v.clone(),
                nonuniform: setting.nonuniform,
                weights: u.weights_speedup / s.weights_speedup,
                time: u.time_speedup / s.time_speedup,
            });
        }
    }
    (heads, gains)
}

/// Writes `results.csv` (one row per setting x method x fraction, and the references).
pub fn write_csv(path: &Path, results: &Results) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    {
        let mut w = csv::Writer::from_writer(&mut file);
        for row in &results.rows {
            w.serialize(row)?;
        }
        w.flush()?;
    }
    file.commit()
}

/// A percentage with as many decimals as a small fraction needs.
fn pct(f: f64) -> String {
    let p = 100.0 * f;
    if p >= 1.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A duration in ns with a readable unit.
fn duration(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns * 1e-6)
    } else if ns >= 1e3 {
        format!("{:.3} us", ns * 1e-3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Context printed at the top of the headline. It holds nothing that differs between a whole run and
/// the merged shards of the same run (no wall time, no thread count), so that the two headlines are the
/// same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The command line that reproduces the run, without the options that do not change its results
    /// (`--out`, `--shard`, `--quiet`, `--threads`).
    pub command: String,
}

/// The options of a command line that do not change a run's results, each with whether it takes a
/// value: removed by [`canonical_command`].
const NEUTRAL_OPTIONS: [(&str, bool); 7] = [
    ("--out", true),
    ("-o", true),
    ("--shard", true),
    ("--threads", true),
    ("--quiet", false),
    ("-q", false),
    ("-v", false),
];

/// `uswim ARGS` without the options that do not change the results (output folder, shard, threads,
/// verbosity): the same text for a whole run and for every shard of it.
pub fn canonical_command(args: &[String]) -> String {
    let mut kept = vec!["uswim".to_string()];
    let mut skip_value = false;
    for arg in args {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        let name = arg.split('=').next().unwrap_or(arg);
        match NEUTRAL_OPTIONS.iter().find(|(o, _)| *o == name) {
            Some((_, takes_value)) => skip_value = *takes_value && !arg.contains('='),
            None => kept.push(arg.clone()),
        }
    }
    kept.join(" ")
}

/// Writes every output of a run into `dir`: `results.csv`, the plots and `headline.md`; returns the
/// headline's text and the plots written.
pub fn write_outputs(dir: &Path, results: &Results, ctx: &Context) -> io::Result<(String, Vec<PathBuf>)> {
    let csv = dir.join("results.csv");
    write_csv(&csv, results).map_err(|e| io::Error::other(format!("writing {}: {e}", csv.display())))?;
    let plots = write_plots(dir, results).map_err(|e| io::Error::other(format!("plots: {e}")))?;
    let md = headline_markdown(results, ctx);
    let headline = dir.join("headline.md");
    write_headline(&headline, &md)
        .map_err(|e| io::Error::other(format!("writing {}: {e}", headline.display())))?;
    Ok((md, plots))
}

/// The headline report in Markdown.
pub fn headline_markdown(results: &Results, ctx: &Context) -> String {
    let info = &results.info;
    let (heads, gains) = headlines(results, info.max_drop_pct);
    let model_of = |s: &SettingInfo| info.models[s.model].name.as_str();
    let mut md = String::new();
    let _ = writeln!(md, "# U-SWIM reproduction: headline\n");
    let _ = writeln!(md, "`{}`\n", ctx.command);
    for m in &info.models {
        let _ = writeln!(
            md,
            "- model `{}`: {} ({} test images per run; sensitivity pass over the first {} training images)",
            m.name, m.label, m.test_images, m.calib_images
        );
    }
    let _ = writeln!(
        md,
        "- one chip per run: run r of every point programs the chip of seed (seed {}, r) once and takes its \
         accuracy, time and energy from that programming (common random numbers across points)",
        info.seed
    );
    let _ = writeln!(
        md,
        "- device knowledge of the uswim scores: {}{}",
        info.knowledge,
        if info.knowledge == Knowledge::Oracle {
            ": each chip's true per-device sigma, an UPPER BOUND no real selection reaches"
        } else {
            ""
        }
    );
    let _ = writeln!(
        md,
        "- statistics: mean accuracy and its 95% interval (Student t); the drop from full write-verify is \
         paired on the same chips, with its 95% interval"
    );
    let _ = writeln!(
        md,
        "- enough runs: a point starts with the setting's first runs and doubles them until its paired \
         interval lies wholly within or wholly above {} points, or the setting's most runs are reached \
         (`decision` in results.csv; an undecided point does not count as within); full write-verify makes \
         the most runs",
        info.max_drop_pct
    );
    let _ = writeln!(md, "- settings:");
    for s in &info.settings {
        let what = if s.physical {
            "its own device physics (the tool's own result)".to_string()
        } else {
            format!("`{}`", s.overrides.join(" "))
        };
        let _ = writeln!(
            md,
            "  - `{}` `{}`: `{}` ({} arrays, {} to {} runs per point), {what}",
            model_of(s),
            s.name,
            s.hw_name,
            s.arrays,
            s.runs,
            s.max_runs
        );
        if let Some(ns) = s.characterisation_ns {
            let _ = writeln!(
                md,
                "    - characterisation before programming ({}): {} per chip (K open-loop writes and reads \
                 of every device; not included in the programming times below)",
                info.knowledge,
                duration(ns)
            );
        }
    }

    let _ = writeln!(md, "\n## References\n");
    let _ = writeln!(
        md,
        "| model | setting | no write-verify (mean ± std) | full write-verify (mean ± std) | no-WV time | full-WV time |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|");
    for s in &info.settings {
        let (Some(none), Some(full)) = (
            reference(results, model_of(s), &s.name, NO_VERIFY),
            reference(results, model_of(s), &s.name, FULL_VERIFY),
        ) else {
            continue;
        };
        let _ = writeln!(
            md,
            "| {} | {} | {:.2} ± {:.2}% | {:.2} ± {:.2}% | {} | {} |",
            model_of(s),
            s.name,
            none.accuracy_mean_pct,
            none.accuracy_std_pct,
            full.accuracy_mean_pct,
            full.accuracy_std_pct,
            duration(none.time_ns),
            duration(full.time_ns),
        );
    }

    let _ = writeln!(
        md,
        "\n## Headline: smallest fraction within {} points of full write-verify with 95% confidence\n",
        info.max_drop_pct
    );
    let _ = writeln!(
        md,
        "The smallest grid fraction from which on every larger fraction's paired drop from full write-verify \
         (same chips) has its 95% upper bound within {} points; speedups over full write-verify in counted \
         weights (the papers' measure) and in simulated programming time of the same chips (this tool's).\n",
        info.max_drop_pct
    );
    let _ = writeln!(
        md,
        "| model | setting | method | fraction | runs | accuracy (mean ± 95% CI) | paired drop (mean [95% CI]) | speedup (weights) | speedup (ns) |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for h in &heads {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.2} ± {:.2}% | {:.2} [{:.2}, {:.2}] | {:.1}x | {:.2}x |",
            h.model,
            h.variation,
            h.method,
            pct(h.fraction),
            h.runs,
            h.accuracy_pct,
            h.ci95_pct,
            h.drop_pct,
            h.drop_ci95_pct.0,
            h.drop_ci95_pct.1,
            h.weights_speedup,
            h.time_speedup,
        );
    }

    if !gains.is_empty() {
        let _ = writeln!(md, "\n## uswim over swim\n");
        let _ = writeln!(
            md,
            "Ratio of swim's headline budget to uswim's (above 1: uswim needs less write-verify for the same \
             accuracy).\n"
        );
        let _ = writeln!(md, "| model | setting | non-uniform | in weights | in ns |");
        let _ = writeln!(md, "|---|---|---|---|---|");
        for g in &gains {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.2}x | {:.2}x |",
                g.model,
                g.variation,
                if g.nonuniform { "yes" } else { "no" },
                g.weights,
                g.time,
            );
        }
    }

    write_prediction(&mut md, results);
    md.push_str(&super::class_select::comparison_markdown(results));

    let _ = writeln!(
        md,
        "\n## Accuracy (%, mean ± 95% CI half-width; paired drop's 95% upper bound; runs) by fraction verified\n"
    );
    for s in &info.settings {
        let model = model_of(s);
        let methods = methods_of(results, model, &s.name);
        if methods.is_empty() {
            continue;
        }
        let labels: Vec<String> = methods
            .iter()
            .map(|m| series(results, model, &s.name, m)[0].label())
            .collect();
        let _ = writeln!(md, "**{model}, {}**\n", s.name);
        let _ = writeln!(md, "| fraction | {} |", labels.join(" | "));
        let _ = writeln!(md, "|---|{}", "---|".repeat(methods.len()));
        let fractions: Vec<f64> = series(results, model, &s.name, &methods[0])
            .iter()
            .map(|r| r.fraction)
            .collect();
        for f in fractions {
            let cells: Vec<String> = methods
                .iter()
                .map(|m| {
                    series(results, model, &s.name, m)
                        .iter()
                        .find(|r| r.fraction == f)
                        .map_or("-".into(), |r| {
                            format!(
                                "{:.2} ± {:.2} (≤ {:.2}; {})",
                                r.accuracy_mean_pct,
                                0.5 * (r.accuracy_ci95_high_pct - r.accuracy_ci95_low_pct),
                                r.drop_ci95_high_pct,
                                r.runs
                            )
                        })
                })
                .collect();
            let _ = writeln!(md, "| {} | {} |", pct(f), cells.join(" | "));
        }
        let _ = writeln!(md);
    }
    md
}

/// The predicted-time model's error per setting: over every point that verifies (no-write-verify is
/// the simulated open-loop programming itself), |predicted - simulated mean| / simulated mean.
pub fn prediction_errors(results: &Results) -> Vec<(String, usize, f64, f64)> {
    results
        .info
        .settings
        .iter()
        .filter_map(|s| {
            let model = &results.info.models[s.model].name;
            let errors: Vec<f64> = results
                .rows
                .iter()
                .filter(|r| {
                    &r.model == model && r.variation == s.name && r.method != NO_VERIFY && r.time_ns > 0.0
                })
                .map(|r| (r.predicted_time_ns - r.time_ns).abs() / r.time_ns)
                .collect();
            if errors.is_empty() {
                return None;
            }
            let mean = errors.iter().sum::<f64>() / errors.len() as f64;
            let max = errors.iter().copied().fold(0.0, f64::max);
            Some((panel_name(results, s), errors.len(), mean, max))
        })
        .collect()
}

fn write_prediction(md: &mut String, results: &Results) {
    let errors = prediction_errors(results);
    if errors.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n## Predicted-time model against the simulator\n");
    let _ = writeln!(
        md,
        "The model (`sim::predict::TimeModel`: simulated open-loop programming, closed-form expected verify \
         loops per row, list-scheduled arrays) predicts each point's total programming time for run 0's \
         selection on run 0's chip; the error is relative to the simulated mean over the point's chips \
         (`predicted_time_ns` and `time_ns` in results.csv). The `uswim-time` selection is costed by it.\n"
    );
    let _ = writeln!(md, "| setting | points | mean abs. error | max abs. error |");
    let _ = writeln!(md, "|---|---|---|---|");
    for (name, n, mean, max) in &errors {
        let _ = writeln!(
            md,
            "| {name} | {n} | {:.2}% | {:.2}% |",
            100.0 * mean,
            100.0 * max
        );
    }
}

/// A method's mean line and its 95% band (the interval's ends as two thin lines of one legend entry).
fn with_band(chart: Chart, label: String, rows: &[(f64, &Row)]) -> Chart {
    let mean: Vec<(f64, f64)> = rows.iter().map(|(x, r)| (*x, r.accuracy_mean_pct)).collect();
    let band: Vec<(f64, f64)> = rows
        .iter()
        .map(|(_, r)| (r.accuracy_ci95_low_pct, r.accuracy_ci95_high_pct))
        .collect();
    chart.with_series(Series::line_points(label, mean).with_band(band))
}

/// One panel per setting: mean accuracy (with its 95% band) versus fraction (log x), per method, with the
/// references as horizontal lines.
fn fraction_charts(results: &Results) -> Vec<Chart> {
    results
        .info
        .settings
        .iter()
        .filter_map(|s| {
            let model = &results.info.models[s.model].name;
            let mut chart = Chart::new(format!("{} ({})", panel_name(results, s), s.hw_name))
                .x_label("weights write-verified (%)")
                .y_label("test accuracy (%), mean and 95% CI")
                .log_x(true);
            let mut xs: Vec<f64> = Vec::new();
            for m in methods_of(results, model, &s.name) {
                let rows = series(results, model, &s.name, &m);
                let pts: Vec<(f64, &Row)> = rows.iter().map(|r| (100.0 * r.fraction, *r)).collect();
                xs.extend(pts.iter().map(|p| p.0));
                chart = with_band(chart, rows[0].label(), &pts);
            }
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if !lo.is_finite() {
                return None;
            }
            for (name, label) in [(NO_VERIFY, "no write-verify"), (FULL_VERIFY, "full write-verify")] {
                if let Some(r) = reference(results, model, &s.name, name) {
                    chart = chart.with_series(Series::line(
                        label,
                        vec![(lo, r.accuracy_mean_pct), (hi, r.accuracy_mean_pct)],
                    ));
                }
            }
            Some(chart)
        })
        .collect()
}

/// One panel per setting: mean accuracy (with its 95% band) versus the simulated programming time of the
/// same chips (log x), per method.
fn time_charts(results: &Results) -> Vec<Chart> {
    results
        .info
        .settings
        .iter()
        .filter_map(|s| {
            let model = &results.info.models[s.model].name;
            let mut chart = Chart::new(format!("{} ({})", panel_name(results, s), s.hw_name))
                .x_label(format!("simulated programming time (ms), {}", s.hw_name))
                .y_label("test accuracy (%), mean and 95% CI")
                .log_x(true);
            let mut any = false;
            for m in methods_of(results, model, &s.name) {
                let rows = series(results, model, &s.name, &m);
                let mut pts: Vec<(f64, &Row)> = rows.iter().map(|r| (r.time_ns * 1e-6, *r)).collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                any |= !pts.is_empty();
                chart = with_band(chart, rows[0].label(), &pts);
            }
            for (name, label) in [(NO_VERIFY, "no write-verify"), (FULL_VERIFY, "full write-verify")] {
                if let Some(r) = reference(results, model, &s.name, name) {
                    chart = chart.with_series(Series::points(
                        label,
                        vec![(r.time_ns * 1e-6, r.accuracy_mean_pct)],
                    ));
                }
            }
            any.then_some(chart)
        })
        .collect()
}

/// A setting's name in panels and tables: its name, after its network's when the run has several.
fn panel_name(results: &Results, s: &SettingInfo) -> String {
    if results.info.models.len() > 1 {
        format!("{}: {}", results.info.models[s.model].name, s.name)
    } else {
        s.name.clone()
    }
}

/// The methods of a network's setting, in row order.
fn methods_of(results: &Results, model: &str, variation: &str) -> Vec<String> {
    let mut methods: Vec<String> = Vec::new();
    for r in results
        .rows
        .iter()
        .filter(|r| r.model == model && r.variation == variation)
    {
        if r.method != NO_VERIFY && r.method != FULL_VERIFY && !methods.contains(&r.method) {
            methods.push(r.method.clone());
        }
    }
    methods
}

/// Writes the plots into `dir` as PNG and SVG; returns the files written.
pub fn write_plots(dir: &Path, results: &Results) -> Result<Vec<PathBuf>, PlotError> {
    let columns = results.info.settings.len().clamp(1, 4);
    let figures = [
        ("accuracy_vs_fraction", fraction_charts(results)),
        ("accuracy_vs_time", time_charts(results)),
    ];
    let mut written = Vec::new();
    for (name, mut charts) in figures {
        if charts.is_empty() {
            continue;
        }
        plot::share_axes(&mut charts);
        for ext in ["png", "svg"] {
            let path = dir.join(format!("{name}.{ext}"));
            plot::render_panels(&charts, columns, &path)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Writes `headline.md`.
pub fn write_headline(path: &Path, text: &str) -> io::Result<()> {
    write_bytes(path, text.as_bytes())
}
