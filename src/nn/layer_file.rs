//! Layer files: a network's weight shapes without weights, for timing-only programming.
//!
//! Three layouts, told apart by extension and first line:
//! - TOML (`.toml`): `[[layer]]` tables with `name`, `kind` (`conv` or `linear`), `in`, `out`,
//!   `kernel` (conv; an integer or `[kh, kw]`) and `stride` (conv, default 1).
//! - CSV with a header row `name,kind,in,out,kernel,stride` (kernel and stride may be empty for linear).
//! - NeuroSim's `NetWork.csv` (no header; one row per layer: IFM height, IFM width, IFM channels,
//!   kernel height, kernel width, OFM channels, pooling flag, stride). A row whose kernel covers its
//!   whole 1x1 input is a fully connected layer, as NeuroSim writes them; rows are named `layer1`, ...
//!
//! Each layer becomes one weight tensor in PyTorch layout: `[out, in, kh, kw]` or `[out, in]`, so the
//! mapping sees the crossbar matrix `in*kh*kw x out`. Strides and pooling do not change the weights; they
//! are checked and kept in the messages only.

use crate::error::InputError;
use serde::Deserialize;
use std::path::Path;

/// One layer of a layer file: its name and weight shape (PyTorch layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerShape {
    /// The layer's name; its tensor is `<name>.weight`.
    pub name: String,
    /// `[out, in, kh, kw]` or `[out, in]`.
    pub shape: Vec<usize>,
}

/// A kernel size: one side or `[kh, kw]`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
enum Kernel {
    Square(usize),
    Rect([usize; 2]),
}

/// A `[[layer]]` table of a TOML layer file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlLayer {
    name: String,
    kind: String,
    #[serde(rename = "in")]
    inputs: usize,
    out: usize,
    kernel: Option<Kernel>,
    stride: Option<usize>,
}

/// A TOML layer file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    layer: Vec<TomlLayer>,
}

/// Reads a layer file (see the module docs).
pub fn read(path: &Path) -> Result<Vec<LayerShape>, InputError> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::new(&source, "", format!("cannot read: {e}")))?;
    let is_toml = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let layers = if is_toml {
        let file: TomlFile = toml::from_str(&text)
            .map_err(|e| InputError::new(&source, "", format!("not a layer file: {e}")))?;
        file.layer
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let kernel = l.kernel.map(|k| match k {
                    Kernel::Square(s) => [s, s],
                    Kernel::Rect(r) => r,
                });
                layer(
                    &source,
                    &format!("layer[{i}]"),
                    &l.name,
                    &l.kind,
                    l.inputs,
                    l.out,
                    kernel,
                    l.stride,
                )
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        read_csv(&source, &text)?
    };
    if layers.is_empty() {
        return Err(InputError::new(&source, "", "no layers"));
    }
    for (i, l) in layers.iter().enumerate() {
        if layers[..i].iter().any(|o| o.name == l.name) {
            return Err(InputError::new(&source, &l.name, "duplicate layer name"));
        }
    }
    Ok(layers)
}

/// One checked layer.
#[allow(clippy::too_many_arguments)]
fn layer(
    source: &str,
    at: &str,
    name: &str,
    kind: &str,
    inputs: usize,
    out: usize,
    kernel: Option<[usize; 2]>,
    stride: Option<usize>,
) -> Result<LayerShape, InputError> {
    let err = |field: &str, why: String| InputError::new(source, format!("{at} {field}"), why);
    if name.is_empty() {
        return Err(err("name", "empty".into()));
    }
    if inputs == 0 || out == 0 {
        return Err(err(
            "in/out",
            format!("{inputs} inputs, {out} outputs; allowed: at least 1"),
        ));
    }
    if stride == Some(0) {
        return Err(err("stride", "0; allowed: at least 1".into()));
    }
    let shape = match kind {
        "conv" => {
            let [kh, kw] = kernel.ok_or_else(|| err("kernel", "missing for a conv layer".into()))?;
            if kh == 0 || kw == 0 {
                return Err(err("kernel", format!("{kh}x{kw}; allowed: at least 1x1")));
            }
            vec![out, inputs, kh, kw]
        }
        "linear" | "fc" => {
            if kernel.is_some_and(|k| k != [1, 1]) {
                return Err(err(
                    "kernel",
                    "a linear layer has no kernel (leave it empty or 1)".into(),
                ));
            }
            vec![out, inputs]
        }
        other => return Err(err("kind", format!("`{other}`; allowed: conv, linear (or fc)"))),
    };
    Ok(LayerShape {
        name: name.to_string(),
        shape,
    })
}

/// A CSV layer file: uswim's header layout or NeuroSim's `NetWork.csv`.
fn read_csv(source: &str, text: &str) -> Result<Vec<LayerShape>, InputError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .map_err(|e| InputError::new(source, "", format!("not a CSV file: {e}")))?;
    let rows: Vec<&csv::StringRecord> = rows.iter().filter(|r| !r.iter().all(str::is_empty)).collect();
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let header: Vec<String> = first.iter().map(str::to_ascii_lowercase).collect();
    if header.first().map(String::as_str) == Some("name") {
        let want = ["name", "kind", "in", "out", "kernel", "stride"];
        if header.iter().map(String::as_str).ne(want.iter().copied()) {
            return Err(InputError::new(
                source,
                "header",
                format!("expected `{}`, found `{}`", want.join(","), header.join(",")),
            ));
        }
        return rows[1..]
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let at = format!("row {}", i + 2);
                let cell = |k: usize| r.get(k).unwrap_or("");
                let num = |k: usize| -> Result<Option<usize>, InputError> {
                    let c = cell(k);
                    if c.is_empty() {
                        return Ok(None);
                    }
                    c.parse().map(Some).map_err(|_| {
                        InputError::new(
                            source,
                            format!("{at} {}", want[k]),
                            format!("`{c}` is not a whole number"),
                        )
                    })
                };
                let need = |k: usize| {
                    num(k)?.ok_or_else(|| InputError::new(source, format!("{at} {}", want[k]), "missing"))
                };
                layer(
                    source,
                    &at,
                    cell(0),
                    cell(1),
                    need(2)?,
                    need(3)?,
                    num(4)?.map(|k| [k, k]),
                    num(5)?,
                )
            })
            .collect();
    }
    rows.iter()
        .enumerate()
        .map(|(i, r)| neurosim_row(source, i, r))
        .collect()
}

/// One row of NeuroSim's `NetWork.csv`.
fn neurosim_row(source: &str, i: usize, r: &csv::StringRecord) -> Result<LayerShape, InputError> {
    const COLUMNS: [&str; 8] = [
        "IFM height",
        "IFM width",
        "IFM channels",
        "kernel height",
        "kernel width",
        "OFM channels",
        "pooling",
        "stride",
    ];
    let at = format!("row {}", i + 1);
    if r.len() < COLUMNS.len() {
        return Err(InputError::new(
            source,
            &at,
            format!(
                "{} columns; NeuroSim's NetWork.csv has {} ({}), or give a header `name,kind,in,out,kernel,stride`",
                r.len(),
                COLUMNS.len(),
                COLUMNS.join(", ")
            ),
        ));
    }
    let mut v = [0usize; 8];
    for (k, name) in COLUMNS.iter().enumerate() {
        let c = &r[k];
        v[k] = c.parse().map_err(|_| {
            InputError::new(
                source,
                format!("{at} {name}"),
                format!("`{c}` is not a whole number"),
            )
        })?;
    }
    let [ih, iw, ic, kh, kw, oc, _pool, stride] = v;
    let name = format!("layer{}", i + 1);
    if ih == 1 && iw == 1 && kh == 1 && kw == 1 {
        return layer(source, &at, &name, "linear", ic, oc, None, Some(stride.max(1)));
    }
    if kh > ih || kw > iw {
        return Err(InputError::new(
            source,
            &at,
            format!("kernel {kh}x{kw} is larger than the {ih}x{iw} input"),
        ));
    }
    layer(source, &at, &name, "conv", ic, oc, Some([kh, kw]), Some(stride))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("uswim-layer-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn the_three_layouts_give_pytorch_shapes() {
        let toml = write(
            "net.toml",
            "[[layer]]\nname = \"conv1\"\nkind = \"conv\"\nin = 3\nout = 64\nkernel = 3\nstride = 1\n\n\
             [[layer]]\nname = \"fc\"\nkind = \"linear\"\nin = 512\nout = 10\n",
        );
        let csv = write(
            "net.csv",
            "name,kind,in,out,kernel,stride\nconv1,conv,3,64,3,1\nfc,linear,512,10,,\n",
        );
        let want = vec![
            LayerShape {
                name: "conv1".into(),
                shape: vec![64, 3, 3, 3],
            },
            LayerShape {
                name: "fc".into(),
                shape: vec![10, 512],
            },
        ];
        assert_eq!(read(&toml).unwrap(), want);
        assert_eq!(read(&csv).unwrap(), want);
        // NeuroSim's VGG-8 NetWork.csv starts and ends like this.
        let ns = write(
            "NetWork.csv",
            "32,32,3,3,3,128,0,1\n32,32,128,3,3,128,1,1\n1,1,8192,1,1,1024,0,1\n1,1,1024,1,1,10,0,1\n",
        );
        let got: Vec<Vec<usize>> = read(&ns).unwrap().into_iter().map(|l| l.shape).collect();
        assert_eq!(
            got,
            vec![
                vec![128, 3, 3, 3],
                vec![128, 128, 3, 3],
                vec![1024, 8192],
                vec![10, 1024]
            ]
        );
    }

    #[test]
    fn bad_rows_are_named() {
        let p = write("bad.csv", "name,kind,in,out,kernel,stride\nconv1,conv,3,64,,1\n");
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("row 2 kernel") && e.contains("missing"), "{e}");
        let p = write("bad2.csv", "32,32,3,3,3,x,0,1\n");
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("row 1 OFM channels"), "{e}");
        let p = write(
            "bad3.toml",
            "[[layer]]\nname = \"a\"\nkind = \"pool\"\nin = 1\nout = 1\n",
        );
        assert!(
            read(&p)
                .unwrap_err()
                .to_string()
                .contains("allowed: conv, linear")
        );
    }
}
