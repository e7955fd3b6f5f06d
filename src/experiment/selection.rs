//! The one code path from a hardware mapping to the sensitivity analyzer's device information: every
//! command and experiment that scores weights with device variation (`uswim analyze`, sweeps, `uswim
//! reproduce`) builds its [`WeightDeviceInfo`] here.
//!
//! **Seed contract.** The programmer draws device `i`'s open-loop sigma from the variation map's stream
//! `(seed, Variation, array)` with `seed = ProgramOptions::seed`; [`device_info`] asks
//! [`map::sigma::weight_variation`](crate::map::sigma::weight_variation) for the same draws with the seed it
//! is given. Pass the seed the chip will be programmed with and the analyzer sees exactly the sigmas the
//! programmer gives every device (tested in `tests/it/eval.rs`). Maps that draw nothing (`uniform`, `band`,
//! `level_poly`) give the same sigmas for every seed.

use crate::config::{HwConfig, VariationConfig, VariationMapConfig};
use crate::map::Mapped;
use crate::map::sigma::weight_variation;
use crate::sensitivity::WeightDeviceInfo;
use crate::sim::VerifyCost;
use crate::variation::VariationMap;

/// The smallest expected verify time given to a weight, in ns: the analyzer needs positive times, and a
/// configuration that does not verify (the `open_loop` scheme) costs nothing.
pub const MIN_VERIFY_NS: f32 = 1e-3;

/// Per programmable tensor (the mapping's layer order, which is the network's), each weight's device
/// information on `hw`: the variance write-verify removes, `sum_i s_i^2 (sigma_i^2 - sigma_wv^2)` over
/// its devices (normalised per layer so that a weight of max|W| is 1), its band multiplier, and its
/// expected write-verify time ([`VerifyCost::device_ns`] summed over its devices, at least
/// [`MIN_VERIFY_NS`]). `seed` must be the programmer's seed (see the module docs).
pub fn device_info(mapped: &Mapped, hw: &HwConfig, seed: u64) -> Vec<WeightDeviceInfo> {
    let variation = VariationMap::new(&hw.device.variation, &hw.device, &hw.array);
    let cost = VerifyCost::new(hw, seed);
    weight_variation(mapped, &variation, seed, |d| cost.device_ns(d.sigma, d.level))
        .into_iter()
        .map(|layer| WeightDeviceInfo {
            variance_reduction: layer
                .iter()
                .map(|w| (w.open_loop_var - w.verified_var).max(0.0))
                .collect(),
            band_multiplier: layer.iter().map(|w| w.band_multiplier).collect(),
            expected_verify_ns: layer.iter().map(|w| w.verify_ns.max(MIN_VERIFY_NS)).collect(),
        })
        .collect()
}

/// Whether the device sigmas of `variation` depend on the seed (a map draws per device or per array).
/// When they do not, [`device_info`] is the same for every seed and a selection can be reused across
/// Monte-Carlo runs.
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
        let info = device_info(&m, &hw, 3);
        assert_eq!(info.len(), 1);
        let spec = m.spec();
        // Paper mapping, 8 one-bit slices: one device per slice, significance 2^-k-ish as the spec says.
        let s2: f64 = (0..spec.slices).map(|k| spec.significance(k).powi(2)).sum();
        let want = s2 * (0.3f64 * 0.3 - 0.03 * 0.03);
        for &v in &info[0].variance_reduction {
            assert!((f64::from(v) - want).abs() < 1e-5 * want, "{v} vs {want}");
        }
        assert!(info[0].band_multiplier.iter().all(|&b| b == 1.0));
        assert!(info[0].expected_verify_ns.iter().all(|&t| t > 1.0));
    }

    #[test]
    fn only_drawing_maps_make_the_sigmas_seed_dependent() {
        let mut hw = config::load("paper_statistical", &[]).unwrap();
        assert!(!sigmas_depend_on_seed(&hw.device.variation));
        let m = Mapped::new(&layers(), &hw).unwrap();
        assert_eq!(device_info(&m, &hw, 1), device_info(&m, &hw, 2));
        hw.device.variation.maps = vec![VariationMapConfig::Lognormal { sigma_log: 0.9 }];
        assert!(sigmas_depend_on_seed(&hw.device.variation));
        assert_ne!(device_info(&m, &hw, 1), device_info(&m, &hw, 2));
    }
}
