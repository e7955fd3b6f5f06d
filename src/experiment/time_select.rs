//! Time-aware selection (`uswim-time`, DESIGN.md section 7): the weights that buy the most expected loss
//! reduction per predicted nanosecond of programming time.
//!
//! A weight's gain is its `uswim` score (0.5 H' v, the expected loss reduction of verifying it). Its cost
//! is what it adds to the expected verify time of its row group in the predicted-time model
//! ([`crate::sim::predict::GroupModel`]): the first selected weight of a row pays the row's verify loop
//! (read settles, the slowest device's iterations, slot rounding), later ones share it until their ADC
//! or write driver fills. So the cost of a weight depends on what else its row verifies, and a row is
//! worth opening only for enough gain.
//!
//! The order: within each row group the weights are taken by gain, highest first; the group's curve of
//! (predicted verify time, total gain) over its first m weights is replaced by its upper concave hull,
//! whose segments have decreasing gain per ns; all groups' segments are then merged by gain per ns,
//! highest first (ties: array, group, position). This is the greedy solution of the knapsack over rows
//! (optimal for its linear relaxation). Every budget takes a prefix of the one order: a fraction of the
//! weights its first round(f x weights), a total programming time the longest prefix whose predicted
//! total time ([`crate::sim::predict::TimeModel`], open-loop programming and list scheduling of the
//! arrays included) fits.

use super::selection::KnownChip;
use crate::map::{Mapped, MappedDevice};
use crate::sensitivity::{Method, Scores};
use crate::sim::predict::{GroupDevice, GroupModel, TimeModel};
use rayon::prelude::*;
use std::cmp::Ordering;

/// One weight of the order: where it is and what it adds to its array's predicted verify time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Layer index.
    pub layer: u32,
    /// Flat index of the weight in its layer.
    pub weight: u32,
    /// Its array.
    pub array: u32,
    /// The increase of its array's predicted verify time when it is added after the weights before it,
    /// in ns.
    pub delta_ns: f64,
}

/// The time-aware order of every weight (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeOrder {
    /// Every weight, in selection order.
    pub steps: Vec<Step>,
}

/// A run of a row group's weights on its hull, with its gain per ns.
struct Segment {
    per_ns: f64,
    array: u32,
    group: u32,
    steps: Vec<Step>,
}

/// A weight of a row group with its devices, as the model sees them.
struct Candidate<'a> {
    layer: u32,
    weight: u32,
    gain: f64,
    devices: Vec<GroupDevice<'a>>,
}

impl TimeOrder {
    /// The order of the weights of `mapped` with gains `gains` (the `uswim` scores, aligned with the
    /// mapping's layers) on `chip`, costed by `model`.
    pub fn new(mapped: &Mapped, chip: &KnownChip, gains: &Scores, model: &GroupModel) -> Self {
        let mut segments: Vec<Segment> = (0..mapped.num_arrays())
            .into_par_iter()
            .flat_map_iter(|a| array_segments(mapped, chip, gains, model, a))
            .collect();
        segments.sort_by(|x, y| {
            y.per_ns
                .total_cmp(&x.per_ns)
                .then(x.array.cmp(&y.array))
                .then(x.group.cmp(&y.group))
                .then(x.steps[0].weight.cmp(&y.steps[0].weight))
        });
        Self {
            steps: segments.into_iter().flat_map(|s| s.steps).collect(),
        }
    }

    /// Scores that rank the weights in this order (the first highest), aligned with the mapping's
    /// layers, so that a fraction budget selects a prefix.
    pub fn scores(&self, mapped: &Mapped) -> Scores {
        let mut layers: Vec<Vec<f64>> = mapped.layers().iter().map(|l| vec![0.0; l.weights()]).collect();
        let n = self.steps.len() as f64;
        for (k, s) in self.steps.iter().enumerate() {
            layers[s.layer as usize][s.weight as usize] = n - k as f64;
        }
        Scores {
            method: Method::UswimTime,
            layers,
        }
    }

    /// The predicted total programming time when the first `k` weights are verified, in ns.
    pub fn total_ns(&self, model: &TimeModel, k: usize) -> f64 {
        let mut verify = vec![0.0; model.open_loop_ns().len()];
        for s in &self.steps[..k.min(self.steps.len())] {
            verify[s.array as usize] += s.delta_ns;
        }
        model.total_ns(&verify)
    }

    /// The longest prefix whose predicted total programming time is within `budget_ns` (by bisection on
    /// the prefix length), or `None` when even the open-loop programming is not.
    pub fn within_ns(&self, model: &TimeModel, budget_ns: f64) -> Option<usize> {
        if self.total_ns(model, 0) > budget_ns {
            return None;
        }
        let (mut lo, mut hi) = (0, self.steps.len());
        if self.total_ns(model, hi) <= budget_ns {
            return Some(hi);
        }
        // total(lo) fits, total(hi) does not.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.total_ns(model, mid) <= budget_ns {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }

    /// The first `k` weights as per-layer flags (the mapping's layers, PyTorch layout).
    pub fn prefix(&self, mapped: &Mapped, k: usize) -> Vec<Vec<bool>> {
        let mut layers: Vec<Vec<bool>> = mapped.layers().iter().map(|l| vec![false; l.weights()]).collect();
        for s in &self.steps[..k.min(self.steps.len())] {
            layers[s.layer as usize][s.weight as usize] = true;
        }
        layers
    }
}

/// The hull segments of every row group of array `array`.
fn array_segments(
    mapped: &Mapped,
    chip: &KnownChip,
    gains: &Scores,
    model: &GroupModel,
    array: u32,
) -> Vec<Segment> {
    let mut devices: Vec<MappedDevice> = Vec::new();
    mapped.array_devices(array, &mut devices);
    let known = chip.array(mapped, array);
    let rows_in_parallel = model.timing().rows_in_parallel.max(1);
    let mut segments = Vec::new();
    let mut state = model.empty_group();
    let mut start = 0;
    while start < devices.len() {
        let group = devices[start].row / rows_in_parallel;
        let len = devices[start..]
            .iter()
            .position(|d| d.row / rows_in_parallel != group)
            .unwrap_or(devices.len() - start);
        let end = start + len;
        // The group's weights with their devices (a weight's devices are adjacent in device order).
        let mut candidates: Vec<Candidate<'_>> = Vec::new();
        for (d, (_, sigma)) in devices[start..end].iter().zip(&known[start..end]) {
            let device = model.device(d.col, *sigma, d.level);
            match candidates.last_mut() {
                Some(c) if c.layer == d.layer && c.weight == d.weight => c.devices.push(device),
                _ => {
                    let gain = gains.layers[d.layer as usize][d.weight as usize];
                    candidates.push(Candidate {
                        layer: d.layer,
                        weight: d.weight,
                        gain: if gain.is_nan() { 0.0 } else { gain.max(0.0) },
                        devices: vec![device],
                    });
                }
            }
        }
        candidates.sort_by(|x, y| {
            y.gain
                .total_cmp(&x.gain)
                .then(x.layer.cmp(&y.layer))
                .then(x.weight.cmp(&y.weight))
        });
        segments.extend(group_segments(model, &mut state, array, group, &candidates));
        start = end;
    }
    segments
}

/// The upper concave hull of a row group's (predicted verify time, gain) curve, as segments.
fn group_segments(
    model: &GroupModel,
    state: &mut crate::sim::predict::GroupState,
    array: u32,
    group: u32,
    candidates: &[Candidate<'_>],
) -> Vec<Segment> {
    state.clear();
    // points[m] = (time, gain) with the first m candidates selected.
    let mut points = Vec::with_capacity(candidates.len() + 1);
    points.push((0.0f64, 0.0f64));
    for c in candidates {
        for d in &c.devices {
            state.add(d);
        }
        let gain = points.last().map_or(0.0, |p| p.1) + c.gain;
        points.push((model.verify_ns(state), gain));
    }
    let mut hull: Vec<usize> = vec![0];
    for m in 1..points.len() {
        while hull.len() >= 2 {
            let (a, b) = (points[hull[hull.len() - 2]], points[hull[hull.len() - 1]]);
            let p = points[m];
            // b is on or below the chord from a to p: drop it.
            let cross = (b.0 - a.0) * (p.1 - b.1) - (b.1 - a.1) * (p.0 - b.0);
            if cross >= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(m);
    }
    hull.windows(2)
        .map(|w| {
            let (a, b) = (points[w[0]], points[w[1]]);
            let dt = b.0 - a.0;
            let dg = b.1 - a.1;
            let per_ns = match dt.partial_cmp(&0.0) {
                Some(Ordering::Greater) => dg / dt,
                _ if dg > 0.0 => f64::INFINITY,
                _ => 0.0,
            };
            Segment {
                per_ns,
                array,
                group,
                steps: (w[0] + 1..=w[1])
                    .map(|m| Step {
                        layer: candidates[m - 1].layer,
                        weight: candidates[m - 1].weight,
                        array,
                        delta_ns: points[m].0 - points[m - 1].0,
                    })
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::experiment::selection::Knowledge;
    use crate::map::LayerWeights;
    use crate::sim::Mask;

    fn mapped(hw: &crate::config::HwConfig) -> Mapped {
        let layers = vec![LayerWeights {
            name: "fc.weight".into(),
            shape: vec![32, 40],
            values: (0..32 * 40)
                .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.05)
                .collect(),
        }];
        Mapped::new(&layers, hw).unwrap()
    }

    /// Gain 1 for every weight of inputs (array rows) 0..4, gain 2 for one weight of each other row
    /// (output = row mod 32), almost nothing elsewhere: filling 4 rows buys more per ns than opening a
    /// row for one weight.
    fn gains(m: &Mapped) -> Scores {
        let l = &m.layers()[0];
        let inputs = l.inputs as usize;
        Scores {
            method: Method::Uswim,
            layers: vec![
                (0..l.weights())
                    .map(|i| {
                        let (o, r) = (i / inputs, i % inputs);
                        if r < 4 {
                            1.0
                        } else if o == r % 32 {
                            2.0
                        } else {
                            0.001
                        }
                    })
                    .collect(),
            ],
        }
    }

    #[test]
    fn the_order_fills_rows_before_opening_new_ones_and_its_prefix_times_match_the_model() {
        let hw = config::load("paper_statistical", &[]).unwrap();
        let m = mapped(&hw);
        let chip = KnownChip::new(&hw, 0, Knowledge::Prior);
        let model = TimeModel::new(&m, &hw, 0).unwrap();
        let order = TimeOrder::new(&m, &chip, &gains(&m), model.groups());
        assert_eq!(order.steps.len(), 32 * 40);
        // The first weights all sit on the 4 high-gain inputs (rows 0..4 of the arrays).
        let inputs = m.layers()[0].inputs;
        let high = 4 * 32;
        assert!(order.steps[..high].iter().all(|s| s.weight % inputs < 4));
        // A prefix's predicted time is the model's prediction of its mask.
        for k in [1, 50, high, 700, 32 * 40] {
            let mask = Mask::Weights(order.prefix(&m, k));
            let direct = model.predict_ns(&m, &mask, 0);
            let summed = order.total_ns(&model, k);
            assert!(
                (direct - summed).abs() < 1e-6 * direct,
                "{k}: {direct} vs {summed}"
            );
        }
        // Time budgets take the longest prefix that fits.
        let budget = order.total_ns(&model, 300);
        let k = order.within_ns(&model, budget).unwrap();
        assert!(k >= 300 && order.total_ns(&model, k) <= budget);
        assert!(order.within_ns(&model, 0.5 * order.total_ns(&model, 0)).is_none());
        // Per predicted ns, the order buys more gain than the plain ranking by gain at the same time.
        let g = gains(&m);
        let budget = order.total_ns(&model, high);
        let ordered_gain: f64 = order.steps[..high]
            .iter()
            .map(|s| g.layers[0][s.weight as usize])
            .sum();
        let mut by_gain: Vec<usize> = (0..32 * 40).collect();
        by_gain.sort_by(|a, b| g.layers[0][*b].total_cmp(&g.layers[0][*a]).then(a.cmp(b)));
        let mut flags = vec![false; 32 * 40];
        let mut plain_gain = 0.0;
        for &i in &by_gain {
            flags[i] = true;
            if model.predict_ns(&m, &Mask::Weights(vec![flags.clone()]), 0) > budget {
                break;
            }
            plain_gain += g.layers[0][i];
        }
        assert!(ordered_gain > 1.2 * plain_gain, "{ordered_gain} vs {plain_gain}");
    }
}
