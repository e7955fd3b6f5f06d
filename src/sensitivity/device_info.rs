//! Per-weight device information that the non-uniform scores need, filled by the hardware mapping (or
//! by the uniform fallback here, where every weight sits on one device of the same sigma).

use super::curvature::Curvature;
use crate::error::InputError;

/// Device information for every weight of one programmable tensor (indices as the tensor's flat
/// row-major PyTorch layout).
#[derive(Debug, Clone, PartialEq)]
pub struct WeightDeviceInfo {
    /// Per weight: the variance write-verify removes, `sum over the weight's devices of
    /// significance^2 * (sigma_i^2 - sigma_wv_i^2)`, in weight units squared normalised per layer
    /// (a weight of `max|W|` is 1).
    pub variance_reduction: Vec<f32>,
    /// Per weight: the variation-map multiplier the authors' `uswim-paper` score uses (1 when flat).
    pub band_multiplier: Vec<f32>,
    /// Per weight: the expected write-verify time of its devices, in ns (used by `uswim-cost` and by
    /// programming-time budgets).
    pub expected_verify_ns: Vec<f32>,
}

impl WeightDeviceInfo {
    /// The uniform fallback for `n` weights: one device per weight with significance 1, open-loop
    /// sigma `sigma` and post-verify sigma `sigma_wv` (both relative to the layer's range), band
    /// multiplier 1, and the same expected verify time `verify_ns` for every weight.
    pub fn uniform(n: usize, sigma: f32, sigma_wv: f32, verify_ns: f32) -> Self {
        Self {
            variance_reduction: vec![sigma * sigma - sigma_wv * sigma_wv; n],
            band_multiplier: vec![1.0; n],
            expected_verify_ns: vec![verify_ns; n],
        }
    }

    /// The uniform fallback for every tensor of a sensitivity pass.
    pub fn uniform_for(curvature: &Curvature, sigma: f32, sigma_wv: f32, verify_ns: f32) -> Vec<Self> {
        curvature
            .layers
            .iter()
            .map(|l| Self::uniform(l.len(), sigma, sigma_wv, verify_ns))
            .collect()
    }

    /// Checks lengths (`n` per vector) and values (finite; variance reduction and multipliers
    /// non-negative; verify times positive) for the tensor `layer`.
    pub fn validate(&self, layer: &str, n: usize) -> Result<(), InputError> {
        let source = "device information";
        let fields: [(&str, &[f32], bool); 3] = [
            ("variance_reduction", &self.variance_reduction, false),
            ("band_multiplier", &self.band_multiplier, false),
            ("expected_verify_ns", &self.expected_verify_ns, true),
        ];
        for (field, values, positive) in fields {
            let at = format!("{layer}.{field}");
            if values.len() != n {
                return Err(InputError::new(
                    source,
                    at,
                    format!("expected {n} values (one per weight), got {}", values.len()),
                ));
            }
            let bad = |v: f32| !v.is_finite() || v < 0.0 || (positive && v == 0.0);
            if let Some(i) = values.iter().position(|&v| bad(v)) {
                let range = if positive {
                    "finite and > 0"
                } else {
                    "finite and >= 0"
                };
                return Err(InputError::new(
                    source,
                    at,
                    format!("value {} at index {i} is not {range}", values[i]),
                ));
            }
        }
        Ok(())
    }
}

/// Checks one [`WeightDeviceInfo`] per tensor of `curvature`, each of the tensor's length.
pub fn validate_all(curvature: &Curvature, devices: &[WeightDeviceInfo]) -> Result<(), InputError> {
    if devices.len() != curvature.layers.len() {
        return Err(InputError::new(
            "device information",
            "layers",
            format!(
                "expected {} tensors (one per programmable tensor), got {}",
                curvature.layers.len(),
                devices.len()
            ),
        ));
    }
    for (l, d) in curvature.layers.iter().zip(devices) {
        d.validate(&l.name, l.len())?;
    }
    Ok(())
}
