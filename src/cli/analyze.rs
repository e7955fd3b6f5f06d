//! `uswim analyze`: the sensitivity analyzer on the command line: scores every programmable weight and
//! writes `sensitivity.csv` and the write-verify mask `mask.safetensors` that `uswim program --mask` reads.

use super::BadInput;
use super::args::{HwArgs, KnowledgeArg, NormalizeArg, OutDir, SeedArg, method_parser};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;
use uswim::experiment::class_select::{self, ClassPlan};
use uswim::experiment::engine::{Engine, Selector};
use uswim::experiment::selection::{self, KnownChip};
use uswim::experiment::target;
use uswim::experiment::time_select::TimeOrder;
use uswim::map::{LayerWeights, Mapped};
use uswim::nn::{Split, model_file};
use uswim::sensitivity::{self, Budget, Method, ScoreOptions, Scores, Selection, WeightDeviceInfo};
use uswim::sim::predict::{GroupModel, STATED_ERROR, TimeModel};
use uswim::sim::{Mask, WvClass};

/// Analyze a trained network's sensitivity to device variation and choose the weights to write-verify.
///
/// One forward and second-order backward pass over the first --calib-samples training images gives every
/// programmable weight its gradient and diagonal second derivative; the --method score ranks the weights
/// globally and the budget (--fraction of the weights, or --time-budget-ns of total programming time as the
/// predicted-time model gives it) selects the top; `uswim-time` ranks by expected loss reduction per
/// predicted ns, rows sharing their verify loops; `uswim-classes` assigns each weight a tolerance class
/// (none, loose, tight) by the same rule, at the predicted total time of `uswim-time` at --fraction (or
/// within --time-budget-ns). The device-aware scores (uswim, uswim-paper, uswim-cost) and the time budget see each
/// weight's devices as the --hw mapping places them, with the sigmas --knowledge gives them: the variation
/// map's expectation (prior, the default), an estimate from characterisation cycles of the chip of --seed,
/// or that chip's true sigmas (oracle, an upper bound: program with the same --hw and --seed and the
/// analyzer has seen exactly the sigmas programmed).
///
/// Writes into --out: sensitivity.csv (layer, index, weight, grad, hess, score, selected; index is the
/// flat row-major index in the PyTorch layout, grad the mean dL/dw and hess the mean d2L/dw2 over the
/// calibration images, both in raw weight units; selected the mask code) and mask.safetensors (one u8
/// tensor per weight tensor, same names and shapes: 0 no write-verify, 1 write-verify to
/// program.tolerance, 2 to program.loose_tolerance).
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("budget").required(true).args(["fraction", "time_budget_ns", "max_drop"])))]
#[command(after_help = "Examples:\n  \
uswim analyze --model models/lenet_mnist.safetensors --hw paper_statistical --fraction 0.05\n  \
uswim analyze --model models/lenet_mnist.safetensors --method swim --time-budget-ns 2e6 --out out/swim\n  \
uswim analyze --model models/lenet_mnist.safetensors --hw paper_statistical --max-drop 0.5 --mc-runs 5\n  \
uswim program --model models/lenet_mnist.safetensors --hw paper_statistical --mask out/analyze/mask.safetensors")]
pub struct AnalyzeArgs {
    /// Trained model weights (safetensors, PyTorch names and layouts).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Architecture (mlp, lenet, convnet, resnet18); defaults to the one recorded in the file.
    #[arg(long, value_name = "NAME")]
    arch: Option<String>,
    /// Dataset name (mnist, fashion-mnist) or folder of IDX files; calibration uses its training split.
    #[arg(long, value_name = "NAME|DIR", alias = "dataset", default_value = "mnist")]
    data: String,
    #[command(flatten)]
    normalize: NormalizeArg,
    /// The hardware (its mapping and variation map give the device-aware scores their sigmas).
    #[command(flatten)]
    hw: HwArgs,
    /// Calibration images: the first N of the training split.
    #[arg(long, value_name = "N", alias = "calib", default_value_t = 4096)]
    calib_samples: usize,
    /// Score of each weight.
    #[arg(long, value_name = "METHOD", value_parser = method_parser(), default_value = "uswim")]
    method: Method,
    /// Budget: an accuracy target: the cheapest selection (smallest fraction, so least simulated time) whose
    /// paired Monte-Carlo drop from full write-verify is within P points with 95% confidence, by
    /// bisection over the fraction (--mc-runs chips per probe on --test-images images).
    #[arg(long, value_name = "P")]
    max_drop: Option<f64>,
    /// Monte-Carlo chips per probe of --max-drop.
    #[arg(long, value_name = "N", default_value_t = 5)]
    mc_runs: u32,
    /// Test images per chip of --max-drop: the first N of the test split.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    test_images: usize,
    /// Bisection steps of --max-drop.
    #[arg(long, value_name = "N", default_value_t = 7)]
    search_steps: u32,
    /// Budget: the fraction of all programmable weights to verify, in [0, 1].
    #[arg(long, value_name = "F")]
    fraction: Option<f64>,
    /// Budget: the total programming time, in ns, open-loop write included: the most top-ranked weights
    /// whose predicted total programming time on the chip of --seed (`sim::predict::TimeModel`: simulated
    /// open-loop write, expected verify loops per row, arrays scheduled on the chip's channels) fits.
    #[arg(long, value_name = "T")]
    time_budget_ns: Option<f64>,
    /// Leave out the first-order term 2g of the `swim` and `uswim-paper` scores (the authors keep it).
    #[arg(long)]
    no_first_order: bool,
    /// What the device-aware scores know of the devices (characterised and oracle: the chip of --seed).
    #[arg(long, value_enum, default_value_t = KnowledgeArg::Prior)]
    knowledge: KnowledgeArg,
    /// Programming cycles per device of `--knowledge characterised`.
    #[arg(long, value_name = "N", default_value_t = selection::DEFAULT_CHARACTERISE_CYCLES)]
    characterise_cycles: u32,
    /// Seed of the chip (the programmer's --seed) and of the `random` score.
    #[command(flatten)]
    seed: SeedArg,
    /// Output folder.
    #[command(flatten)]
    out: OutDir,
}

/// Runs `uswim analyze`.
pub fn run(args: AnalyzeArgs) -> anyhow::Result<()> {
    let method = args.method;
    let seed = args.seed.seed;
    let out = args.out.resolve("analyze");
    let budget = match (args.fraction, args.time_budget_ns, args.max_drop) {
        (Some(f), None, None) => Budget::Fraction(f),
        (None, Some(t), None) => Budget::TimeNs(t),
        // Replaced by the search's fraction once the sensitivity pass is done.
        (None, None, Some(p)) if p.is_finite() && p >= 0.0 => Budget::Fraction(1.0),
        (None, None, Some(p)) => {
            return Err(BadInput(format!("--max-drop: {p}; allowed: >= 0 points")).into());
        }
        _ => {
            return Err(
                BadInput("give exactly one of --fraction, --time-budget-ns and --max-drop".into()).into(),
            );
        }
    };
    budget.validate()?;
    if args.calib_samples == 0 {
        return Err(BadInput("--calib-samples: 0 images; allowed: at least 1".into()).into());
    }
    let hw = args.hw.load()?;
    let (net, _) = model_file::load(args.arch.as_deref(), &args.model)?;
    let mut calib = args.normalize.load(&args.data, Split::Train)?;
    calib.truncate(args.calib_samples);
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw)
        .map_err(|e| BadInput(format!("{} on {}: {e}", args.model.display(), args.hw.hw)))?;
    let staged = super::process::begin_out(&out, "analyze")?;

    let start = Instant::now();
    let curvature = sensitivity::analyze(&net, &calib, |_, _| {})?;
    let analyzed_s = start.elapsed().as_secs_f64();
    let knowledge = args.knowledge.knowledge(args.characterise_cycles)?;
    let devices = selection::device_info(&mapped, &hw, seed, knowledge);
    let options = ScoreOptions {
        method,
        seed,
        first_order: !args.no_first_order,
    };
    let mut scores = sensitivity::score(&curvature, Some(&devices), &options)?;
    if method.times_rows() {
        let chip = KnownChip::new(&hw, seed, knowledge);
        let model = GroupModel::new(&hw, chip.seed());
        scores = TimeOrder::new(&mapped, &chip, &scores, &model).scores(&mapped);
    }
    let budget = match args.max_drop {
        Some(p) => Budget::Fraction(accuracy_target(
            &args, &net, &mapped, &hw, &curvature, knowledge, p,
        )?),
        None => budget,
    };
    let (chosen, classes, predicted) = if method.assigns_classes() {
        let (classes, predicted_ns, model) = class_selection(&mapped, &hw, &scores, seed, knowledge, budget)?;
        let layers: Vec<Vec<bool>> = classes
            .iter()
            .map(|l| l.iter().map(|c| c.verified()).collect())
            .collect();
        let selected = layers.iter().flatten().filter(|&&v| v).count();
        let chosen = Selection {
            layers,
            selected,
            total: mapped.num_weights() as usize,
            verify_ns: None,
        };
        (chosen, Some(classes), Some((predicted_ns, model)))
    } else {
        let (chosen, predicted) = match budget {
            Budget::TimeNs(t) => {
                let model = TimeModel::new(&mapped, &hw, seed)?;
                let (chosen, predicted_ns) = within_time(&scores, &devices, &mapped, &model, seed, t)
                    .ok_or_else(|| below_open_loop(t, &model, &mapped, &hw.name))?;
                (chosen, Some((predicted_ns, model)))
            }
            Budget::Fraction(_) => (sensitivity::select(&scores, budget, Some(&devices))?, None),
        };
        (chosen, None, predicted)
    };

    let csv = staged.path().join("sensitivity.csv");
    let mask_path = staged.path().join("mask.safetensors");
    let mask = match &classes {
        Some(c) => {
            sensitivity::write_class_csv(&csv, &curvature, &scores, c)
                .with_context(|| format!("writing {}", csv.display()))?;
            sensitivity::Mask::from_classes(&curvature, c)
        }
        None => {
            sensitivity::write_csv(&csv, &curvature, &scores, &chosen)
                .with_context(|| format!("writing {}", csv.display()))?;
            sensitivity::Mask::from_selection(&curvature, &chosen)
        }
    };
    mask.write(&mask_path)
        .with_context(|| format!("writing {}", mask_path.display()))?;
    staged
        .commit()
        .with_context(|| format!("moving the outputs into {}", out.display()))?;
    let (csv, mask_path) = (out.join("sensitivity.csv"), out.join("mask.safetensors"));

    let total_ns: f64 = devices
        .iter()
        .flat_map(|d| d.expected_verify_ns.iter())
        .map(|&t| f64::from(t))
        .sum();
    outln!(
        "uswim analyze: {} ({}) on {} ({}), {} calibration images in {analyzed_s:.2} s",
        args.model.display(),
        net.arch(),
        hw.name,
        args.hw.hw,
        curvature.samples
    )?;
    if method.needs_devices() {
        outln!("  device knowledge: {knowledge}")?;
        if let selection::Knowledge::Characterised { cycles } = knowledge {
            let model = TimeModel::new(&mapped, &hw, seed)?;
            let open = model.total_ns(&vec![0.0; mapped.num_arrays() as usize]);
            let read = uswim::sim::predict::read_all(&mapped, &hw).time_ns;
            outln!(
                "  characterisation before programming: {:.4e} ns ({cycles} open-loop writes of {open:.4e} ns and \
                 reads of {read:.4e} ns of every device; not included in the programming time)",
                f64::from(cycles) * (open + read)
            )?;
        }
    }
    outln!(
        "  method {method}, budget {budget}: {} of {} weights selected ({:.3}%)",
        chosen.selected,
        chosen.total,
        100.0 * chosen.fraction()
    )?;
    if let Some(c) = &classes {
        let [none, loose, tight] = class_select::class_counts(&Mask::Classes(c.clone()), &mapped);
        outln!(
            "  tolerance classes: {tight} tight (program.tolerance {}), {loose} loose (program.loose_tolerance \
             {}), {none} not verified; budget: the predicted total time of uswim-time at the fraction, or \
             --time-budget-ns",
            hw.program.tolerance,
            hw.program.loose_tolerance(&hw.device)
        )?;
    }
    if let Some(ns) = chosen.verify_ns {
        outln!(
            "  expected write-verify time of the selection {:.4e} ns ({:.2}% of all weights' {:.4e} ns; \
             shares of converters and drivers, before row overheads and parallel arrays)",
            ns,
            if total_ns > 0.0 {
                100.0 * ns / total_ns
            } else {
                0.0
            },
            total_ns
        )?;
    }
    if let Some((total, model)) = &predicted {
        let open = model.total_ns(&vec![0.0; mapped.num_arrays() as usize]);
        outln!(
            "  predicted total programming time {total:.4e} ns (open-loop write {open:.4e} ns included; chip of \
             seed {seed}; predicted-time model, stated error {:.0}%)",
            100.0 * STATED_ERROR
        )?;
    }
    outln!("  wrote {} and {}", csv.display(), mask_path.display())?;
    Ok(())
}

/// Runs the `--max-drop` search and prints its probes and result; returns the fraction found.
fn accuracy_target(
    args: &AnalyzeArgs,
    net: &uswim::nn::Network,
    mapped: &Mapped,
    hw: &uswim::config::HwConfig,
    curvature: &sensitivity::Curvature,
    knowledge: selection::Knowledge,
    max_drop_pct: f64,
) -> anyhow::Result<f64> {
    if args.mc_runs < 2 || args.test_images == 0 {
        return Err(
            BadInput("--max-drop needs --mc-runs >= 2 (an interval) and --test-images >= 1".into()).into(),
        );
    }
    let mut test = args.normalize.load(&args.data, Split::Test)?;
    test.truncate(args.test_images);
    let engine =
        Engine::new(net, mapped, hw, Some(curvature), Some(&test)).map_err(|f| anyhow::anyhow!(f.message))?;
    let selector = Selector {
        method: args.method,
        fraction: 1.0,
        knowledge,
    };
    let search = target::cheapest_within(
        &engine,
        &selector,
        args.seed.seed,
        args.mc_runs,
        max_drop_pct,
        args.search_steps,
    )
    .map_err(|f| anyhow::anyhow!(f.message))?;
    outln!(
        "  accuracy target: drop from full write-verify <= {max_drop_pct} points with 95% confidence, {} chips \
         per probe on {} test images",
        args.mc_runs,
        test.len()
    )?;
    let show = |p: &target::Probe| {
        format!(
            "fraction {:.4}%: accuracy {:.2}% (95% CI {:.2} to {:.2}), paired drop {:.2} [{:.2}, {:.2}], time {:.4e} ns",
            100.0 * p.fraction,
            p.accuracy_pct.mean,
            p.accuracy_pct.ci95_low,
            p.accuracy_pct.ci95_high,
            p.drop_pct.mean,
            p.drop_pct.ci95_low,
            p.drop_pct.ci95_high,
            p.time_ns
        )
    };
    outln!("    full write-verify: {}", show(&search.full))?;
    for p in &search.probes {
        outln!(
            "    probe {}{}",
            show(p),
            if p.meets(max_drop_pct) { "  (meets)" } else { "" }
        )?;
    }
    outln!(
        "  cheapest within the target: {} (budget {:.4}% of the weights, {:.2}x faster than full write-verify)",
        show(&search.best),
        100.0 * search.best.fraction,
        search.full.time_ns / search.best.time_ns
    )?;
    Ok(search.best.fraction)
}

/// The largest top-ranked selection of `scores` whose predicted total programming time on the chip of
/// `seed` is within `budget_ns` (bisection over the number of weights), with that time; `None` when even
/// the open-loop write is not.
fn within_time(
    scores: &Scores,
    devices: &[WeightDeviceInfo],
    mapped: &Mapped,
    model: &TimeModel,
    seed: u64,
    budget_ns: f64,
) -> Option<(Selection, f64)> {
    let total = mapped.num_weights() as usize;
    let top = |k: usize| {
        let fraction = k as f64 / total.max(1) as f64;
        let chosen = sensitivity::select(scores, Budget::Fraction(fraction), Some(devices))
            .expect("a fraction in [0, 1] and device information of the scores' layout");
        let ns = model.predict_ns(mapped, &Mask::Weights(chosen.layers.clone()), seed);
        (chosen, ns)
    };
    let none = top(0);
    if none.1 > budget_ns {
        return None;
    }
    let all = top(total);
    if all.1 <= budget_ns {
        return Some(all);
    }
    let (mut lo, mut hi) = ((0, none), total);
    while hi - lo.0 > 1 {
        let mid = lo.0 + (hi - lo.0) / 2;
        let probe = top(mid);
        if probe.1 <= budget_ns {
            lo = (mid, probe);
        } else {
            hi = mid;
        }
    }
    Some(lo.1)
}

/// The error of a time budget below the predicted open-loop write of every device.
fn below_open_loop(budget_ns: f64, model: &TimeModel, mapped: &Mapped, hw_name: &str) -> BadInput {
    BadInput(format!(
        "--time-budget-ns: {budget_ns} ns is below the open-loop write of every device ({:.4e} ns predicted on \
         {hw_name}); allowed: at least that",
        model.total_ns(&vec![0.0; mapped.num_arrays() as usize]),
    ))
}

/// The `uswim-classes` selection on the chip of `seed` under `budget` (a fraction: the predicted total
/// time of `uswim-time` at that fraction; a time: the longest prefix of the class order that fits),
/// with its predicted total time and the model.
fn class_selection(
    mapped: &Mapped,
    hw: &uswim::config::HwConfig,
    gains: &Scores,
    seed: u64,
    knowledge: selection::Knowledge,
    budget: Budget,
) -> anyhow::Result<(Vec<Vec<WvClass>>, f64, TimeModel)> {
    let chip = KnownChip::new(hw, seed, knowledge);
    let plan = ClassPlan::new(mapped, hw, &chip, gains);
    let model = TimeModel::new(mapped, hw, seed)?;
    let moves = match budget {
        Budget::Fraction(f) => plan.moves_at(mapped, &model, f),
        Budget::TimeNs(t) => plan
            .classes
            .within_ns(&model, t)
            .ok_or_else(|| below_open_loop(t, &model, mapped, &hw.name))?,
    };
    let classes = plan.classes.classes(mapped, moves);
    let predicted_ns = model.predict_ns(mapped, &Mask::Classes(classes.clone()), seed);
    Ok((classes, predicted_ns, model))
}
