//! Reading back: conductances to the weights a crossbar computes with (DESIGN.md section 4).
//!
//! The weight seen is the significance-weighted sum of each device's (G - g_min) / step, the G- side
//! subtracted (differential) or the stored sign applied (paper), times the layer scale. It is analog: a
//! device between levels contributes a fraction of a level, never rounded. A device whose conductance is
//! exactly its level's target (as an f32) contributes that whole level, so ideal devices read back the
//! quantised weights bit for bit.

use super::error::MapError;
use super::layout::Mapped;
use rayon::prelude::*;

/// The weights of every layer (PyTorch layout) from `conductances_us`, one per device in
/// conductance-vector order (see [`Mapped::device_range`]).
pub fn read_back(mapped: &Mapped, conductances_us: &[f32]) -> Result<Vec<Vec<f32>>, MapError> {
    if conductances_us.len() as u64 != mapped.num_devices() {
        return Err(MapError::ConductanceCount {
            expected: mapped.num_devices(),
            found: conductances_us.len(),
        });
    }
    let spec = *mapped.spec();
    let g_min = mapped.g_min_us();
    let inv_step = 1.0 / mapped.step_us();
    let top = f64::from(spec.levels() - 1);
    // The level a conductance represents: exact for a device on its target, analog otherwise.
    let level_of = |g: f32| -> f64 {
        let analog = (f64::from(g) - g_min) * inv_step;
        let nearest = analog.round().clamp(0.0, top);
        if mapped.target_us(nearest as u32) == g {
            nearest
        } else {
            analog
        }
    };
    let weights = mapped
        .layers()
        .par_iter()
        .map(|layer| {
            let mut acc = vec![0.0f64; layer.weights()];
            for a in layer.arrays.clone() {
                let range = mapped.device_range(a);
                let g = &conductances_us[range.start as usize..range.end as usize];
                let mut i = 0;
                mapped.for_each_device(a, |d| {
                    let units = f64::from(spec.slice_weight(u32::from(d.slice))) * level_of(g[i]);
                    i += 1;
                    let code = layer.quantized.codes[d.weight as usize];
                    let negative = if spec.differential { d.negative } else { code < 0 };
                    acc[d.weight as usize] += if negative { -units } else { units };
                });
            }
            let scale = layer.quantized.scale;
            acc.into_iter().map(|u| (u * scale) as f32).collect()
        })
        .collect();
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::map::LayerWeights;

    fn net() -> Vec<LayerWeights> {
        vec![
            LayerWeights {
                name: "conv".into(),
                shape: vec![5, 2, 3, 3],
                values: (0..90).map(|i| ((i * 53 % 97) as f32 - 48.0) * 0.013).collect(),
            },
            LayerWeights {
                name: "fc".into(),
                shape: vec![3, 7],
                values: (0..21).map(|i| (i as f32 - 10.0) * 0.1).collect(),
            },
        ]
    }

    #[test]
    fn ideal_devices_read_back_the_quantised_weights_bit_for_bit_in_both_signed_mappings() {
        for preset in [
            "rram_1t1r_256",
            "paper_statistical",
            "neurosim_v21_openloop",
            "pcm_256",
        ] {
            let hw = config::load(preset, &[]).unwrap();
            let m = Mapped::new(&net(), &hw).unwrap();
            let back = read_back(&m, &m.target_conductances()).unwrap();
            let want = m.quantized_weights();
            for (b, w) in back.iter().zip(&want) {
                for (x, y) in b.iter().zip(w) {
                    assert_eq!(x.to_bits(), y.to_bits(), "{preset}");
                }
            }
        }
    }

    #[test]
    fn a_device_half_a_level_off_moves_its_weight_by_half_its_significance_unrounded() {
        let hw = config::load("rram_1t1r_256", &[]).unwrap();
        let m = Mapped::new(&net(), &hw).unwrap();
        let mut g = m.target_conductances();
        // Device 0 of array 0 is the top-slice G+ device of weight (o = 0, r = 0) of `conv`.
        let mut first = None;
        m.for_each_device(0, |d| {
            first.get_or_insert(d);
        });
        let d = first.unwrap();
        assert_eq!((d.weight, d.slice, d.negative), (0, 0, false));
        g[0] += (0.5 * m.step_us()) as f32;
        let back = read_back(&m, &g).unwrap();
        let want = m.quantized_weights();
        let scale = m.layers()[0].quantized.scale;
        let moved = f64::from(back[0][0]) - f64::from(want[0][0]);
        assert!(
            (moved - 0.5 * 64.0 * scale).abs() < 1e-5 * scale * 64.0,
            "{moved}"
        );
        assert_eq!(&back[1], &want[1]);
    }

    #[test]
    fn a_wrong_number_of_conductances_is_an_error() {
        let hw = config::load("rram_1t1r_256", &[]).unwrap();
        let m = Mapped::new(&net(), &hw).unwrap();
        assert!(matches!(
            read_back(&m, &[1.0; 3]),
            Err(MapError::ConductanceCount { found: 3, .. })
        ));
    }
}
