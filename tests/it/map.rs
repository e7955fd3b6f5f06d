//! Mapping: tiling invariants and the exact inverse of reading back, over random shapes and slicings;
//! the analog read-back's slope per device; zoo networks convert into mapped layers.

use proptest::prelude::*;
use std::collections::HashMap;
use uswim::config::{self, HwConfig, SignedMapping};
use uswim::map::{LayerWeights, Mapped, read_back};

fn hw(rows: u32, cols: u32, weight_bits: u32, bits_per_cell: u32, differential: bool) -> HwConfig {
    let mut hw = config::load("rram_1t1r_256", &[]).unwrap();
    hw.array.rows = rows;
    hw.array.cols = cols;
    hw.mapping.weight_bits = weight_bits;
    hw.device.bits_per_cell = bits_per_cell;
    hw.mapping.signed = if differential {
        SignedMapping::Differential
    } else {
        SignedMapping::Paper
    };
    hw.program.tolerance = 0.5 / f64::from((1u32 << bits_per_cell) - 1);
    hw.program.write_drivers_per_array = cols.min(64);
    hw.adc.adcs_per_array = cols.min(32);
    hw.validate().unwrap();
    hw
}

/// (array, row, column) of a device.
type Place = (u32, u32, u32);

fn arb_layer() -> impl Strategy<Value = LayerWeights> {
    prop_oneof![
        (1usize..12, 1usize..40).prop_map(|(o, i)| vec![o, i]),
        (1usize..6, 1usize..5, 1usize..4, 1usize..4).prop_map(|(o, i, h, w)| vec![o, i, h, w]),
    ]
    .prop_flat_map(|shape| {
        let n: usize = shape.iter().product();
        (Just(shape), proptest::collection::vec(-3.0f32..3.0, n))
    })
    .prop_map(|(shape, values)| LayerWeights {
        name: "w".into(),
        shape,
        values,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_weight_sits_on_one_array_row_and_ideal_devices_read_back_exactly(
        layers in proptest::collection::vec(arb_layer(), 1..4),
        rows in 1u32..20,
        extra_cols in 0u32..20,
        weight_bits in 1u32..10,
        bits_per_cell in 1u32..4,
        differential in any::<bool>(),
    ) {
        let d = weight_bits.div_ceil(bits_per_cell) * if differential { 2 } else { 1 };
        let hw = hw(rows, d + extra_cols, weight_bits, bits_per_cell, differential);
        let m = Mapped::new(&layers, &hw).unwrap();
        // Each weight: exactly d devices, all in one row of one array, adjacent columns.
        let mut seen: HashMap<(u32, u32), Vec<Place>> = HashMap::new();
        let mut total = 0u64;
        let mut devices = Vec::new();
        for a in 0..m.num_arrays() {
            m.array_devices(a, &mut devices);
            for dev in &devices {
                prop_assert!(dev.row < rows && dev.col < hw.array.cols);
                prop_assert!(u32::from(dev.level) < (1 << bits_per_cell));
                seen.entry((dev.layer, dev.weight)).or_default().push((a, dev.row, dev.col));
                total += 1;
            }
        }
        prop_assert_eq!(total, m.num_devices());
        prop_assert_eq!(seen.len() as u64, m.num_weights());
        for places in seen.values() {
            prop_assert_eq!(places.len() as u32, d);
            prop_assert!(places.iter().all(|p| (p.0, p.1) == (places[0].0, places[0].1)));
            let cols: Vec<u32> = places.iter().map(|p| p.2).collect();
            prop_assert_eq!(cols.iter().max().unwrap() - cols.iter().min().unwrap(), d - 1);
        }
        let back = read_back(&m, &m.target_conductances()).unwrap();
        let want = m.quantized_weights();
        for (b, w) in back.iter().zip(&want) {
            prop_assert_eq!(b.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), w.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        }
        // Quantisation error at most half a least-significant unit.
        for ((l, w), mapped) in layers.iter().zip(&want).zip(m.layers()) {
            let q = &mapped.quantized;
            for (v, x) in l.values.iter().zip(w) {
                prop_assert!(f64::from((v - x).abs()) <= 0.5 * q.scale * (1.0 + 1e-6) + 1e-7);
            }
        }
    }
}

#[test]
fn reading_back_is_linear_in_each_device_with_its_significance_and_sign() {
    let hw = hw(8, 16, 6, 2, true);
    let layers = [LayerWeights {
        name: "fc".into(),
        shape: vec![2, 3],
        values: vec![0.5, -0.25, 1.0, -1.0, 0.0, 0.75],
    }];
    let m = Mapped::new(&layers, &hw).unwrap();
    let base_g = m.target_conductances();
    let base = read_back(&m, &base_g).unwrap();
    let scale = m.layers()[0].quantized.scale;
    let delta_us = 0.37f32;
    let mut i = 0usize;
    let spec = *m.spec();
    m.for_each_device(0, |d| {
        let mut g = base_g.clone();
        g[i] += delta_us;
        let back = read_back(&m, &g).unwrap();
        // Finite difference: d(weight)/dG = sign x slice weight x scale / step.
        let slope = f64::from(back[0][d.weight as usize] - base[0][d.weight as usize]) / f64::from(delta_us);
        let sign = if d.negative { -1.0 } else { 1.0 };
        let want = sign * f64::from(spec.slice_weight(u32::from(d.slice))) * scale / m.step_us();
        assert!(
            (slope - want).abs() < 1e-3 * want.abs(),
            "device {i}: {slope} vs {want}"
        );
        // No other weight moves.
        for w in 0..6 {
            if w != d.weight as usize {
                assert_eq!(back[0][w], base[0][w]);
            }
        }
        i += 1;
    });
    assert_eq!(i, 6 * 6);
}

#[test]
fn zoo_networks_map_all_their_programmable_weights() {
    let hw = config::load("rram_1t1r_256", &[]).unwrap();
    let net = uswim::nn::zoo::build("lenet").unwrap();
    let layers = LayerWeights::of_network(&net);
    let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv1.weight",
            "conv2.weight",
            "fc1.weight",
            "fc2.weight",
            "fc3.weight"
        ]
    );
    let m = Mapped::new(&layers, &hw).unwrap();
    assert_eq!(m.num_weights(), net.num_programmable_weights() as u64);
    // 8-bit weights on 2-bit cells, differential: 8 devices per weight.
    assert_eq!(m.num_devices(), 8 * m.num_weights());
    // fc1 [120, 784]: 784 inputs over 256 rows (4 row tiles) x 120 outputs over 32 per array (4).
    assert_eq!(m.layers()[2].arrays.len(), 16);
}
