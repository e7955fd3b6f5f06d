//! `uswim sweep`: run a parameter sweep (or one shard of it) from a spec file.

use super::args::{GlobalArgs, OutDir};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use uswim::experiment::point_timeline;
use uswim::experiment::shard::Shard;
use uswim::experiment::sweep::{self, SweepOptions};
use uswim::experiment::sweep_error::SweepError;
use uswim::experiment::sweep_spec::SweepSpec;

/// Arguments of `uswim sweep`.
#[derive(Debug, Args)]
#[command(
    after_help = "Spec format: see hw_configs/sweeps/README.md. Outputs: DIR/results.csv and \
DIR/sweep.json, or DIR/shard-I-of-N.csv and .json for a shard (join them with `uswim merge DIR`).\n\n\
Examples:\n  \
uswim sweep --spec hw_configs/sweeps/array_size.toml --check\n  \
uswim sweep --spec hw_configs/sweeps/array_size.toml --out out/array_size\n  \
uswim sweep --spec big.toml --shard 3/16 --out out/big && uswim merge out/big\n  \
uswim sweep --spec hw_configs/sweeps/adc_sharing.toml --timeline adc4.json --timeline-point 2"
)]
pub struct SweepArgs {
    /// The sweep spec (TOML): base hardware, run settings and axes.
    #[arg(long, value_name = "FILE.toml")]
    spec: PathBuf,
    /// Output folder.
    #[command(flatten)]
    out: OutDir,
    /// Run only shard i of n (0-based), e.g. 3/16. Default: from SLURM_ARRAY_TASK_ID and
    /// SLURM_ARRAY_TASK_COUNT inside a Slurm job array, else the whole grid.
    #[arg(long, value_name = "i/n")]
    shard: Option<String>,
    /// Check the spec, every point's configuration, the models and the datasets (as a run does), print
    /// the grid size and columns, run nothing.
    #[arg(long)]
    check: bool,
    /// Continue an interrupted run of the same spec and shard from its partial results, skipping the
    /// points it finished.
    #[arg(long)]
    resume: bool,
    /// Also write one point's programming schedule as a Chrome trace-event timeline (open it in
    /// ui.perfetto.dev): the chip behind that point's results row, programmed once more with its phases
    /// traced, after the sweep.
    #[arg(long, value_name = "FILE.json")]
    timeline: Option<PathBuf>,
    /// The point of --timeline: its index in the grid (the `point` column of results.csv).
    #[arg(long, value_name = "N", default_value_t = 0, requires = "timeline")]
    timeline_point: usize,
}

/// Runs `uswim sweep`.
pub fn run(args: SweepArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let spec = SweepSpec::load(&args.spec).map_err(classify)?;
    let shard = match &args.shard {
        Some(text) => Some(Shard::parse(text).map_err(|e| classify(SweepError::Spec(e)))?),
        None => Shard::from_slurm(|k| std::env::var(k).ok())
            .transpose()
            .map_err(|e| classify(SweepError::Spec(e)))?,
    };
    let selected = shard.unwrap_or(Shard::WHOLE);
    if args.timeline.is_some() && args.timeline_point >= spec.len() {
        return Err(classify(SweepError::spec(
            &spec.file,
            "--timeline-point",
            format!(
                "{} is out of range; allowed: 0..={} (the grid's point indices)",
                args.timeline_point,
                spec.len() - 1
            ),
        )));
    }
    let points = selected.len(spec.len());
    if args.check {
        let grid = sweep::check_grid(&spec, selected).map_err(classify)?;
        sweep::prepare(&spec, &grid, false).map_err(classify)?;
        outln!(
            "{}: {} points in the grid, {} in shard {selected}; spec hash {}",
            spec.name,
            spec.len(),
            points,
            spec.hash_hex()
        )?;
        outln!("columns: {}", sweep::header(&spec).join(","))?;
        return Ok(());
    }
    if let Some(s) = shard {
        eprintln!("{}: shard {s}, {points} of {} points", spec.name, spec.len());
    }
    let bar = if global.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(points as u64)
    };
    let bar = bar.with_style(
        ProgressStyle::with_template("{msg} [{bar:32}] {pos}/{len} points, {elapsed} elapsed, eta {eta}")
            .map_err(anyhow::Error::new)?
            .progress_chars("=> "),
    );
    bar.set_message(spec.name.clone());
    let done = || bar.inc(1);
    let options = SweepOptions {
        shard,
        on_point_done: Some(&done),
        resume: args.resume,
    };
    let report = sweep::run(&spec, &args.out.resolve("sweep"), &options).map_err(classify)?;
    bar.finish_and_clear();
    eprintln!(
        "wrote {} ({} points in {:.2} s) and {}",
        report.csv.display(),
        report.rows,
        report.wall_time_s,
        report.meta.display()
    );
    if let Some(path) = &args.timeline {
        point_timeline::write_point_timeline(&spec, args.timeline_point, path).map_err(classify)?;
        eprintln!("wrote {} (point {})", path.display(), args.timeline_point);
    }
    Ok(())
}

/// Marks bad-input sweep errors so that they exit with code 2.
fn classify(e: SweepError) -> anyhow::Error {
    if e.is_bad_input() {
        anyhow::Error::new(super::BadInput(e.to_string()))
    } else {
        anyhow::Error::new(e)
    }
}
