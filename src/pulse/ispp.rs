//! `ispp`: incremental step pulse programming.
//!
//! The first pulse of a polarity has the start amplitude of that polarity; each further pulse in the same
//! direction is `v_step_v` higher, capped at `v_max_v`; a change of direction restarts from the start
//! amplitude of the new polarity (the standard ISPP of flash and of RRAM write-verify, e.g. NeuRRAM).

use super::{Polarity, SchemeState};

/// Incremental step pulse programming.
#[derive(Debug, Clone, PartialEq)]
pub struct Ispp {
    /// First SET and RESET amplitudes, in V, indexed by [`Polarity::index`].
    start_v: [f32; 2],
    v_step_v: f32,
    /// Amplitude cap, in V.
    pub v_max_v: f32,
    /// Pulse width, in ns.
    pub width_ns: f32,
}

impl Ispp {
    /// Start amplitudes, step and cap in V, width in ns.
    pub fn new(set_start_v: f64, reset_start_v: f64, v_step_v: f64, v_max_v: f64, width_ns: f64) -> Self {
        Self {
            start_v: [set_start_v as f32, reset_start_v as f32],
            v_step_v: v_step_v as f32,
            v_max_v: v_max_v as f32,
            width_ns: width_ns as f32,
        }
    }

    /// The amplitude of the next pulse of `polarity`, given the previous pulse in `state`.
    #[inline]
    pub fn amplitude_v(&self, state: &SchemeState, polarity: Polarity) -> f32 {
        let next = state.amplitude_v + self.v_step_v;
        let next = if next < self.v_max_v { next } else { self.v_max_v };
        // Both candidates computed, then a select: no branch on the direction.
        if state.last == Some(polarity) {
            next
        } else {
            self.start_v[polarity.index()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::PulseScheme;
    use super::*;

    #[test]
    fn amplitude_rises_caps_and_restarts_on_direction_change() {
        let s = PulseScheme::Ispp(Ispp::new(1.0, 1.2, 0.25, 1.6, 100.0));
        let mut st = s.start();
        let mut seq = Vec::new();
        for p in [
            Polarity::Set,
            Polarity::Set,
            Polarity::Set,
            Polarity::Set,
            Polarity::Reset,
            Polarity::Reset,
            Polarity::Set,
        ] {
            seq.push(s.amplitude_v(&mut st, p, 0.1));
        }
        let want = [1.0, 1.25, 1.5, 1.6, 1.2, 1.45, 1.0];
        for (got, want) in seq.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{seq:?}");
        }
    }
}
