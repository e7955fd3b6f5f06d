//! Measured pulse-response data: CSV loading, unit conversion and the checks that turn bad files into
//! errors naming the file, row and column.
//!
//! Two layouts are read:
//! - **ramps**: one column per measured ramp, one row per pulse; each cell is the conductance (or read
//!   current) read after that pulse. Ramps may have different lengths: a column may end early with empty
//!   trailing cells, but a value after an empty cell is an error. An optional header row (every cell
//!   non-numeric) names the ramps.
//! - **deltas**: two columns (up, down) of conductance change per pulse. The conductance is rebuilt by
//!   cumulative summation, the down pulses following the up pulses (one potentiation-depression cycle), so
//!   a deltas file becomes one SET ramp and one RESET ramp.
//!
//! Rows and columns in messages are 1-based and count the header row, as a spreadsheet shows them.

use crate::error::InputError;
use crate::pulse::Polarity;
use std::path::Path;

/// Fewest pulses a ramp may have.
pub const MIN_PULSES: usize = 10;

/// What a cell holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantity {
    /// Conductance in siemens.
    Siemens,
    /// Conductance in millisiemens.
    Millisiemens,
    /// Conductance in microsiemens.
    Microsiemens,
    /// Read current in amperes at this read voltage (V): G = I / V.
    Current {
        /// The read voltage, in V (> 0).
        read_voltage_v: f64,
    },
    /// Dimensionless, normalised conductance: the fitted window is later mapped onto a window in uS.
    Normalized,
}

impl Quantity {
    /// Factor from a cell value to microsiemens (1 for normalised data, which stays in its own units).
    pub fn to_us_factor(self) -> f64 {
        match self {
            Quantity::Siemens => 1e6,
            Quantity::Millisiemens => 1e3,
            Quantity::Microsiemens | Quantity::Normalized => 1.0,
            Quantity::Current { read_voltage_v } => 1e6 / read_voltage_v,
        }
    }

    /// Whether values are normalised (no physical unit).
    pub fn is_normalized(self) -> bool {
        matches!(self, Quantity::Normalized)
    }

    /// The unit of converted values, for reports: `uS` or `norm`.
    pub fn unit(self) -> &'static str {
        if self.is_normalized() { "norm" } else { "uS" }
    }
}

/// One measured ramp: consecutive reads of one device under identical pulses of one polarity.
#[derive(Debug, Clone, PartialEq)]
pub struct Ramp {
    /// SET (conductance rises) or RESET (falls).
    pub polarity: Polarity,
    /// The conductance after each pulse, in uS (or normalised units), in pulse order.
    pub g: Vec<f64>,
    /// Where it came from, e.g. `set.csv column 3 (rmp3)`.
    pub source: String,
}

/// A loaded data set: ramps in a common unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// The ramps, SET and RESET mixed, in file and column order.
    pub ramps: Vec<Ramp>,
    /// What the cells held (and so the unit of the ramps: uS, or normalised).
    pub quantity: Quantity,
    /// The files read, for reports.
    pub files: Vec<String>,
}

impl Measured {
    /// The ramps of one polarity.
    pub fn of(&self, polarity: Polarity) -> impl Iterator<Item = &Ramp> {
        self.ramps.iter().filter(move |r| r.polarity == polarity)
    }

    /// How many ramps of one polarity.
    pub fn count(&self, polarity: Polarity) -> usize {
        self.of(polarity).count()
    }
}

/// Which polarity the columns of a ramps file have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColumnPolarity {
    /// Every column is a ramp of this polarity (checked against its trend).
    All(Polarity),
    /// Each column's polarity follows its trend (rising: SET, falling: RESET).
    FromTrend,
}

/// A parsed CSV table: optional header and columns of optional numbers, with row numbers for messages.
struct Table {
    file: String,
    names: Vec<String>,
    /// columns[c][i]: the value of data row i (None: empty cell).
    columns: Vec<Vec<Option<f64>>>,
    /// File row number (1-based) of each data row.
    rows: Vec<u64>,
}

impl Table {
    fn column_label(&self, c: usize) -> String {
        if self.names[c].is_empty() {
            format!("column {}", c + 1)
        } else {
            format!("column {} ({})", c + 1, self.names[c])
        }
    }

    /// The values of column `c` up to its first empty cell; a value after an empty cell is an error.
    fn contiguous(&self, c: usize) -> Result<Vec<f64>, InputError> {
        let column = &self.columns[c];
        let len = column.iter().position(Option::is_none).unwrap_or(column.len());
        if let Some(k) = column[len..].iter().position(Option::is_some) {
            return Err(InputError::new(
                &self.file,
                format!("row {}, {}", self.rows[len + k], self.column_label(c)),
                format!(
                    "a value after the empty cell in row {}: a ramp must be contiguous (only trailing cells may \
                     be empty)",
                    self.rows[len]
                ),
            ));
        }
        Ok(column[..len].iter().flatten().copied().collect())
    }
}

fn parse_cell(text: &str) -> Option<Result<f64, ()>> {
    // A UTF-8 byte-order mark (spreadsheet exports) is not part of the first cell.
    let t = text.trim_start_matches('\u{feff}').trim();
    if t.is_empty() {
        return None;
    }
    Some(t.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or(()))
}

fn read_table(path: &Path) -> Result<Table, InputError> {
    let file = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| InputError::new(&file, "", format!("cannot read: {e}")))?;
    let mut names: Option<Vec<String>> = None;
    let mut width = 0usize;
    let mut columns: Vec<Vec<Option<f64>>> = Vec::new();
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            let row = e.position().map_or(index as u64 + 1, |p| p.line());
            InputError::new(&file, format!("row {row}"), format!("not valid CSV: {e}"))
        })?;
        let row = record.position().map_or(index as u64 + 1, |p| p.line());
        if index == 0 {
            width = record.len();
            columns = vec![Vec::new(); width];
            let is_header = record
                .iter()
                .all(|cell| matches!(parse_cell(cell), Some(Err(()))));
            if is_header {
                names = Some(
                    record
                        .iter()
                        .map(|c| c.trim_start_matches('\u{feff}').to_string())
                        .collect(),
                );
                continue;
            }
        }
        if record.len() != width {
            return Err(InputError::new(
                &file,
                format!("row {row}"),
                format!(
                    "{} cells, but the first row has {width}: every row needs one cell per column (leave a \
                     cell empty where a ramp has ended)",
                    record.len()
                ),
            ));
        }
        for (c, cell) in record.iter().enumerate() {
            match parse_cell(cell) {
                None => columns[c].push(None),
                Some(Ok(v)) => columns[c].push(Some(v)),
                Some(Err(())) => {
                    let name = names.as_ref().map_or(String::new(), |n| n[c].clone());
                    let label = if name.is_empty() {
                        format!("column {}", c + 1)
                    } else {
                        format!("column {} ({name})", c + 1)
                    };
                    return Err(InputError::new(
                        &file,
                        format!("row {row}, {label}"),
                        format!("`{cell}` is not a finite number"),
                    ));
                }
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(InputError::new(&file, "", "no data rows"));
    }
    Ok(Table {
        file,
        names: names.unwrap_or_else(|| vec![String::new(); width]),
        columns,
        rows,
    })
}

/// Least-squares slope of `y` against the pulse index, and its t statistic (slope / standard error).
pub(crate) fn trend(y: &[f64]) -> (f64, f64) {
    let n = y.len() as f64;
    let x_mean = (n - 1.0) / 2.0;
    let y_mean = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in y.iter().enumerate() {
        let dx = i as f64 - x_mean;
        sxy += dx * (v - y_mean);
        sxx += dx * dx;
    }
    let slope = sxy / sxx;
    let sse: f64 = y
        .iter()
        .enumerate()
        .map(|(i, v)| (v - y_mean - slope * (i as f64 - x_mean)).powi(2))
        .sum();
    let se = (sse / (n - 2.0).max(1.0) / sxx).sqrt();
    let t = if se > 0.0 {
        slope / se
    } else {
        f64::INFINITY * slope.signum()
    };
    (slope, t)
}

/// |t| of a trend that counts as a clear direction.
const CLEAR_TREND_T: f64 = 3.0;

fn check_ramp(
    file: &str,
    label: &str,
    values: &[f64],
    polarity: ColumnPolarity,
) -> Result<Polarity, InputError> {
    if values.len() < MIN_PULSES {
        return Err(InputError::new(
            file,
            label,
            format!("{} pulses; at least {MIN_PULSES} are needed", values.len()),
        ));
    }
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if hi - lo <= 1e-12 * hi.abs().max(lo.abs()) {
        return Err(InputError::new(
            file,
            label,
            format!("constant ramp (every value is {lo}): no pulse response to fit"),
        ));
    }
    let (slope, t) = trend(values);
    let seen = if slope > 0.0 {
        Polarity::Set
    } else {
        Polarity::Reset
    };
    match polarity {
        ColumnPolarity::FromTrend if t.abs() < CLEAR_TREND_T => Err(InputError::new(
            file,
            label,
            format!(
                "no clear direction (trend {slope:.4} per pulse, t = {t:.1}): give SET and RESET ramps in \
                 separate files with --set-ramps and --reset-ramps"
            ),
        )),
        ColumnPolarity::FromTrend => Ok(seen),
        ColumnPolarity::All(p) if seen != p && t.abs() >= CLEAR_TREND_T => Err(InputError::new(
            file,
            label,
            format!(
                "{} (trend {slope:.4} per pulse, t = {t:.1}), so it is not a {} ramp; check --set-ramps and --reset-ramps",
                if slope > 0.0 { "rises" } else { "falls" },
                p.name().to_uppercase()
            ),
        )),
        ColumnPolarity::All(p) => Ok(p),
    }
}

/// Loads a ramps file: every column is one ramp.
pub fn load_ramps(
    path: &Path,
    polarity: ColumnPolarity,
    quantity: Quantity,
) -> Result<Vec<Ramp>, InputError> {
    let table = read_table(path)?;
    let factor = quantity.to_us_factor();
    let mut ramps = Vec::with_capacity(table.columns.len());
    for c in 0..table.columns.len() {
        let label = table.column_label(c);
        let values: Vec<f64> = table.contiguous(c)?.iter().map(|v| v * factor).collect();
        let polarity = check_ramp(&table.file, &label, &values, polarity)?;
        ramps.push(Ramp {
            polarity,
            g: values,
            source: format!("{} {label}", table.file),
        });
    }
    Ok(ramps)
}

/// Lag-1 autocorrelation above which a column of "changes" may be a column of levels.
const LEVELS_AUTOCORRELATION: f64 = 0.8;
/// Fraction of values of the wrong sign above which a smooth column of "changes" is a column of levels.
const LEVELS_WRONG_SIGN: f64 = 0.1;

fn lag1_autocorrelation(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var: f64 = x.iter().map(|v| (v - mean).powi(2)).sum();
    let cov: f64 = x.windows(2).map(|w| (w[0] - mean) * (w[1] - mean)).sum();
    if var > 0.0 { cov / var } else { 0.0 }
}

/// Loads a deltas file: two columns, the change of each up pulse and of each down pulse. Returns one
/// SET ramp (from 0, the cumulative sum of the up changes) and one RESET ramp (continuing from where the
/// SET ramp ended).
pub fn load_deltas(path: &Path, quantity: Quantity) -> Result<Vec<Ramp>, InputError> {
    let table = read_table(path)?;
    if table.columns.len() != 2 {
        return Err(InputError::new(
            &table.file,
            format!("row {}", table.rows[0]),
            format!(
                "{} columns; a deltas file has exactly two (up, down)",
                table.columns.len()
            ),
        ));
    }
    let factor = quantity.to_us_factor();
    let mut ramps = Vec::with_capacity(2);
    let mut level = 0.0;
    for (c, polarity) in [(0, Polarity::Set), (1, Polarity::Reset)] {
        let label = table.column_label(c);
        let deltas = table.contiguous(c)?;
        if deltas.len() + 1 < MIN_PULSES {
            return Err(InputError::new(
                &table.file,
                &label,
                format!("{} pulses; at least {} are needed", deltas.len(), MIN_PULSES - 1),
            ));
        }
        if deltas.iter().all(|&d| d == 0.0) {
            return Err(InputError::new(
                &table.file,
                &label,
                "every change is 0: no pulse response to fit",
            ));
        }
        // Levels, not changes: smooth from pulse to pulse (a smooth column of changes is fine) and often of
        // the wrong sign for the direction (normalised levels cross zero; changes of a smooth sweep do not).
        let rho = lag1_autocorrelation(&deltas);
        let wrong = deltas
            .iter()
            .filter(|&&d| match polarity {
                Polarity::Set => d < 0.0,
                Polarity::Reset => d > 0.0,
            })
            .count() as f64
            / deltas.len() as f64;
        if rho > LEVELS_AUTOCORRELATION && wrong > LEVELS_WRONG_SIGN {
            return Err(InputError::new(
                &table.file,
                &label,
                format!(
                    "successive values are {rho:.2} correlated and {:.0}% have the sign of the other direction: \
                     these look like conductance levels after each pulse, not changes per pulse; use --format \
                     ramps",
                    100.0 * wrong
                ),
            ));
        }
        let mean = deltas.iter().sum::<f64>() / deltas.len() as f64;
        let wrong_sign = match polarity {
            Polarity::Set => mean <= 0.0,
            Polarity::Reset => mean >= 0.0,
        };
        if wrong_sign {
            return Err(InputError::new(
                &table.file,
                &label,
                format!(
                    "mean change {mean:.4} per pulse has the wrong sign for the {} column (column 1 is up, \
                     column 2 is down)",
                    if c == 0 { "up" } else { "down" }
                ),
            ));
        }
        let mut g = Vec::with_capacity(deltas.len() + 1);
        g.push(level * factor);
        for d in &deltas {
            level += d;
            g.push(level * factor);
        }
        ramps.push(Ramp {
            polarity,
            g,
            source: format!("{} {label} (cumulative)", table.file),
        });
        // The down sweep starts where the up sweep ended.
    }
    Ok(ramps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_csv(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("uswim-calibrate-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        path
    }

    fn ramp_text(n: usize, cols: usize, header: bool) -> String {
        let mut s = String::new();
        if header {
            s += &(1..=cols).map(|c| format!("r{c}")).collect::<Vec<_>>().join(",");
            s += "\n";
        }
        for i in 0..n {
            s += &(0..cols)
                .map(|c| format!("{}", 10.0 + i as f64 + 0.1 * c as f64))
                .collect::<Vec<_>>()
                .join(",");
            s += "\n";
        }
        s
    }

    #[test]
    fn header_units_and_trailing_empty_cells() {
        let mut text = ramp_text(12, 2, true);
        text += "30,\n";
        let path = temp_csv("ok.csv", &text);
        let ramps = load_ramps(
            &path,
            ColumnPolarity::All(Polarity::Set),
            Quantity::Current { read_voltage_v: 0.1 },
        )
        .unwrap();
        assert_eq!(ramps.len(), 2);
        assert_eq!(ramps[0].g.len(), 13);
        assert_eq!(ramps[1].g.len(), 12);
        assert!((ramps[0].g[0] - 10.0 * 1e7).abs() < 1e-3);
        assert!(ramps[1].source.contains("column 2 (r2)"));
    }

    fn error_of(text: &str, polarity: ColumnPolarity) -> String {
        let path = temp_csv("bad.csv", text);
        load_ramps(&path, polarity, Quantity::Microsiemens)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn bad_files_name_file_row_and_column() {
        let set = ColumnPolarity::All(Polarity::Set);
        let mut ragged = ramp_text(12, 3, true);
        ragged += "1,2\n";
        let e = error_of(&ragged, set);
        assert!(
            e.contains("bad.csv") && e.contains("row 14") && e.contains("2 cells"),
            "{e}"
        );

        let text = ramp_text(12, 3, true).replacen("15.1", "abc", 1);
        let e = error_of(&text, set);
        assert!(e.contains("row 7, column 2 (r2)") && e.contains("`abc`"), "{e}");

        let text = ramp_text(12, 2, false).replacen("12.1", "nan", 1);
        let e = error_of(&text, set);
        assert!(
            e.contains("row 3, column 2") && e.contains("not a finite number"),
            "{e}"
        );

        let e = error_of(&ramp_text(9, 2, true), set);
        assert!(e.contains("column 1 (r1)") && e.contains("9 pulses"), "{e}");

        let mut text = String::from("a,b\n");
        for i in 0..12 {
            text += &format!("5,{i}\n");
        }
        let e = error_of(&text, set);
        assert!(e.contains("column 1 (a)") && e.contains("constant"), "{e}");

        let text = ramp_text(12, 2, true).replacen("14.1", "", 1);
        let e = error_of(&text, set);
        assert!(
            e.contains("row 7, column 2 (r2)") && e.contains("empty cell in row 6"),
            "{e}"
        );

        let e = error_of(&ramp_text(12, 2, true), ColumnPolarity::All(Polarity::Reset));
        assert!(e.contains("rises") && e.contains("not a RESET ramp"), "{e}");
    }

    #[test]
    fn polarity_from_trend() {
        let mut text = String::new();
        for i in 0..20 {
            text += &format!("{},{}\n", i as f64, 50.0 - i as f64);
        }
        let path = temp_csv("trend.csv", &text);
        let ramps = load_ramps(&path, ColumnPolarity::FromTrend, Quantity::Normalized).unwrap();
        assert_eq!(ramps[0].polarity, Polarity::Set);
        assert_eq!(ramps[1].polarity, Polarity::Reset);
    }

    #[test]
    fn deltas_become_a_cycle_and_levels_are_refused() {
        let mut text = String::from("up,down\n");
        for i in 0..20 {
            let wobble = if i % 2 == 0 { 0.01 } else { -0.01 };
            text += &format!("{},{}\n", 0.1 + wobble, -0.1 + wobble);
        }
        let path = temp_csv("deltas.csv", &text);
        let ramps = load_deltas(&path, Quantity::Normalized).unwrap();
        assert_eq!(ramps[0].g.len(), 21);
        assert!((ramps[0].g[20] - 2.0).abs() < 1e-9);
        assert!((ramps[1].g[0] - 2.0).abs() < 1e-9 && ramps[1].g[20].abs() < 1e-9);

        let mut levels = String::new();
        for i in 0..50 {
            levels += &format!("{},{}\n", -1.0 + 0.04 * i as f64, 1.0 - 0.04 * i as f64);
        }
        let path = temp_csv("levels.csv", &levels);
        let e = load_deltas(&path, Quantity::Normalized).unwrap_err().to_string();
        assert!(e.contains("column 1") && e.contains("--format ramps"), "{e}");
    }
}
