//! Summary statistics of Monte-Carlo samples: mean, sample standard deviation and a 95% confidence
//! interval of the mean (Student's t with n - 1 degrees of freedom).

use serde::Serialize;

/// Two-sided 95% quantiles t(0.975, df) of Student's t distribution for df = 1..=30.
const T975: [f64; 30] = [
    12.706_205, 4.302_653, 3.182_446, 2.776_445, 2.570_582, 2.446_912, 2.364_624, 2.306_004, 2.262_157,
    2.228_139, 2.200_985, 2.178_813, 2.160_369, 2.144_787, 2.131_450, 2.119_905, 2.109_816, 2.100_922,
    2.093_024, 2.085_963, 2.079_614, 2.073_873, 2.068_658, 2.063_899, 2.059_539, 2.055_529, 2.051_831,
    2.048_407, 2.045_230, 2.042_272,
];

/// The 0.975 quantile of the standard normal distribution.
const Z975: f64 = 1.959_963_984_540_054;

/// t(0.975, df): from the table up to 30 degrees of freedom, beyond from the Cornish-Fisher expansion
/// in 1/df (error below 1e-5 for df > 30). Infinite for df = 0 (one sample gives no interval).
pub fn t975(df: u32) -> f64 {
    match df {
        0 => f64::INFINITY,
        1..=30 => T975[df as usize - 1],
        _ => {
            let z = Z975;
            let n = f64::from(df);
            let z3 = z * z * z;
            let z5 = z3 * z * z;
            let z7 = z5 * z * z;
            z + (z3 + z) / (4.0 * n)
                + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * n * n)
                + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * n * n * n)
        }
    }
}

/// Mean, spread and 95% confidence interval of the mean of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    /// Number of samples.
    pub runs: u32,
    /// Sample mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1 in the denominator; 0 for one sample).
    pub std: f64,
    /// Lower end of the 95% confidence interval of the mean (`mean - t975(n-1) std / sqrt(n)`).
    pub ci95_low: f64,
    /// Upper end of the 95% confidence interval of the mean.
    pub ci95_high: f64,
}

impl Stats {
    /// The statistics of `samples` (summed in f64 in the order given); `None` when there are none.
    /// With one sample the interval is that sample (no spread can be estimated).
    pub fn of(samples: &[f64]) -> Option<Self> {
        let n = samples.len();
        if n == 0 {
            return None;
        }
        let mean = samples.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            let ss: f64 = samples.iter().map(|x| (x - mean) * (x - mean)).sum();
            (ss / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let half = if n > 1 {
            t975(n as u32 - 1) * std / (n as f64).sqrt()
        } else {
            0.0
        };
        Some(Self {
            runs: n as u32,
            mean,
            std,
            ci95_low: mean - half,
            ci95_high: mean + half,
        })
    }

    /// Half the width of the 95% interval: the Monte-Carlo error of the mean.
    pub fn ci95_half_width(&self) -> f64 {
        0.5 * (self.ci95_high - self.ci95_low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_published_values_and_join_the_normal() {
        // Reference values (R: qt(0.975, df)).
        for (df, want) in [
            (1, 12.706_205),
            (5, 2.570_582),
            (30, 2.042_272),
            (31, 2.039_513),
            (40, 2.021_075),
            (60, 2.000_298),
            (120, 1.979_930),
            (1000, 1.962_339),
        ] {
            assert!((t975(df) - want).abs() < 2e-5, "df {df}: {} vs {want}", t975(df));
        }
        assert!((t975(u32::MAX) - Z975).abs() < 1e-8);
        assert!(t975(0).is_infinite());
    }

    #[test]
    fn stats_of_a_known_sample() {
        let s = Stats::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(s.runs, 8);
        assert!((s.mean - 5.0).abs() < 1e-12);
        // Sum of squares 32, n - 1 = 7.
        assert!((s.std - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        let half = 2.364_624 * s.std / 8f64.sqrt();
        assert!((s.ci95_half_width() - half).abs() < 1e-9);
        assert!((s.ci95_low - (5.0 - half)).abs() < 1e-9);
        let one = Stats::of(&[0.5]).unwrap();
        assert_eq!((one.std, one.ci95_low, one.ci95_high), (0.0, 0.5, 0.5));
        assert!(Stats::of(&[]).is_none());
    }
}
