//! Datasets as arrays: NumPy `.npz` archives, `.npy` files and safetensors files holding images and
//! labels, as PyTorch users export them.
//!
//! Arrays (by name; the first name found wins): training images `train_images` or `x_train`, labels
//! `train_labels` or `y_train`; test images `test_images` or `x_test`, labels `test_labels` or `y_test`;
//! or one `images`/`labels` pair used for both splits. A folder holding `<name>.npy` files is read the
//! same way, and so is a pair `IMAGES.npy,LABELS.npy`. Images are `(N, C, H, W)`, `(N, H, W, C)` (told
//! apart by which axis has at most 4 entries) or `(N, H, W)`; `uint8` is scaled to [0, 1] as
//! torchvision's `ToTensor` does, floats are taken as they are. Labels are integers in [0, 255].
//! Optional per-channel `mean` and `std` arrays normalise the images, `(x - mean) / std`, as
//! torchvision's `Normalize` does.

use super::dataset::{Dataset, Split};
use super::model_file;
use crate::error::InputError;
use ndarray::Array4;
use safetensors::tensor::Dtype;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// One array: its shape and values (integers kept exactly, floats as `f32`).
#[derive(Debug, Clone, PartialEq)]
pub struct NdArray {
    /// The shape.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: ArrayData,
}

/// An array's values.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayData {
    /// Unsigned bytes (images to scale by 1/255).
    U8(Vec<u8>),
    /// Other integers.
    Int(Vec<i64>),
    /// Floating point.
    Float(Vec<f32>),
}

/// Whether `spec` names an array dataset (rather than a named IDX dataset or folder of IDX files).
pub fn is_array_spec(spec: &str) -> bool {
    let lower = spec.to_ascii_lowercase();
    lower.ends_with(".npz") || lower.ends_with(".npy") || lower.ends_with(".safetensors") || {
        let p = Path::new(spec);
        p.is_dir()
            && ["train_images.npy", "x_train.npy", "images.npy"]
                .iter()
                .any(|f| p.join(f).is_file())
    }
}

/// Parses a `.npy` file's bytes; `source` names it in errors.
pub fn parse_npy(bytes: &[u8], source: &str) -> Result<NdArray, InputError> {
    let bad = |why: &str| InputError::new(source, "", format!("not a valid .npy array: {why}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("missing the \\x93NUMPY magic"));
    }
    let (len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(bad("unknown format version")),
    };
    let header = bytes
        .get(start..start + len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated header"))?;
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = field("descr")
        .and_then(|r| r.strip_prefix('\''))
        .and_then(|r| r.split('\'').next())
        .ok_or_else(|| bad("no descr in the header"))?;
    if field("fortran_order").is_some_and(|r| r.starts_with("True")) {
        return Err(bad("Fortran order is not supported (save a C-contiguous array)"));
    }
    let shape_text = field("shape")
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.split(')').next())
        .ok_or_else(|| bad("no shape in the header"))?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad("malformed shape")))
        .collect::<Result<_, _>>()?;
    let n = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| bad(&format!("shape {shape:?} holds more elements than memory")))?;
    let body = &bytes[start + len..];
    let (kind, size) = match descr.trim_start_matches(['<', '|', '=']) {
        "u1" => ('u', 1),
        "i1" => ('i', 1),
        "u2" => ('u', 2),
        "i2" => ('i', 2),
        "i4" => ('i', 4),
        "u4" => ('u', 4),
        "i8" => ('i', 8),
        "u8" => ('u', 8),
        "f4" => ('f', 4),
        "f8" => ('f', 8),
        "b1" => ('u', 1),
        _ => {
            return Err(bad(&format!(
                "element type {descr} is not supported (little-endian integers or floats)"
            )));
        }
    };
    if n.checked_mul(size) != Some(body.len()) {
        return Err(bad(&format!(
            "{} data bytes for shape {shape:?} of {descr} ({} expected)",
            body.len(),
            n.saturating_mul(size)
        )));
    }
    let int = |c: &[u8]| -> i64 {
        let mut b = [0u8; 8];
        b[..c.len()].copy_from_slice(c);
        let v = u64::from_le_bytes(b);
        if kind == 'i' && c.len() < 8 && c[c.len() - 1] & 0x80 != 0 {
            (v | (u64::MAX << (8 * c.len()))) as i64
        } else {
            v as i64
        }
    };
    let data = match (kind, size) {
        ('u', 1) => ArrayData::U8(body.to_vec()),
        ('f', 4) => ArrayData::Float(
            body.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        ('f', _) => ArrayData::Float(
            body.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
        ),
        _ => ArrayData::Int(body.chunks_exact(size).map(int).collect()),
    };
    Ok(NdArray { shape, data })
}

/// Every array of an `.npz` archive (stored or deflated), by name without `.npy`.
pub fn read_npz(path: &Path) -> Result<BTreeMap<String, NdArray>, InputError> {
    let source = path.display().to_string();
    let file =
        std::fs::File::open(path).map_err(|e| InputError::new(&source, "", format!("cannot read: {e}")))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| InputError::new(&source, "", format!("not a valid .npz (zip) archive: {e}")))?;
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| InputError::new(&source, "", format!("corrupt archive entry {i}: {e}")))?;
        let name = entry.name().trim_end_matches(".npy").to_string();
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| InputError::new(&source, &name, format!("cannot decompress: {e}")))?;
        out.insert(name.clone(), parse_npy(&bytes, &format!("{source}: {name}"))?);
    }
    Ok(out)
}

/// Every array of a safetensors file, by name.
fn read_safetensors(path: &Path) -> Result<BTreeMap<String, NdArray>, InputError> {
    let source = path.display().to_string();
    let file = model_file::read_tensors(path)?;
    let mut out = BTreeMap::new();
    for t in file.tensors {
        let b = &t.bytes;
        let data = match t.dtype {
            Dtype::U8 | Dtype::BOOL => ArrayData::U8(b.clone()),
            Dtype::I8 => ArrayData::Int(b.iter().map(|&v| i64::from(v as i8)).collect()),
            Dtype::I16 => ArrayData::Int(
                b.chunks_exact(2)
                    .map(|c| i64::from(i16::from_le_bytes([c[0], c[1]])))
                    .collect(),
            ),
            Dtype::I32 => ArrayData::Int(
                b.chunks_exact(4)
                    .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
            ),
            Dtype::I64 => ArrayData::Int(
                b.chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect(),
            ),
            Dtype::F32 | Dtype::F64 => ArrayData::Float(t.to_f32(&source)?),
            other => {
                return Err(InputError::new(
                    &source,
                    &t.name,
                    format!("element type {other:?} is not supported"),
                ));
            }
        };
        out.insert(t.name, NdArray { shape: t.shape, data });
    }
    Ok(out)
}

/// The arrays of an array dataset spec (see the module docs).
fn read_arrays(spec: &str) -> Result<BTreeMap<String, NdArray>, InputError> {
    let read_npy = |path: &Path| -> Result<NdArray, InputError> {
        let source = path.display().to_string();
        let bytes =
            std::fs::read(path).map_err(|e| InputError::new(&source, "", format!("cannot read: {e}")))?;
        parse_npy(&bytes, &source)
    };
    let lower = spec.to_ascii_lowercase();
    if lower.ends_with(".npz") {
        return read_npz(Path::new(spec));
    }
    if lower.ends_with(".safetensors") {
        return read_safetensors(Path::new(spec));
    }
    if let Some((images, labels)) = spec.split_once(',') {
        return Ok(BTreeMap::from([
            ("images".to_string(), read_npy(Path::new(images))?),
            ("labels".to_string(), read_npy(Path::new(labels))?),
        ]));
    }
    let dir = Path::new(spec);
    if !dir.is_dir() {
        return Err(InputError::new(
            "--data",
            spec,
            "a .npy dataset is a pair IMAGES.npy,LABELS.npy or a folder of train_images.npy, train_labels.npy, test_images.npy, test_labels.npy",
        ));
    }
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|e| InputError::new(spec, "", format!("cannot list: {e}")))? {
        let path = entry
            .map_err(|e| InputError::new(spec, "", format!("cannot list: {e}")))?
            .path();
        if path.extension().is_some_and(|e| e == "npy") {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.insert(name, read_npy(&path)?);
        }
    }
    Ok(out)
}

/// Loads `split` of the array dataset `spec` (see the module docs).
pub fn load(spec: &str, split: Split) -> Result<Dataset, InputError> {
    let mut arrays = read_arrays(spec)?;
    let (images_names, labels_names) = match split {
        Split::Train => (
            ["train_images", "x_train", "images"],
            ["train_labels", "y_train", "labels"],
        ),
        Split::Test => (
            ["test_images", "x_test", "images"],
            ["test_labels", "y_test", "labels"],
        ),
    };
    let found = arrays.keys().cloned().collect::<Vec<_>>().join(", ");
    let mut take = |names: [&str; 3]| -> Result<(String, NdArray), InputError> {
        let name = names.iter().find(|n| arrays.contains_key(**n)).ok_or_else(|| {
            InputError::new(
                spec,
                names[0],
                format!(
                    "no such array (looked for {}); arrays found: {}",
                    names.join(", "),
                    found
                ),
            )
        })?;
        Ok((name.to_string(), arrays.remove(*name).expect("found above")))
    };
    let (iname, images) = take(images_names)?;
    let (lname, labels) = take(labels_names)?;
    let images = to_images(spec, &iname, images)?;
    let n = images.shape()[0];
    let labels = to_labels(spec, &lname, labels, n)?;
    let mut dataset = Dataset::new(spec, images, labels)?;
    let mean = arrays.remove("mean");
    let std = arrays.remove("std");
    match (mean, std) {
        (None, None) => {}
        (Some(m), Some(s)) => {
            let floats = |a: NdArray, name: &str| match a.data {
                ArrayData::Float(v) => Ok(v),
                _ => Err(InputError::new(
                    spec,
                    name,
                    "expected a float array of one value per channel",
                )),
            };
            dataset
                .normalize(&floats(m, "mean")?, &floats(s, "std")?)
                .map_err(|e| InputError::new(spec, e.field, e.problem))?;
        }
        _ => return Err(InputError::new(spec, "mean, std", "give both or neither")),
    }
    Ok(dataset)
}

/// Images `(N, C, H, W)`, `(N, H, W, C)` or `(N, H, W)` as `[N, C, H, W]` in [0, 1] for bytes.
fn to_images(spec: &str, name: &str, a: NdArray) -> Result<Array4<f32>, InputError> {
    let expected = "expected (N, C, H, W), (N, H, W, C) or (N, H, W) with C at most 4";
    let s = &a.shape;
    let (n, c, h, w, channels_last) = match s[..] {
        [n, h, w] => (n, 1, h, w, false),
        [n, c, h, w] if c <= 4 => (n, c, h, w, false),
        [n, h, w, c] if c <= 4 => (n, c, h, w, true),
        _ => return Err(InputError::new(spec, name, format!("shape {s:?}: {expected}"))),
    };
    if n == 0 || h == 0 || w == 0 || c == 0 {
        return Err(InputError::new(spec, name, format!("shape {s:?} is empty")));
    }
    let values: Vec<f32> = match a.data {
        ArrayData::U8(v) => v.into_iter().map(|b| f32::from(b) / 255.0).collect(),
        ArrayData::Float(v) => {
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(InputError::new(
                    spec,
                    name,
                    format!("value at flat index {i} is not finite"),
                ));
            }
            v
        }
        ArrayData::Int(_) => {
            return Err(InputError::new(spec, name, "images must be uint8 or float"));
        }
    };
    let images = if channels_last {
        Array4::from_shape_vec((n, h, w, c), values)
            .expect("length matches the shape")
            .permuted_axes([0, 3, 1, 2])
            .as_standard_layout()
            .into_owned()
    } else {
        Array4::from_shape_vec((n, c, h, w), values).expect("length matches the shape")
    };
    Ok(images)
}

/// Labels `(N,)` of integers in [0, 255].
fn to_labels(spec: &str, name: &str, a: NdArray, n: usize) -> Result<Vec<u8>, InputError> {
    if a.shape != [n] {
        return Err(InputError::new(
            spec,
            name,
            format!("shape {:?}: expected ({n},), one label per image", a.shape),
        ));
    }
    let ints: Vec<i64> = match a.data {
        ArrayData::U8(v) => v.into_iter().map(i64::from).collect(),
        ArrayData::Int(v) => v,
        ArrayData::Float(_) => return Err(InputError::new(spec, name, "labels must be integers")),
    };
    ints.iter()
        .map(|&l| {
            u8::try_from(l)
                .map_err(|_| InputError::new(spec, name, format!("label {l} is out of range [0, 255]")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((header.len() as u16).to_le_bytes());
        b.extend(header.as_bytes());
        b.extend(body);
        b
    }

    #[test]
    fn npy_headers_and_types_parse() {
        let a = parse_npy(&npy("|u1", "(2, 3)", &[1, 2, 3, 4, 5, 6]), "t").unwrap();
        assert_eq!(a.shape, [2, 3]);
        assert_eq!(a.data, ArrayData::U8(vec![1, 2, 3, 4, 5, 6]));
        let a = parse_npy(&npy("<i2", "(2,)", &[0xff, 0xff, 7, 0]), "t").unwrap();
        assert_eq!(a.data, ArrayData::Int(vec![-1, 7]));
        let a = parse_npy(&npy("<f4", "()", &1.5f32.to_le_bytes()), "t").unwrap();
        assert_eq!((a.shape.len(), a.data), (0, ArrayData::Float(vec![1.5])));
        let e = parse_npy(&npy("<f4", "(3,)", &[0; 8]), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("8 data bytes for shape [3]"), "{e}");
        assert!(parse_npy(b"PK\x03\x04 zip", "t").is_err());
        assert!(parse_npy(&npy(">f8", "(1,)", &[0; 8]), "t").is_err());
    }
}
