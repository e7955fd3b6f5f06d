//! Time-aware selection (`uswim-time`, DESIGN.md section 7): the weights that buy the most expected loss
//! reduction per predicted nanosecond of programming time, and with tolerance classes (`uswim-classes`)
//! the class of each weight by the same rule.
//!
//! A weight's gain is its `uswim` score (0.5 H' v, the expected loss reduction of verifying it). Its cost
//! is what it adds to the expected verify time of its row group in the predicted-time model
//! ([`crate::sim::predict::GroupModel`]): the first selected weight of a row pays the row's verify loop
//! (read settles, the slowest device's iterations, slot rounding), later ones share it until their ADC
//! or write driver fills. So the cost of a weight depends on what else its row verifies, and a row is
//! worth opening only for enough gain.
//!
//! The order: within each row group the weights' moves (none -> tight for `uswim-time`) are taken by
//! gain, highest first; the group's curve of (predicted verify time, total gain) over its first m moves
//! is replaced by its upper concave hull, whose segments have decreasing gain per ns; all groups'
//! segments are then merged by gain per ns, highest first (ties: array, group, position). This is the
//! greedy solution of the knapsack over rows (optimal for its linear relaxation). Every budget takes a
//! prefix of the one order: a fraction of the weights its first round(f x weights), a total programming
//! time the longest prefix whose predicted total time ([`crate::sim::predict::TimeModel`], open-loop
//! programming and list scheduling of the arrays included) fits.
//!
//! **Tolerance classes** ([`TimeOrder::with_classes`]): a weight may also be verified to the loose band
//! (`program.loose_tolerance`), which leaves a residual sigma_wv x loose / tight (the after-verify spread
//! is a property of the band, as the programmer models it) for fewer reads. Its gains: tight
//! 0.5 H' sum s_i^2 (sigma_i^2 - sigma_wv^2) (the `uswim` score), loose 0.5 H' sum s_i^2 (sigma_i^2 -
//! (r sigma_wv)^2) with r = loose / tight tolerance. Each weight's moves are its options' upper hull in
//! (cost, gain), costed by the additive proxy [`crate::sim::VerifyCost::device_ns`] of each class: none ->
//! loose then loose -> tight when loose buys more per ns than tight does, none -> tight alone otherwise
//! (a loose step that the hull drops). Within a row group the moves are taken by gain per proxy ns, and
//! the group's curve is followed with the model's real row time (an upgrade removes the weight's loose
//! devices from the row and adds its tight ones), then hulled and merged as above.

use super::selection::KnownChip;
use crate::map::{Mapped, MappedDevice};
use crate::sensitivity::{Method, Scores};
use crate::sim::predict::{GroupDevice, GroupModel, GroupState, TimeModel};
use crate::sim::{Mask, WvClass};
use rayon::prelude::*;
use std::cmp::Ordering;

/// One move of the order: a weight, where it is, the class it moves to, and what it adds to its
/// array's predicted verify time and to the expected loss reduction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Layer index.
    pub layer: u32,
    /// Flat index of the weight in its layer.
    pub weight: u32,
    /// Its array.
    pub array: u32,
    /// The class the weight moves to (from none, or from loose to tight).
    pub class: WvClass,
    /// The increase of its array's predicted verify time when it is added after the moves before it,
    /// in ns.
    pub delta_ns: f64,
    /// The increase of the expected loss reduction (the gain of the move).
    pub gain: f64,
}

/// The time-aware order of every weight's moves (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeOrder {
    /// Every move, in selection order.
    pub steps: Vec<Step>,
}

/// A run of a row group's moves on its hull, with its gain per ns.
struct Segment {
    per_ns: f64,
    array: u32,
    group: u32,
    position: u32,
    steps: Vec<Step>,
}

/// A weight of a row group with its devices and gains as the model sees them in each verified class
/// (`loose` empty for the binary order).
struct Candidate<'a> {
    layer: u32,
    weight: u32,
    tight: Vec<GroupDevice<'a>>,
    loose: Vec<GroupDevice<'a>>,
    gain_tight: f64,
    gain_loose: f64,
    /// sum s_i^2 sigma_i^2 and sum s_i^2 sigma_wv_i^2 over its devices.
    open_var: f64,
    tight_var: f64,
    /// The additive proxy cost of each class, in ns.
    tight_ns: f64,
    loose_ns: f64,
}

/// A move of a candidate within its group, before the group's curve is followed.
#[derive(Debug, Clone, Copy)]
struct Move {
    candidate: usize,
    to: WvClass,
    gain: f64,
    /// Gain per proxy ns (the order within the group).
    rank: f64,
}

/// How a row group's moves are made.
#[derive(Debug, Clone, Copy)]
enum Classes {
    /// Verify (tight) or not: moves by gain.
    Binary,
    /// Tolerance classes; the loose class leaves `loose_variance_ratio` x the tight residual variance.
    Tolerance { loose_variance_ratio: f64 },
}

impl TimeOrder {
    /// The order of the weights of `mapped` with gains `gains` (the `uswim` scores, aligned with the
    /// mapping's layers) on `chip`, costed by `model`: verify (tight) or not.
    pub fn new(mapped: &Mapped, chip: &KnownChip, gains: &Scores, model: &GroupModel) -> Self {
        Self::build(mapped, chip, gains, model, Classes::Binary)
    }

    /// The order of every weight's tolerance-class moves (see the module docs), the loose class leaving
    /// `loose_variance_ratio` x the tight class's residual variance ((loose / tight tolerance)^2, see
    /// [`loose_variance_ratio`]).
    pub fn with_classes(
        mapped: &Mapped,
        chip: &KnownChip,
        gains: &Scores,
        model: &GroupModel,
        loose_variance_ratio: f64,
    ) -> Self {
        Self::build(
            mapped,
            chip,
            gains,
            model,
            Classes::Tolerance { loose_variance_ratio },
        )
    }

    fn build(
        mapped: &Mapped,
        chip: &KnownChip,
        gains: &Scores,
        model: &GroupModel,
        classes: Classes,
    ) -> Self {
        let mut segments: Vec<Segment> = (0..mapped.num_arrays())
            .into_par_iter()
            .flat_map_iter(|a| array_segments(mapped, chip, gains, model, classes, a))
            .collect();
        segments.sort_by(|x, y| {
            y.per_ns
                .total_cmp(&x.per_ns)
                .then(x.array.cmp(&y.array))
                .then(x.group.cmp(&y.group))
                .then(x.position.cmp(&y.position))
        });
        Self {
            steps: segments.into_iter().flat_map(|s| s.steps).collect(),
        }
    }

    /// Scores that rank the weights in this order of their first moves (the first highest), aligned with
    /// the mapping's layers, so that a fraction budget selects a prefix of a binary order.
    pub fn scores(&self, mapped: &Mapped) -> Scores {
        let mut layers: Vec<Vec<f64>> = mapped.layers().iter().map(|l| vec![0.0; l.weights()]).collect();
        let n = self.steps.len() as f64;
        for (k, s) in self.steps.iter().enumerate().rev() {
            layers[s.layer as usize][s.weight as usize] = n - k as f64;
        }
        Scores {
            method: Method::UswimTime,
            layers,
        }
    }

    /// The predicted total programming time when the first `k` moves are made, in ns.
    pub fn total_ns(&self, model: &TimeModel, k: usize) -> f64 {
        let mut verify = vec![0.0; model.open_loop_ns().len()];
        for s in &self.steps[..k.min(self.steps.len())] {
            verify[s.array as usize] += s.delta_ns;
        }
        model.total_ns(&verify)
    }

    /// The expected loss reduction of the first `k` moves.
    pub fn gain(&self, k: usize) -> f64 {
        self.steps[..k.min(self.steps.len())].iter().map(|s| s.gain).sum()
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

    /// The class of every weight after the first `k` moves (the mapping's layers, PyTorch layout).
    pub fn classes(&self, mapped: &Mapped, k: usize) -> Vec<Vec<WvClass>> {
        let mut layers: Vec<Vec<WvClass>> = mapped
            .layers()
            .iter()
            .map(|l| vec![WvClass::None; l.weights()])
            .collect();
        for s in &self.steps[..k.min(self.steps.len())] {
            layers[s.layer as usize][s.weight as usize] = s.class;
        }
        layers
    }

    /// The weights verified (in any class) after the first `k` moves, as per-layer flags.
    pub fn prefix(&self, mapped: &Mapped, k: usize) -> Vec<Vec<bool>> {
        self.classes(mapped, k)
            .into_iter()
            .map(|l| l.into_iter().map(WvClass::verified).collect())
            .collect()
    }

    /// The mask of the first `k` moves: [`Mask::Classes`] when some weight is loose, else
    /// [`Mask::Weights`].
    pub fn mask(&self, mapped: &Mapped, k: usize) -> Mask {
        let classes = self.classes(mapped, k);
        if classes.iter().flatten().any(|&c| c == WvClass::Loose) {
            Mask::Classes(classes)
        } else {
            Mask::Weights(
                classes
                    .into_iter()
                    .map(|l| l.into_iter().map(WvClass::verified).collect())
                    .collect(),
            )
        }
    }
}

/// The loose class's residual variance relative to the tight class's on `hw`: (loose / tight
/// tolerance)^2 (the after-verify spread scales with the band, as `WriteVerify::with_tolerance` has it).
pub fn loose_variance_ratio(hw: &crate::config::HwConfig) -> f64 {
    (hw.program.loose_tolerance(&hw.device) / hw.program.tolerance).powi(2)
}

/// The hull segments of every row group of array `array`.
fn array_segments(
    mapped: &Mapped,
    chip: &KnownChip,
    gains: &Scores,
    model: &GroupModel,
    classes: Classes,
    array: u32,
) -> Vec<Segment> {
    let mut devices: Vec<MappedDevice> = Vec::new();
    mapped.array_devices(array, &mut devices);
    let known = chip.array(mapped, array);
    let rows_in_parallel = model.timing().rows_in_parallel.max(1);
    let with_loose = matches!(classes, Classes::Tolerance { .. });
    let costs = (
        model.class_cost(WvClass::Tight),
        with_loose.then(|| model.class_cost(WvClass::Loose)).flatten(),
    );
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
        for (d, (v, sigma)) in devices[start..end].iter().zip(&known[start..end]) {
            if !matches!(candidates.last(), Some(c) if c.layer == d.layer && c.weight == d.weight) {
                let gain = gains.layers[d.layer as usize][d.weight as usize];
                candidates.push(Candidate {
                    layer: d.layer,
                    weight: d.weight,
                    tight: Vec::new(),
                    loose: Vec::new(),
                    gain_tight: if gain.is_nan() { 0.0 } else { gain.max(0.0) },
                    gain_loose: 0.0,
                    open_var: 0.0,
                    tight_var: 0.0,
                    tight_ns: 0.0,
                    loose_ns: 0.0,
                });
            }
            let c = candidates.last_mut().expect("pushed above");
            c.tight.push(model.device(d.col, *sigma, d.level));
            if let (Some(tight), Some(loose)) = costs {
                let s2 = f64::from(v.significance).powi(2);
                c.open_var += s2 * f64::from(*sigma).powi(2);
                c.tight_var += s2 * f64::from(v.sigma_wv).powi(2);
                c.tight_ns += tight.device_ns(*sigma, d.level);
                c.loose_ns += loose.device_ns(*sigma, d.level);
                c.loose.push(
                    model
                        .device_in(WvClass::Loose, d.col, *sigma, d.level)
                        .expect("the loose class verifies"),
                );
            }
        }
        let moves = group_moves(&mut candidates, classes);
        segments.extend(group_segments(
            model,
            &mut state,
            array,
            group,
            &candidates,
            &moves,
        ));
        start = end;
    }
    segments
}

/// The moves of a row group's candidates in the order the group takes them (see the module docs); fills
/// the candidates' loose gains.
fn group_moves(candidates: &mut [Candidate<'_>], classes: Classes) -> Vec<Move> {
    let mut moves: Vec<Move> = Vec::with_capacity(2 * candidates.len());
    for (i, c) in candidates.iter_mut().enumerate() {
        let tight = Move {
            candidate: i,
            to: WvClass::Tight,
            gain: c.gain_tight,
            rank: c.gain_tight,
        };
        let Classes::Tolerance { loose_variance_ratio } = classes else {
            moves.push(tight);
            continue;
        };
        let reduction = c.open_var - c.tight_var;
        c.gain_loose = if reduction > 0.0 {
            (c.gain_tight * (c.open_var - loose_variance_ratio * c.tight_var) / reduction).max(0.0)
        } else {
            0.0
        };
        let per_ns = |gain: f64, ns: f64| {
            if ns > 0.0 {
                gain / ns
            } else if gain > 0.0 {
                f64::INFINITY
            } else {
                0.0
            }
        };
        let (loose, direct) = (per_ns(c.gain_loose, c.loose_ns), per_ns(c.gain_tight, c.tight_ns));
        if c.loose_ns < c.tight_ns && c.gain_loose > 0.0 && loose >= direct {
            let upgrade = c.gain_tight - c.gain_loose;
            moves.push(Move {
                candidate: i,
                to: WvClass::Loose,
                gain: c.gain_loose,
                rank: loose,
            });
            moves.push(Move {
                candidate: i,
                to: WvClass::Tight,
                gain: upgrade,
                rank: per_ns(upgrade, c.tight_ns - c.loose_ns).min(loose),
            });
        } else {
            moves.push(Move {
                rank: direct,
                ..tight
            });
        }
    }
    // Highest rank first; a weight's loose move before its upgrade.
    moves.sort_by(|x, y| {
        let (a, b) = (&candidates[x.candidate], &candidates[y.candidate]);
        y.rank
            .total_cmp(&x.rank)
            .then(a.layer.cmp(&b.layer))
            .then(a.weight.cmp(&b.weight))
            .then(x.to.cmp(&y.to))
    });
    moves
}

/// The upper concave hull of a row group's (predicted verify time, gain) curve over its moves, as
/// segments.
fn group_segments(
    model: &GroupModel,
    state: &mut GroupState,
    array: u32,
    group: u32,
    candidates: &[Candidate<'_>],
    moves: &[Move],
) -> Vec<Segment> {
    state.clear();
    let mut class = vec![WvClass::None; candidates.len()];
    // points[m] = (time, gain) after the first m moves.
    let mut points = Vec::with_capacity(moves.len() + 1);
    points.push((0.0f64, 0.0f64));
    for m in moves {
        let c = &candidates[m.candidate];
        if class[m.candidate] == WvClass::Loose {
            for d in &c.loose {
                state.remove(d);
            }
        }
        let added = if m.to == WvClass::Loose {
            &c.loose
        } else {
            &c.tight
        };
        for d in added {
            state.add(d);
        }
        class[m.candidate] = m.to;
        let gain = points.last().map_or(0.0, |p| p.1) + m.gain;
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
        .enumerate()
        .map(|(position, w)| {
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
                position: position as u32,
                steps: (w[0] + 1..=w[1])
                    .map(|m| {
                        let mv = &moves[m - 1];
                        let c = &candidates[mv.candidate];
                        Step {
                            layer: c.layer,
                            weight: c.weight,
                            array,
                            class: mv.to,
                            delta_ns: points[m].0 - points[m - 1].0,
                            gain: mv.gain,
                        }
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
        // A prefix's predicted time is the model's prediction of its mask on a chip whose open-loop
        // errors it does not know (seed 1: the level laws, as the order uses).
        for k in [1, 50, high, 700, 32 * 40] {
            let mask = Mask::Weights(order.prefix(&m, k));
            let direct = model.predict_ns(&m, &mask, 1);
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
            if model.predict_ns(&m, &Mask::Weights(vec![flags.clone()]), 1) > budget {
                break;
            }
            plain_gain += g.layers[0][i];
        }
        assert!(ordered_gain > 1.2 * plain_gain, "{ordered_gain} vs {plain_gain}");
    }
}
