//! Device physics: the statistical device and the pulse-level device behind one interface.
//!
//! Contract (what the programmer relies on):
//! - [`Device::new`] builds the model of a checked configuration once; [`Device::instantiate`] makes one
//!   device (a small [`DeviceState`]: its conductance and the per-device constants drawn from its variation
//!   sigma) at g_min;
//! - [`Device::open_loop_write`] programs a device without verify and [`Device::pulse`] gives it one pulse;
//! - [`WriteVerify::read`] is one verify read (read noise, then the ADC's quantised value) and
//!   [`WriteVerify::run`] the whole write-verify loop of one device:
//!   read; if |read - G*| <= tolerance * R the device has converged; else if `max_iterations` reads have
//!   been made it has failed (it keeps its conductance); else one correction pulse from the pulse scheme
//!   and read again. So a device converged at read r had r - 1 pulses; a failed one `max_iterations` reads
//!   and `max_iterations - 1` pulses.
//! - Every random draw comes from the `rng` the caller passes, in a fixed order, so a device's history is
//!   a function of (its stream position, its inputs) only.
//! - Device-level events go to a generic `sink: &mut impl FnMut(DeviceEvent)`; a no-op closure compiles to
//!   nothing.
//!
//! What the variation sigma of a device means:
//! - **statistical** ([`Statistical`]): the std of its open-loop write error as a fraction of the range R:
//!   an open-loop write lands at G* + R sigma_i z; a verify re-program at G* + R sigma_i retry_ratio z.
//! - **pulse-level** ([`PulseLevel`]): a scale m_i = sigma_i / variation.sigma (m_i = 1 when
//!   variation.sigma = 0) on the device-to-device spreads (relative std of eta_i: eta_d2d * m_i; std of
//!   Vth_i: vth_d2d_v * m_i) and on the cycle-to-cycle spread (c2c * m_i). A device with twice the base
//!   sigma is twice as variable in every respect; its open-loop error then follows from the physics.
//!
//! Dispatch is a `match` on closed enums ([`Device`], [`crate::pulse::PulseScheme`]), not `Box<dyn>`: the
//! calls sit in the per-pulse hot loop, where a `match` on a value that never changes inside the loop is a
//! perfectly predicted branch and everything inlines; a virtual call would block inlining.

mod fmath;
pub mod normal;
mod pulse_level;
pub mod report;
mod statistical;
mod write_verify;

pub use pulse_level::PulseLevel;
pub use statistical::Statistical;
pub use write_verify::{VerifyReport, WriteVerify};

use crate::config::{DeviceModelConfig, HwConfig};
use crate::periph::Dac;
use crate::pulse::{Polarity, PulseScheme};
use rand::Rng;

/// The conductance window of a device, in uS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Lowest conductance, in uS.
    pub g_min_us: f32,
    /// Highest conductance, in uS.
    pub g_max_us: f32,
    /// g_max - g_min, in uS.
    pub range_us: f32,
}

impl Window {
    fn new(hw: &HwConfig) -> Self {
        Self {
            g_min_us: hw.device.g_min_us as f32,
            g_max_us: hw.device.g_max_us as f32,
            range_us: hw.range_us() as f32,
        }
    }
}

/// One device: its conductance and the constants drawn for it at instantiation (28 bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceState {
    /// Conductance, in uS.
    pub g_us: f32,
    /// Its variation sigma, fraction of the range (see the module docs for its meaning per model).
    pub sigma: f32,
    /// Pulse-level: its step multiplier eta_i (mean 1). Statistical: 1.
    pub eta: f32,
    /// Pulse-level: its SET threshold, in V. Statistical: 0.
    pub vth_set_v: f32,
    /// Pulse-level: its RESET threshold (magnitude), in V. Statistical: 0.
    pub vth_reset_v: f32,
    /// Pulse-level: its cycle-to-cycle relative std. Statistical: 0.
    pub c2c: f32,
    /// Pulse-level: the scale of its RESET-state spread, R hrs_spread m_i, in uS. Statistical: 0.
    pub hrs_us: f32,
}

/// A device-level event, for device traces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DeviceEvent {
    /// One write pulse.
    Pulse {
        /// Conductance before, in uS.
        g_before_us: f32,
        /// Conductance after, in uS.
        g_after_us: f32,
        /// Amplitude, in V (magnitude).
        amplitude_v: f32,
        /// Width, in ns.
        width_ns: f32,
        /// SET or RESET.
        polarity: Polarity,
    },
    /// One verify read.
    Read {
        /// The true conductance, in uS.
        g_us: f32,
        /// What the ADC reported (after read noise and quantisation), in uS.
        read_us: f32,
    },
}

/// What an open-loop write did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OpenLoopReport {
    /// SET pulses applied.
    pub set_pulses: u32,
    /// RESET pulses applied.
    pub reset_pulses: u32,
    /// Energy of those pulses in the device (V^2 G t), in pJ.
    pub energy_pj: f64,
}

impl OpenLoopReport {
    /// All pulses.
    pub fn pulses(&self) -> u32 {
        self.set_pulses + self.reset_pulses
    }
}

/// The one interface of a device kind (implemented in its own file: [`Statistical`], [`PulseLevel`]).
///
/// The programmer, the write-verify loop, the device report and the cost model call these, never a
/// kind's own methods; adding a kind is its file, its config struct and one arm in [`Device`].
/// Every random draw comes from the `rng` passed in, in a fixed order.
pub trait DeviceModel {
    /// Whether the verify ADC saturates at the window edges (a physical, bounded device) or has headroom
    /// (the statistical abstraction, whose conductance is unbounded).
    const SATURATING: bool;
    /// Per-device constants of a correction pulse, computed once before a verify loop.
    type Ready: Copy;
    /// The conductance window.
    fn window(&self) -> Window;
    /// The pulse scheme of the correction pulses.
    fn scheme(&self) -> &PulseScheme;
    /// The DAC that realises every amplitude ([`Dac::quantize`]).
    fn dac(&self) -> &Dac;
    /// A fresh device with variation `sigma` (fraction of the range).
    fn instantiate<R: Rng + ?Sized>(&self, sigma: f32, rng: &mut R) -> DeviceState;
    /// The unverified write towards `target_us` (`program.open_loop`): what an unselected device gets,
    /// and the first write of a selected one.
    fn open_loop_write<R: Rng + ?Sized, S: FnMut(DeviceEvent)>(
        &self,
        state: &mut DeviceState,
        target_us: f32,
        rng: &mut R,
        sink: &mut S,
    ) -> OpenLoopReport;
    /// The per-device constants of its correction pulses.
    fn ready(&self, state: &DeviceState) -> Self::Ready;
    /// One correction pulse of `polarity` at `amplitude_v` (already realised by the DAC); returns the new
    /// conductance.
    fn correct<R: Rng + ?Sized>(
        &self,
        ready: Self::Ready,
        state: &mut DeviceState,
        target_us: f32,
        polarity: Polarity,
        amplitude_v: f32,
        rng: &mut R,
    ) -> f32;
    /// After a converged verify (the statistical `gaussian` outcome); nothing for a physical device.
    fn settle<R: Rng + ?Sized>(&self, state: &mut DeviceState, target_us: f32, rng: &mut R);
    /// Energy in the device of a pulse that moved it from `g_before_us` to `g_after_us`, in pJ.
    fn pulse_energy_pj(&self, amplitude_v: f32, g_before_us: f32, g_after_us: f32) -> f64;
}

/// A device model built from a checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum Device {
    /// The statistical device of the U-SWIM papers.
    Statistical(Statistical),
    /// The pulse-level physical device.
    Pulse(PulseLevel),
}

/// Runs `$body` with `$d` bound to the model inside `$device` (a `match`, so each arm is monomorphic).
macro_rules! with_model {
    ($device:expr, $d:ident => $body:expr) => {
        match $device {
            Device::Statistical($d) => $body,
            Device::Pulse($d) => $body,
        }
    };
}

impl Device {
    /// The device of `hw` (its model, window, variation base, pulse scheme and DAC).
    pub fn new(hw: &HwConfig) -> Self {
        match &hw.device.model {
            DeviceModelConfig::Statistical(c) => Device::Statistical(Statistical::new(hw, c)),
            DeviceModelConfig::Pulse(c) => Device::Pulse(PulseLevel::new(hw, c)),
        }
    }

    /// The conductance window.
    pub fn window(&self) -> Window {
        with_model!(self, d => d.window())
    }

    /// A fresh device with variation `sigma` (fraction of the range); the pulse-level device draws its eta
    /// and thresholds (three normal draws), the statistical device draws nothing.
    pub fn instantiate<R: Rng + ?Sized>(&self, sigma: f32, rng: &mut R) -> DeviceState {
        with_model!(self, d => d.instantiate(sigma, rng))
    }

    /// Programs `state` towards `target_us` without verify (see each model for how).
    #[inline]
    pub fn open_loop_write<R: Rng + ?Sized, S: FnMut(DeviceEvent)>(
        &self,
        state: &mut DeviceState,
        target_us: f32,
        rng: &mut R,
        sink: &mut S,
    ) -> OpenLoopReport {
        with_model!(self, d => d.open_loop_write(state, target_us, rng, sink))
    }

    /// One correction pulse of `polarity` at `amplitude_v`; returns the new conductance. The pulse-level
    /// device moves by its physics; the statistical device re-programs to `target_us` + R sigma
    /// retry_ratio z (its pulses have no physics, only a target).
    #[inline]
    // One arm's `Ready` is `()` (the pulse-level device needs no per-device constants).
    #[allow(clippy::unit_arg)]
    pub fn pulse<R: Rng + ?Sized, S: FnMut(DeviceEvent)>(
        &self,
        state: &mut DeviceState,
        target_us: f32,
        polarity: Polarity,
        amplitude_v: f32,
        rng: &mut R,
        sink: &mut S,
    ) -> f32 {
        let g_before_us = state.g_us;
        let g_after_us =
            with_model!(self, d => d.correct(d.ready(state), state, target_us, polarity, amplitude_v, rng));
        sink(DeviceEvent::Pulse {
            g_before_us,
            g_after_us,
            amplitude_v,
            width_ns: self.width_ns(),
            polarity,
        });
        g_after_us
    }

    /// Energy in the device of a pulse that moved it from `g_before_us` to `g_after_us`, in pJ.
    #[inline]
    pub fn pulse_energy_pj(&self, amplitude_v: f32, g_before_us: f32, g_after_us: f32) -> f64 {
        with_model!(self, d => d.pulse_energy_pj(amplitude_v, g_before_us, g_after_us))
    }

    /// The pulse width of the configured scheme, in ns.
    #[inline]
    pub fn width_ns(&self) -> f32 {
        with_model!(self, d => d.scheme().width_ns())
    }
}
