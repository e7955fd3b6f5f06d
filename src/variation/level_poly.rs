//! `level_poly`: sigma as a polynomial of the target level.
//!
//! sigma(x) = sum_k c_k x^k in uS with x = G* / g_max (the form of the PCM programming-noise fit of
//! Nandakumar et al. 2019 / IBM aihwkit's `PCMLikeNoiseModel`), divided by the range to give a fraction.
//! It replaces the base sigma (whatever its position among the maps); the other maps multiply it.
//! Negative polynomial values are taken as 0.

/// The level polynomial.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelPoly {
    coefficients_us: Vec<f64>,
    g_max_us: f64,
    range_us: f64,
}

impl LevelPoly {
    /// Coefficients c_0, c_1, ... in uS; the device's g_max and range in uS.
    pub fn new(coefficients_us: &[f64], g_max_us: f64, range_us: f64) -> Self {
        Self {
            coefficients_us: coefficients_us.to_vec(),
            g_max_us,
            range_us,
        }
    }

    /// The polynomial at x = target / g_max, in uS (Horner), floored at 0.
    pub fn sigma_us(&self, target_us: f32) -> f64 {
        let x = f64::from(target_us) / self.g_max_us;
        self.coefficients_us
            .iter()
            .rev()
            .fold(0.0, |acc, c| acc * x + c)
            .max(0.0)
    }

    /// The sigma of a device with target `target_us`, as a fraction of the range.
    pub fn sigma(&self, target_us: f32) -> f64 {
        self.sigma_us(target_us) / self.range_us
    }
}
