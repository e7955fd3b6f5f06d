//! Per-channel normalisation asked for by the user: `--normalize MEANS,STDS` on every command that
//! takes a dataset, and the `normalize` key of sweep specs. The images are first scaled as loaded
//! (bytes / 255, as torchvision's `ToTensor`), then each channel `c` becomes `(x - mean[c]) / std[c]`
//! (torchvision's `Normalize`), so a network trained behind those two transforms sees what it saw.

use super::dataset::{Dataset, Split};
use crate::error::InputError;

/// The example every message shows.
const EXAMPLE: &str =
    "e.g. 0.1307,0.3081 for MNIST or 0.4914,0.4822,0.4465,0.2470,0.2435,0.2616 for CIFAR-10";

/// Means and standard deviations per channel, with where they came from (for messages).
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    mean: Vec<f32>,
    std: Vec<f32>,
    source: String,
    text: String,
}

impl Normalization {
    /// Parses `MEAN_1,...,MEAN_C,STD_1,...,STD_C` (two numbers apply to every channel); `source` is the
    /// flag or file key the text came from, named in every error with the expected form.
    pub fn parse(text: &str, source: &str) -> Result<Self, InputError> {
        let bad = |problem: String| InputError::new(source, text, problem);
        let values: Vec<f32> = text
            .split(',')
            .map(|v| v.trim().parse::<f32>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                bad(format!(
                    "expected numbers: the C means then the C stds, comma-separated ({EXAMPLE})"
                ))
            })?;
        if values.len() % 2 != 0 {
            return Err(bad(format!(
                "{} numbers: expected an even count, the C means then the C stds ({EXAMPLE})",
                values.len()
            )));
        }
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(bad(format!("{v} is not a finite number")));
        }
        let (mean, std) = values.split_at(values.len() / 2);
        if let Some(s) = std.iter().find(|s| **s <= 0.0) {
            return Err(bad(format!("std {s} must be positive ({EXAMPLE})")));
        }
        Ok(Self {
            mean: mean.to_vec(),
            std: std.to_vec(),
            source: source.to_string(),
            text: text.to_string(),
        })
    }

    /// The means, one per channel (or one for all).
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// The standard deviations, one per channel (or one for all).
    pub fn std(&self) -> &[f32] {
        &self.std
    }

    /// The text it was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Normalises `dataset` in place; a channel count that does not match names both counts.
    pub fn apply(&self, dataset: &mut Dataset) -> Result<(), InputError> {
        let channels = dataset.images().shape()[1];
        let given = self.mean.len();
        if given != channels && given != 1 {
            return Err(InputError::new(
                &self.source,
                &self.text,
                format!(
                    "{given} means and {given} stds, but {} has {channels} channel{}: expected {channels} \
                     means then {channels} stds (or one mean and one std for every channel)",
                    dataset.name(),
                    if channels == 1 { "" } else { "s" }
                ),
            ));
        }
        dataset
            .normalize(&self.mean, &self.std)
            .map_err(|e| InputError::new(&self.source, &self.text, e.problem))
    }
}

/// Loads `split` of the dataset `spec` (see [`Dataset::load`]) and applies `normalization` if given.
pub fn load(spec: &str, split: Split, normalization: Option<&Normalization>) -> Result<Dataset, InputError> {
    let mut dataset = Dataset::load(spec, split)?;
    if let Some(n) = normalization {
        n.apply(&mut dataset)?;
    }
    Ok(dataset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array4;

    #[test]
    fn takes_the_means_then_the_stds() {
        let n = Normalization::parse("0.5,0.25", "--normalize").unwrap();
        assert_eq!((n.mean(), n.std()), (&[0.5][..], &[0.25][..]));
        let n = Normalization::parse("1, 2, 3, 4,5,6", "--normalize").unwrap();
        assert_eq!((n.mean(), n.std()), (&[1.0, 2.0, 3.0][..], &[4.0, 5.0, 6.0][..]));
    }

    #[test]
    fn bad_texts_name_the_flag_and_the_expected_form() {
        for (text, says) in [
            ("1,2,3", "3 numbers: expected an even count"),
            ("a,b", "expected numbers"),
            ("", "expected numbers"),
            ("0.5,0", "std 0 must be positive"),
            ("0.5,-1", "must be positive"),
            ("nan,1", "not a finite number"),
        ] {
            let e = Normalization::parse(text, "--normalize").unwrap_err().to_string();
            assert!(e.starts_with("--normalize: "), "{e}");
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn normalises_each_channel_and_names_both_counts_on_a_mismatch() {
        let images = Array4::from_shape_vec((1, 2, 1, 2), vec![0.0, 1.0, 0.5, 0.25]).unwrap();
        let mut d = Dataset::new("two", images, vec![0]).unwrap();
        Normalization::parse("0.5,0.25,0.5,0.25", "--normalize")
            .unwrap()
            .apply(&mut d)
            .unwrap();
        assert_eq!(
            d.images().iter().copied().collect::<Vec<_>>(),
            vec![-1.0, 1.0, 1.0, 0.0]
        );
        let e = Normalization::parse("1,2,3,1,1,1", "--normalize")
            .unwrap()
            .apply(&mut d)
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 means and 3 stds, but two has 2 channels"), "{e}");
    }
}
