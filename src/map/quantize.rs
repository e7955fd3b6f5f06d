//! Per-layer quantisation and bit slicing (DESIGN.md section 4).
//!
//! A layer's weights are quantised to `weight_bits` over its max|W|: the magnitude of weight w is
//! q = round(|w| / scale) with scale = max|W| / (2^weight_bits - 1), so the largest weight gets the top code.
//! q is split into ceil(weight_bits / bits_per_cell) slices of `bits_per_cell` bits, most significant
//! first; slice k carries 2^(bits_per_cell * (slices - 1 - k)) least-significant units of the weight.

use crate::config::{DeviceConfig, MappingConfig, SignedMapping};

/// How one weight becomes device levels: its bit width, the slices and the signed mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceSpec {
    /// Bits of a weight magnitude.
    pub weight_bits: u32,
    /// Bits stored per device.
    pub bits_per_cell: u32,
    /// Slices per weight magnitude, ceil(weight_bits / bits_per_cell).
    pub slices: u32,
    /// Whether the mapping is differential (a G+ and a G- device per slice).
    pub differential: bool,
}

impl SliceSpec {
    /// The slicing of a (validated) configuration.
    pub fn new(mapping: &MappingConfig, device: &DeviceConfig) -> Self {
        Self {
            weight_bits: mapping.weight_bits,
            bits_per_cell: device.bits_per_cell,
            slices: mapping.weight_bits.div_ceil(device.bits_per_cell),
            differential: mapping.signed == SignedMapping::Differential,
        }
    }

    /// The largest magnitude code, 2^weight_bits - 1.
    pub fn q_max(&self) -> u32 {
        (1u32 << self.weight_bits) - 1
    }

    /// Levels per device, 2^bits_per_cell.
    pub fn levels(&self) -> u32 {
        1 << self.bits_per_cell
    }

    /// Devices per slice: 2 (G+, G-) for differential, 1 for paper.
    pub fn polarities(&self) -> u32 {
        if self.differential { 2 } else { 1 }
    }

    /// Devices per weight: slices x polarities.
    pub fn devices_per_weight(&self) -> u32 {
        self.slices * self.polarities()
    }

    /// Least-significant units carried by one level of slice `slice` (0 = most significant).
    pub fn slice_weight(&self, slice: u32) -> u32 {
        1 << (self.bits_per_cell * (self.slices - 1 - slice))
    }

    /// The level of slice `slice` of magnitude code `magnitude`.
    #[inline]
    pub fn slice_level(&self, magnitude: u32, slice: u32) -> u32 {
        (magnitude >> (self.bits_per_cell * (self.slices - 1 - slice))) & (self.levels() - 1)
    }

    /// The significance of a device of slice `slice`: how much the weight moves, as a fraction of the
    /// layer's max|W|, when the device's conductance moves by the whole range R:
    /// d(w / max|W|) / d(G / R) = slice_weight * (levels - 1) / q_max. Its square weighs the device's
    /// variance in the U-SWIM score. (The authors' 2^(-k * bits_per_cell) up to a common factor.)
    pub fn significance(&self, slice: u32) -> f64 {
        f64::from(self.slice_weight(slice)) * f64::from(self.levels() - 1) / f64::from(self.q_max())
    }
}

/// A layer's weights after quantisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantized {
    /// max|W| of the layer.
    pub max_abs: f32,
    /// Weight per least-significant unit, max|W| / q_max (0 for an all-zero layer).
    pub scale: f64,
    /// Signed magnitude codes, in the layer's flat (PyTorch) order.
    pub codes: Vec<i32>,
}

/// Quantises `values` (finite) to codes in -q_max..=q_max over their max|W|.
pub fn quantize(values: &[f32], q_max: u32) -> Quantized {
    let max_abs = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let scale = f64::from(max_abs) / f64::from(q_max);
    let codes = if scale > 0.0 {
        let inv = 1.0 / scale;
        values
            .iter()
            .map(|&v| {
                let m = (f64::from(v.abs()) * inv).round().min(f64::from(q_max)) as i32;
                if v < 0.0 { -m } else { m }
            })
            .collect()
    } else {
        vec![0; values.len()]
    };
    Quantized {
        max_abs,
        scale,
        codes,
    }
}

/// The weight value of a code: code x scale, rounded once to f32.
#[inline]
pub fn dequantize(code: i32, scale: f64) -> f32 {
    (f64::from(code) * scale) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(weight_bits: u32, bits_per_cell: u32, differential: bool) -> SliceSpec {
        SliceSpec {
            weight_bits,
            bits_per_cell,
            slices: weight_bits.div_ceil(bits_per_cell),
            differential,
        }
    }

    #[test]
    fn slices_recombine_to_the_magnitude_for_every_code() {
        for (wb, bpc) in [(8, 2), (8, 1), (5, 2), (7, 3), (4, 4), (16, 8)] {
            let s = spec(wb, bpc, true);
            for m in 0..=s.q_max() {
                let back: u32 = (0..s.slices)
                    .map(|k| s.slice_level(m, k) * s.slice_weight(k))
                    .sum();
                assert_eq!(back, m, "wb {wb} bpc {bpc}");
                assert!((0..s.slices).all(|k| s.slice_level(m, k) < s.levels()));
            }
        }
    }

    #[test]
    fn significance_of_the_top_slice_of_8_bit_weights_on_1_bit_cells_is_128_over_255() {
        let s = spec(8, 1, false);
        assert_eq!(s.devices_per_weight(), 8);
        assert!((s.significance(0) - 128.0 / 255.0).abs() < 1e-15);
        assert!((s.significance(7) - 1.0 / 255.0).abs() < 1e-15);
        let d = spec(8, 2, true);
        assert_eq!(d.devices_per_weight(), 8);
        // Full-range moves of every slice at full level add up to the whole weight range.
        let total: f64 = (0..d.slices).map(|k| d.significance(k)).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }

    #[test]
    fn quantisation_maps_the_largest_weight_to_the_top_code_and_keeps_signs() {
        let q = quantize(&[0.5, -1.0, 0.0, 0.25, -0.0039], 255);
        assert_eq!(q.max_abs, 1.0);
        assert_eq!(q.codes, vec![128, -255, 0, 64, -1]);
        assert_eq!(dequantize(-255, q.scale), -1.0);
        let z = quantize(&[0.0, 0.0], 255);
        assert_eq!((z.scale, z.codes), (0.0, vec![0, 0]));
    }
}
