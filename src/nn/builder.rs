//! Building a network layer by layer under PyTorch's state_dict names.

use super::layers::{BatchNorm2d, Conv2d, ConvGeom, Layer, Linear, Pool2d, PoolKind, Residual};
use super::network::Network;
use super::param::{Param, ParamKind};
use super::tensor::SampleShape;

/// Builds a network layer by layer, tracking the sample shape and registering parameters under their
/// PyTorch names. Misuse (a convolution after a flatten, a kernel larger than its input) is a
/// programming error in the architecture and panics with the layer's name.
#[derive(Debug)]
pub struct Builder {
    arch: String,
    input: SampleShape,
    shape: SampleShape,
    params: Vec<Param>,
}

impl Builder {
    /// A builder for architecture `arch` taking samples of `input`.
    pub fn new(arch: impl Into<String>, input: SampleShape) -> Self {
        Self {
            arch: arch.into(),
            input,
            shape: input,
            params: Vec::new(),
        }
    }

    /// The current sample shape (the output of the layers made so far).
    pub fn shape(&self) -> SampleShape {
        self.shape
    }

    fn add(&mut self, name: String, kind: ParamKind, shape: &[usize], fan_in: usize) -> usize {
        assert!(
            self.params.iter().all(|p| p.name != name),
            "{}: duplicate tensor {name}",
            self.arch
        );
        self.params.push(Param::new(name, kind, shape, fan_in, 0.0));
        self.params.len() - 1
    }

    /// The current shape as an image `(channels, height, width)`.
    ///
    /// # Panics
    /// If it is flat: layer `name` needs an image.
    fn image_input(&self, name: &str) -> (usize, usize, usize) {
        match self.shape {
            SampleShape::Image {
                channels,
                height,
                width,
            } => (channels, height, width),
            SampleShape::Flat(_) => panic!("{}: {name} needs an image input, got {}", self.arch, self.shape),
        }
    }

    /// `nn.Conv2d(in, out_channels, kernel, stride, padding, bias)` named `name`.
    ///
    /// # Panics
    /// If the input is not an image or the kernel does not fit.
    pub fn conv2d(
        &mut self,
        name: &str,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        bias: bool,
    ) -> Layer {
        let (channels, height, width) = self.image_input(name);
        let geom = ConvGeom::new(
            channels,
            height,
            width,
            out_channels,
            (kernel, kernel),
            stride,
            padding,
        )
        .unwrap_or_else(|| {
            panic!(
                "{}: {name}: kernel {kernel} does not fit {}",
                self.arch, self.shape
            )
        });
        let fan_in = geom.patch_len();
        let weight = self.add(
            format!("{name}.weight"),
            ParamKind::Weight,
            &[out_channels, channels, kernel, kernel],
            fan_in,
        );
        let bias = bias.then(|| self.add(format!("{name}.bias"), ParamKind::Bias, &[out_channels], fan_in));
        self.shape = geom.output_shape();
        Layer::Conv2d(Conv2d { weight, bias, geom })
    }

    /// `nn.Linear(in, out_features, bias)` named `name`.
    ///
    /// # Panics
    /// If the input is not flat.
    pub fn linear(&mut self, name: &str, out_features: usize, bias: bool) -> Layer {
        let SampleShape::Flat(in_features) = self.shape else {
            panic!("{}: {name} needs a flat input, got {}", self.arch, self.shape)
        };
        let weight = self.add(
            format!("{name}.weight"),
            ParamKind::Weight,
            &[out_features, in_features],
            in_features,
        );
        let bias = bias.then(|| {
            self.add(
                format!("{name}.bias"),
                ParamKind::Bias,
                &[out_features],
                in_features,
            )
        });
        self.shape = SampleShape::Flat(out_features);
        Layer::Linear(Linear {
            weight,
            bias,
            in_features,
            out_features,
        })
    }

    /// `nn.ReLU()`.
    pub fn relu(&mut self) -> Layer {
        Layer::Relu
    }

    /// `nn.MaxPool2d(kernel, stride)`.
    ///
    /// # Panics
    /// If the input is not an image or the window does not fit.
    pub fn max_pool(&mut self, kernel: usize, stride: usize) -> Layer {
        self.pool(PoolKind::Max, kernel, stride)
    }

    /// `nn.MaxPool2d(kernel, stride, padding)`.
    ///
    /// # Panics
    /// If the input is not an image or the window does not fit.
    pub fn max_pool_padded(&mut self, kernel: usize, stride: usize, padding: usize) -> Layer {
        let pool = Pool2d::new(PoolKind::Max, kernel, stride, padding, self.shape).unwrap_or_else(|| {
            panic!(
                "{}: pooling {kernel}/{stride} pad {padding} does not fit {}",
                self.arch, self.shape
            )
        });
        self.shape = pool.output_shape();
        Layer::Pool2d(pool)
    }

    /// `nn.AvgPool2d(kernel, stride)` (or `F.avg_pool2d`).
    ///
    /// # Panics
    /// If the input is not an image or the window does not fit.
    pub fn avg_pool(&mut self, kernel: usize, stride: usize) -> Layer {
        self.pool(PoolKind::Avg, kernel, stride)
    }

    fn pool(&mut self, kind: PoolKind, kernel: usize, stride: usize) -> Layer {
        let pool = Pool2d::new(kind, kernel, stride, 0, self.shape).unwrap_or_else(|| {
            panic!(
                "{}: pooling {kernel}/{stride} does not fit {}",
                self.arch, self.shape
            )
        });
        self.shape = pool.output_shape();
        Layer::Pool2d(pool)
    }

    /// `torch.flatten(x, 1)`.
    pub fn flatten(&mut self) -> Layer {
        self.shape = SampleShape::Flat(self.shape.len());
        Layer::Flatten
    }

    /// `nn.BatchNorm2d(channels)` named `name`.
    ///
    /// # Panics
    /// If the input is not an image.
    pub fn batch_norm(&mut self, name: &str) -> Layer {
        let (channels, height, width) = self.image_input(name);
        let c = [channels];
        Layer::BatchNorm2d(BatchNorm2d {
            weight: self.add(format!("{name}.weight"), ParamKind::NormWeight, &c, 1),
            bias: self.add(format!("{name}.bias"), ParamKind::NormBias, &c, 1),
            running_mean: self.add(format!("{name}.running_mean"), ParamKind::RunningMean, &c, 1),
            running_var: self.add(format!("{name}.running_var"), ParamKind::RunningVar, &c, 1),
            channels,
            positions: height * width,
            eps: super::layers::BATCH_NORM_EPS,
        })
    }

    /// A residual block `relu(main(x) + shortcut(x))`; `shortcut` may build nothing (identity).
    ///
    /// # Panics
    /// If the branches' output shapes differ.
    pub fn residual(
        &mut self,
        main: impl FnOnce(&mut Self) -> Vec<Layer>,
        shortcut: impl FnOnce(&mut Self) -> Vec<Layer>,
    ) -> Layer {
        let input = self.shape;
        let main = main(self);
        let output = self.shape;
        self.shape = input;
        let shortcut = shortcut(self);
        assert_eq!(self.shape, output, "{}: residual branches disagree", self.arch);
        Layer::Residual(Residual {
            main,
            shortcut,
            output,
        })
    }

    /// The network, initialised with seed 0.
    ///
    /// # Panics
    /// If the layers do not end in flat logits.
    pub fn finish(self, layers: Vec<Layer>) -> Network {
        let SampleShape::Flat(classes) = self.shape else {
            panic!(
                "{}: the network must end in flat logits, got {}",
                self.arch, self.shape
            )
        };
        let mut net = Network::from_parts(self.arch, self.input, classes, layers, self.params);
        net.initialize(0);
        net
    }
}
