//! Errors of the mapping: a network that cannot be placed on the configured crossbars.

use thiserror::Error;

/// A network or a set of conductances that the mapping cannot use. Each variant names the layer (or the
/// configuration key) and what was expected.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum MapError {
    /// The network has no layer to map.
    #[error("the network has no layer to map")]
    Empty,
    /// A layer's shape is neither a linear `[out, in]` nor a convolution `[out, in, kh, kw]` weight.
    #[error(
        "layer `{layer}`: shape {shape:?} is not a linear [out, in] or convolution [out, in, kh, kw] weight with every size >= 1"
    )]
    Shape {
        /// The layer name.
        layer: String,
        /// The shape found.
        shape: Vec<usize>,
    },
    /// A layer's value count does not match its shape.
    #[error("layer `{layer}`: {found} values for shape {shape:?} (expected {expected})")]
    ValueCount {
        /// The layer name.
        layer: String,
        /// The shape.
        shape: Vec<usize>,
        /// The product of the shape.
        expected: usize,
        /// The number of values given.
        found: usize,
    },
    /// A weight is NaN or infinite.
    #[error("layer `{layer}`: weight {index} is {value} (weights must be finite)")]
    NonFinite {
        /// The layer name.
        layer: String,
        /// The flat index of the weight (PyTorch layout).
        index: usize,
        /// The value found.
        value: f32,
    },
    /// A layer is too large for the 32-bit indices used per layer.
    #[error("layer `{layer}`: {weights} weights; at most {max} per layer are supported")]
    LayerTooLarge {
        /// The layer name.
        layer: String,
        /// Its weight count.
        weights: usize,
        /// The supported maximum.
        max: usize,
    },
    /// The devices of one weight do not fit in one array row.
    #[error(
        "one weight needs {devices_per_weight} devices in a row (mapping.weight_bits / device.bits_per_cell slices{}), but array.cols = {cols}; allowed: array.cols >= {devices_per_weight}",
        if *differential { " x 2 for differential" } else { "" }
    )]
    WeightTooWide {
        /// Devices per weight.
        devices_per_weight: u32,
        /// Columns per array.
        cols: u32,
        /// Whether the mapping is differential.
        differential: bool,
    },
    /// The network needs more arrays than the chip has.
    #[error(
        "the network needs {needed} arrays of {rows}x{cols}, but array.count = {available}; allowed: array.count >= {needed} or \"auto\""
    )]
    TooManyArrays {
        /// Arrays needed.
        needed: u64,
        /// Arrays configured.
        available: u32,
        /// Rows per array.
        rows: u32,
        /// Columns per array.
        cols: u32,
    },
    /// A conductance vector does not match the mapping.
    #[error("{found} conductances given, but the mapping has {expected} devices")]
    ConductanceCount {
        /// Devices in the mapping.
        expected: u64,
        /// Conductances given.
        found: usize,
    },
}
