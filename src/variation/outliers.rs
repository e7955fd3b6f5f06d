//! `outliers`: a random fraction of devices gets a large multiplier (stuck-ish or badly formed devices).

use crate::rng::Stream;
use rand::Rng;

/// The outlier map.
#[derive(Debug, Clone, PartialEq)]
pub struct Outliers {
    fraction: f64,
    multiplier: f64,
}

impl Outliers {
    /// A `fraction` of devices gets `multiplier`; the others 1.
    pub fn new(fraction: f64, multiplier: f64) -> Self {
        Self { fraction, multiplier }
    }

    /// One device's multiplier (one uniform draw).
    pub fn multiplier(&self, rng: &mut Stream) -> f64 {
        if rng.random::<f64>() < self.fraction {
            self.multiplier
        } else {
            1.0
        }
    }
}
