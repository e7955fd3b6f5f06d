//! Errors of a programming run.

use thiserror::Error;

/// A programming run that cannot start or could not finish.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SimError {
    /// The mask has a different number of layers than the network.
    #[error("mask: {found} layers, but the network has {expected}")]
    MaskLayers {
        /// Layers of the network.
        expected: usize,
        /// Layers of the mask.
        found: usize,
    },
    /// A mask layer has a different number of weights than the network's layer.
    #[error("mask: layer `{layer}` has {found} flags, but the layer has {expected} weights")]
    MaskWeights {
        /// The layer name.
        layer: String,
        /// Weights of the layer.
        expected: usize,
        /// Flags in the mask.
        found: usize,
    },
    /// The mapping was made for another array geometry or slicing than the configuration given.
    #[error("the mapping was made for another configuration: {0}")]
    ConfigMismatch(String),
    /// The trace sink failed (for example, the disk is full).
    #[error("writing the trace: {0}")]
    Trace(#[from] std::io::Error),
}
