//! Mapping: a network's weights to devices on crossbar tiles, and programmed conductances back to the
//! weights the crossbars compute with (DESIGN.md section 4).
//!
//! - [`quantize`]: per-layer quantisation to `weight_bits` over max|W| and bit slicing into
//!   `bits_per_cell` slices, most significant first; `differential` (G+/G- pairs) or `paper` signs.
//! - [`layout`]: tiling of each layer's [inputs x outputs] matrix onto arrays; every device knows its
//!   layer, weight, slice, array, row, column and target conductance ([`Mapped::for_each_device`]).
//! - [`readback`]: conductances to weights, analog, the exact inverse of the mapping for ideal devices.
//! - [`sigma`]: per-weight device significance, variation and expected verify cost, for the sensitivity
//!   analyzer.
//!
//! **Invariant:** `map` is pure: no I/O and no random numbers of its own (device sigmas come from the
//! variation map's deterministic per-array function). Devices are generated per array on demand,
//! never all at once, so mapping a 90 M-device network costs only its quantised weights.

mod error;
pub mod layout;
pub mod quantize;
pub mod readback;
pub mod sigma;

pub use error::MapError;
pub use layout::{LayerWeights, Mapped, MappedDevice, MappedLayer, Tile};
pub use quantize::SliceSpec;
pub use readback::read_back;
