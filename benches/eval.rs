//! Monte-Carlo evaluation: one run of the shipped LeNet on the MNIST test set.
//!
//! - `eval/lenet_mc_run_statistical_full_wv`: program all 847,344 devices with the papers' statistical
//!   preset (full write-verify, conductances kept, no trace), read the weights back, classify the 10,000
//!   MNIST test images: one Monte-Carlo run of `uswim reproduce`.
//! - `eval/lenet_mc_run_statistical_10pct`: the same with 10% of the weights verified (a typical point).
//! - `eval/lenet_program_readback_statistical_10pct`: the programmer and the read-back alone (10%).
//! - `eval/lenet_classify_10k`: the classification alone (the noisy network's share of a run).
//! - `eval/lenet_mc_4_runs_parallel`: four runs as the evaluator runs them (rayon over runs, each run's
//!   own parallel programmer and classifier nested inside), per run.

use criterion::{Criterion, criterion_group, criterion_main};
use std::borrow::Cow;
use std::hint::black_box;
use std::path::Path;
use uswim::config;
use uswim::eval::Evaluator;
use uswim::map::{LayerWeights, Mapped, read_back};
use uswim::nn::{Dataset, Split, model_file};
use uswim::sim::{self, Mask, ProgramOptions};
use uswim::trace::{NullSink, TraceFilter, TraceLevel};

fn eval(c: &mut Criterion) {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lenet_mnist.safetensors");
    let (net, _) = model_file::load(Some("lenet"), &model).expect("shipped model");
    let test = Dataset::load("mnist", Split::Test).expect("shipped MNIST");
    let hw = config::load("paper_statistical", &[]).expect("preset");
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw).expect("maps");
    let ev = Evaluator::new(&net, &mapped, &hw, &test).expect("evaluator");
    let tenth = Mask::random(&mapped, 0.1, 3);
    let mut g = c.benchmark_group("eval");
    g.sample_size(10);
    g.bench_function("lenet_mc_run_statistical_full_wv", |b| {
        b.iter(|| black_box(ev.run(&Mask::All, 1).expect("runs")))
    });
    g.bench_function("lenet_mc_run_statistical_10pct", |b| {
        b.iter(|| black_box(ev.run(&tenth, 1).expect("runs")))
    });
    let options = ProgramOptions {
        seed: 1,
        trace: TraceFilter::level(TraceLevel::Off),
        keep_conductances: true,
    };
    g.bench_function("lenet_program_readback_statistical_10pct", |b| {
        b.iter(|| {
            let r = sim::program(&mapped, &hw, &tenth, &options, &mut NullSink).expect("runs");
            black_box(read_back(&mapped, r.conductances_us.as_ref().expect("kept")).expect("reads"))
        })
    });
    g.bench_function("lenet_classify_10k", |b| {
        b.iter(|| black_box(net.accuracy(&test).expect("classifies")))
    });
    g.bench_function("lenet_mc_4_runs_parallel", |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            for i in 0..iters {
                black_box(ev.monte_carlo(4, i, |_| Ok(Cow::Borrowed(&tenth))).expect("runs"));
            }
            start.elapsed() / 4
        })
    });
    g.finish();
}

criterion_group!(benches, eval);
criterion_main!(benches);
