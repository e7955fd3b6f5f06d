//! What the sensitivity analyzer needs per weight: its devices' significance and variation, and an
//! expected write-verify cost (DESIGN.md section 7).
//!
//! The `uswim` score of a weight is 0.5 H sum_i s_i^2 (sigma_i^2 - sigma_wv_i^2) over its devices, with s_i
//! the device's significance ([`crate::map::SliceSpec::significance`]: how far w / max|W| moves when G
//! moves by the range R), sigma_i its open-loop sigma from the variation map (exactly what the programmer
//! gives the device, from the same (seed, array) stream and site order) and sigma_wv_i the after-verify
//! sigma (`device.variation.sigma_wv`). The variance write-verify removes is
//! `open_loop_var - verified_var` of [`WeightVariation`]. For the pulse-level device, sigma_i is the scale
//! of its spreads rather than the std of its open-loop error (see `device`).

use super::layout::{Mapped, MappedDevice};
use crate::variation::{DeviceSite, VariationMap};
use rayon::prelude::*;

/// One device's variation, as its weight's score sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceVariation {
    /// Layer index.
    pub layer: u32,
    /// Flat index of its weight in the layer.
    pub weight: u32,
    /// Its level.
    pub level: u16,
    /// Its weight's normalised magnitude |q| / q_max.
    pub weight_norm: f32,
    /// Significance: d(w / max|W|) / d(G / R).
    pub significance: f32,
    /// Open-loop sigma, fraction of the range.
    pub sigma: f32,
    /// After-verify sigma, fraction of the range.
    pub sigma_wv: f32,
}

/// One weight's variation summed over its devices.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WeightVariation {
    /// sum s_i^2 sigma_i^2: variance of w / max|W| after open-loop programming.
    pub open_loop_var: f32,
    /// sum s_i^2 sigma_wv_i^2: variance of w / max|W| after write-verify.
    pub verified_var: f32,
    /// Expected write-verify cost of the weight: the sum of its devices' costs, in ns.
    pub verify_ns: f32,
    /// The `band` maps' multiplier of the weight (1 without such a map), for the `uswim-paper` score.
    pub band_multiplier: f32,
}

/// The open-loop sigma of each of `devices` (those of `array`, in device order, as
/// [`Mapped::array_devices`] gives them), drawn from the (seed, array) variation stream. The programmer
/// and [`array_variation`] both call this, so the analyzer sees exactly the sigmas the devices get.
pub fn device_sigmas(variation: &VariationMap, seed: u64, array: u32, devices: &[MappedDevice]) -> Vec<f32> {
    let sites = devices.iter().map(|d| DeviceSite {
        array,
        row: d.row,
        col: d.col,
        target_us: d.target_us,
        weight_norm: d.weight_norm,
    });
    variation.sigmas_of(seed, array, sites)
}

/// The variation of every device of `array`, in device order (the order of the programmer and of
/// [`Mapped::for_each_device`]).
pub fn array_variation(
    mapped: &Mapped,
    variation: &VariationMap,
    seed: u64,
    array: u32,
) -> Vec<DeviceVariation> {
    let mut devices = Vec::new();
    mapped.array_devices(array, &mut devices);
    let sigmas = device_sigmas(variation, seed, array, &devices);
    let spec = mapped.spec();
    let sigma_wv = variation.sigma_wv() as f32;
    devices
        .iter()
        .zip(sigmas)
        .map(|(d, sigma)| DeviceVariation {
            layer: d.layer,
            weight: d.weight,
            level: d.level,
            weight_norm: d.weight_norm,
            significance: spec.significance(u32::from(d.slice)) as f32,
            sigma,
            sigma_wv,
        })
        .collect()
}

/// Every weight's variation, per layer in PyTorch layout; `device_cost_ns` gives each device's expected
/// write-verify cost (for example `sim::VerifyCost::device_ns`).
pub fn weight_variation(
    mapped: &Mapped,
    variation: &VariationMap,
    seed: u64,
    device_cost_ns: impl Fn(&DeviceVariation) -> f64 + Sync,
) -> Vec<Vec<WeightVariation>> {
    mapped
        .layers()
        .par_iter()
        .map(|layer| {
            let mut out = vec![WeightVariation::default(); layer.weights()];
            for a in layer.arrays.clone() {
                for d in array_variation(mapped, variation, seed, a) {
                    let w = &mut out[d.weight as usize];
                    let s2 = d.significance * d.significance;
                    w.open_loop_var += s2 * d.sigma * d.sigma;
                    w.verified_var += s2 * d.sigma_wv * d.sigma_wv;
                    w.verify_ns += device_cost_ns(&d) as f32;
                    w.band_multiplier = variation.band_multiplier(d.weight_norm) as f32;
                }
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, VariationMapConfig};
    use crate::map::LayerWeights;

    #[test]
    fn uniform_variation_gives_each_weight_sigma_squared_times_its_significances_squared() {
        let hw = config::load("rram_1t1r_256", &[]).unwrap();
        let layers = [LayerWeights {
            name: "fc".into(),
            shape: vec![4, 5],
            values: (0..20).map(|i| i as f32 - 9.5).collect(),
        }];
        let m = Mapped::new(&layers, &hw).unwrap();
        let v = VariationMap::new(&hw.device.variation, &hw.device, &hw.array);
        let w = weight_variation(&m, &v, 1, |_| 2.0);
        // 4 slices x 2 devices of significance 3 x 4^k / 255: sum of squares = 2 x 9 x (1 + 16 + 256 + 4096) / 255^2.
        let s2: f64 = 2.0 * 9.0 * (1.0 + 16.0 + 256.0 + 4096.0) / (255.0f64 * 255.0);
        for x in &w[0] {
            assert!((f64::from(x.open_loop_var) - s2 * 0.01).abs() < 1e-6 * s2);
            assert!((f64::from(x.verified_var) - s2 * 1e-4).abs() < 1e-6 * s2);
            assert_eq!((x.verify_ns, x.band_multiplier), (16.0, 1.0));
        }
    }

    #[test]
    fn sigmas_are_those_the_variation_map_gives_the_array_in_device_order() {
        let mut hw = config::load("rram_1t1r_256", &[]).unwrap();
        hw.device.variation.maps = vec![VariationMapConfig::Lognormal { sigma_log: 0.5 }];
        let layers = [LayerWeights {
            name: "fc".into(),
            shape: vec![40, 30],
            values: (0..1200).map(|i| (i % 17) as f32 - 8.0).collect(),
        }];
        let m = Mapped::new(&layers, &hw).unwrap();
        let v = VariationMap::new(&hw.device.variation, &hw.device, &hw.array);
        let devices = array_variation(&m, &v, 9, 1);
        let mut sites = Vec::new();
        m.for_each_device(1, |d| {
            sites.push(DeviceSite {
                array: 1,
                row: d.row,
                col: d.col,
                target_us: d.target_us,
                weight_norm: d.weight_norm,
            })
        });
        let direct = v.sigmas(9, 1, &sites);
        assert_eq!(devices.iter().map(|d| d.sigma).collect::<Vec<_>>(), direct);
        assert!(direct.iter().any(|&s| s != direct[0]));
    }
}
