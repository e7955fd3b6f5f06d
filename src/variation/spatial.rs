//! `spatial`: a linear gradient across each array and a per-array lognormal factor.
//!
//! multiplier(row, col) = f_array * (1 + g_row * row / (rows - 1)) * (1 + g_col * col / (cols - 1)),
//! so sigma changes by the relative amount g_row from the first to the last row (and likewise for columns;
//! a single row or column has no gradient), and f_array = exp(s z - s^2 / 2) (mean 1) is drawn once per
//! array, before any device.

use crate::rng::Stream;
use rand::Rng;
use rand_distr::StandardNormal;

/// The spatial map.
#[derive(Debug, Clone, PartialEq)]
pub struct Spatial {
    row_slope: f64,
    col_slope: f64,
    array_sigma_log: f64,
}

impl Spatial {
    /// Gradients (relative change first to last), the std of ln(per-array factor), the array geometry.
    pub fn new(row_gradient: f64, col_gradient: f64, array_sigma_log: f64, rows: u32, cols: u32) -> Self {
        let slope = |g: f64, n: u32| if n > 1 { g / f64::from(n - 1) } else { 0.0 };
        Self {
            row_slope: slope(row_gradient, rows),
            col_slope: slope(col_gradient, cols),
            array_sigma_log,
        }
    }

    /// The array's factor (one normal draw).
    pub fn array_factor(&self, rng: &mut Stream) -> f64 {
        let z: f64 = rng.sample(StandardNormal);
        let s = self.array_sigma_log;
        (s * z - 0.5 * s * s).exp()
    }

    /// The gradient part of the multiplier at (row, col).
    #[inline]
    pub fn position_multiplier(&self, row: u32, col: u32) -> f64 {
        (1.0 + self.row_slope * f64::from(row)) * (1.0 + self.col_slope * f64::from(col))
    }
}
