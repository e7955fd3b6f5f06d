//! `uswim reproduce`: the U-SWIM experiment on the embedded defaults.

use super::BadInput;
use super::args::{GlobalArgs, NormalizeArg, OutDir, SeedArg, method_parser, parse_overrides};
use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::Instant;
use uswim::config::DEFAULT_PRESET;
use uswim::experiment::reproduce::{
    self, DEFAULT_FRACTIONS, DEFAULT_METHODS, PhysicalRun, ReproduceError, Spec, VariationSetting,
};
use uswim::experiment::reproduce_report::{self as report, Context};
use uswim::experiment::selection::{self, Knowledge};
use uswim::nn::{Split, model_file};
use uswim::sensitivity::Method;

/// Monte-Carlo runs per point of the default run.
pub const DEFAULT_RUNS: u32 = 10;
/// Monte-Carlo runs per point with --full.
pub const FULL_RUNS: u32 = 100;
/// Monte-Carlo runs per point of the physical preset.
pub const DEFAULT_PHYSICAL_RUNS: u32 = 5;

/// Reproduce the U-SWIM experiment: selection methods (uswim, uswim-time, swim, measured, magnitude, random) over write-verify
/// fractions from 0.1% to 100%, under uniform, band (the authors') and strongly non-uniform (lognormal,
/// sigma_log 0.9) device variation, with Monte-Carlo accuracy on the test set and the simulated
/// programming time and energy of every point.
///
/// Defaults: the shipped LeNet (models/lenet_mnist.safetensors) on MNIST, on the papers' statistical
/// preset (paper_statistical: sigma 0.3 open-loop, 0.03 verified) under the three variation settings, and
/// on the RRAM 1T1R preset with its own pulse-level physics (--physical; fewer fractions and runs: its
/// programmer is slower). Every Monte-Carlo chip is programmed once; its accuracy, time and energy come
/// from that programming, and run r uses the same chip for every point (common random numbers). 10 runs
/// per point on all 10,000 test images (--full: 100 runs); the sensitivity pass uses the first 4096
/// training images.
///
/// Writes into --out: results.csv (one row per setting x method x fraction, plus the no- and full
/// write-verify references, with the paired drop from full write-verify, and the predicted-time model's
/// total time of each point beside the simulated one), headline.md, and
/// accuracy_vs_fraction and accuracy_vs_time (with 95% bands) as PNG and SVG.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
uswim reproduce                                      # the default run, into out/reproduce\n  \
uswim reproduce --mc-runs 3 --test-images 1000 --out out/quick\n  \
uswim reproduce --full --out out/paper               # 100 Monte-Carlo runs per point\n  \
uswim reproduce --methods uswim,swim --fractions 0.01,0.05,0.2,1\n  \
uswim reproduce --hw rram_1t1r_256 --physical none    # the variation settings on the RRAM device")]
pub struct ReproduceArgs {
    /// Trained model (safetensors); relative paths are also looked up in the crate folder.
    #[arg(long, value_name = "FILE", default_value = "models/lenet_mnist.safetensors")]
    model: PathBuf,
    /// Architecture of --model (default: the one recorded in the file).
    #[arg(long, value_name = "NAME")]
    arch: Option<String>,
    /// Dataset name (mnist, fashion-mnist) or folder of IDX files.
    #[arg(long, value_name = "NAME|DIR", alias = "dataset", default_value = "mnist")]
    data: String,
    #[command(flatten)]
    normalize: NormalizeArg,
    /// Configuration of the variation settings (a preset or TOML file; statistical or pulse-level): each
    /// Monte-Carlo chip is programmed once with it, and accuracy, time and energy come from that chip;
    /// its variation maps are replaced per setting.
    #[arg(
        long,
        value_name = "FILE|PRESET",
        alias = "accuracy-hw",
        default_value = "paper_statistical"
    )]
    hw: String,
    /// Override a key of --hw before each setting's overrides (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// A pulse-level preset also run with its own device physics (no variation override): the tool's own
    /// accuracy-versus-time result beside the papers' statistical one (the default of every other
    /// command's --hw); `none` for none.
    #[arg(long, value_name = "FILE|PRESET", default_value = DEFAULT_PRESET)]
    physical: String,
    /// Write-verify fractions of --physical, comma-separated, ascending, in (0, 1].
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "0.01,0.05,0.2,1"
    )]
    physical_fractions: Vec<f64>,
    /// Monte-Carlo runs per point of --physical.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PHYSICAL_RUNS)]
    physical_runs: u32,
    /// What the uswim scores know of the devices: prior (default), characterised, oracle (an upper bound).
    #[arg(long, value_name = "K", default_value = "prior")]
    knowledge: String,
    /// Programming cycles per device of `--knowledge characterised`.
    #[arg(long, value_name = "N", default_value_t = selection::DEFAULT_CHARACTERISE_CYCLES)]
    characterise_cycles: u32,
    /// A variation setting `NAME:KEY=VALUE` (repeatable; replaces the default three), e.g.
    /// `outliers:device.variation.maps=[{kind="outliers",fraction=0.05,multiplier=5.0}]`.
    #[arg(long = "variation", value_name = "NAME:KEY=VALUE")]
    variations: Vec<String>,
    /// Selection methods, comma-separated.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        value_parser = method_parser(),
        default_value = "uswim,uswim-time,swim,measured,magnitude,random"
    )]
    methods: Vec<Method>,
    /// Write-verify fractions, comma-separated, ascending, in (0, 1].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    fractions: Option<Vec<f64>>,
    /// Monte-Carlo runs per point (default 10; 100 with --full).
    #[arg(long, value_name = "N", alias = "runs")]
    mc_runs: Option<u32>,
    /// Paper-grade run: 100 Monte-Carlo runs per point (about 10x the default's time).
    #[arg(long)]
    full: bool,
    /// Calibration images of the sensitivity pass: the first N training images.
    #[arg(long, value_name = "N", alias = "calib", default_value_t = 4096)]
    calib_samples: usize,
    /// Test images per Monte-Carlo run: the first N of the test split (default: all).
    #[arg(long, value_name = "N")]
    test_images: Option<usize>,
    /// Allowed accuracy drop from full write-verify for the headline, in percentage points.
    #[arg(long, value_name = "POINTS", default_value_t = 0.5)]
    max_drop: f64,
    /// Seed of every Monte-Carlo run.
    #[command(flatten)]
    seed: SeedArg,
    /// Output folder.
    #[command(flatten)]
    out: OutDir,
    /// Also write one point's programming schedule as a Chrome trace-event timeline (ui.perfetto.dev):
    /// the chip behind its time and energy (run 0's), programmed once more with its phases traced,
    /// before the experiment runs.
    #[arg(long, value_name = "FILE.json")]
    timeline: Option<PathBuf>,
    /// The point of --timeline, as SETTING/METHOD/FRACTION (e.g. `uniform/uswim/0.1`; default: the first
    /// setting's full-verify point).
    #[arg(long, value_name = "LABEL", requires = "timeline")]
    timeline_point: Option<String>,
}

/// A relative path that does not exist here, looked up in the crate folder (so `cargo run` finds the
/// shipped model from anywhere).
fn resolve(path: &Path) -> PathBuf {
    if path.exists() || path.is_absolute() {
        return path.to_path_buf();
    }
    let crate_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if crate_path.exists() {
        crate_path
    } else {
        path.to_path_buf()
    }
}

/// Runs `uswim reproduce`.
pub fn run(args: ReproduceArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let methods = super::process::dedup_with_warning("--methods", args.methods.clone());
    let seed = args.seed.seed;
    let out = args.out.resolve("reproduce");
    let variations = if args.variations.is_empty() {
        reproduce::default_variations()
    } else {
        args.variations
            .iter()
            .map(|v| VariationSetting::parse(v))
            .collect::<Result<_, _>>()?
    };
    let runs = match (args.mc_runs, args.full) {
        (Some(n), _) => n,
        (None, true) => FULL_RUNS,
        (None, false) => DEFAULT_RUNS,
    };
    if args.full && runs < FULL_RUNS {
        return Err(BadInput(format!(
            "--full needs at least {FULL_RUNS} runs, --mc-runs gave {runs}"
        ))
        .into());
    }
    if args.calib_samples == 0 {
        return Err(BadInput("--calib-samples: 0 images; allowed: at least 1".into()).into());
    }
    let spec = Spec {
        hw: args.hw.clone(),
        overrides: parse_overrides(&args.overrides)?,
        physical: (args.physical != "none").then(|| PhysicalRun {
            hw: args.physical.clone(),
            fractions: args.physical_fractions.clone(),
            runs: args.physical_runs,
        }),
        knowledge: Knowledge::parse(&args.knowledge, args.characterise_cycles)?,
        variations,
        methods: if methods.is_empty() {
            DEFAULT_METHODS.to_vec()
        } else {
            methods
        },
        fractions: args
            .fractions
            .clone()
            .unwrap_or_else(|| DEFAULT_FRACTIONS.to_vec()),
        runs,
        seed,
        max_drop_pct: args.max_drop,
    };
    spec.validate()?;

    let model = resolve(&args.model);
    let (net, _) = model_file::load(args.arch.as_deref(), &model)?;
    let mut calib = args.normalize.load(&args.data, Split::Train)?;
    calib.truncate(args.calib_samples);
    let mut test = args.normalize.load(&args.data, Split::Test)?;
    if let Some(n) = args.test_images {
        if n == 0 {
            return Err(BadInput("--test-images: 0; allowed: at least 1".into()).into());
        }
        test.truncate(n);
    }
    super::process::require_images(&calib, "train (calibration)", &args.data)?;
    super::process::require_images(&test, "test", &args.data)?;
    if let Some(path) = &args.timeline {
        reproduce::write_point_timeline(&spec, &net, &calib, args.timeline_point.as_deref(), path)
            .map_err(classify)?;
        eprintln!("wrote {}", path.display());
    }
    let staged = super::process::begin_out(&out, "reproduce")?;

    let bar = if global.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(spec.work_units())
    };
    bar.set_style(
        ProgressStyle::with_template(
            "reproduce [{bar:40}] {pos}/{len} runs ({per_sec}), {elapsed} elapsed, eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let results = reproduce::run(&spec, &net, &calib, &test, &|n| bar.inc(n)).map_err(classify)?;
    bar.finish_and_clear();

    let csv = staged.path().join("results.csv");
    report::write_csv(&csv, &results).with_context(|| format!("writing {}", csv.display()))?;
    let plots = report::write_plots(staged.path(), &results).context("plots")?;
    let ctx = Context {
        model: format!("{} ({})", args.model.display(), net.arch()),
        dataset: test.name().to_string(),
        seed,
        max_drop_pct: args.max_drop,
        wall_s: started.elapsed().as_secs_f64(),
        threads: rayon::current_num_threads(),
        command: command_line(),
    };
    let md = report::headline_markdown(&results, &ctx);
    let headline = staged.path().join("headline.md");
    report::write_headline(&headline, &md).with_context(|| format!("writing {}", headline.display()))?;
    staged
        .commit()
        .with_context(|| format!("moving the outputs into {}", out.display()))?;
    let (csv, headline) = (out.join("results.csv"), out.join("headline.md"));
    out!("{md}")?;
    outln!(
        "wrote {}, {} and {} plots",
        csv.display(),
        headline.display(),
        plots.len()
    )?;
    Ok(())
}

/// The command line as typed.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("uswim {}", args.join(" "))
}

/// Bad input (exit code 2) or a runtime failure.
fn classify(e: ReproduceError) -> anyhow::Error {
    if e.is_bad_input() {
        BadInput(e.to_string()).into()
    } else {
        e.into()
    }
}
