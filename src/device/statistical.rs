//! The statistical device (DESIGN.md section 3): the abstraction of the U-SWIM papers.
//!
//! An open-loop write lands at G = G* + R sigma_i z; a verify re-program draws a fresh error,
//! G = G* + R sigma_i retry_ratio z. With read noise ignored, the number of verify reads is geometric with
//! success probability p_i = P(|N(0, sigma_i retry_ratio)| <= tolerance), mean 1 / p_i (when the open-loop
//! write also uses retry_ratio 1).
//!
//! The conductance is not clipped to [g_min, g_max], and its verify reads use an ADC with headroom (same
//! step, no clamping): in the papers G - G* is an unbounded Gaussian error in weight units, and clipping
//! it (or saturating the ADC) would change both the error statistics and the iteration counts of the edge
//! levels (all levels of a 1-bit cell). Use the pulse-level device for a physically bounded window.
//! With `outcome = "gaussian"` a converged device's final error is replaced by N(0, (R sigma_wv)^2).

use super::normal::Normal;
use super::{DeviceEvent, DeviceModel, DeviceState, OpenLoopReport, Window};
use crate::config::{HwConfig, StatisticalConfig, StatisticalOutcome};
use crate::periph::{Dac, pulse_energy_pj};
use crate::pulse::{Polarity, PulseScheme};
use rand::Rng;

/// The statistical device model.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistical {
    pub(super) window: Window,
    scheme: PulseScheme,
    dac: Dac,
    normal: Normal,
    retry_ratio: f32,
    gaussian_outcome: bool,
    sigma_wv_us: f32,
}

impl Statistical {
    /// The model of `hw` with parameters `config`.
    pub fn new(hw: &HwConfig, config: &StatisticalConfig) -> Self {
        let window = Window::new(hw);
        let scheme = PulseScheme::new(&hw.program.scheme, 0.0, 0.0);
        Self {
            window,
            normal: Normal::new(),
            dac: Dac::new(&hw.dac, scheme.full_scale_v()),
            scheme,
            retry_ratio: config.retry_ratio as f32,
            gaussian_outcome: config.outcome == StatisticalOutcome::Gaussian,
            sigma_wv_us: (hw.device.variation.sigma_wv * hw.range_us()) as f32,
        }
    }

    /// The std of a re-program of this device, R sigma_i retry_ratio, in uS.
    #[inline(always)]
    pub fn retry_spread_us(&self, state: &DeviceState) -> f32 {
        self.window.range_us * state.sigma * self.retry_ratio
    }
}

impl DeviceModel for Statistical {
    const SATURATING: bool = false;
    /// R sigma_i retry_ratio: the std of a re-program, in uS.
    type Ready = f32;

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

    /// A fresh device at g_min; draws nothing.
    fn instantiate<R: Rng + ?Sized>(&self, sigma: f32, _: &mut R) -> DeviceState {
        DeviceState {
            g_us: self.window.g_min_us,
            sigma,
            eta: 1.0,
            vth_set_v: 0.0,
            vth_reset_v: 0.0,
            c2c: 0.0,
            hrs_us: 0.0,
        }
    }

    /// One write pulse to G* + R sigma_i z (SET if the target is at or above the current conductance;
    /// one normal draw), whatever `program.open_loop` says: the papers' one-shot write.
    #[inline]
    fn open_loop_write<R: Rng + ?Sized, S: FnMut(DeviceEvent)>(
        &self,
        state: &mut DeviceState,
        target_us: f32,
        rng: &mut R,
        sink: &mut S,
    ) -> OpenLoopReport {
        let g_before_us = state.g_us;
        let polarity = if target_us >= g_before_us {
            Polarity::Set
        } else {
            Polarity::Reset
        };
        let error = (target_us - g_before_us) / self.window.range_us;
        let amplitude_v =
            self.dac
                .quantize(self.scheme.amplitude_v(&mut self.scheme.start(), polarity, error));
        let z = self.normal.sample(rng);
        state.g_us = target_us + self.window.range_us * state.sigma * z;
        sink(DeviceEvent::Pulse {
            g_before_us,
            g_after_us: state.g_us,
            amplitude_v,
            width_ns: self.scheme.width_ns(),
            polarity,
        });
        let (set_pulses, reset_pulses) = match polarity {
            Polarity::Set => (1, 0),
            Polarity::Reset => (0, 1),
        };
        OpenLoopReport {
            set_pulses,
            reset_pulses,
            energy_pj: self.pulse_energy_pj(amplitude_v, g_before_us, state.g_us),
        }
    }

    #[inline(always)]
    fn ready(&self, state: &DeviceState) -> f32 {
        self.retry_spread_us(state)
    }

    #[inline(always)]
    fn correct<R: Rng + ?Sized>(
        &self,
        spread_us: f32,
        state: &mut DeviceState,
        target_us: f32,
        _: Polarity,
        _: f32,
        rng: &mut R,
    ) -> f32 {
        state.g_us = target_us + spread_us * self.normal.sample(rng);
        state.g_us
    }

    /// With `outcome = "gaussian"` the final error becomes N(0, (R sigma_wv)^2) (one normal draw);
    /// otherwise nothing changes and nothing is drawn.
    #[inline(always)]
    fn settle<R: Rng + ?Sized>(&self, state: &mut DeviceState, target_us: f32, rng: &mut R) {
        if self.gaussian_outcome {
            let z = self.normal.sample(rng);
            state.g_us = target_us + self.sigma_wv_us * z;
        }
    }

    /// V^2 times the mean conductance during the pulse (floored at 0: the unbounded abstraction can dip
    /// below 0) times the width.
    #[inline]
    fn pulse_energy_pj(&self, amplitude_v: f32, g_before_us: f32, g_after_us: f32) -> f64 {
        let g = (0.5 * (g_before_us + g_after_us)).max(0.0);
        pulse_energy_pj(
            f64::from(amplitude_v),
            f64::from(g),
            f64::from(self.scheme.width_ns()),
        )
    }
}
