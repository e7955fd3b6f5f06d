//! The sensitivity analyzer: second derivatives against a finite difference of the gradient (last
//! layer, where the Gauss-Newton rule is exact) and against an independent slow reference of the OBD
//! rules (inner layers); scores, selection budgets and tie-breaking; output files.

use rand::Rng;
use std::collections::HashMap;
use uswim::nn::layers::{Layer, PoolKind};
use uswim::nn::{Builder, Dataset, Network, SampleShape, Split, zoo};
use uswim::rng::{Purpose, stream};
use uswim::sensitivity::{
    Budget, Curvature, LayerCurvature, Mask, Method, ScoreOptions, Scores, WeightDeviceInfo, analyze,
    read_csv, score, select, write_csv,
};

/// The first `n` MNIST training images.
fn mnist(n: usize) -> Dataset {
    let mut d = Dataset::load("mnist", Split::Train).unwrap();
    d.truncate(n);
    d
}

/// A LeNet with random weights from `seed`.
fn lenet(seed: u64) -> Network {
    let mut net = zoo::build("lenet").unwrap();
    net.initialize(seed);
    net
}

#[test]
fn last_layer_second_derivative_equals_a_finite_difference_of_the_gradient() {
    // For fc3 (logits z = W x + b) the diagonal Gauss-Newton term is the exact second derivative:
    // d2L/dW_oi^2 = p_o (1 - p_o) x_i^2. Compare with the central difference of the mean gradient (both
    // are means over the calibration set).
    // Error sources: O(h^2) truncation (the loss is smooth in W) and f32 rounding of gradients summed
    // over 48 samples; with h = 2e-2 both stay below 1e-3 of the largest second derivative.
    let calib = mnist(48);
    let mut net = lenet(5);
    let base = analyze(&net, &calib, |_, _| {}).unwrap();
    let k = base.layers.iter().position(|l| l.name == "fc3.weight").unwrap();
    let p = base.layers[k].param;
    let hess = &base.layers[k].hess;
    let scale = hess.iter().fold(0.0f64, |m, &v| m.max(f64::from(v)));
    let h = 2e-2f32;
    let mut rng = stream(1, Purpose::Device, 1);
    for _ in 0..25 {
        let i = rng.random_range(0..hess.len());
        let old = net.values_mut(p)[i];
        net.values_mut(p)[i] = old + h;
        let gp = f64::from(analyze(&net, &calib, |_, _| {}).unwrap().layers[k].grad[i]);
        net.values_mut(p)[i] = old - h;
        let gm = f64::from(analyze(&net, &calib, |_, _| {}).unwrap().layers[k].grad[i]);
        net.values_mut(p)[i] = old;
        let fd = (gp - gm) / (2.0 * f64::from(h));
        let err = (fd - f64::from(hess[i])).abs() / scale;
        assert!(
            err < 1e-3,
            "fc3.weight[{i}]: finite difference {fd}, hess {} (error {err:e})",
            hess[i]
        );
    }
}

/// A per-sample tensor of the reference: channels x height x width (flat: c x 1 x 1).
#[derive(Clone, Debug)]
struct T {
    c: usize,
    h: usize,
    w: usize,
    v: Vec<f64>,
}

impl T {
    fn zeros(c: usize, h: usize, w: usize) -> Self {
        Self {
            c,
            h,
            w,
            v: vec![0.0; c * h * w],
        }
    }
    fn at(&self, c: usize, i: usize, j: usize) -> f64 {
        self.v[(c * self.h + i) * self.w + j]
    }
}

/// The reference's operations, with weights copied out of a network as f64.
enum Op {
    Conv {
        name: String,
        w: Vec<f64>,
        b: Option<Vec<f64>>,
        cout: usize,
        k: usize,
        stride: usize,
        pad: usize,
    },
    Linear {
        name: String,
        w: Vec<f64>,
        b: Option<Vec<f64>>,
        out: usize,
    },
    Relu,
    MaxPool {
        k: usize,
        s: usize,
    },
    AvgPool {
        k: usize,
        s: usize,
    },
    Flatten,
    Affine {
        scale: Vec<f64>,
        shift: Vec<f64>,
    },
    Residual {
        main: Vec<Op>,
        short: Vec<Op>,
    },
}

fn values(net: &Network, i: usize) -> Vec<f64> {
    net.param(i).value.iter().map(|&v| f64::from(v)).collect()
}

/// Reads a network's structure (not its arithmetic) into reference operations.
fn ops(net: &Network, layers: &[Layer]) -> Vec<Op> {
    layers
        .iter()
        .map(|l| match l {
            Layer::Conv2d(c) => Op::Conv {
                name: net.param(c.weight).name.clone(),
                w: values(net, c.weight),
                b: c.bias.map(|b| values(net, b)),
                cout: c.geom.out_channels,
                k: c.geom.kernel_h,
                stride: c.geom.stride,
                pad: c.geom.padding,
            },
            Layer::Linear(f) => Op::Linear {
                name: net.param(f.weight).name.clone(),
                w: values(net, f.weight),
                b: f.bias.map(|b| values(net, b)),
                out: f.out_features,
            },
            Layer::Relu => Op::Relu,
            Layer::Pool2d(p) if p.kind == PoolKind::Max => Op::MaxPool {
                k: p.kernel,
                s: p.stride,
            },
            Layer::Pool2d(p) => Op::AvgPool {
                k: p.kernel,
                s: p.stride,
            },
            Layer::Flatten => Op::Flatten,
            Layer::BatchNorm2d(b) => {
                let (g, beta, mean, var) = (
                    values(net, b.weight),
                    values(net, b.bias),
                    values(net, b.running_mean),
                    values(net, b.running_var),
                );
                let scale: Vec<f64> = (0..g.len()).map(|c| g[c] / (var[c] + 1e-5).sqrt()).collect();
                let shift = (0..g.len()).map(|c| beta[c] - mean[c] * scale[c]).collect();
                Op::Affine { scale, shift }
            }
            Layer::Graph(_) => unreachable!("zoo networks hold no imported graphs"),
            Layer::Residual(r) => Op::Residual {
                main: ops(net, &r.main),
                short: ops(net, &r.shortcut),
            },
        })
        .collect()
}

/// The output size of a convolution of `x` and its taps `(output index, weight index, input index)`:
/// every product of the convolution's definition that does not fall on the zero padding.
fn conv_taps(
    x: &T,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> (usize, usize, Vec<(usize, usize, usize)>) {
    let (ho, wo) = ((x.h + 2 * pad - k) / stride + 1, (x.w + 2 * pad - k) / stride + 1);
    let mut taps = Vec::new();
    for co in 0..cout {
        for i in 0..ho {
            for j in 0..wo {
                for ci in 0..x.c {
                    for ki in 0..k {
                        for kj in 0..k {
                            let (ii, jj) = (
                                (i * stride + ki) as isize - pad as isize,
                                (j * stride + kj) as isize - pad as isize,
                            );
                            if ii >= 0 && jj >= 0 && (ii as usize) < x.h && (jj as usize) < x.w {
                                let o = (co * ho + i) * wo + j;
                                let wi = ((co * x.c + ci) * k + ki) * k + kj;
                                taps.push((o, wi, (ci * x.h + ii as usize) * x.w + jj as usize));
                            }
                        }
                    }
                }
            }
        }
    }
    (ho, wo, taps)
}

/// What the reference keeps from the forward pass of one operation.
enum Saved {
    Input(T),
    ArgMax(T, Vec<usize>),
    Residual(Vec<Saved>, Vec<Saved>, T),
}

fn forward(ops: &[Op], mut x: T, saved: &mut Vec<Saved>) -> T {
    for op in ops {
        let input = x.clone();
        x = match op {
            Op::Conv {
                w,
                b,
                cout,
                k,
                stride,
                pad,
                ..
            } => {
                let (ho, wo, taps) = conv_taps(&x, *cout, *k, *stride, *pad);
                let mut y = T::zeros(*cout, ho, wo);
                for (o, v) in y.v.iter_mut().enumerate() {
                    *v = b.as_ref().map_or(0.0, |b| b[o / (ho * wo)]);
                }
                for (o, wi, xi) in taps {
                    y.v[o] += w[wi] * x.v[xi];
                }
                y
            }
            Op::Linear { w, b, out, .. } => {
                let n = x.v.len();
                let v = (0..*out).map(|o| {
                    b.as_ref().map_or(0.0, |b| b[o]) + (0..n).map(|i| w[o * n + i] * x.v[i]).sum::<f64>()
                });
                T {
                    c: *out,
                    h: 1,
                    w: 1,
                    v: v.collect(),
                }
            }
            Op::Relu => T {
                v: x.v.iter().map(|&v| v.max(0.0)).collect(),
                ..x
            },
            Op::MaxPool { k, s } | Op::AvgPool { k, s } => {
                let (ho, wo) = ((x.h - k) / s + 1, (x.w - k) / s + 1);
                let mut y = T::zeros(x.c, ho, wo);
                let mut arg = Vec::new();
                for c in 0..x.c {
                    for i in 0..ho {
                        for j in 0..wo {
                            let (mut best, mut at, mut sum) = (f64::NEG_INFINITY, 0, 0.0);
                            for ki in 0..*k {
                                for kj in 0..*k {
                                    let v = x.at(c, i * s + ki, j * s + kj);
                                    sum += v;
                                    if v > best {
                                        best = v;
                                        at = (c * x.h + i * s + ki) * x.w + j * s + kj;
                                    }
                                }
                            }
                            y.v[(c * ho + i) * wo + j] = if matches!(op, Op::MaxPool { .. }) {
                                best
                            } else {
                                sum / (k * k) as f64
                            };
                            arg.push(at);
                        }
                    }
                }
                if matches!(op, Op::MaxPool { .. }) {
                    saved.push(Saved::ArgMax(input, arg));
                    x = y;
                    continue;
                }
                y
            }
            Op::Flatten => T {
                c: x.v.len(),
                h: 1,
                w: 1,
                v: x.v,
            },
            Op::Affine { scale, shift } => {
                let per = x.h * x.w;
                T {
                    v: x.v
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| scale[i / per] * v + shift[i / per])
                        .collect(),
                    ..x
                }
            }
            Op::Residual { main, short } => {
                let (mut sm, mut ss) = (Vec::new(), Vec::new());
                let a = forward(main, x.clone(), &mut sm);
                let b = forward(short, x, &mut ss);
                let z = T {
                    v: a.v.iter().zip(&b.v).map(|(p, q)| p + q).collect(),
                    ..a
                };
                saved.push(Saved::Residual(sm, ss, z.clone()));
                x = T {
                    v: z.v.iter().map(|&v| v.max(0.0)).collect(),
                    ..z
                };
                continue;
            }
        };
        saved.push(Saved::Input(input));
    }
    x
}

/// The backward pass of order 1 (gradients) or 2 (OBD second derivatives), accumulating per weight
/// tensor name.
fn backward(ops: &[Op], saved: &[Saved], mut d: T, order: i32, acc: &mut HashMap<String, Vec<f64>>) -> T {
    let pw = |v: f64| if order == 1 { v } else { v * v };
    for (op, s) in ops.iter().zip(saved).rev() {
        d = match (op, s) {
            (
                Op::Conv {
                    name,
                    w,
                    cout,
                    k,
                    stride,
                    pad,
                    ..
                },
                Saved::Input(x),
            ) => {
                let gw = acc.entry(name.clone()).or_insert_with(|| vec![0.0; w.len()]);
                let mut dx = T::zeros(x.c, x.h, x.w);
                for (o, wi, xi) in conv_taps(x, *cout, *k, *stride, *pad).2 {
                    gw[wi] += d.v[o] * pw(x.v[xi]);
                    dx.v[xi] += pw(w[wi]) * d.v[o];
                }
                dx
            }
            (Op::Linear { name, w, out, .. }, Saved::Input(x)) => {
                let n = x.v.len();
                let gw = acc.entry(name.clone()).or_insert_with(|| vec![0.0; w.len()]);
                let mut dx = T {
                    v: vec![0.0; n],
                    ..x.clone()
                };
                for o in 0..*out {
                    for i in 0..n {
                        gw[o * n + i] += d.v[o] * pw(x.v[i]);
                        dx.v[i] += pw(w[o * n + i]) * d.v[o];
                    }
                }
                dx
            }
            (Op::Relu, Saved::Input(x)) => T {
                v: d.v
                    .iter()
                    .zip(&x.v)
                    .map(|(&g, &v)| if v > 0.0 { g } else { 0.0 })
                    .collect(),
                ..x.clone()
            },
            (Op::MaxPool { .. }, Saved::ArgMax(x, arg)) => {
                let mut dx = T::zeros(x.c, x.h, x.w);
                for (g, &a) in d.v.iter().zip(arg) {
                    dx.v[a] += g;
                }
                dx
            }
            (Op::AvgPool { k, s }, Saved::Input(x)) => {
                let mut dx = T::zeros(x.c, x.h, x.w);
                let coef = pw(1.0 / (k * k) as f64);
                for c in 0..x.c {
                    for i in 0..d.h {
                        for j in 0..d.w {
                            for ki in 0..*k {
                                for kj in 0..*k {
                                    dx.v[(c * x.h + i * s + ki) * x.w + j * s + kj] += coef * d.at(c, i, j);
                                }
                            }
                        }
                    }
                }
                dx
            }
            (Op::Flatten, Saved::Input(x)) => T { v: d.v, ..x.clone() },
            (Op::Affine { scale, .. }, Saved::Input(x)) => {
                let per = x.h * x.w;
                T {
                    v: d.v
                        .iter()
                        .enumerate()
                        .map(|(i, &g)| pw(scale[i / per]) * g)
                        .collect(),
                    ..x.clone()
                }
            }
            (Op::Residual { main, short }, Saved::Residual(sm, ss, z)) => {
                let dz = T {
                    v: d.v
                        .iter()
                        .zip(&z.v)
                        .map(|(&g, &v)| if v > 0.0 { g } else { 0.0 })
                        .collect(),
                    ..z.clone()
                };
                let a = backward(main, sm, dz.clone(), order, acc);
                let b = backward(short, ss, dz, order, acc);
                T {
                    v: a.v.iter().zip(&b.v).map(|(p, q)| p + q).collect(),
                    ..a
                }
            }
            _ => unreachable!("saved state matches its operation"),
        };
    }
    d
}

/// The reference sensitivity pass: per weight tensor, (mean gradient, summed second derivative).
fn reference(net: &Network, data: &Dataset) -> HashMap<String, (Vec<f64>, Vec<f64>)> {
    let ops = ops(net, net.layers());
    let (mut g, mut h) = (HashMap::new(), HashMap::new());
    let images = data.images();
    let SampleShape::Image {
        channels,
        height,
        width,
    } = net.input_shape()
    else {
        unreachable!()
    };
    for (n, &label) in data.labels().iter().enumerate() {
        let x = T {
            c: channels,
            h: height,
            w: width,
            v: images
                .slice(ndarray::s![n, .., .., ..])
                .iter()
                .map(|&v| f64::from(v))
                .collect(),
        };
        let mut saved = Vec::new();
        let z = forward(&ops, x, &mut saved);
        let m = z.v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.v.iter().map(|v| (v - m).exp()).collect();
        let sum: f64 = e.iter().sum();
        let p: Vec<f64> = e.iter().map(|v| v / sum).collect();
        let d1 = T {
            v: p.iter()
                .enumerate()
                .map(|(k, &pk)| pk - f64::from(u8::from(k == label as usize)))
                .collect(),
            ..z.clone()
        };
        let d2 = T {
            v: p.iter().map(|&pk| pk * (1.0 - pk)).collect(),
            ..z
        };
        backward(&ops, &saved, d1, 1, &mut g);
        backward(&ops, &saved, d2, 2, &mut h);
    }
    let n = data.len() as f64;
    g.into_iter()
        .map(|(name, gv)| {
            let hv = h.remove(&name).unwrap();
            (
                name,
                (
                    gv.into_iter().map(|v| v / n).collect(),
                    hv.into_iter().map(|v| v / n).collect(),
                ),
            )
        })
        .collect()
}

/// Checks a pass against the reference: every tensor, gradient and second derivative, to 1e-4 of the
/// tensor's largest value (the engine is f32, the reference f64; f32 sums over a few thousand terms
/// stay well inside that).
fn assert_matches_reference(case: &str, net: &Network, data: &Dataset) {
    let ours = analyze(net, data, |_, _| {}).unwrap();
    let want = reference(net, data);
    assert_eq!(
        ours.layers.len(),
        want.len(),
        "{case}: one entry per programmable tensor"
    );
    for l in &ours.layers {
        let (g, h) = &want[&l.name];
        for (what, got, exp) in [("grad", &l.grad, g), ("hess", &l.hess, h)] {
            let scale = exp.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(scale > 0.0, "{case}: {} {what} is all zero", l.name);
            for (i, (&a, &b)) in got.iter().zip(exp.iter()).enumerate() {
                let err = (f64::from(a) - b).abs() / scale;
                assert!(
                    err < 1e-4,
                    "{case}: {}[{i}] {what} {a} vs reference {b} (error {err:e})",
                    l.name
                );
            }
        }
    }
}

#[test]
fn lenet_second_derivatives_match_a_slow_reference() {
    assert_matches_reference("lenet", &lenet(8), &mnist(24));
}

#[test]
fn residual_batch_norm_and_average_pool_match_a_slow_reference() {
    let mut b = Builder::new("small-resnet", SampleShape::image(1, 28, 28));
    let mut layers = vec![
        b.conv2d("conv1", 4, 3, 2, 1, false),
        b.batch_norm("bn1"),
        b.relu(),
    ];
    layers.push(b.residual(
        |b| {
            vec![
                b.conv2d("l.conv1", 4, 3, 1, 1, false),
                b.batch_norm("l.bn1"),
                b.relu(),
                b.conv2d("l.conv2", 4, 3, 1, 1, false),
            ]
        },
        |_| Vec::new(),
    ));
    layers.push(b.residual(
        |b| {
            vec![
                b.conv2d("m.conv1", 6, 3, 2, 1, false),
                b.relu(),
                b.conv2d("m.conv2", 6, 3, 1, 1, true),
            ]
        },
        |b| {
            vec![
                b.conv2d("m.shortcut.0", 6, 1, 2, 0, false),
                b.batch_norm("m.shortcut.1"),
            ]
        },
    ));
    layers.extend([b.avg_pool(7, 7), b.flatten(), b.linear("linear", 10, true)]);
    let mut net = b.finish(layers);
    net.initialize(4);
    let mut rng = stream(4, Purpose::Device, 2);
    for name in net
        .param_names()
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
    {
        let n = net.tensor(&name).unwrap().len();
        let v: Vec<f32> = match name.rsplit('.').next().unwrap() {
            "running_var" => (0..n).map(|_| rng.random_range(0.5..2.0)).collect(),
            "running_mean" => (0..n).map(|_| rng.random_range(-0.2..0.2)).collect(),
            "weight" if name.contains("bn") || name.ends_with("shortcut.1.weight") => {
                (0..n).map(|_| rng.random_range(0.5..1.5)).collect()
            }
            _ => continue,
        };
        net.set_tensor(&name, &v).unwrap();
    }
    assert_matches_reference("small resnet", &net, &mnist(12));
}

#[test]
fn the_pass_is_identical_for_any_thread_count_and_calib_takes_the_first_images() {
    let net = lenet(2);
    let data = mnist(200);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| analyze(&net, &data, |_, _| {}).unwrap())
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
    assert_eq!(one.samples, 200);
    assert_eq!(one.num_weights(), net.num_programmable_weights());
    let mut seen = Vec::new();
    analyze(&net, &data, |done, total| seen.push((done, total))).unwrap();
    assert_eq!(seen.last(), Some(&(200, 200)));
}

/// A hand-made pass result: two tensors with chosen weights, gradients and second derivatives.
fn toy() -> Curvature {
    let layer = |name: &str, weight: Vec<f32>, grad: Vec<f32>, hess: Vec<f32>| LayerCurvature {
        name: format!("{name}.weight"),
        layer: name.to_string(),
        param: 0,
        shape: vec![weight.len()],
        weight,
        grad,
        hess,
    };
    Curvature {
        layers: vec![
            layer(
                "a",
                vec![0.5, -2.0, 1.0, 0.0],
                vec![0.1, -0.2, 0.0, 0.3],
                vec![1.0, 0.5, 2.0, 0.0],
            ),
            layer(
                "b",
                vec![0.1, 0.2, -0.4],
                vec![0.0, 1.0, -1.0],
                vec![4.0, 0.0, 1.0],
            ),
        ],
        samples: 10,
    }
}

#[test]
fn scores_follow_their_definitions_with_per_layer_normalisation() {
    let c = toy();
    let s = |m: Method, d: Option<&[WeightDeviceInfo]>| score(&c, d, &ScoreOptions::new(m)).unwrap().layers;
    // Layer a: max|W| = 2, so w' = w/2, g' = 2 g, H' = 4 H. Layer b: max|W| = 0.4.
    let close = |a: &[Vec<f64>], b: &[Vec<f64>]| {
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            .all(|(x, y)| (x - y).abs() <= 1e-6 * (1.0 + y.abs()))
    };
    assert!(close(
        &s(Method::Magnitude, None),
        &[vec![0.25, 1.0, 0.5, 0.0], vec![0.25, 0.5, 1.0]]
    ));
    let swim_a = [4.0 + 0.4, 2.0 - 0.8, 8.0, 1.2];
    let swim_b = [0.64, 0.8, (0.16 - 0.8f64).abs()];
    assert!(close(&s(Method::Swim, None), &[swim_a.to_vec(), swim_b.to_vec()]));
    let no_first = score(
        &c,
        None,
        &ScoreOptions {
            first_order: false,
            ..ScoreOptions::new(Method::Swim)
        },
    )
    .unwrap();
    assert!(close(
        &no_first.layers,
        &[vec![4.0, 2.0, 8.0, 0.0], vec![0.64, 0.0, 0.16]]
    ));
    // Uniform devices: sigma 0.1 open loop, 0.02 after verify, 100 ns each.
    let uni = WeightDeviceInfo::uniform_for(&c, 0.1, 0.02, 100.0);
    let v = 0.1f64 * 0.1 - 0.02 * 0.02;
    let uswim: Vec<Vec<f64>> = vec![
        [4.0, 2.0, 8.0, 0.0].iter().map(|h| 0.5 * h * v).collect(),
        [0.64, 0.0, 0.16].iter().map(|h| 0.5 * h * v).collect(),
    ];
    assert!(close(&s(Method::Uswim, Some(&uni)), &uswim));
    let per_ns: Vec<Vec<f64>> = uswim
        .iter()
        .map(|l| l.iter().map(|x| x / 100.0).collect())
        .collect();
    assert!(close(&s(Method::UswimCost, Some(&uni)), &per_ns));
    let mut banded = uni.clone();
    banded[1].band_multiplier = vec![1.0, 3.0, 0.5];
    assert!(close(
        &s(Method::UswimPaper, Some(&banded)),
        &[swim_a.to_vec(), vec![0.64, 2.4, 0.5 * swim_b[2]]]
    ));
    // Random: deterministic per seed, different across seeds, in [0, 1).
    let r = |seed| {
        score(
            &c,
            None,
            &ScoreOptions {
                seed,
                ..ScoreOptions::new(Method::Random)
            },
        )
        .unwrap()
        .layers
    };
    assert_eq!(r(3), r(3));
    assert_ne!(r(3), r(4));
    assert!(r(3).iter().flatten().all(|x| (0.0..1.0).contains(x)));
}

#[test]
fn device_scores_need_well_formed_device_information() {
    let c = toy();
    let e = score(&c, None, &ScoreOptions::new(Method::Uswim)).unwrap_err();
    assert!(e.to_string().contains("device information"), "{e}");
    let mut bad = WeightDeviceInfo::uniform_for(&c, 0.1, 0.02, 100.0);
    bad[0].expected_verify_ns.pop();
    let e = score(&c, Some(&bad), &ScoreOptions::new(Method::UswimCost)).unwrap_err();
    assert!(
        e.to_string().contains("a.weight.expected_verify_ns") && e.to_string().contains("expected 4 values"),
        "{e}"
    );
    let mut bad = WeightDeviceInfo::uniform_for(&c, 0.1, 0.02, 100.0);
    bad[1].expected_verify_ns[2] = 0.0;
    let e = score(&c, Some(&bad), &ScoreOptions::new(Method::UswimCost)).unwrap_err();
    assert!(
        e.to_string().contains("index 2") && e.to_string().contains("> 0"),
        "{e}"
    );
    assert!(
        "uswim-papr"
            .parse::<Method>()
            .unwrap_err()
            .to_string()
            .contains("uswim-paper, uswim-cost")
    );
}

#[test]
fn a_fraction_selects_exactly_round_f_times_weights() {
    let net = lenet(1);
    let c = analyze(&net, &mnist(64), |_, _| {}).unwrap();
    let total = c.num_weights();
    for method in [Method::Magnitude, Method::Swim, Method::Random] {
        let s = score(&c, None, &ScoreOptions::new(method)).unwrap();
        for f in [0.0, 1e-5, 0.01, 0.1, 0.333, 0.5, 0.9999, 1.0] {
            let sel = select(&s, Budget::Fraction(f), None).unwrap();
            let want = (f * total as f64).round() as usize;
            let count = sel.layers.iter().flatten().filter(|&&b| b).count();
            assert_eq!(
                (sel.selected, count, sel.total),
                (want, want, total),
                "{method} at {f}"
            );
            assert!((sel.fraction() - want as f64 / total as f64).abs() < 1e-12);
            // Every selected weight scores at least as high as every unselected one.
            let (mut lo_sel, mut hi_rest) = (f64::INFINITY, f64::NEG_INFINITY);
            for (ls, lsel) in s.layers.iter().zip(&sel.layers) {
                for (&x, &b) in ls.iter().zip(lsel) {
                    if b {
                        lo_sel = lo_sel.min(x)
                    } else {
                        hi_rest = hi_rest.max(x)
                    }
                }
            }
            assert!(
                lo_sel >= hi_rest,
                "{method} at {f}: selected {lo_sel} < unselected {hi_rest}"
            );
        }
    }
    assert!(
        select(
            &score(&c, None, &ScoreOptions::new(Method::Swim)).unwrap(),
            Budget::Fraction(1.5),
            None
        )
        .is_err()
    );
}

#[test]
fn ties_are_broken_by_layer_then_index() {
    let s = Scores {
        method: Method::Magnitude,
        layers: vec![vec![1.0; 5], vec![2.0, 1.0, 1.0], vec![1.0; 4]],
    };
    let sel = select(&s, Budget::Fraction(0.5), None).unwrap();
    // 12 weights, 6 selected: the 2.0, then the 1.0s in (layer, index) order.
    assert_eq!(
        sel.layers,
        vec![vec![true; 5], vec![true, false, false], vec![false; 4]]
    );
    let sel = select(&s, Budget::Fraction(0.75), None).unwrap();
    assert_eq!(
        sel.layers,
        vec![
            vec![true; 5],
            vec![true, true, true],
            vec![true, false, false, false]
        ]
    );
}

#[test]
fn a_time_budget_is_filled_greedily_by_score() {
    let s = Scores {
        method: Method::UswimCost,
        layers: vec![vec![5.0, 4.0, 3.0], vec![2.0, 1.0]],
    };
    let dev = |ns: Vec<f32>| WeightDeviceInfo {
        variance_reduction: vec![1.0; ns.len()],
        band_multiplier: vec![1.0; ns.len()],
        expected_verify_ns: ns,
    };
    let devices = vec![dev(vec![40.0, 70.0, 20.0]), dev(vec![30.0, 10.0])];
    // Greedy by score: 5 (40 ns), 4 does not fit (110 > 100), 3 (60 ns), 2 (90 ns), 1 (100 ns).
    let sel = select(&s, Budget::TimeNs(100.0), Some(&devices)).unwrap();
    assert_eq!(sel.layers, vec![vec![true, false, true], vec![true, true]]);
    assert_eq!((sel.selected, sel.verify_ns), (4, Some(100.0)));
    let sel = select(&s, Budget::TimeNs(39.0), Some(&devices)).unwrap();
    assert_eq!(sel.layers, vec![vec![false, false, true], vec![false, true]]);
    let e = select(&s, Budget::TimeNs(100.0), None).unwrap_err();
    assert!(e.to_string().contains("expected verify times"), "{e}");
}

#[test]
fn csv_and_mask_files_round_trip_and_bad_masks_are_rejected() {
    let dir = std::env::temp_dir().join(format!("uswim-sens-{}", std::process::id()));
    let net = lenet(3);
    let c = analyze(&net, &mnist(32), |_, _| {}).unwrap();
    let s = score(&c, None, &ScoreOptions::new(Method::Swim)).unwrap();
    let sel = select(&s, Budget::Fraction(0.1), None).unwrap();

    let csv = dir.join("sensitivity.csv");
    write_csv(&csv, &c, &s, &sel).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with("layer,index,weight,grad,hess,score,selected\nconv1,0,"),
        "{}",
        &text[..80]
    );
    let rows = read_csv(&csv).unwrap();
    assert_eq!(rows.len(), net.num_programmable_weights());
    let fc1 = &c.layers[2];
    let row = rows.iter().find(|r| r.layer == "fc1" && r.index == 777).unwrap();
    assert_eq!(
        (row.weight, row.grad, row.hess),
        (fc1.weight[777], fc1.grad[777], fc1.hess[777])
    );
    assert_eq!(row.selected, u8::from(sel.layers[2][777]));
    assert_eq!(rows.iter().filter(|r| r.selected == 1).count(), sel.selected);

    let mask_path = dir.join("mask.safetensors");
    let mask = Mask::from_selection(&c, &sel);
    mask.write(&mask_path).unwrap();
    let back = Mask::read(&mask_path).unwrap();
    back.check(&net, "mask.safetensors").unwrap();
    assert_eq!(back.selected(), sel.selected);
    assert_eq!(back.get("fc1.weight").unwrap()[777], u8::from(sel.layers[2][777]));
    assert_eq!(
        back.tensors
            .iter()
            .find(|t| t.name == "conv1.weight")
            .unwrap()
            .shape,
        vec![6, 1, 3, 3]
    );

    // A mask for another network, a mask with a 3 (codes are 0, 1, 2), a truncated mask.
    let e = back
        .check(&zoo::build("mlp").unwrap(), "mask.safetensors")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("wrong shape fc1.weight: expected [256, 784], found [120, 784]"),
        "{e}"
    );
    assert!(e.contains("unexpected conv1.weight [6, 1, 3, 3]"), "{e}");
    let mut two = mask.clone();
    two.tensors[0].flags[3] = 3;
    two.write(&mask_path).unwrap();
    let e = Mask::read(&mask_path).unwrap_err().to_string();
    assert!(e.contains("conv1.weight") && e.contains("value 3"), "{e}");
    assert!(e.contains("2 (loose"), "{e}");
    let bytes = std::fs::read(&mask_path).unwrap();
    std::fs::write(&mask_path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(
        Mask::read(&mask_path)
            .unwrap_err()
            .to_string()
            .contains("not a valid safetensors file")
    );
    let all = Mask::uniform(&net, true);
    all.check(&net, "all").unwrap();
    let n = net.num_programmable_weights();
    assert_eq!((all.selected(), all.total()), (n, n));
    assert_eq!(Mask::uniform(&net, false).selected(), 0);
    std::fs::write(&csv, "layer,index,weight\nconv1,0,1\n").unwrap();
    assert!(
        read_csv(&csv)
            .unwrap_err()
            .to_string()
            .contains("expected columns")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn swim_is_the_authors_h_plus_2g_with_both_means_over_the_calibration_set_by_hand() {
    // A 2-input, 2-class linear classifier (no bias) on two samples; with p = softmax(W x):
    //   g_oi = mean_n (p_o - y_o) x_i,   H_oi = mean_n p_o (1 - p_o) x_i^2,
    // and swim = |H s^2 + 2 g s| with s = max|W| (both normalised the same way, the authors' form).
    let mut b = Builder::new("tiny", SampleShape::image(1, 1, 2));
    let layers = vec![b.flatten(), b.linear("fc", 2, false)];
    let mut net = b.finish(layers);
    let w = [0.5f32, -1.0, 0.25, 2.0];
    let p = net.programmable()[0];
    net.values_mut(p).copy_from_slice(&w);
    let xs = [[1.0f32, 0.5], [-0.5, 2.0]];
    let ys = [0usize, 1];
    let images =
        ndarray::Array4::from_shape_vec((2, 1, 1, 2), xs.iter().flatten().copied().collect()).unwrap();
    let data = Dataset::new("hand", images, vec![0, 1]).unwrap();
    let curvature = analyze(&net, &data, |_, _| {}).unwrap();
    let mut g = [0f64; 4];
    let mut h = [0f64; 4];
    for (x, &y) in xs.iter().zip(&ys) {
        let z: Vec<f64> = (0..2)
            .map(|o| f64::from(w[2 * o]) * f64::from(x[0]) + f64::from(w[2 * o + 1]) * f64::from(x[1]))
            .collect();
        let m = z[0].max(z[1]);
        let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
        let pr: Vec<f64> = e.iter().map(|v| v / (e[0] + e[1])).collect();
        for o in 0..2 {
            for i in 0..2 {
                let t = if o == y { 1.0 } else { 0.0 };
                g[2 * o + i] += 0.5 * (pr[o] - t) * f64::from(x[i]);
                h[2 * o + i] += 0.5 * pr[o] * (1.0 - pr[o]) * f64::from(x[i]) * f64::from(x[i]);
            }
        }
    }
    let layer = &curvature.layers[0];
    let scores = score(&curvature, None, &ScoreOptions::new(Method::Swim)).unwrap();
    let s = 2.0f64;
    for k in 0..4 {
        assert!(
            (f64::from(layer.grad[k]) - g[k]).abs() < 1e-6,
            "g[{k}] {} vs {}",
            layer.grad[k],
            g[k]
        );
        assert!(
            (f64::from(layer.hess[k]) - h[k]).abs() < 1e-6,
            "H[{k}] {} vs {}",
            layer.hess[k],
            h[k]
        );
        let want = (h[k] * s * s + 2.0 * g[k] * s).abs();
        assert!(
            (scores.layers[0][k] - want).abs() < 1e-5,
            "swim[{k}] {} vs {want}",
            scores.layers[0][k]
        );
    }
}
