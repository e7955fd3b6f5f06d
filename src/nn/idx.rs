//! The IDX file format of MNIST-style datasets (raw or gzipped): a 4-byte magic (two zero bytes, a type
//! code, the number of dimensions), big-endian u32 dimensions, then the data in row-major order.

use crate::error::InputError;
use std::io::Read;
use std::path::Path;

/// The type code of unsigned bytes, the only element type of image and label files.
const TYPE_U8: u8 = 0x08;

/// A parsed IDX file of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Idx {
    /// The dimensions (`[N, H, W]` for images, `[N]` for labels).
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Reads an IDX file, gunzipping it if it starts with the gzip magic.
pub(crate) fn read(path: &Path) -> Result<Idx, InputError> {
    let source = path.display().to_string();
    let raw = std::fs::read(path).map_err(|e| InputError::new(&source, "", format!("cannot read: {e}")))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| {
                InputError::new(&source, "gzip", format!("corrupt or truncated gzip stream: {e}"))
            })?;
        out
    } else {
        raw
    };
    parse(&bytes, &source)
}

/// Parses the bytes of an IDX file; `source` names it in errors.
pub(crate) fn parse(bytes: &[u8], source: &str) -> Result<Idx, InputError> {
    let err = |field: &str, problem: String| InputError::new(source, field, problem);
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(err(
            "magic",
            "not an IDX file (expected two zero bytes, a type code and a rank)".into(),
        ));
    }
    if bytes[2] != TYPE_U8 {
        return Err(err(
            "type",
            format!(
                "element type 0x{:02x} is not supported (expected 0x08, unsigned byte)",
                bytes[2]
            ),
        ));
    }
    let rank = bytes[3] as usize;
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(err(
            "dimensions",
            format!("file ends inside the header ({} of {header} bytes)", bytes.len()),
        ));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let want = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let got = bytes.len() - header;
    match want {
        Some(w) if w == got => Ok(Idx {
            dims,
            data: bytes[header..].to_vec(),
        }),
        Some(w) => Err(err(
            "data",
            format!("dimensions {dims:?} need {w} bytes of data, found {got} (truncated file?)"),
        )),
        None => Err(err("dimensions", format!("dimensions {dims:?} overflow"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, TYPE_U8, dims.len() as u8];
        for d in dims {
            b.extend(d.to_be_bytes());
        }
        b.extend(data);
        b
    }

    #[test]
    fn parses_dimensions_and_data() {
        let idx = parse(&file(&[2, 1, 3], &[1, 2, 3, 4, 5, 6]), "t").unwrap();
        assert_eq!(idx.dims, vec![2, 1, 3]);
        assert_eq!(idx.data, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn rejects_truncated_data_wrong_magic_and_type() {
        let e = parse(&file(&[2, 3], &[1, 2, 3]), "f.idx").unwrap_err();
        assert_eq!(e.field, "data");
        assert!(
            e.problem.contains("need 6 bytes") && e.problem.contains("found 3"),
            "{e}"
        );
        assert_eq!(parse(b"\x01\x00\x08\x01", "f").unwrap_err().field, "magic");
        let mut f = file(&[1], &[0, 0, 0, 0]);
        f[2] = 0x0d;
        assert_eq!(parse(&f, "f").unwrap_err().field, "type");
        assert_eq!(
            parse(&file(&[1, 1], &[])[..8], "f").unwrap_err().field,
            "dimensions"
        );
    }
}
