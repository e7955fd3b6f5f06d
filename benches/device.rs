//! Device-model throughput: statistical write-verify iterations per second and pulse-level ISPP pulses
//! per second, on one core. Each measured routine replays the same seeded devices, so its work (the
//! number of iterations or pulses, counted once up front) is fixed and criterion's throughput is exact.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use uswim::config;
use uswim::device::WriteVerify;
use uswim::rng::{self, Purpose};

const DEVICES: u32 = 20_000;

/// Write-verifies `DEVICES` devices towards `target_us`, each from its open-loop state (statistical) or
/// from g_min (pulse-level, so that ISPP has a ramp to climb); returns (reads, pulses).
fn run(wv: &WriteVerify, target_us: f32, sigma: f32, open_loop_first: bool) -> (u64, u64) {
    let mut rng = rng::stream(1, Purpose::Device, 0);
    let device = wv.device();
    let (mut reads, mut pulses) = (0u64, 0u64);
    let mut sink = |_| {};
    for _ in 0..DEVICES {
        let mut state = device.instantiate(sigma, &mut rng);
        if open_loop_first {
            device.open_loop_write(&mut state, target_us, &mut rng, &mut sink);
        }
        let r = wv.run(&mut state, target_us, &mut rng, &mut sink);
        reads += u64::from(r.reads);
        pulses += u64::from(r.pulses);
    }
    (reads, pulses)
}

fn statistical(c: &mut Criterion) {
    let hw = config::load("paper_statistical", &[]).expect("preset");
    let wv = WriteVerify::new(&hw);
    let target = hw.device.level_us(1) as f32;
    let sigma = hw.device.variation.sigma as f32;
    let (reads, _) = run(&wv, target, sigma, true);
    let mut g = c.benchmark_group("device");
    g.throughput(Throughput::Elements(reads));
    g.bench_function("statistical_write_verify_iterations", |b| {
        b.iter(|| black_box(run(&wv, black_box(target), sigma, true)))
    });
    g.finish();
}

fn pulse_ispp(c: &mut Criterion) {
    let hw = config::load("rram_1t1r_256", &[]).expect("preset");
    let wv = WriteVerify::new(&hw);
    let target = hw.device.level_us(2) as f32;
    let sigma = hw.device.variation.sigma as f32;
    let (_, pulses) = run(&wv, target, sigma, false);
    let mut g = c.benchmark_group("device");
    g.throughput(Throughput::Elements(pulses));
    g.bench_function("pulse_level_ispp_pulses", |b| {
        b.iter(|| black_box(run(&wv, black_box(target), sigma, false)))
    });
    g.finish();
}

criterion_group!(benches, statistical, pulse_ispp);
criterion_main!(benches);
