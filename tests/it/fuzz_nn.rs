//! Fuzz targets for the parsers of the bring-your-own-network inputs (issue 13), in the form of
//! `fuzz.rs` (issue 15): proptest strategies that generate structured garbage, a bounded number of cases
//! per target (a few seconds each), and the regression inputs under `tests/fuzz-corpus/<target>/`
//! (`onnx`, `npy`, `npz`), each of which once crashed a parser or is a case that must stay refused.
//!
//! Targets: ONNX model files (graphs built from parts with shapes, attributes and initializers at and
//! beyond their limits, and valid fixtures with mutated, inserted, deleted or truncated bytes), `.npy`
//! arrays (headers built from parts), `.npz` and `.safetensors` datasets (valid archives with broken
//! entries, shapes and bytes). The property is the same for each: the reader returns `Ok` or an error,
//! never panics; a graph that imports also runs a forward pass on its declared input.

use crate::fuzz::corpus;
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use uswim::nn::{Dataset, Split, arrays, model_file, onnx};

/// A scratch folder for the target `name` (apart from `fuzz.rs`'s targets of the same name).
fn scratch(name: &str) -> PathBuf {
    crate::fuzz::scratch(&format!("nn-{name}"))
}

// ---- a minimal protobuf writer (the wire format of ONNX) ----

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_varint(out: &mut Vec<u8>, field: u32, v: i64) {
    varint(out, u64::from(field) << 3);
    varint(out, v as u64);
}

fn field_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    varint(out, (u64::from(field) << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn field_f32(out: &mut Vec<u8>, field: u32, v: f32) {
    varint(out, (u64::from(field) << 3) | 5);
    out.extend_from_slice(&v.to_le_bytes());
}

/// Dimensions and sizes that break shape arithmetic, and ordinary ones.
fn arb_dim() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => 1i64..6,
        1 => Just(0i64),
        1 => Just(-1i64),
        1 => Just(i64::MAX),
        1 => Just(1i64 << 40),
    ]
}

/// An attribute of a node: name, and an int, ints, a float or a string.
fn arb_attribute() -> impl Strategy<Value = Vec<u8>> {
    let name = proptest::sample::select(vec![
        "kernel_shape",
        "strides",
        "pads",
        "dilations",
        "group",
        "axis",
        "transA",
        "transB",
        "alpha",
        "beta",
        "epsilon",
        "auto_pad",
        "ceil_mode",
        "count_include_pad",
        "shape",
        "allowzero",
        "value",
    ]);
    (
        name,
        0u8..4,
        arb_dim(),
        proptest::collection::vec(arb_dim(), 0..6),
        any::<f32>(),
    )
        .prop_map(|(name, kind, i, ints, f)| {
            let mut a = Vec::new();
            field_bytes(&mut a, 1, name.as_bytes());
            match kind {
                0 => {
                    field_varint(&mut a, 3, i);
                    field_varint(&mut a, 20, 2);
                }
                1 => {
                    for v in &ints {
                        field_varint(&mut a, 8, *v);
                    }
                    field_varint(&mut a, 20, 7);
                }
                2 => {
                    field_f32(&mut a, 2, f);
                    field_varint(&mut a, 20, 1);
                }
                _ => {
                    field_bytes(&mut a, 4, b"SAME_UPPER");
                    field_varint(&mut a, 20, 3);
                }
            }
            a
        })
}

/// A float initializer `w{i}` with the given dims and `values` float32 values as raw data (which may
/// not match the dims).
fn initializer(i: usize, dims: &[i64], values: usize, data_type: i64) -> Vec<u8> {
    let mut t = Vec::new();
    for d in dims {
        field_varint(&mut t, 1, *d);
    }
    field_varint(&mut t, 2, data_type);
    field_bytes(&mut t, 8, format!("w{i}").as_bytes());
    let raw: Vec<u8> = (0..values)
        .flat_map(|k| (k as f32 * 0.01).to_le_bytes())
        .collect();
    field_bytes(&mut t, 9, &raw);
    t
}

/// A value info `name` of float tensors with the given dims.
fn value_info(name: &str, dims: &[i64]) -> Vec<u8> {
    let mut shape = Vec::new();
    for d in dims {
        let mut dim = Vec::new();
        field_varint(&mut dim, 1, *d);
        field_bytes(&mut shape, 1, &dim);
    }
    let mut tensor = Vec::new();
    field_varint(&mut tensor, 1, 1);
    field_bytes(&mut tensor, 2, &shape);
    let mut ty = Vec::new();
    field_bytes(&mut ty, 1, &tensor);
    let mut v = Vec::new();
    field_bytes(&mut v, 1, name.as_bytes());
    field_bytes(&mut v, 2, &ty);
    v
}

/// One node: an operator (mostly supported ones), inputs from the names defined so far, attributes.
fn arb_node() -> impl Strategy<Value = (String, Vec<usize>, Vec<Vec<u8>>)> {
    let mut ops: Vec<&str> = onnx::SUPPORTED_OPS.to_vec();
    ops.extend(["Softmax", "", "Conv2"]);
    (
        proptest::sample::select(ops),
        proptest::collection::vec(0usize..8, 0..4),
        proptest::collection::vec(arb_attribute(), 0..4),
    )
        .prop_map(|(op, inputs, attrs)| (op.to_string(), inputs, attrs))
}

/// A whole ONNX model: an input with fuzzed dims, initializers, a chain of nodes, an output.
fn arb_onnx_graph() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(arb_dim(), 0..5),
        proptest::collection::vec(
            (
                proptest::collection::vec(arb_dim(), 0..5),
                0usize..40,
                prop_oneof![4 => Just(1i64), 1 => Just(11i64), 1 => Just(7i64), 1 => Just(99i64)],
            ),
            0..4,
        ),
        proptest::collection::vec(arb_node(), 1..6),
        any::<bool>(),
    )
        .prop_map(|(input_dims, inits, nodes, with_opset)| {
            let mut graph = Vec::new();
            // Names nodes may read: the input, the initializers, earlier outputs.
            let mut names = vec!["x".to_string()];
            for (i, (dims, values, ty)) in inits.iter().enumerate() {
                let dims: Vec<i64> = dims.iter().map(|d| d.clamp(&-1, &64).to_owned()).collect();
                field_bytes(&mut graph, 5, &initializer(i, &dims, *values, *ty));
                names.push(format!("w{i}"));
            }
            for (k, (op, inputs, attrs)) in nodes.iter().enumerate() {
                let mut node = Vec::new();
                for &i in inputs {
                    let name = names.get(i).cloned().unwrap_or_else(|| "undefined".to_string());
                    field_bytes(&mut node, 1, name.as_bytes());
                }
                let out = format!("t{k}");
                field_bytes(&mut node, 2, out.as_bytes());
                field_bytes(&mut node, 3, format!("/n{k}/{op}").as_bytes());
                field_bytes(&mut node, 4, op.as_bytes());
                for a in attrs {
                    field_bytes(&mut node, 5, a);
                }
                field_bytes(&mut graph, 1, &node);
                names.push(out);
            }
            field_bytes(&mut graph, 11, &value_info("x", &input_dims));
            let last = names.last().expect("the input at least").clone();
            field_bytes(&mut graph, 12, &value_info(&last, &[]));
            let mut model = Vec::new();
            field_varint(&mut model, 1, 8);
            if with_opset {
                let mut opset = Vec::new();
                field_varint(&mut opset, 2, 17);
                field_bytes(&mut model, 8, &opset);
            }
            field_bytes(&mut model, 7, &graph);
            model
        })
}

/// Byte-level damage to a valid file: flips, boundary bytes, insertions, deletions, a truncation.
#[derive(Debug, Clone)]
enum Damage {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn arb_damage() -> impl Strategy<Value = Vec<Damage>> {
    let byte = prop_oneof![Just(0u8), Just(0x7f), Just(0x80), Just(0xff), any::<u8>()];
    let one = prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Damage::Flip(at, bit)),
        (any::<usize>(), byte.clone()).prop_map(|(at, b)| Damage::Set(at, b)),
        (any::<usize>(), proptest::collection::vec(byte, 1..12)).prop_map(|(at, b)| Damage::Insert(at, b)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Damage::Delete(at, n)),
        any::<usize>().prop_map(Damage::Truncate),
    ];
    proptest::collection::vec(one, 1..6)
}

fn damaged(mut bytes: Vec<u8>, damage: &[Damage]) -> Vec<u8> {
    for d in damage {
        if bytes.is_empty() {
            break;
        }
        let at = |i: usize| i % bytes.len();
        match d {
            Damage::Flip(i, bit) => {
                let i = at(*i);
                bytes[i] ^= 1 << bit;
            }
            Damage::Set(i, b) => {
                let i = at(*i);
                bytes[i] = *b;
            }
            Damage::Insert(i, b) => {
                let i = at(*i);
                bytes.splice(i..i, b.iter().copied());
            }
            Damage::Delete(i, n) => {
                let i = at(*i);
                let end = (i + n).min(bytes.len());
                bytes.drain(i..end);
            }
            Damage::Truncate(n) => {
                let n = at(*n);
                bytes.truncate(n);
            }
        }
    }
    bytes
}

/// The small ONNX fixtures (every supported operator; the ResNet-20 graph is left to the graph fuzzer).
fn onnx_fixtures() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/onnx");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .filter(|p| std::fs::metadata(p).unwrap().len() < 10_000)
        .collect();
    files.sort();
    files.into_iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Imports an ONNX file's bytes every way the tool does; a graph that imports runs a forward pass on
/// zeros of its declared input. Never panics.
fn load_onnx_bytes(dir: &Path, bytes: &[u8]) -> Result<(), String> {
    let path = dir.join("m.onnx");
    std::fs::write(&path, bytes).unwrap();
    let _ = onnx::weight_tensors(&path);
    let _ = model_file::load(None, &path);
    let net = onnx::load(&path).map_err(|e| e.to_string())?;
    let shape = net.input_shape();
    if net.is_runnable() && shape.len() <= 1 << 16 {
        let x = shape.zeros(1);
        let y = net.forward(x);
        assert_eq!(y.shape(), &[1, net.num_classes()]);
    }
    Ok(())
}

// ---- .npy, .npz and safetensors datasets ----

/// A `.npy` header from parts: format version, element type, order and shape text, and a body whose
/// length may not match.
fn arb_npy() -> impl Strategy<Value = Vec<u8>> {
    let descr = proptest::sample::select(vec![
        "|u1", "<f4", "<f8", "<i8", "<i2", "|i1", "<u2", ">f4", "|b1", "<U3", "<f2", "O", "",
    ]);
    let dim = prop_oneof![
        6 => (0usize..6).prop_map(|d| d.to_string()),
        1 => Just("4294967296".to_string()),
        1 => Just(usize::MAX.to_string()),
        1 => Just("-1".to_string()),
        1 => Just("x".to_string()),
    ];
    (
        prop_oneof![4 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8), 1 => any::<u8>()],
        descr,
        prop_oneof![Just("False"), Just("True"), Just("0")],
        proptest::collection::vec(dim, 0..5),
        -3i64..3,
        any::<bool>(),
    )
        .prop_map(|(version, descr, fortran, dims, body_delta, lie_about_length)| {
            let shape = match dims.len() {
                1 => format!("({},)", dims[0]),
                _ => format!("({})", dims.join(", ")),
            };
            let header = format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}\n");
            let elements: usize = dims
                .iter()
                .map(|d| d.parse::<usize>().unwrap_or(1).min(8))
                .product();
            let size = descr.chars().last().and_then(|c| c.to_digit(10)).unwrap_or(1) as i64;
            let body_len = (elements as i64 * size + body_delta).clamp(0, 4096) as usize;
            let mut b = b"\x93NUMPY".to_vec();
            b.push(version);
            b.push(0);
            let len = header.len() + if lie_about_length { 1000 } else { 0 };
            if version == 1 {
                b.extend((len as u16).to_le_bytes());
            } else {
                b.extend((len as u32).to_le_bytes());
            }
            b.extend(header.as_bytes());
            b.extend((0..body_len).map(|i| (i * 31 % 256) as u8));
            b
        })
}

/// An `.npz` archive of named arrays (stored or deflated).
fn npz(arrays: &[(&str, Vec<u8>)], deflate: bool) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    let mut seen = std::collections::HashSet::new();
    for (name, bytes) in arrays {
        if !seen.insert(*name) {
            continue;
        }
        zip.start_file(format!("{name}.npy"), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A valid `.npy` of `shape` uint8 (images) or int64 (labels).
fn valid_npy(descr: &str, shape: &[usize]) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let size = if descr == "|u1" { 1 } else { 8 };
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n");
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((header.len() as u16).to_le_bytes());
    b.extend(header.as_bytes());
    b.extend((0..n * size).map(|i| {
        if size == 8 && i % 8 != 0 {
            0
        } else {
            (i % 10) as u8
        }
    }));
    b
}

/// An `.npz` dataset: images and labels generated as garbage or valid, under the names the loader looks
/// for, sometimes with mean/std arrays; then byte damage.
fn arb_npz() -> impl Strategy<Value = Vec<u8>> {
    let array = prop_oneof![
        2 => arb_npy(),
        1 => proptest::collection::vec(1usize..5, 1..5).prop_map(|s| valid_npy("|u1", &s)),
        1 => (1usize..5).prop_map(|n| valid_npy("<i8", &[n])),
    ];
    (
        proptest::collection::vec(
            (
                proptest::sample::select(vec![
                    "x_train", "y_train", "x_test", "y_test", "images", "labels", "mean", "std",
                ]),
                array,
            ),
            0..5,
        ),
        any::<bool>(),
        prop_oneof![3 => Just(Vec::new()), 1 => arb_damage()],
    )
        .prop_map(|(arrays, deflate, damage)| damaged(npz(&arrays, deflate), &damage))
}

/// A safetensors dataset: `images` and `labels` with fuzzed dtypes, shapes and offsets.
fn arb_safetensors_dataset() -> impl Strategy<Value = Vec<u8>> {
    let tensor = (
        proptest::sample::select(vec!["images", "labels", "mean", "std", "x_train"]),
        proptest::sample::select(vec!["U8", "F32", "F64", "I64", "I32", "BOOL", "F16", "XX"]),
        proptest::collection::vec(prop_oneof![0u64..5, Just(1u64 << 33)], 0..5),
        0u64..200,
    );
    (proptest::collection::vec(tensor, 0..4), 0usize..600).prop_map(|(tensors, data_len)| {
        let mut header = serde_json::Map::new();
        let mut offset = 0u64;
        for (name, dtype, shape, len) in tensors {
            header.insert(
                name.to_string(),
                serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len]}),
            );
            offset += len;
        }
        let text = serde_json::Value::Object(header).to_string();
        let mut b = (text.len() as u64).to_le_bytes().to_vec();
        b.extend(text.as_bytes());
        b.extend((0..data_len).map(|i| (i % 7) as u8));
        b
    })
}

/// Loads a dataset file both splits and runs the normaliser on it; never panics.
fn load_dataset_bytes(dir: &Path, file: &str, bytes: &[u8]) {
    let path = dir.join(file);
    std::fs::write(&path, bytes).unwrap();
    let spec = path.display().to_string();
    for split in [Split::Train, Split::Test] {
        if let Ok(mut d) = Dataset::load(&spec, split) {
            let n = uswim::nn::normalize::Normalization::parse("0.5,0.5", "--normalize").unwrap();
            let _ = n.apply(&mut d);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn onnx_graphs_built_from_garbage_parts_never_panic(bytes in arb_onnx_graph()) {
        let dir = scratch("onnx-graph");
        let _ = load_onnx_bytes(&dir, &bytes);
    }

    #[test]
    fn damaged_onnx_fixtures_never_panic(pick in any::<usize>(), damage in arb_damage()) {
        let fixtures = onnx_fixtures();
        let bytes = damaged(fixtures[pick % fixtures.len()].clone(), &damage);
        let dir = scratch("onnx-damaged");
        let _ = load_onnx_bytes(&dir, &bytes);
    }

    #[test]
    fn npy_parser_never_panics(bytes in arb_npy(), damage in arb_damage(), damage_it in any::<bool>()) {
        let bytes = if damage_it { damaged(bytes, &damage) } else { bytes };
        let _ = arrays::parse_npy(&bytes, "fuzz.npy");
        let dir = scratch("npy");
        std::fs::write(dir.join("labels.npy"), valid_npy("<i8", &[2])).unwrap();
        std::fs::write(dir.join("images.npy"), &bytes).unwrap();
        let pair = format!("{},{}", dir.join("images.npy").display(), dir.join("labels.npy").display());
        let _ = Dataset::load(&pair, Split::Test);
    }

    #[test]
    fn npz_dataset_reader_never_panics(bytes in arb_npz()) {
        let dir = scratch("npz");
        load_dataset_bytes(&dir, "d.npz", &bytes);
    }

    #[test]
    fn safetensors_dataset_reader_never_panics(bytes in arb_safetensors_dataset()) {
        let dir = scratch("st-dataset");
        load_dataset_bytes(&dir, "d.safetensors", &bytes);
    }
}

/// Every committed fixture still imports (the damage above starts from valid files).
#[test]
fn the_undamaged_fixtures_import() {
    let dir = scratch("onnx-valid");
    let fixtures = onnx_fixtures();
    assert!(fixtures.len() >= 18, "{} fixtures", fixtures.len());
    let imported = fixtures
        .iter()
        .filter(|b| load_onnx_bytes(&dir, b).is_ok())
        .count();
    // All but the one with an unsupported operator.
    assert_eq!(imported, fixtures.len() - 1);
}

#[test]
fn regression_inputs_of_the_network_and_dataset_readers_are_refused_without_panicking() {
    let dir = scratch("corpus");
    for (name, bytes) in corpus("onnx") {
        assert!(load_onnx_bytes(&dir, &bytes).is_err(), "{name} was accepted");
    }
    for (name, bytes) in corpus("npy") {
        assert!(arrays::parse_npy(&bytes, &name).is_err(), "{name} was accepted");
    }
    for (name, bytes) in corpus("npz") {
        let path = dir.join("d.npz");
        std::fs::write(&path, &bytes).unwrap();
        assert!(
            Dataset::load(path.to_str().unwrap(), Split::Train).is_err(),
            "{name} was accepted"
        );
    }
}
