//! Which weights get write-verify: every device of a selected weight is verified, no device of an
//! unselected one.

use super::error::SimError;
use crate::map::Mapped;
use crate::rng::{self, Purpose};
use rand::Rng;

/// A selection of weights for write-verify.
#[derive(Debug, Clone, PartialEq)]
pub enum Mask {
    /// Every weight (full write-verify).
    All,
    /// No weight (open-loop programming only).
    None,
    /// One flag per weight, per layer in the mapping's layer order, PyTorch layout within a layer.
    Weights(Vec<Vec<bool>>),
}

impl Mask {
    /// Exactly round(fraction x weights) weights chosen uniformly at random over the whole network,
    /// from the stream (seed, Selection, 0). `fraction` is clamped to [0, 1].
    pub fn random(mapped: &Mapped, fraction: f64, seed: u64) -> Mask {
        let sizes: Vec<usize> = mapped.layers().iter().map(|l| l.weights()).collect();
        let total: usize = sizes.iter().sum();
        let k = ((fraction.clamp(0.0, 1.0) * total as f64).round() as usize).min(total);
        // Draw the smaller of the selected set and its complement, by rejection on a flag vector
        // (at most total / 2 hits, so fewer than 1.4 x k draws on average).
        let complement = k > total / 2;
        let hits = if complement { total - k } else { k };
        let mut flags = vec![complement; total];
        let mut rng = rng::stream(seed, Purpose::Selection, 0);
        let mut placed = 0;
        while placed < hits {
            let i = rng.random_range(0..total);
            if flags[i] == complement {
                flags[i] = !complement;
                placed += 1;
            }
        }
        let mut layers = Vec::with_capacity(sizes.len());
        let mut rest = flags.as_slice();
        for n in sizes {
            let (head, tail) = rest.split_at(n);
            layers.push(head.to_vec());
            rest = tail;
        }
        Mask::Weights(layers)
    }

    /// Whether weight `weight` of layer `layer` is selected.
    #[inline]
    pub fn selected(&self, layer: u32, weight: u32) -> bool {
        match self {
            Mask::All => true,
            Mask::None => false,
            Mask::Weights(layers) => layers[layer as usize][weight as usize],
        }
    }

    /// Selected weights of `layer`, which has `weights` weights.
    pub fn selected_in_layer(&self, layer: u32, weights: usize) -> u64 {
        match self {
            Mask::All => weights as u64,
            Mask::None => 0,
            Mask::Weights(layers) => layers[layer as usize].iter().filter(|&&s| s).count() as u64,
        }
    }

    /// Checks that the mask has one flag per weight of `mapped`.
    pub fn check(&self, mapped: &Mapped) -> Result<(), SimError> {
        let Mask::Weights(layers) = self else {
            return Ok(());
        };
        if layers.len() != mapped.layers().len() {
            return Err(SimError::MaskLayers {
                expected: mapped.layers().len(),
                found: layers.len(),
            });
        }
        for (flags, layer) in layers.iter().zip(mapped.layers()) {
            if flags.len() != layer.weights() {
                return Err(SimError::MaskWeights {
                    layer: layer.name.clone(),
                    expected: layer.weights(),
                    found: flags.len(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::map::LayerWeights;

    fn mapped() -> Mapped {
        let hw = config::load("rram_1t1r_256", &[]).unwrap();
        let layers = vec![
            LayerWeights {
                name: "a".into(),
                shape: vec![30, 20],
                values: vec![0.5; 600],
            },
            LayerWeights {
                name: "b".into(),
                shape: vec![10, 40],
                values: vec![-0.5; 400],
            },
        ];
        Mapped::new(&layers, &hw).unwrap()
    }

    fn count(mask: &Mask, m: &Mapped) -> u64 {
        (0..2)
            .map(|l| mask.selected_in_layer(l, m.layers()[l as usize].weights()))
            .sum()
    }

    #[test]
    fn random_masks_select_exactly_the_fraction_and_depend_only_on_the_seed() {
        let m = mapped();
        for f in [0.0, 0.1, 0.5, 0.73, 1.0] {
            let mask = Mask::random(&m, f, 9);
            assert_eq!(count(&mask, &m), (f * 1000.0).round() as u64);
            assert!(mask.check(&m).is_ok());
        }
        assert_eq!(Mask::random(&m, 0.3, 9), Mask::random(&m, 0.3, 9));
        assert_ne!(Mask::random(&m, 0.3, 9), Mask::random(&m, 0.3, 10));
        // Spread over both layers.
        let mask = Mask::random(&m, 0.5, 1);
        assert!(mask.selected_in_layer(1, 400) > 100 && mask.selected_in_layer(0, 600) > 200);
    }

    #[test]
    fn a_mask_of_the_wrong_layout_is_an_error_naming_the_layer() {
        let m = mapped();
        let bad = Mask::Weights(vec![vec![true; 600], vec![false; 399]]);
        let e = bad.check(&m).unwrap_err();
        assert!(e.to_string().contains("`b`"), "{e}");
        assert!(Mask::Weights(vec![vec![true; 600]]).check(&m).is_err());
        assert_eq!(count(&Mask::All, &m), 1000);
        assert_eq!(count(&Mask::None, &m), 0);
    }
}
