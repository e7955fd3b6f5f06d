//! `adaptive`: amplitude proportional to the read error.
//!
//! V = Vth + gain * |error| / R, clamped to [v_min, v_max], where Vth is the device's nominal threshold of
//! the pulse's polarity: the overdrive, and so (for a linear device) the step, is proportional to the
//! distance still to go.

use super::Polarity;

/// Error-proportional amplitude.
#[derive(Debug, Clone, PartialEq)]
pub struct Adaptive {
    gain_v: f32,
    v_min_v: f32,
    /// Largest amplitude, in V.
    pub v_max_v: f32,
    /// Nominal SET and RESET thresholds, in V, indexed by [`Polarity::index`].
    vth_v: [f32; 2],
    /// Pulse width, in ns.
    pub width_ns: f32,
}

impl Adaptive {
    /// Gain in V per unit of relative error, amplitude bounds in V, nominal thresholds in V, width in ns.
    pub fn new(
        gain_v: f64,
        v_min_v: f64,
        v_max_v: f64,
        vth_set_v: f64,
        vth_reset_v: f64,
        width_ns: f64,
    ) -> Self {
        Self {
            gain_v: gain_v as f32,
            v_min_v: v_min_v as f32,
            v_max_v: v_max_v as f32,
            vth_v: [vth_set_v as f32, vth_reset_v as f32],
            width_ns: width_ns as f32,
        }
    }

    /// The amplitude of a pulse of `polarity` for a read error of `error_frac` (fraction of the range).
    #[inline]
    pub fn amplitude_v(&self, polarity: Polarity, error_frac: f32) -> f32 {
        let v = self.vth_v[polarity.index()] + self.gain_v * error_frac.abs();
        let v = if v > self.v_min_v { v } else { self.v_min_v };
        if v < self.v_max_v { v } else { self.v_max_v }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amplitude_is_threshold_plus_gain_times_error_within_bounds() {
        let a = Adaptive::new(4.0, 0.5, 2.0, 0.8, 0.9, 100.0);
        assert!((a.amplitude_v(Polarity::Set, 0.1) - 1.2).abs() < 1e-6);
        assert!((a.amplitude_v(Polarity::Reset, -0.1) - 1.3).abs() < 1e-6);
        assert_eq!(a.amplitude_v(Polarity::Set, 0.9), 2.0);
        assert!((a.amplitude_v(Polarity::Set, 0.0) - 0.8).abs() < 1e-6);
        let low = Adaptive::new(1.0, 0.5, 2.0, 0.0, 0.0, 100.0);
        assert_eq!(low.amplitude_v(Polarity::Set, 0.01), 0.5);
    }
}
