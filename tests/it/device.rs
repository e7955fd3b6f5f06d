//! Device physics, pulse schemes and variation maps, checked against closed forms: the geometric law of
//! the statistical device, NeuroSim V2.1's pulse count, the window bound of the pulse-level device, the ISPP
//! trade-off, each variation map's statistics; plus determinism and the `uswim device` command.

use proptest::prelude::*;
use std::process::Command;
use uswim::config::{
    self, DeviceModelConfig, HEADROOM_FLOOR, HwConfig, PulseDeviceConfig, PulseSchemeConfig,
    StatisticalConfig, StatisticalOutcome, VariationMapConfig,
};
use uswim::device::{Device, DeviceEvent, DeviceState, WriteVerify, report};
use uswim::pulse::Polarity;
use uswim::rng::{self, Purpose, Stream};
use uswim::variation::{DeviceSite, VariationMap};

// ---------------------------------------------------------------------------------------------------------
// Helpers: independent closed forms.

/// P(|Z| <= a) for a standard normal Z, by Simpson's rule on the density (independent of any sampler).
fn p_within(a: f64) -> f64 {
    let n = 4000;
    let h = a / n as f64;
    let phi = |z: f64| (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let mut s = phi(0.0) + phi(a);
    for i in 1..n {
        s += phi(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    2.0 * s * h / 3.0
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

fn no_events(_: DeviceEvent) {}

/// A 1-bit statistical device over [0, 10] uS read by a 16-bit ADC, tolerance snapped to (k + 1/2) ADC
/// steps so that the quantised acceptance band is exactly |G - G*| < tolerance R.
fn statistical(sigma: f64, tolerance: f64, retry_ratio: f64, outcome: StatisticalOutcome) -> (HwConfig, f64) {
    let mut hw = config::load("paper_statistical", &[]).unwrap();
    hw.device.g_min_us = 0.0;
    hw.device.g_max_us = 10.0;
    hw.device.bits_per_cell = 1;
    hw.device.read_noise = 0.0;
    hw.device.variation.sigma = sigma;
    hw.device.variation.sigma_wv = 0.01;
    hw.device.model = DeviceModelConfig::Statistical(StatisticalConfig { retry_ratio, outcome });
    hw.adc.bits = 16;
    let codes = 65_535.0;
    let snapped = ((tolerance * codes - 0.5).round() + 0.5) / codes;
    hw.program.tolerance = snapped;
    hw.program.max_iterations = 100_000;
    hw.validate().unwrap();
    (hw, snapped)
}

fn preset(name: &str) -> HwConfig {
    config::load(name, &[]).unwrap()
}

/// The RRAM preset made moderate ([`crate::MODERATE_RRAM`]) with step k 12 uS/V.
fn moderate_rram() -> HwConfig {
    let overrides: Vec<_> = [
        "device.model.k_set_us_per_v=12.0",
        "device.model.k_reset_us_per_v=12.0",
    ]
    .iter()
    .chain(&crate::MODERATE_RRAM)
    .map(|o| config::parse_override(o).unwrap())
    .collect();
    config::load("rram_1t1r_256", &overrides).unwrap()
}

// ---------------------------------------------------------------------------------------------------------
// Statistical device.

#[test]
fn statistical_iterations_follow_the_geometric_law() {
    // (sigma, tolerance, retry_ratio): reads = 1 + B G with B ~ Bernoulli(1 - p0), G ~ Geometric(p),
    // p0 = P(|N(0, sigma)| <= tol), p = P(|N(0, sigma r)| <= tol).
    for (k, &(sigma, tol, retry)) in [
        (0.1, 0.05, 1.0),
        (0.3, 0.06, 1.0),
        (0.05, 0.08, 1.0),
        (0.2, 0.05, 0.5),
    ]
    .iter()
    .enumerate()
    {
        let (hw, tol) = statistical(sigma, tol, retry, StatisticalOutcome::Iterate);
        let wv = WriteVerify::new(&hw);
        let device = wv.device();
        let range = hw.range_us();
        let mut rng = rng::stream(11, Purpose::Device, k as u64);
        let n = 60_000;
        let mut reads = Vec::with_capacity(n);
        for i in 0..n {
            let target = hw.device.level_us((i % 2) as u32) as f32;
            let mut state = device.instantiate(sigma as f32, &mut rng);
            device.open_loop_write(&mut state, target, &mut rng, &mut no_events);
            let r = wv.run(&mut state, target, &mut rng, &mut no_events);
            assert!(r.converged);
            assert_eq!(r.pulses, r.reads - 1);
            // Every converged device ends inside the band (up to f32 rounding of the ADC input).
            let error = f64::from(state.g_us - target).abs();
            assert!(
                error <= tol * range * (1.0 + 1e-4),
                "error {error} > {}",
                tol * range
            );
            reads.push(f64::from(r.reads));
        }
        let p0 = p_within(tol / sigma);
        let p = p_within(tol / (sigma * retry));
        let (q0, m, var_g) = (1.0 - p0, 1.0 / p, (1.0 - p) / (p * p));
        let expected = 1.0 + q0 * m;
        let variance = q0 * (var_g + m * m) - q0 * q0 * m * m;
        let se = (variance / n as f64).sqrt();
        let (mean, _) = mean_std(&reads);
        assert!(
            (mean - expected).abs() < 3.0 * se,
            "sigma {sigma} tol {tol} retry {retry}: mean reads {mean}, closed form {expected} +- {se}"
        );
    }
}

#[test]
fn statistical_gaussian_outcome_has_the_papers_after_verify_sigma() {
    let (hw, _) = statistical(0.3, 0.06, 1.0, StatisticalOutcome::Gaussian);
    let wv = WriteVerify::new(&hw);
    let device = wv.device();
    let mut rng = rng::stream(3, Purpose::Device, 0);
    let target = hw.device.level_us(1) as f32;
    let errors: Vec<f64> = (0..40_000)
        .map(|_| {
            let mut s = device.instantiate(0.3, &mut rng);
            device.open_loop_write(&mut s, target, &mut rng, &mut no_events);
            assert!(wv.run(&mut s, target, &mut rng, &mut no_events).converged);
            f64::from(s.g_us - target)
        })
        .collect();
    let (mean, std) = mean_std(&errors);
    let want = hw.device.variation.sigma_wv * hw.range_us();
    let n = errors.len() as f64;
    assert!(mean.abs() < 3.0 * want / n.sqrt(), "mean {mean}");
    assert!(
        (std - want).abs() < 3.0 * want / (2.0 * n).sqrt(),
        "std {std} vs {want}"
    );
}

#[test]
fn open_loop_write_error_has_std_sigma_times_range() {
    let (hw, _) = statistical(0.07, 0.05, 1.0, StatisticalOutcome::Iterate);
    let device = Device::new(&hw);
    let mut rng = rng::stream(4, Purpose::Device, 0);
    let target = 10.0;
    let errors: Vec<f64> = (0..40_000)
        .map(|_| {
            let mut s = device.instantiate(0.07, &mut rng);
            let r = device.open_loop_write(&mut s, target, &mut rng, &mut no_events);
            assert_eq!(r.pulses(), 1);
            f64::from(s.g_us - target)
        })
        .collect();
    let (mean, std) = mean_std(&errors);
    let want = 0.07 * 10.0;
    let n = errors.len() as f64;
    assert!(mean.abs() < 3.0 * want / n.sqrt());
    assert!((std - want).abs() < 3.0 * want / (2.0 * n).sqrt(), "std {std}");
}

#[test]
fn verify_loop_contract_reads_pulses_and_failures() {
    // A band narrower than one ADC step that contains no code: nothing ever converges.
    let mut hw = preset("rram_1t1r_256");
    hw.program.tolerance = 1e-5;
    hw.program.max_iterations = 7;
    let wv = WriteVerify::new(&hw);
    let device = wv.device();
    let mut rng = rng::stream(5, Purpose::Device, 0);
    let target = 20.03; // between two ADC codes
    for _ in 0..50 {
        let mut s = device.instantiate(0.1, &mut rng);
        device.open_loop_write(&mut s, target, &mut rng, &mut no_events);
        let (mut read_events, mut pulse_events) = (0, 0);
        let r = wv.run(&mut s, target, &mut rng, &mut |e| match e {
            DeviceEvent::Read { .. } => read_events += 1,
            DeviceEvent::Pulse { .. } => pulse_events += 1,
        });
        assert!(!r.converged);
        assert_eq!((r.reads, r.pulses), (7, 6));
        assert_eq!((read_events, pulse_events), (7, 6));
    }
    // A converged device: r reads, r - 1 pulses, and the events say so.
    let hw = preset("rram_1t1r_256");
    let wv = WriteVerify::new(&hw);
    let target = hw.device.level_us(2) as f32;
    let mut s = wv.device().instantiate(0.1, &mut rng);
    let mut events = Vec::new();
    let r = wv.run(&mut s, target, &mut rng, &mut |e| events.push(e));
    assert!(r.converged && r.reads > 1);
    assert_eq!(r.pulses, r.reads - 1);
    assert_eq!(events.len() as u32, r.reads + r.pulses);
    match events.last() {
        Some(DeviceEvent::Read { read_us, .. }) => {
            assert!((read_us - target).abs() <= wv.tolerance_us());
        }
        other => panic!("last event {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Pulse-level device.

fn pulse_hw(k: f64, vth: f64, nu_set: f64, nu_reset: f64, c2c: f64, eta_d2d: f64) -> HwConfig {
    let mut hw = preset("rram_1t1r_256");
    if let DeviceModelConfig::Pulse(p) = &mut hw.device.model {
        p.k_set_us_per_v = k;
        p.k_reset_us_per_v = k;
        p.vth_set_v = vth;
        p.vth_reset_v = vth;
        p.nu_set = nu_set;
        p.nu_reset = nu_reset;
        p.c2c = c2c;
        p.eta_d2d = eta_d2d;
    }
    hw.validate().unwrap();
    hw
}

/// `hw` with its pulse-level model changed by `edit`, checked.
fn with_model(mut hw: HwConfig, edit: impl FnOnce(&mut PulseDeviceConfig)) -> HwConfig {
    let DeviceModelConfig::Pulse(p) = &mut hw.device.model else {
        panic!("pulse-level configuration expected")
    };
    edit(p);
    hw.validate().unwrap();
    hw
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn pulse_level_conductance_never_leaves_the_window(
        k in 0.1f64..200.0,
        vth in 0.0f64..2.0,
        nu_set in -3.0f64..3.0,
        nu_reset in -3.0f64..3.0,
        c2c in 0.0f64..2.0,
        eta_d2d in 0.0f64..2.0,
        sigma_scale in 0.0f32..5.0,
        seed in 0u64..1000,
        pulses in proptest::collection::vec((any::<bool>(), 0.0f32..6.0), 1..60),
        set_table in proptest::option::of(proptest::collection::vec(0.01f64..20.0, 2..12)),
        reset_table in proptest::option::of(proptest::collection::vec(0.01f64..20.0, 2..12)),
    ) {
        let hw = with_model(pulse_hw(k, vth, nu_set, nu_reset, c2c, eta_d2d), |p| {
            p.set_step_table = set_table;
            p.reset_step_table = reset_table;
        });
        let wv = WriteVerify::new(&hw);
        let device = wv.device();
        let w = device.window();
        let mut rng = rng::stream(seed, Purpose::Device, 0);
        let inside = |g: f32| g >= w.g_min_us && g <= w.g_max_us;
        let mut check = |e: DeviceEvent| {
            if let DeviceEvent::Pulse { g_before_us, g_after_us, .. } = e {
                assert!(inside(g_before_us) && inside(g_after_us), "{e:?}");
            }
        };
        let target = hw.device.level_us((seed % 4) as u32) as f32;
        let mut s = device.instantiate(0.1 * sigma_scale, &mut rng);
        device.open_loop_write(&mut s, target, &mut rng, &mut check);
        prop_assert!(inside(s.g_us));
        for (set, v) in pulses {
            let p = if set { Polarity::Set } else { Polarity::Reset };
            let g = device.pulse(&mut s, target, p, v, &mut rng, &mut check);
            prop_assert!(inside(g) && g == s.g_us);
        }
        wv.run(&mut s, target, &mut rng, &mut check);
        prop_assert!(inside(s.g_us));
    }
}

/// Write-verify of 4,000 devices per level converges on >= 99% of them, and none reaches the cap.
fn assert_converges(name: &str, hw: &HwConfig, levels: &[u32]) {
    for r in report::run(hw, levels, 4000, 1) {
        assert!(
            r.success_rate() >= 0.99,
            "{name} level {}: success {} < 99%",
            r.level,
            r.success_rate()
        );
        assert!(
            r.reads.max() < hw.program.max_iterations,
            "{name} level {}",
            r.level
        );
    }
}

#[test]
fn ispp_converges_at_every_level_of_the_rram_and_fefet_presets() {
    for name in ["rram_1t1r_256", "fefet_128"] {
        let hw = preset(name);
        let levels: Vec<u32> = (0..hw.device.levels()).collect();
        assert_converges(name, &hw, &levels);
    }
}

/// Mean pulses and std of the final error of write-verify with ISPP step `v_step` approaching `target`
/// from one side only (from g_min with SET pulses, or from g_max with RESET pulses).
fn ispp_run(v_step: f64, from_top: bool, level: u32) -> (f64, f64) {
    let mut hw = moderate_rram();
    if let PulseSchemeConfig::Ispp { v_step_v, .. } = &mut hw.program.scheme {
        *v_step_v = v_step;
    }
    let wv = WriteVerify::new(&hw);
    let device = wv.device();
    let target = hw.device.level_us(level) as f32;
    let mut rng = rng::stream(21, Purpose::Device, level.into());
    let (mut pulses, mut errors) = (0u64, Vec::new());
    let n = 6000;
    for _ in 0..n {
        let mut s = device.instantiate(0.1, &mut rng);
        if from_top {
            s.g_us = hw.device.g_max_us as f32;
        }
        let r = wv.run(&mut s, target, &mut rng, &mut no_events);
        assert!(r.converged);
        pulses += u64::from(r.pulses);
        errors.push(f64::from(s.g_us - target));
    }
    (pulses as f64 / f64::from(n), mean_std(&errors).1)
}

#[test]
fn larger_ispp_step_takes_fewer_pulses_and_leaves_a_wider_final_error() {
    // SET direction (g_min up to level 2) and RESET direction (g_max down to level 1).
    for (from_top, level) in [(false, 2), (true, 1)] {
        let (pulses_small, spread_small) = ispp_run(0.02, from_top, level);
        let (pulses_large, spread_large) = ispp_run(0.2, from_top, level);
        assert!(
            pulses_large < 0.8 * pulses_small,
            "pulses: step 0.2 {pulses_large} vs step 0.02 {pulses_small}"
        );
        assert!(
            spread_large > 1.1 * spread_small,
            "final error std: step 0.2 {spread_large} vs step 0.02 {spread_small}"
        );
    }
}

#[test]
fn pulse_device_spreads_scale_with_its_sigma() {
    let hw = moderate_rram();
    let Device::Pulse(d) = Device::new(&hw) else {
        panic!("rram preset is pulse-level")
    };
    let DeviceModelConfig::Pulse(p) = &hw.device.model else {
        unreachable!()
    };
    let base = hw.device.variation.sigma as f32;
    let mut rng = rng::stream(8, Purpose::Device, 0);
    for m in [1.0f32, 2.0] {
        let states: Vec<DeviceState> = (0..40_000).map(|_| d.instantiate(base * m, &mut rng)).collect();
        let eta: Vec<f64> = states.iter().map(|s| f64::from(s.eta)).collect();
        let vth: Vec<f64> = states.iter().map(|s| f64::from(s.vth_set_v)).collect();
        let (eta_mean, eta_std) = mean_std(&eta);
        let (vth_mean, vth_std) = mean_std(&vth);
        let cv = p.eta_d2d * f64::from(m);
        assert!((eta_mean - 1.0).abs() < 4.0 * cv / 200.0, "eta mean {eta_mean}");
        assert!((eta_std - cv).abs() < 0.05 * cv, "eta std {eta_std} vs {cv}");
        assert!((vth_mean - p.vth_set_v).abs() < 4.0 * p.vth_d2d_v * f64::from(m) / 200.0);
        assert!((vth_std - p.vth_d2d_v * f64::from(m)).abs() < 0.03 * p.vth_d2d_v * f64::from(m));
        assert!(states.iter().all(|s| (s.c2c - p.c2c as f32 * m).abs() < 1e-6));
    }
    // A device with sigma 0 has no spread at all.
    let s = d.instantiate(0.0, &mut rng);
    assert_eq!((s.eta, s.vth_set_v, s.c2c), (1.0, p.vth_set_v as f32, 0.0));
}

#[test]
fn pulse_step_matches_the_pulse_equation() {
    // dG = eta k (V - Vth) (t / t_ref)^beta ((G_max - G) / R)^nu for a noiseless device.
    let mut hw = pulse_hw(12.0, 0.8, 1.5, 0.5, 0.0, 0.0);
    if let PulseSchemeConfig::Ispp { width_ns, .. } = &mut hw.program.scheme {
        *width_ns = 400.0; // (400 / 100)^0.5 = 2
    }
    let device = Device::new(&hw);
    let mut rng = rng::stream(1, Purpose::Device, 0);
    let mut s = device.instantiate(0.0, &mut rng); // sigma 0: the nominal device
    s.g_us = 14.0;
    let g = device.pulse(&mut s, 0.0, Polarity::Set, 1.3, &mut rng, &mut no_events);
    let want = 14.0 + 12.0 * 0.5 * 2.0 * ((50.0f64 - 14.0) / 48.0).powf(1.5);
    assert!((f64::from(g) - want).abs() < 1e-4, "{g} vs {want}");
    let g2 = device.pulse(&mut s, 0.0, Polarity::Reset, 1.8, &mut rng, &mut no_events);
    let want2 = want - 12.0 * 1.0 * 2.0 * ((want - 2.0) / 48.0).sqrt();
    assert!((f64::from(g2) - want2).abs() < 1e-4, "{g2} vs {want2}");
    // Below threshold nothing moves.
    let g3 = device.pulse(&mut s, 0.0, Polarity::Set, 0.7, &mut rng, &mut no_events);
    assert_eq!(g3, g2);
}

// ---------------------------------------------------------------------------------------------------------
// State dependence f_s(G) = headroom^nu * T(G): negative exponents and step tables.

/// The sigma-0 (nominal: eta 1, nominal thresholds, no noise) device of `hw` at `g_us`.
fn nominal_at(device: &Device, g_us: f32) -> DeviceState {
    let mut rng = rng::stream(1, Purpose::Device, 0);
    let mut s = device.instantiate(0.0, &mut rng);
    assert_eq!((s.eta, s.c2c), (1.0, 0.0));
    s.g_us = g_us;
    s
}

/// One pulse on a copy of `state`: the conductance after it.
fn one_pulse(device: &Device, state: &DeviceState, polarity: Polarity, v: f32) -> f32 {
    let mut s = *state;
    let mut rng = rng::stream(1, Purpose::Device, 1);
    device.pulse(&mut s, 0.0, polarity, v, &mut rng, &mut no_events)
}

#[test]
fn a_step_table_of_ones_changes_nothing_and_a_table_of_twos_doubles_every_step() {
    // Ones, on the full noisy preset: every event and final state bit-identical, draw for draw.
    let plain = preset("rram_1t1r_256");
    let ones = with_model(plain.clone(), |p| {
        p.set_step_table = Some(vec![1.0; 9]);
        p.reset_step_table = Some(vec![1.0; 2]);
    });
    let history = |hw: &HwConfig| {
        let wv = WriteVerify::new(hw);
        let device = wv.device();
        let mut rng = rng::stream(7, Purpose::Device, 0);
        let mut bits = Vec::new();
        let mut record = |e: DeviceEvent| match e {
            DeviceEvent::Pulse {
                g_before_us,
                g_after_us,
                amplitude_v,
                ..
            } => bits.extend([g_before_us.to_bits(), g_after_us.to_bits(), amplitude_v.to_bits()]),
            DeviceEvent::Read { g_us, read_us } => bits.extend([g_us.to_bits(), read_us.to_bits()]),
        };
        for i in 0..400u32 {
            let target = hw.device.level_us(i % 4) as f32;
            let mut s = device.instantiate(0.1, &mut rng);
            device.open_loop_write(&mut s, target, &mut rng, &mut record);
            wv.run(&mut s, target, &mut rng, &mut record);
            // A device started high, so that RESET pulses are exercised too.
            s.g_us = hw.device.g_max_us as f32;
            wv.run(&mut s, target, &mut rng, &mut record);
        }
        bits
    };
    let a = history(&plain);
    assert!(a.len() > 10_000, "{}", a.len());
    assert_eq!(a, history(&ones));

    // Twos, on the nominal device: dG = 2 k (V - Vth) x^nu (nu = 1, so never clipped: 2 k 0.4 / R = 0.2).
    let base = pulse_hw(12.0, 0.8, 1.0, 1.0, 0.0, 0.0);
    let twos = with_model(base.clone(), |p| {
        p.set_step_table = Some(vec![2.0; 5]);
        p.reset_step_table = Some(vec![2.0; 3]);
    });
    let (d1, d2) = (Device::new(&base), Device::new(&twos));
    let (g_min, g_max, range) = (2.0f64, 50.0f64, 48.0f64);
    for i in 0..=96 {
        let g = (g_min + range * f64::from(i) / 96.0) as f32;
        for polarity in [Polarity::Set, Polarity::Reset] {
            let s = nominal_at(&d1, g);
            let (g1, g2) = (
                one_pulse(&d1, &s, polarity, 1.2),
                one_pulse(&d2, &nominal_at(&d2, g), polarity, 1.2),
            );
            let x = match polarity {
                Polarity::Set => (g_max - f64::from(g)) / range,
                Polarity::Reset => (f64::from(g) - g_min) / range,
            };
            let sign = if polarity == Polarity::Set { 1.0 } else { -1.0 };
            let closed = sign * 12.0 * 0.4 * x;
            let (dg1, dg2) = (f64::from(g1 - g), f64::from(g2 - g));
            assert!(
                (dg1 - closed).abs() < 2e-5,
                "G {g} {polarity:?}: {dg1} vs {closed}"
            );
            assert!(
                (dg2 - 2.0 * dg1).abs() <= 4.0 * f64::from(f32::EPSILON) * g_max,
                "G {g} {polarity:?}: {dg2} vs 2 x {dg1}"
            );
        }
    }
}

#[test]
fn a_linear_step_table_reproduces_the_linear_saturation_law() {
    // nu = 0 with T_SET = [1, 0] (T = 1 - (G - G_min) / R = headroom) and T_RESET = [0, 1] against nu = 1;
    // both against the closed form of the map x_{n+1} = (1 - a) x_n: headroom x_n = (1 - a)^n,
    // a = k (V - Vth) / R = 12 * 0.4 / 48 = 0.1.
    let power = Device::new(&pulse_hw(12.0, 0.8, 1.0, 1.0, 0.0, 0.0));
    let table = Device::new(&with_model(pulse_hw(12.0, 0.8, 0.0, 0.0, 0.0, 0.0), |p| {
        p.set_step_table = Some(vec![1.0, 0.0]);
        p.reset_step_table = Some(vec![0.0, 1.0]);
    }));
    let (g_min, g_max, range, a) = (2.0f64, 50.0f64, 48.0f64, 0.1f64);
    for polarity in [Polarity::Set, Polarity::Reset] {
        let start = if polarity == Polarity::Set { g_min } else { g_max } as f32;
        let (mut sp, mut st) = (nominal_at(&power, start), nominal_at(&table, start));
        let mut rng = rng::stream(1, Purpose::Device, 2);
        for n in 1..=60 {
            let gp = power.pulse(&mut sp, 0.0, polarity, 1.2, &mut rng, &mut no_events);
            let gt = table.pulse(&mut st, 0.0, polarity, 1.2, &mut rng, &mut no_events);
            let headroom = range * (1.0 - a).powi(n);
            let closed = if polarity == Polarity::Set {
                g_max - headroom
            } else {
                g_min + headroom
            };
            assert!(
                (gt - gp).abs() <= 16.0 * f32::EPSILON * g_max as f32,
                "{polarity:?} pulse {n}: table {gt} vs power law {gp}"
            );
            assert!(
                (f64::from(gp) - closed).abs() < 1e-4,
                "{polarity:?} pulse {n}: {gp} vs closed form {closed}"
            );
        }
    }
}

#[test]
fn a_negative_exponent_accelerates_the_step_and_stays_finite_at_the_edge() {
    // nu_SET = nu_RESET = -1, nominal device, k (V - Vth) = 12 * 0.2 = 2.4 uS: dG = 2.4 / x.
    let hw = pulse_hw(12.0, 0.8, -1.0, -1.0, 0.0, 0.0);
    let device = Device::new(&hw);
    let (g_min, g_max) = (2.0f32, 50.0f32);
    let step = |g: f32, polarity| one_pulse(&device, &nominal_at(&device, g), polarity, 1.0) - g;
    let full = step(g_min, Polarity::Set);
    let quarter = step(g_max - 12.0, Polarity::Set); // headroom 12 / 48 = 0.25
    assert!((full - 2.4).abs() < 1e-5, "{full}");
    assert!((quarter - 9.6).abs() < 1e-4, "{quarter}");
    assert!((quarter / full - 4.0).abs() < 1e-5, "{quarter} / {full}");
    let reset_quarter = step(g_min + 12.0, Polarity::Reset);
    assert!((reset_quarter + 9.6).abs() < 1e-4, "{reset_quarter}");
    // A whole SET ramp accelerates: every step is 2.4 / x of the state it starts from, and larger than
    // the one before, until the window clips it.
    let mut s = nominal_at(&device, g_min);
    let mut rng = rng::stream(1, Purpose::Device, 3);
    let mut last = 0.0f32;
    while s.g_us < g_max {
        let g = s.g_us;
        let after = device.pulse(&mut s, 0.0, Polarity::Set, 1.0, &mut rng, &mut no_events);
        let closed = 2.4 / ((g_max - g) / 48.0);
        if g + closed < g_max {
            assert!(
                ((after - g) / closed - 1.0).abs() < 1e-4,
                "G {g}: {} vs {closed}",
                after - g
            );
            assert!(after - g > last, "G {g}");
            last = after - g;
        } else {
            assert_eq!(after, g_max);
        }
    }
    // At the edge (headroom 0): below threshold nothing moves and nothing is NaN; with overdrive the
    // window clips the (floored, finite) step.
    for (edge, polarity) in [(g_max, Polarity::Set), (g_min, Polarity::Reset)] {
        let at_edge = nominal_at(&device, edge);
        assert_eq!(one_pulse(&device, &at_edge, polarity, 0.7), edge);
        assert_eq!(one_pulse(&device, &at_edge, polarity, 1.5), edge);
        let mut s = at_edge;
        for v in [0.0, 0.5, 0.79, 2.0, 0.3] {
            let g = device.pulse(&mut s, 0.0, polarity, v, &mut rng, &mut no_events);
            assert!(g.is_finite() && g == edge, "{polarity:?} {v} V: {g}");
        }
    }
    // Inside the floor (headroom 0.0005 < HEADROOM_FLOOR) the step is k (V - Vth) / HEADROOM_FLOOR: with
    // k = 1e-4 uS/V, 2e-5 / 1e-3 = 0.02 uS (unfloored it would be 0.04 uS and clip at G_max).
    let slow = Device::new(&pulse_hw(1e-4, 0.8, -1.0, -1.0, 0.0, 0.0));
    let g = g_max - 0.0005 * 48.0;
    let want = f64::from(g) + 1e-4 * 0.2 / HEADROOM_FLOOR;
    let got = one_pulse(&slow, &nominal_at(&slow, g), Polarity::Set, 1.0);
    assert!((f64::from(got) - want).abs() < 2e-5, "{got} vs {want}");
}

#[test]
fn accelerating_and_knee_table_devices_converge_under_write_verify() {
    let base = moderate_rram();
    let accelerating = with_model(base.clone(), |p| p.nu_set = -0.8);
    // A knee: four times the step over the lowest eighth of the window, falling to 1 at the second
    // point and to 0.5 at G_max (on top of nu_SET = 1).
    let knee = with_model(base.clone(), |p| {
        p.set_step_table = Some(vec![4.0, 4.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5])
    });
    // The knee shortens the nominal open-loop climb to level 1 (G = 18 uS: 16 uS, of which the first
    // 6 uS at T = 4 and the next 6 uS at T between 4 and 1).
    let (Device::Pulse(plain), Device::Pulse(kneed)) = (Device::new(&base), Device::new(&knee)) else {
        panic!("pulse-level")
    };
    let level1 = base.device.level_us(1) as f32;
    assert!(
        kneed.nominal_set_pulses(level1) < plain.nominal_set_pulses(level1),
        "{} vs {}",
        kneed.nominal_set_pulses(level1),
        plain.nominal_set_pulses(level1)
    );
    let levels: Vec<u32> = (0..base.device.levels()).collect();
    for (name, hw) in [("nu_set = -0.8", &accelerating), ("knee table", &knee)] {
        assert_converges(name, hw, &levels);
    }
}

// ---------------------------------------------------------------------------------------------------------
// NeuroSim V2.1 open-loop scheme.

#[test]
fn open_loop_reproduces_neurosim_pulse_counts() {
    let hw = preset("neurosim_v21_openloop");
    let device = Device::new(&hw);
    let (g_min, range) = (hw.device.g_min_us, hw.range_us());
    let step = range / 96.0; // NeuroSim: (Gmax - Gmin) / (maxNumLevel - 1), maxNumLevel = 97
    let Device::Pulse(d) = &device else { panic!() };
    assert!((f64::from(d.open_loop_step_us(Polarity::Set)) - step).abs() < 1e-5);
    assert!((f64::from(d.open_loop_step_us(Polarity::Reset)) - step).abs() < 1e-5);
    // (start, in steps above g_min; target level; SET pulses; RESET pulses; final position in steps),
    // counted by hand: pulses = ceil(|target - start| / step).
    let cases = [
        (0.0, 1, 32, 0, 32.0),
        (0.0, 3, 96, 0, 96.0),
        (10.5, 1, 22, 0, 32.5),
        (50.2, 1, 0, 19, 31.2),
        (96.0, 0, 0, 96, 0.0),
        (64.0, 2, 0, 0, 64.0),
        (63.0, 2, 1, 0, 64.0),
        (0.25, 0, 0, 1, 0.0), // clipped at g_min
    ];
    let mut rng = rng::stream(1, Purpose::Device, 0);
    for (start, level, set, reset, end) in cases {
        let target = hw.device.level_us(level) as f32;
        let mut s = device.instantiate(0.0, &mut rng);
        s.g_us = (g_min + start * step) as f32;
        let r = device.open_loop_write(&mut s, target, &mut rng, &mut no_events);
        assert_eq!(
            (r.set_pulses, r.reset_pulses),
            (set, reset),
            "start {start} level {level}"
        );
        let want = g_min + end * step;
        assert!(
            (f64::from(s.g_us) - want).abs() < 2e-3,
            "start {start}: G {} vs {want}",
            s.g_us
        );
    }
}

#[test]
fn open_loop_energy_is_the_sum_of_v2_g_t() {
    // From g_min to level 1 on the linear device: 32 pulses, G rising by one step per pulse, so
    // E = V^2 t 1e-3 * sum_k (g_min + (k + 1/2) step) = V^2 t 1e-3 (32 g_min + 512 step).
    let hw = preset("neurosim_v21_openloop");
    let device = Device::new(&hw);
    let step = hw.range_us() / 96.0;
    let mut rng = rng::stream(1, Purpose::Device, 0);
    let target = hw.device.level_us(1) as f32;
    let mut s = device.instantiate(0.0, &mut rng);
    let r = device.open_loop_write(&mut s, target, &mut rng, &mut no_events);
    let want = 2.0 * 2.0 * 100.0 * 1e-3 * (32.0 * hw.device.g_min_us + 512.0 * step);
    assert!(
        (r.energy_pj - want).abs() < 1e-3 * want,
        "{} vs {want}",
        r.energy_pj
    );
}

// ---------------------------------------------------------------------------------------------------------
// Variation maps.

fn variation_hw(maps: Vec<VariationMapConfig>) -> HwConfig {
    let mut hw = preset("rram_1t1r_256");
    hw.device.variation.maps = maps;
    hw.validate().unwrap();
    hw
}

fn sites(n: u32, cols: u32, weight_norm: impl Fn(u32) -> f32, target: f32) -> Vec<DeviceSite> {
    (0..n)
        .map(|i| DeviceSite {
            array: 0,
            row: i / cols,
            col: i % cols,
            target_us: target,
            weight_norm: weight_norm(i),
        })
        .collect()
}

#[test]
fn band_normalisation_keeps_the_mean_variance() {
    let s = 3.0;
    let hw = variation_hw(vec![VariationMapConfig::Band {
        multiplier: s,
        low: 0.25,
        high: 0.75,
    }]);
    let map = VariationMap::new(&hw.device.variation, &hw.device, &hw.array);
    let base = hw.device.variation.sigma;
    // 40% of the weights inside the band (the authors' assumption), 60% outside on both sides.
    let wn = |i: u32| match i % 10 {
        0..=3 => 0.5,
        4..=6 => 0.1,
        _ => 0.9,
    };
    let sig = map.sigmas(1, 0, &sites(1000, 256, wn, 10.0));
    let norm = (0.4 * s * s + 0.6f64).sqrt();
    for (i, &x) in sig.iter().enumerate() {
        let want = if wn(i as u32) == 0.5 {
            base * s / norm
        } else {
            base / norm
        };
        assert!((f64::from(x) - want).abs() < 1e-6, "{x} vs {want}");
    }
    let mean_var = sig.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / sig.len() as f64;
    assert!((mean_var - base * base).abs() < 1e-6 * base * base, "{mean_var}");
    // The edges are outside the band (strict inequalities).
    assert_eq!(map.band_multiplier(0.25), 1.0 / norm);
    assert_eq!(map.band_multiplier(0.75), 1.0 / norm);
    assert_eq!(map.band_multiplier(0.5), s / norm);
}

#[test]
fn lognormal_multiplier_has_mean_one_and_log_std_sigma() {
    let s = 0.4;
    let hw = variation_hw(vec![VariationMapConfig::Lognormal { sigma_log: s }]);
    let map = VariationMap::new(&hw.device.variation, &hw.device, &hw.array);
    let base = hw.device.variation.sigma;
    let sig = map.sigmas(2, 0, &sites(200_000, 256, |_| 0.5, 10.0));
    let mult: Vec<f64> = sig.iter().map(|&x| f64::from(x) / base).collect();
    let logs: Vec<f64> = mult.iter().map(|m| m.ln()).collect();
    let n = mult.len() as f64;
    let (mean, _) = mean_std(&mult);
    let (log_mean, log_std) = mean_std(&logs);
    let se_mean = ((s * s).exp() - 1.0f64).sqrt() / n.sqrt();
    assert!((mean - 1.0).abs() < 3.0 * se_mean, "mean {mean}");
    assert!(
        (log_mean + s * s / 2.0).abs() < 3.0 * s / n.sqrt(),
        "log mean {log_mean}"
    );
    assert!(
        (log_std - s).abs() < 3.0 * s / (2.0 * n).sqrt(),
        "log std {log_std}"
    );
}

#[test]
fn outliers_hit_the_configured_fraction_with_the_configured_multiplier() {
    let (p, m) = (0.02, 8.0);
    let hw = variation_hw(vec![VariationMapConfig::Outliers {
        fraction: p,
        multiplier: m,
    }]);
    let map = VariationMap::new(&hw.device.variation, &hw.device, &hw.array);
    let base = hw.device.variation.sigma as f32;
    let n = 100_000;
    let sig = map.sigmas(3, 0, &sites(n, 256, |_| 0.5, 10.0));
    let outliers = sig.iter().filter(|&&x| x == base * m as f32).count() as f64;
    assert!(sig.iter().all(|&x| x == base || x == base * m as f32));
    let se = (p * (1.0 - p) / f64::from(n)).sqrt();
    assert!(
        (outliers / f64::from(n) - p).abs() < 3.0 * se,
        "fraction {}",
        outliers / f64::from(n)
    );
}

#[test]
fn level_poly_gives_the_polynomial_over_the_range() {
    let hw = preset("pcm_256");
    let map = VariationMap::new(&hw.device.variation, &hw.device, &hw.array);
    let targets: Vec<f32> = (0..4).map(|l| hw.device.level_us(l) as f32).collect();
    let s: Vec<DeviceSite> = targets
        .iter()
        .map(|&t| DeviceSite {
            array: 0,
            row: 0,
            col: 0,
            target_us: t,
            weight_norm: 0.5,
        })
        .collect();
    let sig = map.sigmas(1, 0, &s);
    // By hand at x = 0, 1/3, 2/3, 1 (g_max = 25 uS, range 25 uS):
    let hand_us = [
        0.26348,
        0.26348 + 1.9650 / 3.0 - 1.1731 / 9.0,
        0.26348 + 1.9650 * 2.0 / 3.0 - 1.1731 * 4.0 / 9.0,
        1.05538,
    ];
    for (got, want) in sig.iter().zip(hand_us) {
        assert!(
            (f64::from(*got) - want / 25.0).abs() < 1e-6,
            "{got} vs {}",
            want / 25.0
        );
    }
}

#[test]
fn spatial_gradient_and_per_array_factor() {
    let (rg, cg) = (0.5, -0.3);
    let hw = variation_hw(vec![VariationMapConfig::Spatial {
        row_gradient: rg,
        col_gradient: cg,
        array_sigma_log: 0.0,
    }]);
    let map = VariationMap::new(&hw.device.variation, &hw.device, &hw.array);
    let base = hw.device.variation.sigma;
    let (rows, cols) = (hw.array.rows, hw.array.cols);
    let corner = |row: u32, col: u32| DeviceSite {
        array: 0,
        row,
        col,
        target_us: 10.0,
        weight_norm: 0.5,
    };
    let s = [
        corner(0, 0),
        corner(rows - 1, 0),
        corner(0, cols - 1),
        corner(rows - 1, cols - 1),
        corner(85, 0),
    ];
    let sig = map.sigmas(1, 0, &s);
    let want = [
        1.0,
        1.0 + rg,
        1.0 + cg,
        (1.0 + rg) * (1.0 + cg),
        1.0 + rg * 85.0 / f64::from(rows - 1),
    ];
    for (got, w) in sig.iter().zip(want) {
        assert!((f64::from(*got) - base * w).abs() < 1e-6, "{got} vs {}", base * w);
    }
    // Per-array lognormal factor: one value per array (the same at every site of it), mean 1 over arrays.
    let s_log = 0.3;
    let hw = variation_hw(vec![VariationMapConfig::Spatial {
        row_gradient: 0.0,
        col_gradient: 0.0,
        array_sigma_log: s_log,
    }]);
    let map = VariationMap::new(&hw.device.variation, &hw.device, &hw.array);
    let arrays = 20_000;
    let factors: Vec<f64> = (0..arrays)
        .map(|a| {
            let sig = map.sigmas(5, a, &[corner(0, 0), corner(7, 9)]);
            assert_eq!(sig[0], sig[1]);
            f64::from(sig[0]) / base
        })
        .collect();
    let (mean, _) = mean_std(&factors);
    let se = ((s_log * s_log).exp() - 1.0f64).sqrt() / f64::from(arrays).sqrt();
    assert!((mean - 1.0).abs() < 3.0 * se, "mean factor {mean}");
}

#[test]
fn maps_compose_multiplicatively() {
    let band = VariationMapConfig::Band {
        multiplier: 2.0,
        low: 0.25,
        high: 0.75,
    };
    let logn = VariationMapConfig::Lognormal { sigma_log: 0.3 };
    let both = variation_hw(vec![band.clone(), logn.clone()]);
    let only_logn = variation_hw(vec![logn]);
    let only_band = variation_hw(vec![band, VariationMapConfig::Uniform {}]);
    let s = sites(500, 256, |i| (i % 10) as f32 / 10.0, 10.0);
    let sig = |hw: &HwConfig| VariationMap::new(&hw.device.variation, &hw.device, &hw.array).sigmas(9, 4, &s);
    let base = both.device.variation.sigma as f32;
    for ((b, l), o) in sig(&both).iter().zip(sig(&only_logn)).zip(sig(&only_band)) {
        assert!((b - l * o / base).abs() < 1e-6 * b.max(1e-3));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Determinism and the report command.

#[test]
fn same_seed_same_numbers_different_seed_different_numbers_any_thread_count() {
    let mut hw = preset("rram_1t1r_256");
    hw.array.rows = 16;
    hw.array.cols = 16; // several chunks per level
    hw.device.variation.maps = vec![VariationMapConfig::Lognormal { sigma_log: 0.3 }];
    let run = |threads: usize, seed: u64| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| report::run(&hw, &[1, 2], 1000, seed))
    };
    let a = run(1, 1);
    assert_eq!(a, run(2, 1));
    assert_eq!(a, run(1, 1));
    let b = run(2, 2);
    assert_ne!(a[0].error_sum_us, b[0].error_sum_us);
    assert_ne!(a[1].pulses, b[1].pulses);
}

#[test]
fn stream_draws_depend_only_on_the_stream() {
    let hw = preset("fefet_128");
    let wv = WriteVerify::new(&hw);
    let device = wv.device();
    let program = |rng: &mut Stream| {
        let target = hw.device.level_us(2) as f32;
        let mut s = device.instantiate(0.1, rng);
        device.open_loop_write(&mut s, target, rng, &mut no_events);
        let r = wv.run(&mut s, target, rng, &mut no_events);
        (s.g_us, r.reads)
    };
    let a: Vec<_> = (0..100)
        .map(|_| 0)
        .scan(rng::stream(1, Purpose::Program, 0), |r, _| Some(program(r)))
        .collect();
    let b: Vec<_> = (0..100)
        .map(|_| 0)
        .scan(rng::stream(1, Purpose::Program, 0), |r, _| Some(program(r)))
        .collect();
    let c: Vec<_> = (0..100)
        .map(|_| 0)
        .scan(rng::stream(2, Purpose::Program, 0), |r, _| Some(program(r)))
        .collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn device_report_cli_writes_the_csv_and_rejects_a_bad_level() {
    let dir = std::env::temp_dir().join(format!("uswim-device-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("report.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_uswim"))
        .args([
            "device",
            "--hw",
            "paper_statistical",
            "--trials",
            "500",
            "--seed",
            "3",
            "--out",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("level") && stdout.contains("pulses"), "{stdout}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Two levels and their total.
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[3].starts_with("all,,1000,1,"), "{}", lines[3]);
    assert!(lines[0].starts_with("level,target_us,trials,success_rate,pulses_mean,pulses_median"));
    assert!(lines[1].starts_with("0,0,500,1,"), "{}", lines[1]);
    // The explicit `report` subcommand gives the same numbers.
    let again = Command::new(env!("CARGO_BIN_EXE_uswim"))
        .args([
            "device",
            "report",
            "--hw",
            "paper_statistical",
            "--trials",
            "500",
            "--seed",
            "3",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&again.stdout), stdout);
    let bad = Command::new(env!("CARGO_BIN_EXE_uswim"))
        .args([
            "device",
            "--hw",
            "rram_1t1r_256",
            "--level",
            "4",
            "--trials",
            "10",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("--level") && err.contains("0..=3"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

// ---------------------------------------------------------------------------------------------------------
// One-shot writes and the RESET state.

/// The three pulse schemes a verifying chip can use, at amplitudes the RRAM device understands.
fn verifying_schemes() -> [(&'static str, PulseSchemeConfig); 3] {
    [
        (
            "fixed",
            PulseSchemeConfig::Fixed {
                set_v: 1.0,
                reset_v: 1.0,
                width_ns: 100.0,
            },
        ),
        (
            "ispp",
            PulseSchemeConfig::Ispp {
                set_start_v: 0.75,
                reset_start_v: 0.75,
                v_step_v: 0.01,
                v_max_v: 1.0,
                width_ns: 100.0,
            },
        ),
        (
            "adaptive",
            PulseSchemeConfig::Adaptive {
                gain_v: 1.0,
                v_min_v: 0.8,
                v_max_v: 1.2,
                width_ns: 100.0,
            },
        ),
    ]
}

/// A one-shot write from an exact RESET (no RESET-state spread) lands at
/// G - G_min = eta k (V - Vth_i) (1 + c2c z) with eta, Vth_i and z independent, so its mean is the
/// nominal step dG = k (V - Vth) and its variance (1 + cv^2)(dG^2 + k^2 s_v^2)(1 + c2c^2) - dG^2: checked
/// for each spread alone and together, under every verifying scheme (the scheme sets only the RESET
/// pulse and the DAC's full scale), at a middle level of a window wide enough that nothing clips.
#[test]
fn one_shot_error_std_follows_from_the_d2d_and_c2c_spreads() {
    // (eta relative std, Vth std in V, c2c)
    let spreads = [
        (0.2, 0.0, 0.0),
        (0.0, 0.05, 0.0),
        (0.0, 0.0, 0.1),
        (0.15, 0.04, 0.08),
    ];
    for (scheme_name, scheme) in verifying_schemes() {
        for (cv, s_v, c2c) in spreads {
            let mut hw = preset("rram_1t1r_256");
            hw.device.g_max_us = 500.0;
            hw.dac.bits = 16;
            hw.program.scheme = scheme.clone();
            let hw = with_model(hw, |p| {
                p.eta_d2d = cv;
                p.vth_d2d_v = s_v;
                p.c2c = c2c;
                p.hrs_spread = 0.0;
            });
            let Device::Pulse(d) = Device::new(&hw) else {
                panic!("pulse-level")
            };
            let DeviceModelConfig::Pulse(p) = &hw.device.model else {
                unreachable!()
            };
            let target = hw.device.level_us(1) as f32;
            let v = d.one_shot_v(target).expect("level 1 needs a SET") as f64;
            let k = p.k_set_us_per_v * (hw.program.scheme.width_ns() / p.t_ref_ns).powf(p.beta);
            let dg = k * (v - p.vth_set_v);
            let want_std =
                ((1.0 + cv * cv) * (dg * dg + k * k * s_v * s_v) * (1.0 + c2c * c2c) - dg * dg).sqrt();
            let device = Device::new(&hw);
            let mut rng = rng::stream(5, Purpose::Device, 0);
            let n = 40_000;
            let rises: Vec<f64> = (0..n)
                .map(|_| {
                    let mut s = device.instantiate(hw.device.variation.sigma as f32, &mut rng);
                    let r = device.open_loop_write(&mut s, target, &mut rng, &mut no_events);
                    assert_eq!((r.reset_pulses, r.set_pulses), (1, 1));
                    f64::from(s.g_us) - hw.device.g_min_us
                })
                .collect();
            let (mean, std) = mean_std(&rises);
            let name = format!("{scheme_name}, spreads {cv}/{s_v}/{c2c}");
            // The nominal device lands on the target (up to the 16-bit DAC's rounding).
            assert!(
                (dg - (f64::from(target) - hw.device.g_min_us)).abs() < 0.01,
                "{name}: {dg}"
            );
            assert!(
                (mean - dg).abs() < 4.0 * want_std / f64::from(n).sqrt() + 1e-3,
                "{name}: mean {mean} vs {dg}"
            );
            assert!(
                (std - want_std).abs() < 0.03 * want_std,
                "{name}: std {std} vs {want_std}"
            );
        }
    }
}

/// After a full RESET a device rests at G_min + R hrs_spread m |z|: a level-0 one-shot write (a RESET
/// and no SET) leaves the half-normal error of mean R h sqrt(2/pi) and std R h sqrt(1 - 2/pi), with
/// h scaled by the device's sigma multiplier m.
#[test]
fn reset_state_spread_is_half_normal_above_the_window_floor() {
    let hw = with_model(preset("rram_1t1r_256"), |p| p.hrs_spread = 0.02);
    let device = Device::new(&hw);
    let r = hw.range_us();
    let base = hw.device.variation.sigma as f32;
    let target = hw.device.level_us(0) as f32;
    let mut rng = rng::stream(6, Purpose::Device, 0);
    for m in [1.0f64, 2.0] {
        let h = 0.02 * m * r;
        let errors: Vec<f64> = (0..40_000)
            .map(|_| {
                let mut s = device.instantiate(base * m as f32, &mut rng);
                let rep = device.open_loop_write(&mut s, target, &mut rng, &mut no_events);
                assert_eq!((rep.reset_pulses, rep.set_pulses), (1, 0));
                f64::from(s.g_us - target)
            })
            .collect();
        let (mean, std) = mean_std(&errors);
        let want_mean = h * (2.0 / std::f64::consts::PI).sqrt();
        let want_std = h * (1.0 - 2.0 / std::f64::consts::PI).sqrt();
        assert!(errors.iter().all(|&e| e >= 0.0));
        assert!(
            (mean - want_mean).abs() < 0.02 * want_mean,
            "m {m}: mean {mean} vs {want_mean}"
        );
        assert!(
            (std - want_std).abs() < 0.03 * want_std,
            "m {m}: std {std} vs {want_std}"
        );
    }
}
