//! The model zoo: built-in architectures with PyTorch state_dict names (the equivalent PyTorch
//! classes are in `models/README.md`).
//!
//! | name | input | layers |
//! |---|---|---|
//! | `mlp` | 1x28x28 | flatten, fc1 784-256, ReLU, fc2 256-128, ReLU, fc3 128-10 |
//! | `lenet` | 1x28x28 | the U-SWIM authors' LeNet: conv1 1-6 3x3 pad 1, ReLU, max-pool 2; conv2 6-16 3x3 pad 1, ReLU, max-pool 2; flatten (C,H,W); fc1 784-120, ReLU; fc2 120-84, ReLU; fc3 84-10 |
//! | `convnet` | 1x28x28 | VGG-style: conv1 1-32, conv2 32-32, max-pool; conv3 32-64, conv4 64-64, max-pool (3x3 pad 1, ReLU after each); flatten; fc1 3136-256, ReLU; fc2 256-10 |
//! | `resnet18` | 3x32x32 | CIFAR-style ResNet-18 (conv1 3x3 64 without max-pool, four stages of two basic blocks with 64/128/256/512 channels, 4x4 average pool, `linear` 512-10), names as the widely used `pytorch-cifar` ResNet18 (`layer2.0.shortcut.0.weight`) |
//! | `vgg16` | 3x224x224 | torchvision's VGG-16 for ImageNet (13 convolutions 3x3 pad 1 in five stages of 64/128/256/512/512 channels, each stage ending in a 2x2 max-pool; classifier 25088-4096-4096-1000), names as torchvision (`features.28.weight`, `classifier.6.weight`): 138,344,128 programmable weights |
//! | `resnet50` | 3x224x224 | torchvision's ResNet-50 for ImageNet (conv1 7x7/2, 3x3/2 max-pool, bottleneck stages of 3/4/6/3 blocks with stride on the 3x3 convolution, 7x7 average pool, `fc` 2048-1000), names as torchvision (`layer1.0.downsample.0.weight`): 25,502,912 programmable weights |

use super::builder::Builder;
use super::layers::Layer;
use super::network::Network;
use super::tensor::SampleShape;
use crate::error::InputError;
use std::fmt;
use std::str::FromStr;

/// A built-in architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    /// 784-256-128-10 perceptron.
    Mlp,
    /// The U-SWIM authors' LeNet for 28x28 images.
    Lenet,
    /// A small VGG-style network for 28x28 images.
    Convnet,
    /// CIFAR-style ResNet-18 for 3x32x32 images.
    Resnet18,
    /// torchvision's VGG-16 for 3x224x224 ImageNet images (a timing-scale shape).
    Vgg16,
    /// torchvision's ResNet-50 for 3x224x224 ImageNet images (a timing-scale shape).
    Resnet50,
}

impl Arch {
    /// Every architecture, in the order listed in messages.
    pub const ALL: [Arch; 6] = [
        Arch::Mlp,
        Arch::Lenet,
        Arch::Convnet,
        Arch::Resnet18,
        Arch::Vgg16,
        Arch::Resnet50,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mlp => "mlp",
            Self::Lenet => "lenet",
            Self::Convnet => "convnet",
            Self::Resnet18 => "resnet18",
            Self::Vgg16 => "vgg16",
            Self::Resnet50 => "resnet50",
        }
    }

    /// The network, initialised with seed 0 (see [`Network::initialize`]).
    pub fn build(self) -> Network {
        match self {
            Self::Mlp => mlp(),
            Self::Lenet => lenet(),
            Self::Convnet => convnet(),
            Self::Resnet18 => resnet18(),
            Self::Vgg16 => vgg16(),
            Self::Resnet50 => resnet50(),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = InputError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            let valid: Vec<&str> = Self::ALL.iter().map(|a| a.name()).collect();
            InputError::new(
                "--arch",
                s,
                format!("unknown architecture; valid: {}", valid.join(", ")),
            )
        })
    }
}

/// The architecture named `arch`, initialised with seed 0; unknown names give an error listing the
/// valid ones.
pub fn build(arch: &str) -> Result<Network, InputError> {
    Ok(arch.parse::<Arch>()?.build())
}

fn mlp() -> Network {
    let mut b = Builder::new("mlp", SampleShape::image(1, 28, 28));
    let layers = vec![
        b.flatten(),
        b.linear("fc1", 256, true),
        b.relu(),
        b.linear("fc2", 128, true),
        b.relu(),
        b.linear("fc3", 10, true),
    ];
    b.finish(layers)
}

fn lenet() -> Network {
    let mut b = Builder::new("lenet", SampleShape::image(1, 28, 28));
    let layers = vec![
        b.conv2d("conv1", 6, 3, 1, 1, true),
        b.relu(),
        b.max_pool(2, 2),
        b.conv2d("conv2", 16, 3, 1, 1, true),
        b.relu(),
        b.max_pool(2, 2),
        b.flatten(),
        b.linear("fc1", 120, true),
        b.relu(),
        b.linear("fc2", 84, true),
        b.relu(),
        b.linear("fc3", 10, true),
    ];
    b.finish(layers)
}

fn convnet() -> Network {
    let mut b = Builder::new("convnet", SampleShape::image(1, 28, 28));
    let mut layers = Vec::new();
    for (name, out) in [("conv1", 32), ("conv2", 32), ("conv3", 64), ("conv4", 64)] {
        layers.push(b.conv2d(name, out, 3, 1, 1, true));
        layers.push(b.relu());
        if name == "conv2" || name == "conv4" {
            layers.push(b.max_pool(2, 2));
        }
    }
    layers.extend([
        b.flatten(),
        b.linear("fc1", 256, true),
        b.relu(),
        b.linear("fc2", 10, true),
    ]);
    b.finish(layers)
}

/// A ResNet basic block named `prefix` (`layer2.0`) with `out` channels and `stride`.
fn basic_block(b: &mut Builder, prefix: &str, out: usize, stride: usize) -> Layer {
    let SampleShape::Image { channels, .. } = b.shape() else {
        unreachable!("resnet blocks follow convolutions")
    };
    b.residual(
        |b| {
            vec![
                b.conv2d(&format!("{prefix}.conv1"), out, 3, stride, 1, false),
                b.batch_norm(&format!("{prefix}.bn1")),
                b.relu(),
                b.conv2d(&format!("{prefix}.conv2"), out, 3, 1, 1, false),
                b.batch_norm(&format!("{prefix}.bn2")),
            ]
        },
        |b| {
            if stride == 1 && channels == out {
                Vec::new()
            } else {
                vec![
                    b.conv2d(&format!("{prefix}.shortcut.0"), out, 1, stride, 0, false),
                    b.batch_norm(&format!("{prefix}.shortcut.1")),
                ]
            }
        },
    )
}

fn resnet18() -> Network {
    let mut b = Builder::new("resnet18", SampleShape::image(3, 32, 32));
    let mut layers = vec![
        b.conv2d("conv1", 64, 3, 1, 1, false),
        b.batch_norm("bn1"),
        b.relu(),
    ];
    for (stage, (out, stride)) in [(64, 1), (128, 2), (256, 2), (512, 2)].into_iter().enumerate() {
        layers.push(basic_block(&mut b, &format!("layer{}.0", stage + 1), out, stride));
        layers.push(basic_block(&mut b, &format!("layer{}.1", stage + 1), out, 1));
    }
    layers.extend([b.avg_pool(4, 4), b.flatten(), b.linear("linear", 10, true)]);
    b.finish(layers)
}

fn vgg16() -> Network {
    let mut b = Builder::new("vgg16", SampleShape::image(3, 224, 224));
    let mut layers = Vec::new();
    // torchvision numbers `features` by position: conv, ReLU, ..., max-pool.
    let mut index = 0;
    for (convs, out) in [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)] {
        for _ in 0..convs {
            layers.push(b.conv2d(&format!("features.{index}"), out, 3, 1, 1, true));
            layers.push(b.relu());
            index += 2;
        }
        layers.push(b.max_pool(2, 2));
        index += 1;
    }
    layers.push(b.flatten());
    for (i, out) in [(0, 4096), (3, 4096), (6, 1000)] {
        layers.push(b.linear(&format!("classifier.{i}"), out, true));
        if i < 6 {
            layers.push(b.relu());
        }
    }
    b.finish(layers)
}

/// A ResNet bottleneck block named `prefix` (`layer2.0`) of `width` channels (`4 * width` out), with
/// its stride on the 3x3 convolution (torchvision's ResNet v1.5).
fn bottleneck(b: &mut Builder, prefix: &str, width: usize, stride: usize) -> Layer {
    let SampleShape::Image { channels, .. } = b.shape() else {
        unreachable!("resnet blocks follow convolutions")
    };
    b.residual(
        |b| {
            vec![
                b.conv2d(&format!("{prefix}.conv1"), width, 1, 1, 0, false),
                b.batch_norm(&format!("{prefix}.bn1")),
                b.relu(),
                b.conv2d(&format!("{prefix}.conv2"), width, 3, stride, 1, false),
                b.batch_norm(&format!("{prefix}.bn2")),
                b.relu(),
                b.conv2d(&format!("{prefix}.conv3"), 4 * width, 1, 1, 0, false),
                b.batch_norm(&format!("{prefix}.bn3")),
            ]
        },
        |b| {
            if stride == 1 && channels == 4 * width {
                Vec::new()
            } else {
                vec![
                    b.conv2d(&format!("{prefix}.downsample.0"), 4 * width, 1, stride, 0, false),
                    b.batch_norm(&format!("{prefix}.downsample.1")),
                ]
            }
        },
    )
}

fn resnet50() -> Network {
    let mut b = Builder::new("resnet50", SampleShape::image(3, 224, 224));
    let mut layers = vec![
        b.conv2d("conv1", 64, 7, 2, 3, false),
        b.batch_norm("bn1"),
        b.relu(),
        b.max_pool_padded(3, 2, 1),
    ];
    for (stage, (blocks, width, stride)) in [(3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)]
        .into_iter()
        .enumerate()
    {
        for block in 0..blocks {
            let s = if block == 0 { stride } else { 1 };
            layers.push(bottleneck(
                &mut b,
                &format!("layer{}.{block}", stage + 1),
                width,
                s,
            ));
        }
    }
    layers.extend([b.avg_pool(7, 7), b.flatten(), b.linear("fc", 1000, true)]);
    b.finish(layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenet_has_the_authors_tensors() {
        let net = build("lenet").unwrap();
        let shapes: Vec<(&str, Vec<usize>)> = net
            .params()
            .iter()
            .map(|p| (p.name.as_str(), p.shape().to_vec()))
            .collect();
        assert_eq!(
            shapes,
            vec![
                ("conv1.weight", vec![6, 1, 3, 3]),
                ("conv1.bias", vec![6]),
                ("conv2.weight", vec![16, 6, 3, 3]),
                ("conv2.bias", vec![16]),
                ("fc1.weight", vec![120, 784]),
                ("fc1.bias", vec![120]),
                ("fc2.weight", vec![84, 120]),
                ("fc2.bias", vec![84]),
                ("fc3.weight", vec![10, 84]),
                ("fc3.bias", vec![10]),
            ]
        );
        assert_eq!(net.num_programmable_weights(), 54 + 864 + 94080 + 10080 + 840);
        // Crossbar matrices: one row per input (in * kh * kw), one column per output.
        let dims: Vec<(usize, usize)> = net
            .programmable()
            .iter()
            .map(|&i| net.param(i).matrix_dims())
            .collect();
        assert_eq!(dims, vec![(9, 6), (54, 16), (784, 120), (120, 84), (84, 10)]);
    }

    #[test]
    fn resnet18_has_the_cifar_shapes() {
        let net = build("resnet18").unwrap();
        let weights: usize = net.num_programmable_weights();
        // Of the 11,173,962 parameters of CIFAR ResNet-18, all but the linear bias (10) and the
        // batch-norm scales and shifts (9,600) are conv and linear weights.
        assert_eq!(weights, 11_173_962 - 10 - 9_600);
        assert_eq!(
            net.tensor("layer2.0.shortcut.0.weight").unwrap().shape(),
            &[128, 64, 1, 1]
        );
        assert_eq!(
            net.tensor("layer4.1.conv2.weight").unwrap().shape(),
            &[512, 512, 3, 3]
        );
        assert!(net.tensor("layer1.0.shortcut.0.weight").is_none());
        assert_eq!(net.tensor("linear.weight").unwrap().shape(), &[10, 512]);
    }

    #[test]
    fn imagenet_shapes_have_torchvisions_weight_counts() {
        // torchvision: VGG-16 has 138,357,544 parameters, of which 13,416 are biases; ResNet-50 has
        // 25,557,032, of which 1,000 are the fc bias and 53,120 batch-norm scales and shifts.
        let vgg = build("vgg16").unwrap();
        assert_eq!(vgg.num_programmable_weights(), 138_357_544 - 13_416);
        assert_eq!(vgg.tensor("classifier.0.weight").unwrap().shape(), &[4096, 25088]);
        let resnet = build("resnet50").unwrap();
        assert_eq!(resnet.num_programmable_weights(), 25_557_032 - 1_000 - 53_120);
        assert_eq!(
            resnet.tensor("layer4.0.downsample.0.weight").unwrap().shape(),
            &[2048, 1024, 1, 1]
        );
        assert_eq!(resnet.tensor("fc.weight").unwrap().shape(), &[1000, 2048]);
    }

    #[test]
    fn unknown_arch_lists_the_valid_ones() {
        let e = build("lenet5").unwrap_err();
        assert!(
            e.to_string()
                .contains("mlp, lenet, convnet, resnet18, vgg16, resnet50"),
            "{e}"
        );
    }
}
