//! End to end: the U-SWIM experiment on a small slice (`uswim reproduce`'s library), and `uswim analyze`
//! writing a mask that `uswim program` reads.

use std::path::{Path, PathBuf};
use std::process::Command;
use uswim::experiment::engine::{Engine, PointOutcome, Selector};
use uswim::experiment::reproduce::{
    self, Benchmark, FULL_VERIFY, NO_VERIFY, Results, Row, Spec, VariationSetting, reference, series,
};
use uswim::experiment::reproduce_report::{self, Context, headlines};
use uswim::experiment::selection::Knowledge;
use uswim::experiment::shard::Shard;
use uswim::experiment::sweep::{self, SweepOptions};
use uswim::experiment::sweep_spec::SweepSpec;
use uswim::map::{LayerWeights, Mapped};
use uswim::nn::{Dataset, Split, model_file};
use uswim::sensitivity::{self, Method};

fn model_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lenet_mnist.safetensors")
}

/// LeNet as the experiment's first benchmark.
fn lenet<'a>(net: &'a uswim::nn::Network, calib: &'a Dataset, test: &'a Dataset) -> Benchmark<'a> {
    Benchmark {
        name: "lenet_mnist",
        label: "lenet on mnist",
        source: "test",
        network: net,
        calib,
        test,
    }
}

fn small_run() -> Results {
    let (net, _) = model_file::load(Some("lenet"), &model_path()).unwrap();
    let mut calib = Dataset::load("mnist", Split::Train).unwrap();
    calib.truncate(512);
    let mut test = Dataset::load("mnist", Split::Test).unwrap();
    test.truncate(1000);
    let spec = Spec {
        hw: "paper_statistical".into(),
        overrides: vec![],
        physical: None,
        variations: vec![VariationSetting::new(
            "uniform",
            &["device.variation.maps=[{kind=\"uniform\"}]"],
        )],
        methods: vec![Method::Uswim, Method::Random],
        fractions: vec![0.01, 0.1, 0.3, 1.0],
        runs: 3,
        max_runs: 3,
        seed: 4,
        knowledge: Knowledge::Prior,
        max_drop_pct: 0.5,
        second: None,
    };
    let done = std::sync::atomic::AtomicU64::new(0);
    let results = reproduce::run(&spec, &[lenet(&net, &calib, &test)], &|n| {
        done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(done.into_inner(), spec.work_units(Shard::WHOLE));
    results
}

fn ci(r: &Row) -> f64 {
    0.5 * (r.accuracy_ci95_high_pct - r.accuracy_ci95_low_pct)
}

#[test]
fn a_small_reproduction_behaves_as_selective_write_verify_should() {
    let results = small_run();
    // 2 references + 2 methods x 4 fractions.
    assert_eq!(results.rows.len(), 10);
    let none = reference(&results, "lenet_mnist", "uniform", NO_VERIFY).unwrap();
    let full = reference(&results, "lenet_mnist", "uniform", FULL_VERIFY).unwrap();
    // The no-verify reference's paired drop is against its own setting's full write-verify chips.
    assert!(
        (none.drop_mean_pct - (full.accuracy_mean_pct - none.accuracy_mean_pct)).abs() < 1e-9,
        "{none:?}"
    );
    assert_eq!(none.decision, "outside");
    assert!(
        full.accuracy_mean_pct >= none.accuracy_mean_pct,
        "full {} none {}",
        full.accuracy_mean_pct,
        none.accuracy_mean_pct
    );
    assert!(full.time_ns > none.time_ns);
    let methods = ["uswim", "random"];
    for m in methods {
        let s = series(&results, "lenet_mnist", "uniform", m);
        assert_eq!(
            s.iter().map(|r| r.fraction).collect::<Vec<_>>(),
            [0.01, 0.1, 0.3, 1.0]
        );
        // Simulated time grows with the fraction.
        for w in s.windows(2) {
            assert!(
                w[1].time_ns > w[0].time_ns,
                "{m}: {} -> {}",
                w[0].time_ns,
                w[1].time_ns
            );
            assert!(w[1].weights_verified > w[0].weights_verified);
        }
        assert_eq!(s[0].weights_verified, (0.01f64 * 105_918.0).round() as u64);
        assert_eq!(s[3].accuracy_mean_pct, full.accuracy_mean_pct);
    }
    // Accuracy rises with the fraction on average over methods (each step within Monte-Carlo error,
    // and clearly from the first to the last).
    let avg = |i: usize| {
        methods
            .iter()
            .map(|m| series(&results, "lenet_mnist", "uniform", m)[i].accuracy_mean_pct)
            .sum::<f64>()
            / methods.len() as f64
    };
    let err = |i: usize| {
        methods
            .iter()
            .map(|m| ci(series(&results, "lenet_mnist", "uniform", m)[i]))
            .fold(0.0, f64::max)
    };
    for i in 0..3 {
        assert!(
            avg(i + 1) >= avg(i) - err(i) - err(i + 1),
            "step {i}: {} -> {}",
            avg(i),
            avg(i + 1)
        );
    }
    assert!(avg(3) > avg(0) + 1.0, "{} -> {}", avg(0), avg(3));
    // uswim at 10% is not worse than random at 10% beyond Monte-Carlo error.
    let u = series(&results, "lenet_mnist", "uniform", "uswim")[1];
    let r = series(&results, "lenet_mnist", "uniform", "random")[1];
    assert!(
        u.accuracy_mean_pct >= r.accuracy_mean_pct - ci(u) - ci(r),
        "uswim {} ± {} random {} ± {}",
        u.accuracy_mean_pct,
        ci(u),
        r.accuracy_mean_pct,
        ci(r)
    );
    // The headline: a fraction per method, speedups consistent with it.
    let (heads, gains) = headlines(&results, 0.5);
    assert_eq!(heads.len(), 2);
    for h in &heads {
        assert!((h.weights_speedup * h.fraction - 1.0).abs() < 0.01, "{h:?}");
        assert!(h.time_speedup >= 1.0 - 1e-12);
    }
    assert!(gains.is_empty(), "no swim in this grid");
    let md = reproduce_report::headline_markdown(
        &results,
        &Context {
            command: "test".into(),
        },
    );
    assert!(md.contains("| lenet_mnist | uniform | uswim |"), "{md}");
}

#[test]
fn per_chip_selections_under_characterised_lognormal_variation_do_not_depend_on_the_thread_count() {
    let (net, _) = model_file::load(Some("lenet"), &model_path()).unwrap();
    let mut calib = Dataset::load("mnist", Split::Train).unwrap();
    calib.truncate(128);
    let mut test = Dataset::load("mnist", Split::Test).unwrap();
    test.truncate(200);
    let spec = Spec {
        hw: "paper_statistical".into(),
        overrides: vec![],
        physical: None,
        variations: vec![reproduce::default_variations().remove(2)],
        methods: vec![Method::Uswim, Method::Swim, Method::Random],
        fractions: vec![0.05, 1.0],
        runs: 2,
        max_runs: 4,
        seed: 9,
        knowledge: Knowledge::Characterised { cycles: 4 },
        max_drop_pct: 0.5,
        second: None,
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| reproduce::run(&spec, &[lenet(&net, &calib, &test)], &|_| {}).unwrap())
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert!(one.info.settings[0].nonuniform);
    // 2 references + 3 methods x 2 fractions, each with the exact weight count.
    assert_eq!(one.rows.len(), 8);
    for m in ["uswim", "swim", "random"] {
        let s = series(&one, "lenet_mnist", "lognormal", m);
        assert_eq!(s[0].weights_verified, (0.05f64 * 105_918.0).round() as u64);
        assert_eq!(s[0].devices_verified, 8 * s[0].weights_verified);
        assert!(s[0].time_ns < s[1].time_ns);
    }
}

#[test]
fn analyze_writes_a_csv_and_a_mask_that_program_reads() {
    let dir = std::env::temp_dir().join(format!("uswim-it-analyze-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_uswim"))
            .args(args)
            .output()
            .expect("runs the binary")
    };
    let model = model_path();
    let out = run(&[
        "analyze",
        "--model",
        model.to_str().unwrap(),
        "--hw",
        "paper_statistical",
        "--set",
        "device.variation.maps=[{kind=\"lognormal\",sigma_log=0.9}]",
        "--calib",
        "256",
        "--method",
        "uswim",
        "--fraction",
        "0.05",
        "--seed",
        "3",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = sensitivity::read_csv(&dir.join("sensitivity.csv")).unwrap();
    assert_eq!(rows.len(), 105_918);
    let selected = rows.iter().filter(|r| r.selected == 1).count();
    assert_eq!(selected, 5296);
    // Selected weights score at least as high as unselected ones (global top-k).
    let min_sel = rows
        .iter()
        .filter(|r| r.selected == 1)
        .map(|r| r.score)
        .fold(f64::INFINITY, f64::min);
    let max_uns = rows
        .iter()
        .filter(|r| r.selected == 0)
        .map(|r| r.score)
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(min_sel >= max_uns);
    assert_eq!(rows[0].layer, "conv1");
    assert_eq!((rows[1].index, rows.last().unwrap().layer.as_str()), (1, "fc3"));
    let mask = sensitivity::Mask::read(&dir.join("mask.safetensors")).unwrap();
    assert_eq!(mask.selected(), 5296);
    let prog = run(&[
        "program",
        "--model",
        model.to_str().unwrap(),
        "--hw",
        "paper_statistical",
        "--mask",
        dir.join("mask.safetensors").to_str().unwrap(),
        "--seed",
        "3",
        "--trace-level",
        "off",
        "--quiet",
        "--out",
        dir.join("program").to_str().unwrap(),
    ]);
    assert!(prog.status.success(), "{}", String::from_utf8_lossy(&prog.stderr));
    assert!(String::from_utf8_lossy(&prog.stdout).contains("5296 selected"));
    // Both budgets at once, or none, is bad input (exit code 2).
    let bad = run(&[
        "analyze",
        "--model",
        model.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reproduce_rejects_a_bad_grid_with_exit_code_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_uswim"))
        .args(["reproduce", "--fractions", "0,0.5", "--quiet", "--out"])
        .arg(std::env::temp_dir().join("uswim-it-reproduce-bad"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fractions"));
}

#[test]
fn reproduce_and_sweep_give_the_same_numbers_for_the_same_point_bit_for_bit() {
    let (net, _) = model_file::load(Some("lenet"), &model_path()).unwrap();
    let mut calib = Dataset::load("mnist", Split::Train).unwrap();
    calib.truncate(256);
    let mut test = Dataset::load("mnist", Split::Test).unwrap();
    test.truncate(300);
    let band = "device.variation.maps=[{kind=\"band\",multiplier=3.0}]";
    let spec = Spec {
        hw: "paper_statistical".into(),
        overrides: vec![],
        physical: None,
        variations: vec![VariationSetting::new("band", &[band])],
        methods: vec![Method::Uswim, Method::Random],
        fractions: vec![0.05, 1.0],
        runs: 2,
        max_runs: 2,
        seed: 7,
        knowledge: Knowledge::Prior,
        max_drop_pct: 0.5,
        second: None,
    };
    let results = reproduce::run(&spec, &[lenet(&net, &calib, &test)], &|_| {}).unwrap();
    let dir = std::env::temp_dir().join(format!("uswim-it-engine-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let toml = format!(
        "hw = \"paper_statistical\"\nset = [{band:?}]\nmodel = {:?}\ndata = \"mnist\"\ncalib_samples = 256\n\
         mc_runs = 2\ntest_images = 300\nseed = 7\n[[axis]]\nkey = \"method\"\nvalues = [\"uswim\", \"random\"]\n\
         [[axis]]\nkey = \"fraction\"\nvalues = [0.0, 0.05, 1.0]\n",
        model_path().display().to_string()
    );
    let sweep_spec = SweepSpec::parse(&toml, "engine.toml", &dir).unwrap();
    let report = sweep::run(&sweep_spec, &dir, &SweepOptions::default()).unwrap();
    let mut csv = csv::Reader::from_path(&report.csv).unwrap();
    let header = csv.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (acc, std, time, energy) = (
        col("accuracy_mean_pct"),
        col("accuracy_std_pct"),
        col("time_mean_ns"),
        col("energy_mean_pj"),
    );
    let mut compared = 0;
    for record in csv.records() {
        let record = record.unwrap();
        let method = &record[col("method")];
        let fraction: f64 = record[col("fraction")].parse().unwrap();
        let name = match fraction {
            0.0 => NO_VERIFY,
            _ => method,
        };
        let row = series(&results, "lenet_mnist", "band", name)
            .into_iter()
            .find(|r| r.fraction == fraction)
            .unwrap();
        let a: f64 = record[acc].parse().unwrap();
        assert_eq!(a, row.accuracy_mean_pct, "{method} at {fraction}");
        assert_eq!(
            record[std].parse::<f64>().unwrap(),
            row.accuracy_std_pct,
            "{method} at {fraction}"
        );
        assert_eq!(
            record[time].parse::<f64>().unwrap(),
            row.time_ns,
            "{method} at {fraction}"
        );
        assert_eq!(
            record[energy].parse::<f64>().unwrap(),
            row.energy_pj,
            "{method} at {fraction}"
        );
        compared += 1;
    }
    assert_eq!(compared, 6);
    // The references are the same chips for every method (common random numbers).
    let full = reference(&results, "lenet_mnist", "band", FULL_VERIFY).unwrap();
    assert_eq!(
        series(&results, "lenet_mnist", "band", "uswim")[1].accuracy_mean_pct,
        full.accuracy_mean_pct
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The paired difference `a - b` of two points' accuracies on the same chips, in points.
fn paired(a: &PointOutcome, b: &PointOutcome) -> uswim::eval::Stats {
    let d: Vec<f64> = a
        .accuracies()
        .iter()
        .zip(b.accuracies())
        .map(|(x, y)| 100.0 * (x - y))
        .collect();
    uswim::eval::Stats::of(&d).unwrap()
}

/// LeNet on `paper_statistical` under the authors' band variation, with its sensitivity pass.
fn band_setup() -> (
    uswim::nn::Network,
    uswim::config::HwConfig,
    Dataset,
    uswim::sensitivity::Curvature,
) {
    let (net, _) = model_file::load(Some("lenet"), &model_path()).unwrap();
    let mut calib = Dataset::load("mnist", Split::Train).unwrap();
    calib.truncate(512);
    let mut test = Dataset::load("mnist", Split::Test).unwrap();
    test.truncate(1000);
    let overrides =
        [uswim::config::parse_override("device.variation.maps=[{kind=\"band\",multiplier=3.0}]").unwrap()];
    let hw = uswim::config::load("paper_statistical", &overrides).unwrap();
    let curvature = sensitivity::analyze(&net, &calib, |_, _| {}).unwrap();
    (net, hw, test, curvature)
}

#[test]
fn under_band_uswim_beats_swim_and_swim_beats_random_at_1_percent_beyond_the_paired_interval() {
    let (net, hw, test, curvature) = band_setup();
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw).unwrap();
    let engine = Engine::new(&net, &mapped, &hw, Some(&curvature), Some(&test)).unwrap();
    let at = |method| {
        let selector = Selector {
            method,
            fraction: 0.01,
            knowledge: Knowledge::Prior,
        };
        engine.evaluate(&selector, 21, 24).unwrap()
    };
    let (uswim, swim, random) = (at(Method::Uswim), at(Method::Swim), at(Method::Random));
    let u_s = paired(&uswim, &swim);
    let s_r = paired(&swim, &random);
    assert!(u_s.ci95_low > 0.0, "uswim - swim: {u_s:?}");
    assert!(s_r.ci95_low > 0.0, "swim - random: {s_r:?}");
}

#[test]
fn measured_beats_random_at_a_larger_time_budget() {
    let (net, hw, test, curvature) = band_setup();
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw).unwrap();
    let engine = Engine::new(&net, &mapped, &hw, Some(&curvature), Some(&test)).unwrap();
    let at = |method, fraction| {
        let selector = Selector {
            method,
            fraction,
            knowledge: Knowledge::Prior,
        };
        engine.evaluate(&selector, 5, 12).unwrap()
    };
    // measured at 1% pays a read of every device on top of its verify; random gets 5% of the weights.
    let measured = at(Method::Measured, 0.01);
    let random = at(Method::Random, 0.05);
    let read = uswim::sim::predict::read_all(&mapped, &hw);
    let open_loop = at(Method::Random, 0.0);
    assert!(read.time_ns > 0.0);
    assert!(measured.time_ns() > open_loop.time_ns() + read.time_ns);
    assert!(
        measured.time_ns() <= random.time_ns(),
        "{} vs {}",
        measured.time_ns(),
        random.time_ns()
    );
    let d = paired(&measured, &random);
    assert!(d.ci95_low > 0.0, "measured - random: {d:?}");
}

#[test]
fn program_with_data_reports_the_accuracy_of_the_chips_it_programmed_beside_their_time() {
    let dir = std::env::temp_dir().join(format!("uswim-it-program-acc-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_uswim"))
        .args(["program", "--model"])
        .arg(model_path())
        .args([
            "--hw",
            "paper_statistical",
            "--mask",
            "all",
            "--trace-level",
            "off",
            "--data",
            "mnist",
            "--mc-runs",
            "2",
            "--test-images",
            "300",
            "-q",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 Monte-Carlo chips: accuracy"), "{text}");
    let mut csv = csv::Reader::from_path(dir.join("accuracy.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[0][0], "traced");
    for r in &rows {
        // Full write-verify keeps a trained LeNet's accuracy; every chip has its own time.
        assert!(r[2].parse::<f64>().unwrap() > 90.0, "{r:?}");
        assert!(r[3].parse::<f64>().unwrap() > 0.0);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_accuracy_target_search_returns_a_budget_whose_paired_interval_meets_the_target() {
    let (net, hw, test, curvature) = band_setup();
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw).unwrap();
    let engine = Engine::new(&net, &mapped, &hw, Some(&curvature), Some(&test)).unwrap();
    let selector = Selector {
        method: Method::Uswim,
        fraction: 1.0,
        knowledge: Knowledge::Prior,
    };
    let search = uswim::experiment::target::cheapest_within(&engine, &selector, 3, 3, 1.0, 4).unwrap();
    let best = &search.best;
    assert!(best.meets(1.0) && best.drop_pct.ci95_high <= 1.0, "{best:?}");
    assert!(
        best.fraction < 1.0,
        "the search found nothing below full write-verify: {search:?}"
    );
    assert!(best.time_ns < search.full.time_ns);
    // Bisection: every probe below the answer missed the target, and the smallest probe is far below.
    for p in search.probes.iter().filter(|p| p.fraction < best.fraction) {
        assert!(!p.meets(1.0), "{p:?} meets the target below {}", best.fraction);
    }
    assert_eq!(search.probes.len(), 5);
}

/// One chip, one configuration, one programming: every run of a point on the RRAM preset reports exactly
/// the summary (time, energy, counts) of programming its own chip (seed (point seed, run)) with its mask
/// on that configuration, and exactly the accuracy of that chip's read-back weights. Timing the mask on
/// another configuration, or classifying a second programming with other streams, would break one of the
/// equalities (a chip of the same seed on a tighter-tolerance configuration is checked to differ).
#[test]
fn a_points_accuracy_time_and_energy_come_from_one_programming_of_its_own_chip() {
    use uswim::eval::run_seed;
    use uswim::map::read_back;
    use uswim::sim::{self, ProgramOptions};
    use uswim::trace::{NullSink, TraceFilter, TraceLevel};
    let (net, _) = model_file::load(Some("lenet"), &model_path()).unwrap();
    let mut test = Dataset::load("mnist", Split::Test).unwrap();
    test.truncate(300);
    let hw = uswim::config::load("rram_1t1r_256", &[]).unwrap();
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw).unwrap();
    let engine = Engine::new(&net, &mapped, &hw, None, Some(&test)).unwrap();
    let selector = Selector {
        method: Method::Random,
        fraction: 0.1,
        knowledge: Knowledge::Prior,
    };
    let outcome = engine.evaluate(&selector, 3, 2).unwrap();
    assert_eq!(outcome.runs.len(), 2);
    let program = |hw: &uswim::config::HwConfig, mask: &uswim::sim::Mask, seed: u64| {
        let options = ProgramOptions {
            seed,
            trace: TraceFilter::level(TraceLevel::Off),
            keep_conductances: true,
        };
        sim::program(&mapped, hw, mask, &options, &mut NullSink).unwrap()
    };
    for (r, run) in outcome.runs.iter().enumerate() {
        assert_eq!(run.chip_seed, run_seed(3, r as u32));
        let mask = engine.mask(&selector, run.chip_seed).unwrap();
        let programmed = program(&hw, &mask, run.chip_seed);
        assert_eq!(
            run.summary, programmed.summary,
            "run {r}: time and energy of its own chip"
        );
        let weights = read_back(&mapped, programmed.conductances_us.as_deref().unwrap()).unwrap();
        let mut chip_net = net.clone();
        for (&param, values) in net.programmable().iter().zip(&weights) {
            chip_net.values_mut(param).copy_from_slice(values);
        }
        let accuracy = chip_net.accuracy(&test).unwrap().fraction();
        assert_eq!(run.accuracy, Some(accuracy), "run {r}: accuracy of the same chip");
        let mut tighter = hw.clone();
        tighter.program.tolerance = 0.02;
        assert_ne!(
            program(&tighter, &mask, run.chip_seed).summary,
            run.summary,
            "another configuration's chip must time differently"
        );
    }
}

/// The predicted-time model within its stated error of the simulated mean time, on a small grid of both
/// presets (LeNet; methods random, uswim, uswim-time at 1%, 20% and full write-verify on the statistical
/// preset; random and uswim-time at 1% and 20% on the slower pulse-level one).
#[test]
fn the_predicted_time_model_is_within_its_stated_error_of_the_simulator_on_a_small_grid() {
    let (net, _) = model_file::load(Some("lenet"), &model_path()).unwrap();
    let mut calib = Dataset::load("mnist", Split::Train).unwrap();
    calib.truncate(256);
    let mut test = Dataset::load("mnist", Split::Test).unwrap();
    test.truncate(50);
    let curvature = sensitivity::analyze(&net, &calib, |_, _| {}).unwrap();
    let mut worst: f64 = 0.0;
    let grids: [(&str, &[Method], &[f64]); 2] = [
        (
            "paper_statistical",
            &[Method::Random, Method::Uswim, Method::UswimTime],
            &[0.01, 0.2, 1.0],
        ),
        (
            "rram_1t1r_256",
            &[Method::Random, Method::UswimTime],
            &[0.01, 0.2],
        ),
    ];
    for (preset, methods, fractions) in grids {
        let hw = uswim::config::load(preset, &[]).unwrap();
        let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw).unwrap();
        let engine = Engine::new(&net, &mapped, &hw, Some(&curvature), Some(&test)).unwrap();
        for &method in methods {
            for &fraction in fractions {
                let selector = Selector {
                    method,
                    fraction,
                    knowledge: Knowledge::Prior,
                };
                let simulated = engine.evaluate(&selector, 7, 2).unwrap().time_ns();
                let predicted = engine
                    .predicted_time_ns(&selector, uswim::eval::run_seed(7, 0))
                    .unwrap();
                let error = (predicted - simulated).abs() / simulated;
                assert!(
                    error <= uswim::sim::predict::STATED_ERROR,
                    "{preset} {method} {fraction}: predicted {predicted} ns, simulated {simulated} ns"
                );
                worst = worst.max(error);
            }
        }
    }
    // A model that ignored the rows' shared loops (or the open-loop write) would be far off; this one is
    // much better than its stated bound.
    assert!(worst < 0.06, "worst error {worst}");
}

/// At the same fraction, the time-aware selection programs faster than uswim's (it fills the rows it
/// opens), and keeps accuracy close to it.
#[test]
fn uswim_time_programs_faster_than_uswim_at_the_same_fraction() {
    let (net, hw, test, curvature) = band_setup();
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw).unwrap();
    let engine = Engine::new(&net, &mapped, &hw, Some(&curvature), Some(&test)).unwrap();
    let at = |method| {
        let selector = Selector {
            method,
            fraction: 0.05,
            knowledge: Knowledge::Prior,
        };
        engine.evaluate(&selector, 11, 6).unwrap()
    };
    let (timed, plain, random) = (at(Method::UswimTime), at(Method::Uswim), at(Method::Random));
    assert!(
        timed.time_ns() < 0.95 * plain.time_ns(),
        "{} vs {}",
        timed.time_ns(),
        plain.time_ns()
    );
    let d = paired(&timed, &random);
    assert!(d.ci95_low > 0.0, "uswim-time - random: {d:?}");
}

/// `uswim reproduce` on a tiny grid of both networks (LeNet under one setting with the enough-runs rule
/// at work, the ConvNet's references), whole and as three shards joined by `uswim merge`: the same
/// results.csv, headline.md and plots, byte for byte. Bad shard specs and an incomplete merge are bad
/// input (exit code 2) with a message naming the problem.
#[test]
fn sharded_then_merged_reproduce_writes_the_same_bytes_as_the_whole_run() {
    let dir = std::env::temp_dir().join(format!("uswim-it-reproduce-shards-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let uswim = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_uswim"))
            .args(args)
            .output()
            .expect("runs the binary")
    };
    let grid = [
        "reproduce",
        "-q",
        "--physical",
        "none",
        "--variation",
        "band:device.variation.maps=[{kind=\"band\",multiplier=3.0}]",
        "--methods",
        "uswim,random",
        "--fractions",
        "0.02,0.2,1",
        "--mc-runs",
        "2",
        "--max-runs",
        "8",
        "--test-images",
        "300",
        "--calib-samples",
        "128",
        "--second-settings",
        "band",
        "--second-fractions",
        "1",
        "--second-runs",
        "2",
        "--second-max-runs",
        "2",
        "--second-test-images",
        "40",
        "--second-calib-samples",
        "16",
        "--seed",
        "3",
    ];
    let whole = dir.join("whole");
    let sharded = dir.join("sharded");
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = grid.to_vec();
        args.extend_from_slice(extra);
        uswim(&args)
    };
    let out = run(&["--out", whole.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for i in 0..3 {
        let shard = format!("{i}/3");
        let out = run(&["--shard", &shard, "--out", sharded.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        if i == 1 {
            // An incomplete set of shards does not merge.
            let merge = uswim(&["merge", sharded.to_str().unwrap()]);
            assert_eq!(merge.status.code(), Some(2));
            assert!(
                String::from_utf8_lossy(&merge.stderr).contains("1 of 3 shards missing: 2"),
                "{}",
                String::from_utf8_lossy(&merge.stderr)
            );
        }
    }
    let merge = uswim(&["merge", sharded.to_str().unwrap()]);
    assert!(
        merge.status.success(),
        "{}",
        String::from_utf8_lossy(&merge.stderr)
    );
    for file in [
        "results.csv",
        "headline.md",
        "accuracy_vs_fraction.png",
        "accuracy_vs_fraction.svg",
        "accuracy_vs_time.png",
        "accuracy_vs_time.svg",
    ] {
        let a = std::fs::read(whole.join(file)).unwrap();
        let b = std::fs::read(sharded.join(file)).unwrap();
        assert!(
            a == b,
            "{file} differs between the whole run and the merged shards"
        );
    }
    // Both networks have rows; the enough-runs rule gave every point 2, 4 or 8 runs, more than 2 only
    // while undecided, and full write-verify its most runs.
    let mut csv = csv::Reader::from_path(whole.join("results.csv")).unwrap();
    let header = csv.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    let models: std::collections::BTreeSet<&str> = rows.iter().map(|r| &r[col("model")]).collect();
    assert_eq!(
        models.into_iter().collect::<Vec<_>>(),
        ["convnet_fashion", "lenet_mnist"]
    );
    let mut extended = 0;
    for r in rows.iter().filter(|r| &r[col("model")] == "lenet_mnist") {
        let runs: u32 = r[col("runs")].parse().unwrap();
        let decision = &r[col("decision")];
        let high: f64 = r[col("drop_ci95_high_pct")].parse().unwrap();
        let low: f64 = r[col("drop_ci95_low_pct")].parse().unwrap();
        assert!([2, 4, 8].contains(&runs), "{r:?}");
        if r[col("fraction")].parse::<f64>().unwrap() == 1.0 {
            assert_eq!(runs, 8, "full write-verify makes the most runs: {r:?}");
            continue;
        }
        let expected = if high <= 0.5 {
            "within"
        } else if low > 0.5 {
            "outside"
        } else {
            "undecided"
        };
        assert_eq!(decision, expected, "{r:?}");
        assert!(runs == 8 || decision != "undecided", "{r:?}");
        extended += usize::from(runs > 2);
    }
    assert!(extended > 0, "no point needed more than its first look");
    // Bad shard specs: exit code 2, naming the flag.
    for bad in ["3/3", "1/0", "one/two"] {
        let out = run(&["--shard", bad, "--out", dir.join("bad").to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "--shard {bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--shard"),
            "--shard {bad}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
