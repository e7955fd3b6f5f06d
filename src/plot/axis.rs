//! Chart axes: a linear or logarithmic `f64` coordinate with "nice" ticks (1, 2, 5 times a power of ten),
//! and compact tick labels.
//!
//! plotters' own logarithmic coordinate only labels powers of ten and multiples above them, so an axis
//! spanning 64..90 would get no label at all; this one always labels at least two ticks.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, KeyPointWeight, Ranged};
use std::ops::Range;

/// One axis of a chart: its scale and the visible range (already padded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Axis {
    /// Linear scale over `[lo, hi]`, `lo < hi`.
    Linear {
        /// Left or bottom end.
        lo: f64,
        /// Right or top end.
        hi: f64,
    },
    /// Base-10 logarithmic scale over `[lo, hi]`, `0 < lo < hi`.
    Log {
        /// Left or bottom end (> 0).
        lo: f64,
        /// Right or top end.
        hi: f64,
    },
}

impl Axis {
    /// The axis showing data between `min` and `max` (finite; both > 0 on a log axis), with a margin of
    /// 5% of the span on each side (of the span in decades on a log axis). A single value gets a span
    /// around it.
    pub(super) fn fit(min: f64, max: f64, log: bool) -> Self {
        if log {
            let (lo, hi) = (min.log10(), max.log10());
            let (lo, hi) = if hi - lo < 1e-9 {
                (lo - 0.3, hi + 0.3)
            } else {
                (lo, hi)
            };
            let pad = 0.05 * (hi - lo);
            Axis::Log {
                lo: 10f64.powf(lo - pad),
                hi: 10f64.powf(hi + pad),
            }
        } else {
            let (lo, hi) = if max - min <= 1e-12 * max.abs().max(min.abs()) {
                let half = if min == 0.0 { 1.0 } else { 0.1 * min.abs() };
                (min - half, max + half)
            } else {
                (min, max)
            };
            let pad = 0.05 * (hi - lo);
            Axis::Linear {
                lo: lo - pad,
                hi: hi + pad,
            }
        }
    }

    /// The position of `v` along the axis, from 0 (low end) to 1 (high end).
    pub(super) fn fraction(&self, v: f64) -> f64 {
        match *self {
            Axis::Linear { lo, hi } => (v - lo) / (hi - lo),
            Axis::Log { lo, hi } => (v.log10() - lo.log10()) / (hi.log10() - lo.log10()),
        }
    }

    /// Major ticks: at most `max` (at least 2 where the range allows), on nice values.
    fn major_ticks(&self, max: usize) -> Vec<f64> {
        let max = max.max(2);
        match *self {
            Axis::Linear { lo, hi } => linear_ticks(lo, hi, nice_step((hi - lo) / max as f64)),
            Axis::Log { lo, hi } => log_ticks(lo, hi, max),
        }
    }

    /// Minor ticks (grid lines between the labels): subdivisions of the major step.
    fn minor_ticks(&self, bold: usize, max: usize) -> Vec<f64> {
        match *self {
            Axis::Linear { lo, hi } => {
                let major = nice_step((hi - lo) / bold.max(2) as f64);
                let mantissa = major / 10f64.powf(major.log10().floor());
                let minor = if (mantissa - 2.0).abs() < 1e-9 {
                    major / 4.0
                } else {
                    major / 5.0
                };
                let ticks = linear_ticks(lo, hi, minor);
                if ticks.len() <= max { ticks } else { Vec::new() }
            }
            Axis::Log { lo, hi } => {
                // 2..9 times every decade, up to ten decades; beyond, the decades alone.
                let ticks = decade_multiples(lo, hi, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
                if ticks.len() <= 90 {
                    ticks
                } else {
                    decade_multiples(lo, hi, &[1.0])
                }
            }
        }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = self.fraction(*value);
        let f = if f.is_finite() { f.clamp(-10.0, 10.0) } else { 0.0 };
        limit.0 + (f64::from(limit.1 - limit.0) * f).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        match hint.weight() {
            KeyPointWeight::Bold => self.major_ticks(hint.max_num_points()),
            KeyPointWeight::Any => self.minor_ticks(hint.bold_points(), hint.max_num_points()),
        }
    }

    fn range(&self) -> Range<f64> {
        match *self {
            Axis::Linear { lo, hi } | Axis::Log { lo, hi } => lo..hi,
        }
    }
}

/// The smallest of 1, 2, 5 times a power of ten that is >= `raw` (> 0).
fn nice_step(raw: f64) -> f64 {
    let raw = if raw.is_finite() && raw > 0.0 { raw } else { 1.0 };
    let power = 10f64.powf(raw.log10().floor());
    let mantissa = raw / power;
    let nice = if mantissa <= 1.0 + 1e-9 {
        1.0
    } else if mantissa <= 2.0 + 1e-9 {
        2.0
    } else if mantissa <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// Multiples of `step` within `[lo, hi]`.
fn linear_ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            // Snap values that should be 0 but carry rounding noise.
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect()
}

/// `m * 10^k` for every mantissa `m` in `mantissas` and every decade k, within `[lo, hi]`.
fn decade_multiples(lo: f64, hi: f64, mantissas: &[f64]) -> Vec<f64> {
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    let mut ticks = Vec::new();
    for k in first..=last {
        let power = 10f64.powi(k);
        for &m in mantissas {
            let v = m * power;
            if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                ticks.push(v);
            }
        }
    }
    ticks
}

/// Log-axis labels: every decade when the range holds three or more (every second beyond 16 decades,
/// so labels never crowd), else the sparsest of {1, 2, 5}, {1..9} per decade giving at least three
/// labels, else linear nice ticks (a range much narrower than a decade).
fn log_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    let decades = decade_multiples(lo, hi, &[1.0]);
    if decades.len() >= 3 {
        let every = if decades.len() > 16 { 2 } else { 1 };
        return decades.into_iter().step_by(every).collect();
    }
    for mantissas in [
        &[1.0, 2.0, 5.0][..],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    ] {
        let ticks = decade_multiples(lo, hi, mantissas);
        if ticks.len() >= 3 && ticks.len() <= max {
            return ticks;
        }
        if ticks.len() > max {
            break;
        }
    }
    linear_ticks(lo, hi, nice_step((hi - lo) / max as f64))
}

/// A compact tick label: up to six significant digits, trailing zeros removed, scientific notation for
/// magnitudes >= 1e5 or < 1e-3 (`2.5e6`, `1e-4`).
pub fn format_tick(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_finite() {
            "0".to_string()
        } else {
            v.to_string()
        };
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-3..5).contains(&magnitude) {
        let text = format!("{v:.5e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        return format!("{}e{exponent}", trim_zeros(mantissa));
    }
    let decimals = (5 - magnitude).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}"))
}

fn trim_zeros(text: &str) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_are_compact() {
        assert_eq!(format_tick(0.0), "0");
        assert_eq!(format_tick(1024.0), "1024");
        assert_eq!(format_tick(0.1 + 0.2), "0.3");
        assert_eq!(format_tick(-12.5), "-12.5");
        assert_eq!(format_tick(2.5e6), "2.5e6");
        assert_eq!(format_tick(1e-4), "1e-4");
        assert_eq!(format_tick(0.005), "0.005");
        assert_eq!(format_tick(12345.0), "12345");
        assert_eq!(format_tick(1e5), "1e5");
    }

    #[test]
    fn nice_steps_are_1_2_5() {
        assert_eq!(nice_step(0.13), 0.2);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(100.0), 100.0);
    }

    #[test]
    fn linear_axis_labels_nice_values_inside_the_range() {
        let axis = Axis::fit(0.0, 1.0, false);
        let ticks = axis.major_ticks(10);
        assert!(ticks.len() >= 5 && ticks.len() <= 10, "{ticks:?}");
        assert!(ticks.iter().all(|t| (-0.05..=1.05).contains(t)));
        assert!(ticks.contains(&0.0) && ticks.iter().any(|t| (t - 1.0).abs() < 1e-12));
    }

    #[test]
    fn log_axis_always_has_labels() {
        // Narrower than a decade, no power of ten inside: still labelled.
        let narrow = Axis::fit(64.0, 90.0, true);
        assert!(narrow.major_ticks(10).len() >= 2, "{:?}", narrow.major_ticks(10));
        // 64..1024: 1-2-5 or 1..9 multiples.
        let ticks = Axis::fit(64.0, 1024.0, true).major_ticks(10);
        assert!(ticks.contains(&100.0) && ticks.len() >= 3, "{ticks:?}");
        // Twelve decades: a label at every decade.
        let wide = Axis::fit(1e-3, 1e9, true);
        let labels = wide.major_ticks(6);
        assert_eq!(labels.len(), 13, "{labels:?}");
        assert!(
            labels
                .iter()
                .all(|t| (t.log10() - t.log10().round()).abs() < 1e-9)
        );
        // Minor ticks at 2..9 times each decade up to ten decades, the decades alone beyond.
        let six = Axis::fit(1e-3, 1e3, true).minor_ticks(7, 70);
        let has = |v: f64| six.iter().any(|m| (m / v - 1.0).abs() < 1e-9);
        assert!(has(2e-3) && has(9e2) && six.len() > 9 * 6, "{six:?}");
        assert_eq!(wide.minor_ticks(13, 130), labels);
    }

    #[test]
    fn mapping_is_monotone_and_spans_the_limits() {
        for axis in [Axis::fit(1.0, 1000.0, true), Axis::fit(-5.0, 5.0, false)] {
            let Range { start, end } = axis.range();
            assert_eq!(axis.map(&start, (0, 500)), 0);
            assert_eq!(axis.map(&end, (0, 500)), 500);
            let mid = axis.map(&((start + end) / 2.0), (0, 500));
            assert!(mid > 0 && mid < 500);
        }
        // A single value gets a non-empty range around it.
        let single = Axis::fit(3.0, 3.0, false);
        let r = single.range();
        assert!(r.start < 3.0 && r.end > 3.0);
    }
}
