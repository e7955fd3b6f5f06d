//! Output files of a sensitivity analysis, written atomically, and their readers.
//!
//! - `sensitivity.csv`: one row per programmable weight, columns `layer, index, weight, grad, hess,
//!   score, selected` (`index` the flat row-major index in the PyTorch layout; `grad`, `hess` in raw
//!   weight units; `selected` the weight's mask code).
//! - `mask.safetensors`: one U8 tensor per programmable tensor, with the weight tensor's name and shape
//!   (`conv1.weight [6, 1, 3, 3]`), one code per weight: 0 no write-verify, 1 write-verify to
//!   `program.tolerance` (the tight class: what every selected weight of a binary mask gets), 2
//!   write-verify to `program.loose_tolerance` (the loose class). A 0/1 file keeps its meaning.

use super::curvature::Curvature;
use super::score::Scores;
use super::select::Selection;
use crate::error::InputError;
use crate::nn::Network;
use crate::nn::model_file::{RawTensor, check_tensor_set, read_tensors, write_tensors};
use crate::sim::WvClass;
use crate::trace::atomic::AtomicFile;
use safetensors::tensor::Dtype;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// The mask code of a tolerance class: 0 none, 1 tight, 2 loose (see the module docs).
pub fn class_code(class: WvClass) -> u8 {
    match class {
        WvClass::None => 0,
        WvClass::Tight => 1,
        WvClass::Loose => 2,
    }
}

/// The tolerance class of a mask code (`None` for a code other than 0, 1, 2).
pub fn code_class(code: u8) -> Option<WvClass> {
    match code {
        0 => Some(WvClass::None),
        1 => Some(WvClass::Tight),
        2 => Some(WvClass::Loose),
        _ => None,
    }
}

/// The allowed mask codes, for messages.
pub const ALLOWED_CODES: &str =
    "0 (no write-verify), 1 (tight: program.tolerance), 2 (loose: program.loose_tolerance)";

/// The columns of `sensitivity.csv`, in order.
pub const CSV_COLUMNS: [&str; 7] = ["layer", "index", "weight", "grad", "hess", "score", "selected"];

/// One row of `sensitivity.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensitivityRow {
    /// The layer (`conv1`; the tensor is `conv1.weight`).
    pub layer: String,
    /// Flat row-major index in the PyTorch layout.
    pub index: usize,
    /// The weight.
    pub weight: f32,
    /// Mean `dL/dw` over the calibration set.
    pub grad: f32,
    /// Sum of `d2L/dw2` over the calibration set.
    pub hess: f32,
    /// The score.
    pub score: f64,
    /// The weight's mask code: 0 not verified, 1 tight, 2 loose.
    pub selected: u8,
}

/// Writes `sensitivity.csv` for a pass, its scores and a selection (all aligned by tensor).
pub fn write_csv(
    path: &Path,
    curvature: &Curvature,
    scores: &Scores,
    selection: &Selection,
) -> io::Result<()> {
    write_rows(path, curvature, scores, |l, i| u8::from(selection.layers[l][i]))
}

/// Writes `sensitivity.csv` for a pass, its scores and a tolerance class per weight (all aligned by
/// tensor): `selected` is each weight's mask code.
pub fn write_class_csv(
    path: &Path,
    curvature: &Curvature,
    scores: &Scores,
    classes: &[Vec<WvClass>],
) -> io::Result<()> {
    write_rows(path, curvature, scores, |l, i| class_code(classes[l][i]))
}

fn write_rows(
    path: &Path,
    curvature: &Curvature,
    scores: &Scores,
    code: impl Fn(usize, usize) -> u8,
) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    {
        let mut w = csv::Writer::from_writer(&mut file);
        for (k, (l, s)) in curvature.layers.iter().zip(&scores.layers).enumerate() {
            for (i, &score) in s.iter().enumerate().take(l.len()) {
                w.serialize(SensitivityRow {
                    layer: l.layer.clone(),
                    index: i,
                    weight: l.weight[i],
                    grad: l.grad[i],
                    hess: l.hess[i],
                    score,
                    selected: code(k, i),
                })?;
            }
        }
        w.flush()?;
    }
    file.commit()
}

/// Reads `sensitivity.csv`; a missing column, a malformed value or a `selected` other than a mask code
/// (0, 1, 2) is an error naming the row.
pub fn read_csv(path: &Path) -> Result<Vec<SensitivityRow>, InputError> {
    let source = path.display().to_string();
    let mut r = csv::Reader::from_path(path)
        .map_err(|e| InputError::new(&source, "", format!("cannot read: {e}")))?;
    let headers = r
        .headers()
        .map_err(|e| InputError::new(&source, "header", e.to_string()))?
        .clone();
    if headers.iter().collect::<Vec<_>>() != CSV_COLUMNS {
        return Err(InputError::new(
            &source,
            "header",
            format!(
                "expected columns {}, found {}",
                CSV_COLUMNS.join(","),
                headers.iter().collect::<Vec<_>>().join(",")
            ),
        ));
    }
    let mut rows = Vec::new();
    for (i, rec) in r.deserialize::<SensitivityRow>().enumerate() {
        let row = rec.map_err(|e| InputError::new(&source, format!("row {}", i + 2), e.to_string()))?;
        if code_class(row.selected).is_none() {
            return Err(InputError::new(
                &source,
                format!("row {} selected", i + 2),
                format!("{}; allowed: {ALLOWED_CODES}", row.selected),
            ));
        }
        rows.push(row);
    }
    Ok(rows)
}

/// The write-verify flags of one programmable tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskTensor {
    /// The weight tensor's name (`conv1.weight`).
    pub name: String,
    /// Its shape (PyTorch layout).
    pub shape: Vec<usize>,
    /// One mask code per weight, row-major: 0 open-loop write only, 1 write-verify (tight), 2
    /// write-verify to the loose band.
    pub flags: Vec<u8>,
}

/// A write-verify mask: per programmable tensor, one code per weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    /// The tensors, in network order (sorted by name when read from a file).
    pub tensors: Vec<MaskTensor>,
}

impl Mask {
    /// The mask of a selection.
    pub fn from_selection(curvature: &Curvature, selection: &Selection) -> Self {
        let tensors = curvature
            .layers
            .iter()
            .zip(&selection.layers)
            .map(|(l, s)| MaskTensor {
                name: l.name.clone(),
                shape: l.shape.clone(),
                flags: s.iter().map(|&b| u8::from(b)).collect(),
            })
            .collect();
        Self { tensors }
    }

    /// The mask of a tolerance class per weight (aligned with the pass's tensors).
    pub fn from_classes(curvature: &Curvature, classes: &[Vec<WvClass>]) -> Self {
        let tensors = curvature
            .layers
            .iter()
            .zip(classes)
            .map(|(l, c)| MaskTensor {
                name: l.name.clone(),
                shape: l.shape.clone(),
                flags: c.iter().map(|&c| class_code(c)).collect(),
            })
            .collect();
        Self { tensors }
    }

    /// The same flag for every programmable weight of `net` (all verified, or none).
    pub fn uniform(net: &Network, selected: bool) -> Self {
        let tensors = net
            .programmable()
            .into_iter()
            .map(|i| {
                let p = net.param(i);
                MaskTensor {
                    name: p.name.clone(),
                    shape: p.shape().to_vec(),
                    flags: vec![u8::from(selected); p.len()],
                }
            })
            .collect();
        Self { tensors }
    }

    /// The tolerance classes of tensor `name` (codes checked by [`Mask::read`]; an unknown code reads as
    /// none).
    pub fn classes(&self, name: &str) -> Option<Vec<WvClass>> {
        self.get(name)
            .map(|flags| flags.iter().map(|&b| code_class(b).unwrap_or_default()).collect())
    }

    /// The codes of tensor `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.flags.as_slice())
    }

    /// Number of selected weights (in any class).
    pub fn selected(&self) -> usize {
        self.tensors
            .iter()
            .map(|t| t.flags.iter().filter(|&&b| b != 0).count())
            .sum()
    }

    /// Number of weights in the loose class.
    pub fn loose(&self) -> usize {
        self.tensors
            .iter()
            .map(|t| {
                t.flags
                    .iter()
                    .filter(|&&b| b == class_code(WvClass::Loose))
                    .count()
            })
            .sum()
    }

    /// Number of weights.
    pub fn total(&self) -> usize {
        self.tensors.iter().map(|t| t.flags.len()).sum()
    }

    /// Checks that the mask has exactly the programmable tensors of `net` (names and shapes);
    /// `source` names the mask in the error.
    pub fn check(&self, net: &Network, source: &str) -> Result<(), InputError> {
        let expected: Vec<(String, Vec<usize>)> = net
            .programmable()
            .into_iter()
            .map(|i| (net.param(i).name.clone(), net.param(i).shape().to_vec()))
            .collect();
        let found: Vec<(String, Vec<usize>)> = self
            .tensors
            .iter()
            .map(|t| (t.name.clone(), t.shape.clone()))
            .collect();
        check_tensor_set(
            source,
            &format!("the programmable weights of {}", net.arch()),
            &expected,
            &found,
        )
    }

    /// Writes the mask as safetensors (U8 tensors), atomically.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let tensors: Vec<RawTensor> = self
            .tensors
            .iter()
            .map(|t| RawTensor {
                name: t.name.clone(),
                dtype: Dtype::U8,
                shape: t.shape.clone(),
                bytes: t.flags.clone(),
            })
            .collect();
        let meta = BTreeMap::from([
            ("kind".to_string(), "uswim write-verify mask".to_string()),
            ("selected".to_string(), self.selected().to_string()),
            ("loose".to_string(), self.loose().to_string()),
            ("codes".to_string(), ALLOWED_CODES.to_string()),
            ("total".to_string(), self.total().to_string()),
        ]);
        write_tensors(path, &tensors, &meta)
    }

    /// Reads a mask file: every tensor must be U8 with mask codes 0, 1, 2 (or BOOL: 0 and 1). Tensors
    /// come back sorted by name; use [`Mask::check`] against the network.
    pub fn read(path: &Path) -> Result<Self, InputError> {
        let source = path.display().to_string();
        let file = read_tensors(path)?;
        let mut tensors = Vec::with_capacity(file.tensors.len());
        for t in file.tensors {
            if !matches!(t.dtype, Dtype::U8 | Dtype::BOOL) {
                return Err(InputError::new(
                    &source,
                    &t.name,
                    format!(
                        "element type {:?}; a mask tensor must be U8 with codes {ALLOWED_CODES}",
                        t.dtype
                    ),
                ));
            }
            let top = if t.dtype == Dtype::BOOL { 1 } else { 2 };
            if let Some(i) = t.bytes.iter().position(|&b| b > top) {
                let allowed = if top == 1 {
                    "0 or 1 (a BOOL tensor)"
                } else {
                    ALLOWED_CODES
                };
                return Err(InputError::new(
                    &source,
                    &t.name,
                    format!("value {} at flat index {i}; allowed: {allowed}", t.bytes[i]),
                ));
            }
            tensors.push(MaskTensor {
                name: t.name,
                shape: t.shape,
                flags: t.bytes,
            });
        }
        Ok(Self { tensors })
    }
}
