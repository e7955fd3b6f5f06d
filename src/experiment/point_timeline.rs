//! One grid point of a sweep programmed again with its phases streamed to a Chrome trace-event timeline
//! (`uswim sweep --timeline FILE.json --timeline-point N`): the programming of the chip behind the
//! point's results row (run 0's chip, the chip of [`run_seed`]`(point seed, 0)`, with the mask its
//! selection makes for that chip), so the timeline's arrays add up to the row's time and work.

use super::engine::{Engine, PointFailure, Selector};
use super::sweep::{self, GridCheck};
use super::sweep_error::SweepError;
use super::sweep_point::needs_scores;
use super::sweep_spec::{Point, SweepSpec};
use crate::eval::run_seed;
use crate::map::Mapped;
use crate::sensitivity::Method;
use crate::sim::ProgramResult;
use crate::trace::{Timeline, layer_label};
use std::path::Path;

/// Programs point `index` of `spec` with its phases written to the timeline at `path` (atomically), and
/// returns that programming (its arrays are the timeline's array slices).
pub fn write_point_timeline(
    spec: &SweepSpec,
    index: usize,
    path: &Path,
) -> Result<ProgramResult, SweepError> {
    if index >= spec.len() {
        return Err(SweepError::spec(
            &spec.file,
            "--timeline-point",
            format!(
                "{index} is out of range; allowed: 0..={} (the grid's point indices)",
                spec.len() - 1
            ),
        ));
    }
    let point = spec.point(index)?;
    let scored = needs_scores(&point);
    let grid = GridCheck {
        points: 1,
        models: vec![point.model.clone()],
        scored_models: if scored {
            vec![point.model.clone()]
        } else {
            Vec::new()
        },
    };
    let (models, _) = sweep::prepare(spec, &grid, true)?;
    let failed = |f: PointFailure| run_error(spec, &point, f);
    let model = models.get(&point.model).ok_or_else(|| {
        failed(PointFailure::input(format!(
            "model `{}` was not loaded",
            point.model
        )))
    })?;
    let mapped =
        Mapped::new(&model.weights, &point.hw).map_err(|e| failed(PointFailure::input(e.to_string())))?;
    let method: Method = point
        .method
        .parse()
        .map_err(|e: crate::error::InputError| failed(e.into()))?;
    let selector = Selector {
        method,
        fraction: point.fraction,
        knowledge: point.knowledge,
    };
    let engine =
        Engine::new(&model.network, &mapped, &point.hw, model.curvature.as_ref(), None).map_err(failed)?;
    let names = mapped
        .layers()
        .iter()
        .map(|l| layer_label(&l.name).to_string())
        .collect();
    let title = format!("{}, point {index} ({})", point.hw.name, point.label);
    let mut timeline = Timeline::create(path, point.hw.controller.clock_mhz, names, &title)
        .map_err(|e| SweepError::io(path, e))?;
    let result = engine
        .program_traced(&selector, run_seed(point.seed, 0), &mut timeline)
        .map_err(failed)?;
    timeline.finish().map_err(|e| SweepError::io(path, e))?;
    Ok(result)
}

fn run_error(spec: &SweepSpec, point: &Point, failure: PointFailure) -> SweepError {
    SweepError::Run {
        spec: spec.file.clone(),
        index: point.index,
        label: point.label.clone(),
        bad_input: failure.bad_input,
        message: failure.message,
    }
}
