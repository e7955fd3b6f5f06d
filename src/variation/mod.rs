//! Variation maps: each device's open-loop sigma.
//!
//! A device's sigma is a fraction of the conductance range R = g_max - g_min. It starts from the base
//! `device.variation.sigma` (or, with a `level_poly` map, from that polynomial of the device's target) and is
//! multiplied by the multiplier of every other map in `device.variation.maps`:
//!
//! sigma_i = base_i * prod_m multiplier_m(i).
//!
//! What sigma_i means depends on the device model (see `device`):
//! - **statistical** device: the std of its open-loop write error, G - G* ~ N(0, (R sigma_i)^2);
//! - **pulse-level** device: a scale m_i = sigma_i / variation.sigma (m_i = 1 when variation.sigma = 0) on
//!   its device-to-device spreads (eta, Vth) and its cycle-to-cycle spread; its open-loop error then follows
//!   from the pulse physics rather than being sigma_i itself.
//!
//! Contract: [`VariationMap::sigmas`] is deterministic in (seed, array) and the sites in the given order
//! (one stream `rng::stream(seed, Purpose::Variation, array)`: first the per-array draws of the maps in
//! order, then, device by device, each map's per-device draw in order). Every map draws on every device even
//! when its parameter makes the draw irrelevant, so that changing one map's parameter in a sweep keeps the
//! other maps' draws (common random numbers).
//!
//! Dispatch is a `match` on a closed enum, not `Box<dyn>`: it runs once per device per map.

mod band;
mod level_poly;
mod lognormal;
mod outliers;
mod spatial;

pub use band::Band;
pub use level_poly::LevelPoly;
pub use lognormal::Lognormal;
pub use outliers::Outliers;
pub use spatial::Spatial;

use crate::config::{ArrayConfig, DeviceConfig, VariationConfig, VariationMapConfig};
use crate::rng::{self, Purpose, Stream};

/// Where a device sits and what it stores: everything a variation map may depend on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceSite {
    /// Array index on the chip.
    pub array: u32,
    /// Row (word line) in the array.
    pub row: u32,
    /// Column (bit line) in the array.
    pub col: u32,
    /// Target conductance G*, in uS.
    pub target_us: f32,
    /// |w| / max|W| of the weight this device helps store (its layer's max), in [0, 1].
    pub weight_norm: f32,
}

/// One map of the composition, built from its config.
#[derive(Debug, Clone, PartialEq)]
enum Map {
    /// Multiplier 1 everywhere (the base sigma unchanged).
    Uniform,
    Band(Band),
    LevelPoly(LevelPoly),
    Spatial(Spatial),
    Lognormal(Lognormal),
    Outliers(Outliers),
}

/// The composed variation of a device population, built from a checked `[device.variation]`.
#[derive(Debug, Clone, PartialEq)]
pub struct VariationMap {
    base_sigma: f64,
    sigma_wv: f64,
    maps: Vec<Map>,
}

impl VariationMap {
    /// The variation of `variation` on devices of window `device` in arrays of geometry `array`.
    pub fn new(variation: &VariationConfig, device: &DeviceConfig, array: &ArrayConfig) -> Self {
        let maps = variation
            .maps
            .iter()
            .map(|m| match m {
                VariationMapConfig::Uniform {} => Map::Uniform,
                VariationMapConfig::Band {
                    multiplier,
                    low,
                    high,
                } => Map::Band(Band::new(*multiplier, *low, *high)),
                VariationMapConfig::LevelPoly { coefficients_us } => Map::LevelPoly(LevelPoly::new(
                    coefficients_us,
                    device.g_max_us,
                    device.range_us(),
                )),
                VariationMapConfig::Spatial {
                    row_gradient,
                    col_gradient,
                    array_sigma_log,
                } => Map::Spatial(Spatial::new(
                    *row_gradient,
                    *col_gradient,
                    *array_sigma_log,
                    array.rows,
                    array.cols,
                )),
                VariationMapConfig::Lognormal { sigma_log } => Map::Lognormal(Lognormal::new(*sigma_log)),
                VariationMapConfig::Outliers { fraction, multiplier } => {
                    Map::Outliers(Outliers::new(*fraction, *multiplier))
                }
            })
            .collect();
        Self {
            base_sigma: variation.sigma,
            sigma_wv: variation.sigma_wv,
            maps,
        }
    }

    /// Each device's sigma (fraction of the range), for the devices `sites` of array `array`, in order.
    pub fn sigmas(&self, seed: u64, array: u32, sites: &[DeviceSite]) -> Vec<f32> {
        self.sigmas_of(seed, array, sites.iter().copied())
    }

    /// The sigma every device gets when all maps are `uniform` (none draws, none looks at the site): the
    /// base sigma. `None` when some map varies it.
    pub fn uniform_sigma(&self) -> Option<f64> {
        self.maps
            .iter()
            .all(|m| matches!(m, Map::Uniform))
            .then_some(self.base_sigma)
    }

    /// [`VariationMap::sigmas`] of sites produced on the fly (no site list is built).
    pub fn sigmas_of(
        &self,
        seed: u64,
        array: u32,
        sites: impl ExactSizeIterator<Item = DeviceSite>,
    ) -> Vec<f32> {
        if let Some(sigma) = self.uniform_sigma() {
            return vec![sigma as f32; sites.len()];
        }
        let mut rng = rng::stream(seed, Purpose::Variation, u64::from(array));
        let array_factors: Vec<f64> = self
            .maps
            .iter()
            .map(|m| match m {
                Map::Spatial(s) => s.array_factor(&mut rng),
                _ => 1.0,
            })
            .collect();
        sites
            .map(|site| self.sigma_one(&site, &array_factors, &mut rng) as f32)
            .collect()
    }

    fn sigma_one(&self, site: &DeviceSite, array_factors: &[f64], rng: &mut Stream) -> f64 {
        let mut base = self.base_sigma;
        let mut multiplier = 1.0;
        for (map, &array_factor) in self.maps.iter().zip(array_factors) {
            match map {
                Map::Uniform => {}
                Map::Band(b) => multiplier *= b.multiplier(site.weight_norm),
                Map::LevelPoly(p) => base = p.sigma(site.target_us),
                Map::Spatial(s) => multiplier *= array_factor * s.position_multiplier(site.row, site.col),
                Map::Lognormal(l) => multiplier *= l.multiplier(rng),
                Map::Outliers(o) => multiplier *= o.multiplier(rng),
            }
        }
        base * multiplier
    }

    /// The base sigma `device.variation.sigma` (fraction of the range).
    pub fn base_sigma(&self) -> f64 {
        self.base_sigma
    }

    /// The std of a write-verified device's final error (the papers' sigma after verify), fraction of range.
    pub fn sigma_wv(&self) -> f64 {
        self.sigma_wv
    }

    /// The product of the `band` maps' multipliers (normalisation included) for a weight of normalised
    /// magnitude `weight_norm`; 1 without a `band` map. The `uswim-paper` score uses it.
    pub fn band_multiplier(&self, weight_norm: f32) -> f64 {
        self.maps
            .iter()
            .map(|m| match m {
                Map::Band(b) => b.multiplier(weight_norm),
                _ => 1.0,
            })
            .product()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn sites(n: u32) -> Vec<DeviceSite> {
        (0..n)
            .map(|i| DeviceSite {
                array: 0,
                row: i / 16,
                col: i % 16,
                target_us: 10.0,
                weight_norm: 0.5,
            })
            .collect()
    }

    #[test]
    fn same_seed_same_sigmas_other_seed_or_array_other_sigmas() {
        let mut hw = config::load("rram_1t1r_256", &[]).unwrap();
        hw.device.variation.maps = vec![VariationMapConfig::Lognormal { sigma_log: 0.3 }];
        let map = VariationMap::new(&hw.device.variation, &hw.device, &hw.array);
        let s = sites(64);
        let a = map.sigmas(1, 0, &s);
        assert_eq!(a, map.sigmas(1, 0, &s));
        assert_ne!(a, map.sigmas(2, 0, &s));
        assert_ne!(a, map.sigmas(1, 1, &s));
    }

    #[test]
    fn uniform_keeps_the_base_sigma() {
        let hw = config::load("rram_1t1r_256", &[]).unwrap();
        let map = VariationMap::new(&hw.device.variation, &hw.device, &hw.array);
        assert!(map.sigmas(3, 0, &sites(10)).iter().all(|&s| s == 0.1));
        assert_eq!(map.band_multiplier(0.5), 1.0);
    }
}
