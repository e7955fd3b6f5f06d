//! `uswim reproduce`: the U-SWIM experiment on the embedded defaults.

use super::BadInput;
use super::args::{GlobalArgs, KnowledgeArg, NormalizeArg, OutDir, SeedArg, method_parser, parse_overrides};
use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::Instant;
use uswim::config::DEFAULT_PRESET;
use uswim::experiment::reproduce::{
    self, Benchmark, DEFAULT_FRACTIONS, DEFAULT_METHODS, PhysicalRun, ReproduceError, SecondModel, Spec,
    VariationSetting,
};
use uswim::experiment::reproduce_report::{self as report, Context};
use uswim::experiment::selection;
use uswim::experiment::shard::Shard;
use uswim::experiment::shard_reproduce::{self, ShardRun};
use uswim::nn::normalize::{self, Normalization};
use uswim::nn::{Dataset, Network, Split, model_file};
use uswim::sensitivity::Method;
use uswim::trace::out_dir_shared::FileSet;

/// Monte-Carlo runs of a point's first look in the default run (the enough-runs rule doubles them
/// while the point's paired interval straddles the allowed drop).
pub const DEFAULT_RUNS: u32 = 5;
/// Most Monte-Carlo runs of a point, as a multiple of its first look's, unless --max-runs is given
/// (5, 10, 20 by default).
pub const DEFAULT_MAX_RUNS_FACTOR: u32 = 4;
/// Monte-Carlo runs per point with --full (fixed).
pub const FULL_RUNS: u32 = 100;
/// Monte-Carlo runs of a point's first look on the physical preset.
pub const DEFAULT_PHYSICAL_RUNS: u32 = 5;
/// Most Monte-Carlo runs of a point on the physical preset and on the second network, as a multiple of
/// their first look's (one doubling: their chips cost more).
pub const DEFAULT_SMALL_MAX_RUNS_FACTOR: u32 = 2;

/// Reproduce the U-SWIM experiment: selection methods (uswim, uswim-time, swim, measured, magnitude, random) over write-verify
/// fractions from 0.1% to 100%, under uniform, band (the authors') and strongly non-uniform (lognormal,
/// sigma_log 0.9) device variation, with Monte-Carlo accuracy on the test set and the simulated
/// programming time and energy of every point.
///
/// Defaults: the shipped LeNet (models/lenet_mnist.safetensors) on MNIST, on the papers' statistical
/// preset (paper_statistical: sigma 0.3 open-loop, 0.03 verified) under the three variation settings, and
/// on the RRAM 1T1R preset with its own pulse-level physics (--physical; fewer fractions and runs: its
/// programmer is slower); beside it the shipped ConvNet (models/convnet_fashion.safetensors) on
/// Fashion-MNIST on a smaller grid (--second). Every Monte-Carlo chip is programmed once; its accuracy,
/// time and energy come from that programming, and run r uses the same chip for every point (common
/// random numbers). Enough runs: a point starts with --mc-runs chips (5) and doubles them while its paired
/// 95% interval straddles --max-drop, up to --max-runs (20); full write-verify makes --max-runs. LeNet on
/// all 10,000 test images (--full: 100 runs per point, fixed); its sensitivity pass uses the first 4096
/// training images.
///
/// Writes into --out: results.csv (one row per model x setting x method x fraction, plus the no- and
/// full write-verify references, with the paired drop from full write-verify, its decision, and the
/// predicted-time model's total time of each point beside the simulated one), headline.md, and
/// accuracy_vs_fraction and accuracy_vs_time (with 95% bands) as PNG and SVG. With --shard i/n (or inside
/// a Slurm job array) it evaluates only the points p with p mod n = i and writes shard-I-of-N.csv and
/// .json into --out; `uswim merge DIR` then writes the outputs of the whole run, byte for byte.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
uswim reproduce                                      # the default run, into out/reproduce\n  \
uswim reproduce --mc-runs 3 --test-images 1000 --out out/quick\n  \
uswim reproduce --full --out out/paper               # 100 Monte-Carlo runs per point\n  \
uswim reproduce --methods uswim,swim --fractions 0.01,0.05,0.2,1\n  \
uswim reproduce --hw rram_1t1r_256 --physical none    # the variation settings on the RRAM device\n  \
uswim reproduce --shard 3/8 --out out/rep && uswim merge out/rep   # one of 8 Slurm jobs, then the merge")]
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
    /// Monte-Carlo runs of a point's first look on --physical.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PHYSICAL_RUNS)]
    physical_runs: u32,
    /// Most Monte-Carlo runs of a point on --physical (default 2x --physical-runs).
    #[arg(long, value_name = "N")]
    physical_max_runs: Option<u32>,
    /// The second network and its grid.
    #[command(flatten)]
    second: Box<SecondArgs>,
    /// What the uswim scores know of the devices.
    #[arg(long, value_enum, default_value_t = KnowledgeArg::Prior)]
    knowledge: KnowledgeArg,
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
    /// Monte-Carlo runs of a point's first look (default 5; 100 with --full).
    #[arg(long, value_name = "N", alias = "runs")]
    mc_runs: Option<u32>,
    /// Most Monte-Carlo runs of a point (the enough-runs rule's cap; default 4x --mc-runs; equal to
    /// --mc-runs for a fixed count); full write-verify makes these.
    #[arg(long, value_name = "N")]
    max_runs: Option<u32>,
    /// Paper-grade run: 100 Monte-Carlo runs per point, fixed.
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
    /// Evaluate only shard i of n (0-based; the points p with p mod n = i) and write shard-I-of-N.csv
    /// and .json into --out, to be joined by `uswim merge`. Default: from SLURM_ARRAY_TASK_ID and
    /// SLURM_ARRAY_TASK_COUNT inside a Slurm job array, else the whole experiment.
    #[arg(long, value_name = "i/n")]
    shard: Option<String>,
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

/// The flags of `uswim reproduce`'s second network (the ConvNet on Fashion-MNIST by default).
#[derive(Debug, Args)]
pub struct SecondArgs {
    /// A second trained network run beside --model on its own grid (safetensors or ONNX; relative
    /// paths are also looked up in the crate folder); `none` for none.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "models/convnet_fashion.safetensors"
    )]
    second: String,
    /// Dataset of --second.
    #[arg(long, value_name = "NAME|DIR", default_value = "fashion-mnist")]
    second_data: String,
    /// Variation settings of --second: names among the settings of --model (--variation or the
    /// default three).
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "band")]
    second_settings: Vec<String>,
    /// Selection methods of --second.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        value_parser = method_parser(),
        default_value = "uswim,swim,random"
    )]
    second_methods: Vec<Method>,
    /// Write-verify fractions of --second, ascending, in (0, 1].
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "0.01,0.05,0.2,1"
    )]
    second_fractions: Vec<f64>,
    /// Monte-Carlo runs of a point's first look on --second.
    #[arg(long, value_name = "N", default_value_t = 4)]
    second_runs: u32,
    /// Most Monte-Carlo runs of a point on --second (default 2x --second-runs).
    #[arg(long, value_name = "N")]
    second_max_runs: Option<u32>,
    /// Calibration images of --second's sensitivity pass.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    second_calib_samples: usize,
    /// Test images per Monte-Carlo run of --second: the first N of its test split.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    second_test_images: usize,
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

/// A network and its data, loaded for the experiment.
struct Loaded {
    name: String,
    label: String,
    source: String,
    network: Network,
    calib: Dataset,
    test: Dataset,
}

impl Loaded {
    /// Loads the model file `model` (resolved with [`resolve`]) and `calib_samples` training and
    /// `test_images` (all when `None`) test images of `data`.
    fn load(
        model: &Path,
        arch: Option<&str>,
        data: &str,
        normalize: Option<&Normalization>,
        calib_samples: usize,
        test_images: Option<usize>,
    ) -> anyhow::Result<Self> {
        let path = resolve(model);
        let (network, _) = model_file::load(arch, &path)?;
        let mut calib = normalize::load(data, Split::Train, normalize)?;
        calib.truncate(calib_samples);
        let mut test = normalize::load(data, Split::Test, normalize)?;
        if let Some(n) = test_images {
            test.truncate(n);
        }
        super::process::require_images(&calib, "train (calibration)", data)?;
        super::process::require_images(&test, "test", data)?;
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let name = model
            .file_stem()
            .map_or_else(|| "model".to_string(), |s| s.to_string_lossy().into_owned());
        Ok(Self {
            label: format!("{} ({}) on {}", model.display(), network.arch(), test.name()),
            source: format!("{hash:016x} {data} {normalize:?}"),
            name,
            network,
            calib,
            test,
        })
    }

    fn benchmark(&self) -> Benchmark<'_> {
        Benchmark {
            name: &self.name,
            label: &self.label,
            source: &self.source,
            network: &self.network,
            calib: &self.calib,
            test: &self.test,
        }
    }
}

/// The shard of this run: --shard, else a Slurm job array's task, else none (the whole experiment).
fn shard_of(text: Option<&str>) -> anyhow::Result<Option<Shard>> {
    let shard = match text {
        Some(text) => Some(Shard::parse(text)),
        None => Shard::from_slurm(|k| std::env::var(k).ok()),
    };
    shard.transpose().map_err(|e| BadInput(e.to_string()).into())
}

/// The experiment's spec from the arguments.
fn spec_of(args: &ReproduceArgs) -> anyhow::Result<Spec> {
    let methods = super::process::dedup_with_warning("--methods", args.methods.clone());
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
    let max_runs = match (args.max_runs, args.full) {
        (Some(n), _) => n,
        (None, true) => runs,
        (None, false) => runs.saturating_mul(DEFAULT_MAX_RUNS_FACTOR),
    };
    if args.calib_samples == 0 || args.second.second_calib_samples == 0 {
        return Err(BadInput("--calib-samples: 0 images; allowed: at least 1".into()).into());
    }
    if args.test_images == Some(0) || args.second.second_test_images == 0 {
        return Err(BadInput("--test-images: 0; allowed: at least 1".into()).into());
    }
    let second = if args.second.second == "none" {
        None
    } else {
        let settings = args
            .second
            .second_settings
            .iter()
            .map(|name| {
                variations
                    .iter()
                    .find(|v| &v.name == name)
                    .cloned()
                    .ok_or_else(|| {
                        let known: Vec<&str> = variations.iter().map(|v| v.name.as_str()).collect();
                        BadInput(format!(
                            "--second-settings: no variation setting `{name}`; allowed: {}",
                            known.join(", ")
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Some(SecondModel {
            variations: settings,
            methods: super::process::dedup_with_warning(
                "--second-methods",
                args.second.second_methods.clone(),
            ),
            fractions: args.second.second_fractions.clone(),
            runs: args.second.second_runs,
            max_runs: args.second.second_max_runs.unwrap_or(
                args.second
                    .second_runs
                    .saturating_mul(DEFAULT_SMALL_MAX_RUNS_FACTOR),
            ),
        })
    };
    Ok(Spec {
        hw: args.hw.clone(),
        overrides: parse_overrides(&args.overrides)?,
        physical: (args.physical != "none").then(|| PhysicalRun {
            hw: args.physical.clone(),
            fractions: args.physical_fractions.clone(),
            runs: args.physical_runs,
            max_runs: args
                .physical_max_runs
                .unwrap_or(args.physical_runs.saturating_mul(DEFAULT_SMALL_MAX_RUNS_FACTOR)),
        }),
        knowledge: args.knowledge.knowledge(args.characterise_cycles)?,
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
        max_runs,
        seed: args.seed.seed,
        max_drop_pct: args.max_drop,
        second,
    })
}

/// Runs `uswim reproduce`.
pub fn run(args: ReproduceArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let out = args.out.resolve("reproduce");
    let shard = shard_of(args.shard.as_deref())?;
    let spec = spec_of(&args)?;
    spec.validate()?;
    if shard.is_some() && args.timeline.is_some() {
        return Err(BadInput("--timeline: not with --shard (write it from an unsharded run)".into()).into());
    }

    let mut loaded = vec![Loaded::load(
        &args.model,
        args.arch.as_deref(),
        &args.data,
        args.normalize.normalize.as_ref(),
        args.calib_samples,
        args.test_images,
    )?];
    if spec.second.is_some() {
        loaded.push(Loaded::load(
            Path::new(&args.second.second),
            None,
            &args.second.second_data,
            None,
            args.second.second_calib_samples,
            Some(args.second.second_test_images),
        )?);
    }
    if loaded.len() == 2 && loaded[0].name == loaded[1].name {
        loaded[1].name.push_str("-2");
    }
    tracing::debug!(
        "networks and data loaded after {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let benchmarks: Vec<Benchmark<'_>> = loaded.iter().map(Loaded::benchmark).collect();
    if let Some(path) = &args.timeline {
        reproduce::write_point_timeline(&spec, &benchmarks[0], args.timeline_point.as_deref(), path)
            .map_err(classify)?;
        eprintln!("wrote {}", path.display());
    }
    let command = report::canonical_command(&std::env::args().skip(1).collect::<Vec<_>>());

    let selected = shard.unwrap_or(Shard::WHOLE);
    let bar = if global.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(spec.work_units(selected))
    };
    bar.set_style(
        ProgressStyle::with_template(
            "reproduce [{bar:40}] {pos}/{len} points ({per_sec}), {elapsed} elapsed, eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );

    if let Some(shard) = shard {
        let set = FileSet::begin(&out, "reproduce").map_err(|e| {
            if e.is_bad_input() {
                anyhow::Error::new(BadInput(e.to_string()))
            } else {
                anyhow::Error::new(e)
            }
        })?;
        eprintln!(
            "reproduce: shard {shard}, {} of {} points",
            shard.len(spec.grid_points()),
            spec.grid_points()
        );
        let evaluated = reproduce::evaluate(&spec, &benchmarks, shard, &|n| bar.inc(n)).map_err(classify)?;
        bar.finish_and_clear();
        let hash = reproduce::spec_hash(&spec, &benchmarks);
        let run = ShardRun {
            spec_hash: &hash,
            command: &command,
            wall_time_s: started.elapsed().as_secs_f64(),
        };
        let (csv, _) = shard_reproduce::write_shard(set.path(), shard, &evaluated, &run)
            .with_context(|| format!("writing the shard into {}", out.display()))?;
        set.commit()
            .with_context(|| format!("moving the shard into {}", out.display()))?;
        outln!(
            "wrote {} ({} points); when every shard is done: uswim merge {}",
            out.join(csv.file_name().unwrap_or_default()).display(),
            evaluated.records.len(),
            out.display()
        )?;
        return Ok(());
    }

    let staged = super::process::begin_out(&out, "reproduce")?;
    let results = reproduce::run(&spec, &benchmarks, &|n| bar.inc(n)).map_err(classify)?;
    bar.finish_and_clear();
    tracing::debug!("experiment done after {:.2} s", started.elapsed().as_secs_f64());
    let (md, plots) = report::write_outputs(staged.path(), &results, &Context { command })
        .context("writing the outputs")?;
    tracing::debug!("outputs written after {:.2} s", started.elapsed().as_secs_f64());
    staged
        .commit()
        .with_context(|| format!("moving the outputs into {}", out.display()))?;
    out!("{md}")?;
    outln!(
        "wrote {}, {} and {} plots ({:.0} s wall on {} threads)",
        out.join("results.csv").display(),
        out.join("headline.md").display(),
        plots.len(),
        started.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    )?;
    Ok(())
}

/// Bad input (exit code 2) or a runtime failure.
fn classify(e: ReproduceError) -> anyhow::Error {
    if e.is_bad_input() {
        BadInput(e.to_string()).into()
    } else {
        e.into()
    }
}
