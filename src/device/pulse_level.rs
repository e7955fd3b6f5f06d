//! The pulse-level device (DESIGN.md section 3).
//!
//! A pulse of amplitude V, width t and polarity s moves the conductance by
//!
//! dG = s eta_i k_s max(0, V - Vth_i,s) (t / t_ref)^beta f_s(G) max(0, 1 + c2c_i z),
//!
//! with f_SET(G) = ((G_max - G) / R)^nu_SET and f_RESET(G) = ((G - G_min) / R)^nu_RESET, then G is clipped to
//! [G_min, G_max]. Device-to-device: eta_i is lognormal with mean 1 and relative std eta_d2d m_i, Vth_i,s is
//! normal around the nominal threshold with std vth_d2d_v m_i (floored at 0), and c2c_i = c2c m_i, where
//! m_i = sigma_i / variation.sigma (1 when variation.sigma = 0). The factor max(0, 1 + c2c_i z) keeps a
//! pulse from moving G against its polarity.
//!
//! Open-loop write: for the `open_loop` scheme, NeuroSim V2.1's ceil(|G* - G| / dG_min) pulses from the
//! current conductance, where dG_min is the nominal device's step for one pulse at full headroom (f_s = 1);
//! for the other schemes, a full RESET (one pulse at the scheme's largest RESET amplitude that leaves the
//! device at G_min) and then the nominal SET count for the target: the number of the scheme's SET pulses
//! that brings the nominal device (eta 1, nominal thresholds, no noise) from G_min closest to G*, stopping
//! early once it is within a tenth of the tolerance (a saturating device approaches G_max only
//! asymptotically). The real device receives the same amplitudes, and lands where its own eta, thresholds
//! and noise take it.

use super::fmath::{at_least, within};
use super::normal::Normal;
use super::{DeviceEvent, DeviceState, OpenLoopReport, Window};
use crate::config::{HwConfig, PulseDeviceConfig};
use crate::periph::pulse_energy_pj;
use crate::pulse::{Polarity, PulseScheme, open_loop};
use rand::Rng;

/// Most pulses the nominal open-loop count may take.
const MAX_OPEN_LOOP_PULSES: u32 = 10_000;

/// The nominal open-loop count stops once the nominal device is within this fraction of the tolerance
/// band's half-width of the target: further pulses of a saturating device would only creep closer.
const CLOSE_ENOUGH: f64 = 0.1;

/// The saturation law ((headroom) / R)^nu, specialised for the common exponents so that the hot loop
/// avoids `powf`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Saturation {
    Flat,
    Sqrt,
    Linear,
    ThreeHalves,
    Square,
    Pow(f32),
}

impl Saturation {
    fn new(nu: f64) -> Self {
        match nu {
            0.0 => Saturation::Flat,
            0.5 => Saturation::Sqrt,
            1.0 => Saturation::Linear,
            1.5 => Saturation::ThreeHalves,
            2.0 => Saturation::Square,
            _ => Saturation::Pow(nu as f32),
        }
    }

    /// x^nu for x in [0, 1].
    #[inline(always)]
    fn eval(self, x: f32) -> f32 {
        match self {
            Saturation::Flat => 1.0,
            Saturation::Sqrt => x.sqrt(),
            Saturation::Linear => x,
            Saturation::ThreeHalves => x * x.sqrt(),
            Saturation::Square => x * x,
            Saturation::Pow(nu) => x.powf(nu),
        }
    }
}

/// The pulse-level device model.
#[derive(Debug, Clone, PartialEq)]
pub struct PulseLevel {
    pub(super) window: Window,
    pub(super) scheme: PulseScheme,
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
    c2c: f32,
    eta_d2d: f32,
    vth_d2d_v: f32,
    base_sigma: f32,
    /// The nominal open-loop count stops once the nominal device is this close to the target, in uS.
    close_enough_us: f32,
    /// The nominal SET count of each level's target (level_us as f32, count), computed once.
    level_counts: Vec<(f32, u32)>,
    /// levels - 1 over the range: a target's level index before rounding, per uS above g_min.
    levels_per_us: f32,
}

impl PulseLevel {
    /// The model of `hw` with parameters `config`.
    pub fn new(hw: &HwConfig, config: &PulseDeviceConfig) -> Self {
        let window = Window::new(hw);
        let width_factor = (hw.program.scheme.width_ns() / config.t_ref_ns).powf(config.beta);
        let mut device = Self {
            window,
            normal: Normal::new(),
            scheme: PulseScheme::new(&hw.program.scheme, config.vth_set_v, config.vth_reset_v),
            inv_range: 1.0 / window.range_us,
            k_set: (config.k_set_us_per_v * width_factor) as f32,
            k_reset: (config.k_reset_us_per_v * width_factor) as f32,
            vth_set_v: config.vth_set_v as f32,
            vth_reset_v: config.vth_reset_v as f32,
            sat_set: Saturation::new(config.nu_set),
            sat_reset: Saturation::new(config.nu_reset),
            c2c: config.c2c as f32,
            eta_d2d: config.eta_d2d as f32,
            vth_d2d_v: config.vth_d2d_v as f32,
            base_sigma: hw.device.variation.sigma as f32,
            close_enough_us: (CLOSE_ENOUGH * hw.program.tolerance * hw.range_us()) as f32,
            level_counts: Vec::new(),
            levels_per_us: (f64::from(hw.device.levels() - 1) / hw.range_us()) as f32,
        };
        device.level_counts = (0..hw.device.levels())
            .map(|level| {
                let target = hw.device.level_us(level) as f32;
                (target, device.count_nominal_set_pulses(target))
            })
            .collect();
        device
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
        // Lognormal with mean 1 and relative std cv: ln eta ~ N(-s^2/2, s^2), s^2 = ln(1 + cv^2).
        let cv = self.eta_d2d * m;
        let s = (1.0 + cv * cv).ln().sqrt();
        DeviceState {
            g_us: self.window.g_min_us,
            sigma,
            eta: (s * z_eta - 0.5 * s * s).exp(),
            vth_set_v: (self.vth_set_v + self.vth_d2d_v * m * z_set).max(0.0),
            vth_reset_v: (self.vth_reset_v + self.vth_d2d_v * m * z_reset).max(0.0),
            c2c: self.c2c * m,
        }
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
        }
    }

    /// The conductance change of one pulse before noise and clipping (uS, signed).
    #[inline(always)]
    fn drift(&self, state: &DeviceState, polarity: Polarity, amplitude_v: f32) -> f32 {
        let g = state.g_us;
        match polarity {
            Polarity::Set => {
                let x = (self.window.g_max_us - g) * self.inv_range;
                state.eta * self.k_set * at_least(amplitude_v - state.vth_set_v, 0.0) * self.sat_set.eval(x)
            }
            Polarity::Reset => {
                let x = (g - self.window.g_min_us) * self.inv_range;
                -(state.eta
                    * self.k_reset
                    * at_least(amplitude_v - state.vth_reset_v, 0.0)
                    * self.sat_reset.eval(x))
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

    /// The nominal step of one pulse of `polarity` at full headroom (f_s = 1) with the `open_loop` scheme's
    /// amplitude: NeuroSim's dG_min, in uS.
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
            let v = self.scheme.amplitude_v(&mut scheme_state, Polarity::Set, error);
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

    /// Open-loop write (see the module docs).
    pub fn open_loop_write<R: Rng + ?Sized, S: FnMut(DeviceEvent)>(
        &self,
        state: &mut DeviceState,
        target_us: f32,
        rng: &mut R,
        sink: &mut S,
    ) -> OpenLoopReport {
        let mut report = OpenLoopReport::default();
        let width_ns = self.scheme.width_ns();
        if !self.scheme.verifies() {
            let delta = target_us - state.g_us;
            let polarity = if delta >= 0.0 {
                Polarity::Set
            } else {
                Polarity::Reset
            };
            let count = open_loop::pulse_count(f64::from(delta), f64::from(self.open_loop_step_us(polarity)));
            let v = self.scheme.max_amplitude_v(polarity);
            for _ in 0..count {
                self.apply(state, polarity, v, rng, sink, &mut report);
            }
            return report;
        }
        if state.g_us > self.window.g_min_us {
            let v = self.scheme.max_amplitude_v(Polarity::Reset);
            let g_before_us = state.g_us;
            state.g_us = self.window.g_min_us;
            sink(DeviceEvent::Pulse {
                g_before_us,
                g_after_us: state.g_us,
                amplitude_v: v,
                width_ns,
                polarity: Polarity::Reset,
            });
            report.reset_pulses += 1;
            report.energy_pj += self.pulse_energy_pj(v, g_before_us, state.g_us);
        }
        let count = self.nominal_set_pulses(target_us);
        let mut nominal = self.nominal_state();
        let mut scheme_state = self.scheme.start();
        for _ in 0..count {
            let error = (target_us - nominal.g_us) * self.inv_range;
            let v = self.scheme.amplitude_v(&mut scheme_state, Polarity::Set, error);
            nominal.g_us = (nominal.g_us + self.drift(&nominal, Polarity::Set, v)).min(self.window.g_max_us);
            self.apply(state, Polarity::Set, v, rng, sink, &mut report);
        }
        report
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
