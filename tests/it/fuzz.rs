//! Fuzz targets for every parser of user input (issue 15): proptest strategies that generate structured
//! garbage (valid documents with one part broken, values at and beyond their limits, random bytes), run
//! for a bounded number of cases in the normal test run (about a minute in total on 2 cores), plus the
//! regression inputs under `tests/fuzz-corpus/<target>/`, each of which once crashed or hung a parser.
//!
//! The property of every target is the same: the parser returns `Ok` or an error; it never panics,
//! aborts on an allocation or hangs. (`cargo fuzz` needs a nightly toolchain, which this project does not
//! use; proptest runs everywhere the tests run.)
//!
//! Targets: hardware TOML ([`uswim::config::from_toml_str`]), `--set` overrides, sweep specs, safetensors
//! model files (header and tensors), mask files, IDX datasets, shard strings (`--shard i/n` and the Slurm
//! job-array variables). The corpus layout is described in `tests/fuzz-corpus/README.md`. ONNX, npy, npz
//! and safetensors datasets have their targets in `fuzz_nn.rs`, which shares [`scratch`] and [`corpus`].

use proptest::prelude::*;
use std::path::{Path, PathBuf};
use uswim::config;
use uswim::experiment::shard::Shard;
use uswim::experiment::sweep_spec::SweepSpec;
use uswim::nn::{Dataset, Split, model_file};
use uswim::sensitivity;

/// An empty scratch folder of this process for the fuzz target `name`.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uswim-it-fuzz-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The regression inputs of one target.
pub(crate) fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no regression inputs in {}", dir.display());
    files
}

/// Values that break numbers: limits, specials, wrong types.
fn arb_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1e16".to_string()),
        Just("1e20".to_string()),
        Just("1e308".to_string()),
        Just("-1e308".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("4294967296".to_string()),
        Just("18446744073709551615".to_string()),
        Just("9223372036854775807".to_string()),
        Just("\"auto\"".to_string()),
        Just("\"\"".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("[{kind=\"uniform\"}]".to_string()),
        Just("true".to_string()),
        any::<f64>().prop_map(|x| format!("{x:e}")),
        any::<i64>().prop_map(|x| x.to_string()),
        "[a-z_\"\\[\\]{}=., 0-9]{0,12}",
    ]
}

/// Dotted keys of the hardware configuration (and near misses).
fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("array.rows"),
        Just("array.cols"),
        Just("array.count"),
        Just("device.g_min_us"),
        Just("device.g_max_us"),
        Just("device.bits_per_cell"),
        Just("device.model.t_ref_ns"),
        Just("device.model.kind"),
        Just("device.variation.sigma"),
        Just("device.variation.maps"),
        Just("mapping.weight_bits"),
        Just("program.tolerance"),
        Just("program.max_iterations"),
        Just("program.write_drivers_per_array"),
        Just("program.rows_in_parallel"),
        Just("program.row_setup_ns"),
        Just("program.read_settle_ns"),
        Just("program.scheme.width_ns"),
        Just("program.scheme.kind"),
        Just("dac.conversion_ns"),
        Just("dac.energy_pj"),
        Just("adc.bits"),
        Just("adc.conversion_ns"),
        Just("adc.adcs_per_array"),
        Just("controller.clock_mhz"),
        Just("controller.static_power_mw"),
        Just("controller.parallel_arrays"),
        Just("program"),
        Just("device.variation.maps.0.multiplier"),
        Just("no.such.key"),
    ]
    .prop_map(str::to_string)
}

/// A preset's TOML with some lines removed, replaced or duplicated, and values set to garbage.
fn arb_hw_toml() -> impl Strategy<Value = String> {
    let presets: Vec<&'static str> = config::preset_names().to_vec();
    (
        proptest::sample::select(presets),
        proptest::collection::vec((0usize..200, 0u8..4, arb_value()), 0..6),
    )
        .prop_map(|(name, edits)| {
            let mut lines: Vec<String> = config::preset_text(name)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect();
            for (at, kind, value) in edits {
                if lines.is_empty() {
                    break;
                }
                let i = at % lines.len();
                match kind {
                    0 => {
                        lines.remove(i);
                    }
                    1 => {
                        if let Some((key, _)) = lines[i].split_once('=') {
                            lines[i] = format!("{key}= {value}");
                        }
                    }
                    2 => {
                        let copy = lines[i].clone();
                        lines.insert(i, copy);
                    }
                    _ => lines[i] = value,
                }
            }
            lines.join("\n")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hardware_toml_parser_never_panics(text in arb_hw_toml()) {
        let _ = config::from_toml_str(&text, "fuzz.toml", &[]);
    }

    #[test]
    fn hardware_toml_parser_never_panics_on_random_text(text in "[\\[\\]a-z_.=\"0-9 \\n{},-]{0,300}") {
        let _ = config::from_toml_str(&text, "fuzz.toml", &[]);
    }

    #[test]
    fn set_overrides_never_panic(
        sets in proptest::collection::vec((arb_key(), arb_value()), 1..5),
        raw in "[a-z.=0-9]{0,20}",
    ) {
        let mut texts: Vec<String> = sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
        texts.push(raw);
        let overrides: Vec<config::Override> =
            texts.iter().filter_map(|t| config::parse_override(t).ok()).collect();
        if let Ok(hw) = config::load(config::DEFAULT_PRESET, &overrides) {
            // Whatever is accepted can be represented: its worst-case array time fits the cycle counter.
            prop_assert!(config::check::worst_case_array_cycles(&hw) <= config::check::MAX_ARRAY_CYCLES);
        }
    }
}

/// A sweep spec built from parts, some broken.
fn arb_sweep_spec() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        Just("hw = \"paper_statistical\"\n".to_string()),
        Just("hw = \"no_such_preset\"\n".to_string()),
        Just("hw = 7\n".to_string()),
        Just(String::new()),
    ];
    let field = prop_oneof![
        arb_value().prop_map(|v| format!("seed = {v}\n")),
        arb_value().prop_map(|v| format!("mc_runs = {v}\n")),
        arb_value().prop_map(|v| format!("fraction = {v}\n")),
        arb_value().prop_map(|v| format!("model = {v}\n")),
        arb_value().prop_map(|v| format!("set = [\"program.tolerance={v}\"]\n")),
        Just("model = \"lenet\"\n".to_string()),
        Just("common_seed = true\n".to_string()),
    ];
    let axis = (
        arb_key(),
        proptest::collection::vec(arb_value(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(key, values, labelled)| {
            let mut text = format!("[[axis]]\nkey = \"{key}\"\nvalues = [{}]\n", values.join(", "));
            if labelled {
                text.push_str("labels = [\"a\"]\nname = \"x\"\n");
            }
            text
        });
    (
        header,
        proptest::collection::vec(field, 0..4),
        proptest::collection::vec(axis, 0..4),
    )
        .prop_map(|(h, fields, axes)| format!("{h}{}{}", fields.concat(), axes.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sweep_spec_parser_never_panics(text in arb_sweep_spec()) {
        if let Ok(spec) = SweepSpec::parse(&text, "fuzz.toml", Path::new(".")) {
            // A parsed spec can at least build its first point without panicking.
            let _ = spec.point(0);
        }
    }
}

/// A safetensors file: an 8-byte little-endian header length (sometimes a lie), a JSON header built from
/// parts, and some data bytes.
fn arb_safetensors() -> impl Strategy<Value = Vec<u8>> {
    let dtype = prop_oneof![Just("F32"), Just("U8"), Just("F64"), Just("I64"), Just("XX")];
    let tensor = (
        "[a-z.0-9]{1,12}",
        dtype,
        proptest::collection::vec(0u64..70_000, 0..5),
        0u64..2000,
        0u64..2000,
    )
        .prop_map(|(name, dtype, shape, a, b)| {
            let shape: Vec<String> = shape.iter().map(u64::to_string).collect();
            format!(
                "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{a},{b}]}}",
                shape.join(",")
            )
        });
    (
        proptest::collection::vec(tensor, 0..4),
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some(u64::MAX)),
            Just(Some(1u64 << 40)),
            (0u64..64).prop_map(Some)
        ],
        proptest::collection::vec(any::<u8>(), 0..512),
    )
        .prop_map(|(tensors, metadata, lie, data)| {
            let mut parts = tensors;
            if metadata {
                parts.push("\"__metadata__\":{\"arch\":\"lenet\",\"format\":\"pt\"}".to_string());
            }
            let header = format!("{{{}}}", parts.join(","));
            let len = lie.unwrap_or(header.len() as u64);
            let mut bytes = len.to_le_bytes().to_vec();
            bytes.extend_from_slice(header.as_bytes());
            bytes.extend_from_slice(&data);
            bytes
        })
}

/// An IDX file: a magic (sometimes wrong), dimensions (sometimes huge) and data (usually too short).
fn arb_idx() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just(0x08u8), Just(0x09), Just(0x0D), any::<u8>()],
        proptest::collection::vec(prop_oneof![0u32..40, Just(u32::MAX), Just(1 << 20)], 0..5),
        proptest::collection::vec(any::<u8>(), 0..3000),
        any::<bool>(),
    )
        .prop_map(|(kind, dims, data, gzip)| {
            let mut bytes = vec![0, 0, kind, dims.len() as u8];
            for d in &dims {
                bytes.extend_from_slice(&d.to_be_bytes());
            }
            bytes.extend_from_slice(&data);
            if gzip {
                // Not compressed: a gzip magic in front of raw bytes (a corrupt archive).
                let mut g = vec![0x1f, 0x8b, 0x08, 0x00];
                g.extend_from_slice(&bytes);
                g
            } else {
                bytes
            }
        })
}

/// Loads a model file; never panics.
fn load_model_bytes(dir: &Path, bytes: &[u8]) {
    let path = dir.join("m.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let _ = model_file::read_tensors(&path);
    let _ = model_file::load(Some("lenet"), &path);
    let _ = model_file::load(None, &path);
}

/// Reads a mask file; never panics.
fn load_mask_bytes(dir: &Path, bytes: &[u8]) {
    let path = dir.join("mask.safetensors");
    std::fs::write(&path, bytes).unwrap();
    if let Ok(mask) = sensitivity::output::Mask::read(&path) {
        let net = uswim::nn::zoo::build("lenet").unwrap();
        let _ = mask.check(&net, "fuzz");
    }
}

/// Loads an IDX dataset whose test images are `images` and labels `labels`; never panics.
fn load_idx_bytes(dir: &Path, images: &[u8], labels: &[u8]) {
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), images).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), labels).unwrap();
    let _ = Dataset::load(&dir.display().to_string(), Split::Test);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn safetensors_model_reader_never_panics(bytes in arb_safetensors()) {
        let dir = scratch("safetensors");
        load_model_bytes(&dir, &bytes);
    }

    #[test]
    fn mask_file_reader_never_panics(bytes in arb_safetensors()) {
        let dir = scratch("mask");
        load_mask_bytes(&dir, &bytes);
    }

    #[test]
    fn idx_dataset_reader_never_panics(images in arb_idx(), labels in arb_idx()) {
        let dir = scratch("idx");
        load_idx_bytes(&dir, &images, &labels);
    }
}

/// A shard string: two numbers around a separator, each sometimes huge, negative, spaced or not a number.
fn arb_shard_text() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        (0u32..10).prop_map(|n| n.to_string()),
        Just("4294967295".to_string()),
        Just("4294967296".to_string()),
        Just("18446744073709551616".to_string()),
        Just("-1".to_string()),
        Just(" 2 ".to_string()),
        Just("+3".to_string()),
        Just("0x10".to_string()),
        Just(String::new()),
        "[0-9a-z٣\\-]{0,6}",
    ];
    let separator = prop_oneof![Just("/"), Just("//"), Just("-"), Just(" of "), Just("")];
    (number.clone(), separator, number, any::<bool>())
        .prop_map(|(i, sep, n, tail)| format!("{i}{sep}{n}{}", if tail { "/1" } else { "" }))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn shard_string_parser_never_panics(text in arb_shard_text()) {
        if let Ok(shard) = Shard::parse(&text) {
            // What is accepted is a real shard of any grid.
            prop_assert!(shard.index < shard.count);
            prop_assert_eq!(shard.points(100).count(), shard.len(100));
        }
    }

    #[test]
    fn slurm_variables_never_panic(
        id in proptest::option::of(arb_shard_text()),
        count in proptest::option::of(arb_shard_text()),
        min in proptest::option::of(arb_shard_text()),
    ) {
        let var = |name: &str| match name {
            "SLURM_ARRAY_TASK_ID" => id.clone(),
            "SLURM_ARRAY_TASK_COUNT" => count.clone(),
            "SLURM_ARRAY_TASK_MIN" => min.clone(),
            _ => None,
        };
        if let Some(Ok(shard)) = Shard::from_slurm(var) {
            prop_assert!(shard.index < shard.count);
        }
    }
}

#[test]
fn regression_inputs_of_every_target_are_refused_without_panicking() {
    for (name, bytes) in corpus("hw-toml") {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            config::from_toml_str(&text, &name, &[]).is_err(),
            "{name} was accepted"
        );
    }
    for (name, bytes) in corpus("set-override") {
        let text = String::from_utf8_lossy(&bytes);
        let overrides: Vec<config::Override> = text
            .lines()
            .map(|l| config::parse_override(l).unwrap_or_else(|e| panic!("{name}: {e}")))
            .collect();
        assert!(
            config::load(config::DEFAULT_PRESET, &overrides).is_err(),
            "{name} was accepted"
        );
    }
    for (name, bytes) in corpus("sweep-spec") {
        let text = String::from_utf8_lossy(&bytes);
        let checked = SweepSpec::parse(&text, &name, Path::new(".")).and_then(|spec| {
            uswim::experiment::sweep::check_grid(&spec, uswim::experiment::shard::Shard::WHOLE)
        });
        assert!(checked.is_err(), "{name} was accepted");
    }
    for (name, bytes) in corpus("shard") {
        for line in String::from_utf8_lossy(&bytes).lines() {
            assert!(Shard::parse(line).is_err(), "{name}: `{line}` was accepted");
        }
    }
    let dir = scratch("corpus");
    for (_, bytes) in corpus("safetensors") {
        load_model_bytes(&dir, &bytes);
        load_mask_bytes(&dir, &bytes);
    }
    for (_, bytes) in corpus("idx") {
        load_idx_bytes(&dir, &bytes, &bytes);
    }
}
