//! Programmer throughput: a whole network programmed with full write-verify, devices per second.
//!
//! - `program/lenet_full_wv_rram`: LeNet (105,918 weights, 847,344 devices) on the RRAM preset, full
//!   write-verify, no trace (the Monte-Carlo evaluator's inner call, without read-back).
//! - `program/lenet_full_wv_rram_readback`: the same, keeping the conductances and reading the weights back.
//! - `program/lenet_full_wv_rram_phase_trace`: the same with a phase-level trace into a counting sink.
//! - `program/lenet_full_wv_statistical`: LeNet on the statistical preset of the papers.
//! - `program/resnet18_full_wv_rram` (only with `USWIM_BENCH_RESNET=1`: ~20 s per iteration): ResNet-18
//!   (11.2 M weights, 89 M devices) on the RRAM preset, full write-verify.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::io;
use uswim::config::{self, HwConfig};
use uswim::map::{LayerWeights, Mapped, read_back};
use uswim::nn::zoo;
use uswim::sim::{self, Mask, ProgramOptions};
use uswim::trace::{NullSink, PhaseEvent, TraceFilter, TraceLevel, TraceSink};

fn mapped(arch: &str, hw: &HwConfig) -> Mapped {
    let net = zoo::build(arch).expect("zoo architecture");
    Mapped::new(&LayerWeights::of_network(&net), hw).expect("maps")
}

/// Counts phase events (a trace sink that costs what the simulator's side of tracing costs).
#[derive(Default)]
struct Count(u64);

impl TraceSink for Count {
    fn on_phase(&mut self, _: &PhaseEvent) -> io::Result<()> {
        self.0 += 1;
        Ok(())
    }
}

fn lenet(c: &mut Criterion) {
    let mut g = c.benchmark_group("program");
    g.sample_size(10);
    for (name, preset) in [
        ("lenet_full_wv_rram", "rram_1t1r_256"),
        ("lenet_full_wv_statistical", "paper_statistical"),
    ] {
        let hw = config::load(preset, &[]).expect("preset");
        let m = mapped("lenet", &hw);
        g.throughput(Throughput::Elements(m.num_devices()));
        let options = ProgramOptions {
            seed: 1,
            trace: TraceFilter::level(TraceLevel::Off),
            keep_conductances: false,
        };
        g.bench_function(name, |b| {
            b.iter(|| black_box(sim::program(&m, &hw, &Mask::All, &options, &mut NullSink).expect("runs")))
        });
    }
    let hw = config::load("rram_1t1r_256", &[]).expect("preset");
    let m = mapped("lenet", &hw);
    g.throughput(Throughput::Elements(m.num_devices()));
    let keep = ProgramOptions {
        seed: 1,
        trace: TraceFilter::level(TraceLevel::Off),
        keep_conductances: true,
    };
    g.bench_function("lenet_full_wv_rram_readback", |b| {
        b.iter(|| {
            let r = sim::program(&m, &hw, &Mask::All, &keep, &mut NullSink).expect("runs");
            black_box(read_back(&m, r.conductances_us.as_deref().expect("kept")).expect("reads back"))
        })
    });
    let traced = ProgramOptions {
        seed: 1,
        trace: TraceFilter::level(TraceLevel::Phase),
        keep_conductances: false,
    };
    g.bench_function("lenet_full_wv_rram_phase_trace", |b| {
        b.iter(|| {
            let mut count = Count::default();
            sim::program(&m, &hw, &Mask::All, &traced, &mut count).expect("runs");
            black_box(count.0)
        })
    });
    g.finish();
}

fn resnet18(c: &mut Criterion) {
    if std::env::var_os("USWIM_BENCH_RESNET").is_none() {
        return;
    }
    let hw = config::load("rram_1t1r_256", &[]).expect("preset");
    let m = mapped("resnet18", &hw);
    let mut g = c.benchmark_group("program");
    g.sample_size(10);
    g.throughput(Throughput::Elements(m.num_devices()));
    let options = ProgramOptions {
        seed: 1,
        trace: TraceFilter::level(TraceLevel::Phase),
        keep_conductances: false,
    };
    g.bench_function("resnet18_full_wv_rram", |b| {
        b.iter(|| {
            let mut count = Count::default();
            sim::program(&m, &hw, &Mask::All, &options, &mut count).expect("runs");
            black_box(count.0)
        })
    });
    g.finish();
}

criterion_group!(benches, lenet, resnet18);
criterion_main!(benches);
