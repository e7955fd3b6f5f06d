//! The device report: write-verify many independent devices per level and summarise what it takes.
//!
//! Per level L (target G*_L = g_min + R L / (levels - 1)), `trials` devices are made and programmed as the
//! programmer would: instantiate with the sigma the variation map gives the device, open-loop write, then
//! write-verify (for the `open_loop` scheme, no verify: the open-loop write is all). Devices are split into
//! chunks of at most one array (rows x cols); a chunk is a virtual array whose devices sit evenly spread
//! over its rows and columns (so `spatial` gradients are sampled fairly), with array id
//! `level * chunks_per_level + chunk`, and the devices of a chunk use the stream
//! `rng::substream(seed, Purpose::Device, level, chunk)`. The `band` map sees |w| / max|W| = L / (levels - 1)
//! (as if each device held a whole weight). Chunks run in parallel and are merged in order, so results do
//! not depend on the thread count.

use super::{Device, DeviceEvent, WriteVerify};
use crate::config::HwConfig;
use crate::pulse::Polarity;
use crate::rng::{self, Purpose};
use crate::variation::{DeviceSite, VariationMap};
use rayon::prelude::*;

/// A count distribution with exact quantiles (counts per value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CountHistogram {
    counts: Vec<u64>,
    total: u64,
    sum: u64,
}

impl CountHistogram {
    /// Records one value.
    pub fn add(&mut self, value: u32) {
        let v = value as usize;
        if v >= self.counts.len() {
            self.counts.resize(v + 1, 0);
        }
        self.counts[v] += 1;
        self.total += 1;
        self.sum += u64::from(value);
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &CountHistogram) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.sum += other.sum;
    }

    /// Number of values.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether no value was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// Nearest-rank quantile: the smallest value v with #{x <= v} >= q N (q in (0, 1]; 0 when empty).
    pub fn quantile(&self, q: f64) -> u32 {
        let rank = ((q * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (v, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return v as u32;
            }
        }
        0
    }

    /// How many values are at least `value`.
    pub fn at_least(&self, value: u32) -> u64 {
        self.counts.iter().skip(value as usize).sum()
    }

    /// The largest value (0 when empty).
    pub fn max(&self) -> u32 {
        self.counts.iter().rposition(|&c| c > 0).unwrap_or(0) as u32
    }
}

/// The summary of one level.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LevelReport {
    /// The level index.
    pub level: u32,
    /// Its target conductance, in uS.
    pub target_us: f64,
    /// Pulses per device: open-loop write plus verify corrections.
    pub pulses: CountHistogram,
    /// Open-loop write pulses per device (SET and RESET).
    pub open_loop_pulses: CountHistogram,
    /// Verify reads per device (0 for the `open_loop` scheme).
    pub reads: CountHistogram,
    /// Devices that ended inside the band (verify converged; for `open_loop`, true error within tolerance).
    pub successes: u64,
    /// Sum of the errors G - G* right after the open-loop write (before any verify), in uS.
    pub one_shot_error_sum_us: f64,
    /// Sum of their squares, in uS^2.
    pub one_shot_error_sq_sum_us: f64,
    /// Sum of the final errors G - G*, in uS.
    pub error_sum_us: f64,
    /// Sum of the squared final errors, in uS^2.
    pub error_sq_sum_us: f64,
    /// Total device energy of the pulses (open-loop and verify), in pJ.
    pub pulse_energy_pj: f64,
    /// Total device energy of the verify reads, in pJ.
    pub read_energy_pj: f64,
    /// Total ADC conversion energy, in pJ.
    pub adc_energy_pj: f64,
    /// Total write-driver energy, in pJ.
    pub driver_energy_pj: f64,
    /// SET corrections after verify read j (index j - 1), over all devices (the rest are RESET).
    pub verify_set_pulses: Vec<u64>,
}

impl LevelReport {
    /// Devices simulated.
    pub fn trials(&self) -> u64 {
        self.pulses.len()
    }

    /// Fraction of devices that ended inside the band.
    pub fn success_rate(&self) -> f64 {
        self.successes as f64 / self.trials().max(1) as f64
    }

    /// Mean final error, in uS.
    pub fn error_mean_us(&self) -> f64 {
        self.error_sum_us / self.trials().max(1) as f64
    }

    /// Standard deviation of the final error (over devices, n - 1 denominator), in uS.
    pub fn error_std_us(&self) -> f64 {
        sample_std(self.trials(), self.error_sum_us, self.error_sq_sum_us)
    }

    /// Standard deviation of the error right after the open-loop write, in uS: what an unverified
    /// device keeps.
    pub fn one_shot_error_std_us(&self) -> f64 {
        sample_std(
            self.trials(),
            self.one_shot_error_sum_us,
            self.one_shot_error_sq_sum_us,
        )
    }

    /// Mean energy per device of every component, in pJ.
    pub fn energy_per_device_pj(&self) -> f64 {
        (self.pulse_energy_pj + self.read_energy_pj + self.adc_energy_pj + self.driver_energy_pj)
            / self.trials().max(1) as f64
    }

    /// Adds every device of `other` (another chunk of the same level, or another level for a total).
    pub fn merge(&mut self, other: &LevelReport) {
        self.pulses.merge(&other.pulses);
        self.open_loop_pulses.merge(&other.open_loop_pulses);
        self.reads.merge(&other.reads);
        self.successes += other.successes;
        self.one_shot_error_sum_us += other.one_shot_error_sum_us;
        self.one_shot_error_sq_sum_us += other.one_shot_error_sq_sum_us;
        self.error_sum_us += other.error_sum_us;
        self.error_sq_sum_us += other.error_sq_sum_us;
        self.pulse_energy_pj += other.pulse_energy_pj;
        self.read_energy_pj += other.read_energy_pj;
        self.adc_energy_pj += other.adc_energy_pj;
        self.driver_energy_pj += other.driver_energy_pj;
        if other.verify_set_pulses.len() > self.verify_set_pulses.len() {
            self.verify_set_pulses.resize(other.verify_set_pulses.len(), 0);
        }
        for (a, b) in self.verify_set_pulses.iter_mut().zip(&other.verify_set_pulses) {
            *a += b;
        }
    }
}

/// The n - 1 standard deviation from a count, a sum and a sum of squares (0 below two values).
fn sample_std(n: u64, sum: f64, sq_sum: f64) -> f64 {
    let n = n as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mean = sum / n;
    ((sq_sum - n * mean * mean) / (n - 1.0)).max(0.0).sqrt()
}

/// One chunk of a per-level device experiment (this report, the cost model's read laws): `devices`
/// devices at level `level`, spread evenly over one array `array` (their variation sites), with their
/// own random stream. A level's trials are split into chunks of at most one array each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelChunk {
    /// The level stored.
    pub level: u32,
    /// The level's target conductance, in uS.
    pub target_us: f32,
    /// The chunk's index within its level.
    pub index: u32,
    /// The array its sites are drawn for.
    pub array: u32,
    /// Devices in the chunk.
    pub devices: u32,
}

/// The chunks of `trials` devices per level for each of `levels`, level by level.
pub fn level_chunks(hw: &HwConfig, levels: &[u32], trials: u32) -> Vec<LevelChunk> {
    let per_array = u64::from(hw.array.rows) * u64::from(hw.array.cols);
    let chunk = per_array.min(u64::from(trials.max(1))) as u32;
    let chunks = trials.div_ceil(chunk.max(1));
    levels
        .iter()
        .flat_map(|&level| {
            (0..chunks).map(move |k| LevelChunk {
                level,
                target_us: hw.device.level_us(level) as f32,
                index: k,
                array: level.wrapping_mul(chunks).wrapping_add(k),
                devices: chunk.min(trials - k * chunk),
            })
        })
        .collect()
}

impl LevelChunk {
    /// Each device's sigma, from the variation stream of the chunk's array, as the programmer would
    /// give devices at these sites.
    pub fn sigmas(&self, hw: &HwConfig, variation: &VariationMap, seed: u64) -> Vec<f32> {
        let weight_norm = self.level as f32 / (hw.device.levels() - 1) as f32;
        let (rows, cols) = (u64::from(hw.array.rows), u64::from(hw.array.cols));
        let n = u64::from(self.devices);
        let sites = (0..self.devices).map(|j| {
            let position = u64::from(j) * rows * cols / n;
            DeviceSite {
                array: self.array,
                row: (position / cols) as u32,
                col: (position % cols) as u32,
                target_us: self.target_us,
                weight_norm,
            }
        });
        variation.sigmas_of(seed, self.array, sites)
    }

    /// The chunk's programming stream: (seed, device, level, chunk index).
    pub fn stream(&self, seed: u64) -> rng::Stream {
        rng::substream(
            seed,
            Purpose::Device,
            u64::from(self.level),
            u64::from(self.index),
        )
    }
}

/// Runs the report for `levels` (each in 0..2^bits_per_cell) with `trials` devices per level.
pub fn run(hw: &HwConfig, levels: &[u32], trials: u32, seed: u64) -> Vec<LevelReport> {
    let wv = WriteVerify::new(hw);
    let variation = VariationMap::new(&hw.device.variation, &hw.device, &hw.array);
    let parts: Vec<LevelReport> = level_chunks(hw, levels, trials)
        .par_iter()
        .map(|chunk| run_chunk(hw, &wv, &variation, chunk, seed))
        .collect();
    levels
        .iter()
        .map(|&level| {
            let mut total = LevelReport {
                level,
                target_us: hw.device.level_us(level),
                ..LevelReport::default()
            };
            for part in parts.iter().filter(|p| p.level == level) {
                total.merge(part);
            }
            total
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn run_chunk(
    hw: &HwConfig,
    wv: &WriteVerify,
    variation: &VariationMap,
    chunk: &LevelChunk,
    seed: u64,
) -> LevelReport {
    let (level, target) = (chunk.level, chunk.target_us);
    let sigmas = chunk.sigmas(hw, variation, seed);
    let mut rng = chunk.stream(seed);
    let device: &Device = wv.device();
    let verifies = hw.program.scheme.verifies();
    let tolerance_us = wv.tolerance_us();
    let mut out = LevelReport {
        level,
        target_us: f64::from(target),
        ..LevelReport::default()
    };
    let mut sink = |_| {};
    for &sigma in &sigmas {
        let mut state = device.instantiate(sigma, &mut rng);
        let open = device.open_loop_write(&mut state, target, &mut rng, &mut sink);
        let one_shot_error = f64::from(state.g_us - target);
        out.one_shot_error_sum_us += one_shot_error;
        out.one_shot_error_sq_sum_us += one_shot_error * one_shot_error;
        let (reads, pulses, success) = if verifies {
            let mut read = 0usize;
            let set_after = &mut out.verify_set_pulses;
            let v = wv.run(&mut state, target, &mut rng, &mut |e| match e {
                DeviceEvent::Read { .. } => read += 1,
                DeviceEvent::Pulse {
                    polarity: Polarity::Set,
                    ..
                } => {
                    if set_after.len() < read {
                        set_after.resize(read, 0);
                    }
                    set_after[read - 1] += 1;
                }
                DeviceEvent::Pulse { .. } => {}
            });
            out.pulse_energy_pj += v.pulse_energy_pj;
            out.read_energy_pj += v.read_energy_pj;
            (v.reads, v.pulses, v.converged)
        } else {
            (0, 0, (state.g_us - target).abs() <= tolerance_us)
        };
        let total_pulses = open.pulses() + pulses;
        out.pulses.add(total_pulses);
        out.open_loop_pulses.add(open.pulses());
        out.reads.add(reads);
        out.successes += u64::from(success);
        let error = f64::from(state.g_us - target);
        out.error_sum_us += error;
        out.error_sq_sum_us += error * error;
        out.pulse_energy_pj += open.energy_pj;
        out.adc_energy_pj += wv.adc_energy_pj(reads);
        out.driver_energy_pj += wv.driver_energy_pj(total_pulses);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_nearest_rank() {
        let mut h = CountHistogram::default();
        for v in [1, 2, 2, 3, 10] {
            h.add(v);
        }
        assert_eq!(h.quantile(0.5), 2);
        assert_eq!(h.quantile(0.9), 10);
        assert_eq!(h.quantile(0.2), 1);
        assert_eq!(h.max(), 10);
        assert!((h.mean() - 3.6).abs() < 1e-12);
    }
}
