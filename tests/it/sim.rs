//! The programmer: closed-form timing and energy, the NeuroSim V2.1 cross-check, iteration and failure
//! statistics against the geometric law, monotonic and row effects of the mask, determinism across
//! thread counts.

use uswim::config::{
    self, DeviceModelConfig, HwConfig, PulseSchemeConfig, SignedMapping, StatisticalConfig,
    StatisticalOutcome,
};
use uswim::map::{LayerWeights, Mapped};
use uswim::sim::{self, Mask, ProgramOptions, ProgramResult, WvClass};
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
    // The phases' energies add up to the dynamic total (neither leakage nor static).
    let phases: f64 = sink.phases.iter().map(|p| p.energy_pj).sum();
    assert!(
        close(phases, e.total_pj() - e.static_pj - e.leakage_pj),
        "{phases} vs {e:?}"
    );
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

/// A statistical chip of 128x128 arrays, sigma 0.3, tolerance 0.06, at most 3 reads: a geometric law of
/// reads with a visible failure rate.
fn geometric_chip() -> HwConfig {
    let mut hw = tiny_statistical(0.3, 0.06);
    hw.array.rows = 128;
    hw.array.cols = 128;
    hw.mapping.weight_bits = 8;
    hw.adc.bits = 16;
    hw.program.write_drivers_per_array = 32;
    hw.adc.adcs_per_array = 16;
    hw.program.max_iterations = 3;
    hw.validate().unwrap();
    hw
}

/// Failures and mean reads of `c`'s devices are those of a geometric law of success probability `p`
/// capped at `max_reads` reads, within 5 standard errors.
fn assert_geometric_reads(c: &uswim::trace::Counts, p: f64, max_reads: i32) {
    let n = c.selected_devices as f64;
    let fail = (1.0 - p).powi(max_reads);
    let mean_reads = (1.0 - fail) / p;
    let fail_sd = (fail * (1.0 - fail) / n).sqrt();
    assert!(
        ((c.failed_devices as f64 / n) - fail).abs() < 5.0 * fail_sd,
        "{c:?}"
    );
    let reads_sd = ((1.0 - p) / (p * p)).sqrt() / n.sqrt();
    assert!((c.iterations_mean() - mean_reads).abs() < 5.0 * reads_sd, "{c:?}");
}

#[test]
fn iterations_and_failures_follow_the_geometric_law_of_the_statistical_device() {
    let hw = geometric_chip();
    let layers = [layer("fc", &[64, 128], 3)];
    let (result, _) = run(&hw, &layers, &Mask::All, 11, TraceLevel::Off);
    let c = result.summary.counts;
    let n = c.selected_devices as f64;
    assert_eq!(n, 65_536.0);
    // p = P(|N(0, 0.3)| <= 0.06) = erf(0.06 / (0.3 sqrt 2)) = 0.158519; 3 reads at most.
    assert_geometric_reads(&c, 0.158_519_4, 3);
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

/// The loose tolerance class is verified to `program.loose_tolerance`: its reads follow the geometric law
/// of that band (p = erf(0.12 / (0.3 sqrt 2)) = 0.310843), and a tight class is exactly a binary mask's
/// selection, bit for bit, as is a loose class whose band equals the tight one.
#[test]
fn loose_weights_follow_the_geometric_law_of_their_wider_band_and_tight_ones_equal_a_binary_mask() {
    let mut hw = geometric_chip();
    hw.program.loose_tolerance = Some(0.12);
    hw.validate().unwrap();
    let layers = [layer("fc", &[64, 128], 3)];
    let weights = 64 * 128;
    let loose = Mask::Classes(vec![vec![WvClass::Loose; weights]]);
    let (result, _) = run(&hw, &layers, &loose, 11, TraceLevel::Off);
    let c = result.summary.counts;
    let n = c.selected_devices as f64;
    assert_eq!(n, 65_536.0);
    assert_geometric_reads(&c, 0.310_843, 3);

    let (all, all_sink) = run(&hw, &layers, &Mask::All, 11, TraceLevel::Phase);
    let tight = Mask::Classes(vec![vec![WvClass::Tight; weights]]);
    let (tight_result, tight_sink) = run(&hw, &layers, &tight, 11, TraceLevel::Phase);
    assert_eq!(tight_result, all);
    assert_eq!(tight_sink.phases, all_sink.phases);
    hw.program.loose_tolerance = Some(0.06);
    hw.validate().unwrap();
    let (same_band, _) = run(&hw, &layers, &loose, 11, TraceLevel::Off);
    assert_eq!(same_band, all);

    // Mixed: a third of the weights of each class; counts per class add up.
    let mixed: Vec<WvClass> = (0..weights).map(|i| WvClass::ALL[i % 3]).collect();
    let mixed = Mask::Classes(vec![mixed]);
    let (mixed_result, _) = run(&hw, &layers, &mixed, 11, TraceLevel::Off);
    assert_eq!(
        mixed_result.summary.selected_weights,
        (0..weights).filter(|i| i % 3 != 0).count() as u64
    );
}

/// Under the papers' `outcome = "gaussian"` a converged device ends at N(0, (R sigma_wv)^2); sigma_wv belongs
/// to the band (tolerance = 2 sigma_wv), so a loose class of twice the band ends twice as wide.
#[test]
fn the_loose_class_of_the_statistical_device_ends_with_its_bands_wider_final_spread() {
    let mut hw = config::load("paper_statistical", &[]).unwrap();
    hw.program.loose_tolerance = Some(2.0 * hw.program.tolerance);
    hw.validate().unwrap();
    let layers = [layer("fc", &[64, 128], 5)];
    let weights = 64 * 128;
    let mapped = Mapped::new(&layers, &hw).unwrap();
    let targets = mapped.target_conductances();
    let range = hw.range_us();
    let final_std = |mask: &Mask| {
        let (result, _) = run(&hw, &layers, mask, 3, TraceLevel::Off);
        let g = result.conductances_us.unwrap();
        let n = g.len() as f64;
        let sq: f64 = g
            .iter()
            .zip(&targets)
            .map(|(g, t)| f64::from(g - t).powi(2))
            .sum();
        (sq / n).sqrt() / range
    };
    let sigma_wv = hw.device.variation.sigma_wv;
    let tight = final_std(&Mask::All);
    let loose = final_std(&Mask::Classes(vec![vec![WvClass::Loose; weights]]));
    assert!(
        (tight / sigma_wv - 1.0).abs() < 0.03,
        "tight {tight} vs {sigma_wv}"
    );
    assert!(
        (loose / (2.0 * sigma_wv) - 1.0).abs() < 0.03,
        "loose {loose} vs {}",
        2.0 * sigma_wv
    );
}

/// `program.loose_tolerance` below `program.tolerance` or beyond a level step is refused, naming the key.
#[test]
fn a_loose_tolerance_outside_tolerance_to_one_level_step_is_refused() {
    for bad in ["0.01", "0.4"] {
        let e = config::load(
            "rram_1t1r_256",
            &[config::parse_override(&format!("program.loose_tolerance={bad}")).unwrap()],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("program.loose_tolerance"), "{e}");
    }
    let hw = config::load("rram_1t1r_256", &[]).unwrap();
    assert_eq!(hw.program.loose_tolerance(&hw.device), 2.0 * hw.program.tolerance);
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
        // Arrays carry their leakage and their share of the static energy: they add up to the chip.
        let arrays: f64 = r.arrays.iter().map(|a| a.energy.total_pj()).sum();
        assert!((arrays - s.total_energy_pj()).abs() < 1e-9 * s.total_energy_pj());
        let dynamic = arrays - e.static_pj - e.leakage_pj;
        let phases: f64 = sink.phases.iter().map(|p| p.energy_pj).sum();
        assert!((phases - dynamic).abs() < 1e-9 * dynamic, "{phases} vs {dynamic}");
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

// ---------------------------------------------------------------------------------------------------------
// Peripherals bound to columns.

/// A one-layer network of `outputs` x `inputs` weights on the tiny statistical chip, re-shaped to one
/// 1 x 8 array with 4 ADCs and 4 drivers (columns bound as `binding` says), and 1-device weights.
fn tiny_row_chip(binding: config::ColumnBinding) -> HwConfig {
    let mut hw = tiny_statistical(0.0, 0.5);
    hw.array.rows = 1;
    hw.array.cols = 8;
    hw.adc.adcs_per_array = 4;
    hw.adc.columns = binding;
    hw.program.write_drivers_per_array = 4;
    hw.program.driver_columns = binding;
    hw.validate().unwrap();
    hw
}

/// k selected devices that share one ADC cost k conversions in a verify read; spread over k ADCs, one.
/// Columns 0 and 1 share ADC 0 when bound in adjacent pairs (4 ADCs over 8 columns), and sit on ADCs 0
/// and 1 when interleaved; the sigma-0 devices converge at their first read, so the read phase is the
/// settle plus the busiest ADC's conversions.
#[test]
fn selected_devices_on_one_adc_cost_one_conversion_each_and_spread_over_adcs_one_in_all() {
    use config::ColumnBinding::{Adjacent, Interleaved};
    // [8, 1]: 8 outputs of 1 input; paper mapping with 1-bit cells and 2-bit weights: 2 devices per
    // weight, so the 1 x 8 array holds 4 weights: weight o in columns 2o and 2o + 1.
    let layers = [layer("fc", &[4, 1], 3)];
    let mhz = 100.0;
    let settle = cycles(15.0 + 10.0, mhz);
    let conversion = cycles(10.0, mhz);
    for (binding, want_conversions) in [(Adjacent, 2u32), (Interleaved, 1)] {
        let hw = tiny_row_chip(binding);
        let mapped = Mapped::new(&layers, &hw).unwrap();
        assert_eq!(mapped.num_arrays(), 1);
        // Weight 0 only: its two devices in columns 0 and 1.
        let mask = Mask::Weights(vec![vec![true, false, false, false]]);
        let (result, sink) = run(&hw, &layers, &mask, 3, TraceLevel::Phase);
        assert_eq!(result.summary.counts.selected_devices, 2);
        let reads: Vec<_> = sink
            .phases
            .iter()
            .filter(|p| p.op == PhaseOp::VerifyRead)
            .collect();
        assert_eq!(reads.len(), 1, "{binding:?}");
        assert_eq!(reads[0].adc_conversions, 2, "both devices are converted");
        assert_eq!(
            reads[0].cycles,
            settle + u64::from(want_conversions) * conversion,
            "{binding:?}"
        );
    }
}

/// Over several verify iterations with mixed SET and RESET corrections, every phase lasts what the
/// device-level trace implies: a verify read, the settle plus the busiest ADC's reads of that
/// iteration; a pulse phase, the busiest driver's SET pulses plus the busiest driver's RESET pulses,
/// in slots. Checked for the statistical device (re-programs with random sign) and the pulse-level
/// device under each verifying scheme, with adjacent and interleaved binding.
#[test]
fn verify_phases_last_the_busiest_adc_and_the_busiest_drivers_set_and_reset_slots() {
    use config::ColumnBinding::{Adjacent, Interleaved};
    use std::collections::HashMap;
    use uswim::trace::DeviceOp;
    let pulse_schemes = [
        PulseSchemeConfig::Fixed {
            set_v: 1.0,
            reset_v: 1.0,
            width_ns: 100.0,
        },
        PulseSchemeConfig::Ispp {
            set_start_v: 0.75,
            reset_start_v: 0.75,
            v_step_v: 0.01,
            v_max_v: 1.0,
            width_ns: 100.0,
        },
        PulseSchemeConfig::Adaptive {
            gain_v: 1.0,
            v_min_v: 0.8,
            v_max_v: 1.2,
            width_ns: 100.0,
        },
    ];
    let mut chips: Vec<(String, HwConfig)> = Vec::new();
    for binding in [Adjacent, Interleaved] {
        let mut stat = tiny_statistical(0.3, 0.05);
        stat.array.rows = 4;
        stat.array.cols = 16;
        stat.adc.adcs_per_array = 4;
        stat.adc.columns = binding;
        stat.program.write_drivers_per_array = 4;
        stat.program.driver_columns = binding;
        stat.validate().unwrap();
        chips.push((format!("statistical {binding:?}"), stat));
        for scheme in &pulse_schemes {
            let mut rram = config::load("rram_1t1r_256", &[]).unwrap();
            rram.array.rows = 8;
            rram.array.cols = 32;
            rram.adc.adcs_per_array = 4;
            rram.adc.columns = binding;
            rram.program.write_drivers_per_array = 8;
            rram.program.driver_columns = binding;
            rram.program.max_iterations = 60;
            rram.program.scheme = scheme.clone();
            rram.validate().unwrap();
            chips.push((format!("rram {scheme:?} {binding:?}"), rram));
        }
    }
    for (name, hw) in chips {
        let layers = [layer("fc", &[6, 8], 11)];
        let (result, sink) = run(&hw, &layers, &Mask::All, 9, TraceLevel::Device);
        let t = uswim::sim::Timing::new(&hw);
        let (cols, adcs, drivers) = (
            hw.array.cols,
            hw.adc.adcs_per_array,
            hw.program.write_drivers_per_array,
        );
        let adc_of = |c: u32| hw.adc.columns.unit(c, cols, adcs);
        let driver_of = |c: u32| hw.program.driver_columns.unit(c, cols, drivers);
        // (array, row, iteration) -> per ADC reads, per driver SET and RESET pulses.
        let mut reads: HashMap<(u32, u32, u32), HashMap<u32, u64>> = HashMap::new();
        let mut pulses: HashMap<(u32, u32, u32, bool), HashMap<u32, u64>> = HashMap::new();
        for e in sink.pulses.iter().filter(|e| e.iteration > 0) {
            match e.op {
                DeviceOp::Read => {
                    *reads
                        .entry((e.array, e.row, e.iteration))
                        .or_default()
                        .entry(adc_of(e.col))
                        .or_default() += 1
                }
                op => {
                    *pulses
                        .entry((e.array, e.row, e.iteration, op == DeviceOp::Set))
                        .or_default()
                        .entry(driver_of(e.col))
                        .or_default() += 1
                }
            }
        }
        let busiest = |m: Option<&HashMap<u32, u64>>| m.map_or(0, |m| *m.values().max().unwrap());
        let (mut mixed, mut checked) = (false, 0);
        for p in &sink.phases {
            match p.op {
                PhaseOp::VerifyRead => {
                    let k = (p.array, p.row, p.iteration);
                    let want = t.settle.get() + busiest(reads.get(&k)) * t.conversion.get();
                    assert_eq!(p.cycles, want, "{name}: read {k:?}");
                    checked += 1;
                }
                PhaseOp::VerifyPulse => {
                    let set = busiest(pulses.get(&(p.array, p.row, p.iteration, true)));
                    let reset = busiest(pulses.get(&(p.array, p.row, p.iteration, false)));
                    mixed |= set > 0 && reset > 0;
                    assert_eq!(
                        p.cycles,
                        (set + reset) * t.slot.get(),
                        "{name}: pulses {:?}",
                        (p.array, p.row, p.iteration)
                    );
                    checked += 1;
                }
                _ => {}
            }
        }
        assert!(mixed, "{name}: some iteration mixes SET and RESET corrections");
        assert!(
            result.summary.counts.iterations_max >= 3,
            "{name}: several iterations"
        );
        assert!(checked > 20, "{name}: {checked} phases");
    }
}

/// A zero weight on the differential mapping has every device at level 0, the G- device of its pair
/// included; each is RESET to G_min + R h |z|, so the weight reads back as
/// scale / step x sum over slices k of w_k (r+_k - r-_k): mean 0 and variance
/// (scale / step)^2 x 2 R^2 h^2 (1 - 2/pi) x sum w_k^2.
#[test]
fn a_zero_weight_reads_back_the_reset_state_spread_of_all_its_devices() {
    let hw = config::load("rram_1t1r_256", &[]).unwrap();
    let DeviceModelConfig::Pulse(p) = &hw.device.model else {
        panic!("pulse-level preset")
    };
    let h = p.hrs_spread * hw.range_us();
    // One large weight sets the layer's scale; the other 20,000 are zero.
    let mut values = vec![0.0f32; 20_001];
    values[0] = 1.0;
    let layers = [LayerWeights {
        name: "fc".into(),
        shape: vec![1, 20_001],
        values,
    }];
    let (result, _) = run(&hw, &layers, &Mask::None, 5, TraceLevel::Off);
    let mapped = Mapped::new(&layers, &hw).unwrap();
    let weights = uswim::map::read_back(&mapped, result.conductances_us.as_ref().unwrap()).unwrap();
    let zeros: Vec<f64> = weights[0][1..].iter().map(|&w| f64::from(w)).collect();
    let spec = mapped.spec();
    let slices = spec.devices_per_weight() / spec.polarities();
    let sum_w2: f64 = (0..slices).map(|k| f64::from(spec.slice_weight(k)).powi(2)).sum();
    let scale = mapped.layers()[0].quantized.scale;
    let want_std =
        scale / mapped.step_us() * (2.0 * h * h * (1.0 - 2.0 / std::f64::consts::PI) * sum_w2).sqrt();
    let n = zeros.len() as f64;
    let mean = zeros.iter().sum::<f64>() / n;
    let std = (zeros.iter().map(|w| (w - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    assert!(
        mean.abs() < 4.0 * want_std / n.sqrt(),
        "mean {mean}, std {want_std}"
    );
    assert!(
        (std - want_std).abs() < 0.03 * want_std,
        "std {std} vs {want_std}"
    );
}
