//! Which weights get write-verify, and how tightly: every device of a selected weight is verified (to the
//! tolerance of its weight's class), no device of an unselected one.

use super::error::SimError;
use crate::map::Mapped;
use crate::rng::{self, Purpose};
use rand::Rng;

/// The write-verify class of a weight: whether its devices are verified, and to which acceptance band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum WvClass {
    /// Not verified: the open-loop write only.
    #[default]
    None,
    /// Verified to `program.loose_tolerance` ([`crate::config::ProgramConfig::loose_tolerance`]).
    Loose,
    /// Verified to `program.tolerance` (what a binary mask's selected weights get).
    Tight,
}

impl WvClass {
    /// Every class, from no verify to the tightest band.
    pub const ALL: [WvClass; 3] = [WvClass::None, WvClass::Loose, WvClass::Tight];

    /// The class's name in files and tables: `none`, `loose`, `tight`.
    pub fn name(self) -> &'static str {
        match self {
            WvClass::None => "none",
            WvClass::Loose => "loose",
            WvClass::Tight => "tight",
        }
    }

    /// Whether the class's devices are verified.
    pub fn verified(self) -> bool {
        self != WvClass::None
    }
}

/// A selection of weights for write-verify.
#[derive(Debug, Clone, PartialEq)]
pub enum Mask {
    /// Every weight (full write-verify).
    All,
    /// No weight (open-loop programming only).
    None,
    /// One flag per weight, per layer in the mapping's layer order, PyTorch layout within a layer: selected
    /// weights are verified to `program.tolerance`.
    Weights(Vec<Vec<bool>>),
    /// One tolerance class per weight, laid out as [`Mask::Weights`].
    Classes(Vec<Vec<WvClass>>),
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

    /// The class of weight `weight` of layer `layer`.
    #[inline]
    pub fn class(&self, layer: u32, weight: u32) -> WvClass {
        match self {
            Mask::All => WvClass::Tight,
            Mask::None => WvClass::None,
            Mask::Weights(layers) => {
                if layers[layer as usize][weight as usize] {
                    WvClass::Tight
                } else {
                    WvClass::None
                }
            }
            Mask::Classes(layers) => layers[layer as usize][weight as usize],
        }
    }

    /// Whether weight `weight` of layer `layer` is verified (in any class).
    #[inline]
    pub fn selected(&self, layer: u32, weight: u32) -> bool {
        self.class(layer, weight).verified()
    }

    /// Whether some weight is in the loose class.
    pub fn has_loose(&self) -> bool {
        match self {
            Mask::Classes(layers) => layers.iter().flatten().any(|&c| c == WvClass::Loose),
            _ => false,
        }
    }

    /// Weights of `layer` (which has `weights` weights) in each class, indexed as [`WvClass::ALL`].
    pub fn classes_in_layer(&self, layer: u32, weights: usize) -> [u64; 3] {
        let mut counts = [0u64; 3];
        match self {
            Mask::All => counts[2] = weights as u64,
            Mask::None => counts[0] = weights as u64,
            Mask::Weights(layers) => {
                let selected = layers[layer as usize].iter().filter(|&&s| s).count() as u64;
                counts = [weights as u64 - selected, 0, selected];
            }
            Mask::Classes(layers) => {
                for &c in &layers[layer as usize] {
                    counts[c as usize] += 1;
                }
            }
        }
        counts
    }

    /// Verified weights (any class) of `layer`, which has `weights` weights.
    pub fn selected_in_layer(&self, layer: u32, weights: usize) -> u64 {
        let [_, loose, tight] = self.classes_in_layer(layer, weights);
        loose + tight
    }

    /// Checks that the mask has one flag or class per weight of `mapped`.
    pub fn check(&self, mapped: &Mapped) -> Result<(), SimError> {
        let lengths: Vec<usize> = match self {
            Mask::All | Mask::None => return Ok(()),
            Mask::Weights(layers) => layers.iter().map(Vec::len).collect(),
            Mask::Classes(layers) => layers.iter().map(Vec::len).collect(),
        };
        if lengths.len() != mapped.layers().len() {
            return Err(SimError::MaskLayers {
                expected: mapped.layers().len(),
                found: lengths.len(),
            });
        }
        for (&found, layer) in lengths.iter().zip(mapped.layers()) {
            if found != layer.weights() {
                return Err(SimError::MaskWeights {
                    layer: layer.name.clone(),
                    expected: layer.weights(),
                    found,
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
        let short = Mask::Classes(vec![vec![WvClass::Loose; 600], vec![WvClass::None; 401]]);
        assert!(short.check(&m).unwrap_err().to_string().contains("`b`"));
    }

    #[test]
    fn classes_count_per_layer_and_a_binary_mask_is_tight_or_none() {
        let m = mapped();
        let mut a = vec![WvClass::None; 600];
        a[..10].fill(WvClass::Tight);
        a[10..35].fill(WvClass::Loose);
        let classes = Mask::Classes(vec![a, vec![WvClass::Loose; 400]]);
        assert!(classes.check(&m).is_ok());
        assert_eq!(classes.classes_in_layer(0, 600), [565, 25, 10]);
        assert_eq!(classes.classes_in_layer(1, 400), [0, 400, 0]);
        assert_eq!(count(&classes, &m), 435);
        assert!(classes.has_loose());
        assert_eq!(classes.class(0, 12), WvClass::Loose);
        let binary = Mask::random(&m, 0.25, 3);
        assert!(!binary.has_loose());
        for w in 0..600 {
            let c = binary.class(0, w);
            assert_eq!(c == WvClass::Tight, binary.selected(0, w));
            assert_ne!(c, WvClass::Loose);
        }
    }
}
