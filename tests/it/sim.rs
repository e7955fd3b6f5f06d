//! The programmer: closed-form timing and energy, the NeuroSim V2.1 cross-check, iteration and failure
//! statistics against the geometric law, monotonic and row effects of the mask, determinism across
//! thread counts.

use uswim::config::{
    self, DeviceModelConfig, HwConfig, PulseSchemeConfig, SignedMapping, StatisticalConfig,
    StatisticalOutcome,
};
use uswim::map::{LayerWeights, Mapped};
use uswim::sim::{self, Mask, ProgramOptions, ProgramResult};
use uswim::trace::{PhaseOp, TraceFilter, TraceLevel, VecSink};

/// A statistical-device chip of 4x4 arrays with durations chosen to exercise the rounding up to cycles.
fn tiny_statistical(sigma: f64, tolerance: f64) -> HwConfig {
    let mut hw = config::load("paper_statistical", &[]).unwrap();
    hw.array.rows = 4;
    hw.array.cols = 4;
    hw.device.g_min_us = 0.0;
    hw.device.g_max_us = 10.0;
    hw.device.bits_per_cell = 1;
    hw.device.read_noise = 0.0;
    hw.device.model = DeviceModelConfig::Statistical(StatisticalConfig {
        retry_ratio: 1.0,
        outcome: StatisticalOutcome::Iterate,
    });
    hw.device.variation.sigma = sigma;
    hw.device.variation.sigma_wv = 0.0;
    hw.mapping.weight_bits = 2;
    hw.mapping.signed = SignedMapping::Paper;
    hw.program.tolerance = tolerance;
    hw.program.max_iterations = 10;
    hw.program.write_drivers_per_array = 3;
    hw.program.rows_in_parallel = 1;
    hw.program.row_setup_ns = 25.0;
    hw.program.read_settle_ns = 15.0;
    hw.program.read_voltage_v = 0.2;
    hw.program.read_pulse_ns = 10.0;
    hw.program.driver_energy_pj = 0.5;
    hw.program.scheme = PulseSchemeConfig::Fixed {
        set_v: 1.5,
        reset_v: 1.5,
        width_ns: 100.0,
    };
    hw.dac.conversion_ns = 5.0;
    hw.dac.energy_pj = 0.25;
    hw.adc.bits = 8;
    hw.adc.conversion_ns = 10.0;
    hw.adc.energy_pj = 2.0;
    hw.adc.adcs_per_array = 2;
    hw.controller.clock_mhz = 100.0;
    hw.controller.static_power_mw = 5.0;
    hw.controller.parallel_arrays = 2;
    hw.validate().unwrap();
    hw
}

fn layer(name: &str, shape: &[usize], seed: usize) -> LayerWeights {
    let n: usize = shape.iter().product();
    LayerWeights {
        name: name.into(),
        shape: shape.to_vec(),
        values: (0..n)
            .map(|i| (((i + seed) * 7919 % 1009) as f32 / 1009.0 - 0.5) * 0.2)
            .collect(),
    }
}

fn run(
    hw: &HwConfig,
    layers: &[LayerWeights],
    mask: &Mask,
    seed: u64,
    level: TraceLevel,
) -> (ProgramResult, VecSink) {
    let mapped = Mapped::new(layers, hw).unwrap();
    let mut sink = VecSink::default();
    let options = ProgramOptions {
        seed,
        trace: TraceFilter::level(level),
        keep_conductances: true,
    };
    let result = sim::program(&mapped, hw, mask, &options, &mut sink).unwrap();
    (result, sink)
}

/// Cycles of `ns` at `mhz`, rounded up (the config's durations here are exact in binary at 100 MHz).
fn cycles(ns: f64, mhz: f64) -> u64 {
    (ns * mhz / 1e3).ceil() as u64
}

#[test]
fn closed_form_timing_when_every_device_converges_at_the_first_verify() {
    let hw = tiny_statistical(0.05, 0.5);
    // [3, 6]: 6 inputs over 4-row arrays (4 + 2 rows), 3 outputs of 2 devices over 4 columns (2 + 1).
    let layers = [layer("fc", &[3, 6], 1)];
    let (result, _) = run(&hw, &layers, &Mask::All, 7, TraceLevel::Phase);
    assert_eq!(
        result.summary.counts.iterations_max, 1,
        "tolerance wide enough to converge at once"
    );

    let mhz = hw.controller.clock_mhz;
    let setup = cycles(hw.program.row_setup_ns, mhz);
    let slot = cycles(hw.dac.conversion_ns + hw.program.scheme.width_ns(), mhz);
    // A verify read: settle, the read pulse, then the busiest ADC's conversions.
    let settle = cycles(hw.program.read_settle_ns + hw.program.read_pulse_ns, mhz);
    let conversion = cycles(hw.adc.conversion_ns, mhz);
    // Columns bind to peripherals in adjacent groups: 3 drivers over 4 columns serve 2 columns each
    // (driver 0 columns 0-1, driver 1 columns 2-3), 2 ADCs serve 2 columns each. A row of n devices in
    // columns 0..n: its busiest driver has min(n, 2) one-pulse open-loop writes (all SET from g_min), its
    // busiest ADC min(n, 2) conversions.
    let row = |n: u64| setup + n.min(2) * slot + settle + n.min(2) * conversion;
    // (rows, devices per row) of arrays 0..4.
    let arrays = [(4u64, 4u64), (4, 2), (2, 4), (2, 2)];
    let durations: Vec<u64> = arrays.iter().map(|&(rows, n)| rows * row(n)).collect();
    assert_eq!((setup, slot, settle, conversion), (3, 11, 3, 1));
    // Arrays 1 and 3 use only columns 0-1: one driver and one ADC serve all their devices, so they take
    // as long as the full arrays (pooling over all ADCs would have counted 1 conversion, not 2).
    assert_eq!(durations, vec![120, 120, 60, 60]);
    // Two channels: arrays 0 and 1 start at 0 and end together at 120; channel 0's end comes first.
    let starts = [0, 0, 120, 120];
    for (a, stats) in result.arrays.iter().enumerate() {
        assert_eq!(stats.start_cycle, starts[a], "array {a}");
        assert_eq!(stats.end_cycle - stats.start_cycle, durations[a], "array {a}");
    }
    assert_eq!(result.summary.total_cycles, 180);
    assert_eq!(result.summary.total_time_ns, 1800.0);
    assert_eq!(
        result.arrays.iter().map(|a| a.channel).collect::<Vec<_>>(),
        vec![0, 1, 0, 1]
    );
}

#[test]
fn closed_form_timing_with_two_rows_programmed_together() {
    let mut hw = tiny_statistical(0.05, 0.5);
    hw.program.rows_in_parallel = 2;
    hw.validate().unwrap();
    let layers = [layer("fc", &[3, 6], 1)];
    let (result, sink) = run(&hw, &layers, &Mask::All, 7, TraceLevel::Phase);
    // A group of two rows: one setup; the two devices of a column share its driver and ADC, so the
    // busiest driver and ADC have 4 devices (2 columns x 2 rows): 4 slots of 11 cycles, a settle of 3
    // and 4 conversions, 54 cycles per group. Arrays 0 and 1: 2 groups; arrays 2 and 3: 1 group.
    let durations: Vec<u64> = result
        .arrays
        .iter()
        .map(|a| a.end_cycle - a.start_cycle)
        .collect();
    assert_eq!(durations, vec![108, 108, 54, 54]);
    assert_eq!(result.summary.total_cycles, 162);
    assert_eq!(result.summary.counts.rows, 6);
    let setup_rows: Vec<u32> = sink
        .phases
        .iter()
        .filter(|p| p.array == 0 && p.op == PhaseOp::RowSetup)
        .map(|p| p.row)
        .collect();
    assert_eq!(setup_rows, vec![0, 2]);
}

#[test]
fn closed_form_energy_of_ideal_devices_by_component() {
    let hw = tiny_statistical(0.0, 0.5);
    let layers = [layer("fc", &[3, 6], 2)];
    let mapped = Mapped::new(&layers, &hw).unwrap();
    let targets = mapped.target_conductances();
    let n = targets.len() as f64;
    let sum_g: f64 = targets.iter().map(|&g| f64::from(g)).sum();
    let (result, sink) = run(&hw, &layers, &Mask::All, 1, TraceLevel::Phase);
    let e = result.summary.energy;
    // Device energies are computed in f32: compare to 1e-6.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs().max(1.0);
    // One SET pulse of 1.5 V for 100 ns from g_min = 0 to G*: mean conductance G*/2.
    assert!(
        close(e.write_pulses_pj, 1.5 * 1.5 * 100.0 * 1e-3 * sum_g / 2.0),
        "{e:?}"
    );
    // One read of 0.2 V for 10 ns at G*.
    assert!(close(e.verify_reads_pj, 0.2 * 0.2 * 10.0 * 1e-3 * sum_g), "{e:?}");
    assert!(close(e.adc_pj, 2.0 * n) && close(e.dac_pj, 0.25 * n) && close(e.drivers_pj, 0.5 * n));
    assert!(close(e.static_pj, 5.0 * result.summary.total_time_ns));
    let c = result.summary.counts;
    assert_eq!(
        (c.pulses, c.verify_reads, c.failed_devices),
        (n as u64, n as u64, 0)
    );
    // The phases' energies add up to the dynamic total.
    let phases: f64 = sink.phases.iter().map(|p| p.energy_pj).sum();
    assert!(close(phases, e.total_pj() - e.static_pj), "{phases} vs {e:?}");
    // Ideal devices read back the quantised weights bit for bit.
    let back = uswim::map::read_back(&mapped, result.conductances_us.as_ref().unwrap()).unwrap();
    assert_eq!(back, mapped.quantized_weights());
}

#[test]
fn neurosim_v21_open_loop_write_latency_is_the_sum_over_rows_of_max_set_plus_max_reset_pulses() {
    let hw = config::load("neurosim_v21_openloop", &[]).unwrap();
    // [16, 128]: one 128x128 array (16 outputs x 8 devices). Row r holds code r % 4 in weight (0, r)
    // (level r % 4 in its least significant slice); weight (1, 0) = 255 sets max|W| (level 3 everywhere).
    let mut values = vec![0.0f32; 16 * 128];
    for (r, v) in values.iter_mut().take(128).enumerate() {
        *v = (r % 4) as f32 / 255.0;
    }
    values[128] = 1.0;
    let layers = [LayerWeights {
        name: "fc".into(),
        shape: vec![16, 128],
        values,
    }];
    let (result, sink) = run(&hw, &layers, &Mask::All, 3, TraceLevel::Device);
    assert_eq!(result.summary.arrays, 1);
    // NeuroSim: dG_min = R / 96 for this linear device, so level L takes ceil(L R / 3 / dG_min) = 32 L
    // SET pulses from g_min and no RESET; 100 ns each. Row 0: level 3 -> 96 pulses; row r > 0:
    // 32 (r % 4) pulses. Sum: 96 + 32 * (31 * 6 + 1 + 2 + 3) = 96 + 6144 = 6240 pulse slots = 624 us.
    assert_eq!(result.summary.total_time_ns, 624_000.0);
    assert_eq!(result.summary.total_cycles, 624_000);
    // The same from the device-level trace: per row, (max SET + max RESET pulses of a device) x width.
    let mut set = vec![std::collections::HashMap::<u32, u64>::new(); 128];
    let mut reset = vec![std::collections::HashMap::<u32, u64>::new(); 128];
    for p in &sink.pulses {
        let table = match p.op {
            uswim::trace::DeviceOp::Set => &mut set,
            uswim::trace::DeviceOp::Reset => &mut reset,
            uswim::trace::DeviceOp::Read => panic!("open loop never reads"),
        };
        *table[p.row as usize].entry(p.col).or_default() += 1;
    }
    let latency_ns: f64 = (0..128)
        .map(|r| {
            let max_set = set[r].values().max().copied().unwrap_or(0);
            let max_reset = reset[r].values().max().copied().unwrap_or(0);
            (max_set + max_reset) as f64 * hw.program.scheme.width_ns()
        })
        .sum();
    assert_eq!(latency_ns, result.summary.total_time_ns);
    assert_eq!(result.summary.counts.verify_reads, 0, "open loop never verifies");
    assert!(sink.phases.iter().all(|p| p.op != PhaseOp::VerifyRead));
}

#[test]
fn iterations_and_failures_follow_the_geometric_law_of_the_statistical_device() {
    let mut hw = tiny_statistical(0.3, 0.06);
    hw.array.rows = 128;
    hw.array.cols = 128;
    hw.mapping.weight_bits = 8;
    hw.adc.bits = 16;
    hw.program.write_drivers_per_array = 32;
    hw.adc.adcs_per_array = 16;
    hw.program.max_iterations = 3;
    hw.validate().unwrap();
    let layers = [layer("fc", &[64, 128], 3)];
    let (result, _) = run(&hw, &layers, &Mask::All, 11, TraceLevel::Off);
    let c = result.summary.counts;
    let n = c.selected_devices as f64;
    assert_eq!(n, 65_536.0);
    // p = P(|N(0, 0.3)| <= 0.06) = erf(0.06 / (0.3 sqrt 2)) = 0.158519; 3 reads at most.
    let p: f64 = 0.158_519_4;
    let fail = (1.0 - p).powi(3);
    let mean_reads = (1.0 - fail) / p;
    let fail_sd = (fail * (1.0 - fail) / n).sqrt();
    assert!(
        ((c.failed_devices as f64 / n) - fail).abs() < 5.0 * fail_sd,
        "{c:?}"
    );
    let reads_sd = ((1.0 - p) / (p * p)).sqrt() / n.sqrt();
    assert!((c.iterations_mean() - mean_reads).abs() < 5.0 * reads_sd, "{c:?}");
    assert_eq!(c.verify_pulses, c.verify_reads - c.selected_devices);
    // Failed devices keep their last (out-of-band) error; they are counted, not hidden.
    let mapped = Mapped::new(&layers, &hw).unwrap();
    let g = result.conductances_us.unwrap();
    let targets = mapped.target_conductances();
    let out_of_band = g
        .iter()
        .zip(&targets)
        .filter(|(g, t)| (*g - *t).abs() > 0.6)
        .count() as u64;
    // (Equal up to devices within an ADC step of the band edge, which read on the other side.)
    assert!(
        out_of_band.abs_diff(c.failed_devices) <= 65,
        "{out_of_band} vs {}",
        c.failed_devices
    );
}

fn small_network() -> Vec<LayerWeights> {
    vec![layer("conv", &[32, 16, 3, 3], 5), layer("fc", &[10, 288], 6)]
}

#[test]
fn more_verified_weights_take_longer_and_energies_add_up() {
    let hw = config::load("rram_1t1r_256", &[]).unwrap();
    let layers = small_network();
    let mapped = Mapped::new(&layers, &hw).unwrap();
    let mut times = Vec::new();
    for mask in [Mask::None, Mask::random(&mapped, 0.1, 4), Mask::All] {
        let (r, sink) = run(&hw, &layers, &mask, 4, TraceLevel::Phase);
        let s = &r.summary;
        times.push(s.total_cycles);
        assert!(s.counts.failed_devices <= s.counts.selected_devices);
        let e = s.energy;
        let parts: f64 = e.components().iter().map(|(_, v)| v).sum();
        assert_eq!(parts, s.total_energy_pj());
        let arrays: f64 = r.arrays.iter().map(|a| a.energy.total_pj()).sum();
        assert!((arrays + e.static_pj - s.total_energy_pj()).abs() < 1e-9 * s.total_energy_pj());
        let phases: f64 = sink.phases.iter().map(|p| p.energy_pj).sum();
        assert!((phases - arrays).abs() < 1e-9 * arrays, "{phases} vs {arrays}");
        assert!(e.components().iter().all(|(_, v)| *v >= 0.0));
        let pulses: u64 = sink.phases.iter().map(|p| u64::from(p.pulses)).sum();
        assert_eq!(pulses, s.counts.pulses);
        let conversions: u64 = sink.phases.iter().map(|p| u64::from(p.adc_conversions)).sum();
        assert_eq!(conversions, s.counts.adc_conversions);
    }
    assert!(times[0] < times[1] && times[1] < times[2], "{times:?}");
}

#[test]
fn a_row_waits_for_its_slowest_device_so_concentrated_masks_are_faster() {
    let hw = config::load("rram_1t1r_256", &[]).unwrap();
    // [32, 256]: one 256x256 array, array row r holds weights (o, r) for the 32 outputs o.
    let layers = [layer("fc", &[32, 256], 8)];
    let concentrated: Vec<bool> = (0..32 * 256).map(|i| i % 256 < 8).collect();
    let spread: Vec<bool> = (0..32 * 256).map(|i| i / 256 == i % 256 % 32).collect();
    assert_eq!(
        concentrated.iter().filter(|&&s| s).count(),
        spread.iter().filter(|&&s| s).count()
    );
    // Same seed: the open-loop writes are identical (common random numbers), so the difference is all
    // verify: 8 rows of 32 verified weights against 256 rows of one.
    for seed in [1, 2, 3] {
        let (few, _) = run(
            &hw,
            &layers,
            &Mask::Weights(vec![concentrated.clone()]),
            seed,
            TraceLevel::Off,
        );
        let (all, _) = run(
            &hw,
            &layers,
            &Mask::Weights(vec![spread.clone()]),
            seed,
            TraceLevel::Off,
        );
        assert_eq!(
            few.summary.counts.selected_devices,
            all.summary.counts.selected_devices
        );
        assert_eq!(few.summary.counts.verified_rows, 8);
        assert_eq!(all.summary.counts.verified_rows, 256);
        assert!(
            few.summary.total_cycles < all.summary.total_cycles,
            "seed {seed}: {} vs {}",
            few.summary.total_cycles,
            all.summary.total_cycles
        );
    }
}

#[test]
fn outputs_are_bit_identical_for_1_2_and_8_threads() {
    let hw = config::load("rram_1t1r_256", &[]).unwrap();
    let mut hw_small = hw.clone();
    // Small arrays so that there are many of them, more than a batch of any thread count.
    hw_small.array.rows = 32;
    hw_small.array.cols = 64;
    hw_small.adc.adcs_per_array = 8;
    hw_small.program.write_drivers_per_array = 16;
    hw_small.controller.parallel_arrays = 3;
    hw_small.validate().unwrap();
    let layers = small_network();
    let mapped = Mapped::new(&layers, &hw_small).unwrap();
    // More arrays than a batch of device-traced arrays at 8 threads (16).
    assert!(mapped.num_arrays() > 32, "{}", mapped.num_arrays());
    let mask = Mask::random(&mapped, 0.3, 5);
    let outputs: Vec<(ProgramResult, String)> = [1, 2, 8]
        .into_iter()
        .map(|threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let (r, sink) = run(&hw_small, &layers, &mask, 21, TraceLevel::Device);
                // Debug text compares NaN fields (reads' absent values) as equal.
                (r, format!("{:?}", sink))
            })
        })
        .collect();
    assert!(outputs[0].1.len() > 1000);
    // The trace level changes what is reported, never what happens.
    for level in [TraceLevel::Off, TraceLevel::Phase] {
        let (r, _) = run(&hw_small, &layers, &mask, 21, level);
        assert_eq!(r, outputs[0].0, "{level:?}");
    }
    for (r, trace) in &outputs[1..] {
        assert_eq!(r, &outputs[0].0);
        assert!(trace == &outputs[0].1, "traces differ");
    }
}

#[test]
fn the_open_loop_state_is_the_same_whatever_the_mask() {
    let mut hw = tiny_statistical(0.2, 0.02);
    hw.mapping.weight_bits = 4;
    hw.validate().unwrap();
    let layers = [layer("fc", &[6, 8], 9)];
    let none = run(&hw, &layers, &Mask::None, 5, TraceLevel::Off).0;
    let mapped = Mapped::new(&layers, &hw).unwrap();
    let half = Mask::random(&mapped, 0.5, 1);
    let verified = run(&hw, &layers, &half, 5, TraceLevel::Off).0;
    // Devices of unselected weights end exactly as with no verify at all.
    let (g0, g1) = (none.conductances_us.unwrap(), verified.conductances_us.unwrap());
    let mut i = 0;
    let (mut same, mut differ) = (0, 0);
    for a in 0..mapped.num_arrays() {
        mapped.for_each_device(a, |d| {
            if half.selected(d.layer, d.weight) {
                differ += usize::from(g0[i] != g1[i]);
            } else {
                assert_eq!(g0[i], g1[i]);
                same += 1;
            }
            i += 1;
        });
    }
    assert!(same > 0 && differ > 0);
}

#[test]
fn a_mask_of_another_network_and_a_mapping_of_another_chip_are_errors() {
    let hw = tiny_statistical(0.05, 0.5);
    let layers = [layer("fc", &[3, 6], 1)];
    let mapped = Mapped::new(&layers, &hw).unwrap();
    let options = ProgramOptions::default();
    let bad = Mask::Weights(vec![vec![true; 17]]);
    let e = sim::program(&mapped, &hw, &bad, &options, &mut VecSink::default()).unwrap_err();
    assert!(e.to_string().contains("`fc` has 17 flags"), "{e}");
    let mut other = hw.clone();
    other.array.rows = 8;
    let e = sim::program(&mapped, &other, &Mask::All, &options, &mut VecSink::default()).unwrap_err();
    assert!(matches!(e, sim::SimError::ConfigMismatch(_)), "{e}");
}

#[test]
fn expected_verify_reads_of_the_cost_model_match_the_programmer() {
    for preset in ["rram_1t1r_256", "paper_statistical"] {
        let hw = config::load(preset, &[]).unwrap();
        let layers = small_network();
        let mapped = Mapped::new(&layers, &hw).unwrap();
        let cost = sim::VerifyCost::new(&hw, 2);
        let variation = uswim::variation::VariationMap::new(&hw.device.variation, &hw.device, &hw.array);
        let mut expected = 0.0;
        for a in 0..mapped.num_arrays() {
            for d in uswim::map::sigma::array_variation(&mapped, &variation, 13, a) {
                expected += cost.expected_reads(d.sigma, d.level);
            }
        }
        let (r, _) = run(&hw, &layers, &Mask::All, 13, TraceLevel::Off);
        let measured = r.summary.counts.iterations_mean();
        let expected = expected / mapped.num_devices() as f64;
        assert!(
            (measured - expected).abs() < 0.03 * expected,
            "{preset}: {measured} vs {expected}"
        );
    }
}
