//! Tolerance classes chosen by the time-aware rule (`uswim-classes`), their mask files, and the
//! predicted-time model on the RRAM preset (issue 12 item 8).

use std::path::{Path, PathBuf};
use std::process::Command;
use uswim::experiment::class_select::{ClassPlan, class_counts};
use uswim::experiment::engine::{Engine, Selector};
use uswim::experiment::selection::{Knowledge, KnownChip, device_info};
use uswim::map::{LayerWeights, Mapped};
use uswim::nn::{Dataset, Network, Split, model_file};
use uswim::sensitivity::{self, Curvature, Method, ScoreOptions, Scores};
use uswim::sim::predict::{STATED_ERROR, TimeModel};
use uswim::sim::{Mask, WvClass};

fn model_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lenet_mnist.safetensors")
}

/// The shipped LeNet and its sensitivity pass over the first 256 training images.
fn lenet() -> (Network, Curvature) {
    let (net, _) = model_file::load(Some("lenet"), &model_path()).unwrap();
    let mut calib = Dataset::load("mnist", Split::Train).unwrap();
    calib.truncate(256);
    let curvature = sensitivity::analyze(&net, &calib, |_, _| {}).unwrap();
    (net, curvature)
}

/// The `uswim` scores of `mapped` on `hw` under prior knowledge, or uniform random ones.
fn gains(curvature: &Curvature, mapped: &Mapped, hw: &uswim::config::HwConfig, random: bool) -> Scores {
    let devices = device_info(mapped, hw, 0, Knowledge::Prior);
    let method = if random { Method::Random } else { Method::Uswim };
    let mut options = ScoreOptions::new(method);
    options.seed = 5;
    sensitivity::score(curvature, Some(&devices), &options).unwrap()
}

/// The weights of the `n` highest scores, as (layer, index).
fn top(scores: &Scores, n: usize) -> Vec<(usize, usize)> {
    let mut all: Vec<(f64, usize, usize)> = scores
        .layers
        .iter()
        .enumerate()
        .flat_map(|(l, s)| s.iter().enumerate().map(move |(i, &g)| (g, l, i)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    all.into_iter().take(n).map(|(_, l, i)| (l, i)).collect()
}

#[test]
fn at_uswim_times_budget_the_classes_buy_more_expected_loss_reduction_and_tighten_the_most_sensitive() {
    let (net, curvature) = lenet();
    let hw = uswim::config::load("paper_statistical", &[]).unwrap();
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw).unwrap();
    let chip = KnownChip::new(&hw, 0, Knowledge::Prior);
    let model = TimeModel::new(&mapped, &hw, 3).unwrap();
    let truth = gains(&curvature, &mapped, &hw, false);
    let plan = ClassPlan::new(&mapped, &hw, &chip, &truth);
    let n = mapped.num_weights() as usize;
    for fraction in [0.01, 0.05, 0.2] {
        let k_binary = (fraction * n as f64).round() as usize;
        let k = plan.moves_at(&mapped, &model, fraction);
        let (binary_ns, classes_ns) = (
            plan.binary.total_ns(&model, k_binary),
            plan.classes.total_ns(&model, k),
        );
        // Within the binary selection's predicted time, and buying at least its expected loss reduction.
        assert!(classes_ns <= binary_ns, "{fraction}: {classes_ns} vs {binary_ns}");
        let (binary_gain, classes_gain) = (plan.binary.gain(k_binary), plan.classes.gain(k));
        assert!(
            classes_gain >= binary_gain,
            "{fraction}: expected loss reduction {classes_gain} vs binary {binary_gain}"
        );
        // The gain of a prefix is the sum of its weights' class gains, as the model scores them.
        let mask = plan.classes.mask(&mapped, k);
        let [none, loose, tight] = class_counts(&mask, &mapped);
        assert_eq!(none + loose + tight, n as u64);
        assert!(loose > 0 && tight > 0, "{fraction}: {loose} loose, {tight} tight");
        // More weights verified than the binary mask in the same time: the loose band costs fewer reads.
        assert!(
            loose + tight > k_binary as u64,
            "{fraction}: {} vs {k_binary}",
            loose + tight
        );
        // The predicted time of the mask itself is the order's.
        let direct = model.predict_ns(&mapped, &mask, 0);
        let summed = plan.classes.total_ns(&model, k);
        assert!((direct - summed).abs() < 0.02 * summed, "{direct} vs {summed}");
        eprintln!(
            "fraction {fraction}: binary {k_binary} weights {binary_gain:.4e} in {binary_ns:.4e} ns; classes \
             {loose} loose {tight} tight {classes_gain:.4e} in {classes_ns:.4e} ns"
        );
    }
    // The most sensitive weights get the tight band: at 5%, most of the top 0.1% by uswim score.
    let k = plan.moves_at(&mapped, &model, 0.05);
    let classes = plan.classes.classes(&mapped, k);
    let best = top(&truth, n / 1000);
    let tight = best
        .iter()
        .filter(|&&(l, i)| classes[l][i] == WvClass::Tight)
        .count();
    eprintln!("top 0.1%: {tight} of {} tight", best.len());
    assert!(tight * 10 >= best.len() * 8, "{tight} of {} tight", best.len());
    // With random gains the order no longer tightens the sensitive weights, and buys less true gain.
    let random = gains(&curvature, &mapped, &hw, true);
    let blind = ClassPlan::new(&mapped, &hw, &chip, &random);
    let k_blind = blind.moves_at(&mapped, &model, 0.05);
    let blind_classes = blind.classes.classes(&mapped, k_blind);
    let blind_tight = best
        .iter()
        .filter(|&&(l, i)| blind_classes[l][i] == WvClass::Tight)
        .count();
    assert!(blind_tight * 2 < tight, "random gains: {blind_tight} vs {tight}");
}

#[test]
fn class_masks_round_trip_through_the_mask_file_and_bad_codes_are_refused() {
    let dir = std::env::temp_dir().join(format!("uswim-classes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (net, curvature) = lenet();
    let classes: Vec<Vec<WvClass>> = curvature
        .layers
        .iter()
        .map(|l| {
            (0..l.len())
                .map(|i| WvClass::ALL[(i * 7 + l.len()) % 3])
                .collect()
        })
        .collect();
    let path = dir.join("mask.safetensors");
    let mask = sensitivity::Mask::from_classes(&curvature, &classes);
    mask.write(&path).unwrap();
    let back = sensitivity::Mask::read(&path).unwrap();
    back.check(&net, "mask.safetensors").unwrap();
    for (l, c) in curvature.layers.iter().zip(&classes) {
        assert_eq!(back.classes(&l.name).unwrap(), *c, "{}", l.name);
    }
    let loose: usize = classes.iter().flatten().filter(|&&c| c == WvClass::Loose).count();
    let none: usize = classes.iter().flatten().filter(|&&c| c == WvClass::None).count();
    assert_eq!((back.loose(), back.selected()), (loose, back.total() - none));

    // `uswim analyze --method uswim-classes` writes codes 2 for loose weights; `uswim program` reads them.
    let bin = env!("CARGO_BIN_EXE_uswim");
    let model = model_path().display().to_string();
    let analysis = dir.join("analysis");
    let out = Command::new(bin)
        .args([
            "analyze",
            "--model",
            &model,
            "--hw",
            "paper_statistical",
            "--method",
            "uswim-classes",
        ])
        .args(["--fraction", "0.05", "--calib-samples", "256", "-q", "--out"])
        .arg(&analysis)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("tolerance classes:"), "{stdout}");
    let written = sensitivity::Mask::read(&analysis.join("mask.safetensors")).unwrap();
    assert!(written.loose() > 0 && written.selected() > written.loose());
    let rows = sensitivity::read_csv(&analysis.join("sensitivity.csv")).unwrap();
    assert_eq!(rows.iter().filter(|r| r.selected == 2).count(), written.loose());
    let programmed = dir.join("programmed");
    let out = Command::new(bin)
        .args([
            "program",
            "--model",
            &model,
            "--hw",
            "paper_statistical",
            "--trace-level",
            "off",
            "-q",
        ])
        .arg("--mask")
        .arg(analysis.join("mask.safetensors"))
        .arg("--out")
        .arg(&programmed)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(programmed.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["selected_weights"].as_u64(),
        Some(written.selected() as u64),
        "{summary}"
    );

    // A code other than 0, 1, 2: exit 2, naming the file, the tensor and the allowed codes.
    let mut bad = written.clone();
    let t = bad.tensors.len() - 1;
    bad.tensors[t].flags[5] = 7;
    let bad_path = dir.join("bad.safetensors");
    bad.write(&bad_path).unwrap();
    let out = Command::new(bin)
        .args([
            "program",
            "--model",
            &model,
            "--hw",
            "paper_statistical",
            "--trace-level",
            "off",
            "-q",
        ])
        .arg("--mask")
        .arg(&bad_path)
        .arg("--out")
        .arg(dir.join("bad"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "bad.safetensors",
        bad.tensors[t].name.as_str(),
        "value 7",
        "0 (no write-verify), 1 (tight",
        "2 (loose",
    ] {
        assert!(stderr.contains(needle), "`{needle}` missing: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The predicted-time model within its stated error of the simulated time of the same chip on the RRAM
/// preset, `measured` (which picks devices for their open-loop errors) and the class selection included.
#[test]
fn the_predicted_time_is_within_its_stated_error_on_a_small_rram_grid() {
    let (net, curvature) = lenet();
    let hw = uswim::config::load("rram_1t1r_256", &[]).unwrap();
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw).unwrap();
    let engine = Engine::new(&net, &mapped, &hw, Some(&curvature), None).unwrap();
    let seed = 7;
    let chip = uswim::eval::run_seed(seed, 0);
    let mut worst: f64 = 0.0;
    for (method, fraction) in [
        (Method::Measured, 0.05),
        (Method::Measured, 0.2),
        (Method::UswimClasses, 0.05),
        (Method::Random, 0.01),
    ] {
        let selector = Selector {
            method,
            fraction,
            knowledge: Knowledge::Prior,
        };
        // Without a test set a point programs run 0's chip once.
        let simulated = engine.evaluate(&selector, seed, 1).unwrap().time_ns();
        let predicted = engine.predicted_time_ns(&selector, chip).unwrap();
        let error = (predicted - simulated) / simulated;
        eprintln!(
            "{method} {fraction}: predicted {predicted:.5e} ns, simulated {simulated:.5e} ns, {error:+.4}"
        );
        assert!(
            error.abs() <= STATED_ERROR,
            "{method} {fraction}: predicted {predicted} ns, simulated {simulated} ns"
        );
        worst = worst.max(error.abs());
    }
    // Far within its stated bound on the chip it predicts.
    assert!(worst < 0.05, "worst error {worst}");
    // The class selection's mask has loose weights, and the point really programs them.
    let selector = Selector {
        method: Method::UswimClasses,
        fraction: 0.05,
        knowledge: Knowledge::Prior,
    };
    let mask = engine.mask(&selector, chip).unwrap();
    assert!(matches!(*mask, Mask::Classes(_)) && mask.has_loose());
}
