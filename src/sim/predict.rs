//! Predicted costs of chip operations, from the configuration's timing ([`Timing`]) and the mapping's
//! layout: the read of every device that the programmer does not itself run, and the predicted-time
//! model of programming with a mask.
//!
//! [`read_all`]: one read of every device of the chip, as the `measured` selection needs after the
//! open-loop write: per array, row group by row group (`rows_in_parallel` rows at a time), a row setup,
//! a read settle, then the conversions of the busiest ADC (columns bound to ADCs as
//! [`Timing::adc_of`] binds them); arrays are list-scheduled in array order on `parallel_arrays`
//! channels, as the chip scheduler starts them. Energy: V_read^2 G t_read per device at its target
//! conductance, one ADC conversion per device, one row setup per row group.
//!
//! [`TimeModel`]: the expected total programming time of a mask on one chip, without running the verify
//! loops. Per array, the open-loop part (row setups and open-loop writes of every row group, which no
//! mask changes) is simulated once with the programmer (`Mask::None`: the chip's own open-loop writes,
//! which the programmer draws from streams no mask changes). The verify part of a row group is predicted
//! in closed form from each selected device's read law ([`ReadLaw`]: P(r >= j), the chance that the
//! device is still pending at verify iteration j) given its open-loop error on that chip
//! ([`VerifyCost::law_given`]: the first verify read sees the open-loop state, so a selection that picked
//! devices for their open-loop errors, as `measured` does, is timed with the reads those devices need),
//! and its ADC and write driver, assuming devices independent given their open-loop errors:
//!
//! E[verify time] = sum over j of settle P(some device pending at j)
//!                  + conversion E[max over ADCs of its pending devices at j]
//!                  + slot (E[max over drivers of its SET pulses after read j]
//!                          + E[max over drivers of its RESET pulses after read j]),
//!
//! in whole cycles per phase as the programmer plays them. A device pulsed after read j is one still
//! pending at j + 1, its pulse SET or RESET with the read law's chances ([`ReadLaw::set_after`]: half
//! each for the statistical device, measured per level for the pulse-level one). The expectation of a
//! maximum of independent counts is exact: each unit's count is a Poisson-binomial (its distribution by
//! convolution), and E[max] = sum over k >= 1 of (1 - product over units of P(count < k)). This is what
//! makes the first selected device of a row pay the row's verify loop (settle, the slowest device's
//! iterations) and later ones share it until their ADC or driver fills. Arrays are then list-scheduled
//! on `parallel_arrays` channels in array order, as the chip starts them.

use super::Timing;
use super::cost::{ReadLaw, VerifyCost};

use super::error::SimError;
use super::mask::{Mask, WvClass};
use crate::config::HwConfig;
use crate::map::sigma::device_sigmas;
use crate::map::{Mapped, MappedDevice};
use crate::periph::Clock;
use crate::trace::{NullSink, TraceFilter, TraceLevel};
use crate::variation::VariationMap;
use rayon::prelude::*;
use std::ops::Add;
use std::sync::OnceLock;

/// The predicted-time model's stated accuracy: its total programming time is within this relative
/// error of the simulated mean (measured over `uswim reproduce`'s default grid, both presets; see its
/// headline section "Predicted-time model against the simulator").
pub const STATED_ERROR: f64 = 0.10;

/// The cost of one chip operation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cost {
    /// Wall time on the chip, in ns.
    pub time_ns: f64,
    /// The same in controller cycles.
    pub cycles: u64,
    /// Energy, in pJ.
    pub energy_pj: f64,
}

/// The predicted cost of reading every device of `mapped` on `hw` once (see the module docs).
pub fn read_all(mapped: &Mapped, hw: &HwConfig) -> Cost {
    let timing = Timing::new(hw);
    let clock = Clock::new(&hw.controller);
    let read_pj_per_us = hw.program.read_voltage_v.powi(2) * hw.program.read_pulse_ns * 1e-3;
    let mut devices: Vec<MappedDevice> = Vec::new();
    let mut array_cycles = Vec::with_capacity(mapped.num_arrays() as usize);
    let mut energy_pj = 0.0;
    let group_rows = timing.rows_in_parallel.max(1);
    let adcs = timing.adcs.max(1) as usize;
    for a in 0..mapped.num_arrays() {
        mapped.array_devices(a, &mut devices);
        let groups = hw.array.rows.div_ceil(group_rows) as usize;
        // Conversions per (row group, ADC).
        let mut conversions = vec![0u32; groups * adcs];
        for d in &devices {
            let g = (d.row / group_rows) as usize;
            conversions[g * adcs + timing.adc_of(d.col) as usize] += 1;
            energy_pj += read_pj_per_us * f64::from(d.target_us) + timing.adc_pj;
        }
        let mut cycles = 0u64;
        for group in conversions.chunks(adcs) {
            let busiest = group.iter().copied().max().unwrap_or(0);
            if busiest > 0 {
                cycles += timing.setup.get() + timing.read_cycles(busiest).get();
                energy_pj += timing.setup_pj;
            }
        }
        array_cycles.push(cycles);
    }
    let makespan = list_schedule(&array_cycles, hw.controller.parallel_arrays);
    let time_ns = clock.ns(makespan);
    Cost {
        time_ns,
        cycles: makespan,
        energy_pj: energy_pj + clock.static_energy_pj(time_ns),
    }
}

/// The finish time of jobs of `durations` started in order, each on the first free of `channels`.
fn list_schedule<T: Copy + Default + PartialOrd + Add<Output = T>>(durations: &[T], channels: u32) -> T {
    let mut free = vec![T::default(); channels.max(1) as usize];
    let mut end = T::default();
    for &d in durations {
        let (mut first, mut at) = (0, free[0]);
        for (c, &t) in free.iter().enumerate().skip(1) {
            if t < at {
                (first, at) = (c, t);
            }
        }
        free[first] = at + d;
        if free[first] > end {
            end = free[first];
        }
    }
    end
}

/// A selected device of a row group as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupDevice<'a> {
    /// Its ADC.
    pub adc: u32,
    /// Its write driver.
    pub driver: u32,
    /// The law of its verify reads.
    pub law: ReadLaw<'a>,
}

/// The distribution of a count of independent Bernoulli events: `pmf[c]` = P(count = c).
#[derive(Debug, Clone, PartialEq)]
struct Count {
    pmf: Vec<f64>,
}

impl Count {
    /// No event: a count of 0.
    fn zero() -> Self {
        Self { pmf: vec![1.0] }
    }

    /// Adds an event of probability `q`.
    fn add(&mut self, q: f64) {
        if q <= 0.0 {
            return;
        }
        self.pmf.push(0.0);
        for c in (1..self.pmf.len()).rev() {
            self.pmf[c] = self.pmf[c] * (1.0 - q) + self.pmf[c - 1] * q;
        }
        self.pmf[0] *= 1.0 - q;
    }
}

impl Count {
    /// Removes an event of probability `q` added before (the inverse of [`Count::add`]): the
    /// deconvolution run from the end where it is stable, from the top for q >= 1/2 (each step divides
    /// by q), from the bottom below (each step divides by 1 - q).
    fn remove(&mut self, q: f64) {
        if q <= 0.0 || self.pmf.len() <= 1 {
            return;
        }
        let n = self.pmf.len() - 1;
        let mut out = vec![0.0; n];
        if q >= 0.5 {
            let mut above = 0.0;
            // pmf[c + 1] = out[c + 1] (1 - q) + out[c] q, from the top.
            for (o, &p) in out.iter_mut().zip(&self.pmf[1..]).rev() {
                *o = ((p - above * (1.0 - q)) / q).max(0.0);
                above = *o;
            }
        } else {
            let mut below = 0.0;
            // pmf[c] = out[c] (1 - q) + out[c - 1] q, from the bottom.
            for (o, &p) in out.iter_mut().zip(&self.pmf) {
                *o = ((p - below * q) / (1.0 - q)).max(0.0);
                below = *o;
            }
        }
        self.pmf = out;
    }
}

/// Scratch space of [`expected_max`], kept across calls.
#[derive(Debug, Default)]
struct MaxScratch {
    /// Per unit with events, P(count < k) so far.
    cdf: Vec<f64>,
    /// The units with events.
    active: Vec<usize>,
}

/// E[max over units of their counts] = sum over k >= 1 of (1 - product over units of P(count < k)).
/// Units without events (count 0) leave the product at 1 and are skipped; with one unit left, E[max] is
/// its mean.
fn expected_max(units: &[Count], scratch: &mut MaxScratch) -> f64 {
    let MaxScratch { cdf, active } = scratch;
    active.clear();
    let mut top = 0;
    for (i, u) in units.iter().enumerate() {
        if u.pmf.len() > 1 {
            active.push(i);
            top = top.max(u.pmf.len());
        }
    }
    match active[..] {
        [] => return 0.0,
        [only] => {
            return units[only]
                .pmf
                .iter()
                .enumerate()
                .map(|(c, p)| c as f64 * p)
                .sum();
        }
        _ => {}
    }
    cdf.clear();
    cdf.resize(active.len(), 0.0);
    let mut sum = 0.0;
    for k in 1..top {
        let mut all_below = 1.0;
        for (&i, c) in active.iter().zip(cdf.iter_mut()) {
            *c += units[i].pmf.get(k - 1).copied().unwrap_or(0.0);
            all_below *= c.min(1.0);
        }
        sum += 1.0 - all_below;
    }
    sum
}

/// One row group's selected devices, by verify iteration: the distribution of every ADC's pending
/// devices and of every driver's SET pulses (RESET pulses have the same law). Devices are added one at
/// a time ([`GroupState::add`]), so the time of a growing selection is cheap to follow.
#[derive(Debug, Clone)]
pub struct GroupState {
    iterations: usize,
    adcs: usize,
    drivers: usize,
    /// Per iteration j (0-based), the product over devices not surely pending of P(not pending at j + 1).
    none_pending: Vec<f64>,
    /// Per iteration j (0-based), the devices surely pending at j + 1.
    sure_pending: Vec<u32>,
    /// `[j * adcs + a]`: pending devices of ADC a at iteration j + 1.
    pending: Vec<Count>,
    /// `[j * drivers + d]`: SET pulses of driver d after read j + 1.
    set_pulses: Vec<Count>,
    /// `[j * drivers + d]`: RESET pulses of driver d after read j + 1.
    reset_pulses: Vec<Count>,
    devices: u32,
}

/// The verify-time model of a configuration: timing and read laws (of the tight class, and of the loose
/// tolerance class when a mask has one, made on first use).
#[derive(Debug, Clone)]
pub struct GroupModel {
    timing: Timing,
    ns_per_cycle: f64,
    cost: VerifyCost,
    loose: OnceLock<VerifyCost>,
    hw: HwConfig,
    seed: u64,
    max_reads: u32,
}

impl GroupModel {
    /// The model of `hw`; `seed` drives the pulse-level device's measured read laws.
    pub fn new(hw: &HwConfig, seed: u64) -> Self {
        let cost = VerifyCost::new(hw, seed);
        // Every class's loop stops after max_iterations reads.
        let max_reads = (0..hw.device.levels())
            .map(|l| cost.law(0.0, l as u16).max_reads())
            .max()
            .map_or(0, |m| {
                if m > 0 {
                    m.max(hw.program.max_iterations)
                } else {
                    0
                }
            });
        Self {
            timing: Timing::new(hw),
            ns_per_cycle: Clock::new(&hw.controller).ns(1),
            cost,
            loose: OnceLock::new(),
            hw: hw.clone(),
            seed,
            max_reads,
        }
    }

    /// The model's device of column `col` (sigma `sigma`, storing `level`) in tolerance class `class`
    /// (`None` when the class is not verified).
    pub fn device_in(&self, class: WvClass, col: u32, sigma: f32, level: u16) -> Option<GroupDevice<'_>> {
        let cost = self.class_cost(class)?;
        Some(GroupDevice {
            adc: self.timing.adc_of(col),
            driver: self.timing.driver_of(col),
            law: cost.law(sigma, level),
        })
    }

    /// [`GroupModel::device_in`] for a device whose open-loop write left it `open_loop_error_us` from its
    /// target ([`VerifyCost::law_given`]).
    pub fn device_given(
        &self,
        class: WvClass,
        col: u32,
        sigma: f32,
        level: u16,
        open_loop_error_us: f32,
    ) -> Option<GroupDevice<'_>> {
        let cost = self.class_cost(class)?;
        Some(GroupDevice {
            adc: self.timing.adc_of(col),
            driver: self.timing.driver_of(col),
            law: cost.law_given(sigma, level, open_loop_error_us),
        })
    }

    /// The read laws of tolerance class `class` (`None` when it is not verified).
    pub fn class_cost(&self, class: WvClass) -> Option<&VerifyCost> {
        match class {
            WvClass::None => None,
            WvClass::Tight => Some(&self.cost),
            WvClass::Loose => Some(self.loose.get_or_init(|| {
                VerifyCost::with_tolerance(
                    &self.hw,
                    self.seed,
                    self.hw.program.loose_tolerance(&self.hw.device),
                )
            })),
        }
    }

    /// The read laws.
    pub fn cost(&self) -> &VerifyCost {
        &self.cost
    }

    /// The configuration's timing.
    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// The model's device of column `col` with open-loop sigma `sigma` storing `level`.
    pub fn device(&self, col: u32, sigma: f32, level: u16) -> GroupDevice<'_> {
        GroupDevice {
            adc: self.timing.adc_of(col),
            driver: self.timing.driver_of(col),
            law: self.cost.law(sigma, level),
        }
    }

    /// A row group with no device selected.
    pub fn empty_group(&self) -> GroupState {
        let j = self.max_reads as usize;
        let (adcs, drivers) = (self.timing.adcs as usize, self.timing.drivers as usize);
        GroupState {
            iterations: j,
            adcs,
            drivers,
            none_pending: vec![1.0; j],
            sure_pending: vec![0; j],
            pending: vec![Count::zero(); j * adcs],
            set_pulses: vec![Count::zero(); j * drivers],
            reset_pulses: vec![Count::zero(); j * drivers],
            devices: 0,
        }
    }

    /// The expected verify time of a row group whose selected devices are `devices`, in ns.
    pub fn group_verify_ns(&self, devices: &[GroupDevice<'_>]) -> f64 {
        if devices.is_empty() {
            return 0.0;
        }
        let mut group = self.empty_group();
        for d in devices {
            group.add(d);
        }
        self.verify_ns(&group)
    }

    /// The expected verify time of `group`, in ns (see the module docs).
    pub fn verify_ns(&self, group: &GroupState) -> f64 {
        if group.devices == 0 {
            return 0.0;
        }
        let t = &self.timing;
        let mut cdf = MaxScratch::default();
        let mut cycles = 0.0;
        for j in 0..group.iterations {
            let any = if group.sure_pending[j] > 0 {
                1.0
            } else {
                1.0 - group.none_pending[j]
            };
            if any <= 1e-12 {
                break;
            }
            let conversions = expected_max(&group.pending[j * group.adcs..(j + 1) * group.adcs], &mut cdf);
            let drivers = j * group.drivers..(j + 1) * group.drivers;
            let slots = expected_max(&group.set_pulses[drivers.clone()], &mut cdf)
                + expected_max(&group.reset_pulses[drivers], &mut cdf);
            cycles += t.settle.0 as f64 * any + t.conversion.0 as f64 * conversions + t.slot.0 as f64 * slots;
        }
        cycles * self.ns_per_cycle
    }
}

impl GroupState {
    /// Selects one more device.
    pub fn add(&mut self, d: &GroupDevice<'_>) {
        self.apply(d, true);
    }

    /// Deselects a device selected before ([`GroupState::add`] with the same device).
    pub fn remove(&mut self, d: &GroupDevice<'_>) {
        self.apply(d, false);
    }

    fn apply(&mut self, d: &GroupDevice<'_>, add: bool) {
        if d.law.max_reads() == 0 {
            return;
        }
        if add {
            self.devices += 1;
        } else {
            self.devices -= 1;
        }
        let (adc, driver) = (d.adc as usize, d.driver as usize);
        let (adcs, drivers, limit) = (self.adcs, self.drivers, self.iterations as u32);
        let Self {
            none_pending,
            sure_pending,
            pending,
            set_pulses,
            reset_pulses,
            ..
        } = self;
        d.law.walk(limit, |j, at_j, next, set| {
            let j = j as usize - 1;
            let reset = (next - set).max(0.0);
            if add {
                if at_j >= 1.0 {
                    sure_pending[j] += 1;
                } else {
                    none_pending[j] *= 1.0 - at_j;
                }
                pending[j * adcs + adc].add(at_j);
                set_pulses[j * drivers + driver].add(set);
                reset_pulses[j * drivers + driver].add(reset);
            } else {
                if at_j >= 1.0 {
                    sure_pending[j] -= 1;
                } else {
                    none_pending[j] /= 1.0 - at_j;
                }
                pending[j * adcs + adc].remove(at_j);
                set_pulses[j * drivers + driver].remove(set);
                reset_pulses[j * drivers + driver].remove(reset);
            }
        });
    }

    /// Devices selected.
    pub fn devices(&self) -> u32 {
        self.devices
    }

    /// Deselects every device (keeping the memory).
    pub fn clear(&mut self) {
        if self.devices == 0 {
            return;
        }
        self.none_pending.fill(1.0);
        self.sure_pending.fill(0);
        for c in self
            .pending
            .iter_mut()
            .chain(&mut self.set_pulses)
            .chain(&mut self.reset_pulses)
        {
            c.pmf.truncate(1);
            c.pmf[0] = 1.0;
        }
        self.devices = 0;
    }
}

/// The predicted-time model of a mapping on a configuration (see the module docs).
#[derive(Debug, Clone)]
pub struct TimeModel {
    groups: GroupModel,
    /// Per array, the simulated open-loop programming time (setups and writes), in ns.
    open_loop_ns: Vec<f64>,
    /// Every device's conductance after the open-loop write, in conductance-vector order
    /// ([`Mapped::device_range`]), in uS.
    open_loop_us: Vec<f32>,
    channels: u32,
    variation: VariationMap,
    seed: u64,
}

impl TimeModel {
    /// The model of `mapped` on `hw`: simulates the open-loop programming of the chip of `seed` once.
    pub fn new(mapped: &Mapped, hw: &HwConfig, seed: u64) -> Result<Self, SimError> {
        let options = super::ProgramOptions {
            seed,
            trace: TraceFilter::level(TraceLevel::Off),
            keep_conductances: true,
        };
        let open = super::program(mapped, hw, &Mask::None, &options, &mut NullSink)?;
        Ok(Self {
            groups: GroupModel::new(hw, seed),
            open_loop_ns: open.arrays.iter().map(|a| a.end_ns - a.start_ns).collect(),
            open_loop_us: open
                .conductances_us
                .expect("the programmer returns conductances when asked"),
            channels: hw.controller.parallel_arrays,
            variation: VariationMap::new(&hw.device.variation, &hw.device, &hw.array),
            seed,
        })
    }

    /// The verify-time model of a row group.
    pub fn groups(&self) -> &GroupModel {
        &self.groups
    }

    /// The simulated open-loop programming time of every array, in ns.
    pub fn open_loop_ns(&self) -> &[f64] {
        &self.open_loop_ns
    }

    /// The total programming time when array a spends `verify_ns[a]` on verify, in ns: every array's
    /// open-loop and verify time, list-scheduled on the chip's channels.
    pub fn total_ns(&self, verify_ns: &[f64]) -> f64 {
        let arrays: Vec<f64> = self
            .open_loop_ns
            .iter()
            .zip(verify_ns)
            .map(|(o, v)| o + v)
            .collect();
        list_schedule(&arrays, self.channels)
    }

    /// The expected verify time of every array of `mapped` with `mask`, on the chip of `seed` (its
    /// devices' true sigmas), in ns. On the model's own chip (`seed` the one it was made with) each
    /// device's law is the one given its open-loop error there; on another chip, the level's law.
    pub fn verify_ns(&self, mapped: &Mapped, mask: &Mask, seed: u64) -> Vec<f64> {
        let rows_in_parallel = self.groups.timing.rows_in_parallel.max(1);
        let own_chip = seed == self.seed;
        (0..mapped.num_arrays())
            .into_par_iter()
            .map(|a| {
                let mut devices = Vec::new();
                mapped.array_devices(a, &mut devices);
                let sigmas = device_sigmas(&self.variation, seed, a, &devices);
                let range = mapped.device_range(a);
                let open_us = &self.open_loop_us[range.start as usize..range.end as usize];
                let mut total = 0.0;
                let mut group = self.groups.empty_group();
                let mut current = None;
                for ((d, &sigma), &g_us) in devices.iter().zip(&sigmas).zip(open_us) {
                    let g = d.row / rows_in_parallel;
                    if current != Some(g) {
                        total += self.groups.verify_ns(&group);
                        group.clear();
                        current = Some(g);
                    }
                    let class = mask.class(d.layer, d.weight);
                    let device = if own_chip {
                        self.groups
                            .device_given(class, d.col, sigma, d.level, g_us - d.target_us)
                    } else {
                        self.groups.device_in(class, d.col, sigma, d.level)
                    };
                    if let Some(device) = device {
                        group.add(&device);
                    }
                }
                total + self.groups.verify_ns(&group)
            })
            .collect()
    }

    /// The predicted total programming time of `mapped` with `mask` on the chip of `seed`, in ns.
    pub fn predict_ns(&self, mapped: &Mapped, mask: &Mask, seed: u64) -> f64 {
        self.total_ns(&self.verify_ns(mapped, mask, seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::map::LayerWeights;

    #[test]
    fn list_scheduling_fills_the_earliest_free_channel() {
        assert_eq!(list_schedule(&[3, 3, 3], 1), 9);
        assert_eq!(list_schedule(&[3, 3, 3], 2), 6);
        assert_eq!(list_schedule(&[5, 1, 1, 1], 2), 5);
        assert_eq!(list_schedule::<u64>(&[], 4), 0);
        assert_eq!(list_schedule(&[2.5, 1.0, 1.0], 2), 2.5);
    }

    /// A layer of `outputs` x `inputs` weights of varied values.
    fn layer(outputs: usize, inputs: usize) -> Vec<LayerWeights> {
        vec![LayerWeights {
            name: "fc.weight".into(),
            shape: vec![outputs, inputs],
            values: (0..outputs * inputs)
                .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.05)
                .collect(),
        }]
    }

    #[test]
    fn one_selected_device_pays_its_own_reads_settles_and_pulse_slots() {
        let hw = config::load("paper_statistical", &[]).unwrap();
        let model = GroupModel::new(&hw, 0);
        let d = model.device(5, 0.3, 1);
        let t = model.timing();
        let ns = Clock::new(&hw.controller).ns(1);
        // Alone on its ADC and driver: read j costs settle + one conversion when pending, the pulse after
        // it one slot when the device is read again.
        let want: f64 = (1..=100)
            .map(|j| {
                let (read, again) = (d.law.at_least(j), d.law.at_least(j + 1));
                ns * ((t.settle.0 + t.conversion.0) as f64 * read + t.slot.0 as f64 * again)
            })
            .sum();
        let got = model.group_verify_ns(&[d]);
        assert!((got - want).abs() < 1e-9 * want, "{got} vs {want}");
        // Two devices on one ADC and driver: E[max] of two counts is more than one, less than two.
        let two = model.group_verify_ns(&[d, d]);
        assert!(two > got && two < 2.0 * got, "{two} vs {got}");
        assert_eq!(model.group_verify_ns(&[]), 0.0);
    }

    #[test]
    fn expected_maxima_of_counts_match_hand_computations() {
        let mut cdf = MaxScratch::default();
        let mut a = Count::zero();
        a.add(0.5);
        a.add(0.5);
        // Binomial(2, 0.5): E = 1.
        assert!((expected_max(std::slice::from_ref(&a), &mut cdf) - 1.0).abs() < 1e-12);
        let mut b = Count::zero();
        b.add(0.5);
        // max(Bin(2, .5), Bern(.5)): P(max >= 1) = 1 - 0.25 * 0.5, P(max >= 2) = 0.25.
        let want = (1.0 - 0.125) + 0.25;
        assert!((expected_max(&[a.clone(), b.clone(), Count::zero()], &mut cdf) - want).abs() < 1e-12);
        assert_eq!(expected_max(&[Count::zero(), Count::zero()], &mut cdf), 0.0);
        // Removing an event undoes adding it, from either end of the deconvolution.
        let mut c = a.clone();
        for q in [0.9, 0.2, 1.0] {
            c.add(q);
        }
        for q in [0.2, 1.0, 0.9] {
            c.remove(q);
        }
        assert_eq!(c.pmf.len(), a.pmf.len());
        for (x, y) in c.pmf.iter().zip(&a.pmf) {
            assert!((x - y).abs() < 1e-12, "{:?} vs {:?}", c.pmf, a.pmf);
        }
        b.remove(0.5);
        assert_eq!(b.pmf, vec![1.0]);
    }

    #[test]
    fn removing_a_device_from_a_group_gives_the_time_of_the_group_without_it() {
        for preset in ["paper_statistical", "rram_1t1r_256"] {
            let hw = config::load(preset, &[]).unwrap();
            let model = GroupModel::new(&hw, 2);
            let devices: Vec<GroupDevice<'_>> = (0..12u32)
                .map(|i| model.device(i * 3 % 40, 0.1 + 0.02 * i as f32, (i % 2) as u16))
                .collect();
            let mut group = model.empty_group();
            for d in &devices {
                group.add(d);
            }
            for d in devices.iter().step_by(3) {
                group.remove(d);
            }
            let kept: Vec<GroupDevice<'_>> = devices
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 3 != 0)
                .map(|(_, d)| *d)
                .collect();
            let want = model.group_verify_ns(&kept);
            let got = model.verify_ns(&group);
            assert_eq!(group.devices(), kept.len() as u32);
            assert!((got - want).abs() < 1e-9 * want, "{preset}: {got} vs {want}");
        }
    }

    #[test]
    fn predicted_time_is_within_five_percent_of_the_simulated_mean() {
        use crate::sim::{ProgramOptions, program};
        let hw = config::load("paper_statistical", &[]).unwrap();
        let m = Mapped::new(&layer(48, 100), &hw).unwrap();
        let model = TimeModel::new(&m, &hw, 1).unwrap();
        for (fraction, seed) in [(0.02, 3), (0.3, 4), (1.0, 5)] {
            let mask = if fraction >= 1.0 {
                Mask::All
            } else {
                Mask::random(&m, fraction, seed)
            };
            let predicted = model.predict_ns(&m, &mask, 1);
            let runs = 6;
            let simulated: f64 = (0..runs)
                .map(|r| {
                    let options = ProgramOptions {
                        seed: 100 + r,
                        ..ProgramOptions::default()
                    };
                    program(&m, &hw, &mask, &options, &mut NullSink)
                        .unwrap()
                        .summary
                        .total_time_ns
                })
                .sum::<f64>()
                / runs as f64;
            let error = (predicted - simulated) / simulated;
            assert!(
                error.abs() < 0.05,
                "fraction {fraction}: {predicted} vs {simulated}"
            );
        }
        // Tolerance classes: loose weights verify faster than tight ones, and the model follows the
        // simulator's loose loops too.
        let classes = Mask::Classes(vec![
            (0..4800)
                .map(|i| {
                    if i % 2 == 0 {
                        WvClass::Loose
                    } else {
                        WvClass::Tight
                    }
                })
                .collect(),
        ]);
        let predicted = model.predict_ns(&m, &classes, 1);
        let options = ProgramOptions {
            seed: 100,
            ..ProgramOptions::default()
        };
        let simulated = program(&m, &hw, &classes, &options, &mut NullSink)
            .unwrap()
            .summary
            .total_time_ns;
        assert!(
            (predicted - simulated).abs() < 0.05 * simulated,
            "classes: {predicted} vs {simulated}"
        );
        assert!(predicted < model.predict_ns(&m, &Mask::All, 1));
        // No mask: the open-loop programming exactly.
        let open: f64 = model.open_loop_ns().iter().sum();
        assert!(open > 0.0);
        assert_eq!(
            model.verify_ns(&m, &Mask::None, 1),
            vec![0.0; m.num_arrays() as usize]
        );
    }

    #[test]
    fn reading_one_full_array_costs_its_rows_settles_and_conversions() {
        let hw = config::load("rram_1t1r_256", &[]).unwrap();
        let rows = hw.array.rows as usize;
        let cols = hw.array.cols as usize;
        let spec = crate::map::SliceSpec::new(&hw.mapping, &hw.device);
        let per_weight = spec.devices_per_weight() as usize;
        // One layer whose devices fill exactly the columns of `rows` rows of one array.
        let outputs = cols / per_weight;
        let layers = [LayerWeights {
            name: "fc.weight".into(),
            shape: vec![outputs, rows],
            values: (0..outputs * rows)
                .map(|i| ((i % 7) as f32 - 3.0) * 0.1)
                .collect(),
        }];
        let m = Mapped::new(&layers, &hw).unwrap();
        assert_eq!(m.num_arrays(), 1);
        let t = Timing::new(&hw);
        let clock = Clock::new(&hw.controller);
        let used_per_row = (outputs * per_weight) as u32;
        assert_eq!(used_per_row, hw.array.cols, "every column used");
        let groups = rows.div_ceil(t.rows_in_parallel as usize) as u64;
        // Every ADC serves cols / adcs columns of each of the group's rows.
        let per_adc = used_per_row.div_ceil(t.adcs) * t.rows_in_parallel;
        let want = groups * (t.setup.get() + t.read_cycles(per_adc).get());
        let cost = read_all(&m, &hw);
        assert_eq!(cost.time_ns, clock.ns(want));
        assert!(cost.energy_pj > m.num_devices() as f64 * t.adc_pj);
    }
}
