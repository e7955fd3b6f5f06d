//! The deterministic step law that the fit adjusts, in the units of the data, and the trajectory of a ramp
//! under it with its sensitivities to every parameter.
//!
//! A ramp of polarity s with scale b moves by h(G) = s b x^nu_s T_s(G) per pulse, then G is clipped to
//! [g_min, g_max], where the headroom is x = (g_max - G) / D for SET and (G - g_min) / D for RESET. D is a
//! fixed scale (the span of the data), not the window R: with it SET ramps alone identify (b, nu_SET, g_max)
//! and RESET ramps alone (b, nu_RESET, g_min), with no trade-off between b and the window. The exponent is
//! signed: nu < 0 is an accelerating ramp (the step grows as the headroom shrinks), evaluated at a headroom
//! floored at [`HEADROOM_FLOOR`] like the device's. T_s is an optional step table (the device's
//! `*_step_table`): relative step factors at K evenly spaced conductances from g_min to g_max, linearly
//! interpolated; without one T_s = 1. The table's nodes span a fixed interval (the measured span), not the
//! window, so that the window's ends stay free clipping levels; [`Law::table_on_window`] resamples a
//! table onto the window, as the device's configuration holds it. The pulse-level device's fresh-device
//! step (f_s = 1 at full headroom x_R = 1, DESIGN.md section 3) is then a = b (R / D)^nu_s.
//!
//! The shared parameters form one vector: [nu_SET, nu_RESET, g_min, g_max, SET table..., RESET table...].

use crate::config::HEADROOM_FLOOR;
use crate::pulse::Polarity;

/// Index of nu_SET among the shared parameters.
pub const NU_SET: usize = 0;
/// Index of nu_RESET among the shared parameters.
pub const NU_RESET: usize = 1;
/// Index of g_min among the shared parameters.
pub const G_MIN: usize = 2;
/// Index of g_max among the shared parameters.
pub const G_MAX: usize = 3;
/// Number of shared parameters of the power law (the table nodes follow them).
pub const POWER_SHARED: usize = 4;

/// Headroom below which derivatives of x^nu are evaluated at this floor (they diverge at 0 for nu < 1).
const X_FLOOR: f64 = 1e-9;

/// The shared parameters of the step law, in data units.
#[derive(Debug, Clone, PartialEq)]
pub struct Law {
    /// Saturation exponent of SET (negative: accelerating).
    pub nu_set: f64,
    /// Saturation exponent of RESET (negative: accelerating).
    pub nu_reset: f64,
    /// Lower end of the window (asymptote of RESET ramps).
    pub g_min: f64,
    /// Upper end of the window (asymptote of SET ramps).
    pub g_max: f64,
    /// The fixed headroom scale D (data span), > 0.
    pub scale: f64,
    /// SET step table T_SET at evenly spaced conductances from g_min to g_max (None: T = 1).
    pub set_table: Option<Vec<f64>>,
    /// RESET step table T_RESET, on the same nodes (None: T = 1).
    pub reset_table: Option<Vec<f64>>,
    /// The conductances of the tables' first and last nodes (the nodes are evenly spaced between them).
    pub table_span: (f64, f64),
}

/// The power factor x^nu of a headroom `x` (at the floor for negative exponents).
#[inline]
fn power_value(x: f64, nu: f64) -> f64 {
    if nu == 0.0 {
        1.0
    } else if nu < 0.0 {
        x.max(HEADROOM_FLOOR).powf(nu)
    } else {
        x.powf(nu)
    }
}

/// The power factor x^nu of a headroom `x` with its derivative in x and ln x: at the floor for negative
/// exponents (where the derivative is 0), and the derivative at [`X_FLOOR`] for positive ones. One `powf`:
/// d(x^nu)/dx = nu x^nu / x.
#[inline]
fn power(x: f64, nu: f64) -> (f64, f64, f64) {
    if nu == 0.0 {
        // d(x^nu)/dnu = ln x at nu = 0 too: without it an exponent that reaches exactly 0 could never leave.
        (1.0, 0.0, x.max(X_FLOOR).ln())
    } else if nu < 0.0 {
        let xf = x.max(HEADROOM_FLOOR);
        let pw = xf.powf(nu);
        let df = if x > HEADROOM_FLOOR { nu * pw / xf } else { 0.0 };
        (pw, df, xf.ln())
    } else if x > X_FLOOR {
        let pw = x.powf(nu);
        (pw, nu * pw / x, x.ln())
    } else {
        (x.powf(nu), nu * X_FLOOR.powf(nu - 1.0), X_FLOOR.ln())
    }
}

/// Where `g` falls among `k` table nodes spread over [lo, hi]: the lower node index, the weight of the
/// upper node, and d(position in nodes)/dG (0 outside the window, where the table is flat).
#[inline]
fn locate(k: usize, lo: f64, hi: f64, g: f64) -> (usize, f64, f64) {
    let per_g = (k - 1) as f64 / (hi - lo);
    let pos = (g - lo) * per_g;
    if pos <= 0.0 {
        return (0, 0.0, 0.0);
    }
    if pos >= (k - 1) as f64 {
        return (k - 2, 1.0, 0.0);
    }
    let i = (pos.floor() as usize).min(k - 2);
    (i, pos - i as f64, per_g)
}

/// One step's value and partial derivatives.
struct StepParts {
    /// x^nu T(G): the step per unit scale, unsigned.
    factor: f64,
    /// d h / d G.
    slope: f64,
    /// d factor / d nu (x^nu T ln x).
    d_nu: f64,
    /// d factor / d (headroom end): T d(x^nu)/dx / D, signed as for SET's g_max.
    d_end: f64,
    /// The two table nodes this step depends on, with d factor / d node (None without a table).
    nodes: Option<[(usize, f64); 2]>,
}

impl Law {
    /// The power law (no tables).
    pub fn power(nu_set: f64, nu_reset: f64, g_min: f64, g_max: f64, scale: f64) -> Self {
        Self {
            nu_set,
            nu_reset,
            g_min,
            g_max,
            scale,
            set_table: None,
            reset_table: None,
            table_span: (g_min, g_max),
        }
    }

    /// Number of shared parameters (power law plus table nodes).
    pub fn shared_len(&self) -> usize {
        POWER_SHARED
            + self.table(Polarity::Set).map_or(0, <[f64]>::len)
            + self.table(Polarity::Reset).map_or(0, <[f64]>::len)
    }

    /// Index of the first node of `polarity`'s table among the shared parameters.
    fn table_offset(&self, polarity: Polarity) -> usize {
        match polarity {
            Polarity::Set => POWER_SHARED,
            Polarity::Reset => POWER_SHARED + self.table(Polarity::Set).map_or(0, <[f64]>::len),
        }
    }

    /// The shared parameters a ramp of `polarity` depends on: its exponent, both window ends (through
    /// clipping) and its table's nodes.
    pub fn active(&self, polarity: Polarity) -> Vec<usize> {
        let nu = match polarity {
            Polarity::Set => NU_SET,
            Polarity::Reset => NU_RESET,
        };
        let offset = self.table_offset(polarity);
        let nodes = self.table(polarity).map_or(0, <[f64]>::len);
        [nu, G_MIN, G_MAX]
            .into_iter()
            .chain(offset..offset + nodes)
            .collect()
    }

    /// The shared parameters as a vector (see the module docs for the order).
    pub fn shared(&self) -> Vec<f64> {
        let mut p = vec![self.nu_set, self.nu_reset, self.g_min, self.g_max];
        p.extend(self.table(Polarity::Set).unwrap_or(&[]));
        p.extend(self.table(Polarity::Reset).unwrap_or(&[]));
        p
    }

    /// The law with shared parameters `p` (same layout as [`Law::shared`]) and the same scale.
    pub fn with_shared(&self, p: &[f64]) -> Self {
        let set = self.table_offset(Polarity::Set);
        let reset = self.table_offset(Polarity::Reset);
        let end = self.shared_len();
        Self {
            nu_set: p[NU_SET],
            nu_reset: p[NU_RESET],
            g_min: p[G_MIN],
            g_max: p[G_MAX],
            scale: self.scale,
            set_table: self.set_table.as_ref().map(|_| p[set..reset].to_vec()),
            reset_table: self.reset_table.as_ref().map(|_| p[reset..end].to_vec()),
            table_span: self.table_span,
        }
    }

    /// The saturation exponent of `polarity`.
    pub fn nu(&self, polarity: Polarity) -> f64 {
        match polarity {
            Polarity::Set => self.nu_set,
            Polarity::Reset => self.nu_reset,
        }
    }

    /// The step table of `polarity`, if any.
    pub fn table(&self, polarity: Polarity) -> Option<&[f64]> {
        match polarity {
            Polarity::Set => self.set_table.as_deref(),
            Polarity::Reset => self.reset_table.as_deref(),
        }
    }

    /// The window width R = g_max - g_min.
    pub fn range(&self) -> f64 {
        self.g_max - self.g_min
    }

    /// Headroom x (>= 0) of a `polarity` pulse at `g`, in units of the scale D.
    #[inline]
    pub fn headroom(&self, polarity: Polarity, g: f64) -> f64 {
        let x = match polarity {
            Polarity::Set => self.g_max - g,
            Polarity::Reset => g - self.g_min,
        };
        (x / self.scale).max(0.0)
    }

    fn parts(&self, polarity: Polarity, b: f64, g: f64) -> StepParts {
        let x = self.headroom(polarity, g);
        let (pw, dpw_dx, ln_x) = power(x, self.nu(polarity));
        let (t, dt_dg, nodes) = match self.table(polarity) {
            None => (1.0, 0.0, None),
            Some(values) => {
                let (i, w, per_g) = locate(values.len(), self.table_span.0, self.table_span.1, g);
                let t = (1.0 - w) * values[i] + w * values[i + 1];
                let offset = self.table_offset(polarity);
                (
                    t,
                    (values[i + 1] - values[i]) * per_g,
                    Some([(offset + i, pw * (1.0 - w)), (offset + i + 1, pw * w)]),
                )
            }
        };
        // dx/dG = -1/D (SET) or +1/D (RESET); with the sign s of the step both give the same slope form.
        let sign = f64::from(polarity.sign());
        let dx_dg = -sign / self.scale;
        StepParts {
            factor: pw * t,
            slope: sign * b * (dpw_dx * dx_dg * t + pw * dt_dg),
            d_nu: pw * t * ln_x,
            d_end: t * dpw_dx / self.scale,
            nodes,
        }
    }

    /// The signed step h(G) of a ramp of scale `b` at `g` (before clipping).
    #[inline]
    pub fn step(&self, polarity: Polarity, b: f64, g: f64) -> f64 {
        let pw = power_value(self.headroom(polarity, g), self.nu(polarity));
        let t = self
            .table(polarity)
            .map_or(1.0, |values| self.interpolate(values, g));
        f64::from(polarity.sign()) * b * pw * t
    }

    /// A table's value at `g`: linear between its nodes over [`Law::table_span`], clamped at the ends.
    #[inline]
    fn interpolate(&self, values: &[f64], g: f64) -> f64 {
        let (i, w, _) = locate(values.len(), self.table_span.0, self.table_span.1, g);
        (1.0 - w) * values[i] + w * values[i + 1]
    }

    /// d h / d G: how the step of a ramp of scale `b` changes with the conductance at `g`.
    #[inline]
    pub fn step_slope(&self, polarity: Polarity, b: f64, g: f64) -> f64 {
        self.parts(polarity, b, g).slope
    }

    /// The conductance after one pulse from `g`.
    #[inline]
    pub fn next(&self, polarity: Polarity, b: f64, g: f64) -> f64 {
        (g + self.step(polarity, b, g)).clamp(self.g_min, self.g_max)
    }

    /// The step table of `polarity` resampled onto the window: its value at K evenly spaced conductances
    /// from g_min to g_max (K the table's own size), as the device's configuration defines a table.
    pub fn table_on_window(&self, polarity: Polarity) -> Option<Vec<f64>> {
        let values = self.table(polarity)?;
        let k = values.len();
        Some(
            (0..k)
                .map(|j| self.interpolate(values, self.g_min + self.range() * j as f64 / (k - 1) as f64))
                .collect(),
        )
    }

    /// The fresh-device step a = b (R / D)^nu (the power-law step at full headroom of the window; a table
    /// multiplies it).
    pub fn full_step(&self, polarity: Polarity, b: f64) -> f64 {
        b * (self.range() / self.scale).powf(self.nu(polarity))
    }

    /// The ramp of `n` points that starts at `start` (clipped into the window) with scale `b`.
    pub fn trajectory(&self, polarity: Polarity, start: f64, b: f64, n: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(n);
        let mut g = start.clamp(self.g_min, self.g_max);
        for _ in 0..n {
            out.push(g);
            g = self.next(polarity, b, g);
        }
        out
    }

    /// Fills `g` with the trajectory from `start` with scale `b`, and `sens` with its sensitivities
    /// (forward propagation through the recursion; a clipped point depends only on the bound it sits on).
    /// `sens` holds one row per point of width 2 + `active.len()`: d G / d (start, b), then d G / d of each
    /// shared parameter listed in `active` (as from [`Law::active`]).
    pub fn trajectory_with_sensitivity(
        &self,
        polarity: Polarity,
        start: f64,
        b: f64,
        active: &[usize],
        g: &mut [f64],
        sens: &mut [f64],
    ) {
        let width = 2 + active.len();
        let column = |k: usize| active.iter().position(|&a| a == k).map(|c| 2 + c);
        let (nu_col, min_col, max_col) = (
            column(match polarity {
                Polarity::Set => NU_SET,
                Polarity::Reset => NU_RESET,
            }),
            column(G_MIN),
            column(G_MAX),
        );
        let sign = f64::from(polarity.sign());
        let mut current = vec![0.0; width];
        let mut next = vec![0.0; width];
        let pin = |row: &mut [f64], col: Option<usize>| {
            row.fill(0.0);
            if let Some(c) = col {
                row[c] = 1.0;
            }
        };
        let mut value = start;
        if start > self.g_max {
            value = self.g_max;
            pin(&mut current, max_col);
        } else if start < self.g_min {
            value = self.g_min;
            pin(&mut current, min_col);
        } else {
            current[0] = 1.0;
        }
        for (gi, row) in g.iter_mut().zip(sens.chunks_exact_mut(width)) {
            *gi = value;
            row.copy_from_slice(&current);
            let parts = self.parts(polarity, b, value);
            let raw = value + sign * b * parts.factor;
            if raw >= self.g_max {
                value = self.g_max;
                pin(&mut next, max_col);
            } else if raw <= self.g_min {
                value = self.g_min;
                pin(&mut next, min_col);
            } else {
                value = raw;
                let carry = 1.0 + parts.slope;
                for (n, c) in next.iter_mut().zip(&current) {
                    *n = c * carry;
                }
                next[1] += sign * parts.factor;
                if let Some(c) = nu_col {
                    next[c] += sign * b * parts.d_nu;
                }
                // Headroom's dependence on the window ends: SET x = (g_max - G)/D, RESET x = (G - g_min)/D.
                match (polarity, max_col, min_col) {
                    (Polarity::Set, Some(c), _) => next[c] += sign * b * parts.d_end,
                    (Polarity::Reset, _, Some(c)) => next[c] -= sign * b * parts.d_end,
                    _ => {}
                }
                for (k, d) in parts.nodes.into_iter().flatten() {
                    if let Some(c) = column(k) {
                        next[c] += sign * b * d;
                    }
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn law() -> Law {
        Law::power(1.3, 0.7, 2.0, 50.0, 40.0)
    }

    /// The linear law has a closed form: G_n = g_max - (g_max - G_0) (1 - b/D)^n.
    #[test]
    fn linear_set_ramp_matches_closed_form() {
        let l = Law { nu_set: 1.0, ..law() };
        let t = l.trajectory(Polarity::Set, 5.0, 2.0, 30);
        for (n, g) in t.iter().enumerate() {
            let want = 50.0 - 45.0 * (1.0 - 2.0 / 40.0_f64).powi(n as i32);
            assert!((g - want).abs() < 1e-9, "{n}: {g} vs {want}");
        }
        assert!((l.full_step(Polarity::Set, 2.0) - 2.0 * 48.0 / 40.0).abs() < 1e-12);
    }

    /// A two-node table [1, 0] with nu = 0 is the linear law in the window: T(G) = (g_max - G) / R, so with
    /// D = R it reproduces nu_SET = 1 exactly.
    #[test]
    fn linear_table_is_the_linear_power_law() {
        let power = Law::power(1.0, 1.0, 2.0, 50.0, 48.0);
        let table = Law {
            nu_set: 0.0,
            nu_reset: 0.0,
            set_table: Some(vec![1.0, 0.0]),
            reset_table: Some(vec![0.0, 1.0]),
            ..power.clone()
        };
        for (p, start) in [(Polarity::Set, 4.0), (Polarity::Reset, 49.0)] {
            let a = power.trajectory(p, start, 1.7, 50);
            let b = table.trajectory(p, start, 1.7, 50);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-9, "{p:?}: {x} vs {y}");
            }
        }
    }

    /// Resampling onto the window: the identity when the table spans the window; otherwise the table's
    /// piecewise-linear curve read at the window's nodes, clamped beyond its span.
    #[test]
    fn table_on_window_resamples_the_curve() {
        let mut l = Law {
            nu_set: 0.0,
            set_table: Some(vec![0.0, 1.0, 0.5]),
            ..Law::power(0.0, 0.0, 0.0, 40.0, 40.0)
        };
        assert_eq!(l.table_on_window(Polarity::Set).unwrap(), vec![0.0, 1.0, 0.5]);
        l.table_span = (0.0, 20.0);
        assert_eq!(l.table_on_window(Polarity::Set).unwrap(), vec![0.0, 0.5, 0.5]);
        assert!(l.table_on_window(Polarity::Reset).is_none());
    }

    /// A negative exponent accelerates: with nu = -1 the step at headroom D/4 is four times the step at D.
    #[test]
    fn negative_exponent_accelerates_and_stays_finite() {
        let l = Law::power(-1.0, 1.0, 0.0, 40.0, 40.0);
        let far = l.step(Polarity::Set, 1.0, 0.0);
        let near = l.step(Polarity::Set, 1.0, 30.0);
        assert!((near / far - 4.0).abs() < 1e-12, "{near} / {far}");
        let top = l.step(Polarity::Set, 1.0, 40.0);
        assert!(
            top.is_finite() && (top - 1.0 / HEADROOM_FLOOR).abs() < 1e-6,
            "{top}"
        );
        assert_eq!(l.next(Polarity::Set, 1.0, 39.99), 40.0);
    }

    fn check_sensitivities(l: &Law) {
        for polarity in [Polarity::Set, Polarity::Reset] {
            let (start, b, n) = match polarity {
                Polarity::Set => (6.0, 1.5, 40),
                Polarity::Reset => (45.0, 1.2, 40),
            };
            let active = l.active(polarity);
            let width = 2 + active.len();
            let mut g = vec![0.0; n];
            let mut s = vec![0.0; n * width];
            l.trajectory_with_sensitivity(polarity, start, b, &active, &mut g, &mut s);
            assert_eq!(g, l.trajectory(polarity, start, b, n));
            let h = 1e-6;
            let check = |col: usize, plus: Vec<f64>, minus: Vec<f64>| {
                for i in 0..n {
                    let fd = (plus[i] - minus[i]) / (2.0 * h);
                    let an = s[i * width + col];
                    assert!(
                        (fd - an).abs() < 1e-5 * (1.0 + an.abs()),
                        "{polarity:?} column {col} point {i}: {fd} vs {an}"
                    );
                }
            };
            check(
                0,
                l.trajectory(polarity, start + h, b, n),
                l.trajectory(polarity, start - h, b, n),
            );
            check(
                1,
                l.trajectory(polarity, start, b + h, n),
                l.trajectory(polarity, start, b - h, n),
            );
            for (c, &k) in active.iter().enumerate() {
                let mut p = l.shared();
                p[k] += h;
                let plus = l.with_shared(&p).trajectory(polarity, start, b, n);
                p[k] -= 2.0 * h;
                let minus = l.with_shared(&p).trajectory(polarity, start, b, n);
                check(2 + c, plus, minus);
            }
        }
    }

    /// Every sensitivity agrees with a central finite difference: saturating, accelerating and tabulated.
    #[test]
    fn sensitivities_match_finite_differences() {
        check_sensitivities(&law());
        check_sensitivities(&Law::power(-0.8, -0.4, 2.0, 50.0, 40.0));
        check_sensitivities(&Law {
            nu_set: 0.0,
            nu_reset: 0.0,
            set_table: Some(vec![1.0, 0.9, 0.5, 0.45, 0.2]),
            reset_table: Some(vec![0.1, 0.3, 0.8, 1.0]),
            table_span: (4.0, 48.0),
            ..law()
        });
    }

    #[test]
    fn clipped_points_follow_the_bound() {
        let l = Law { nu_set: 0.0, ..law() };
        let n = 40;
        let active = l.active(Polarity::Set);
        let width = 2 + active.len();
        let mut g = vec![0.0; n];
        let mut s = vec![0.0; n * width];
        l.trajectory_with_sensitivity(Polarity::Set, 40.0, 3.0, &active, &mut g, &mut s);
        assert_eq!(g[n - 1], 50.0);
        let last = &s[(n - 1) * width..];
        let max_col = 2 + active.iter().position(|&k| k == G_MAX).unwrap();
        assert_eq!(last[max_col], 1.0);
        assert_eq!(&last[..2], &[0.0, 0.0]);
    }
}
