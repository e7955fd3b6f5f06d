//! The programmer: an event-driven, cycle-level simulation of writing a mapped network into its
//! crossbars, with write-verify for the weights a [`Mask`] selects (DESIGN.md section 5).
//!
//! - [`time`]: the [`Cycle`] and [`Ns`] newtypes.
//! - [`queue`]: the global event queue, a binary heap on (cycle, sequence).
//! - [`array`](mod@array): one array's device work (open-loop writes, write-verify loops) condensed into a script.
//! - `chip`: the chip scheduler and the per-array state machines that play the scripts on the
//!   timeline, reporting phases to a [`TraceSink`].
//! - [`mask`]: which weights are verified.
//! - [`cost`]: the expected write-verify cost of a device, for cost-aware selection.
//!
//! [`program`] is the entry point. Arrays are computed in batches on rayon threads while the timeline
//! plays the arrays already computed; each array draws from its own streams keyed by (seed, array id), and
//! the timeline pops events in (cycle, sequence) order, so every output is bit-identical for any thread
//! count. At most two batches of arrays are held at a time: a 90 M-device network streams through in
//! bounded memory unless its final conductances are asked for.
//!
//! **Invariant:** the event queue knows nothing about physics, and `device` never sees the queue.

pub mod array;
mod chip;
pub mod cost;
mod error;
pub mod mask;
pub mod predict;
pub mod queue;
pub mod time;

pub use array::Timing;
pub use cost::VerifyCost;
pub use error::SimError;
pub use mask::{Mask, WvClass};
pub use time::{Cycle, Ns};

use crate::config::HwConfig;
use crate::device::WriteVerify;
use crate::map::{Mapped, SliceSpec};
use crate::periph::Clock;
use crate::trace::{ArrayStats, Counts, Energy, LayerStats, Summary, TraceFilter, TraceLevel, TraceSink};
use crate::variation::VariationMap;
use array::{ArrayProgrammer, ArrayRun, ColumnUnits};
use chip::Chip;
use rayon::prelude::*;
use std::ops::Range;

/// How to run the programmer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProgramOptions {
    /// The seed of every random stream (variation, programming).
    pub seed: u64,
    /// What reaches the trace sink.
    pub trace: TraceFilter,
    /// Whether to return every device's final conductance (4 bytes per device; leave off for large
    /// timing-only runs).
    pub keep_conductances: bool,
}

/// The outcome of programming a network.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramResult {
    /// Whole-network totals.
    pub summary: Summary,
    /// Per-array statistics, in array id order.
    pub arrays: Vec<ArrayStats>,
    /// Per-layer statistics, in layer order.
    pub layers: Vec<LayerStats>,
    /// Final conductances in conductance-vector order (see [`Mapped::device_range`]), when asked for;
    /// [`crate::map::read_back`] turns them into weights.
    pub conductances_us: Option<Vec<f32>>,
}

/// Programs `mapped` (mapped for `hw`) into its crossbars, verifying the weights `mask` selects, and sends
/// the events to `sink` in time order. With the `open_loop` scheme nothing is verified, whatever the mask.
pub fn program<S: TraceSink + Send>(
    mapped: &Mapped,
    hw: &HwConfig,
    mask: &Mask,
    options: &ProgramOptions,
    sink: &mut S,
) -> Result<ProgramResult, SimError> {
    check_mapping(mapped, hw)?;
    mask.check(mapped)?;
    let verify = hw.program.scheme.verifies();
    if !verify && *mask != Mask::None {
        tracing::warn!("the open_loop scheme does not verify: the mask is ignored");
    }
    let clock = Clock::new(&hw.controller);
    let timing = Timing::new(hw);
    let programmer = ArrayProgrammer {
        mapped,
        mask,
        wv: WriteVerify::new(hw),
        wv_loose: mask
            .has_loose()
            .then(|| WriteVerify::with_tolerance(hw, hw.program.loose_tolerance(&hw.device))),
        variation: VariationMap::new(&hw.device.variation, &hw.device, &hw.array),
        timing,
        column_units: ColumnUnits::of(&timing),
        seed: options.seed,
        verify,
        keep_conductances: options.keep_conductances,
        filter: &options.trace,
    };
    let arrays = mapped.num_arrays();
    // Arrays computed per batch: large enough that the batch's uneven tail costs little, small enough
    // to bound memory (a device-traced array holds its device events). It never changes results.
    let threads = rayon::current_num_threads() as u32;
    let batch = if options.trace.level == TraceLevel::Device {
        2 * threads
    } else {
        32 * threads
    }
    .max(8);
    let compute =
        |range: Range<u32>| -> Vec<ArrayRun> { range.into_par_iter().map(|a| programmer.run(a)).collect() };
    let mut chip = Chip::new(
        mapped,
        timing,
        clock,
        hw.controller.parallel_arrays,
        &options.trace,
        options.keep_conductances,
    );
    let mut next = batch.min(arrays);
    chip.load(compute(0..next));
    loop {
        let range = next..(next + batch).min(arrays);
        next = range.end;
        let (done, runs) = rayon::join(|| chip.run(sink), || compute(range));
        chip.load(runs);
        if done? {
            break;
        }
    }
    let (array_stats, conductances_us) = chip.into_results();
    let layers = layer_stats(mapped, mask, verify, &array_stats);
    let summary = summarize(mapped, &clock, &array_stats, &layers);
    Ok(ProgramResult {
        summary,
        arrays: array_stats,
        layers,
        conductances_us,
    })
}

/// Checks that `mapped` was made for the geometry and slicing of `hw`.
fn check_mapping(mapped: &Mapped, hw: &HwConfig) -> Result<(), SimError> {
    if mapped.array_shape() != (hw.array.rows, hw.array.cols) {
        return Err(SimError::ConfigMismatch(format!(
            "arrays of {:?} (rows, cols), configuration {}x{}",
            mapped.array_shape(),
            hw.array.rows,
            hw.array.cols
        )));
    }
    let spec = SliceSpec::new(&hw.mapping, &hw.device);
    if *mapped.spec() != spec {
        return Err(SimError::ConfigMismatch(format!(
            "slicing {:?}, configuration {spec:?}",
            mapped.spec()
        )));
    }
    let target = hw.device.level_us(spec.levels() - 1) as f32;
    if mapped.target_us(spec.levels() - 1) != target || mapped.g_min_us() != hw.device.g_min_us {
        return Err(SimError::ConfigMismatch(
            "another conductance window (device.g_min_us, device.g_max_us)".into(),
        ));
    }
    Ok(())
}

fn layer_stats(mapped: &Mapped, mask: &Mask, verify: bool, arrays: &[ArrayStats]) -> Vec<LayerStats> {
    mapped
        .layers()
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let mine = &arrays[layer.arrays.start as usize..layer.arrays.end as usize];
            let mut counts = Counts::default();
            let mut energy = Energy::default();
            for a in mine {
                counts += a.counts;
                energy += a.energy;
            }
            let first = mine
                .iter()
                .min_by_key(|a| a.start_cycle)
                .expect("a layer has arrays");
            let last = mine
                .iter()
                .max_by_key(|a| a.end_cycle)
                .expect("a layer has arrays");
            LayerStats {
                layer: i as u32,
                name: layer.name.clone(),
                arrays: mine.len() as u32,
                weights: layer.weights() as u64,
                selected_weights: if verify {
                    mask.selected_in_layer(i as u32, layer.weights())
                } else {
                    0
                },
                start_cycle: first.start_cycle,
                end_cycle: last.end_cycle,
                start_ns: first.start_ns,
                end_ns: last.end_ns,
                array_time_ns: mine.iter().map(|a| a.end_ns - a.start_ns).sum(),
                counts,
                energy,
            }
        })
        .collect()
}

fn summarize(mapped: &Mapped, clock: &Clock, arrays: &[ArrayStats], layers: &[LayerStats]) -> Summary {
    let mut counts = Counts::default();
    let mut energy = Energy::default();
    for l in layers {
        counts += l.counts;
        energy += l.energy;
    }
    let total_cycles = arrays.iter().map(|a| a.end_cycle).max().unwrap_or(0);
    let total_time_ns = clock.ns(total_cycles);
    energy.static_pj = clock.static_energy_pj(total_time_ns);
    Summary {
        total_time_ns,
        total_cycles,
        energy,
        arrays: mapped.num_arrays(),
        layers: layers.len() as u32,
        weights: mapped.num_weights(),
        selected_weights: layers.iter().map(|l| l.selected_weights).sum(),
        counts,
    }
}
