//! `uswim program`: simulate programming a network into crossbars and write its traces and reports.

use super::BadInput;
use super::args::{GlobalArgs, HwArgs, OutDir, SeedArg};
use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io;
use std::path::{Path, PathBuf};
use uswim::config::HwConfig;
use uswim::error::InputError;
use uswim::map::{LayerWeights, Mapped};
use uswim::nn::{self, Network};
use uswim::sensitivity;
use uswim::sim::{self, Mask, ProgramOptions, ProgramResult, WvClass};
use uswim::trace::{
    self, ArrayStats, EventsCsv, PhaseEvent, PulseEvent, RunInfo, Summary, Timeline, TraceFilter, TraceLevel,
    TraceSink,
};

/// Simulate programming a network's weights into crossbars, pulse by pulse and cycle by cycle, with
/// write-verify for the weights a mask selects. Writes events.csv (unless --trace-level off), arrays.csv,
/// layers.csv and summary.json into --out; each appears only once complete.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
uswim program --shape resnet18 --mask random:0.1 --trace-level off\n  \
uswim program --model models/lenet_mnist.safetensors --hw rram_1t1r_256 --mask all --out out/lenet\n  \
uswim program --model models/lenet_mnist.safetensors --mask out/analyze/mask.safetensors")]
pub struct ProgramArgs {
    /// The hardware.
    #[command(flatten)]
    hw: HwArgs,
    /// Trained model: safetensors (PyTorch names and layouts) or ONNX; without --arch, a file that does
    /// not load as a network is timed from its weight tensors (>= 2-d).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "shape",
        required_unless_present = "shape"
    )]
    model: Option<PathBuf>,
    /// Architecture of --model (default: the one recorded in the file).
    #[arg(long, value_name = "NAME", requires = "model")]
    arch: Option<String>,
    /// A zoo architecture with random weights (PyTorch's default initialisation from --seed), for
    /// timing-only studies (mlp, lenet, convnet, resnet18, vgg16, resnet50), or a layer file
    /// (`--layers FILE`: TOML, CSV `name,kind,in,out,kernel,stride`, or NeuroSim's NetWork.csv).
    #[arg(long, visible_alias = "layers", value_name = "NAME|FILE")]
    shape: Option<String>,
    /// Weights to write-verify: `all`, `none`, `random:F` (a fraction F of all weights, chosen from
    /// --seed), or a mask file from `uswim analyze` (safetensors, one u8 tensor per weight tensor: 0 no
    /// write-verify, 1 write-verify to program.tolerance, 2 to program.loose_tolerance).
    #[arg(long, value_name = "all|none|random:F|FILE", default_value = "all")]
    mask: String,
    /// Seed of every random draw (device variation, programming noise, random masks and weights).
    #[command(flatten)]
    seed: SeedArg,
    /// Output folder.
    #[command(flatten)]
    out: OutDir,
    /// Event trace: one row per row phase, also one row per device pulse and read, or none.
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = TraceLevelArg::Phase)]
    trace_level: TraceLevelArg,
    /// Trace only a random fraction F of the crossbar rows (whole rows are kept or dropped), in (0, 1].
    #[arg(long, value_name = "F")]
    trace_sample: Option<f64>,
    /// Trace only these arrays, e.g. `0-3,10`.
    #[arg(long, value_name = "LIST")]
    trace_arrays: Option<String>,
    /// Also write the schedule as a Chrome trace-event timeline (open it in ui.perfetto.dev or
    /// chrome://tracing): a track per programming channel with arrays, rows and phases as nested slices
    /// and a pending-devices counter. Phases are traced for it even with --trace-level off (then
    /// without events.csv); --trace-arrays and --trace-sample apply.
    #[arg(long, value_name = "FILE.json")]
    timeline: Option<PathBuf>,
    /// Also measure the test accuracy of the programmed chip(s) on this dataset (name or IDX folder):
    /// the traced chip's read-back weights, and with --mc-runs the Monte-Carlo chips'.
    #[arg(long, value_name = "NAME|DIR", alias = "dataset")]
    data: Option<String>,
    /// With --data: normalise its images per channel after scaling bytes to [0, 1], (x - mean) / std:
    /// the C means then the C stds (two numbers apply to every channel), e.g. 0.1307,0.3081.
    #[arg(long, value_name = "MEANS,STDS", requires = "data", value_parser = super::args::parse_normalization)]
    normalize: Option<uswim::nn::normalize::Normalization>,
    /// With --data: Monte-Carlo chips programmed with the same mask (chip r from (--seed, r)), each
    /// one's accuracy, time and energy from its one programming, into accuracy.csv.
    #[arg(long, value_name = "N", requires = "data")]
    mc_runs: Option<u32>,
    /// With --data: classify the first N test images (default: all).
    #[arg(long, value_name = "N", requires = "data")]
    test_images: Option<usize>,
}

/// `--trace-level` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TraceLevelArg {
    /// One row per phase of each crossbar row.
    Phase,
    /// Phases, plus one row per device pulse and verify read.
    Device,
    /// No events.csv (arrays.csv, layers.csv and summary.json are still written).
    Off,
}

impl TraceLevelArg {
    /// The library's level.
    fn level(self) -> TraceLevel {
        match self {
            Self::Phase => TraceLevel::Phase,
            Self::Device => TraceLevel::Device,
            Self::Off => TraceLevel::Off,
        }
    }

    /// The name on the command line (recorded in summary.json).
    fn name(self) -> &'static str {
        match self {
            Self::Phase => "phase",
            Self::Device => "device",
            Self::Off => "off",
        }
    }
}

/// Runs `uswim program`.
pub fn run(args: ProgramArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let hw = args.hw.load()?;
    let filter = trace_filter(&args)?;
    let (network, net) = load_network(&args)?;
    let mapped =
        Mapped::new(&LayerWeights::of_network(&net), &hw).map_err(|e| BadInput(format!("{network}: {e}")))?;
    let seed = args.seed.seed;
    let out = args.out.resolve("program");
    let mask = load_mask(&args.mask, &net, &mapped, seed)?;
    mask.check(&mapped).map_err(|e| BadInput(e.to_string()))?;

    let staged = super::process::begin_out(&out, "program")?;
    if filter.level == TraceLevel::Device {
        let share = filter.sample.unwrap_or(1.0);
        super::process::check_trace_room(mapped.num_devices() as f64 * share, &staged)?;
    }
    let layer_names: Vec<String> = mapped
        .layers()
        .iter()
        .map(|l| trace::layer_label(&l.name).to_string())
        .collect();
    let events = match args.trace_level.level() {
        TraceLevel::Off => None,
        level => Some(
            EventsCsv::create(staged.path().join("events.csv"), level, &layer_names).context("events.csv")?,
        ),
    };
    let timeline = match &args.timeline {
        None => None,
        Some(path) => {
            let t = Timeline::create(path, hw.controller.clock_mhz, layer_names.clone(), &hw.name)
                .with_context(|| format!("cannot create {}", path.display()))?;
            Some(t)
        }
    };
    let bar = if global.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(u64::from(mapped.num_arrays()))
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} arrays, {elapsed} elapsed, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix("programming");
    let mut sink = CliSink {
        events,
        timeline,
        bar,
    };
    let options = ProgramOptions {
        seed,
        trace: filter,
        keep_conductances: args.data.is_some(),
    };
    let result = sim::program(&mapped, &hw, &mask, &options, &mut sink).map_err(|e| match e {
        sim::SimError::Trace(io) => anyhow::Error::new(io).context("writing the event trace"),
        other => BadInput(other.to_string()).into(),
    })?;
    sink.bar.finish_and_clear();
    if let Some(events) = sink.events {
        events.finish().context("events.csv")?;
    }
    if let Some(timeline) = sink.timeline {
        timeline.finish().context("timeline")?;
    }
    let run = RunInfo {
        network: network.clone(),
        hw_source: args.hw.hw.clone(),
        seed,
        mask: args.mask.clone(),
        trace_level: args.trace_level.name().to_string(),
    };
    write_reports(staged.path(), &result, &hw, &run)?;
    let accuracy = match &args.data {
        None => String::new(),
        Some(data) => super::program_accuracy::report(&super::program_accuracy::Request {
            net: &net,
            mapped: &mapped,
            hw: &hw,
            mask: &mask,
            seed,
            traced: &result,
            data,
            normalize: args.normalize.as_ref(),
            test_images: args.test_images,
            mc_runs: args.mc_runs,
            out: staged.path(),
        })?,
    };
    staged
        .commit()
        .with_context(|| format!("moving the outputs into {}", out.display()))?;
    out!("{}{accuracy}", summary_text(&result, &hw, &run, &out))?;
    Ok(())
}

/// The trace filter of the command line.
fn trace_filter(args: &ProgramArgs) -> anyhow::Result<TraceFilter> {
    let level = args.trace_level.level();
    let arrays = match &args.trace_arrays {
        None => None,
        Some(text) => Some(TraceFilter::parse_arrays(text).ok_or_else(|| {
            BadInput(format!(
                "--trace-arrays: `{text}` is not a list of arrays such as `0-3,10`"
            ))
        })?),
    };
    if let Some(f) = args.trace_sample
        && !(f > 0.0 && f <= 1.0)
    {
        return Err(BadInput(format!("--trace-sample: {f} is out of range; allowed: (0, 1]")).into());
    }
    // The timeline needs the phases even when events.csv is off.
    let level = if args.timeline.is_some() && level == TraceLevel::Off {
        TraceLevel::Phase
    } else {
        level
    };
    Ok(TraceFilter {
        level,
        arrays,
        sample: args.trace_sample,
    })
}

/// The network and a name for it.
fn load_network(args: &ProgramArgs) -> anyhow::Result<(String, Network)> {
    if let Some(path) = &args.model {
        let (net, note) = nn::timing::load_for_timing(path, args.arch.as_deref())?;
        if let Some(note) = note {
            tracing::warn!("{note}");
        }
        return Ok((format!("{} ({})", path.display(), net.arch()), net));
    }
    let shape = args.shape.as_deref().unwrap_or_default();
    let net = nn::timing::shape(shape, args.seed.seed)?;
    Ok((format!("{shape} (random weights, seed {})", args.seed.seed), net))
}

/// The mask of `spec`: `all`, `none`, `random:F` or a mask file.
fn load_mask(spec: &str, net: &Network, mapped: &Mapped, seed: u64) -> anyhow::Result<Mask> {
    match spec {
        "all" => return Ok(Mask::All),
        "none" => return Ok(Mask::None),
        _ => {}
    }
    if let Some(f) = spec.strip_prefix("random:") {
        let fraction: f64 = f
            .parse()
            .ok()
            .filter(|x: &f64| (0.0..=1.0).contains(x))
            .ok_or_else(|| BadInput(format!("--mask: `{f}` in `{spec}` is not a fraction in [0, 1]")))?;
        return Ok(Mask::random(mapped, fraction, seed));
    }
    Ok(read_mask_file(Path::new(spec), net, mapped)?)
}

/// A mask file from `uswim analyze`: one U8 tensor of mask codes (0 none, 1 tight, 2 loose) per
/// programmable weight tensor of `net`.
fn read_mask_file(path: &Path, net: &Network, mapped: &Mapped) -> Result<Mask, InputError> {
    if !path.exists() {
        return Err(InputError::new(
            "--mask",
            path.display().to_string(),
            "neither all, none, random:F nor an existing mask file",
        ));
    }
    let file = sensitivity::output::Mask::read(path)?;
    file.check(net, &path.display().to_string())?;
    // Codes 0 none, 1 tight, 2 loose (checked by the reader): a class mask when some weight is loose.
    let classes: Vec<Vec<WvClass>> = mapped
        .layers()
        .iter()
        .map(|l| {
            file.classes(&l.name)
                .expect("checked: the mask has every programmable tensor")
        })
        .collect();
    if classes.iter().flatten().any(|&c| c == WvClass::Loose) {
        return Ok(Mask::Classes(classes));
    }
    Ok(Mask::Weights(
        classes
            .into_iter()
            .map(|l| l.into_iter().map(WvClass::verified).collect())
            .collect(),
    ))
}

/// The sink of the command line: `events.csv` and the timeline (if asked for) and the progress bar.
struct CliSink {
    events: Option<EventsCsv>,
    timeline: Option<Timeline>,
    bar: ProgressBar,
}

impl TraceSink for CliSink {
    fn on_phase(&mut self, event: &PhaseEvent) -> io::Result<()> {
        if let Some(e) = &mut self.events {
            e.on_phase(event)?;
        }
        match &mut self.timeline {
            Some(t) => t.on_phase(event),
            None => Ok(()),
        }
    }

    fn on_pulse(&mut self, event: &PulseEvent) -> io::Result<()> {
        match &mut self.events {
            Some(e) => e.on_pulse(event),
            None => Ok(()),
        }
    }

    fn on_array_done(&mut self, stats: &ArrayStats) -> io::Result<()> {
        self.bar.inc(1);
        match &mut self.timeline {
            Some(t) => t.on_array_done(stats),
            None => Ok(()),
        }
    }
}

fn write_reports(out: &Path, result: &ProgramResult, hw: &HwConfig, run: &RunInfo) -> anyhow::Result<()> {
    trace::reports::write_arrays_csv(out.join("arrays.csv"), &result.arrays, &result.layers)
        .context("arrays.csv")?;
    trace::reports::write_layers_csv(out.join("layers.csv"), &result.layers).context("layers.csv")?;
    trace::reports::write_summary_json(out.join("summary.json"), &result.summary, hw, run)
        .context("summary.json")?;
    Ok(())
}

/// A value with an SI prefix: `12.3 ms`, `4.56 uJ`.
fn si(value: f64, unit: &str) -> String {
    const PREFIXES: [(f64, &str); 7] = [
        (1e9, "G"),
        (1e6, "M"),
        (1e3, "k"),
        (1.0, ""),
        (1e-3, "m"),
        (1e-6, "u"),
        (1e-9, "n"),
    ];
    let (scale, prefix) = PREFIXES
        .iter()
        .find(|(s, _)| value.abs() >= *s)
        .copied()
        .unwrap_or((1e-12, "p"));
    format!("{:.4} {prefix}{unit}", value / scale)
}

/// The one-screen summary printed at the end.
fn summary_text(result: &ProgramResult, hw: &HwConfig, run: &RunInfo, out: &Path) -> String {
    let s: &Summary = &result.summary;
    let c = &s.counts;
    let pct = |part: f64, whole: f64| if whole > 0.0 { 100.0 * part / whole } else { 0.0 };
    let mut text = String::new();
    let mut line = |l: String| {
        text.push_str(&l);
        text.push('\n');
    };
    line(format!("uswim program: {}", run.network));
    line(format!("  hardware   {} ({})", hw.name, run.hw_source));
    line(format!("  mask       {} (seed {})", run.mask, run.seed));
    line(format!(
        "  network    {} layers, {} weights ({} selected, {:.2}%), {} arrays of {}x{}",
        s.layers,
        s.weights,
        s.selected_weights,
        pct(s.selected_weights as f64, s.weights as f64),
        s.arrays,
        hw.array.rows,
        hw.array.cols
    ));
    line(format!(
        "  devices    {} ({} verified, {:.2}%)",
        c.devices,
        c.selected_devices,
        pct(c.selected_devices as f64, c.devices as f64)
    ));
    line(format!(
        "  time       {} ({} cycles at {} MHz, {} arrays in parallel)",
        si(s.total_time_ns * 1e-9, "s"),
        s.total_cycles,
        hw.controller.clock_mhz,
        hw.controller.parallel_arrays
    ));
    let total = s.total_energy_pj();
    line(format!("  energy     {}", si(total * 1e-12, "J")));
    for (name, v) in s.energy.components() {
        line(format!(
            "    {name:13} {:>14} {:6.2}%",
            si(v * 1e-12, "J"),
            pct(v, total)
        ));
    }
    line(format!(
        "  area       {:.4} mm^2 of peripherals: {} arrays x {:.0} um^2 (ADCs {:.0}, DACs {:.0}, drivers {:.0}); leakage {:.1} uW per busy array",
        s.periph_area_um2() * 1e-6,
        s.arrays,
        s.periph.area_um2(),
        s.periph.adc_area_um2,
        s.periph.dac_area_um2,
        s.periph.driver_area_um2,
        s.periph.leakage_uw
    ));
    let per_device = |x: u64| x as f64 / c.devices.max(1) as f64;
    line(format!(
        "  pulses     {} ({:.3} per device: {:.3} open-loop, {:.3} verify)",
        c.pulses,
        per_device(c.pulses),
        per_device(c.open_loop_pulses),
        per_device(c.verify_pulses)
    ));
    line(format!(
        "  verify     {} reads, {} ADC conversions, iterations per verified device mean {:.3} max {}; {} of {} rows verified",
        c.verify_reads,
        c.adc_conversions,
        c.iterations_mean(),
        c.iterations_max,
        c.verified_rows,
        c.rows
    ));
    line(format!(
        "  failures   {} devices did not converge in {} iterations ({:.4}% of verified)",
        c.failed_devices,
        hw.program.max_iterations,
        pct(c.failed_devices as f64, c.selected_devices as f64)
    ));
    line(format!(
        "  layers     {:16} {:>6} {:>9} {:>9} {:>12} {:>10} {:>12}",
        "name", "arrays", "weights", "verified", "busy", "pulses", "energy"
    ));
    for l in &result.layers {
        line(format!(
            "             {:16} {:>6} {:>9} {:>9} {:>12} {:>10} {:>12}",
            l.name,
            l.arrays,
            l.weights,
            l.selected_weights,
            si(l.array_time_ns * 1e-9, "s"),
            l.counts.pulses,
            si(l.energy.total_pj() * 1e-12, "J")
        ));
    }
    line(format!("  outputs    {}", out.display()));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_prefixes_pick_the_largest_that_fits() {
        assert_eq!(si(0.0123, "s"), "12.3000 ms");
        assert_eq!(si(4.5e-6, "J"), "4.5000 uJ");
        assert_eq!(si(2.0e3, "s"), "2.0000 ks");
        assert_eq!(si(3e-13, "J"), "0.3000 pJ");
    }
}
