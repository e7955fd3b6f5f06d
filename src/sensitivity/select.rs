//! Selection: global top-k over all layers under a budget.
//!
//! Weights are ranked by score, highest first; ties (and NaN scores, which rank last) are broken by
//! tensor index, then flat index, so the selection is deterministic. A fraction budget `F` selects
//! exactly `round(F x weights)`. A programming-time budget `T` walks the ranking greedily and takes
//! every weight whose expected write-verify time still fits (`sum <= T`), skipping those that do not.

use super::device_info::WeightDeviceInfo;
use super::score::Scores;
use crate::error::InputError;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// How many weights get write-verify.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// A fraction of all programmable weights, in [0, 1].
    Fraction(f64),
    /// A total expected write-verify time, in ns.
    TimeNs(f64),
}

impl Budget {
    /// Checks the value: a fraction in [0, 1], a time finite and >= 0.
    pub fn validate(&self) -> Result<(), InputError> {
        match *self {
            Self::Fraction(f) if !(0.0..=1.0).contains(&f) => Err(InputError::new(
                "--budget",
                f.to_string(),
                "a weight fraction must be in [0, 1]",
            )),
            Self::TimeNs(t) if !(t.is_finite() && t >= 0.0) => Err(InputError::new(
                "--budget",
                t.to_string(),
                "a time budget must be finite and >= 0 ns",
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fraction(x) => write!(f, "{x}"),
            Self::TimeNs(t) => write!(f, "{t}ns"),
        }
    }
}

impl FromStr for Budget {
    type Err = InputError;

    /// `0.05` or `5%` (fraction of weights), or a time with a unit: `250ns`, `40us`, `3.5ms`, `2s`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || {
            InputError::new(
                "--budget",
                s,
                "expected a weight fraction (0.05 or 5%) or a time with a unit (ns, us, ms, s)",
            )
        };
        let num = |x: &str| x.trim().parse::<f64>().map_err(|_| bad());
        let budget = if let Some(p) = t.strip_suffix('%') {
            Self::Fraction(num(p)? / 100.0)
        } else if let Some(x) = t.strip_suffix("ns") {
            Self::TimeNs(num(x)?)
        } else if let Some(x) = t.strip_suffix("us") {
            Self::TimeNs(num(x)? * 1e3)
        } else if let Some(x) = t.strip_suffix("ms") {
            Self::TimeNs(num(x)? * 1e6)
        } else if let Some(x) = t.strip_suffix('s') {
            Self::TimeNs(num(x)? * 1e9)
        } else {
            Self::Fraction(num(t)?)
        };
        budget.validate()?;
        Ok(budget)
    }
}

/// Which weights are selected for write-verify, aligned with the scores' tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Per tensor, per weight (flat row-major index).
    pub layers: Vec<Vec<bool>>,
    /// Weights selected.
    pub selected: usize,
    /// Weights in total.
    pub total: usize,
    /// Sum of the selected weights' expected write-verify times, in ns, when device information was
    /// given.
    pub verify_ns: Option<f64>,
}

impl Selection {
    /// The selected fraction of weights.
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.selected as f64 / self.total as f64
        }
    }
}

/// The order of weights `(score, tensor, index)`: higher score first, NaN last, then lower tensor,
/// then lower index.
fn rank(a: &(f64, u32, u32), b: &(f64, u32, u32)) -> Ordering {
    let key = |s: f64| if s.is_nan() { f64::NEG_INFINITY } else { s };
    key(b.0)
        .total_cmp(&key(a.0))
        .then(a.1.cmp(&b.1))
        .then(a.2.cmp(&b.2))
}

/// The number of weights a fraction `f` of `total` selects: `round(f x total)`.
pub fn fraction_count(f: f64, total: usize) -> usize {
    ((f * total as f64).round() as usize).min(total)
}

/// Selects weights by `scores` under `budget`. A time budget needs `devices` (expected verify times);
/// with `devices` given, the selection also reports its total expected verify time.
pub fn select(
    scores: &Scores,
    budget: Budget,
    devices: Option<&[WeightDeviceInfo]>,
) -> Result<Selection, InputError> {
    budget.validate()?;
    if let Some(d) = devices {
        if d.len() != scores.layers.len() {
            return Err(InputError::new(
                "device information",
                "layers",
                format!("expected {} tensors, got {}", scores.layers.len(), d.len()),
            ));
        }
        for (k, (dev, s)) in d.iter().zip(&scores.layers).enumerate() {
            dev.validate(&format!("tensor {k}"), s.len())?;
        }
    }
    let total: usize = scores.layers.iter().map(Vec::len).sum();
    let mut ranked: Vec<(f64, u32, u32)> = Vec::with_capacity(total);
    for (k, layer) in scores.layers.iter().enumerate() {
        ranked.extend(layer.iter().enumerate().map(|(i, &s)| (s, k as u32, i as u32)));
    }
    let mut layers: Vec<Vec<bool>> = scores.layers.iter().map(|l| vec![false; l.len()]).collect();
    let time_of = |k: u32, i: u32| devices.map(|d| f64::from(d[k as usize].expected_verify_ns[i as usize]));
    let mut used_ns = 0.0;
    let mut selected = 0;
    match budget {
        Budget::Fraction(f) => {
            let k = fraction_count(f, total);
            if k > 0 && k < total {
                // The ranking is a strict total order, so the top k set is unique.
                ranked.select_nth_unstable_by(k - 1, rank);
            }
            for &(_, l, i) in &ranked[..k] {
                layers[l as usize][i as usize] = true;
                used_ns += time_of(l, i).unwrap_or(0.0);
            }
            selected = k;
        }
        Budget::TimeNs(limit) => {
            if devices.is_none() {
                return Err(InputError::new(
                    "--budget",
                    budget.to_string(),
                    "a programming-time budget needs per-weight expected verify times (device information)",
                ));
            }
            ranked.sort_unstable_by(rank);
            for &(_, l, i) in &ranked {
                let t = time_of(l, i).expect("devices checked above");
                if used_ns + t <= limit {
                    used_ns += t;
                    layers[l as usize][i as usize] = true;
                    selected += 1;
                }
            }
        }
    }
    Ok(Selection {
        layers,
        selected,
        total,
        verify_ns: devices.map(|_| used_ns),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_with_units_and_reject_nonsense() {
        assert_eq!("0.25".parse::<Budget>().unwrap(), Budget::Fraction(0.25));
        assert_eq!("5%".parse::<Budget>().unwrap(), Budget::Fraction(0.05));
        assert_eq!("40us".parse::<Budget>().unwrap(), Budget::TimeNs(40_000.0));
        assert_eq!("1.5ms".parse::<Budget>().unwrap(), Budget::TimeNs(1.5e6));
        assert_eq!("2s".parse::<Budget>().unwrap(), Budget::TimeNs(2e9));
        assert_eq!("250ns".parse::<Budget>().unwrap(), Budget::TimeNs(250.0));
        assert!("1.5".parse::<Budget>().is_err());
        assert!("-3ms".parse::<Budget>().is_err());
        assert!("lots".parse::<Budget>().is_err());
    }

    #[test]
    fn nan_ranks_last_and_ties_go_to_the_lower_layer_then_index() {
        let mut v = [
            (1.0, 1, 0),
            (f64::NAN, 0, 0),
            (1.0, 0, 5),
            (2.0, 1, 3),
            (1.0, 0, 2),
        ];
        v.sort_by(rank);
        let order: Vec<(u32, u32)> = v.iter().map(|x| (x.1, x.2)).collect();
        assert_eq!(order, vec![(1, 3), (0, 2), (0, 5), (1, 0), (0, 0)]);
    }
}
