//! The statistical fit of a set of ramps, in data units: the shape ([`super::shape`]), then the noise
//! ([`super::noise`]), then the device-to-device spread of the ramps' step scales.

use super::data::Ramp;
use super::dwell;
use super::model::Law;
use super::noise::{self, Noise};
use super::shape::{self, NU_MAX, NU_MIN, ShapeFit, ShapeOptions, WindowBounds};
use crate::pulse::Polarity;

/// Settings of the fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSettings {
    /// How far beyond the measured conductances the window may be extrapolated, as a fraction of the
    /// measured span (ramps that never approach saturation leave the window's end unidentified).
    pub extrapolation: f64,
    /// Whether g_min must be >= 0 (physical conductance; false for normalised data).
    pub non_negative: bool,
    /// Starting saturation exponents of the multi-start shape fit.
    pub nu_starts: Vec<f64>,
    /// Levenberg-Marquardt iteration cap.
    pub max_iterations: usize,
    /// The step law fitted.
    pub law: LawKind,
}

/// Which state dependence f_s(G) the fit gives the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LawKind {
    /// DESIGN.md's saturation law ((headroom) / R)^nu with a signed exponent (negative: accelerating).
    #[default]
    Power,
    /// A step table of this many nodes per polarity over the ramps' monotone span (nu = 0; the window's
    /// ends clip, and move only where ramps reach them): any monotone ramp shape, such as a fast initial
    /// transient followed by a linear tail. Started from the power-law fit and from the ramps' dwell
    /// times ([`dwell`]); the better fit is kept.
    Table {
        /// Nodes per table, >= 2.
        nodes: usize,
    },
}

impl Default for FitSettings {
    fn default() -> Self {
        Self {
            extrapolation: 0.25,
            non_negative: true,
            nu_starts: vec![-0.5, 0.5, 1.0, 2.0],
            max_iterations: 300,
            law: LawKind::Power,
        }
    }
}

/// One end of the window: whether the data located it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowEnd {
    /// Located by the saturation of the ramps that approach it.
    Fitted,
    /// The ramps approaching it show no saturation (exponent 0) or there are none: set to the furthest
    /// conductance the fitted ramps reach.
    NotIdentified,
    /// Pressed against the allowed extrapolation.
    AtBound,
    /// Set to the measured span: a step table covers the measured conductances only.
    Measured,
}

/// The fit of a set of ramps, in data units.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceFit {
    /// The shape: shared law and per-ramp (start, scale).
    pub shape: ShapeFit,
    /// Polarity of each ramp (same order as `shape.ramps`).
    pub polarities: Vec<Polarity>,
    /// Cycle-to-cycle and read noise.
    pub noise: Noise,
    /// Relative device-to-device std of the step scale (None with fewer than two ramps per polarity).
    pub eta_d2d: Option<f64>,
    /// How g_min was found.
    pub g_min_end: WindowEnd,
    /// How g_max was found.
    pub g_max_end: WindowEnd,
}

impl DeviceFit {
    /// The fitted law.
    pub fn law(&self) -> &Law {
        &self.shape.law
    }

    /// Mean step scale b of the ramps of `polarity` (the nominal device, eta = 1), if there are any.
    pub fn mean_scale(&self, polarity: Polarity) -> Option<f64> {
        let b: Vec<f64> = self
            .polarities
            .iter()
            .zip(&self.shape.ramps)
            .filter(|(p, _)| **p == polarity)
            .map(|(_, r)| r[1])
            .collect();
        (!b.is_empty()).then(|| b.iter().sum::<f64>() / b.len() as f64)
    }

    /// The nominal device's step at full headroom (f_s = 1) for the measurement pulse, in data units.
    pub fn full_step(&self, polarity: Polarity) -> Option<f64> {
        self.mean_scale(polarity)
            .map(|b| self.law().full_step(polarity, b))
    }

    /// Whether the saturation exponent of `polarity` was fitted (ramps of that polarity exist).
    pub fn has(&self, polarity: Polarity) -> bool {
        self.polarities.contains(&polarity)
    }
}

/// The measured span (lowest and highest value).
pub fn data_range(ramps: &[&Ramp]) -> (f64, f64) {
    ramps
        .iter()
        .flat_map(|r| r.g.iter())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

/// The shape-fit options for these ramps.
pub fn shape_options(ramps: &[&Ramp], settings: &FitSettings) -> (f64, ShapeOptions) {
    let (lo, hi) = data_range(ramps);
    let span = hi - lo;
    let mut g_min_lo = lo - settings.extrapolation * span;
    if settings.non_negative {
        g_min_lo = g_min_lo.max(0.0);
    }
    (
        span,
        ShapeOptions {
            bounds: WindowBounds {
                g_min_lo,
                g_max_hi: hi + settings.extrapolation * span,
            },
            max_iterations: settings.max_iterations,
        },
    )
}

/// Fits `ramps`; `warm` (a fit of the same ramps, or of a resample mapped to them) replaces the multi-start.
pub fn fit(ramps: &[&Ramp], settings: &FitSettings, warm: Option<ShapeFit>) -> DeviceFit {
    let (span, options) = shape_options(ramps, settings);
    let mut shape = match warm {
        Some(start) => shape::fit(ramps, start, &options, None),
        None => {
            let power = shape::fit_multistart(ramps, span, &options, &settings.nu_starts);
            match settings.law {
                LawKind::Power => power,
                LawKind::Table { nodes } => {
                    // Two starts: the power law's interpolant, and the data's dwell times (which place
                    // knees the power law misses); the better fit is kept.
                    let (lo, hi) = dwell::monotone_span(ramps);
                    [
                        shape::tabulate(&power, ramps, nodes, lo, hi),
                        dwell::start(ramps, nodes, lo, hi, span),
                    ]
                    .into_iter()
                    .map(|start| shape::fit(ramps, start, &options, None))
                    .min_by(|a, b| a.sse.total_cmp(&b.sse))
                    .expect("two starts")
                }
            }
        }
    };
    // Second pass: weighted least squares, each point weighted by the inverse of its expected squared
    // deviation from the deterministic trajectory (read noise plus the cycle-to-cycle noise accumulated
    // along the ramp), which removes most of the bias that equal weights leave in the shared parameters.
    let first = noise::estimate(
        &shape.law,
        ramps,
        &shape.ramps.iter().map(|p| p[1]).collect::<Vec<_>>(),
    );
    let weights = deviation_weights(&shape, ramps, &first, span);
    shape = shape::fit(ramps, shape, &options, Some(&weights));
    shape::normalize_tables(&mut shape, ramps);
    let polarities: Vec<Polarity> = ramps.iter().map(|r| r.polarity).collect();
    let has = |p: Polarity| polarities.contains(&p);
    // Ends that nothing locates are set to the furthest conductance the fitted ramps reach (the smallest
    // window consistent with the fit); this leaves every fitted trajectory unchanged.
    let (mut reach_lo, mut reach_hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (ramp, p) in ramps.iter().zip(&shape.ramps) {
        for g in shape.law.trajectory(ramp.polarity, p[0], p[1], ramp.g.len()) {
            reach_lo = reach_lo.min(g);
            reach_hi = reach_hi.max(g);
        }
    }
    let law = &mut shape.law;
    let tabulated = law.set_table.is_some() || law.reset_table.is_some();
    // A table law's window starts at the measured span and moves only where ramps reach its ends.
    let g_max_end = if tabulated && law.g_max == law.table_span.1 {
        WindowEnd::Measured
    } else if tabulated {
        WindowEnd::Fitted
    } else if !has(Polarity::Set) || law.nu_set == 0.0 {
        law.g_max = reach_hi;
        WindowEnd::NotIdentified
    } else if law.g_max >= options.bounds.g_max_hi {
        WindowEnd::AtBound
    } else {
        WindowEnd::Fitted
    };
    let g_min_end = if tabulated && law.g_min == law.table_span.0 {
        WindowEnd::Measured
    } else if tabulated {
        WindowEnd::Fitted
    } else if !has(Polarity::Reset) || law.nu_reset == 0.0 {
        law.g_min = reach_lo;
        WindowEnd::NotIdentified
    } else if law.g_min <= options.bounds.g_min_lo {
        WindowEnd::AtBound
    } else {
        WindowEnd::Fitted
    };
    let scales: Vec<f64> = shape.ramps.iter().map(|p| p[1]).collect();
    let noise = noise::estimate(&shape.law, ramps, &scales);
    let eta_d2d = device_to_device(&shape.law, ramps, &scales, &noise);
    DeviceFit {
        shape,
        polarities,
        noise,
        eta_d2d,
        g_min_end,
        g_max_end,
    }
}

/// Inverse expected squared deviation of each measured point from its fitted trajectory: read noise, plus
/// the cycle-to-cycle noise accumulated and propagated along the ramp (V_{n+1} = (1 + h'(G_n))^2 V_n +
/// (c2c h(G_n))^2, from V_0 = 0), plus, per polarity, whatever mean squared residual these two leave
/// unexplained: model error, which no weighting should chase. A well-specified ramp set gets the
/// noise-only weights; one whose shape the law cannot follow gets nearly equal weights.
fn deviation_weights(shape: &ShapeFit, ramps: &[&Ramp], noise: &Noise, span: f64) -> Vec<Vec<f64>> {
    let floor = noise.read_noise.powi(2).max(1e-12 * span * span);
    let c2 = noise.c2c.powi(2);
    let variances: Vec<Vec<f64>> = ramps
        .iter()
        .zip(&shape.ramps)
        .map(|(ramp, p)| {
            let trajectory = shape.law.trajectory(ramp.polarity, p[0], p[1], ramp.g.len());
            let mut v = 0.0;
            trajectory
                .iter()
                .map(|&g| {
                    let expected = floor + v;
                    let m = shape.law.step(ramp.polarity, p[1], g);
                    let carry = 1.0 + shape.law.step_slope(ramp.polarity, p[1], g);
                    v = carry * carry * v + c2 * m * m;
                    expected
                })
                .collect()
        })
        .collect();
    let mut model_error = [0.0; 2];
    for (slot, polarity) in [Polarity::Set, Polarity::Reset].into_iter().enumerate() {
        let (mut residual, mut expected, mut n) = (0.0, 0.0, 0.0);
        for ((ramp, p), var) in ramps.iter().zip(&shape.ramps).zip(&variances) {
            if ramp.polarity != polarity {
                continue;
            }
            let trajectory = shape.law.trajectory(ramp.polarity, p[0], p[1], ramp.g.len());
            for ((y, g), v) in ramp.g.iter().zip(&trajectory).zip(var) {
                residual += (y - g).powi(2);
                expected += v;
                n += 1.0;
            }
        }
        if n > 0.0 {
            model_error[slot] = ((residual - expected) / n).max(0.0);
        }
    }
    ramps
        .iter()
        .zip(variances)
        .map(|(ramp, var)| {
            let tau2 = model_error[usize::from(ramp.polarity == Polarity::Reset)];
            var.into_iter().map(|v| 1.0 / (v + tau2)).collect()
        })
        .collect()
}

/// Relative std of the ramps' step scales around their polarity's mean, less the part that the noise
/// of estimating each scale explains; pooled over polarities. None with fewer than two ramps of every
/// polarity.
fn device_to_device(law: &Law, ramps: &[&Ramp], scales: &[f64], noise: &Noise) -> Option<f64> {
    let (mut pooled, mut dof) = (0.0, 0.0);
    for polarity in [Polarity::Set, Polarity::Reset] {
        let members: Vec<(&Ramp, f64)> = ramps
            .iter()
            .zip(scales)
            .filter(|(r, _)| r.polarity == polarity)
            .map(|(r, &b)| (*r, b))
            .collect();
        let n = members.len() as f64;
        if members.len() < 2 {
            continue;
        }
        let mean = members.iter().map(|(_, b)| b).sum::<f64>() / n;
        let var = members.iter().map(|(_, b)| (b - mean).powi(2)).sum::<f64>() / (n - 1.0);
        // Estimation noise of one ramp's scale: cycle-to-cycle noise summed over its steps plus read
        // noise at its two ends, relative to its total displacement.
        let estimation: f64 = members
            .iter()
            .map(|(r, b)| {
                let steps: Vec<f64> = noise::increments(law, r, *b)
                    .into_iter()
                    .flatten()
                    .map(|i| i.m)
                    .collect();
                let total: f64 = steps.iter().sum::<f64>().abs();
                let sq: f64 = steps.iter().map(|m| m * m).sum();
                if total > 0.0 {
                    (noise.c2c.powi(2) * sq + 2.0 * noise.read_noise.powi(2)) / (total * total)
                } else {
                    0.0
                }
            })
            .sum::<f64>()
            / n;
        pooled += (n - 1.0) * (var / (mean * mean) - estimation);
        dof += n - 1.0;
    }
    (dof > 0.0).then(|| (pooled / dof).max(0.0).sqrt())
}

/// Whether an exponent sits at one of its bounds.
pub fn exponent_at_bound(nu: f64) -> bool {
    nu <= NU_MIN || nu >= NU_MAX
}
