//! A data-driven start for the step-table fit: how many pulses each ramp dwells near each table node.
//!
//! A state-dependent step h(G) moves a ramp through a conductance interval of width w in about w / h
//! pulses, so the dwell time in the interval around node j estimates T_j up to the ramp's scale. Noise is
//! removed first by the best monotone fit of each ramp (pool-adjacent-violators), since a ramp under the
//! model only moves in its polarity's direction. The estimate is rough (it ignores the interpolation
//! between nodes) but it places knees and plateaus where the data has them, which a start from the
//! power law does not: the least-squares fit then refines it ([`super::shape`]).

use super::data::Ramp;
use super::model::Law;
use super::shape::{ShapeFit, normalize_tables, regressed_scale};
use crate::pulse::Polarity;

/// The best non-decreasing fit to `y` in least squares (pool-adjacent-violators).
pub fn monotone_fit(y: &[f64]) -> Vec<f64> {
    // Blocks of (mean, count).
    let mut blocks: Vec<(f64, usize)> = Vec::with_capacity(y.len());
    for &v in y {
        blocks.push((v, 1));
        while blocks.len() > 1 {
            let (m2, n2) = blocks[blocks.len() - 1];
            let (m1, n1) = blocks[blocks.len() - 2];
            if m1 <= m2 {
                break;
            }
            blocks.pop();
            let n = n1 + n2;
            *blocks.last_mut().expect("two blocks") = ((m1 * n1 as f64 + m2 * n2 as f64) / n as f64, n);
        }
    }
    blocks
        .into_iter()
        .flat_map(|(m, n)| std::iter::repeat_n(m, n))
        .collect()
}

/// The span of the ramps' monotone fits: the conductances the ramps reach, with the read noise averaged
/// out (a ramp that sits clipped at a window end reaches the end, not the largest noisy read of it). The
/// table law's window.
pub fn monotone_span(ramps: &[&Ramp]) -> (f64, f64) {
    ramps
        .iter()
        .flat_map(|r| {
            let sign = f64::from(r.polarity.sign());
            let oriented: Vec<f64> = r.g.iter().map(|g| sign * g).collect();
            let fitted = monotone_fit(&oriented);
            [sign * fitted[0], sign * fitted[fitted.len() - 1]]
        })
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// Dwell-time table of `polarity` over [`lo`, `hi`] with `nodes` nodes, from the monotone fits of its
/// ramps; None without ramps of that polarity.
fn table(ramps: &[&Ramp], polarity: Polarity, nodes: usize, lo: f64, hi: f64) -> Option<Vec<f64>> {
    let sign = f64::from(polarity.sign());
    let spacing = (hi - lo) / (nodes - 1) as f64;
    // Per node: summed covered width and summed dwell (pulses), over ramps.
    let mut covered = vec![0.0; nodes];
    let mut dwell = vec![0.0; nodes];
    let mut any = false;
    for ramp in ramps.iter().filter(|r| r.polarity == polarity) {
        any = true;
        // Work in the direction of motion, so the fit is non-decreasing for both polarities.
        let oriented: Vec<f64> = ramp.g.iter().map(|g| sign * g).collect();
        let fitted = monotone_fit(&oriented);
        let (first, last) = (fitted[0], fitted[fitted.len() - 1]);
        for j in 0..nodes {
            let centre = sign * (lo + spacing * j as f64);
            let (a, b) = (centre - 0.5 * spacing, centre + 0.5 * spacing);
            let width = (b.min(last) - a.max(first)).max(0.0);
            let pulses = fitted.iter().filter(|&&g| g >= a && g < b).count();
            if width > 0.0 && pulses > 0 {
                covered[j] += width;
                dwell[j] += pulses as f64;
            }
        }
    }
    if !any {
        return None;
    }
    let mut values: Vec<Option<f64>> = covered
        .iter()
        .zip(&dwell)
        .map(|(&w, &n)| (n > 0.0).then_some(w / n))
        .collect();
    // Nodes no ramp visits take their nearest visited neighbour's value (they do not affect the fit).
    let visited: Vec<usize> = (0..nodes).filter(|&j| values[j].is_some()).collect();
    if visited.is_empty() {
        return Some(vec![1.0; nodes]);
    }
    for j in 0..nodes {
        if values[j].is_none() {
            let nearest = visited
                .iter()
                .min_by_key(|&&k| k.abs_diff(j))
                .expect("a visited node");
            values[j] = values[*nearest];
        }
    }
    // Every node holds a value now: its own or its nearest visited neighbour's.
    Some(values.into_iter().flatten().collect())
}

/// A table-law start over [`lo`, `hi`] from the ramps' dwell times: tables normalised to peak at 1, each
/// ramp starting at its first point (clipped into the window) with the scale that best matches its
/// increments in least squares.
pub fn start(ramps: &[&Ramp], nodes: usize, lo: f64, hi: f64, scale: f64) -> ShapeFit {
    let law = Law {
        set_table: table(ramps, Polarity::Set, nodes, lo, hi),
        reset_table: table(ramps, Polarity::Reset, nodes, lo, hi),
        ..Law::power(0.0, 0.0, lo, hi, scale)
    };
    let locals = ramps
        .iter()
        .map(|r| {
            let b = regressed_scale(&law, r).unwrap_or(1e-3 * (hi - lo));
            [r.g[0].clamp(lo, hi), b]
        })
        .collect();
    let mut fit = ShapeFit {
        law,
        ramps: locals,
        sse: f64::INFINITY,
        points: ramps.iter().map(|r| r.g.len()).sum(),
        iterations: 0,
    };
    normalize_tables(&mut fit, ramps);
    fit
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ramp that sits clipped at its end with read noise reaches the end, not its largest read.
    #[test]
    fn monotone_span_averages_the_noise_of_a_clipped_end() {
        let g: Vec<f64> = (0..100)
            .map(|n| (10.0 + n as f64).min(50.0) + if n % 2 == 0 { 0.3 } else { -0.3 })
            .collect();
        let ramp = Ramp {
            polarity: Polarity::Set,
            g,
            source: String::new(),
        };
        let (lo, hi) = monotone_span(&[&ramp]);
        assert!((lo - 10.0).abs() < 0.31 && (hi - 50.0).abs() < 0.01, "{lo} {hi}");
    }

    #[test]
    fn monotone_fit_pools_violators() {
        assert_eq!(monotone_fit(&[1.0, 3.0, 2.0, 4.0]), vec![1.0, 2.5, 2.5, 4.0]);
        assert_eq!(monotone_fit(&[3.0, 2.0, 1.0]), vec![2.0, 2.0, 2.0]);
        let y = [0.0, 1.0, 2.0];
        assert_eq!(monotone_fit(&y), y.to_vec());
    }

    /// A noise-free ramp of a constant step b dwells 1/b pulses per unit of conductance: the table is flat.
    #[test]
    fn constant_step_gives_a_flat_table() {
        let ramp = Ramp {
            polarity: Polarity::Reset,
            g: (0..200).map(|n| 100.0 - 0.5 * n as f64).collect(),
            source: String::new(),
        };
        let s = start(&[&ramp], 5, 0.5, 100.0, 100.0);
        let t = s.law.reset_table.unwrap();
        for v in &t {
            assert!((v - 1.0).abs() < 0.05, "{t:?}");
        }
        assert!((s.ramps[0][1] - 0.5).abs() < 0.02, "{:?}", s.ramps[0]);
    }
}
