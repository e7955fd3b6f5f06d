//! Cycle-to-cycle noise and read noise from the pulse-to-pulse increments, by the method of moments.
//!
//! Under the pulse-level model a measured ramp is y_n = G_n + e_n (read noise, std sigma_r) with
//! G_{n+1} = G_n + m(G_n) (1 + c2c z_n): the cycle-to-cycle noise accumulates, the read noise does not.
//! With the model-relative increment u_n = (y_{n+1} - y_n) - m(y_n) and its first difference
//! d_n = u_{n+1} - u_n:
//!
//! - E[d_n^2]         =  c2c^2 (m_n^2 + m_{n+1}^2) + 6 sigma_r^2
//! - E[d_n d_{n+1}]   = -c2c^2 m_{n+1}^2           - 4 sigma_r^2
//!
//! (read noise makes successive increments anti-correlated; cycle-to-cycle noise does not). These are the
//! equations for a slowly varying step; the code uses the exact coefficients, in which a read error at
//! pulse n enters the next predicted point through k_n = 1 + dm/dG. Summed over
//! all ramps these two equations give c2c^2 and sigma_r^2. Differencing u once more removes any smooth
//! error of the mean law, so a shape the model cannot follow exactly (an accelerating SET ramp, say) is
//! not mistaken for noise. Pulses whose step would be clipped at the window, or that start outside it,
//! are left out.

use super::data::Ramp;
use super::model::Law;

/// The noise estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Noise {
    /// Relative std of a pulse's step (cycle-to-cycle), >= 0.
    pub c2c: f64,
    /// Std of one read, in data units, >= 0.
    pub read_noise: f64,
    /// Increment pairs used.
    pub pairs: usize,
}

/// Sums of one ramp's moments: E[d_n^2] = c2c^2 p0 + sigma^2 q0 and E[d_n d_{n+1}] = -c2c^2 p1 + sigma^2 q1,
/// summed over pairs.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    s0: f64,
    p0: f64,
    q0: f64,
    n0: f64,
    s1: f64,
    p1: f64,
    q1: f64,
}

/// One pulse's model step m_n, its slope k_n = 1 + dm/dG and the model-relative increment u_n.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Increment {
    /// Model step at the measured conductance.
    pub m: f64,
    /// 1 + dm/dG there: how a read error at n carries into the next predicted point.
    pub k: f64,
    /// Measured increment minus the model step.
    pub u: f64,
}

/// The increments of one ramp (None where the pulse is left out).
pub(crate) fn increments(law: &Law, ramp: &Ramp, b: f64) -> Vec<Option<Increment>> {
    ramp.g
        .windows(2)
        .map(|w| {
            let m = law.step(ramp.polarity, b, w[0]);
            let inside = w[0] >= law.g_min && w[0] <= law.g_max;
            let unclipped = w[0] + m > law.g_min && w[0] + m < law.g_max;
            (inside && unclipped).then(|| Increment {
                m,
                k: 1.0 + law.step_slope(ramp.polarity, b, w[0]),
                u: w[1] - w[0] - m,
            })
        })
        .collect()
}

/// With y_n = G_n + e_n, u_n = e_{n+1} - k_n e_n + c2c m_n z_n, so
/// d_n = u_{n+1} - u_n = e_{n+2} - (1 + k_{n+1}) e_{n+1} + k_n e_n + c2c (m_{n+1} z_{n+1} - m_n z_n).
fn sums(law: &Law, ramp: &Ramp, b: f64) -> Sums {
    let inc = increments(law, ramp, b);
    let mut s = Sums::default();
    let pair = |i: usize| match (inc.get(i).copied().flatten(), inc.get(i + 1).copied().flatten()) {
        (Some(a), Some(b)) => Some((a, b, b.u - a.u)),
        _ => None,
    };
    for i in 0..inc.len() {
        let Some((a, b, d)) = pair(i) else { continue };
        s.s0 += d * d;
        s.p0 += a.m * a.m + b.m * b.m;
        s.q0 += 1.0 + (1.0 + b.k).powi(2) + a.k * a.k;
        s.n0 += 1.0;
        if let Some((_, c, d1)) = pair(i + 1) {
            s.s1 += d * d1;
            s.p1 += b.m * b.m;
            s.q1 += -(1.0 + c.k) - b.k * (1.0 + b.k);
        }
    }
    s
}

/// Estimates c2c and the read noise from ramps with fitted scales `b` (one per ramp).
pub fn estimate(law: &Law, ramps: &[&Ramp], b: &[f64]) -> Noise {
    let mut t = Sums::default();
    for (ramp, &bi) in ramps.iter().zip(b) {
        let s = sums(law, ramp, bi);
        t.s0 += s.s0;
        t.p0 += s.p0;
        t.q0 += s.q0;
        t.n0 += s.n0;
        t.s1 += s.s1;
        t.p1 += s.p1;
        t.q1 += s.q1;
    }
    let pairs = t.n0 as usize;
    // [ p0  q0] [c2]   [s0]
    // [-p1  q1] [r2] = [s1]
    let det = t.p0 * t.q1 + t.p1 * t.q0;
    let (mut c2, mut r2) = if det.abs() > 0.0 {
        (
            (t.s0 * t.q1 - t.q0 * t.s1) / det,
            (t.p0 * t.s1 + t.p1 * t.s0) / det,
        )
    } else {
        (f64::NAN, f64::NAN)
    };
    if c2.is_nan() || c2 < 0.0 {
        // No cycle-to-cycle part: least squares of both equations in the read noise alone.
        c2 = 0.0;
        let den = t.q0 * t.q0 + t.q1 * t.q1;
        r2 = if den > 0.0 {
            (t.q0 * t.s0 + t.q1 * t.s1) / den
        } else {
            0.0
        };
    }
    if r2.is_nan() || r2 < 0.0 {
        // No read noise: least squares of both equations in c2c alone.
        r2 = 0.0;
        let den = t.p0 * t.p0 + t.p1 * t.p1;
        c2 = if den > 0.0 {
            ((t.p0 * t.s0 - t.p1 * t.s1) / den).max(0.0)
        } else {
            0.0
        };
    }
    Noise {
        c2c: c2.sqrt(),
        read_noise: r2.max(0.0).sqrt(),
        pairs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pulse::Polarity;
    use rand::Rng;
    use rand_distr::StandardNormal;

    /// Ramps drawn from exactly the model (Gaussian multiplicative step noise, Gaussian read noise) give back
    /// both noise levels, and a smooth error of the mean law does not leak into them.
    #[test]
    fn separates_cycle_to_cycle_from_read_noise() {
        let law = Law::power(1.0, 1.0, 0.0, 100.0, 100.0);
        let mut rng = crate::rng::stream(3, crate::rng::Purpose::Device, 0);
        let (c2c, read) = (0.15, 0.05);
        let mut ramps = Vec::new();
        for _ in 0..400 {
            let mut g: f64 = 0.0;
            let mut y = Vec::new();
            for _ in 0..120 {
                let e: f64 = rng.sample(StandardNormal);
                y.push(g + read * e);
                let z: f64 = rng.sample(StandardNormal);
                g = law.next(Polarity::Set, 2.0 * (1.0 + c2c * z), g);
            }
            ramps.push(Ramp {
                polarity: Polarity::Set,
                g: y,
                source: String::new(),
            });
        }
        let refs: Vec<&Ramp> = ramps.iter().collect();
        let est = estimate(&law, &refs, &vec![2.0; refs.len()]);
        assert!((est.c2c / c2c - 1.0).abs() < 0.05, "{est:?}");
        assert!((est.read_noise / read - 1.0).abs() < 0.05, "{est:?}");
        // A smooth error of the mean law (here a slow wobble the model lacks) does not leak into the noise.
        let wobbly: Vec<Ramp> = ramps
            .iter()
            .map(|r| Ramp {
                g: r.g
                    .iter()
                    .enumerate()
                    .map(|(n, y)| y + 3.0 * (n as f64 / 15.0).sin())
                    .collect(),
                ..r.clone()
            })
            .collect();
        let refs: Vec<&Ramp> = wobbly.iter().collect();
        let off = estimate(&law, &refs, &vec![2.0; refs.len()]);
        assert!((off.c2c / c2c - 1.0).abs() < 0.05, "{off:?}");
        assert!((off.read_noise / read - 1.0).abs() < 0.1, "{off:?}");
    }
}
