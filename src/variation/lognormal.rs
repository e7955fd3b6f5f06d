//! `lognormal`: an independent lognormal multiplier per device, exp(s z - s^2 / 2), of mean 1.

use crate::rng::Stream;
use rand::Rng;
use rand_distr::StandardNormal;

/// The lognormal map.
#[derive(Debug, Clone, PartialEq)]
pub struct Lognormal {
    sigma_log: f64,
}

impl Lognormal {
    /// `sigma_log`: the std of the multiplier's logarithm.
    pub fn new(sigma_log: f64) -> Self {
        Self { sigma_log }
    }

    /// One device's multiplier (one normal draw).
    pub fn multiplier(&self, rng: &mut Stream) -> f64 {
        let z: f64 = rng.sample(StandardNormal);
        (self.sigma_log * z - 0.5 * self.sigma_log * self.sigma_log).exp()
    }
}
