//! The outputs of `uswim reproduce`: `results.csv`, the headline (smallest write-verify fraction within
//! the allowed accuracy drop of full write-verify, and the speedups it buys) as `headline.md`, and the
//! plots (accuracy versus fraction, accuracy versus simulated programming time) as PNG and SVG.

use super::reproduce::{FULL_VERIFY, NO_VERIFY, Results, Row, reference, series, smallest_within};
use crate::plot::{self, Chart, PlotError, Series};
use crate::trace::atomic::{AtomicFile, write_bytes};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

/// One method's headline under one variation setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    /// Variation setting.
    pub variation: String,
    /// Method.
    pub method: String,
    /// The smallest fraction from which on the mean accuracy stays within the allowed drop of full
    /// write-verify (see [`smallest_within`]).
    pub fraction: f64,
    /// Mean accuracy there, in percent.
    pub accuracy_pct: f64,
    /// Its 95% interval half-width, in points.
    pub ci95_pct: f64,
    /// Speedup over full write-verify in counted weights: weights / weights verified.
    pub weights_speedup: f64,
    /// Speedup in simulated programming time on the accuracy configuration.
    pub time_speedup: f64,
    /// Speedup in simulated programming time on the timing configuration.
    pub timing_hw_speedup: Option<f64>,
}

/// U-SWIM's gain over SWIM under one variation setting: the ratio of their headline budgets.
#[derive(Debug, Clone, PartialEq)]
pub struct Gain {
    /// Variation setting.
    pub variation: String,
    /// Whether the setting makes device sigmas differ.
    pub nonuniform: bool,
    /// SWIM's verified weights / U-SWIM's.
    pub weights: f64,
    /// SWIM's programming time / U-SWIM's, accuracy configuration.
    pub time: f64,
    /// The same on the timing configuration.
    pub timing_hw: Option<f64>,
}

/// The headline of every method under every setting, and uswim's gain over swim per setting.
pub fn headlines(results: &Results, max_drop_pct: f64) -> (Vec<Headline>, Vec<Gain>) {
    let mut heads = Vec::new();
    let mut gains = Vec::new();
    for setting in &results.info.settings {
        let v = &setting.name;
        let Some(full) = reference(results, v, FULL_VERIFY) else {
            continue;
        };
        let mut methods: Vec<&str> = Vec::new();
        for r in results.rows.iter().filter(|r| &r.variation == v) {
            if r.method != NO_VERIFY && r.method != FULL_VERIFY && !methods.contains(&r.method.as_str()) {
                methods.push(&r.method);
            }
        }
        for m in methods {
            let rows = series(results, v, m);
            let Some(best) = smallest_within(&rows, full.accuracy_mean_pct, max_drop_pct) else {
                continue;
            };
            heads.push(Headline {
                variation: v.clone(),
                method: m.to_string(),
                fraction: best.fraction,
                accuracy_pct: best.accuracy_mean_pct,
                ci95_pct: 0.5 * (best.accuracy_ci95_high_pct - best.accuracy_ci95_low_pct),
                weights_speedup: best.weights_total as f64 / best.weights_verified.max(1) as f64,
                time_speedup: full.time_ns / best.time_ns,
                timing_hw_speedup: full
                    .timing_hw_time_ns
                    .zip(best.timing_hw_time_ns)
                    .map(|(f, b)| f / b),
            });
        }
        let find = |m: &str| heads.iter().find(|h| &h.variation == v && h.method == m);
        if let (Some(u), Some(s)) = (find("uswim"), find("swim")) {
            gains.push(Gain {
                variation: v.clone(),
                nonuniform: setting.nonuniform,
                weights: u.weights_speedup / s.weights_speedup,
                time: u.time_speedup / s.time_speedup,
                timing_hw: u.timing_hw_speedup.zip(s.timing_hw_speedup).map(|(a, b)| a / b),
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

/// Context printed at the top of the headline.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The model file and architecture.
    pub model: String,
    /// The dataset.
    pub dataset: String,
    /// Seed.
    pub seed: u64,
    /// Allowed accuracy drop, points.
    pub max_drop_pct: f64,
    /// Wall time of the run, seconds.
    pub wall_s: f64,
    /// Worker threads.
    pub threads: usize,
    /// The command line that reproduces the run.
    pub command: String,
}

/// The headline report in Markdown.
pub fn headline_markdown(results: &Results, ctx: &Context) -> String {
    let (heads, gains) = headlines(results, ctx.max_drop_pct);
    let info = &results.info;
    let runs = results.rows.first().map_or(0, |r| r.runs);
    let timing = info.timing_hw_source.clone();
    let hw = &info.hw_source;
    let mut md = String::new();
    let _ = writeln!(md, "# U-SWIM reproduction: headline\n");
    let _ = writeln!(md, "`{}`\n", ctx.command);
    let _ = writeln!(
        md,
        "- model: {} on {} ({} test images per run; sensitivity pass over the first {} training images)",
        ctx.model, ctx.dataset, info.test_images, info.calib_images
    );
    let _ = writeln!(
        md,
        "- accuracy and time: `{hw}` ({}, {} arrays); second time/energy column: {}",
        info.hw_name,
        info.arrays,
        match (&timing, &info.timing_hw_name, info.timing_arrays) {
            (Some(t), Some(n), Some(a)) => format!("`{t}` ({n}, {a} arrays), same masks"),
            _ => "none".to_string(),
        }
    );
    let _ = writeln!(
        md,
        "- {runs} Monte-Carlo runs per point (run r programs a fresh chip with seed (seed {}, run r), the \
         same chips for every point); mean accuracy and its 95% interval (Student t)",
        ctx.seed
    );
    let _ = writeln!(md, "- {:.0} s wall on {} threads", ctx.wall_s, ctx.threads);
    let _ = writeln!(md, "- variation settings:");
    for s in &info.settings {
        let _ = writeln!(md, "  - `{}`: `{}`", s.name, s.overrides.join(" "));
    }

    let _ = writeln!(md, "\n## References\n");
    let tcol = timing.as_deref().unwrap_or("timing hw");
    let _ = writeln!(
        md,
        "| variation | no write-verify (mean ± std) | full write-verify (mean ± std) | full-WV time ({hw}) | full-WV time ({tcol}) | no-WV time ({tcol}) |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|");
    for s in &info.settings {
        let (Some(none), Some(full)) = (
            reference(results, &s.name, NO_VERIFY),
            reference(results, &s.name, FULL_VERIFY),
        ) else {
            continue;
        };
        let _ = writeln!(
            md,
            "| {} | {:.2} ± {:.2}% | {:.2} ± {:.2}% | {} | {} | {} |",
            s.name,
            none.accuracy_mean_pct,
            none.accuracy_std_pct,
            full.accuracy_mean_pct,
            full.accuracy_std_pct,
            duration(full.time_ns),
            full.timing_hw_time_ns.map_or("-".into(), duration),
            none.timing_hw_time_ns.map_or("-".into(), duration),
        );
    }

    let _ = writeln!(
        md,
        "\n## Headline: smallest fraction within {} points of full write-verify\n",
        ctx.max_drop_pct
    );
    let _ = writeln!(
        md,
        "The smallest grid fraction from which on every larger fraction's mean accuracy is within {} points \
         of full write-verify; speedups over full write-verify in counted weights (the papers' measure) and \
         in simulated programming time (this tool's).\n",
        ctx.max_drop_pct
    );
    let _ = writeln!(
        md,
        "| variation | method | fraction | accuracy (mean ± 95% CI) | speedup (weights) | speedup (ns, {hw}) | speedup (ns, {tcol}) |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for h in &heads {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.2} ± {:.2}% | {:.1}x | {:.2}x | {} |",
            h.variation,
            h.method,
            pct(h.fraction),
            h.accuracy_pct,
            h.ci95_pct,
            h.weights_speedup,
            h.time_speedup,
            h.timing_hw_speedup.map_or("-".into(), |x| format!("{x:.2}x")),
        );
    }

    if !gains.is_empty() {
        let _ = writeln!(md, "\n## uswim over swim\n");
        let _ = writeln!(
            md,
            "Ratio of swim's headline budget to uswim's (above 1: uswim needs less write-verify for the same \
             accuracy).\n"
        );
        let _ = writeln!(
            md,
            "| variation | non-uniform | in weights | in ns ({hw}) | in ns ({tcol}) |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|");
        for g in &gains {
            let _ = writeln!(
                md,
                "| {} | {} | {:.2}x | {:.2}x | {} |",
                g.variation,
                if g.nonuniform { "yes" } else { "no" },
                g.weights,
                g.time,
                g.timing_hw.map_or("-".into(), |x| format!("{x:.2}x")),
            );
        }
    }

    let _ = writeln!(
        md,
        "\n## Accuracy (%, mean ± 95% CI half-width) by fraction verified\n"
    );
    for s in &info.settings {
        let methods: Vec<String> = heads
            .iter()
            .filter(|h| h.variation == s.name)
            .map(|h| h.method.clone())
            .collect();
        if methods.is_empty() {
            continue;
        }
        let _ = writeln!(md, "**{}**\n", s.name);
        let _ = writeln!(md, "| fraction | {} |", methods.join(" | "));
        let _ = writeln!(md, "|---|{}", "---|".repeat(methods.len()));
        let fractions: Vec<f64> = series(results, &s.name, &methods[0])
            .iter()
            .map(|r| r.fraction)
            .collect();
        for f in fractions {
            let cells: Vec<String> = methods
                .iter()
                .map(|m| {
                    series(results, &s.name, m)
                        .iter()
                        .find(|r| r.fraction == f)
                        .map_or("-".into(), |r| {
                            format!(
                                "{:.2} ± {:.2}",
                                r.accuracy_mean_pct,
                                0.5 * (r.accuracy_ci95_high_pct - r.accuracy_ci95_low_pct)
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

/// Which time a time plot uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeOf {
    Accuracy,
    Timing,
}

/// One panel per setting: mean accuracy versus fraction (log x), per method, with the references as
/// horizontal lines.
fn fraction_charts(results: &Results) -> Vec<Chart> {
    results
        .info
        .settings
        .iter()
        .filter_map(|s| {
            let mut chart = Chart::new(format!("{} variation", s.name))
                .x_label("weights write-verified (%)")
                .y_label("test accuracy (%), mean over runs")
                .log_x(true);
            let mut xs: Vec<f64> = Vec::new();
            for m in methods_of(results, &s.name) {
                let rows = series(results, &s.name, &m);
                let pts: Vec<(f64, f64)> = rows
                    .iter()
                    .map(|r| (100.0 * r.fraction, r.accuracy_mean_pct))
                    .collect();
                let ci = rows
                    .iter()
                    .map(|r| (r.accuracy_ci95_low_pct, r.accuracy_ci95_high_pct))
                    .collect();
                xs.extend(pts.iter().map(|p| p.0));
                chart = chart.with_series(Series::line_points(m, pts).with_band(ci));
            }
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if !lo.is_finite() {
                return None;
            }
            for (name, label) in [(NO_VERIFY, "no write-verify"), (FULL_VERIFY, "full write-verify")] {
                if let Some(r) = reference(results, &s.name, name) {
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

/// One panel per setting: mean accuracy versus simulated programming time (log x), per method.
fn time_charts(results: &Results, which: TimeOf) -> Vec<Chart> {
    let hw = match which {
        TimeOf::Accuracy => results.info.hw_source.clone(),
        TimeOf::Timing => results.info.timing_hw_source.clone().unwrap_or_default(),
    };
    let time = |r: &Row| match which {
        TimeOf::Accuracy => Some(r.time_ns),
        TimeOf::Timing => r.timing_hw_time_ns,
    };
    results
        .info
        .settings
        .iter()
        .filter_map(|s| {
            let mut chart = Chart::new(format!("{} variation", s.name))
                .x_label(format!("simulated programming time (ms), {hw}"))
                .y_label("test accuracy (%), mean over runs")
                .log_x(true);
            let mut any = false;
            for m in methods_of(results, &s.name) {
                let mut pts: Vec<(f64, f64, (f64, f64))> = series(results, &s.name, &m)
                    .iter()
                    .filter_map(|r| {
                        let ci = (r.accuracy_ci95_low_pct, r.accuracy_ci95_high_pct);
                        time(r).map(|t| (t * 1e-6, r.accuracy_mean_pct, ci))
                    })
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                any |= !pts.is_empty();
                if !pts.is_empty() {
                    let ci = pts.iter().map(|p| p.2).collect();
                    let xy = pts.into_iter().map(|p| (p.0, p.1)).collect();
                    chart = chart.with_series(Series::line_points(m, xy).with_band(ci));
                }
            }
            for (name, label) in [(NO_VERIFY, "no write-verify"), (FULL_VERIFY, "full write-verify")] {
                if let Some((r, t)) = reference(results, &s.name, name).and_then(|r| time(r).map(|t| (r, t)))
                {
                    chart = chart.with_series(Series::points(label, vec![(t * 1e-6, r.accuracy_mean_pct)]));
                }
            }
            any.then_some(chart)
        })
        .collect()
}

/// The methods of a setting, in row order.
fn methods_of(results: &Results, variation: &str) -> Vec<String> {
    let mut methods: Vec<String> = Vec::new();
    for r in results.rows.iter().filter(|r| r.variation == variation) {
        if r.method != NO_VERIFY && r.method != FULL_VERIFY && !methods.contains(&r.method) {
            methods.push(r.method.clone());
        }
    }
    methods
}

/// Writes the plots into `dir` as PNG and SVG; returns the files written.
pub fn write_plots(dir: &Path, results: &Results) -> Result<Vec<PathBuf>, PlotError> {
    let columns = results.info.settings.len().clamp(1, 3);
    let mut figures = vec![
        ("accuracy_vs_fraction", fraction_charts(results)),
        ("accuracy_vs_time", time_charts(results, TimeOf::Accuracy)),
    ];
    if results.info.timing_hw_name.is_some() {
        figures.push(("accuracy_vs_time_timing_hw", time_charts(results, TimeOf::Timing)));
    }
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
