//! Pulse schemes: which amplitude the next write pulse gets.
//!
//! Contract: a scheme is a pure rule, with no randomness and no knowledge of the device's physics. The
//! write-verify loop keeps a [`SchemeState`] per device (fresh from [`PulseScheme::start`] at the start
//! of each verify loop) and asks [`PulseScheme::amplitude_v`] for each correction pulse, giving the pulse's
//! polarity and the last read error as a fraction of the range. All pulses of a scheme have the same width.
//! Open-loop writing uses [`open_loop::pulse_count`] (NeuroSim V2.1) for the `open_loop` scheme.
//!
//! Dispatch is a `match` on a closed enum, not `Box<dyn>`: the call sits in the per-pulse hot loop, where
//! a `match` inlines to a predictable branch and a virtual call would not inline.

mod adaptive;
mod fixed;
mod ispp;
pub mod open_loop;

pub use adaptive::Adaptive;
pub use fixed::Fixed;
pub use ispp::Ispp;
pub use open_loop::OpenLoop;

use crate::config::PulseSchemeConfig;

/// The direction of a pulse: SET raises the conductance, RESET lowers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Polarity {
    /// Raises G (positive polarity).
    Set = 0,
    /// Lowers G (negative polarity).
    Reset = 1,
}

impl Polarity {
    /// 0 for SET, 1 for RESET: an index into per-polarity tables, so that schemes pick an amplitude
    /// without a branch (the statistical device's polarity is a coin flip, which a branch would mispredict).
    #[inline(always)]
    pub fn index(self) -> usize {
        self as usize
    }

    /// +1 for SET, -1 for RESET.
    #[inline]
    pub fn sign(self) -> f32 {
        match self {
            Polarity::Set => 1.0,
            Polarity::Reset => -1.0,
        }
    }

    /// `"set"` or `"reset"`.
    pub fn name(self) -> &'static str {
        match self {
            Polarity::Set => "set",
            Polarity::Reset => "reset",
        }
    }
}

/// Per-device memory of a scheme between pulses of one verify loop (ISPP's current amplitude).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchemeState {
    /// Polarity of the previous pulse, if any.
    pub last: Option<Polarity>,
    /// Amplitude of the previous pulse, in V (0 before the first).
    pub amplitude_v: f32,
}

/// A pulse scheme built from a checked `[program.scheme]`.
#[derive(Debug, Clone, PartialEq)]
pub enum PulseScheme {
    /// Identical pulses.
    Fixed(Fixed),
    /// Incremental step pulse programming.
    Ispp(Ispp),
    /// Amplitude proportional to the read error.
    Adaptive(Adaptive),
    /// NeuroSim V2.1 open-loop pulse counting; in a verify loop its pulses are fixed ones.
    OpenLoop(OpenLoop),
}

impl PulseScheme {
    /// The scheme of `config`; `vth_set_v` and `vth_reset_v` are the device's nominal thresholds (the
    /// adaptive scheme adds its overdrive to them; 0 for a device without thresholds).
    pub fn new(config: &PulseSchemeConfig, vth_set_v: f64, vth_reset_v: f64) -> Self {
        match *config {
            PulseSchemeConfig::Fixed {
                set_v,
                reset_v,
                width_ns,
            } => PulseScheme::Fixed(Fixed::new(set_v, reset_v, width_ns)),
            PulseSchemeConfig::Ispp {
                set_start_v,
                reset_start_v,
                v_step_v,
                v_max_v,
                width_ns,
            } => PulseScheme::Ispp(Ispp::new(set_start_v, reset_start_v, v_step_v, v_max_v, width_ns)),
            PulseSchemeConfig::Adaptive {
                gain_v,
                v_min_v,
                v_max_v,
                width_ns,
            } => PulseScheme::Adaptive(Adaptive::new(
                gain_v,
                v_min_v,
                v_max_v,
                vth_set_v,
                vth_reset_v,
                width_ns,
            )),
            PulseSchemeConfig::OpenLoop {
                set_v,
                reset_v,
                width_ns,
            } => PulseScheme::OpenLoop(OpenLoop::new(set_v, reset_v, width_ns)),
        }
    }

    /// The state before the first pulse of a verify loop.
    #[inline]
    pub fn start(&self) -> SchemeState {
        SchemeState {
            last: None,
            amplitude_v: 0.0,
        }
    }

    /// The amplitude of the next pulse, in V, given its polarity and the read error (target - read) as a
    /// fraction of the range; updates `state`.
    #[inline]
    pub fn amplitude_v(&self, state: &mut SchemeState, polarity: Polarity, error_frac: f32) -> f32 {
        let v = match self {
            PulseScheme::Fixed(s) | PulseScheme::OpenLoop(s) => s.amplitude_v(polarity),
            PulseScheme::Ispp(s) => s.amplitude_v(state, polarity),
            PulseScheme::Adaptive(s) => s.amplitude_v(polarity, error_frac),
        };
        state.last = Some(polarity);
        state.amplitude_v = v;
        v
    }

    /// The SET and RESET amplitudes (indexed by [`Polarity::index`]) when every pulse of a polarity has the
    /// same amplitude (`fixed`, and `open_loop` in a verify loop), so that a loop can quantise them once.
    #[inline]
    pub fn fixed_amplitudes_v(&self) -> Option<[f32; 2]> {
        match self {
            PulseScheme::Fixed(s) | PulseScheme::OpenLoop(s) => {
                Some([s.amplitude_v(Polarity::Set), s.amplitude_v(Polarity::Reset)])
            }
            PulseScheme::Ispp(_) | PulseScheme::Adaptive(_) => None,
        }
    }

    /// The pulse width, in ns.
    #[inline]
    pub fn width_ns(&self) -> f32 {
        match self {
            PulseScheme::Fixed(s) | PulseScheme::OpenLoop(s) => s.width_ns,
            PulseScheme::Ispp(s) => s.width_ns,
            PulseScheme::Adaptive(s) => s.width_ns,
        }
    }

    /// The largest amplitude the scheme can give a pulse of `polarity`, in V (used for a full RESET).
    pub fn max_amplitude_v(&self, polarity: Polarity) -> f32 {
        match self {
            PulseScheme::Fixed(s) | PulseScheme::OpenLoop(s) => s.amplitude_v(polarity),
            PulseScheme::Ispp(s) => s.v_max_v,
            PulseScheme::Adaptive(s) => s.v_max_v,
        }
    }

    /// The largest amplitude of either polarity, in V: the full scale of the DAC that realises them.
    pub fn full_scale_v(&self) -> f64 {
        f64::from(
            self.max_amplitude_v(Polarity::Set)
                .max(self.max_amplitude_v(Polarity::Reset)),
        )
    }

    /// Whether the scheme verifies (`open_loop` does not).
    pub fn verifies(&self) -> bool {
        !matches!(self, PulseScheme::OpenLoop(_))
    }
}
