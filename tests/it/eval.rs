//! Monte-Carlo evaluation and the mapping-to-analyzer device information: the seed contract (the analyzer
//! sees exactly the sigmas the programmer draws), thread-count independence, reference points.

use std::borrow::Cow;
use std::path::Path;
use uswim::config::{self, HwConfig, VariationMapConfig};
use uswim::eval::{EvalError, Evaluator, run_seed};
use uswim::experiment::selection::{Knowledge, device_info};
use uswim::map::{LayerWeights, Mapped, read_back};
use uswim::nn::{Dataset, Network, Split, model_file};
use uswim::sim::{self, Mask, ProgramOptions};
use uswim::trace::{NullSink, TraceFilter, TraceLevel};

fn lenet() -> Network {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lenet_mnist.safetensors");
    model_file::load(Some("lenet"), &path).expect("shipped model").0
}

fn test_slice(n: usize) -> Dataset {
    let mut d = Dataset::load("mnist", Split::Test).expect("shipped MNIST");
    d.truncate(n);
    d
}

/// A statistical chip where 20% of devices (drawn per device from the seed) have sigma 0.1 and the rest
/// 1e-4, and verified devices land exactly (sigma_wv 0).
fn outlier_chip() -> HwConfig {
    let mut hw = config::load("paper_statistical", &[]).unwrap();
    hw.device.variation.sigma = 1e-4;
    hw.device.variation.sigma_wv = 0.0;
    hw.device.variation.maps = vec![VariationMapConfig::Outliers {
        fraction: 0.2,
        multiplier: 1000.0,
    }];
    hw
}

/// Per weight, z = (read-back error / max|W|) / sqrt(predicted open-loop variance) for a chip programmed
/// open-loop with `program_seed` and analysed with `analysis_seed`.
fn standardized_errors(program_seed: u64, analysis_seed: u64) -> Vec<f64> {
    let hw = outlier_chip();
    let layers = vec![LayerWeights {
        name: "fc.weight".into(),
        shape: vec![20, 30],
        values: (0..600).map(|i| ((i * 73 % 101) as f32 - 50.0) * 0.01).collect(),
    }];
    let max_w = layers[0].values.iter().fold(0.0f32, |m, w| m.max(w.abs()));
    let mapped = Mapped::new(&layers, &hw).unwrap();
    let options = ProgramOptions {
        seed: program_seed,
        trace: TraceFilter::level(TraceLevel::Off),
        keep_conductances: true,
    };
    let result = sim::program(&mapped, &hw, &Mask::None, &options, &mut NullSink).unwrap();
    let back = read_back(&mapped, result.conductances_us.as_ref().unwrap()).unwrap();
    let ideal = mapped.quantized_weights();
    let info = device_info(&mapped, &hw, analysis_seed, Knowledge::Oracle);
    back[0]
        .iter()
        .zip(&ideal[0])
        .zip(&info[0].variance_reduction)
        .map(|((b, q), v)| f64::from(b - q) / f64::from(max_w) / f64::from(*v).sqrt())
        .collect()
}

#[test]
fn the_analyzer_sees_exactly_the_sigmas_the_programmer_draws_with_the_same_seed() {
    // Same seed: every weight's error is N(0, predicted variance): z is standard normal.
    let z = standardized_errors(11, 11);
    let mean_sq = z.iter().map(|x| x * x).sum::<f64>() / z.len() as f64;
    let max = z.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!((mean_sq - 1.0).abs() < 0.2, "mean z^2 {mean_sq}");
    assert!(max < 5.5, "max |z| {max}");
    // Another seed: the analyzer would miss outliers (z of hundreds) and see others that are not there.
    let z = standardized_errors(11, 12);
    let max = z.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(max > 50.0, "max |z| {max} with a mismatched seed");
}

#[test]
fn monte_carlo_results_do_not_depend_on_the_thread_count() {
    let net = lenet();
    let test = test_slice(300);
    let hw = config::load("paper_statistical", &[]).unwrap();
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw).unwrap();
    let ev = Evaluator::new(&net, &mapped, &hw, &test).unwrap();
    let mask = Mask::random(&mapped, 0.1, 5);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| ev.monte_carlo(3, 7, |_| Ok(Cow::Borrowed(&mask))).unwrap())
    };
    let one = run(1);
    let two = run(2);
    assert_eq!(one, two);
    assert_eq!(one.runs.len(), 3);
    // Each run is the single run with its own seed.
    assert_eq!(one.runs[1], ev.run(&mask, run_seed(7, 1)).unwrap());
    // Runs differ (fresh chips), and the statistics summarise them.
    assert_ne!(one.runs[0].accuracy, one.runs[1].accuracy);
    let mean = one.runs.iter().map(|r| r.accuracy).sum::<f64>() / 3.0;
    assert!((one.accuracy.mean - mean).abs() < 1e-12);
    assert!(one.accuracy.ci95_low <= mean && mean <= one.accuracy.ci95_high);
}

#[test]
fn full_write_verify_keeps_the_clean_accuracy_and_open_loop_loses_much_of_it() {
    let net = lenet();
    let test = test_slice(500);
    let clean = net.accuracy(&test).unwrap().fraction();
    let hw = config::load("paper_statistical", &[]).unwrap();
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw).unwrap();
    let ev = Evaluator::new(&net, &mapped, &hw, &test).unwrap();
    let refs = ev.references(3, 1).unwrap();
    let (none, full) = (refs.no_verify.accuracy, refs.full_verify.accuracy);
    // sigma_wv = 0.03 costs a LeNet little; sigma = 0.3 open-loop costs it a lot.
    assert!(full.mean > clean - 0.02, "full {} clean {clean}", full.mean);
    assert!(
        none.mean < full.mean - 0.05,
        "none {} full {}",
        none.mean,
        full.mean
    );
    // Full write-verify verifies every device and takes longer.
    let (n0, f0) = (&refs.no_verify.runs[0].summary, &refs.full_verify.runs[0].summary);
    assert_eq!(f0.counts.selected_devices, mapped.num_devices());
    assert_eq!(n0.counts.selected_devices, 0);
    assert!(f0.total_time_ns > n0.total_time_ns);
}

#[test]
fn a_mapping_of_another_network_or_zero_runs_is_an_error() {
    let net = lenet();
    let test = test_slice(10);
    let hw = config::load("paper_statistical", &[]).unwrap();
    let other = uswim::nn::zoo::build("mlp").unwrap();
    let mapped = Mapped::new(&LayerWeights::of_network(&other), &hw).unwrap();
    let e = Evaluator::new(&net, &mapped, &hw, &test).unwrap_err();
    assert!(matches!(e, EvalError::Input(_)), "{e}");
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw).unwrap();
    let ev = Evaluator::new(&net, &mapped, &hw, &test).unwrap();
    let e = ev.monte_carlo(0, 1, |_| Ok(Cow::Owned(Mask::All))).unwrap_err();
    assert!(matches!(e, EvalError::NoRuns));
}
