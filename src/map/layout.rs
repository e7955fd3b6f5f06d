//! Tiling: a network's weight matrices on crossbar arrays, and every device's place and target.
//!
//! A layer's weights form a matrix with one row per input (in x kh x kw for a convolution, in for a
//! linear layer) and one column per output; weight (o, r) is element o x inputs + r of the PyTorch tensor.
//! Each weight occupies `devices_per_weight` adjacent columns of one array row: for output o of a tile,
//! columns o x D .. o x D + D, ordered slice-major (most significant first) then G+ before G-. A tile holds
//! up to `rows` inputs and floor(cols / D) outputs of one layer; arrays never mix layers. Arrays are
//! numbered layer by layer, row tiles outer, column tiles inner; devices within an array row-major.

use super::error::MapError;
use super::quantize::{Quantized, SliceSpec, dequantize, quantize};
use crate::config::{ArrayCount, HwConfig};
use crate::nn::Network;
use std::ops::Range;

/// One layer's weights as the mapping takes them, in PyTorch layout: a convolution `[out, in, kh, kw]`
/// or a linear layer `[out, in]`, values in row-major order of that shape.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerWeights {
    /// The layer (tensor) name, such as `conv1.weight`.
    pub name: String,
    /// The tensor shape.
    pub shape: Vec<usize>,
    /// The values, row-major over `shape`.
    pub values: Vec<f32>,
}

impl LayerWeights {
    /// The programmable tensors (conv and linear weights) of a network, in its parameter order.
    pub fn of_network(net: &Network) -> Vec<LayerWeights> {
        net.programmable()
            .into_iter()
            .map(|i| {
                let p = net.param(i);
                LayerWeights {
                    name: p.name.clone(),
                    shape: p.value.shape().to_vec(),
                    values: p.value.iter().copied().collect(),
                }
            })
            .collect()
    }
}

/// A layer after quantisation, with where its arrays are.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedLayer {
    /// The layer (tensor) name.
    pub name: String,
    /// The tensor shape (PyTorch layout).
    pub shape: Vec<usize>,
    /// Matrix rows: inputs per output (in x kh x kw).
    pub inputs: u32,
    /// Matrix columns: outputs.
    pub outputs: u32,
    /// The quantised weights.
    pub quantized: Quantized,
    /// The layer's arrays: a contiguous range of array ids.
    pub arrays: Range<u32>,
}

impl MappedLayer {
    /// Number of weights, inputs x outputs.
    pub fn weights(&self) -> usize {
        self.quantized.codes.len()
    }
}

/// One array's share of a layer: a block of inputs (array rows) by outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// The layer index.
    pub layer: u32,
    /// First input (matrix row) of the tile.
    pub input0: u32,
    /// Inputs in the tile (array rows used).
    pub rows: u32,
    /// First output of the tile.
    pub output0: u32,
    /// Outputs in the tile.
    pub outputs: u32,
}

/// One device: where it is, which weight and slice it stores, and its target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MappedDevice {
    /// Layer index.
    pub layer: u32,
    /// Flat index of its weight in the layer's tensor (o x inputs + r).
    pub weight: u32,
    /// Slice index, 0 = most significant.
    pub slice: u8,
    /// Whether it is the G- device of a differential pair.
    pub negative: bool,
    /// Level stored, 0..levels.
    pub level: u16,
    /// Row in its array.
    pub row: u32,
    /// Column in its array.
    pub col: u32,
    /// Target conductance, in uS.
    pub target_us: f32,
    /// Its weight's normalised magnitude |q| / q_max, in [0, 1] (what weight-dependent variation maps see).
    pub weight_norm: f32,
}

/// A network placed on crossbar arrays: the pure result of the mapping. Devices are not stored; they are
/// generated per array on demand ([`Mapped::for_each_device`]) so that a 90 M-device network costs only
/// its quantised weights in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    spec: SliceSpec,
    rows: u32,
    cols: u32,
    g_min_us: f64,
    step_us: f64,
    level_targets_us: Vec<f32>,
    layers: Vec<MappedLayer>,
    tiles: Vec<Tile>,
    device_offsets: Vec<u64>,
}

impl Mapped {
    /// Quantises, slices and tiles `layers` for the (validated) configuration `hw`.
    pub fn new(layers: &[LayerWeights], hw: &HwConfig) -> Result<Self, MapError> {
        if layers.is_empty() {
            return Err(MapError::Empty);
        }
        let spec = SliceSpec::new(&hw.mapping, &hw.device);
        let d = spec.devices_per_weight();
        let (rows, cols) = (hw.array.rows, hw.array.cols);
        if d > cols {
            return Err(MapError::WeightTooWide {
                devices_per_weight: d,
                cols,
                differential: spec.differential,
            });
        }
        let outputs_per_array = cols / d;
        let mut mapped_layers = Vec::with_capacity(layers.len());
        let mut tiles = Vec::new();
        for (li, layer) in layers.iter().enumerate() {
            let (inputs, outputs) = check_layer(layer)?;
            let first = tiles.len() as u32;
            for input0 in (0..inputs).step_by(rows as usize) {
                for output0 in (0..outputs).step_by(outputs_per_array as usize) {
                    tiles.push(Tile {
                        layer: li as u32,
                        input0,
                        rows: rows.min(inputs - input0),
                        output0,
                        outputs: outputs_per_array.min(outputs - output0),
                    });
                }
            }
            mapped_layers.push(MappedLayer {
                name: layer.name.clone(),
                shape: layer.shape.clone(),
                inputs,
                outputs,
                quantized: quantize(&layer.values, spec.q_max()),
                arrays: first..tiles.len() as u32,
            });
        }
        if let ArrayCount::Fixed(available) = hw.array.count
            && tiles.len() as u64 > u64::from(available)
        {
            return Err(MapError::TooManyArrays {
                needed: tiles.len() as u64,
                available,
                rows,
                cols,
            });
        }
        let mut device_offsets = Vec::with_capacity(tiles.len() + 1);
        let mut total = 0u64;
        device_offsets.push(0);
        for t in &tiles {
            total += u64::from(t.rows) * u64::from(t.outputs) * u64::from(d);
            device_offsets.push(total);
        }
        let levels = spec.levels();
        let step_us = hw.range_us() / f64::from(levels - 1);
        let level_targets_us = (0..levels)
            .map(|l| (hw.device.g_min_us + step_us * f64::from(l)) as f32)
            .collect();
        Ok(Self {
            spec,
            rows,
            cols,
            g_min_us: hw.device.g_min_us,
            step_us,
            level_targets_us,
            layers: mapped_layers,
            tiles,
            device_offsets,
        })
    }

    /// The slicing used.
    pub fn spec(&self) -> &SliceSpec {
        &self.spec
    }

    /// Array geometry (rows, cols).
    pub fn array_shape(&self) -> (u32, u32) {
        (self.rows, self.cols)
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[MappedLayer] {
        &self.layers
    }

    /// The tiles, one per array, indexed by array id.
    pub fn tiles(&self) -> &[Tile] {
        &self.tiles
    }

    /// Number of arrays used.
    pub fn num_arrays(&self) -> u32 {
        self.tiles.len() as u32
    }

    /// Number of devices in all arrays.
    pub fn num_devices(&self) -> u64 {
        *self.device_offsets.last().expect("offsets start with 0")
    }

    /// Number of weights in all layers.
    pub fn num_weights(&self) -> u64 {
        self.layers.iter().map(|l| l.weights() as u64).sum()
    }

    /// Devices of array `array`, as a range of global device indices (arrays in id order, devices
    /// row-major within each array): the layout of a conductance vector.
    pub fn device_range(&self, array: u32) -> Range<u64> {
        self.device_offsets[array as usize]..self.device_offsets[array as usize + 1]
    }

    /// The target conductance of `level`, in uS (g_min + level x R / (levels - 1), rounded once to f32).
    #[inline]
    pub fn target_us(&self, level: u32) -> f32 {
        self.level_targets_us[level as usize]
    }

    /// Conductance of one level step, R / (levels - 1), in uS.
    pub fn step_us(&self) -> f64 {
        self.step_us
    }

    /// The lowest conductance, in uS.
    pub fn g_min_us(&self) -> f64 {
        self.g_min_us
    }

    /// Calls `f` for every device of `array`, row-major (by row, then column).
    pub fn for_each_device(&self, array: u32, mut f: impl FnMut(MappedDevice)) {
        let tile = self.tiles[array as usize];
        let layer = &self.layers[tile.layer as usize];
        let spec = self.spec;
        let d = spec.devices_per_weight();
        let p = spec.polarities();
        let inv_q_max = 1.0 / spec.q_max() as f32;
        for r in 0..tile.rows {
            for o in 0..tile.outputs {
                let weight = (tile.output0 + o) * layer.inputs + tile.input0 + r;
                let code = layer.quantized.codes[weight as usize];
                let magnitude = code.unsigned_abs();
                let weight_norm = magnitude as f32 * inv_q_max;
                for k in 0..spec.slices {
                    let level = spec.slice_level(magnitude, k);
                    for pol in 0..p {
                        let negative = pol == 1;
                        // Differential: the device of the weight's sign holds the level, the other g_min.
                        let stored = if !spec.differential || negative == (code < 0) {
                            level
                        } else {
                            0
                        };
                        f(MappedDevice {
                            layer: tile.layer,
                            weight,
                            slice: k as u8,
                            negative,
                            level: stored as u16,
                            row: r,
                            col: o * d + k * p + pol,
                            target_us: self.level_targets_us[stored as usize],
                            weight_norm,
                        });
                    }
                }
            }
        }
    }

    /// The devices of `array`, row-major, appended to `out` after clearing it.
    pub fn array_devices(&self, array: u32, out: &mut Vec<MappedDevice>) {
        out.clear();
        let n = self.device_range(array);
        out.reserve((n.end - n.start) as usize);
        self.for_each_device(array, |d| out.push(d));
    }

    /// The quantised weights of every layer (code x scale), PyTorch layout: what ideal devices give back.
    pub fn quantized_weights(&self) -> Vec<Vec<f32>> {
        self.layers
            .iter()
            .map(|l| {
                l.quantized
                    .codes
                    .iter()
                    .map(|&c| dequantize(c, l.quantized.scale))
                    .collect()
            })
            .collect()
    }

    /// The target conductances of every device, in conductance-vector order (ideal programming).
    pub fn target_conductances(&self) -> Vec<f32> {
        let mut g = Vec::with_capacity(self.num_devices() as usize);
        for a in 0..self.num_arrays() {
            self.for_each_device(a, |d| g.push(d.target_us));
        }
        g
    }
}

/// Checks a layer's shape and values; returns its matrix size (inputs, outputs).
fn check_layer(layer: &LayerWeights) -> Result<(u32, u32), MapError> {
    let shape_error = || MapError::Shape {
        layer: layer.name.clone(),
        shape: layer.shape.clone(),
    };
    if !(layer.shape.len() == 2 || layer.shape.len() == 4) || layer.shape.contains(&0) {
        return Err(shape_error());
    }
    let expected = layer
        .shape
        .iter()
        .try_fold(1usize, |a, &s| a.checked_mul(s))
        .ok_or_else(shape_error)?;
    if expected != layer.values.len() {
        return Err(MapError::ValueCount {
            layer: layer.name.clone(),
            shape: layer.shape.clone(),
            expected,
            found: layer.values.len(),
        });
    }
    let max = u32::MAX as usize;
    if expected > max {
        return Err(MapError::LayerTooLarge {
            layer: layer.name.clone(),
            weights: expected,
            max,
        });
    }
    if let Some((index, &value)) = layer.values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(MapError::NonFinite {
            layer: layer.name.clone(),
            index,
            value,
        });
    }
    let outputs = layer.shape[0] as u32;
    Ok(((expected / layer.shape[0]) as u32, outputs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn hw(rows: u32, cols: u32) -> HwConfig {
        let mut hw = config::load("rram_1t1r_256", &[]).unwrap();
        hw.array.rows = rows;
        hw.array.cols = cols;
        hw.program.write_drivers_per_array = cols.min(hw.program.write_drivers_per_array);
        hw.adc.adcs_per_array = cols.min(hw.adc.adcs_per_array);
        hw
    }

    fn layer(name: &str, shape: &[usize]) -> LayerWeights {
        let n: usize = shape.iter().product();
        LayerWeights {
            name: name.into(),
            shape: shape.to_vec(),
            values: (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect(),
        }
    }

    #[test]
    fn a_convolution_tiles_by_inputs_and_outputs_and_every_device_is_placed_once() {
        // 8-bit weights, 2-bit cells, differential: 8 devices per weight; 64 columns hold 8 outputs.
        let hw = hw(16, 64);
        let m = Mapped::new(&[layer("c", &[20, 3, 3, 3])], &hw).unwrap();
        // 27 inputs over 16 rows: 2 row tiles; 20 outputs over 8 per array: 3 column tiles.
        assert_eq!(m.num_arrays(), 6);
        assert_eq!(m.num_devices(), 27 * 20 * 8);
        let t = m.tiles()[5];
        assert_eq!((t.input0, t.rows, t.output0, t.outputs), (16, 11, 16, 4));
        let mut seen = vec![0u8; 27 * 20 * 8];
        let mut devices = Vec::new();
        for a in 0..m.num_arrays() {
            m.array_devices(a, &mut devices);
            assert_eq!(
                devices.len() as u64,
                m.device_range(a).end - m.device_range(a).start
            );
            let mut last = None;
            for d in &devices {
                assert!(d.row < 16 && d.col < 64);
                assert!(last < Some((d.row, d.col)), "row-major order");
                last = Some((d.row, d.col));
                let slot = d.weight as usize * 8 + d.slice as usize * 2 + usize::from(d.negative);
                seen[slot] += 1;
                // The weight's input is the tile's first input plus the device row.
                assert_eq!(d.weight % 27, m.tiles()[a as usize].input0 + d.row);
            }
        }
        assert!(seen.iter().all(|&s| s == 1));
    }

    #[test]
    fn differential_pairs_put_the_level_on_the_sign_side_and_g_min_on_the_other() {
        let hw = hw(4, 8);
        let l = LayerWeights {
            name: "fc".into(),
            shape: vec![1, 2],
            values: vec![1.0, -0.5],
        };
        let m = Mapped::new(&[l], &hw).unwrap();
        let mut devices = Vec::new();
        m.array_devices(0, &mut devices);
        // Weight 0 = +255 = 0b11_11_11_11: G+ slices at level 3, G- at 0.
        let w0: Vec<(bool, u16)> = devices
            .iter()
            .filter(|d| d.weight == 0)
            .map(|d| (d.negative, d.level))
            .collect();
        assert_eq!(
            w0,
            vec![
                (false, 3),
                (true, 0),
                (false, 3),
                (true, 0),
                (false, 3),
                (true, 0),
                (false, 3),
                (true, 0)
            ]
        );
        // Weight 1 = -128 = -0b10_00_00_00: G- of the top slice at level 2.
        let w1: Vec<(bool, u16)> = devices
            .iter()
            .filter(|d| d.weight == 1 && d.level > 0)
            .map(|d| (d.negative, d.level))
            .collect();
        assert_eq!(w1, vec![(true, 2)]);
        assert_eq!(m.target_us(3), 50.0);
        assert_eq!(m.target_us(0), 2.0);
    }

    #[test]
    fn bad_layers_and_too_few_arrays_are_errors_naming_the_layer() {
        let hw = hw(16, 64);
        let mut l = layer("fc", &[4, 4]);
        l.values.pop();
        assert!(matches!(Mapped::new(&[l], &hw), Err(MapError::ValueCount { .. })));
        let mut l = layer("fc", &[4, 4]);
        l.values[3] = f32::NAN;
        let e = Mapped::new(&[l], &hw).unwrap_err();
        assert!(e.to_string().contains("`fc`: weight 3"), "{e}");
        assert!(matches!(
            Mapped::new(&[layer("b", &[4])], &hw),
            Err(MapError::Shape { .. })
        ));
        let mut small = hw.clone();
        small.array.count = ArrayCount::Fixed(2);
        let e = Mapped::new(&[layer("c", &[20, 3, 3, 3])], &small).unwrap_err();
        assert!(matches!(e, MapError::TooManyArrays { needed: 6, .. }), "{e}");
        let narrow = self::hw(16, 4);
        assert!(matches!(
            Mapped::new(&[layer("fc", &[2, 2])], &narrow),
            Err(MapError::WeightTooWide {
                devices_per_weight: 8,
                ..
            })
        ));
    }
}
