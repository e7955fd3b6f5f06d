//! `uswim program --data D [--mc-runs N]`: the accuracy of the programmed chip(s) next to their time and
//! energy, so "what does this mask keep on this hardware" is one command.
//!
//! The traced chip (seed `--seed`) is read back from its own final conductances. With `--mc-runs N`, N
//! more chips (chip r from `run_seed(--seed, r)`, the chips `uswim reproduce` and sweeps use) are each
//! programmed once with the same mask; each one's accuracy, time and energy come from that programming
//! and go into `accuracy.csv`.

use anyhow::Context as _;
use serde::Serialize;
use std::borrow::Cow;
use std::path::Path;
use uswim::config::HwConfig;
use uswim::eval::{Evaluator, run_seed};
use uswim::map::{Mapped, read_back};
use uswim::nn::{Network, Split};
use uswim::sim::{Mask, ProgramResult};
use uswim::trace::atomic::AtomicFile;

/// What to measure.
pub struct Request<'a> {
    /// The network programmed.
    pub net: &'a Network,
    /// Its mapping.
    pub mapped: &'a Mapped,
    /// The hardware.
    pub hw: &'a HwConfig,
    /// The mask programmed.
    pub mask: &'a Mask,
    /// The traced chip's seed.
    pub seed: u64,
    /// The traced programming (with its final conductances).
    pub traced: &'a ProgramResult,
    /// Dataset name or folder.
    pub data: &'a str,
    /// Per-channel normalisation of its images (`--normalize`).
    pub normalize: Option<&'a uswim::nn::normalize::Normalization>,
    /// Test images (default: all).
    pub test_images: Option<usize>,
    /// Monte-Carlo chips.
    pub mc_runs: Option<u32>,
    /// Output folder.
    pub out: &'a Path,
}

/// One row of `accuracy.csv`.
#[derive(Debug, Serialize)]
struct Row {
    /// `traced` or the Monte-Carlo run index.
    chip: String,
    /// The chip's programming seed.
    seed: u64,
    /// Test accuracy, in percent.
    accuracy_pct: f64,
    /// Programming time, in ns.
    time_ns: f64,
    /// Programming energy, in pJ.
    energy_pj: f64,
}

/// Measures the accuracy of the traced chip and of the Monte-Carlo chips, writes `accuracy.csv` into
/// `r.out` (the staged output folder) and returns the lines to print once the folder is in place.
pub fn report(r: &Request<'_>) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let mut text = String::new();
    let mut test = uswim::nn::normalize::load(r.data, Split::Test, r.normalize)?;
    if let Some(n) = r.test_images {
        if n == 0 {
            return Err(super::BadInput("--test-images: 0; allowed: at least 1".into()).into());
        }
        test.truncate(n);
    }
    let conductances = r
        .traced
        .conductances_us
        .as_deref()
        .context("the programmer returns conductances when asked")?;
    let weights = read_back(r.mapped, conductances)?;
    let mut net = r.net.clone();
    for (&param, values) in r.net.programmable().iter().zip(&weights) {
        net.values_mut(param).copy_from_slice(values);
    }
    let traced_pct = 100.0 * net.accuracy(&test)?.fraction();
    let s = &r.traced.summary;
    let mut rows = vec![Row {
        chip: "traced".into(),
        seed: r.seed,
        accuracy_pct: traced_pct,
        time_ns: s.total_time_ns,
        energy_pj: s.energy.total_pj(),
    }];
    let _ = writeln!(
        text,
        "  accuracy   {traced_pct:.2}% on {} test images of {} (this chip: {:.4e} ns, {:.4e} pJ)",
        test.len(),
        test.name(),
        s.total_time_ns,
        s.energy.total_pj()
    );
    if let Some(runs) = r.mc_runs {
        let evaluator = Evaluator::new(r.net, r.mapped, r.hw, &test)?;
        let mc = evaluator.monte_carlo(runs, r.seed, |_| Ok(Cow::Borrowed(r.mask)))?;
        for (i, run) in mc.runs.iter().enumerate() {
            rows.push(Row {
                chip: i.to_string(),
                seed: run_seed(r.seed, i as u32),
                accuracy_pct: 100.0 * run.accuracy,
                time_ns: run.summary.total_time_ns,
                energy_pj: run.summary.energy.total_pj(),
            });
        }
        let a = &mc.accuracy;
        let _ = writeln!(
            text,
            "  {runs} Monte-Carlo chips: accuracy {:.2}% (95% CI {:.2} to {:.2}%, std {:.2}), time {:.4e} ns, \
             energy {:.4e} pJ (means over the same chips)",
            100.0 * a.mean,
            100.0 * a.ci95_low,
            100.0 * a.ci95_high,
            100.0 * a.std,
            mc.mean_of(|s| s.total_time_ns),
            mc.mean_of(|s| s.energy.total_pj())
        );
    }
    let path = r.out.join("accuracy.csv");
    let mut file = AtomicFile::create(&path).with_context(|| format!("writing {}", path.display()))?;
    {
        let mut w = csv::Writer::from_writer(&mut file);
        for row in &rows {
            w.serialize(row)?;
        }
        w.flush()?;
    }
    file.commit()
        .with_context(|| format!("writing {}", path.display()))?;
    let _ = writeln!(text, "  wrote accuracy.csv");
    Ok(text)
}
