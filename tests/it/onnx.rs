//! ONNX import: every supported operator against onnxruntime's outputs (fixtures made by
//! `tests/data/onnx/generate.py`), gradients and second derivatives of imported graphs against finite
//! differences, refusals of unsupported operators and malformed files, and a ResNet-20-style graph
//! through the command line.

use ndarray::IxDyn;
use rand::Rng;
use std::path::{Path, PathBuf};
use std::process::Command;
use uswim::nn::{Network, Order, Tensor, model_file, onnx};
use uswim::rng::{Purpose, stream};

/// Every fixture that imports (each `.onnx` with its `.json` reference).
const FIXTURES: &[&str] = &[
    "conv_basic",
    "conv_strided_asymmetric",
    "conv_groups_dilation",
    "conv_depthwise",
    "gemm",
    "gemm_untransposed",
    "matmul_add",
    "relu",
    "leakyrelu",
    "sigmoid",
    "tanh",
    "maxpool",
    "averagepool",
    "globalaveragepool",
    "batchnorm",
    "add",
    "reshape",
    "concat",
    "identity_dropout",
    "resnet20",
];

fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/onnx")
        .join(file)
}

/// A fixture's input batch and onnxruntime's output.
fn reference(name: &str) -> (Tensor, Tensor) {
    let text = std::fs::read_to_string(fixture(&format!("{name}.json"))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tensor = |shape: &str, values: &str| {
        let dims: Vec<usize> = v[shape]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        let data: Vec<f32> = v[values]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        Tensor::from_shape_vec(IxDyn(&dims), data).unwrap()
    };
    (tensor("input_shape", "input"), tensor("output_shape", "output"))
}

fn load(name: &str) -> Network {
    onnx::load(&fixture(&format!("{name}.onnx"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_fixture_matches_onnxruntime() {
    for name in FIXTURES {
        let net = load(name);
        let (x, want) = reference(name);
        let got = net.forward(x.clone());
        assert_eq!(got.shape(), want.shape(), "{name}");
        let err = got
            .iter()
            .zip(want.iter())
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(err <= 1e-5, "{name}: max abs error {err:e} against onnxruntime");
        // Inference and the training forward agree.
        let (train, _) = net.forward_train(x);
        assert_eq!(train, got, "{name}: training forward");
    }
}

#[test]
fn model_files_ending_in_onnx_import_through_the_common_loader() {
    let (net, metadata) = model_file::load(None, &fixture("resnet20.onnx")).unwrap();
    assert!(metadata.is_empty());
    assert_eq!(net.arch(), "onnx:resnet20.onnx");
    assert_eq!(net.num_classes(), 10);
    // 19 convolutions (with three 1x1 shortcuts) and the linear layer are programmable.
    assert_eq!(net.programmable().len(), 19 + 3);
    let w = net.tensor("layer2.0.conv1.weight").unwrap();
    assert_eq!(w.shape(), &[8, 4, 3, 3]);
    assert_eq!(
        net.param(net.param_index("linear.weight").unwrap()).matrix_dims(),
        (16, 10)
    );
}

/// A random tensor of `shape`, uniform in `[lo, hi)`.
fn uniform(shape: &[usize], id: u64, lo: f32, hi: f32) -> Tensor {
    let mut rng = stream(13, Purpose::Device, id);
    Tensor::from_shape_fn(IxDyn(shape), |_| rng.random_range(lo..hi))
}

/// `sum r * net(x)` in f64.
fn objective(net: &Network, x: &Tensor, r: &Tensor) -> f64 {
    net.forward(x.clone())
        .iter()
        .zip(r.iter())
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum()
}

/// Worst central-difference error relative to the largest analytic value, skipping coordinates where
/// a kink (ReLU, max-pool switch) lies within the step (one-sided slopes disagree); and the count
/// skipped.
fn compare(analytic: &[f32], mut eval: impl FnMut(usize, f32) -> f64, h: f32, kink: f64) -> (f64, usize) {
    let scale = analytic.iter().fold(1e-6f64, |m, &g| m.max(f64::from(g.abs())));
    let (mut worst, mut skipped) = (0.0f64, 0);
    for (i, &g) in analytic.iter().enumerate() {
        let (lp, l0, lm) = (eval(i, h), eval(i, 0.0), eval(i, -h));
        let hd = f64::from(h);
        if ((lp - l0) / hd - (l0 - lm) / hd).abs() > kink * scale {
            skipped += 1;
            continue;
        }
        worst = worst.max(((lp - lm) / (2.0 * hd) - f64::from(g)).abs() / scale);
    }
    (worst, skipped)
}

#[test]
fn gradients_of_imported_graphs_match_central_differences() {
    // The ResNet-20 graph is too deep for f32 central differences (its rounding noise exceeds the
    // signal at any step that crosses no ReLU kink); its operators are all covered by the small
    // fixtures, and its last layer by the second-order check below.
    for name in FIXTURES.iter().filter(|&&n| n != "resnet20") {
        let smooth = matches!(*name, "sigmoid" | "tanh");
        let (h, kink, tol) = if smooth {
            (2e-3, 2e-2, 2e-3)
        } else {
            (3e-3, 1e-3, 1e-3)
        };
        let mut net = load(name);
        let (x, _) = reference(name);
        let (y, tape) = net.forward_train(x.clone());
        let r = uniform(y.shape(), 1, -1.0, 1.0);
        let mut grads = net.zeros_like_params();
        let dx = net.backward_to_input(&tape, r.clone(), Order::First, &mut grads);
        let (worst, skipped) = compare(
            dx.as_slice().unwrap(),
            |i, d| {
                let mut xp = x.clone();
                xp.as_slice_mut().unwrap()[i] += d;
                objective(&net, &xp, &r)
            },
            h,
            kink,
        );
        assert!(worst < tol, "{name}: input gradient relative error {worst:e}");
        assert!(skipped * 4 <= x.len(), "{name}: {skipped} inputs straddle a kink");
        for (p, g) in grads.iter().enumerate() {
            if !net.param(p).kind.is_trainable() {
                continue;
            }
            let pname = net.param(p).name.clone();
            let g = g.as_slice().unwrap().to_vec();
            let (worst, skipped) = compare(
                &g,
                |i, d| {
                    let old = net.values_mut(p)[i];
                    net.values_mut(p)[i] = old + d;
                    let l = objective(&net, &x, &r);
                    net.values_mut(p)[i] = old;
                    l
                },
                h,
                kink,
            );
            assert!(worst < tol, "{name}: {pname} gradient relative error {worst:e}");
            assert!(
                skipped * 3 <= g.len() + 3,
                "{name}: {pname}: {skipped} straddle a kink"
            );
        }
    }
}

/// The tensors whose Gauss-Newton diagonal is their exact second derivative for a loss diagonal in the
/// outputs: every path from the weight to an output passes only element-wise, routing (max-pool,
/// concat, reshape, residual add) or per-channel scaling (batch-norm) operators.
const EXACT_SECOND_ORDER: &[(&str, &str)] = &[
    ("conv_basic", "conv1.weight"),
    ("conv_basic", "conv1.bias"),
    ("conv_strided_asymmetric", "conv1.weight"),
    ("conv_groups_dilation", "conv1.weight"),
    ("conv_depthwise", "conv1.weight"),
    ("gemm", "fc1.weight"),
    ("gemm_untransposed", "fc1.weight"),
    ("matmul_add", "fc1.weight_t"),
    ("matmul_add", "fc1.bias"),
    ("relu", "fc2.weight"),
    ("sigmoid", "fc2.weight"),
    ("maxpool", "conv1.weight"),
    ("batchnorm", "fc1.weight"),
    ("batchnorm", "bn2.weight"),
    ("add", "conv2.weight"),
    ("add", "shift"),
    ("reshape", "fc1.weight"),
    ("concat", "branch1.weight"),
    ("concat", "branch2.weight"),
    ("identity_dropout", "fc1.weight"),
    ("resnet20", "linear.weight"),
];

#[test]
fn second_derivatives_of_imported_graphs_match_finite_differences_of_the_gradient() {
    // Loss L = sum_n sum_k c_k y_nk^2 / 2: dL/dy = c y, d2L/dy2 = c (diagonal). The second-order
    // backward from c must equal the central difference of the first-order backward from c y.
    for &(name, tensor) in EXACT_SECOND_ORDER {
        let mut net = load(name);
        let (x, _) = reference(name);
        let p = net
            .param_index(tensor)
            .unwrap_or_else(|| panic!("{name}: no {tensor}"));
        let y = net.forward(x.clone());
        let c = uniform(y.shape(), 2, 0.5, 1.5);
        let gradient = |net: &Network| {
            let (y, tape) = net.forward_train(x.clone());
            let mut grads = net.zeros_like_params();
            net.backward(&tape, &y * &c, Order::First, &mut grads);
            grads.swap_remove(p)
        };
        let (_, tape) = net.forward_train(x.clone());
        let mut second = net.zeros_like_params();
        net.backward(&tape, c.clone(), Order::Second, &mut second);
        let hess = second[p].as_slice().unwrap().to_vec();
        let scale = hess.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        let h = 2e-3f32;
        let (mut worst, mut skipped) = (0.0f32, 0);
        for (i, &hi) in hess.iter().enumerate() {
            let mut at = |d: f32| {
                let old = net.values_mut(p)[i];
                net.values_mut(p)[i] = old + d;
                let g = gradient(&net).as_slice().unwrap()[i];
                net.values_mut(p)[i] = old;
                g
            };
            let (gp, g0, gm) = (at(h), at(0.0), at(-h));
            if ((gp - g0) - (g0 - gm)).abs() / h > 1e-3 * scale {
                skipped += 1; // a max-pool switch within the step
                continue;
            }
            worst = worst.max(((gp - gm) / (2.0 * h) - hi).abs() / scale);
        }
        assert!(
            worst < 1e-3,
            "{name}: {tensor} second derivative relative error {worst:e}"
        );
        assert!(
            skipped * 3 <= hess.len() + 3,
            "{name}: {tensor}: {skipped} straddle a kink"
        );
        assert!(
            hess.iter().all(|&v| v >= 0.0),
            "{name}: {tensor}: Gauss-Newton terms are non-negative"
        );
    }
}

/// Runs the uswim binary; returns (exit code, stdout, stderr).
fn uswim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_uswim"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uswim-it-onnx-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn an_unsupported_operator_is_refused_naming_the_node_and_the_supported_set() {
    let path = fixture("unsupported.onnx");
    let e = onnx::load(&path).unwrap_err().to_string();
    for part in [
        "unsupported.onnx",
        "/softmax/Softmax",
        "Softmax is not supported",
        "Conv, Gemm, MatMul",
    ] {
        assert!(e.contains(part), "{e}");
    }
    let (code, _, err) = uswim(&["eval", "--model", path.to_str().unwrap(), "--dataset", "mnist"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/softmax/Softmax"), "{err}");
}

#[test]
fn a_malformed_file_is_refused_naming_it() {
    let dir = scratch("malformed");
    let garbage = dir.join("garbage.onnx");
    std::fs::write(&garbage, b"\xff\xff\xff\xff not a protobuf at all").unwrap();
    let whole = std::fs::read(fixture("resnet20.onnx")).unwrap();
    let truncated = dir.join("truncated.onnx");
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    for path in [&garbage, &truncated] {
        let e = onnx::load(path).unwrap_err().to_string();
        assert!(
            e.contains(&path.display().to_string()) && e.contains("not a valid ONNX"),
            "{e}"
        );
        let (code, _, err) = uswim(&["eval", "--model", path.to_str().unwrap(), "--dataset", "mnist"]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(path.file_name().unwrap().to_str().unwrap()), "{err}");
    }
    let missing = dir.join("missing.onnx");
    assert!(
        onnx::load(&missing)
            .unwrap_err()
            .to_string()
            .contains("cannot read")
    );
}

#[test]
fn a_resnet20_style_graph_with_residual_adds_runs_through_program() {
    let dir = scratch("program");
    let model = fixture("resnet20.onnx");
    let (code, out, err) = uswim(&[
        "program",
        "--model",
        model.to_str().unwrap(),
        "--hw",
        "paper_statistical",
        "--mask",
        "random:0.2",
        "--trace-level",
        "off",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("22 layers"), "{out}");
    assert!(dir.join("summary.json").is_file());
}

/// `uswim program` on `model_args`, timing only; returns its stdout.
fn program_timing(name: &str, model_args: &[&str]) -> String {
    let dir = scratch(name);
    let mut args = vec![
        "program",
        "--hw",
        "paper_statistical",
        "--trace-level",
        "off",
        "--quiet",
    ];
    args.extend_from_slice(model_args);
    args.extend(["--out", dir.to_str().unwrap()]);
    let (code, out, err) = uswim(&args);
    assert_eq!(code, 0, "{name}: {err}");
    out
}

#[test]
fn files_that_do_not_load_as_networks_are_timed_from_their_weight_tensors() {
    // An unsupported operator: the graph does not import, its Gemm weight still maps.
    let out = program_timing(
        "unsupported",
        &["--model", fixture("unsupported.onnx").to_str().unwrap()],
    );
    assert!(out.contains("1 layers, 12 weights"), "{out}");
    // A safetensors file of no known architecture: every tensor of two or more dimensions maps
    // (a 3-d one as [out, in*k]); vectors and integer tensors do not.
    let dir = scratch("tensors");
    let path = dir.join("custom.safetensors");
    let t = |name: &str, dtype, shape: &[usize]| {
        let size = if dtype == safetensors::Dtype::F32 { 4 } else { 8 };
        model_file::RawTensor {
            name: name.into(),
            dtype,
            shape: shape.to_vec(),
            bytes: (0..shape.iter().product::<usize>() * size)
                .map(|i| (i % 7) as u8)
                .collect(),
        }
    };
    let tensors = [
        t("encoder.proj", safetensors::Dtype::F32, &[8, 6]),
        t("encoder.conv", safetensors::Dtype::F32, &[4, 2, 3]),
        t("head.kernel", safetensors::Dtype::F32, &[5, 4, 3, 3]),
        t("encoder.bias", safetensors::Dtype::F32, &[8]),
        t("steps", safetensors::Dtype::I64, &[2, 2]),
    ];
    model_file::write_tensors(&path, &tensors, &Default::default()).unwrap();
    let out = program_timing("tensors-program", &["--model", path.to_str().unwrap()]);
    assert!(
        out.contains(&format!("3 layers, {} weights", 48 + 24 + 180)),
        "{out}"
    );
}

#[test]
fn layer_files_and_neurosim_network_csv_are_timed() {
    let dir = scratch("layers");
    let neurosim = dir.join("NetWork.csv");
    std::fs::write(
        &neurosim,
        "32,32,3,3,3,128,0,1\n32,32,128,3,3,128,1,1\n1,1,8192,1,1,1024,0,1\n1,1,1024,1,1,10,0,1\n",
    )
    .unwrap();
    let out = program_timing("neurosim", &["--layers", neurosim.to_str().unwrap()]);
    let weights = 3 * 9 * 128 + 128 * 9 * 128 + 8192 * 1024 + 1024 * 10;
    assert!(out.contains(&format!("4 layers, {weights} weights")), "{out}");
    let toml = dir.join("net.toml");
    std::fs::write(&toml, "[[layer]]\nname = \"conv1\"\nkind = \"conv\"\nin = 3\nout = 16\nkernel = [3, 3]\n\n[[layer]]\nname = \"fc\"\nkind = \"linear\"\nin = 64\nout = 10\n").unwrap();
    let out = program_timing("toml", &["--shape", toml.to_str().unwrap()]);
    assert!(
        out.contains(&format!("2 layers, {} weights", 16 * 27 + 640)),
        "{out}"
    );
    // A bad row is exit 2, naming the file, the row and the column.
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "name,kind,in,out,kernel,stride\nconv1,conv,3,0,3,1\n").unwrap();
    let (code, _, err) = uswim(&[
        "program",
        "--layers",
        bad.to_str().unwrap(),
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.csv") && err.contains("row 2"), "{err}");
    // Weights-only networks refuse inference.
    let net = uswim::nn::timing::shape(toml.to_str().unwrap(), 0).unwrap();
    assert!(!net.is_runnable());
}

/// A `.npy` file's bytes: little-endian `descr`, C order.
fn npy(descr: &str, shape: &[usize], body: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = if shape.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((header.len() as u16).to_le_bytes());
    b.extend(header.as_bytes());
    b.extend(body);
    b
}

/// Writes an `.npz` archive (deflated, as `np.savez_compressed`) of `(name, npy bytes)`.
fn write_npz(path: &Path, arrays: &[(&str, Vec<u8>)]) {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in arrays {
        zip.start_file(format!("{name}.npy"), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// `n` images of 3x12x12 (the ResNet-20 fixture's input) as uint8 NHWC, and their labels (int64).
fn cifar_like(n: usize) -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..n * 12 * 12 * 3).map(|i| (i * 37 % 251) as u8).collect();
    let labels: Vec<u8> = (0..n as i64).flat_map(|i| (i % 10).to_le_bytes()).collect();
    (npy("|u1", &[n, 12, 12, 3], &pixels), npy("<i8", &[n], &labels))
}

#[test]
fn npz_datasets_load_channels_last_bytes_and_feed_eval_and_analyze() {
    let dir = scratch("npz");
    let path = dir.join("cifar_like.npz");
    let (images, labels) = cifar_like(8);
    write_npz(
        &path,
        &[
            ("x_train", images.clone()),
            ("y_train", labels.clone()),
            ("x_test", images),
            ("y_test", labels),
        ],
    );
    let spec = path.to_str().unwrap();
    let data = uswim::nn::Dataset::load(spec, uswim::nn::Split::Train).unwrap();
    assert_eq!(data.images().shape(), &[8, 3, 12, 12]);
    // NHWC element (n=1, h=2, w=5, c=2) is NCHW (1, 2, 2, 5), scaled as ToTensor.
    let flat = ((12 + 2) * 12 + 5) * 3 + 2;
    assert_eq!(data.images()[[1, 2, 2, 5]], ((flat * 37 % 251) as f32) / 255.0);
    assert_eq!(data.labels()[..3], [0, 1, 2]);
    let model = fixture("resnet20.onnx");
    let (code, out, err) = uswim(&["eval", "--model", model.to_str().unwrap(), "--data", spec]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains('%'), "{out}");
    let (code, _, err) = uswim(&[
        "analyze",
        "--model",
        model.to_str().unwrap(),
        "--data",
        spec,
        "--calib-samples",
        "8",
        "--fraction",
        "0.1",
        "--hw",
        "paper_statistical",
        "--out",
        dir.join("analyze").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let mask = dir.join("analyze/mask.safetensors");
    assert!(mask.is_file());
    // The analyzer's mask programs the same graph.
    let out = program_timing(
        "npz-program",
        &[
            "--model",
            model.to_str().unwrap(),
            "--mask",
            mask.to_str().unwrap(),
        ],
    );
    assert!(out.contains("22 layers"), "{out}");
}

#[test]
fn npz_datasets_with_wrong_shapes_are_refused_naming_the_array() {
    let dir = scratch("npz-bad");
    let (images, labels) = cifar_like(8);
    let short_labels = npy(
        "<i8",
        &[7],
        &(0..7i64).flat_map(i64::to_le_bytes).collect::<Vec<u8>>(),
    );
    let cases = [
        (
            "labels.npz",
            vec![("x_train", images.clone()), ("y_train", short_labels)],
            "y_train",
            "expected (8,)",
        ),
        (
            "flat.npz",
            vec![
                ("x_train", npy("|u1", &[8, 432], &[0u8; 8 * 432])),
                ("y_train", labels.clone()),
            ],
            "x_train",
            "expected (N, C, H, W)",
        ),
        (
            "missing.npz",
            vec![("x_train", images)],
            "train_labels",
            "arrays found: x_train",
        ),
    ];
    for (file, arrays, name, expected) in cases {
        let path = dir.join(file);
        write_npz(&path, &arrays);
        let e = uswim::nn::Dataset::load(path.to_str().unwrap(), uswim::nn::Split::Train)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(file) && e.contains(name) && e.contains(expected),
            "{e}"
        );
        let (code, _, err) = uswim(&[
            "eval",
            "--model",
            fixture("resnet20.onnx").to_str().unwrap(),
            "--data",
            path.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{err}");
    }
    let garbage = dir.join("garbage.npz");
    std::fs::write(&garbage, b"not a zip").unwrap();
    let e = uswim::nn::Dataset::load(garbage.to_str().unwrap(), uswim::nn::Split::Test)
        .unwrap_err()
        .to_string();
    assert!(e.contains("garbage.npz") && e.contains("not a valid .npz"), "{e}");
}

#[test]
fn mean_and_std_arrays_normalise_per_channel() {
    let dir = scratch("npz-norm");
    let path = dir.join("norm.npz");
    let (images, labels) = cifar_like(2);
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    write_npz(
        &path,
        &[
            ("images", images),
            ("labels", labels),
            ("mean", npy("<f4", &[3], &f32s(&[0.5, 0.4, 0.3]))),
            ("std", npy("<f4", &[3], &f32s(&[0.25, 0.5, 2.0]))),
        ],
    );
    let data = uswim::nn::Dataset::load(path.to_str().unwrap(), uswim::nn::Split::Test).unwrap();
    let raw = |c: usize| (((12 + 2) * 12 + 5) * 3 + c) * 37 % 251;
    for (c, (m, s)) in [(0.5f32, 0.25f32), (0.4, 0.5), (0.3, 2.0)]
        .into_iter()
        .enumerate()
    {
        let want = (raw(c) as f32 / 255.0 - m) / s;
        assert!((data.images()[[1, c, 2, 5]] - want).abs() < 1e-6);
    }
    // A file normalised by its own arrays is not normalised a second time by --normalize.
    let twice = uswim::nn::normalize::Normalization::parse("0.5,0.5", "--normalize").unwrap();
    let e = uswim::nn::normalize::load(path.to_str().unwrap(), uswim::nn::Split::Test, Some(&twice))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--normalize") && e.contains("normalised already"),
        "{e}"
    );
}

/// The per-channel `(x - mean) / std` of `--normalize 0.5,0.4,0.3,0.25,0.5,2` applied to `cifar_like`
/// bytes, computed here as f32 the way the loader does it.
fn normalised_floats(images_npy: &[u8], n: usize) -> Vec<u8> {
    let (mean, std) = ([0.5f32, 0.4, 0.3], [0.25f32, 0.5, 2.0]);
    let pixels = &images_npy[images_npy.len() - n * 12 * 12 * 3..];
    let floats: Vec<f32> = pixels
        .iter()
        .enumerate()
        .map(|(i, &b)| (f32::from(b) / 255.0 - mean[i % 3]) / std[i % 3])
        .collect();
    npy(
        "<f4",
        &[n, 12, 12, 3],
        &floats.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>(),
    )
}

const NORMALIZE: &str = "0.5,0.4,0.3,0.25,0.5,2";

/// Two npz datasets of the same 8 images: raw bytes, and the floats `--normalize NORMALIZE` makes.
fn raw_and_normalised_npz(dir: &Path) -> (String, String) {
    let (images, labels) = cifar_like(8);
    let floats = normalised_floats(&images, 8);
    let raw = dir.join("raw.npz");
    let pre = dir.join("pre.npz");
    write_npz(&raw, &[("images", images), ("labels", labels.clone())]);
    write_npz(&pre, &[("images", floats), ("labels", labels)]);
    (raw.display().to_string(), pre.display().to_string())
}

/// A three-channel `--normalize` on MNIST (one channel) is refused with exit 2, naming the flag and both
/// counts; so is a malformed one.
fn assert_normalize_refused(args: &[&str]) {
    let mut with = args.to_vec();
    with.extend(["--normalize", NORMALIZE]);
    let (code, _, err) = uswim(&with);
    assert_eq!(code, 2, "{args:?}: {err}");
    assert!(
        err.contains("--normalize") && err.contains("3 means and 3 stds") && err.contains("1 channel"),
        "{args:?}: {err}"
    );
    let mut bad = args.to_vec();
    bad.extend(["--normalize", "0.5,0.2,0.1"]);
    let (code, _, err) = uswim(&bad);
    assert_eq!(code, 2, "{args:?}: {err}");
    assert!(
        err.contains("--normalize") && err.contains("3 numbers") && err.contains("C means then the C stds"),
        "{args:?}: {err}"
    );
}

#[test]
fn normalize_on_eval_equals_the_pre_normalised_file_and_bad_ones_are_refused() {
    let dir = scratch("normalize-eval");
    let (raw, pre) = raw_and_normalised_npz(&dir);
    let model = fixture("resnet20.onnx");
    let model = model.to_str().unwrap();
    let eval = |data: &str, extra: &[&str]| {
        let mut args = vec!["eval", "--model", model, "--data", data, "--json"];
        args.extend(extra);
        let (code, out, err) = uswim(&args);
        assert_eq!(code, 0, "{err}");
        let json: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        json["correct"].as_u64().unwrap()
    };
    let normalised = eval(&raw, &["--normalize", NORMALIZE]);
    assert_eq!(normalised, eval(&pre, &[]));
    // The in-process loader gives the very same floats.
    let n = uswim::nn::normalize::Normalization::parse(NORMALIZE, "--normalize").unwrap();
    let a = uswim::nn::normalize::load(&raw, uswim::nn::Split::Test, Some(&n)).unwrap();
    let b = uswim::nn::Dataset::load(&pre, uswim::nn::Split::Test).unwrap();
    assert_eq!(a.images(), b.images());
    assert_ne!(
        uswim::nn::Dataset::load(&raw, uswim::nn::Split::Test)
            .unwrap()
            .images(),
        b.images()
    );
    let lenet = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lenet_mnist.safetensors");
    assert_normalize_refused(&["eval", "--model", lenet.to_str().unwrap(), "--data", "mnist"]);
}

#[test]
fn normalize_on_analyze_and_program_equals_the_pre_normalised_file() {
    let dir = scratch("normalize-analyze");
    let (raw, pre) = raw_and_normalised_npz(&dir);
    let model = fixture("resnet20.onnx");
    let model = model.to_str().unwrap();
    let analyze = |data: &str, out: &str, extra: &[&str]| {
        let out = dir.join(out);
        let mut args = vec![
            "analyze",
            "--model",
            model,
            "--data",
            data,
            "--calib-samples",
            "8",
            "--fraction",
            "0.1",
            "--hw",
            "paper_statistical",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        let (code, _, err) = uswim(&args);
        assert_eq!(code, 0, "{err}");
        std::fs::read_to_string(out.join("sensitivity.csv")).unwrap()
    };
    let flagged = analyze(&raw, "flag", &["--normalize", NORMALIZE]);
    assert_eq!(flagged, analyze(&pre, "pre", &[]));
    assert_ne!(flagged, analyze(&raw, "raw", &[]));

    let program = |data: &str, out: &str, extra: &[&str]| {
        let out = dir.join(out);
        let mut args = vec![
            "program",
            "--model",
            model,
            "--hw",
            "paper_statistical",
            "--mask",
            "random:0.2",
            "--trace-level",
            "off",
            "--quiet",
            "--data",
            data,
            "--mc-runs",
            "2",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        let (code, _, err) = uswim(&args);
        assert_eq!(code, 0, "{err}");
        std::fs::read_to_string(out.join("accuracy.csv")).unwrap()
    };
    assert_eq!(
        program(&raw, "p-flag", &["--normalize", NORMALIZE]),
        program(&pre, "p-pre", &[])
    );
    let lenet = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lenet_mnist.safetensors");
    let lenet = lenet.to_str().unwrap();
    let out = dir.join("refused");
    let out = out.to_str().unwrap();
    assert_normalize_refused(&[
        "analyze",
        "--model",
        lenet,
        "--data",
        "mnist",
        "--fraction",
        "0.1",
        "--out",
        out,
    ]);
    assert_normalize_refused(&[
        "program",
        "--model",
        lenet,
        "--data",
        "mnist",
        "--trace-level",
        "off",
        "--out",
        out,
    ]);
    // Without a dataset there is nothing to normalise.
    let (code, _, err) = uswim(&[
        "program",
        "--model",
        lenet,
        "--normalize",
        "0.5,0.5",
        "--out",
        out,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--normalize") && err.contains("--data"), "{err}");
}

#[test]
fn normalize_on_reproduce_and_train_is_checked_against_the_dataset() {
    let dir = scratch("normalize-train");
    let lenet = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lenet_mnist.safetensors");
    let out = dir.join("out");
    assert_normalize_refused(&[
        "reproduce",
        "--model",
        lenet.to_str().unwrap(),
        "--data",
        "mnist",
        "--out",
        out.to_str().unwrap(),
    ]);
    let file = dir.join("m.safetensors");
    assert_normalize_refused(&[
        "train",
        "--arch",
        "lenet",
        "--data",
        "mnist",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(!file.exists());
}

#[test]
fn the_normalize_key_of_sweep_specs_is_parsed_hashed_and_applied() {
    use uswim::experiment::sweep_spec::SweepSpec;
    let dir = scratch("normalize-sweep");
    let spec = |extra: &str| {
        format!(
            "hw = \"paper_statistical\"\nmodel = \"lenet\"\ndata = \"mnist\"\nmc_runs = 1\ntest_images = 10\n{extra}\n\
             [[axis]]\nkey = \"fraction\"\nvalues = [1.0]\n"
        )
    };
    let parse = |text: &str| SweepSpec::parse(text, "spec.toml", &dir);
    let plain = parse(&spec("")).unwrap();
    let normalised = parse(&spec("normalize = \"0.1307,0.3081\"")).unwrap();
    assert_eq!(normalised.normalize.as_ref().unwrap().mean(), &[0.1307]);
    assert!(plain.normalize.is_none());
    assert_ne!(plain.hash_hex(), normalised.hash_hex());
    let e = parse(&spec("normalize = \"0.1,0.2,0.3\""))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("spec.toml") && e.contains("normalize") && e.contains("3 numbers"),
        "{e}"
    );
    // Applied to the dataset: three channels on MNIST are refused when the test set loads.
    let path = dir.join("bad.toml");
    std::fs::write(&path, spec(&format!("normalize = \"{NORMALIZE}\""))).unwrap();
    let (code, _, err) = uswim(&[
        "sweep",
        "--spec",
        path.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("normalize") && err.contains("3 means and 3 stds") && err.contains("1 channel"),
        "{err}"
    );
}
