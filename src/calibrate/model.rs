//! The deterministic step law that the fit adjusts, in the units of the data, and the trajectory of a ramp
//! under it with its sensitivities to every parameter.
//!
//! A ramp of polarity s with scale b moves by h(G) = s b x^nu_s per pulse, then G is clipped to
//! [g_min, g_max], where the headroom is x = (g_max - G) / D for SET and (G - g_min) / D for RESET. D is a
//! fixed scale (the span of the data), not the window R: with it SET ramps alone identify (b, nu_SET, g_max)
//! and RESET ramps alone (b, nu_RESET, g_min), with no trade-off between b and the window. The pulse-level
//! device's fresh-device step (f_s = 1 at full headroom x_R = 1, DESIGN.md section 3) is then
//! a = b (R / D)^nu_s.

use crate::pulse::Polarity;

/// Index of nu_SET among the shared parameters.
pub const NU_SET: usize = 0;
/// Index of nu_RESET among the shared parameters.
pub const NU_RESET: usize = 1;
/// Index of g_min among the shared parameters.
pub const G_MIN: usize = 2;
/// Index of g_max among the shared parameters.
pub const G_MAX: usize = 3;
/// Number of shared parameters.
pub const SHARED: usize = 4;

/// Headroom below which derivatives of x^nu are evaluated at this floor (they diverge at 0 for nu < 1).
const X_FLOOR: f64 = 1e-9;

/// The shared parameters of the step law, in data units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Law {
    /// Saturation exponent of SET.
    pub nu_set: f64,
    /// Saturation exponent of RESET.
    pub nu_reset: f64,
    /// Lower end of the window (asymptote of RESET ramps).
    pub g_min: f64,
    /// Upper end of the window (asymptote of SET ramps).
    pub g_max: f64,
    /// The fixed headroom scale D (data span), > 0.
    pub scale: f64,
}

/// Sensitivities of one point of a trajectory: to the ramp's (start, scale) and to the shared parameters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sensitivity {
    /// d G / d (start, b).
    pub local: [f64; 2],
    /// d G / d (nu_SET, nu_RESET, g_min, g_max).
    pub shared: [f64; SHARED],
}

impl Law {
    /// The shared parameters as a vector (indices [`NU_SET`], [`NU_RESET`], [`G_MIN`], [`G_MAX`]).
    pub fn shared(&self) -> [f64; SHARED] {
        [self.nu_set, self.nu_reset, self.g_min, self.g_max]
    }

    /// The law with shared parameters `p` and the same scale.
    pub fn with_shared(&self, p: [f64; SHARED]) -> Self {
        Self {
            nu_set: p[NU_SET],
            nu_reset: p[NU_RESET],
            g_min: p[G_MIN],
            g_max: p[G_MAX],
            scale: self.scale,
        }
    }

    /// The saturation exponent of `polarity`.
    pub fn nu(&self, polarity: Polarity) -> f64 {
        match polarity {
            Polarity::Set => self.nu_set,
            Polarity::Reset => self.nu_reset,
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

    /// The signed step h(G) of a ramp of scale `b` at `g` (before clipping).
    #[inline]
    pub fn step(&self, polarity: Polarity, b: f64, g: f64) -> f64 {
        let nu = self.nu(polarity);
        let f = if nu == 0.0 {
            1.0
        } else {
            self.headroom(polarity, g).powf(nu)
        };
        f64::from(polarity.sign()) * b * f
    }

    /// d h / d G: how the step of a ramp of scale `b` changes with the conductance at `g`.
    #[inline]
    pub fn step_slope(&self, polarity: Polarity, b: f64, g: f64) -> f64 {
        let nu = self.nu(polarity);
        if nu == 0.0 {
            return 0.0;
        }
        let x = self.headroom(polarity, g).max(X_FLOOR);
        // h = s b x^nu with dx/dG = -1/D (SET) or +1/D (RESET): both signs give -b nu x^(nu-1) / D.
        -b * nu * x.powf(nu - 1.0) / self.scale
    }

    /// The conductance after one pulse from `g`.
    #[inline]
    pub fn next(&self, polarity: Polarity, b: f64, g: f64) -> f64 {
        (g + self.step(polarity, b, g)).clamp(self.g_min, self.g_max)
    }

    /// The fresh-device step a = b (R / D)^nu (the step at full headroom of the window).
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

    /// Fills `g` with the trajectory from `start` with scale `b` and `sens` with its sensitivities
    /// (forward propagation through the recursion; a clipped point depends only on the bound it sits on).
    pub fn trajectory_with_sensitivity(
        &self,
        polarity: Polarity,
        start: f64,
        b: f64,
        g: &mut [f64],
        sens: &mut [Sensitivity],
    ) {
        let nu = self.nu(polarity);
        let (nu_index, sign, dx_dg) = match polarity {
            Polarity::Set => (NU_SET, 1.0, -1.0 / self.scale),
            Polarity::Reset => (NU_RESET, -1.0, 1.0 / self.scale),
        };
        let mut current = Sensitivity::default();
        let mut value = start;
        if start > self.g_max {
            value = self.g_max;
            current.shared[G_MAX] = 1.0;
        } else if start < self.g_min {
            value = self.g_min;
            current.shared[G_MIN] = 1.0;
        } else {
            current.local[0] = 1.0;
        }
        for (gi, si) in g.iter_mut().zip(sens.iter_mut()) {
            *gi = value;
            *si = current;
            let x = self.headroom(polarity, value);
            // f = x^nu and its derivative in x (nu x^(nu-1)), both at a floored headroom where needed.
            let (f, df_dx, ln_x) = if nu == 0.0 {
                (1.0, 0.0, 0.0)
            } else {
                let xf = x.max(X_FLOOR);
                let f = x.powf(nu);
                (f, nu * xf.powf(nu - 1.0), xf.ln())
            };
            let step = sign * b * f;
            let dh_dg = sign * b * df_dx * dx_dg;
            // Headroom's dependence on the window ends: SET x = (g_max - G)/D, RESET x = (G - g_min)/D.
            let (dh_dgmin, dh_dgmax) = match polarity {
                Polarity::Set => (0.0, sign * b * df_dx / self.scale),
                Polarity::Reset => (-sign * b * df_dx / self.scale, 0.0),
            };
            let raw = value + step;
            let mut next = Sensitivity::default();
            if raw >= self.g_max {
                value = self.g_max;
                next.shared[G_MAX] = 1.0;
            } else if raw <= self.g_min {
                value = self.g_min;
                next.shared[G_MIN] = 1.0;
            } else {
                value = raw;
                let carry = 1.0 + dh_dg;
                next.local[0] = current.local[0] * carry;
                next.local[1] = current.local[1] * carry + sign * f;
                for k in 0..SHARED {
                    next.shared[k] = current.shared[k] * carry;
                }
                next.shared[nu_index] += sign * b * f * ln_x;
                next.shared[G_MIN] += dh_dgmin;
                next.shared[G_MAX] += dh_dgmax;
            }
            current = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn law() -> Law {
        Law {
            nu_set: 1.3,
            nu_reset: 0.7,
            g_min: 2.0,
            g_max: 50.0,
            scale: 40.0,
        }
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

    /// Every sensitivity agrees with a central finite difference.
    #[test]
    fn sensitivities_match_finite_differences() {
        for polarity in [Polarity::Set, Polarity::Reset] {
            let l = law();
            let (start, b, n) = match polarity {
                Polarity::Set => (6.0, 1.5, 40),
                Polarity::Reset => (45.0, 1.2, 40),
            };
            let mut g = vec![0.0; n];
            let mut s = vec![Sensitivity::default(); n];
            l.trajectory_with_sensitivity(polarity, start, b, &mut g, &mut s);
            assert_eq!(g, l.trajectory(polarity, start, b, n));
            let h = 1e-6;
            let check =
                |k: usize, plus: Vec<f64>, minus: Vec<f64>, analytic: &dyn Fn(&Sensitivity) -> f64| {
                    for i in 0..n {
                        let fd = (plus[i] - minus[i]) / (2.0 * h);
                        let an = analytic(&s[i]);
                        assert!(
                            (fd - an).abs() < 1e-5 * (1.0 + an.abs()),
                            "{polarity:?} param {k} point {i}: {fd} vs {an}"
                        );
                    }
                };
            check(
                0,
                l.trajectory(polarity, start + h, b, n),
                l.trajectory(polarity, start - h, b, n),
                &|s| s.local[0],
            );
            check(
                1,
                l.trajectory(polarity, start, b + h, n),
                l.trajectory(polarity, start, b - h, n),
                &|s| s.local[1],
            );
            for k in 0..SHARED {
                let mut p = l.shared();
                p[k] += h;
                let plus = l.with_shared(p).trajectory(polarity, start, b, n);
                p[k] -= 2.0 * h;
                let minus = l.with_shared(p).trajectory(polarity, start, b, n);
                check(k + 2, plus, minus, &|s| s.shared[k]);
            }
        }
    }

    #[test]
    fn clipped_points_follow_the_bound() {
        let l = Law { nu_set: 0.0, ..law() };
        let n = 40;
        let mut g = vec![0.0; n];
        let mut s = vec![Sensitivity::default(); n];
        l.trajectory_with_sensitivity(Polarity::Set, 40.0, 3.0, &mut g, &mut s);
        assert_eq!(g[n - 1], 50.0);
        assert_eq!(s[n - 1].shared[G_MAX], 1.0);
        assert_eq!(s[n - 1].local, [0.0, 0.0]);
    }
}
