//! `band`: the U-SWIM authors' weight-magnitude band.
//!
//! Weights whose normalised magnitude |w| / max|W| lies strictly inside (low, high) get multiplier s; all
//! sigmas (inside and outside the band) are divided by sqrt(0.4 s^2 + 0.6), the authors' normalisation,
//! which keeps the mean variance equal to the base variance when 40% of the weights lie inside the band.

/// The fraction of weights inside the band that the authors' normalisation assumes.
pub const IN_BAND_FRACTION: f64 = 0.4;

/// The band map.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    inside: f64,
    outside: f64,
    low: f32,
    high: f32,
}

impl Band {
    /// Multiplier `multiplier` inside (low, high), normalised.
    pub fn new(multiplier: f64, low: f64, high: f64) -> Self {
        let norm = (IN_BAND_FRACTION * multiplier * multiplier + (1.0 - IN_BAND_FRACTION)).sqrt();
        Self {
            inside: multiplier / norm,
            outside: 1.0 / norm,
            low: low as f32,
            high: high as f32,
        }
    }

    /// The multiplier of a weight of normalised magnitude `weight_norm`.
    #[inline]
    pub fn multiplier(&self, weight_norm: f32) -> f64 {
        if weight_norm > self.low && weight_norm < self.high {
            self.inside
        } else {
            self.outside
        }
    }
}
