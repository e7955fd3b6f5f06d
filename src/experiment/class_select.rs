//! Tolerance classes chosen by the time-aware rule (`uswim-classes`, issue 12 item 8) and their
//! comparison with the binary mask of `uswim-time` in the reproduce report.
//!
//! A [`ClassPlan`] holds the two orders of one chip as the analyzer knows it
//! ([`super::time_select::TimeOrder`]): the binary one (verify or not, `uswim-time`) and the class one
//! (none, loose, tight by expected loss reduction per predicted ns). A budget given as a fraction f means
//! the class selection with the same predicted total programming time as `uswim-time` at f: the longest
//! prefix of the class order whose predicted total time ([`TimeModel`], on the chip programmed) is
//! within that of the binary order's first round(f x weights) weights. So the two methods compare at
//! equal (predicted) time, point by point of a grid.

use super::reproduce::{Results, Row, series};
use super::selection::{Knowledge, KnownChip};
use super::time_select::{TimeOrder, loose_variance_ratio};
use crate::config::HwConfig;
use crate::map::Mapped;
use crate::sensitivity::select::fraction_count;
use crate::sensitivity::{Method, Scores};
use crate::sim::Mask;
use crate::sim::predict::{GroupModel, TimeModel};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// The binary and the class order of one chip (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassPlan {
    /// The `uswim-time` order: verify (tight) or not.
    pub binary: TimeOrder,
    /// The `uswim-classes` order: none, loose, tight.
    pub classes: TimeOrder,
}

impl ClassPlan {
    /// The plan of `mapped` on `hw` for `chip`, with gains `gains` (the `uswim` scores of that chip's
    /// knowledge), costed by the verify-time model of the chip's seed (as `uswim-time` is).
    pub fn new(mapped: &Mapped, hw: &HwConfig, chip: &KnownChip, gains: &Scores) -> Self {
        let model = GroupModel::new(hw, chip.seed());
        Self {
            binary: TimeOrder::new(mapped, chip, gains, &model),
            classes: TimeOrder::with_classes(mapped, chip, gains, &model, loose_variance_ratio(hw)),
        }
    }

    /// The number of class moves with the predicted total time of `uswim-time` at `fraction` on the chip
    /// of `model`.
    pub fn moves_at(&self, mapped: &Mapped, model: &TimeModel, fraction: f64) -> usize {
        let k = fraction_count(fraction.clamp(0.0, 1.0), mapped.num_weights() as usize);
        let budget_ns = self.binary.total_ns(model, k);
        self.classes
            .within_ns(model, budget_ns)
            .expect("the binary order's prefix includes the open-loop write")
    }

    /// The class mask with the predicted total time of `uswim-time` at `fraction` on the chip of
    /// `model` (see the module docs).
    pub fn mask_at(&self, mapped: &Mapped, model: &TimeModel, fraction: f64) -> Mask {
        self.classes.mask(mapped, self.moves_at(mapped, model, fraction))
    }
}

/// Key of a cached plan: the knowledge, and the chip seed when the plan depends on the chip.
pub type PlanKey = (Knowledge, Option<u64>);

/// Plans made once and shared (by the experiment engine, across points and runs).
#[derive(Debug, Default)]
pub struct ClassPlans {
    plans: Mutex<HashMap<PlanKey, Arc<ClassPlan>>>,
}

impl ClassPlans {
    /// The plan of `key`, made by `make` the first time (outside the lock, so that rayon tasks waiting
    /// for it never block a thread that would make it).
    pub fn get(&self, key: PlanKey, make: impl FnOnce() -> ClassPlan) -> Arc<ClassPlan> {
        if let Some(p) = self.plans.lock().expect("no panics under the lock").get(&key) {
            return Arc::clone(p);
        }
        let plan = Arc::new(make());
        let mut plans = self.plans.lock().expect("no panics under the lock");
        Arc::clone(plans.entry(key).or_insert(plan))
    }
}

/// Weights of a mask in each class, indexed as [`crate::sim::WvClass::ALL`].
pub fn class_counts(mask: &Mask, mapped: &Mapped) -> [u64; 3] {
    let mut counts = [0u64; 3];
    for (l, layer) in mapped.layers().iter().enumerate() {
        let c = mask.classes_in_layer(l as u32, layer.weights());
        for (a, b) in counts.iter_mut().zip(c) {
            *a += b;
        }
    }
    counts
}

/// The section of the reproduce headline comparing `uswim-classes` with `uswim-time` at every fraction
/// both ran (empty when they did not): per setting and fraction, each one's simulated time and accuracy
/// (mean and 95% interval over the same chips), the weights each verified, and the paired drops' upper
/// bounds.
pub fn comparison_markdown(results: &Results) -> String {
    let (binary, classes) = (Method::UswimTime.name(), Method::UswimClasses.name());
    let mut md = String::new();
    for s in &results.info.settings {
        let model = &results.info.models[s.model].name;
        let pairs: Vec<(&Row, &Row)> = series(results, model, &s.name, binary)
            .into_iter()
            .filter_map(|b| {
                series(results, model, &s.name, classes)
                    .into_iter()
                    .find(|c| c.fraction == b.fraction && c.fraction < 1.0)
                    .map(|c| (b, c))
            })
            .collect();
        if pairs.is_empty() {
            continue;
        }
        if md.is_empty() {
            let _ = writeln!(md, "\n## Tolerance classes against the binary mask\n");
            let _ = writeln!(
                md,
                "`uswim-classes` verifies each weight to the tight band, the loose band \
                 (`program.loose_tolerance`) or not at all, by expected loss reduction per predicted ns; at \
                 each fraction its budget is the predicted total time of `uswim-time` (verify or not) at that \
                 fraction. Simulated time and accuracy of the same chips (mean ± 95% CI); weights verified \
                 in any class (run 0); paired drop from full write-verify, 95% upper bound.\n"
            );
            let _ = writeln!(
                md,
                "| model | setting | fraction | uswim-time: time | accuracy | weights | drop ≤ | uswim-classes: time | accuracy | weights | drop ≤ |"
            );
            let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|");
        }
        for (b, c) in pairs {
            let cell = |r: &Row| {
                format!(
                    "{:.3} ms | {:.2} ± {:.2}% | {} | {:.2}",
                    r.time_ns * 1e-6,
                    r.accuracy_mean_pct,
                    0.5 * (r.accuracy_ci95_high_pct - r.accuracy_ci95_low_pct),
                    r.weights_verified,
                    r.drop_ci95_high_pct
                )
            };
            let _ = writeln!(
                md,
                "| {} | {} | {}% | {} | {} |",
                model,
                s.name,
                100.0 * b.fraction,
                cell(b),
                cell(c)
            );
        }
    }
    md
}
