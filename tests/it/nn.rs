//! The neural-network engine: gradients against finite differences, convolution semantics against
//! hand-computed cases, training accuracy, model files, datasets, determinism.

use ndarray::{Array4, IxDyn};
use rand::Rng;
use std::collections::BTreeMap;
use std::path::PathBuf;
use uswim::nn::loss::SoftmaxCrossEntropy;
use uswim::nn::train::{TrainConfig, train};
use uswim::nn::{Builder, Dataset, Layer, Network, Order, SampleShape, Split, Tensor, model_file, zoo};
use uswim::rng::{Purpose, stream};

/// A tensor of `shape` with values uniform in `[lo, hi)`.
fn uniform(shape: &[usize], seed: u64, lo: f32, hi: f32) -> Tensor {
    let mut rng = stream(seed, Purpose::Device, 77);
    Tensor::from_shape_fn(IxDyn(shape), |_| rng.random_range(lo..hi))
}

/// A tensor of `shape` whose values are distinct and at least `gap` apart, away from zero by at least
/// `gap/2`, in random order: no ReLU kink or max-pool tie lies within `gap/2` of any value.
fn distinct(shape: &[usize], seed: u64, gap: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let mut values: Vec<f32> = (0..n).map(|i| (i as f32 - n as f32 / 2.0 + 0.5) * gap).collect();
    let mut rng = stream(seed, Purpose::Device, 78);
    for i in (1..n).rev() {
        values.swap(i, rng.random_range(0..=i));
    }
    Tensor::from_shape_vec(IxDyn(shape), values).unwrap()
}

/// `sum r * net(x)` in f64: a loss that is linear in the network's output.
fn objective(net: &Network, x: &Tensor, r: &Tensor) -> f64 {
    let y = net.forward(x.clone());
    y.iter()
        .zip(r.iter())
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum()
}

/// The largest error of central differences against `analytic`, relative to the largest analytic
/// value, over coordinates where the objective is linear across the step, and the count of
/// coordinates skipped because a kink (ReLU at zero, max-pool switch) lies within the step.
///
/// The networks checked here are piecewise linear in every single weight and input, so a central
/// difference is exact except for f32 rounding where no kink is crossed; a kink shows as one-sided
/// slopes that disagree.
fn compare(analytic: &[f32], mut eval: impl FnMut(usize, f32) -> f64, h: f32) -> (f64, usize) {
    let scale = analytic
        .iter()
        .fold(0.0f64, |m, &g| m.max(f64::from(g.abs())))
        .max(1e-6);
    let mut worst = 0.0f64;
    let mut skipped = 0;
    for (i, &g) in analytic.iter().enumerate() {
        let (lp, l0, lm) = (eval(i, h), eval(i, 0.0), eval(i, -h));
        let h = f64::from(h);
        let (right, left) = ((lp - l0) / h, (l0 - lm) / h);
        if (right - left).abs() > 1e-3 * scale {
            skipped += 1;
            continue;
        }
        let fd = (lp - lm) / (2.0 * h);
        worst = worst.max((fd - f64::from(g)).abs() / scale);
    }
    (worst, skipped)
}

/// Checks the input gradient and every trainable parameter's gradient of `net` at `x` against
/// central differences (step `h`), for the objective `sum r * net(x)`.
fn check_gradients(case: &str, mut net: Network, x: Tensor, h: f32) {
    let batch = x.shape()[0];
    let out = net.forward(x.clone());
    let r = uniform(out.shape(), 5, -1.0, 1.0);
    let (_, tape) = net.forward_train(x.clone());
    let mut grads = net.zeros_like_params();
    let dx = net.backward_to_input(&tape, r.clone(), Order::First, &mut grads);
    // Input gradient.
    let (worst, skipped) = compare(
        dx.as_slice().unwrap(),
        |i, d| {
            let mut xp = x.clone();
            xp.as_slice_mut().unwrap()[i] += d;
            objective(&net, &xp, &r)
        },
        h,
    );
    assert!(worst < 1e-3, "{case}: input gradient relative error {worst:e}");
    assert!(
        skipped * 4 <= x.len(),
        "{case}: {skipped} of {} inputs straddle a kink",
        x.len()
    );
    // Parameter gradients (kinks counted over all parameters of the case).
    let (mut skipped_all, mut total) = (0, 0);
    for (p, grad) in grads.iter().enumerate() {
        if !net.param(p).kind.is_trainable() {
            continue;
        }
        let name = net.param(p).name.clone();
        let g = grad.as_slice().unwrap().to_vec();
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
        );
        assert!(
            worst < 1e-3,
            "{case}: {name} gradient relative error {worst:e} (batch {batch})"
        );
        skipped_all += skipped;
        total += g.len();
    }
    assert!(
        skipped_all * 4 <= total,
        "{case}: {skipped_all} of {total} parameters straddle a kink"
    );
}

/// Random batch-norm statistics and affine parameters, so that batch-norm is not the identity.
fn randomize_batch_norms(net: &mut Network, seed: u64) {
    let names: Vec<String> = net.param_names().iter().map(|s| s.to_string()).collect();
    for (k, name) in names.iter().enumerate() {
        let n = net.tensor(name).unwrap().len();
        let (lo, hi) = if name.ends_with("running_var") {
            (0.5, 2.0)
        } else if name.ends_with("running_mean") || name.ends_with("bn.bias") {
            (-0.3, 0.3)
        } else if name.ends_with("bn.weight") {
            (0.5, 1.5)
        } else {
            continue;
        };
        let v = uniform(&[n], seed + k as u64, lo, hi);
        net.set_tensor(name, v.as_slice().unwrap()).unwrap();
    }
}

/// Builds a small test network from `layers` on `input`, initialised with `seed`.
fn tiny(input: SampleShape, seed: u64, layers: impl FnOnce(&mut Builder) -> Vec<Layer>) -> Network {
    let mut b = Builder::new("test", input);
    let mut l = layers(&mut b);
    if !matches!(b.shape(), SampleShape::Flat(_)) {
        l.push(b.flatten());
    }
    let mut net = b.finish(l);
    net.initialize(seed);
    net
}

#[test]
fn every_layer_type_matches_central_differences() {
    let img = SampleShape::image;
    let cases: Vec<(&str, Network, Tensor)> = vec![
        (
            "linear",
            tiny(SampleShape::Flat(7), 1, |b| vec![b.linear("fc", 5, true)]),
            uniform(&[3, 7], 1, -1.0, 1.0),
        ),
        (
            "linear without bias",
            tiny(SampleShape::Flat(6), 2, |b| vec![b.linear("fc", 4, false)]),
            uniform(&[2, 6], 2, -1.0, 1.0),
        ),
        (
            "conv 3x3 stride 1 pad 1",
            tiny(img(2, 5, 5), 3, |b| vec![b.conv2d("conv", 3, 3, 1, 1, true)]),
            uniform(&[2, 2, 5, 5], 3, -1.0, 1.0),
        ),
        (
            "conv 3x3 stride 2 pad 1, non-square, no bias",
            tiny(img(2, 6, 5), 4, |b| vec![b.conv2d("conv", 3, 3, 2, 1, false)]),
            uniform(&[2, 2, 6, 5], 4, -1.0, 1.0),
        ),
        (
            "conv 3x3 stride 2 no pad",
            tiny(img(1, 7, 7), 5, |b| vec![b.conv2d("conv", 2, 3, 2, 0, true)]),
            uniform(&[2, 1, 7, 7], 5, -1.0, 1.0),
        ),
        (
            "conv 1x1 pointwise",
            tiny(img(3, 4, 4), 6, |b| vec![b.conv2d("conv", 2, 1, 1, 0, true)]),
            uniform(&[2, 3, 4, 4], 6, -1.0, 1.0),
        ),
        (
            "conv 1x1 stride 2",
            tiny(img(3, 4, 4), 7, |b| vec![b.conv2d("conv", 2, 1, 2, 0, false)]),
            uniform(&[2, 3, 4, 4], 7, -1.0, 1.0),
        ),
        (
            "relu",
            tiny(img(2, 3, 3), 8, |b| vec![b.relu()]),
            distinct(&[2, 2, 3, 3], 8, 0.05),
        ),
        (
            "conv then relu",
            tiny(img(2, 5, 5), 9, |b| {
                vec![b.conv2d("conv", 3, 3, 1, 1, true), b.relu()]
            }),
            uniform(&[2, 2, 5, 5], 9, -1.0, 1.0),
        ),
        (
            "max-pool 2/2",
            tiny(img(2, 4, 6), 10, |b| vec![b.max_pool(2, 2)]),
            distinct(&[2, 2, 4, 6], 10, 0.05),
        ),
        (
            "max-pool 3/2 (overlapping)",
            tiny(img(1, 7, 7), 11, |b| vec![b.max_pool(3, 2)]),
            distinct(&[2, 1, 7, 7], 11, 0.05),
        ),
        (
            "avg-pool 2/2",
            tiny(img(2, 4, 6), 12, |b| vec![b.avg_pool(2, 2)]),
            uniform(&[2, 2, 4, 6], 12, -1.0, 1.0),
        ),
        (
            "avg-pool 4/4",
            tiny(img(3, 4, 4), 13, |b| vec![b.avg_pool(4, 4)]),
            uniform(&[2, 3, 4, 4], 13, -1.0, 1.0),
        ),
        (
            "flatten then linear (channel-height-width order)",
            tiny(img(2, 3, 3), 14, |b| {
                vec![
                    b.conv2d("conv", 2, 3, 1, 1, true),
                    b.flatten(),
                    b.linear("fc", 3, true),
                ]
            }),
            uniform(&[2, 2, 3, 3], 14, -1.0, 1.0),
        ),
        (
            "batch-norm (eval)",
            tiny(img(2, 4, 4), 15, |b| {
                vec![b.conv2d("conv", 3, 3, 1, 1, true), b.batch_norm("bn")]
            }),
            uniform(&[2, 2, 4, 4], 15, -1.0, 1.0),
        ),
        (
            "residual block, identity shortcut",
            tiny(img(3, 4, 4), 16, |b| {
                vec![b.residual(
                    |b| {
                        vec![
                            b.conv2d("c1", 3, 3, 1, 1, false),
                            b.batch_norm("bn"),
                            b.relu(),
                            b.conv2d("c2", 3, 3, 1, 1, false),
                        ]
                    },
                    |_| Vec::new(),
                )]
            }),
            uniform(&[2, 3, 4, 4], 16, -1.0, 1.0),
        ),
        (
            "residual block, strided conv shortcut",
            tiny(img(2, 6, 6), 17, |b| {
                vec![b.residual(
                    |b| {
                        vec![
                            b.conv2d("c1", 4, 3, 2, 1, false),
                            b.relu(),
                            b.conv2d("c2", 4, 3, 1, 1, false),
                        ]
                    },
                    |b| vec![b.conv2d("sc", 4, 1, 2, 0, false), b.batch_norm("bn")],
                )]
            }),
            uniform(&[2, 2, 6, 6], 17, -1.0, 1.0),
        ),
    ];
    for (case, mut net, x) in cases {
        randomize_batch_norms(&mut net, 99);
        check_gradients(case, net, x, 1e-3);
    }
}

#[test]
fn cross_entropy_gradient_matches_central_differences() {
    // The loss is smooth in the last layer's weights (no ReLU after it), so the central difference
    // error is O(h^2): with h = 1e-2 on weights of size ~0.1, below 1e-4 relative.
    let mut net = zoo::build("lenet").unwrap();
    net.initialize(3);
    let x = uniform(&[4, 1, 28, 28], 3, 0.0, 1.0);
    let labels = [3u8, 1, 4, 1];
    let loss = |net: &Network| SoftmaxCrossEntropy::new(&net.forward(x.clone()), &labels).loss_sum;
    let (logits, tape) = net.forward_train(x.clone());
    let ce = SoftmaxCrossEntropy::new(&logits, &labels);
    let mut grads = net.zeros_like_params();
    net.backward(&tape, ce.gradient(&labels, 1.0), Order::First, &mut grads);
    for name in ["fc3.weight", "fc3.bias"] {
        let p = net.param_index(name).unwrap();
        let g = grads[p].as_slice().unwrap().to_vec();
        let scale = g.iter().fold(0.0f64, |m, v| m.max(f64::from(v.abs())));
        let h = 1e-2f32;
        for i in (0..g.len()).step_by(7) {
            let old = net.values_mut(p)[i];
            net.values_mut(p)[i] = old + h;
            let lp = loss(&net);
            net.values_mut(p)[i] = old - h;
            let lm = loss(&net);
            net.values_mut(p)[i] = old;
            let fd = (lp - lm) / (2.0 * f64::from(h));
            let err = (fd - f64::from(g[i])).abs() / scale;
            assert!(
                err < 1e-3,
                "{name}[{i}]: fd {fd} analytic {} (relative error {err:e})",
                g[i]
            );
        }
    }
}

#[test]
fn convolution_is_cross_correlation_with_pytorch_layout() {
    // A kernel with a single 1 to the right of the centre shifts the image left (PyTorch's conv2d is
    // a cross-correlation), with zero padding entering from the right.
    let mut b = Builder::new("shift", SampleShape::image(1, 3, 3));
    let layers = vec![b.conv2d("conv", 2, 3, 1, 1, true), b.flatten()];
    let mut net = b.finish(layers);
    let mut w = vec![0.0f32; 2 * 9];
    w[5] = 1.0; // out 0, in 0, row 1, column 2
    w[9 + 1] = 2.0; // out 1, in 0, row 0, column 1: the pixel above, doubled
    net.set_tensor("conv.weight", &w).unwrap();
    net.set_tensor("conv.bias", &[0.0, 0.5]).unwrap();
    let x = Tensor::from_shape_vec(IxDyn(&[1, 1, 3, 3]), (1..=9).map(|v| v as f32).collect()).unwrap();
    let y = net.forward(x);
    let out: Vec<f32> = y.iter().copied().collect();
    // Channel 0: shifted left; channel 1: 2 * the pixel above + 0.5 (flattened channel-first).
    assert_eq!(
        out,
        vec![
            2.0, 3.0, 0.0, 5.0, 6.0, 0.0, 8.0, 9.0, 0.0, 0.5, 0.5, 0.5, 2.5, 4.5, 6.5, 8.5, 10.5, 12.5
        ]
    );
}

#[test]
fn max_pool_takes_the_first_maximum_and_strides() {
    let mut b = Builder::new("pool", SampleShape::image(1, 4, 4));
    let layers = vec![b.max_pool(2, 2), b.flatten()];
    let net = b.finish(layers);
    let x = Tensor::from_shape_vec(
        IxDyn(&[1, 1, 4, 4]),
        vec![1., 5., 2., 2., 3., 0., 2., 2., -1., -2., 9., 8., -3., -4., 7., 9.],
    )
    .unwrap();
    let (y, tape) = net.forward_train(x.clone());
    assert_eq!(y.iter().copied().collect::<Vec<_>>(), vec![5.0, 2.0, -1.0, 9.0]);
    let mut grads = net.zeros_like_params();
    let dx = net.backward_to_input(
        &tape,
        Tensor::from_elem(IxDyn(&[1, 4]), 1.0),
        Order::First,
        &mut grads,
    );
    // Ties (2, 2, 2, 2 and 9 ... 9) go to the first position in row-major order.
    let want = [0., 1., 1., 0., 0., 0., 0., 0., 1., 0., 1., 0., 0., 0., 0., 0.];
    assert_eq!(dx.iter().copied().collect::<Vec<_>>(), want);
}

#[test]
fn parallel_inference_matches_the_single_batch_forward() {
    let mut net = zoo::build("lenet").unwrap();
    net.initialize(11);
    let x = uniform(&[150, 1, 28, 28], 11, 0.0, 1.0);
    let whole = net.forward(x.clone());
    let images = x.clone().into_dimensionality::<ndarray::Ix4>().unwrap();
    let logits = net.logits(images.view()).unwrap();
    for (a, b) in whole.iter().zip(logits.iter()) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "{a} vs {b}");
    }
    let predicted = net.predict(images.view()).unwrap();
    let labels: Vec<u8> = predicted.iter().map(|&p| p as u8).collect();
    let data = Dataset::new("synthetic", images.clone(), labels).unwrap();
    let acc = net.accuracy(&data).unwrap();
    assert_eq!((acc.correct, acc.images), (150, 150));
    let wrong = Dataset::new("synthetic", Array4::zeros((2, 1, 32, 32)), vec![0, 1]).unwrap();
    let e = net.accuracy(&wrong).unwrap_err();
    assert!(e.to_string().contains("1x28x28"), "{e}");
}

#[test]
fn resnet18_runs_on_cifar_shaped_input() {
    let net = zoo::build("resnet18").unwrap();
    let x = uniform(&[2, 3, 32, 32], 4, 0.0, 1.0);
    let y = net.forward(x);
    assert_eq!(y.shape(), &[2, 10]);
    assert!(y.iter().all(|v| v.is_finite()));
}

#[test]
fn mnist_and_fashion_mnist_load_by_name_and_by_path() {
    let test = Dataset::load("mnist", Split::Test).unwrap();
    assert_eq!(test.len(), 10_000);
    assert_eq!(test.sample_shape(), SampleShape::image(1, 28, 28));
    assert_eq!(test.num_classes(), 10);
    let (lo, hi) = test
        .images()
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert_eq!((lo, hi), (0.0, 1.0));
    let fashion = Dataset::load("fashion-mnist", Split::Test).unwrap();
    assert_eq!(fashion.len(), 10_000);
    assert_ne!(fashion.images(), test.images());
    let dir = uswim::nn::dataset::resolve("mnist").unwrap();
    let by_path = Dataset::load(dir.to_str().unwrap(), Split::Test).unwrap();
    assert_eq!(by_path.labels(), test.labels());
    let e = Dataset::load("cifar", Split::Test).unwrap_err();
    assert!(e.to_string().contains("mnist, fashion-mnist"), "{e}");
}

/// A scratch folder for this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uswim-nn-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn raw_idx_files_load_from_a_folder_and_bad_ones_are_named() {
    let dir = scratch("idx");
    let mut images = vec![0u8, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3];
    images.extend([0, 51, 102, 153, 204, 255, 255, 0, 0, 0, 0, 0]);
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte"),
        [0u8, 0, 8, 1, 0, 0, 0, 2, 7, 1],
    )
    .unwrap();
    let d = Dataset::load(dir.to_str().unwrap(), Split::Test).unwrap();
    assert_eq!(d.images().shape(), &[2, 1, 2, 3]);
    assert_eq!(d.labels(), &[7, 1]);
    assert_eq!(d.images()[[0, 0, 0, 1]], 0.2);
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte"),
        [0u8, 0, 8, 1, 0, 0, 0, 3, 7, 1, 2],
    )
    .unwrap();
    let e = Dataset::load(dir.to_str().unwrap(), Split::Test).unwrap_err();
    assert!(e.to_string().contains("one label per image"), "{e}");
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), &images[..20]).unwrap();
    let e = Dataset::load(dir.to_str().unwrap(), Split::Test).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
    let e = Dataset::load(dir.to_str().unwrap(), Split::Train).unwrap_err();
    assert!(e.to_string().contains("train-images"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn model_files_round_trip_and_bad_ones_give_clear_errors() {
    let dir = scratch("model");
    let mut net = zoo::build("lenet").unwrap();
    net.initialize(42);
    let path = dir.join("lenet.safetensors");
    let meta = BTreeMap::from([("arch".to_string(), "lenet".to_string())]);
    model_file::save(&net, &path, &meta).unwrap();
    let (back, got_meta) = model_file::load(None, &path).unwrap();
    assert_eq!(back, net);
    // The same model and metadata give the same bytes.
    let again = dir.join("again.safetensors");
    model_file::save(&back, &again, &got_meta).unwrap();
    assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&path).unwrap());
    assert_eq!(got_meta.get("arch").map(String::as_str), Some("lenet"));

    // Wrong architecture: every mismatch listed, with both full lists.
    let e = model_file::load(Some("mlp"), &path).unwrap_err().to_string();
    assert!(
        e.contains("wrong shape fc1.weight: expected [256, 784], found [120, 784]"),
        "{e}"
    );
    assert!(
        e.contains("wrong shape fc3.weight: expected [10, 128], found [10, 84]"),
        "{e}"
    );
    assert!(e.contains("unexpected conv1.weight [6, 1, 3, 3]"), "{e}");
    assert!(
        e.contains("expected: fc1.weight [256, 784], fc1.bias [256]"),
        "{e}"
    );
    assert!(e.contains("found: conv1.bias [6]"), "{e}");

    // A missing tensor.
    let file = model_file::read_tensors(&path).unwrap();
    let partial: Vec<_> = file
        .tensors
        .iter()
        .filter(|t| t.name != "fc2.bias")
        .cloned()
        .collect();
    let missing = dir.join("missing.safetensors");
    model_file::write_tensors(&missing, &partial, &BTreeMap::new()).unwrap();
    let e = model_file::load(Some("lenet"), &missing).unwrap_err().to_string();
    assert!(
        e.contains("missing fc2.bias [84]") && !e.contains("unexpected"),
        "{e}"
    );

    // A wrong shape.
    let reshaped: Vec<_> = file
        .tensors
        .iter()
        .map(|t| {
            let mut t = t.clone();
            if t.name == "conv1.weight" {
                t.shape = vec![6, 9];
            }
            t
        })
        .collect();
    let wrong = dir.join("wrong.safetensors");
    model_file::write_tensors(&wrong, &reshaped, &BTreeMap::new()).unwrap();
    let e = model_file::load(Some("lenet"), &wrong).unwrap_err().to_string();
    assert!(
        e.contains("wrong shape conv1.weight: expected [6, 1, 3, 3], found [6, 9]"),
        "{e}"
    );

    // A truncated file.
    let bytes = std::fs::read(&path).unwrap();
    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let e = model_file::load(Some("lenet"), &truncated)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("truncated.safetensors") && e.contains("not a valid safetensors file"),
        "{e}"
    );
    std::fs::write(&truncated, &bytes[..5]).unwrap();
    assert!(model_file::load(Some("lenet"), &truncated).is_err());

    // A missing file, an unknown architecture, and no architecture at all.
    let e = model_file::load(Some("lenet"), &dir.join("nope.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot read"), "{e}");
    let e = model_file::load(Some("vgg"), &path).unwrap_err().to_string();
    assert!(e.contains("valid: mlp, lenet, convnet, resnet18"), "{e}");
    let e = model_file::load(None, &missing).unwrap_err().to_string();
    assert!(e.contains("does not record its architecture"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A safetensors file laid out by hand as PyTorch's `safetensors.torch.save_file` writes it (header
/// JSON with `__metadata__ {"format": "pt"}`, F32 little-endian data, batch-norm
/// `num_batches_tracked` as an I64 scalar), independent of our writer.
#[test]
fn a_pytorch_style_file_loads_and_ours_has_pytorch_names_and_layouts() {
    let dir = scratch("pt");
    let mut b = Builder::new("tiny", SampleShape::image(1, 2, 2));
    let layers = vec![
        b.conv2d("conv1", 2, 1, 1, 0, false),
        b.batch_norm("bn1"),
        b.flatten(),
        b.linear("fc", 3, true),
    ];
    let net = b.finish(layers);
    let tensors: Vec<(&str, Vec<usize>, Vec<f32>)> = vec![
        ("bn1.bias", vec![2], vec![0.1, 0.2]),
        ("bn1.running_mean", vec![2], vec![0.0, 0.5]),
        ("bn1.running_var", vec![2], vec![1.0, 4.0]),
        ("bn1.weight", vec![2], vec![1.0, 2.0]),
        ("conv1.weight", vec![2, 1, 1, 1], vec![3.0, -1.0]),
        ("fc.bias", vec![3], vec![0.0, 1.0, 2.0]),
        (
            "fc.weight",
            vec![3, 8],
            (0..24).map(|i| i as f32 / 10.0).collect(),
        ),
    ];
    let mut header = String::from("{\"__metadata__\":{\"format\":\"pt\"}");
    let mut data = Vec::new();
    header += ",\"bn1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}";
    data.extend(17i64.to_le_bytes());
    for (name, shape, values) in &tensors {
        let start = data.len();
        data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        header += &format!(
            ",\"{name}\":{{\"dtype\":\"F32\",\"shape\":{shape:?},\"data_offsets\":[{start},{}]}}",
            data.len()
        );
    }
    header += "}";
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend(header.as_bytes());
    file.extend(&data);
    let path = dir.join("torch.safetensors");
    std::fs::write(&path, &file).unwrap();
    let mut loaded = net.clone();
    model_file::load_into(&mut loaded, &path).unwrap();
    for (name, _, values) in &tensors {
        assert_eq!(
            loaded.tensor(name).unwrap().iter().copied().collect::<Vec<_>>(),
            *values,
            "{name}"
        );
    }
    // Ours: the same names, shapes and F32 values, plus PyTorch's counter.
    let ours = dir.join("ours.safetensors");
    model_file::save(&loaded, &ours, &BTreeMap::new()).unwrap();
    let back = model_file::read_tensors(&ours).unwrap();
    let names: Vec<&str> = back.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "bn1.bias",
            "bn1.num_batches_tracked",
            "bn1.running_mean",
            "bn1.running_var",
            "bn1.weight",
            "conv1.weight",
            "fc.bias",
            "fc.weight"
        ]
    );
    let fc = back.tensors.iter().find(|t| t.name == "fc.weight").unwrap();
    assert_eq!(fc.shape, vec![3, 8]);
    assert_eq!(fc.to_f32("x").unwrap(), tensors[6].2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn training_is_identical_for_any_thread_count() {
    let mut data = Dataset::load("mnist", Split::Train).unwrap();
    data.truncate(300);
    let config = TrainConfig {
        epochs: 1,
        batch_size: 50,
        learning_rate: 1e-3,
        seed: 9,
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut net = zoo::build("lenet").unwrap();
            net.initialize(9);
            train(&mut net, &data, &config, |_| {}).unwrap();
            net
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
    let mut fresh = zoo::build("lenet").unwrap();
    fresh.initialize(9);
    assert_ne!(one, fresh);
}

#[test]
fn one_epoch_of_lenet_on_mnist_reaches_97_percent() {
    let train_set = Dataset::load("mnist", Split::Train).unwrap();
    let test_set = Dataset::load("mnist", Split::Test).unwrap();
    let mut net = zoo::build("lenet").unwrap();
    net.initialize(1);
    let config = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    let last = train(&mut net, &train_set, &config, |_| {}).unwrap();
    assert_eq!(last.batches, 60_000usize.div_ceil(config.batch_size));
    let acc = net.accuracy(&test_set).unwrap();
    assert!(
        acc.fraction() >= 0.97,
        "test accuracy after one epoch: {:.4}",
        acc.fraction()
    );
}

#[test]
fn bad_training_settings_are_rejected() {
    let data = Dataset::new("d", Array4::zeros((1, 1, 28, 28)), vec![0]).unwrap();
    let mut net = zoo::build("mlp").unwrap();
    for (config, field) in [
        (
            TrainConfig {
                epochs: 0,
                ..TrainConfig::default()
            },
            "epochs",
        ),
        (
            TrainConfig {
                batch_size: 0,
                ..TrainConfig::default()
            },
            "batch_size",
        ),
        (
            TrainConfig {
                learning_rate: -1.0,
                ..TrainConfig::default()
            },
            "learning_rate",
        ),
    ] {
        let e = train(&mut net, &data, &config, |_| {}).unwrap_err();
        assert_eq!(e.field, field);
    }
}
