//! Least-squares fit of the ramps' shape: the shared law (nu_SET, nu_RESET, g_min, g_max) and, per ramp,
//! its start and its scale b (the ramp's own step size, b_r = eta_r b).
//!
//! The model of ramp r is the deterministic trajectory of [`Law`] from its start; the fit minimises the sum
//! of squared differences between every measured point and the trajectory ("output error": read noise
//! enters once per point and does not bias the fit). Levenberg-Marquardt with analytic sensitivities;
//! the normal equations have an arrow structure (a 2x2 block per ramp coupled only through the four shared
//! parameters), solved through the Schur complement, so the cost is linear in the number of ramps.
//! Bounds (nu in [0, 10], the window within the allowed extrapolation, g_min >= 0 for physical units) are
//! kept by projection, and a parameter at a bound that the gradient pushes outwards is held fixed for
//! that iteration.

// The small dense matrices of the normal equations are written with index loops that mirror the
// formulas (B_jk, C_jk, S_jk); iterator chains over several arrays at once would hide them.
#![allow(clippy::needless_range_loop)]

use super::data::Ramp;
use super::model::{G_MAX, G_MIN, Law, NU_RESET, NU_SET, SHARED, Sensitivity};
use crate::pulse::Polarity;

/// Largest saturation exponent (the configuration's limit).
pub const NU_MAX: f64 = 10.0;

/// Where the fitted window may lie.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowBounds {
    /// Lowest allowed g_min.
    pub g_min_lo: f64,
    /// Highest allowed g_max.
    pub g_max_hi: f64,
}

/// A fitted shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeFit {
    /// The shared law.
    pub law: Law,
    /// Per ramp, in input order: [start, b].
    pub ramps: Vec<[f64; 2]>,
    /// Sum of squared residuals.
    pub sse: f64,
    /// Number of measured points.
    pub points: usize,
    /// Levenberg-Marquardt iterations taken.
    pub iterations: usize,
}

/// Normal equations of one evaluation.
struct Normal {
    b: Vec<[[f64; 2]; 2]>,
    c: Vec<[[f64; SHARED]; 2]>,
    gl: Vec<[f64; 2]>,
    a: [[f64; SHARED]; SHARED],
    gs: [f64; SHARED],
}

/// Weight of point `i` of ramp `r` (1 without weights).
#[inline]
fn weight(weights: Option<&[Vec<f64>]>, r: usize, i: usize) -> f64 {
    weights.map_or(1.0, |w| w[r][i])
}

fn sse_of(law: &Law, locals: &[[f64; 2]], ramps: &[&Ramp], weights: Option<&[Vec<f64>]>) -> f64 {
    ramps
        .iter()
        .zip(locals)
        .enumerate()
        .map(|(r, (ramp, p))| {
            let mut g = p[0].clamp(law.g_min, law.g_max);
            let mut s = 0.0;
            for (i, y) in ramp.g.iter().enumerate() {
                s += weight(weights, r, i) * (y - g) * (y - g);
                g = law.next(ramp.polarity, p[1], g);
            }
            s
        })
        .sum()
}

fn normal_equations(
    law: &Law,
    locals: &[[f64; 2]],
    ramps: &[&Ramp],
    weights: Option<&[Vec<f64>]>,
) -> (f64, Normal) {
    let longest = ramps.iter().map(|r| r.g.len()).max().unwrap_or(0);
    let mut g = vec![0.0; longest];
    let mut sens = vec![Sensitivity::default(); longest];
    let mut normal = Normal {
        b: Vec::with_capacity(ramps.len()),
        c: Vec::with_capacity(ramps.len()),
        gl: Vec::with_capacity(ramps.len()),
        a: [[0.0; SHARED]; SHARED],
        gs: [0.0; SHARED],
    };
    let mut sse = 0.0;
    for (index, (ramp, p)) in ramps.iter().zip(locals).enumerate() {
        let n = ramp.g.len();
        law.trajectory_with_sensitivity(ramp.polarity, p[0], p[1], &mut g[..n], &mut sens[..n]);
        let mut b = [[0.0; 2]; 2];
        let mut c = [[0.0; SHARED]; 2];
        let mut gl = [0.0; 2];
        for i in 0..n {
            let w = weight(weights, index, i);
            let r = ramp.g[i] - g[i];
            sse += w * r * r;
            let s = &sens[i];
            for j in 0..2 {
                gl[j] += w * s.local[j] * r;
                for k in 0..2 {
                    b[j][k] += w * s.local[j] * s.local[k];
                }
                for k in 0..SHARED {
                    c[j][k] += w * s.local[j] * s.shared[k];
                }
            }
            for j in 0..SHARED {
                normal.gs[j] += w * s.shared[j] * r;
                for k in 0..SHARED {
                    normal.a[j][k] += w * s.shared[j] * s.shared[k];
                }
            }
        }
        normal.b.push(b);
        normal.c.push(c);
        normal.gl.push(gl);
    }
    (sse, normal)
}

/// Solves a small dense system by Gaussian elimination with partial pivoting; `None` if singular.
fn solve<const N: usize>(mut m: [[f64; N]; N], mut rhs: [f64; N]) -> Option<[f64; N]> {
    for col in 0..N {
        let pivot = (col..N).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[pivot][col].abs() < 1e-300 || !m[pivot][col].is_finite() {
            return None;
        }
        m.swap(col, pivot);
        rhs.swap(col, pivot);
        for row in col + 1..N {
            let factor = m[row][col] / m[col][col];
            for k in col..N {
                m[row][k] -= factor * m[col][k];
            }
            rhs[row] -= factor * rhs[col];
        }
    }
    let mut x = [0.0; N];
    for row in (0..N).rev() {
        let tail: f64 = (row + 1..N).map(|k| m[row][k] * x[k]).sum();
        x[row] = (rhs[row] - tail) / m[row][row];
    }
    Some(x)
}

/// What the fitter may move.
struct Freedom {
    shared: [bool; SHARED],
}

/// The damped step for all parameters, or `None` if the system is singular.
fn damped_step(normal: &Normal, lambda: f64, freedom: &Freedom) -> Option<([f64; SHARED], Vec<[f64; 2]>)> {
    let mut s = normal.a;
    let mut rhs = normal.gs;
    let max_diag = (0..SHARED).map(|j| normal.a[j][j]).fold(0.0, f64::max);
    let mut free = freedom.shared;
    for j in 0..SHARED {
        if normal.a[j][j] <= 1e-14 * max_diag {
            free[j] = false;
        }
        s[j][j] += lambda * normal.a[j][j];
    }
    let mut binv = Vec::with_capacity(normal.b.len());
    for ((b, c), gl) in normal.b.iter().zip(&normal.c).zip(&normal.gl) {
        let mut bd = *b;
        let scale = b[0][0].max(b[1][1]);
        for j in 0..2 {
            bd[j][j] += lambda * b[j][j] + 1e-12 * scale;
        }
        let det = bd[0][0] * bd[1][1] - bd[0][1] * bd[1][0];
        if det == 0.0 || !det.is_finite() {
            return None;
        }
        let inv = [
            [bd[1][1] / det, -bd[0][1] / det],
            [-bd[1][0] / det, bd[0][0] / det],
        ];
        // S -= C^T B^-1 C and rhs -= C^T B^-1 gl.
        let mut binv_c = [[0.0; SHARED]; 2];
        for j in 0..2 {
            for k in 0..SHARED {
                binv_c[j][k] = inv[j][0] * c[0][k] + inv[j][1] * c[1][k];
            }
        }
        let binv_gl = [
            inv[0][0] * gl[0] + inv[0][1] * gl[1],
            inv[1][0] * gl[0] + inv[1][1] * gl[1],
        ];
        for j in 0..SHARED {
            for k in 0..SHARED {
                s[j][k] -= c[0][j] * binv_c[0][k] + c[1][j] * binv_c[1][k];
            }
            rhs[j] -= c[0][j] * binv_gl[0] + c[1][j] * binv_gl[1];
        }
        binv.push(inv);
    }
    for j in 0..SHARED {
        if !free[j] {
            for k in 0..SHARED {
                s[j][k] = 0.0;
                s[k][j] = 0.0;
            }
            s[j][j] = 1.0;
            rhs[j] = 0.0;
        }
    }
    let ds = solve(s, rhs)?;
    let mut dl = Vec::with_capacity(normal.b.len());
    for ((inv, c), gl) in binv.iter().zip(&normal.c).zip(&normal.gl) {
        let mut r = *gl;
        for j in 0..2 {
            for k in 0..SHARED {
                r[j] -= c[j][k] * ds[k];
            }
        }
        dl.push([
            inv[0][0] * r[0] + inv[0][1] * r[1],
            inv[1][0] * r[0] + inv[1][1] * r[1],
        ]);
    }
    Some((ds, dl))
}

/// Options of the shape fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShapeOptions {
    /// Where the window may lie.
    pub bounds: WindowBounds,
    /// Iteration cap.
    pub max_iterations: usize,
}

fn project(law: &mut Law, locals: &mut [[f64; 2]], bounds: &WindowBounds) {
    law.nu_set = law.nu_set.clamp(0.0, NU_MAX);
    law.nu_reset = law.nu_reset.clamp(0.0, NU_MAX);
    law.g_min = law.g_min.max(bounds.g_min_lo);
    law.g_max = law.g_max.min(bounds.g_max_hi);
    let gap = 1e-6 * law.scale;
    if law.g_max - law.g_min < gap {
        let mid = 0.5 * (law.g_max + law.g_min);
        law.g_min = mid - gap / 2.0;
        law.g_max = mid + gap / 2.0;
    }
    let b_floor = 1e-12 * law.scale;
    for p in locals {
        p[1] = p[1].max(b_floor);
    }
}

/// Which shared parameters may move this iteration: those of polarities present, and not at a bound that
/// the gradient pushes against.
fn freedom(law: &Law, gs: &[f64; SHARED], ramps: &[&Ramp], bounds: &WindowBounds) -> Freedom {
    let has = |p: Polarity| ramps.iter().any(|r| r.polarity == p);
    let mut shared = [true; SHARED];
    for (index, nu, p) in [
        (NU_SET, law.nu_set, Polarity::Set),
        (NU_RESET, law.nu_reset, Polarity::Reset),
    ] {
        let pushed_out = (nu <= 0.0 && gs[index] < 0.0) || (nu >= NU_MAX && gs[index] > 0.0);
        shared[index] = has(p) && !pushed_out;
    }
    if law.g_min <= bounds.g_min_lo && gs[G_MIN] < 0.0 {
        shared[G_MIN] = false;
    }
    if law.g_max >= bounds.g_max_hi && gs[G_MAX] > 0.0 {
        shared[G_MAX] = false;
    }
    Freedom { shared }
}

/// Fits from the starting point `start`, minimising the sum of squared residuals, each weighted by
/// `weights[ramp][point]` if given.
pub fn fit(
    ramps: &[&Ramp],
    start: ShapeFit,
    options: &ShapeOptions,
    weights: Option<&[Vec<f64>]>,
) -> ShapeFit {
    let mut law = start.law;
    let mut locals = start.ramps;
    project(&mut law, &mut locals, &options.bounds);
    let points = ramps.iter().map(|r| r.g.len()).sum();
    let mut lambda = 1e-3;
    let mut iterations = 0;
    let (mut sse, mut normal) = normal_equations(&law, &locals, ramps, weights);
    let mut quiet = 0;
    while iterations < options.max_iterations {
        iterations += 1;
        let free = freedom(&law, &normal.gs, ramps, &options.bounds);
        let mut accepted = false;
        while lambda < 1e12 {
            let Some((ds, dl)) = damped_step(&normal, lambda, &free) else {
                lambda *= 10.0;
                continue;
            };
            let mut shared = law.shared();
            for j in 0..SHARED {
                shared[j] += ds[j];
            }
            let mut trial_law = law.with_shared(shared);
            let mut trial_locals: Vec<[f64; 2]> = locals
                .iter()
                .zip(&dl)
                .map(|(p, d)| [p[0] + d[0], p[1] + d[1]])
                .collect();
            project(&mut trial_law, &mut trial_locals, &options.bounds);
            let trial_sse = sse_of(&trial_law, &trial_locals, ramps, weights);
            if trial_sse.is_finite() && trial_sse < sse {
                let gain = (sse - trial_sse) / sse.max(f64::MIN_POSITIVE);
                law = trial_law;
                locals = trial_locals;
                lambda = (lambda / 3.0).max(1e-12);
                accepted = true;
                quiet = if gain < 1e-10 { quiet + 1 } else { 0 };
                break;
            }
            lambda *= 4.0;
        }
        if !accepted || quiet >= 3 {
            break;
        }
        (sse, normal) = normal_equations(&law, &locals, ramps, weights);
    }
    let sse = sse_of(&law, &locals, ramps, weights);
    ShapeFit {
        law,
        ramps: locals,
        sse,
        points,
        iterations,
    }
}

/// A starting point: the window just outside the data, both exponents `nu`, each ramp's start at its
/// first point and its scale from a regression of its increments on the headroom term.
pub fn initial(ramps: &[&Ramp], nu: f64, scale: f64, bounds: &WindowBounds) -> ShapeFit {
    let (lo, hi) = ramps
        .iter()
        .flat_map(|r| r.g.iter())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let margin = 0.02 * (hi - lo);
    let law = Law {
        nu_set: nu,
        nu_reset: nu,
        g_min: (lo - margin).max(bounds.g_min_lo),
        g_max: (hi + margin).min(bounds.g_max_hi),
        scale,
    };
    let locals = ramps
        .iter()
        .map(|r| {
            let head = r.g.len().min(3);
            let start = r.g[..head].iter().sum::<f64>() / head as f64;
            let sign = f64::from(r.polarity.sign());
            let (mut num, mut den) = (0.0, 0.0);
            for w in r.g.windows(2) {
                let f = law.step(r.polarity, 1.0, w[0]) * sign;
                num += (w[1] - w[0]) * sign * f;
                den += f * f;
            }
            let mean_step = (r.g[r.g.len() - 1] - r.g[0]).abs() / (r.g.len() - 1) as f64;
            let b = if den > 0.0 && num > 0.0 {
                num / den
            } else {
                mean_step.max(1e-9 * scale)
            };
            [start, b]
        })
        .collect();
    ShapeFit {
        law,
        ramps: locals,
        sse: f64::INFINITY,
        points: ramps.iter().map(|r| r.g.len()).sum(),
        iterations: 0,
    }
}

/// Fits from several starting exponents and keeps the best.
pub fn fit_multistart(ramps: &[&Ramp], scale: f64, options: &ShapeOptions, nus: &[f64]) -> ShapeFit {
    let mut best: Option<ShapeFit> = None;
    for &nu in nus {
        let candidate = fit(ramps, initial(ramps, nu, scale, &options.bounds), options, None);
        if best.as_ref().is_none_or(|b| candidate.sse < b.sse) {
            best = Some(candidate);
        }
    }
    best.unwrap_or_else(|| initial(ramps, 1.0, scale, &options.bounds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramps_from(law: &Law, specs: &[(Polarity, f64, f64, usize)]) -> Vec<Ramp> {
        specs
            .iter()
            .map(|&(p, start, b, n)| Ramp {
                polarity: p,
                g: law.trajectory(p, start, b, n),
                source: String::new(),
            })
            .collect()
    }

    /// Noise-free ramps are fitted back to their exact parameters from a distant start.
    #[test]
    fn recovers_exact_parameters_from_noise_free_ramps() {
        let truth = Law {
            nu_set: 1.4,
            nu_reset: 0.6,
            g_min: 5.0,
            g_max: 60.0,
            scale: 50.0,
        };
        let specs = [
            (Polarity::Set, 5.0, 1.5, 80),
            (Polarity::Set, 8.0, 1.8, 70),
            (Polarity::Reset, 58.0, 1.0, 90),
            (Polarity::Reset, 55.0, 1.2, 60),
        ];
        let ramps = ramps_from(&truth, &specs);
        let refs: Vec<&Ramp> = ramps.iter().collect();
        let options = ShapeOptions {
            bounds: WindowBounds {
                g_min_lo: 0.0,
                g_max_hi: 200.0,
            },
            max_iterations: 500,
        };
        let fit = fit_multistart(&refs, 50.0, &options, &[0.5, 1.0, 2.0]);
        assert!(fit.sse < 1e-12, "sse {}", fit.sse);
        let got = fit.law.shared();
        for (k, want) in truth.shared().iter().enumerate() {
            assert!(
                (got[k] - want).abs() < 1e-4 * (1.0 + want.abs()),
                "{k}: {} vs {want}",
                got[k]
            );
        }
        for (p, spec) in fit.ramps.iter().zip(&specs) {
            assert!((p[1] - spec.2).abs() < 1e-5, "{p:?}");
        }
    }

    #[test]
    fn small_solver_matches_known_solution() {
        let m = [[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]];
        let x = [1.0, -2.0, 0.5];
        let rhs = [4.0 - 2.0, 1.0 - 6.0 + 0.5, -2.0 + 1.0];
        let got = solve(m, rhs).unwrap();
        for k in 0..3 {
            assert!((got[k] - x[k]).abs() < 1e-12);
        }
        assert!(solve([[1.0, 2.0], [2.0, 4.0]], [1.0, 2.0]).is_none());
    }
}
