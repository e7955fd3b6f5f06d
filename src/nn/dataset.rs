//! Labelled image datasets in the IDX format (MNIST, Fashion-MNIST), selected by name or by folder.
//!
//! A name (`mnist`, `fashion-mnist`) resolves to a folder of that name under the data folder: the
//! folder in `USWIM_DATA_DIR` if set, else `./data` if it has the dataset, else the crate's own `data/`
//! (so tests and `cargo run` find it from anywhere). Anything else is taken as a path to a folder
//! holding `train-images*idx3-ubyte[.gz]`, `train-labels*idx1-ubyte[.gz]` and the `t10k-*` pair.
//! Pixels are scaled to [0, 1] (byte / 255) and nothing else. Array files (`.npz`, `.npy`,
//! `.safetensors`) are read by [`super::arrays`].

use super::idx;
use super::tensor::{SampleShape, Tensor};
use crate::error::InputError;
use ndarray::{Array4, ArrayView4, Axis, s};
use std::path::{Path, PathBuf};

/// The datasets shipped in `data/`, selectable by name.
pub const DATASETS: &[&str] = &["mnist", "fashion-mnist"];

/// Which part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training images (`train-*`).
    Train,
    /// The test images (`t10k-*`).
    Test,
}

impl Split {
    /// The file-name prefix of the split.
    fn prefix(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Test => "t10k",
        }
    }
}

/// Images `[N, C, H, W]` scaled to [0, 1] and their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    name: String,
    images: Array4<f32>,
    labels: Vec<u8>,
    /// Whether [`Dataset::normalize`] was applied (by the file's own `mean` and `std` arrays or by
    /// `--normalize`): a second normalisation is refused.
    normalized: bool,
}

impl Dataset {
    /// A dataset from images and labels; `name` appears in messages.
    pub fn new(name: impl Into<String>, images: Array4<f32>, labels: Vec<u8>) -> Result<Self, InputError> {
        let name = name.into();
        if images.shape()[0] != labels.len() {
            return Err(InputError::new(
                &name,
                "labels",
                format!("{} images but {} labels", images.shape()[0], labels.len()),
            ));
        }
        let images = images.as_standard_layout().into_owned();
        Ok(Self {
            name,
            images,
            labels,
            normalized: false,
        })
    }

    /// Loads `split` of the dataset named or located by `spec` (see the module docs); an `.npz`,
    /// `.npy` or `.safetensors` spec (or a folder of `.npy` files) is an array dataset
    /// ([`super::arrays`]).
    pub fn load(spec: &str, split: Split) -> Result<Self, InputError> {
        if super::arrays::is_array_spec(spec) {
            return super::arrays::load(spec, split);
        }
        let dir = resolve(spec)?;
        let images_path = find_file(&dir, split, "images", "idx3-ubyte")?;
        let labels_path = find_file(&dir, split, "labels", "idx1-ubyte")?;
        let images = idx::read(&images_path)?;
        let labels = idx::read(&labels_path)?;
        let at = |p: &Path| p.display().to_string();
        let [n, h, w] = images.dims[..] else {
            return Err(InputError::new(
                at(&images_path),
                "dimensions",
                format!(
                    "expected 3 dimensions (images, rows, columns), found {:?}",
                    images.dims
                ),
            ));
        };
        if labels.dims != [n] {
            return Err(InputError::new(
                at(&labels_path),
                "dimensions",
                format!(
                    "expected [{n}] (one label per image of {}), found {:?}",
                    at(&images_path),
                    labels.dims
                ),
            ));
        }
        let pixels: Vec<f32> = images.data.iter().map(|&b| f32::from(b) / 255.0).collect();
        let images =
            Array4::from_shape_vec((n, 1, h, w), pixels).expect("IDX length checked against its dimensions");
        let name = if DATASETS.contains(&spec) {
            spec.to_string()
        } else {
            dir.display().to_string()
        };
        Self::new(name, images, labels.data)
    }

    /// Normalises every image per channel, `(x - mean[c]) / std[c]` (torchvision's `Normalize`); one
    /// mean and one std apply to every channel. Errors name the count expected.
    pub fn normalize(&mut self, mean: &[f32], std: &[f32]) -> Result<(), InputError> {
        if self.normalized {
            return Err(InputError::new(
                &self.name,
                "normalize",
                "the images are normalised already (by the file's mean and std arrays): normalise once",
            ));
        }
        let channels = self.images.shape()[1];
        let fits = |v: &[f32]| v.len() == channels || v.len() == 1;
        if !fits(mean) || !fits(std) {
            return Err(InputError::new(
                &self.name,
                "normalize",
                format!(
                    "{} means and {} stds for {channels} channels (expected {channels} or 1 each)",
                    mean.len(),
                    std.len()
                ),
            ));
        }
        if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(InputError::new(
                &self.name,
                "normalize",
                format!("std {s} must be positive"),
            ));
        }
        for mut image in self.images.outer_iter_mut() {
            for (c, mut plane) in image.outer_iter_mut().enumerate() {
                let (m, s) = (mean[c % mean.len()], std[c % std.len()]);
                plane.mapv_inplace(|v| (v - m) / s);
            }
        }
        self.normalized = true;
        Ok(())
    }

    /// The dataset's name (or folder) for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The images `[N, C, H, W]`.
    pub fn images(&self) -> ArrayView4<'_, f32> {
        self.images.view()
    }

    /// The labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The shape of one image.
    pub fn sample_shape(&self) -> SampleShape {
        let d = self.images.shape();
        SampleShape::image(d[1], d[2], d[3])
    }

    /// The number of classes seen: the largest label plus one.
    pub fn num_classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&m| m as usize + 1)
    }

    /// Keeps only the first `n` images (all of them if there are fewer).
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.len());
        self.images = self.images.slice(s![..n, .., .., ..]).to_owned();
        self.labels.truncate(n);
    }

    /// Gathers the images and labels at `indices` into a batch.
    pub fn gather(&self, indices: &[usize]) -> (Tensor, Vec<u8>) {
        let images = self.images.select(Axis(0), indices).into_dyn();
        let labels = indices.iter().map(|&i| self.labels[i]).collect();
        (images, labels)
    }

    /// The contiguous batch of images `start..end` and their labels.
    pub fn range(&self, start: usize, end: usize) -> (Tensor, &[u8]) {
        (
            self.images
                .slice(s![start..end, .., .., ..])
                .to_owned()
                .into_dyn(),
            &self.labels[start..end],
        )
    }
}

/// The folder that holds the named datasets (see the module docs).
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("USWIM_DATA_DIR") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("data");
    if DATASETS.iter().any(|d| local.join(d).is_dir()) {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// The folder of the dataset named or located by `spec`.
pub fn resolve(spec: &str) -> Result<PathBuf, InputError> {
    let dir = if DATASETS.contains(&spec) {
        data_dir().join(spec)
    } else {
        PathBuf::from(spec)
    };
    if dir.is_dir() {
        Ok(dir)
    } else if DATASETS.contains(&spec) {
        Err(InputError::new(
            "--dataset",
            spec,
            format!(
                "dataset folder {} not found (set USWIM_DATA_DIR to the folder holding it)",
                dir.display()
            ),
        ))
    } else {
        Err(InputError::new(
            "--dataset",
            spec,
            format!(
                "not a dataset name ({}) nor a folder of IDX files",
                DATASETS.join(", ")
            ),
        ))
    }
}

/// The file in `dir` whose name starts with `<split>-<what>` and contains `tag` (`idx3-ubyte`), raw
/// or gzipped; both the `train-images-idx3-ubyte` and `train-images.idx3-ubyte` spellings match.
fn find_file(dir: &Path, split: Split, what: &str, tag: &str) -> Result<PathBuf, InputError> {
    let prefix = format!("{}-{what}", split.prefix());
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| InputError::new(dir.display().to_string(), "", format!("cannot list: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with(&prefix) && name.contains(tag)
        })
        .collect();
    found.sort();
    found.into_iter().next().ok_or_else(|| {
        InputError::new(
            dir.display().to_string(),
            prefix.clone(),
            format!("no file named {prefix}*{tag}[.gz] in this folder"),
        )
    })
}
