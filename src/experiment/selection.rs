//! The one code path from a hardware mapping to the sensitivity analyzer's device information: every
//! command and experiment that scores weights with device variation (`uswim analyze`, sweeps, `uswim
//! reproduce`) builds its [`WeightDeviceInfo`] here, under one of three levels of device knowledge
//! ([`Knowledge`], DESIGN.md section 7):
//!
//! - `prior` (the default): what is known before the chip is programmed: the variation map's
//!   deterministic part (`uniform`, `band`, `level_poly`, the `spatial` gradients) exactly, and for the
//!   maps that draw per device or per array (`lognormal`, `outliers`, the `spatial` array factor) their
//!   expectation: each draw is replaced by the root mean square of its multiplier (`lognormal` and the
//!   array factor: e^(s^2/2); `outliers`: sqrt(1 - f + f m^2)). The same for every chip.
//! - `characterised`: each device's sigma estimated from K programming cycles of the chip: the sample
//!   variance of K errors of std sigma_i is sigma_i^2 chi^2_K / K, drawn per device from the stream
//!   `(chip seed, Characterise, array)`. Its cost (K open-loop writes and reads of every device) is
//!   reported by the experiment engine, not added to the programming time.
//! - `oracle`: the true per-device sigma of the chip: an upper bound (knowing a device's error before
//!   programming it is what a verify read measures), labelled so in every table and plot.
//!
//! **Seed contract.** The programmer draws device `i`'s open-loop sigma from the variation map's stream
//! `(seed, Variation, array)` with `seed = ProgramOptions::seed`; `characterised` and `oracle` ask
//! [`map::sigma::array_variation`](crate::map::sigma::array_variation) for the same draws with the chip
//! seed they are given, so the analyzer sees exactly the sigmas the programmer gives every device
//! (tested in `tests/it/eval.rs`).

use crate::config::{HwConfig, VariationConfig, VariationMapConfig};
use crate::error::InputError;
use crate::map::Mapped;
use crate::map::sigma::{DeviceVariation, array_variation};
use crate::rng::{self, Purpose};
use crate::sensitivity::WeightDeviceInfo;
use crate::sim::VerifyCost;
use crate::variation::VariationMap;
use rand::Rng;
use rand_distr::ChiSquared;
use rayon::prelude::*;
use std::fmt;

/// The smallest expected verify time given to a weight, in ns: the analyzer needs positive times, and a
/// configuration that does not verify (the `open_loop` scheme) costs nothing.
pub const MIN_VERIFY_NS: f32 = 1e-3;

/// Characterisation cycles of `characterised` when none are given.
pub const DEFAULT_CHARACTERISE_CYCLES: u32 = 8;

/// What the analyzer knows about each device's variation when it selects (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Knowledge {
    /// The variation map's expectation: known before programming.
    #[default]
    Prior,
    /// Each device's sigma estimated from `cycles` programming cycles of the chip.
    Characterised {
        /// Programming cycles per device (at least 2).
        cycles: u32,
    },
    /// The chip's true per-device sigma: an upper bound.
    Oracle,
}

impl Knowledge {
    /// Parses `prior`, `characterised` (with `cycles` cycles) or `oracle`.
    pub fn parse(name: &str, cycles: u32) -> Result<Self, InputError> {
        match name {
            "prior" => Ok(Self::Prior),
            "oracle" => Ok(Self::Oracle),
            "characterised" | "characterized" => {
                if cycles < 2 {
                    return Err(InputError::new(
                        "--characterise-cycles",
                        cycles.to_string(),
                        "a sigma estimate needs at least 2 cycles; allowed: >= 2",
                    ));
                }
                Ok(Self::Characterised { cycles })
            }
            _ => Err(InputError::new(
                "--knowledge",
                name,
                "unknown device knowledge; valid: prior, characterised, oracle",
            )),
        }
    }

    /// The name used in tables and CSV (`oracle` is labelled an upper bound where it is shown).
    pub fn name(self) -> &'static str {
        match self {
            Self::Prior => "prior",
            Self::Characterised { .. } => "characterised",
            Self::Oracle => "oracle",
        }
    }

    /// Whether the device information depends on the chip (so a selection is made per chip).
    pub fn per_chip(self, variation: &VariationConfig) -> bool {
        match self {
            Self::Prior => false,
            Self::Characterised { .. } => true,
            Self::Oracle => sigmas_depend_on_seed(variation),
        }
    }
}

impl fmt::Display for Knowledge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Characterised { cycles } => write!(f, "characterised (K = {cycles})"),
            Self::Oracle => f.write_str("oracle (upper bound)"),
            Self::Prior => f.write_str("prior"),
        }
    }
}

/// Per programmable tensor (the mapping's layer order, which is the network's), each weight's device
/// information on `hw` as `knowledge` sees it on the chip of seed `chip_seed`: the variance write-verify
/// removes, `sum_i s_i^2 (sigma_i^2 - sigma_wv^2)` over its devices (normalised per layer so that a weight
/// of max|W| is 1), its band multiplier, and its expected write-verify time ([`VerifyCost::device_ns`]
/// summed over its devices, at least [`MIN_VERIFY_NS`]). `chip_seed` must be the programmer's seed (see
/// the module docs); `prior` ignores it.
pub fn device_info(
    mapped: &Mapped,
    hw: &HwConfig,
    chip_seed: u64,
    knowledge: Knowledge,
) -> Vec<WeightDeviceInfo> {
    weights_from(mapped, hw, &KnownChip::new(hw, chip_seed, knowledge))
}

/// How a device's true sigma becomes what the analyzer knows of it.
#[derive(Debug, Clone)]
enum Known {
    /// The sigma itself.
    Exact,
    /// The sigma times a constant (the prior's root mean square multiplier).
    Scaled(f32),
    /// The sigma times sqrt(chi^2_K / K), drawn per device.
    Sampled(ChiSquared<f64>, f64),
}

/// A chip's devices as one level of knowledge sees them: the variation map (the prior's, without its
/// draws, or the chip's own), the seed of its draws and what the analyzer knows of each sigma.
#[derive(Debug, Clone)]
pub struct KnownChip {
    map: VariationMap,
    seed: u64,
    known: Known,
}

impl KnownChip {
    /// The chip of `chip_seed` on `hw` as `knowledge` sees it (`prior` ignores the seed).
    pub fn new(hw: &HwConfig, chip_seed: u64, knowledge: Knowledge) -> Self {
        let (variation, seed, known) = match knowledge {
            Knowledge::Oracle => (hw.device.variation.clone(), chip_seed, Known::Exact),
            Knowledge::Prior => {
                let (variation, rms) = prior_variation(&hw.device.variation);
                (variation, 0, Known::Scaled(rms as f32))
            }
            Knowledge::Characterised { cycles } => {
                let chi2 = ChiSquared::new(f64::from(cycles)).expect("cycles >= 2");
                (
                    hw.device.variation.clone(),
                    chip_seed,
                    Known::Sampled(chi2, f64::from(cycles)),
                )
            }
        };
        Self {
            map: VariationMap::new(&variation, &hw.device, &hw.array),
            seed,
            known,
        }
    }

    /// The seed of the chip's draws (0 for `prior`).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The variation map the analyzer sees.
    pub fn map(&self) -> &VariationMap {
        &self.map
    }

    /// Every device of `array` in device order: its variation, and the sigma the analyzer knows (the
    /// stream `(seed, Characterise, array)` consumed in device order).
    pub fn array(&self, mapped: &Mapped, array: u32) -> Vec<(DeviceVariation, f32)> {
        let mut rng = rng::stream(self.seed, Purpose::Characterise, u64::from(array));
        array_variation(mapped, &self.map, self.seed, array)
            .into_iter()
            .map(|d| {
                let known = match &self.known {
                    Known::Exact => d.sigma,
                    Known::Scaled(rms) => d.sigma * rms,
                    Known::Sampled(chi2, k) => {
                        let ratio: f64 = rng.sample(chi2);
                        d.sigma * (ratio / k).sqrt() as f32
                    }
                };
                (d, known)
            })
            .collect()
    }
}

/// The prior of a variation: the configuration with every drawing map removed (the `spatial` array
/// factor switched off), and the root mean square of the removed multipliers' product.
pub fn prior_variation(variation: &VariationConfig) -> (VariationConfig, f64) {
    let mut mean_square = 1.0;
    let mut maps = Vec::new();
    for m in &variation.maps {
        match *m {
            VariationMapConfig::Lognormal { sigma_log } => mean_square *= (sigma_log * sigma_log).exp(),
            VariationMapConfig::Outliers { fraction, multiplier } => {
                mean_square *= 1.0 - fraction + fraction * multiplier * multiplier
            }
            VariationMapConfig::Spatial {
                row_gradient,
                col_gradient,
                array_sigma_log,
            } => {
                mean_square *= (array_sigma_log * array_sigma_log).exp();
                maps.push(VariationMapConfig::Spatial {
                    row_gradient,
                    col_gradient,
                    array_sigma_log: 0.0,
                });
            }
            _ => maps.push(m.clone()),
        }
    }
    (
        VariationConfig {
            maps,
            ..variation.clone()
        },
        mean_square.sqrt(),
    )
}

/// Every weight's device information from the devices of `chip` (see [`device_info`]).
fn weights_from(mapped: &Mapped, hw: &HwConfig, chip: &KnownChip) -> Vec<WeightDeviceInfo> {
    let cost = VerifyCost::new(hw, chip.seed);
    mapped
        .layers()
        .par_iter()
        .map(|layer| {
            let n = layer.weights();
            let mut open = vec![0f32; n];
            let mut verified = vec![0f32; n];
            let mut verify_ns = vec![0f32; n];
            let mut band = vec![1f32; n];
            for a in layer.arrays.clone() {
                for (d, sigma) in chip.array(mapped, a) {
                    let w = d.weight as usize;
                    let s2 = d.significance * d.significance;
                    open[w] += s2 * sigma * sigma;
                    verified[w] += s2 * d.sigma_wv * d.sigma_wv;
                    verify_ns[w] += cost.device_ns(sigma, d.level) as f32;
                    band[w] = chip.map.band_multiplier(d.weight_norm) as f32;
                }
            }
            WeightDeviceInfo {
                variance_reduction: open
                    .iter()
                    .zip(&verified)
                    .map(|(o, v)| (o - v).max(0.0))
                    .collect(),
                band_multiplier: band,
                expected_verify_ns: verify_ns.iter().map(|t| t.max(MIN_VERIFY_NS)).collect(),
            }
        })
        .collect()
}

/// Whether the device sigmas of `variation` depend on the seed (a map draws per device or per array).
/// When they do not, the `oracle` device information is the same for every seed and a selection can be
/// reused across Monte-Carlo runs.
pub fn sigmas_depend_on_seed(variation: &VariationConfig) -> bool {
    variation.maps.iter().any(|m| match m {
        VariationMapConfig::Uniform {}
        | VariationMapConfig::Band { .. }
        | VariationMapConfig::LevelPoly { .. } => false,
        VariationMapConfig::Spatial { array_sigma_log, .. } => *array_sigma_log > 0.0,
        VariationMapConfig::Lognormal { sigma_log } => *sigma_log > 0.0,
        VariationMapConfig::Outliers { fraction, multiplier } => *fraction > 0.0 && *multiplier != 1.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::map::LayerWeights;

    fn layers() -> Vec<LayerWeights> {
        vec![LayerWeights {
            name: "fc.weight".into(),
            shape: vec![6, 20],
            values: (0..120).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.05).collect(),
        }]
    }

    #[test]
    fn uniform_variation_gives_sigma_squared_minus_sigma_wv_squared_times_the_significances() {
        let hw = config::load("paper_statistical", &[]).unwrap();
        let m = Mapped::new(&layers(), &hw).unwrap();
        let spec = m.spec();
        // Paper mapping, 8 one-bit slices: one device per slice, significance 2^-k-ish as the spec says.
        let s2: f64 = (0..spec.slices).map(|k| spec.significance(k).powi(2)).sum();
        let want = s2 * (0.3f64 * 0.3 - 0.03 * 0.03);
        for knowledge in [Knowledge::Prior, Knowledge::Oracle] {
            let info = device_info(&m, &hw, 3, knowledge);
            assert_eq!(info.len(), 1);
            for &v in &info[0].variance_reduction {
                assert!((f64::from(v) - want).abs() < 1e-5 * want, "{v} vs {want}");
            }
            assert!(info[0].band_multiplier.iter().all(|&b| b == 1.0));
            assert!(info[0].expected_verify_ns.iter().all(|&t| t > 1.0));
        }
    }

    #[test]
    fn only_drawing_maps_make_the_sigmas_seed_dependent_and_the_prior_is_their_mean_square() {
        let mut hw = config::load("paper_statistical", &[]).unwrap();
        assert!(!sigmas_depend_on_seed(&hw.device.variation));
        let m = Mapped::new(&layers(), &hw).unwrap();
        assert_eq!(
            device_info(&m, &hw, 1, Knowledge::Oracle),
            device_info(&m, &hw, 2, Knowledge::Oracle)
        );
        let uniform = device_info(&m, &hw, 1, Knowledge::Prior);
        hw.device.variation.maps = vec![VariationMapConfig::Lognormal { sigma_log: 0.9 }];
        assert!(sigmas_depend_on_seed(&hw.device.variation));
        assert_ne!(
            device_info(&m, &hw, 1, Knowledge::Oracle),
            device_info(&m, &hw, 2, Knowledge::Oracle)
        );
        // The prior sees every device at the root mean square sigma: sigma^2 e^(0.81), for every chip.
        let prior = device_info(&m, &hw, 1, Knowledge::Prior);
        assert_eq!(prior, device_info(&m, &hw, 2, Knowledge::Prior));
        let (s, wv) = (0.3f64, 0.03f64);
        let ratio = (s * s * 0.81f64.exp() - wv * wv) / (s * s - wv * wv);
        for (p, u) in prior[0]
            .variance_reduction
            .iter()
            .zip(&uniform[0].variance_reduction)
        {
            assert!((f64::from(*p) / f64::from(*u) - ratio).abs() < 1e-4, "{p} {u}");
        }
    }

    #[test]
    fn characterised_sigmas_scatter_around_the_true_ones_by_the_chi_square_law() {
        let mut hw = config::load("paper_statistical", &[]).unwrap();
        hw.device.variation.maps = vec![VariationMapConfig::Lognormal { sigma_log: 0.9 }];
        let m = Mapped::new(&layers(), &hw).unwrap();
        let truth = device_info(&m, &hw, 5, Knowledge::Oracle);
        let mut spreads = Vec::new();
        for k in [4u32, 64] {
            let est = device_info(&m, &hw, 5, Knowledge::Characterised { cycles: k });
            assert_eq!(
                est,
                device_info(&m, &hw, 5, Knowledge::Characterised { cycles: k })
            );
            // Ratio of estimated to true variance reduction: a sample variance is unbiased (mean 1), and
            // its relative spread is at most that of one chi^2_K / K, sqrt(2 / K).
            let ratios: Vec<f64> = est[0]
                .variance_reduction
                .iter()
                .zip(&truth[0].variance_reduction)
                .map(|(e, t)| f64::from(*e) / f64::from(*t))
                .collect();
            let n = ratios.len() as f64;
            let mean = ratios.iter().sum::<f64>() / n;
            let sd = (ratios.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / n).sqrt();
            let bound = (2.0 / f64::from(k)).sqrt();
            assert!(
                (mean - 1.0).abs() < 3.0 * bound / n.sqrt(),
                "K {k}: mean ratio {mean}"
            );
            assert!(sd > 0.0 && sd < 1.2 * bound, "K {k}: sd {sd} vs {bound}");
            spreads.push(sd);
        }
        assert!(spreads[1] < 0.5 * spreads[0], "{spreads:?}");
        assert!(Knowledge::parse("characterised", 1).is_err());
        assert!(Knowledge::parse("psychic", 8).is_err());
        assert_eq!(Knowledge::parse("oracle", 8).unwrap(), Knowledge::Oracle);
        assert!(!Knowledge::Prior.per_chip(&hw.device.variation));
        assert!(Knowledge::Oracle.per_chip(&hw.device.variation));
    }
}
