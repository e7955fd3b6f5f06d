//! The pulse-level device (DESIGN.md section 3).
//!
//! A pulse of amplitude V, width t and polarity s moves the conductance by
//!
//! dG = s eta_i k_s max(0, V - Vth_i,s) (t / t_ref)^beta f_s(G) max(0, 1 + c2c_i z),
//!
//! then G is clipped to [G_min, G_max]. The state dependence is f_s(G) = x_s^nu_s T_s(G):
//! - the saturation law x_s^nu_s of the headroom x_SET = (G_max - G) / R, x_RESET = (G - G_min) / R. A
//!   positive exponent saturates (the step shrinks towards the window edge the pulse drives to), 0 is
//!   flat, a negative one accelerates (the step grows as the headroom shrinks: abrupt filamentary SET);
//!   for a negative exponent the headroom is floored at [`HEADROOM_FLOOR`], so f_s <= 1000^|nu| and a pulse
//!   below threshold at the edge gives 0, not 0 * inf = NaN;
//! - an optional step table T_s (1 without one): relative step factors at K evenly spaced conductances
//!   G_min + j R / (K - 1) (index 0 at G_min for both polarities), linearly interpolated and clamped at
//!   the ends, as CrossSim and aihwkit's PiecewiseStepDevice describe measured devices.
//!
//! Device-to-device: eta_i is lognormal with mean 1 and relative std eta_d2d m_i, Vth_i,s is
//! normal around the nominal threshold with std vth_d2d_v m_i (floored at 0), and c2c_i = c2c m_i, where
//! m_i = sigma_i / variation.sigma (1 when variation.sigma = 0). The factor max(0, 1 + c2c_i z) keeps a
//! pulse from moving G against its polarity.
//!
//! The RESET (high-resistance) state has its own spread: a full RESET (one pulse at the scheme's largest
//! RESET amplitude) leaves the device at G_min + hrs_i |z| with hrs_i = R hrs_spread m_i (one normal draw
//! when hrs_spread > 0): the deepest RESET reaches the window floor, a residual filament sits above it.
//!
//! Open-loop write (`program.open_loop`), what an unverified device gets and a verified one's first write:
//! - `one_shot`: a full RESET, then (above level 0) one SET pulse whose amplitude is set per target level
//!   from the nominal device (eta 1, nominal thresholds, no noise) starting at the nominal RESET state
//!   G_0 = G_min + R hrs_spread sqrt(2/pi): V_L = Vth_SET + (G*_L - G_0) / (k_SET f_SET(G_0)), realised by
//!   the DAC. The real device lands where its own eta, thresholds, RESET state and c2c noise take it: this
//!   is the gate-controlled compliance SET of a 1T1R cell (the gate voltage fixes the step), and its
//!   error is what d2d and c2c variation give. With hrs_spread = 0, vth below every amplitude and no
//!   clipping, G - G_min = eta k (V_L - Vth_i) (1 + c2c z) exactly, so the one-shot error std is
//!   sqrt((1 + cv^2)(dG^2 + k^2 s_v^2)(1 + c2c^2) - dG^2) with dG = k (V_L - Vth), cv the eta spread and
//!   s_v the threshold spread (tests/it/device.rs checks this closed form).
//! - `ramp` with the `open_loop` scheme: NeuroSim V2.1's ceil(|G* - G| / dG_min) pulses from the current
//!   conductance, dG_min being the nominal device's step for one pulse at f_s = 1 (NeuroSim's constant
//!   step, whatever the saturation law and table say); no RESET.
//! - `ramp` with a verifying scheme: a full RESET, then the nominal SET count for the target: the number
//!   of the scheme's SET pulses that brings the nominal device from G_min closest to G*, stopping early once
//!   it is within a tenth of the tolerance (a saturating device approaches G_max only asymptotically). The
//!   real device receives the same amplitudes.
//!
//! Every amplitude goes through the DAC ([`Dac::quantize`]): `dac.bits` codes over 0..=full scale, the
//! full scale being the largest amplitude the scheme or a one-shot write asks for.

use super::fmath::{at_least, within};
use super::normal::Normal;
use super::{DeviceEvent, DeviceModel, DeviceState, OpenLoopReport, Window};
use crate::config::{HEADROOM_FLOOR, HwConfig, OpenLoopConfig, PulseDeviceConfig};
use crate::periph::{Dac, pulse_energy_pj};
use crate::pulse::{Polarity, PulseScheme, open_loop};
use rand::Rng;

/// Most pulses the nominal open-loop count may take.
const MAX_OPEN_LOOP_PULSES: u32 = 10_000;

/// The nominal open-loop count stops once the nominal device is within this fraction of the tolerance
/// band's half-width of the target: further pulses of a saturating device would only creep closer.
const CLOSE_ENOUGH: f64 = 0.1;

/// The saturation law x^nu of the headroom x in [0, 1], specialised for the common exponents so that the
/// hot loop avoids `powf`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Saturation {
    Flat,
    Sqrt,
    Linear,
    ThreeHalves,
    Square,
    /// Any other positive exponent.
    Pow(f32),
    /// A negative exponent: max(x, HEADROOM_FLOOR)^nu, at most HEADROOM_FLOOR^nu.
    Accelerating(f32),
}

/// [`HEADROOM_FLOOR`] in the hot loop's precision.
const HEADROOM_FLOOR_F32: f32 = HEADROOM_FLOOR as f32;

impl Saturation {
    fn new(nu: f64) -> Self {
        match nu {
            0.0 => Saturation::Flat,
            0.5 => Saturation::Sqrt,
            1.0 => Saturation::Linear,
            1.5 => Saturation::ThreeHalves,
            2.0 => Saturation::Square,
            _ if nu < 0.0 => Saturation::Accelerating(nu as f32),
            _ => Saturation::Pow(nu as f32),
        }
    }

    /// x^nu for x in [0, 1] (the headroom floored for a negative nu).
    #[inline(always)]
    fn eval(self, x: f32) -> f32 {
        match self {
            Saturation::Flat => 1.0,
            Saturation::Sqrt => x.sqrt(),
            Saturation::Linear => x,
            Saturation::ThreeHalves => x * x.sqrt(),
            Saturation::Square => x * x,
            Saturation::Pow(nu) => x.powf(nu),
            Saturation::Accelerating(nu) => at_least(x, HEADROOM_FLOOR_F32).powf(nu),
        }
    }
}

/// A step table T(G) in the hot loop's precision: K - 1 linear segments over the window.
#[derive(Debug, Clone, PartialEq)]
struct StepTable {
    /// Per segment j: (T_j, T_{j+1} - T_j). A segment of equal ends has slope exactly 0, so a constant
    /// table evaluates to exactly its value everywhere.
    segments: Vec<(f32, f32)>,
    /// (K - 1) / R: segments per uS above g_min.
    segments_per_us: f32,
    /// K - 1 as f32: the position of g_max.
    last: f32,
}

impl StepTable {
    /// From a checked table (2..=256 values).
    fn new(values: &[f64], range_us: f64) -> Self {
        let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        let segments = values.windows(2).map(|w| (w[0], w[1] - w[0])).collect::<Vec<_>>();
        Self {
            last: segments.len() as f32,
            segments_per_us: (segments.len() as f64 / range_us) as f32,
            segments,
        }
    }

    /// T at `g_us`, `g_min_us` being the window's bottom: linear between the points, clamped at the ends.
    #[inline(always)]
    fn eval(&self, g_us: f32, g_min_us: f32) -> f32 {
        let u = within((g_us - g_min_us) * self.segments_per_us, 0.0, self.last);
        // u >= 0, so the cast truncates to floor(u); u = K - 1 (g_max) falls in the last segment.
        let j = (u as usize).min(self.segments.len() - 1);
        let (t, slope) = self.segments[j];
        t + (u - j as f32) * slope
    }
}

/// The pulse-level device model.
#[derive(Debug, Clone, PartialEq)]
pub struct PulseLevel {
    window: Window,
    scheme: PulseScheme,
    /// The DAC that realises every amplitude.
    dac: Dac,
    /// The unverified write.
    open_loop: OpenLoopConfig,
    /// R hrs_spread: the RESET-state spread scale at m = 1, in uS.
    hrs_us: f32,
    normal: Normal,
    inv_range: f32,
    /// k_SET (t / t_ref)^beta: uS per volt of overdrive for the scheme's pulse width.
    k_set: f32,
    /// k_RESET (t / t_ref)^beta.
    k_reset: f32,
    vth_set_v: f32,
    vth_reset_v: f32,
    sat_set: Saturation,
    sat_reset: Saturation,
    /// The SET step table, if any (checked once per pulse: a perfectly predicted branch).
    set_table: Option<StepTable>,
    /// The RESET step table, if any.
    reset_table: Option<StepTable>,
    c2c: f32,
    eta_d2d: f32,
    /// [`PulseLevel::log_std`] of eta_d2d: the lognormal eta's log std at m = 1.
    eta_log_std: f32,
    vth_d2d_v: f32,
    base_sigma: f32,
    /// The nominal open-loop count stops once the nominal device is this close to the target, in uS.
    close_enough_us: f32,
    /// The nominal SET count of each level's target (level_us as f32, count), computed once.
    level_counts: Vec<(f32, u32)>,
    /// The one-shot SET amplitude of each level's target (level_us as f32, DAC output in V; None for a
    /// target at or below the nominal RESET state), computed once.
    level_one_shot_v: Vec<(f32, Option<f32>)>,
    /// levels - 1 over the range: a target's level index before rounding, per uS above g_min.
    levels_per_us: f32,
}

impl PulseLevel {
    /// The model of `hw` with parameters `config`.
    pub fn new(hw: &HwConfig, config: &PulseDeviceConfig) -> Self {
        let window = Window::new(hw);
        let width_factor = (hw.program.scheme.width_ns() / config.t_ref_ns).powf(config.beta);
        let scheme = PulseScheme::new(&hw.program.scheme, config.vth_set_v, config.vth_reset_v);
        let mut device = Self {
            window,
            normal: Normal::new(),
            dac: Dac::new(&hw.dac, scheme.full_scale_v()),
            scheme,
            open_loop: hw.program.open_loop,
            hrs_us: (config.hrs_spread * hw.range_us()) as f32,
            inv_range: 1.0 / window.range_us,
            k_set: (config.k_set_us_per_v * width_factor) as f32,
            k_reset: (config.k_reset_us_per_v * width_factor) as f32,
            vth_set_v: config.vth_set_v as f32,
            vth_reset_v: config.vth_reset_v as f32,
            sat_set: Saturation::new(config.nu_set),
            sat_reset: Saturation::new(config.nu_reset),
            set_table: config
                .set_step_table
                .as_deref()
                .map(|t| StepTable::new(t, hw.range_us())),
            reset_table: config
                .reset_step_table
                .as_deref()
                .map(|t| StepTable::new(t, hw.range_us())),
            c2c: config.c2c as f32,
            eta_d2d: config.eta_d2d as f32,
            eta_log_std: Self::log_std(config.eta_d2d as f32),
            vth_d2d_v: config.vth_d2d_v as f32,
            base_sigma: hw.device.variation.sigma as f32,
            close_enough_us: (CLOSE_ENOUGH * hw.program.tolerance * hw.range_us()) as f32,
            level_counts: Vec::new(),
            level_one_shot_v: Vec::new(),
            levels_per_us: (f64::from(hw.device.levels() - 1) / hw.range_us()) as f32,
        };
        let targets: Vec<f32> = (0..hw.device.levels())
            .map(|level| hw.device.level_us(level) as f32)
            .collect();
        // The DAC spans every amplitude asked for: the scheme's and the one-shot writes'.
        let one_shot_max_v = match device.open_loop {
            OpenLoopConfig::OneShot {} => targets
                .iter()
                .filter_map(|&t| device.nominal_one_shot_v(t))
                .fold(0.0f32, f32::max),
            OpenLoopConfig::Ramp {} => 0.0,
        };
        device.dac = Dac::new(
            &hw.dac,
            device.scheme.full_scale_v().max(f64::from(one_shot_max_v)),
        );
        device.level_counts = targets
            .iter()
            .map(|&t| (t, device.count_nominal_set_pulses(t)))
            .collect();
        device.level_one_shot_v = targets
            .iter()
            .map(|&t| (t, device.nominal_one_shot_v(t).map(|v| device.dac.quantize(v))))
            .collect();
        device
    }

    /// The nominal RESET state G_min + R hrs_spread sqrt(2 / pi) (the mean of the half-normal), in uS.
    pub fn nominal_hrs_us(&self) -> f32 {
        self.window.g_min_us
            + self.hrs_us * std::f32::consts::FRAC_2_SQRT_PI * std::f32::consts::FRAC_1_SQRT_2
    }

    /// The amplitude of the one SET pulse that takes the nominal device from its RESET state to
    /// `target_us`, before the DAC; `None` when the target is at or below the nominal RESET state.
    fn nominal_one_shot_v(&self, target_us: f32) -> Option<f32> {
        let mut nominal = self.nominal_state();
        nominal.g_us = self.nominal_hrs_us();
        let gap_us = target_us - nominal.g_us;
        if gap_us <= 1e-6 * self.window.range_us {
            return None;
        }
        // drift(V) = k f (V - Vth) for V above threshold: solve for one volt of overdrive.
        let per_volt = self.drift(&nominal, Polarity::Set, self.vth_set_v + 1.0);
        (per_volt > 0.0).then(|| self.vth_set_v + gap_us / per_volt)
    }

    /// The one-shot SET amplitude (the DAC's output) for `target_us`; precomputed for the levels.
    pub fn one_shot_v(&self, target_us: f32) -> Option<f32> {
        let index = ((target_us - self.window.g_min_us) * self.levels_per_us + 0.5).max(0.0) as usize;
        match self.level_one_shot_v.get(index) {
            Some(&(level_target, v)) if level_target == target_us => v,
            _ => self.nominal_one_shot_v(target_us).map(|v| self.dac.quantize(v)),
        }
    }

    /// The spread scale m_i of a device with variation `sigma`.
    pub fn spread_scale(&self, sigma: f32) -> f32 {
        if self.base_sigma > 0.0 {
            sigma / self.base_sigma
        } else {
            1.0
        }
    }

    /// A fresh device at g_min: draws eta_i, Vth_SET,i and Vth_RESET,i (three normal draws, in that order).
    pub fn instantiate<R: Rng + ?Sized>(&self, sigma: f32, rng: &mut R) -> DeviceState {
        let m = self.spread_scale(sigma);
        let z_eta = self.normal.sample(rng);
        let z_set = self.normal.sample(rng);
        let z_reset = self.normal.sample(rng);
        // Lognormal with mean 1 and relative std cv: ln eta ~ N(-s^2/2, s^2), s^2 = ln(1 + cv^2); s is
        // computed once for devices at the base sigma (m = 1), the usual case.
        let s = if m == 1.0 {
            self.eta_log_std
        } else {
            Self::log_std(self.eta_d2d * m)
        };
        DeviceState {
            g_us: self.window.g_min_us,
            sigma,
            eta: (s * z_eta - 0.5 * s * s).exp(),
            vth_set_v: (self.vth_set_v + self.vth_d2d_v * m * z_set).max(0.0),
            vth_reset_v: (self.vth_reset_v + self.vth_d2d_v * m * z_reset).max(0.0),
            c2c: self.c2c * m,
            hrs_us: self.hrs_us * m,
        }
    }

    /// The std s of ln eta for a lognormal eta of mean 1 and relative std `cv`: s^2 = ln(1 + cv^2).
    fn log_std(cv: f32) -> f32 {
        (1.0 + cv * cv).ln().sqrt()
    }

    /// The nominal device: eta 1, nominal thresholds, no noise.
    pub fn nominal_state(&self) -> DeviceState {
        DeviceState {
            g_us: self.window.g_min_us,
            sigma: 0.0,
            eta: 1.0,
            vth_set_v: self.vth_set_v,
            vth_reset_v: self.vth_reset_v,
            c2c: 0.0,
            hrs_us: 0.0,
        }
    }

    /// The conductance change of one pulse before noise and clipping (uS, signed).
    #[inline(always)]
    fn drift(&self, state: &DeviceState, polarity: Polarity, amplitude_v: f32) -> f32 {
        let g = state.g_us;
        match polarity {
            Polarity::Set => {
                let x = (self.window.g_max_us - g) * self.inv_range;
                let mut f = self.sat_set.eval(x);
                if let Some(table) = &self.set_table {
                    f *= table.eval(g, self.window.g_min_us);
                }
                state.eta * self.k_set * at_least(amplitude_v - state.vth_set_v, 0.0) * f
            }
            Polarity::Reset => {
                let x = (g - self.window.g_min_us) * self.inv_range;
                let mut f = self.sat_reset.eval(x);
                if let Some(table) = &self.reset_table {
                    f *= table.eval(g, self.window.g_min_us);
                }
                -(state.eta * self.k_reset * at_least(amplitude_v - state.vth_reset_v, 0.0) * f)
            }
        }
    }

    /// One pulse: moves and clips G; draws one normal when the device has cycle-to-cycle noise.
    #[inline(always)]
    pub fn step<R: Rng + ?Sized>(
        &self,
        state: &mut DeviceState,
        polarity: Polarity,
        amplitude_v: f32,
        rng: &mut R,
    ) -> f32 {
        let mut dg = self.drift(state, polarity, amplitude_v);
        if state.c2c > 0.0 {
            let z = self.normal.sample(rng);
            dg *= at_least(1.0 + state.c2c * z, 0.0);
        }
        state.g_us = within(state.g_us + dg, self.window.g_min_us, self.window.g_max_us);
        state.g_us
    }

    /// The nominal step of one pulse of `polarity` at f_s = 1 (full headroom and table factor 1, whatever
    /// the saturation exponent and step table) with the `open_loop` scheme's amplitude: NeuroSim's dG_min,
    /// in uS.
    pub fn open_loop_step_us(&self, polarity: Polarity) -> f32 {
        let v = self.scheme.max_amplitude_v(polarity);
        match polarity {
            Polarity::Set => self.k_set * (v - self.vth_set_v).max(0.0),
            Polarity::Reset => self.k_reset * (v - self.vth_reset_v).max(0.0),
        }
    }

    /// The nominal SET count for `target_us` from G_min (see the module docs); precomputed for the levels.
    pub fn nominal_set_pulses(&self, target_us: f32) -> u32 {
        let index = ((target_us - self.window.g_min_us) * self.levels_per_us + 0.5).max(0.0) as usize;
        match self.level_counts.get(index) {
            Some(&(level_target, count)) if level_target == target_us => count,
            _ => self.count_nominal_set_pulses(target_us),
        }
    }

    fn count_nominal_set_pulses(&self, target_us: f32) -> u32 {
        let mut nominal = self.nominal_state();
        let mut scheme_state = self.scheme.start();
        let stall_us = 1e-4 * self.window.range_us;
        for n in 0..MAX_OPEN_LOOP_PULSES {
            let g = nominal.g_us;
            if target_us - g <= self.close_enough_us {
                return n;
            }
            let error = (target_us - g) * self.inv_range;
            let v = self
                .dac
                .quantize(self.scheme.amplitude_v(&mut scheme_state, Polarity::Set, error));
            let next = (g + self.drift(&nominal, Polarity::Set, v)).min(self.window.g_max_us);
            if next >= target_us {
                return if next - target_us <= target_us - g {
                    n + 1
                } else {
                    n
                };
            }
            let can_rise =
                matches!(self.scheme, PulseScheme::Ispp(_)) && v < self.scheme.max_amplitude_v(Polarity::Set);
            if next - g < stall_us && !can_rise {
                // No further pulse gets meaningfully closer (saturated, or below threshold for good).
                return n;
            }
            nominal.g_us = next;
        }
        MAX_OPEN_LOOP_PULSES
    }

    /// A full RESET: one pulse at the scheme's largest RESET amplitude, leaving the device at
    /// G_min + hrs_i |z| (one normal draw when hrs_i > 0).
    fn reset_to_hrs<R: Rng + ?Sized, S: FnMut(DeviceEvent)>(
        &self,
        state: &mut DeviceState,
        rng: &mut R,
        sink: &mut S,
        report: &mut OpenLoopReport,
    ) {
        let v = self.dac.quantize(self.scheme.max_amplitude_v(Polarity::Reset));
        let g_before_us = state.g_us;
        let residual_us = if state.hrs_us > 0.0 {
            state.hrs_us * self.normal.sample(rng).abs()
        } else {
            0.0
        };
        state.g_us = (self.window.g_min_us + residual_us).min(self.window.g_max_us);
        sink(DeviceEvent::Pulse {
            g_before_us,
            g_after_us: state.g_us,
            amplitude_v: v,
            width_ns: self.scheme.width_ns(),
            polarity: Polarity::Reset,
        });
        report.reset_pulses += 1;
        report.energy_pj += self.pulse_energy_pj(v, g_before_us, state.g_us);
    }

    fn apply<R: Rng + ?Sized, S: FnMut(DeviceEvent)>(
        &self,
        state: &mut DeviceState,
        polarity: Polarity,
        amplitude_v: f32,
        rng: &mut R,
        sink: &mut S,
        report: &mut OpenLoopReport,
    ) {
        let g_before_us = state.g_us;
        let g_after_us = self.step(state, polarity, amplitude_v, rng);
        sink(DeviceEvent::Pulse {
            g_before_us,
            g_after_us,
            amplitude_v,
            width_ns: self.scheme.width_ns(),
            polarity,
        });
        match polarity {
            Polarity::Set => report.set_pulses += 1,
            Polarity::Reset => report.reset_pulses += 1,
        }
        report.energy_pj += self.pulse_energy_pj(amplitude_v, g_before_us, g_after_us);
    }

    /// Energy of a pulse that moved the device from `g_before_us` to `g_after_us`: V^2 times the mean
    /// conductance during the pulse times the width.
    #[inline]
    pub fn pulse_energy_pj(&self, amplitude_v: f32, g_before_us: f32, g_after_us: f32) -> f64 {
        let g = 0.5 * (g_before_us + g_after_us);
        pulse_energy_pj(
            f64::from(amplitude_v),
            f64::from(g),
            f64::from(self.scheme.width_ns()),
        )
    }
}

impl DeviceModel for PulseLevel {
    const SATURATING: bool = true;
    type Ready = ();

    fn window(&self) -> Window {
        self.window
    }

    #[inline(always)]
    fn scheme(&self) -> &PulseScheme {
        &self.scheme
    }

    #[inline(always)]
    fn dac(&self) -> &Dac {
        &self.dac
    }

    fn instantiate<R: Rng + ?Sized>(&self, sigma: f32, rng: &mut R) -> DeviceState {
        PulseLevel::instantiate(self, sigma, rng)
    }

    /// The open-loop write of `program.open_loop` (see the module docs).
    fn open_loop_write<R: Rng + ?Sized, S: FnMut(DeviceEvent)>(
        &self,
        state: &mut DeviceState,
        target_us: f32,
        rng: &mut R,
        sink: &mut S,
    ) -> OpenLoopReport {
        let mut report = OpenLoopReport::default();
        match self.open_loop {
            OpenLoopConfig::OneShot {} => {
                self.reset_to_hrs(state, rng, sink, &mut report);
                if let Some(v) = self.one_shot_v(target_us) {
                    self.apply(state, Polarity::Set, v, rng, sink, &mut report);
                }
            }
            OpenLoopConfig::Ramp {} if !self.scheme.verifies() => {
                let delta = target_us - state.g_us;
                let polarity = if delta >= 0.0 {
                    Polarity::Set
                } else {
                    Polarity::Reset
                };
                let count =
                    open_loop::pulse_count(f64::from(delta), f64::from(self.open_loop_step_us(polarity)));
                let v = self.dac.quantize(self.scheme.max_amplitude_v(polarity));
                for _ in 0..count {
                    self.apply(state, polarity, v, rng, sink, &mut report);
                }
            }
            OpenLoopConfig::Ramp {} => {
                self.reset_to_hrs(state, rng, sink, &mut report);
                let count = self.nominal_set_pulses(target_us);
                let mut nominal = self.nominal_state();
                let mut scheme_state = self.scheme.start();
                for _ in 0..count {
                    let error = (target_us - nominal.g_us) * self.inv_range;
                    let v =
                        self.dac
                            .quantize(self.scheme.amplitude_v(&mut scheme_state, Polarity::Set, error));
                    nominal.g_us =
                        (nominal.g_us + self.drift(&nominal, Polarity::Set, v)).min(self.window.g_max_us);
                    self.apply(state, Polarity::Set, v, rng, sink, &mut report);
                }
            }
        }
        report
    }

    #[inline(always)]
    fn ready(&self, _: &DeviceState) {}

    #[inline(always)]
    fn correct<R: Rng + ?Sized>(
        &self,
        _: (),
        state: &mut DeviceState,
        _: f32,
        polarity: Polarity,
        amplitude_v: f32,
        rng: &mut R,
    ) -> f32 {
        self.step(state, polarity, amplitude_v, rng)
    }

    #[inline(always)]
    fn settle<R: Rng + ?Sized>(&self, _: &mut DeviceState, _: f32, _: &mut R) {}

    /// V^2 times the mean conductance during the pulse times the width.
    #[inline]
    fn pulse_energy_pj(&self, amplitude_v: f32, g_before_us: f32, g_after_us: f32) -> f64 {
        PulseLevel::pulse_energy_pj(self, amplitude_v, g_before_us, g_after_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, DeviceModelConfig};
    use crate::rng::{Purpose, stream};

    fn pulse_level(preset: &str) -> (HwConfig, PulseLevel) {
        let hw = config::load(preset, &[]).unwrap();
        let DeviceModelConfig::Pulse(c) = &hw.device.model else {
            panic!("{preset} is pulse-level")
        };
        let d = PulseLevel::new(&hw, c);
        (hw, d)
    }

    #[test]
    fn step_table_interpolates_linearly_and_clamps_at_the_ends() {
        // Points at G = 2, 18, 34, 50 uS (window 2..50 uS, K = 4).
        let t = StepTable::new(&[4.0, 4.0, 1.0, 0.5], 48.0);
        for (g, want) in [
            (2.0, 4.0),
            (10.0, 4.0),
            (18.0, 4.0),
            (26.0, 2.5),
            (30.0, 1.75),
            (34.0, 1.0),
            (42.0, 0.75),
            (50.0, 0.5),
            (0.0, 4.0),
            (60.0, 0.5),
        ] {
            let got = t.eval(g, 2.0);
            assert!((got - want).abs() < 1e-6, "T({g}) = {got}, want {want}");
        }
        // A constant table is exactly constant (slopes exactly 0), the ends included.
        let c = StepTable::new(&[2.5; 7], 48.0);
        assert!((0..=480).all(|i| c.eval(2.0 + i as f32 * 0.1, 2.0) == 2.5));
    }

    #[test]
    fn negative_exponents_accelerate_with_a_floored_headroom() {
        assert_eq!(Saturation::new(1.0), Saturation::Linear);
        assert_eq!(Saturation::new(0.7), Saturation::Pow(0.7));
        assert_eq!(Saturation::new(-0.0), Saturation::Flat);
        let s = Saturation::new(-1.0);
        assert_eq!(s, Saturation::Accelerating(-1.0));
        assert_eq!(s.eval(1.0), 1.0);
        assert!((s.eval(0.25) - 4.0).abs() < 1e-6);
        // At and below the floor: 1 / HEADROOM_FLOOR, finite.
        for x in [HEADROOM_FLOOR_F32, 5e-4, 0.0] {
            assert!((s.eval(x) - 1000.0).abs() < 1e-2, "{x}: {}", s.eval(x));
        }
        let steep = Saturation::new(-3.0);
        assert!((steep.eval(0.0) / 1e9 - 1.0).abs() < 1e-4 && steep.eval(0.0).is_finite());
        assert!((steep.eval(0.5) - 8.0).abs() < 1e-5);
    }

    #[test]
    fn nominal_count_brings_the_nominal_device_close_to_every_level() {
        for preset in ["rram_1t1r_256", "fefet_128"] {
            let (hw, d) = pulse_level(preset);
            let mut rng = stream(1, Purpose::Device, 0);
            for level in 0..hw.device.levels() {
                let target = hw.device.level_us(level) as f32;
                // Cached and computed counts agree; a target off the levels is computed.
                assert_eq!(d.nominal_set_pulses(target), d.count_nominal_set_pulses(target));
                let mut nominal = d.nominal_state();
                d.open_loop_write(&mut nominal, target, &mut rng, &mut |_| {});
                let tol = (hw.program.tolerance * hw.range_us()) as f32;
                assert!(
                    (nominal.g_us - target).abs() <= tol,
                    "{preset} level {level}: {}",
                    nominal.g_us
                );
            }
            let off = hw.device.level_us(1) as f32 + 0.37;
            assert!(d.nominal_set_pulses(off) >= d.nominal_set_pulses(hw.device.level_us(1) as f32));
        }
        // The linear NeuroSim device: exactly 32 pulses of R/96 per level step.
        let (hw, d) = pulse_level("neurosim_v21_openloop");
        assert_eq!(d.nominal_set_pulses(hw.device.level_us(1) as f32), 32);
        assert_eq!(d.nominal_set_pulses(hw.device.level_us(3) as f32), 96);
    }
}
