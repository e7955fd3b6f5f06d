//! Expected write-verify cost of a device, for cost-aware selection (the `uswim-cost` score) and the
//! predicted-time model ([`super::predict::TimeModel`]).
//!
//! The law of a device's verify reads r, as its survival function P(r >= j), j = 1, 2, ...:
//! - **statistical** device, in closed form: the first read sees the open-loop error N(0, R sigma),
//!   accepted with probability p0; each re-program draws N(0, R sigma retry_ratio), accepted with p1; at
//!   most max_iterations reads: P(r >= 1) = 1, P(r >= j) = (1 - p0) (1 - p1)^(j - 2) for
//!   2 <= j <= max_iterations. A read is accepted when its ADC code lies in the level's acceptance band
//!   (`Adc::band_codes`), that is when the conductance lies within half a code step of the band's end
//!   codes; with read noise the spread is sqrt(spread^2 + noise^2) (each read treated as a fresh draw).
//! - **pulse-level** device: measured per level from [`TRIALS_PER_LEVEL`] devices made, written open-loop
//!   and verified exactly as the programmer does (the streams and sites of the device report,
//!   `device::report`), so it reflects the level but not the individual device's sigma.
//! - `open_loop` scheme: no verify, no reads.
//!
//! **Given the open-loop error** ([`VerifyCost::law_given`]): the first verify read sees the device's
//! open-loop state, so a device whose open-loop write landed far from its target needs more reads than
//! the level's average one. A selection that knows the open-loop errors (`measured`, which reads them)
//! picks exactly such devices, and the unconditional law underestimates its time. Given the open-loop
//! error e0: the statistical device's first read is accepted with P(e0 + read noise in the band) (0 or 1
//! without read noise), its re-programs as before; the pulse-level device's law is measured per level in
//! [`ERROR_BINS`] bins of equal counts of the simulated devices' open-loop errors (ISPP from a farther
//! state takes more pulses, and a device whose one-shot write overshoots is one whose d2d step is large).
//!
//! E(r) is the sum of the survival function. A device's cost proxy in ns is the time it occupies on its
//! array's shared converters and drivers: E(r) reads of adc.conversion_ns / adcs_per_array and E(r) - 1
//! pulses of slot / write_drivers_per_array (slot = dac.conversion_ns + pulse width). These shares add
//! over the devices of a row; the row's own overheads (read settle, rounding up to whole conversions and
//! slots, the slowest device) are what [`super::predict::TimeModel`] adds.

use crate::config::{DeviceModelConfig, HwConfig};
use crate::device::report::level_chunks;
use crate::device::{DeviceEvent, WriteVerify};
use crate::periph::Adc;
use crate::pulse::Polarity;
use crate::variation::VariationMap;
use rayon::prelude::*;

/// Devices simulated per level to measure a pulse-level device's read laws.
pub const TRIALS_PER_LEVEL: u32 = 16_384;

/// Bins of open-loop error per level of a measured law (equal counts: 1024 devices each).
pub const ERROR_BINS: usize = 16;

/// One level's acceptance interval around its target, in uS (the conductances whose read code is in
/// the band).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Accept {
    below_us: f64,
    above_us: f64,
}

/// How the read law is obtained.
#[derive(Debug, Clone, PartialEq)]
enum Reads {
    /// The statistical device's closed form.
    Statistical {
        /// Per level.
        accept: Vec<Accept>,
        range_us: f64,
        read_noise_us: f64,
        retry_ratio: f64,
        max_iterations: u32,
    },
    /// Measured per level.
    PerLevel(Vec<LevelLaws>),
    /// No verify.
    None,
}

/// A read law measured from simulated devices.
#[derive(Debug, Clone, PartialEq, Default)]
struct MeasuredLaw {
    /// `survival[j - 1]` = P(r >= j).
    survival: Vec<f64>,
    /// `set[j - 1]` = P(a SET correction after read j).
    set: Vec<f64>,
}

/// One level's measured laws: over all its simulated devices, and per bin of open-loop error.
#[derive(Debug, Clone, PartialEq)]
struct LevelLaws {
    all: MeasuredLaw,
    /// The lowest open-loop error of bins 1.. (ascending), in uS: bin b holds errors in
    /// [edges_us[b - 1], edges_us[b]).
    edges_us: Vec<f32>,
    bins: Vec<MeasuredLaw>,
}

/// What the measurement keeps of one simulated device.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Trial {
    /// G - G* after the open-loop write, in uS.
    error_us: f32,
    /// Verify reads.
    reads: u32,
    /// Where its SET corrections start in the chunk's list of reads followed by a SET pulse.
    sets: (u32, u32),
}

/// The simulated devices of one chunk of a level: their trials and the reads after which each SET
/// correction came (1-based, device after device).
#[derive(Debug, Default)]
struct Chunk {
    trials: Vec<Trial>,
    set_reads: Vec<u32>,
}

impl MeasuredLaw {
    /// The law of the devices `trials` (with their SET reads in `set_reads`).
    fn of<'t>(trials: impl Iterator<Item = (&'t Trial, &'t [u32])>) -> Self {
        let mut law = Self::default();
        let mut n = 0u64;
        for (t, sets) in trials {
            n += 1;
            let reads = t.reads as usize;
            if law.survival.len() < reads {
                law.survival.resize(reads, 0.0);
                law.set.resize(reads, 0.0);
            }
            for s in &mut law.survival[..reads] {
                *s += 1.0;
            }
            for &j in sets {
                law.set[j as usize - 1] += 1.0;
            }
        }
        let n = n.max(1) as f64;
        for x in law.survival.iter_mut().chain(&mut law.set) {
            *x /= n;
        }
        law
    }

    fn as_law(&self) -> ReadLaw<'_> {
        ReadLaw::Table {
            at_least: &self.survival,
            set_after: &self.set,
        }
    }
}

impl LevelLaws {
    /// The laws of one level's simulated devices.
    fn of(chunks: &[&Chunk]) -> Self {
        let mut trials: Vec<(&Trial, &[u32])> = chunks
            .iter()
            .flat_map(|c| {
                c.trials
                    .iter()
                    .map(|t| (t, &c.set_reads[t.sets.0 as usize..t.sets.1 as usize]))
            })
            .collect();
        let all = MeasuredLaw::of(trials.iter().copied());
        trials.sort_by(|a, b| a.0.error_us.total_cmp(&b.0.error_us));
        let per_bin = trials.len().div_ceil(ERROR_BINS).max(1);
        let bins: Vec<MeasuredLaw> = trials
            .chunks(per_bin)
            .map(|bin| MeasuredLaw::of(bin.iter().copied()))
            .collect();
        let edges_us = trials
            .chunks(per_bin)
            .skip(1)
            .map(|bin| bin[0].0.error_us)
            .collect();
        Self { all, edges_us, bins }
    }

    /// The law of a device whose open-loop error is `error_us`.
    fn given(&self, error_us: f32) -> &MeasuredLaw {
        if self.bins.is_empty() {
            return &self.all;
        }
        &self.bins[self.edges_us.partition_point(|&e| e <= error_us)]
    }
}

/// The law of a device's verify reads: P(r >= j) for j = 1, 2, ... ([`ReadLaw::at_least`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReadLaw<'a> {
    /// Never verified: no read.
    Never,
    /// P(r >= j) = fail_first fail_retry^(j - 2) for 2 <= j <= max.
    Geometric {
        /// 1 - p0: the open-loop write is out of band.
        fail_first: f64,
        /// 1 - p1: a re-program is out of band.
        fail_retry: f64,
        /// Most reads.
        max: u32,
    },
    /// A measured law.
    Table {
        /// `at_least[j - 1]` = P(r >= j).
        at_least: &'a [f64],
        /// `set_after[j - 1]` = P(the correction after read j is a SET pulse).
        set_after: &'a [f64],
    },
}

impl ReadLaw<'_> {
    /// P(r >= j), j >= 1.
    pub fn at_least(&self, j: u32) -> f64 {
        match *self {
            Self::Never => 0.0,
            Self::Geometric {
                fail_first,
                fail_retry,
                max,
            } => match j {
                0 | 1 => 1.0,
                _ if j > max => 0.0,
                _ => fail_first * fail_retry.powi(j as i32 - 2),
            },
            Self::Table { at_least, .. } => at_least.get(j.max(1) as usize - 1).copied().unwrap_or(0.0),
        }
    }

    /// P(the correction pulse after read j is a SET pulse), j >= 1; the rest of
    /// P(r >= j + 1) is RESET. The statistical device corrects by the sign of a symmetric error: half.
    pub fn set_after(&self, j: u32) -> f64 {
        match *self {
            Self::Table { set_after, .. } => set_after.get(j.max(1) as usize - 1).copied().unwrap_or(0.0),
            _ => 0.5 * self.at_least(j + 1),
        }
    }

    /// Calls `f(j, P(r >= j), P(r >= j + 1), P(a SET correction after read j))` for j = 1, 2, ... while
    /// P(r >= j) > 0, at most `limit` times (the geometric law by running products: no powers).
    pub fn walk(&self, limit: u32, mut f: impl FnMut(u32, f64, f64, f64)) {
        match *self {
            Self::Never => {}
            Self::Geometric {
                fail_first,
                fail_retry,
                max,
            } => {
                let mut pending = 1.0;
                let mut next = if max >= 2 { fail_first } else { 0.0 };
                for j in 1..=limit.min(max) {
                    if pending <= 0.0 {
                        break;
                    }
                    f(j, pending, next, 0.5 * next);
                    pending = next;
                    next = if j + 2 <= max { next * fail_retry } else { 0.0 };
                }
            }
            Self::Table { at_least, set_after } => {
                for j in 1..=limit.min(at_least.len() as u32) {
                    let pending = at_least[j as usize - 1];
                    if pending <= 0.0 {
                        break;
                    }
                    let next = at_least.get(j as usize).copied().unwrap_or(0.0);
                    let set = set_after.get(j as usize - 1).copied().unwrap_or(0.0);
                    f(j, pending, next, set);
                }
            }
        }
    }

    /// The most reads the law allows (0: never read).
    pub fn max_reads(&self) -> u32 {
        match *self {
            Self::Never => 0,
            Self::Geometric { max, .. } => max,
            Self::Table { at_least, .. } => at_least.len() as u32,
        }
    }

    /// E(r), the sum of the survival function.
    pub fn mean(&self) -> f64 {
        match *self {
            Self::Never => 0.0,
            Self::Geometric {
                fail_first,
                fail_retry,
                max,
            } => {
                let retries = max.saturating_sub(1);
                let more = if fail_retry <= 0.0 {
                    f64::from(retries.min(1))
                } else if fail_retry >= 1.0 {
                    f64::from(retries)
                } else {
                    (1.0 - fail_retry.powi(retries as i32)) / (1.0 - fail_retry)
                };
                1.0 + fail_first * more
            }
            Self::Table { at_least, .. } => at_least.iter().sum(),
        }
    }
}

/// The expected write-verify cost of devices on a chip.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyCost {
    reads: Reads,
    read_share_ns: f64,
    pulse_share_ns: f64,
}

impl VerifyCost {
    /// The cost model of verifying to the acceptance band +-`tolerance` (a fraction of the range, as
    /// `program.tolerance`) on `hw`, e.g. the loose tolerance class's.
    pub fn with_tolerance(hw: &HwConfig, seed: u64, tolerance: f64) -> Self {
        let mut hw = hw.clone();
        hw.program.tolerance = tolerance;
        Self::new(&hw, seed)
    }

    /// The cost model of `hw`; for the pulse-level device this simulates [`TRIALS_PER_LEVEL`] devices
    /// per level from `seed` (a fraction of a second).
    pub fn new(hw: &HwConfig, seed: u64) -> Self {
        let levels: Vec<u32> = (0..hw.device.levels()).collect();
        let reads = if !hw.program.scheme.verifies() {
            Reads::None
        } else {
            match &hw.device.model {
                DeviceModelConfig::Statistical(c) => {
                    let adc = Adc::new(&hw.adc, &hw.device);
                    let tolerance_us = (hw.program.tolerance * hw.range_us()) as f32;
                    let half_step = 0.5 * f64::from(adc.value(1.0) - adc.value(0.0));
                    let accept = levels
                        .iter()
                        .map(|&l| {
                            let target = hw.device.level_us(l) as f32;
                            let (lo, hi) = adc.band_codes(target, tolerance_us, false);
                            Accept {
                                below_us: f64::from(target - adc.value(lo)) + half_step,
                                above_us: f64::from(adc.value(hi) - target) + half_step,
                            }
                        })
                        .collect();
                    Reads::Statistical {
                        accept,
                        range_us: hw.range_us(),
                        read_noise_us: hw.device.read_noise * hw.range_us(),
                        retry_ratio: c.retry_ratio,
                        max_iterations: hw.program.max_iterations,
                    }
                }
                DeviceModelConfig::Pulse(_) => Reads::PerLevel(measure(hw, &levels, TRIALS_PER_LEVEL, seed)),
            }
        };
        Self {
            reads,
            read_share_ns: hw.adc.conversion_ns / f64::from(hw.adc.adcs_per_array),
            pulse_share_ns: (hw.dac.conversion_ns + hw.program.scheme.width_ns())
                / f64::from(hw.program.write_drivers_per_array),
        }
    }

    /// The law of the verify reads of a device of open-loop sigma `sigma` (relative to the range)
    /// storing `level`.
    pub fn law(&self, sigma: f32, level: u16) -> ReadLaw<'_> {
        match &self.reads {
            Reads::None => ReadLaw::Never,
            Reads::PerLevel(levels) => levels[usize::from(level)].all.as_law(),
            Reads::Statistical {
                accept,
                range_us,
                read_noise_us,
                retry_ratio,
                max_iterations,
            } => {
                let a = accept[usize::from(level)];
                let p = |spread_us: f64| {
                    let s = spread_us.hypot(*read_noise_us);
                    if s <= 0.0 {
                        return f64::from(u8::from(a.below_us >= 0.0 && a.above_us >= 0.0));
                    }
                    (normal_cdf(a.above_us / s) - normal_cdf(-a.below_us / s)).clamp(0.0, 1.0)
                };
                let spread_us = f64::from(sigma) * range_us;
                ReadLaw::Geometric {
                    fail_first: 1.0 - p(spread_us),
                    fail_retry: 1.0 - p(spread_us * retry_ratio),
                    max: *max_iterations,
                }
            }
        }
    }

    /// The law of the verify reads of a device of open-loop sigma `sigma` storing `level` whose open-loop
    /// write left it `open_loop_error_us` from its target (G - G*, in uS; see the module docs).
    pub fn law_given(&self, sigma: f32, level: u16, open_loop_error_us: f32) -> ReadLaw<'_> {
        match &self.reads {
            Reads::PerLevel(levels) => levels[usize::from(level)].given(open_loop_error_us).as_law(),
            Reads::Statistical {
                accept,
                read_noise_us,
                ..
            } => match self.law(sigma, level) {
                ReadLaw::Geometric { fail_retry, max, .. } => {
                    let a = accept[usize::from(level)];
                    let e = f64::from(open_loop_error_us);
                    let accepted = if *read_noise_us > 0.0 {
                        (normal_cdf((a.above_us - e) / read_noise_us)
                            - normal_cdf((-a.below_us - e) / read_noise_us))
                        .clamp(0.0, 1.0)
                    } else {
                        f64::from(u8::from(-a.below_us <= e && e <= a.above_us))
                    };
                    ReadLaw::Geometric {
                        fail_first: 1.0 - accepted,
                        fail_retry,
                        max,
                    }
                }
                law => law,
            },
            Reads::None => ReadLaw::Never,
        }
    }

    /// Expected verify reads of a device of open-loop sigma `sigma` storing `level`.
    pub fn expected_reads(&self, sigma: f32, level: u16) -> f64 {
        self.law(sigma, level).mean()
    }

    /// Expected cost of verifying a device, in ns (see the module docs).
    pub fn device_ns(&self, sigma: f32, level: u16) -> f64 {
        let r = self.expected_reads(sigma, level);
        if r == 0.0 {
            return 0.0;
        }
        r * self.read_share_ns + (r - 1.0) * self.pulse_share_ns
    }
}

/// The read laws of the pulse-level device of `hw` at `levels`, from `trials` devices per level made,
/// written open-loop and write-verified as the device report makes them (the same sites, sigmas and
/// streams as [`crate::device::report::run`], so the two agree device for device).
fn measure(hw: &HwConfig, levels: &[u32], trials: u32, seed: u64) -> Vec<LevelLaws> {
    let wv = WriteVerify::new(hw);
    let variation = VariationMap::new(&hw.device.variation, &hw.device, &hw.array);
    let jobs = level_chunks(hw, levels, trials);
    let per_level = (jobs.len() / levels.len().max(1)).max(1);
    let measured: Vec<Chunk> = jobs
        .par_iter()
        .map(|chunk| {
            let target_us = chunk.target_us;
            let mut rng = chunk.stream(seed);
            let device = wv.device();
            let mut out = Chunk::default();
            for sigma in chunk.sigmas(hw, &variation, seed) {
                let mut state = device.instantiate(sigma, &mut rng);
                device.open_loop_write(&mut state, target_us, &mut rng, &mut |_| {});
                let error_us = state.g_us - target_us;
                let start = out.set_reads.len() as u32;
                let mut read = 0u32;
                let set_reads = &mut out.set_reads;
                let report = wv.run(&mut state, target_us, &mut rng, &mut |e| match e {
                    DeviceEvent::Read { .. } => read += 1,
                    DeviceEvent::Pulse {
                        polarity: Polarity::Set,
                        ..
                    } => set_reads.push(read),
                    DeviceEvent::Pulse { .. } => {}
                });
                out.trials.push(Trial {
                    error_us,
                    reads: report.reads,
                    sets: (start, out.set_reads.len() as u32),
                });
            }
            out
        })
        .collect();
    measured
        .chunks(per_level)
        .map(|level| LevelLaws::of(&level.iter().collect::<Vec<_>>()))
        .collect()
}

/// The standard normal distribution function.
fn normal_cdf(x: f64) -> f64 {
    0.5 * (1.0 + erf(x * std::f64::consts::FRAC_1_SQRT_2))
}

/// The error function, to a relative error below 1.2e-7 (Numerical Recipes' Chebyshev fit of erfc).
fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 { 1.0 - erfc } else { erfc - 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    #[test]
    fn erf_matches_reference_values() {
        for (x, want) in [
            (0.0, 0.0),
            (0.141_421_356, 0.158_519_418_878),
            (0.5, 0.520_499_877_813),
            (1.0, 0.842_700_792_950),
            (2.0, 0.995_322_265_019),
            (-1.0, -0.842_700_792_950),
        ] {
            assert!((erf(x) - want).abs() < 2e-7, "erf({x}) = {}", erf(x));
        }
    }

    #[test]
    fn statistical_expected_reads_follow_the_capped_geometric_law_of_the_adc_band() {
        let mut hw = config::load("paper_statistical", &[]).unwrap();
        let cost = VerifyCost::new(&hw, 0);
        // Tolerance 0.6 uS on 10 uS / 255 codes: codes -15..=15 around either level, so a read is
        // accepted within 15.5 steps = 0.607843 uS; p = erf(0.607843 / (3 sqrt 2)) = 0.1605635 for the
        // first read and every retry, 100 reads at most.
        let p: f64 = 0.160_563_5;
        let want = (1.0 - (1.0 - p).powi(100)) / p;
        for level in [0, 1] {
            let r = cost.expected_reads(0.3, level);
            assert!((r - want).abs() < 2e-4 * want, "level {level}: {r} vs {want}");
        }
        let law = cost.law(0.3, 1);
        assert_eq!(law.at_least(1), 1.0);
        assert!((law.at_least(3) - (1.0 - p).powi(2)).abs() < 1e-5);
        assert_eq!(law.at_least(101), 0.0);
        let sum: f64 = (1..=100).map(|j| law.at_least(j)).sum();
        assert!((sum - law.mean()).abs() < 1e-9);
        let mut walked = 0;
        law.walk(200, |j, pending, next, set| {
            walked += 1;
            assert!((pending - law.at_least(j)).abs() < 1e-12 * law.at_least(j).max(1e-300));
            assert!((next - law.at_least(j + 1)).abs() < 1e-12 * next.max(1e-300));
            assert_eq!(set, 0.5 * next);
        });
        assert_eq!(walked, 100);
        assert_eq!(cost.expected_reads(0.0, 0), 1.0);
        // One read, one pulse share per extra read: 10 ns / 16 ADCs, (5 + 100) ns / 32 drivers.
        let r = cost.expected_reads(0.3, 0);
        assert!((cost.device_ns(0.3, 0) - (r * 10.0 / 16.0 + (r - 1.0) * 105.0 / 32.0)).abs() < 1e-9);
        hw.program.max_iterations = 1;
        assert_eq!(VerifyCost::new(&hw, 0).expected_reads(0.3, 0), 1.0);
    }

    #[test]
    fn a_measured_law_is_the_survival_function_of_the_device_report() {
        let hw = config::load("rram_1t1r_256", &[]).unwrap();
        let cost = VerifyCost::new(&hw, 4);
        // The same devices as the device report's: the same mean reads and SET corrections.
        let reports = crate::device::report::run(&hw, &[2], TRIALS_PER_LEVEL, 4);
        let law = cost.law(0.1, 2);
        assert_eq!(law.at_least(1), 1.0);
        assert!((law.mean() - reports[0].reads.mean()).abs() < 1e-9);
        let report_sets: u64 = reports[0].verify_set_pulses.iter().sum();
        let set: f64 = (1..law.max_reads()).map(|j| law.set_after(j)).sum();
        let trials = f64::from(TRIALS_PER_LEVEL);
        assert!((set * trials - report_sets as f64).abs() < 1e-6 * trials);
        assert_eq!(law.at_least(law.max_reads() + 1), 0.0);
        assert!(law.at_least(law.max_reads()) > 0.0);
        // Every correction after read j is SET or RESET: the SET share is at most P(r >= j + 1).
        let pulses: f64 = (2..=law.max_reads()).map(|j| law.at_least(j)).sum();
        assert!(set > 0.0 && set <= pulses + 1e-12, "{set} vs {pulses}");
        let mut walked = 0;
        law.walk(u32::MAX, |j, pending, next, s| {
            walked += 1;
            assert_eq!(
                (pending, next, s),
                (law.at_least(j), law.at_least(j + 1), law.set_after(j))
            );
        });
        assert_eq!(walked, law.max_reads());
    }

    #[test]
    fn laws_given_the_open_loop_error_average_to_the_level_law_and_grow_with_the_error() {
        let hw = config::load("rram_1t1r_256", &[]).unwrap();
        let cost = VerifyCost::new(&hw, 4);
        let Reads::PerLevel(levels) = &cost.reads else {
            panic!("a pulse-level device has measured laws")
        };
        for (level, laws) in levels.iter().enumerate() {
            let level = level as u16;
            assert_eq!(laws.bins.len(), ERROR_BINS);
            assert_eq!(laws.edges_us.len(), ERROR_BINS - 1);
            assert!(laws.edges_us.windows(2).all(|w| w[0] <= w[1]));
            // Equal-count bins: their laws average to the level's law.
            let mean_of_bins: f64 =
                laws.bins.iter().map(|b| b.as_law().mean()).sum::<f64>() / ERROR_BINS as f64;
            let all = cost.law(0.1, level).mean();
            assert!((mean_of_bins - all).abs() < 1e-9 * all, "{mean_of_bins} vs {all}");
            // A device just below the lowest edge is in bin 0, one at an edge in the bin it opens.
            let lowest = laws.edges_us[0];
            assert_eq!(
                cost.law_given(0.1, level, lowest - 1e3).mean(),
                laws.bins[0].as_law().mean()
            );
            assert_eq!(
                cost.law_given(0.1, level, laws.edges_us[3]).mean(),
                laws.bins[4].as_law().mean()
            );
        }
        // At the middle levels the one-shot write lands far from the target either way; the devices
        // farthest off need more reads than the level's average, those closest fewer.
        for level in [1u16, 2] {
            let laws = &levels[usize::from(level)];
            let means: Vec<f64> = laws.bins.iter().map(|b| b.as_law().mean()).collect();
            let all = cost.law(0.1, level).mean();
            let nearest = laws.given(0.0).as_law().mean();
            let extreme = means[0].max(means[ERROR_BINS - 1]);
            assert!(extreme > 1.2 * all, "level {level}: {means:?}");
            assert!(nearest < all, "level {level}: {means:?}");
        }
    }

    #[test]
    fn the_statistical_first_read_given_the_open_loop_error_is_in_band_or_not() {
        let hw = config::load("paper_statistical", &[]).unwrap();
        let cost = VerifyCost::new(&hw, 0);
        let law = cost.law(0.3, 1);
        // Accepted within 15.5 ADC steps of 10 uS / 255 (0.6078 uS): in band, one read.
        let inside = cost.law_given(0.3, 1, 0.5);
        assert_eq!(inside.mean(), 1.0);
        let outside = cost.law_given(0.3, 1, -0.7);
        assert_eq!(outside.at_least(2), 1.0);
        assert!((outside.at_least(5) - law.at_least(5) / law.at_least(2)).abs() < 1e-12);
        // Averaged over the open-loop error N(0, 3 uS), the conditional laws give the level's law:
        // E(r) = p + (1 - p) (1 + E(r | a failed first read)).
        let p = 1.0 - law.at_least(2);
        let want = p * inside.mean() + (1.0 - p) * outside.mean();
        assert!((want - law.mean()).abs() < 1e-9, "{want} vs {}", law.mean());
    }

    #[test]
    fn the_open_loop_scheme_costs_nothing() {
        let hw = config::load("neurosim_v21_openloop", &[]).unwrap();
        assert_eq!(VerifyCost::new(&hw, 0).device_ns(0.1, 2), 0.0);
    }
}
