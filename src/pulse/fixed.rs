//! `fixed`: every pulse of a polarity has the same amplitude.

use super::Polarity;

/// Identical pulses of fixed amplitude per polarity.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixed {
    /// SET and RESET amplitudes, in V, indexed by [`Polarity::index`].
    amplitudes_v: [f32; 2],
    /// Pulse width, in ns.
    pub width_ns: f32,
}

impl Fixed {
    /// SET and RESET amplitudes in V, width in ns.
    pub fn new(set_v: f64, reset_v: f64, width_ns: f64) -> Self {
        Self {
            amplitudes_v: [set_v as f32, reset_v as f32],
            width_ns: width_ns as f32,
        }
    }

    /// The amplitude of a pulse of `polarity`, in V.
    #[inline]
    pub fn amplitude_v(&self, polarity: Polarity) -> f32 {
        self.amplitudes_v[polarity.index()]
    }
}
