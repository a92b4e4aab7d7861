//! CSV inputs: one sample per row, numbers only, header optional.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// A numeric table read from CSV, row-major.
#[derive(Debug)]
pub struct Table {
    /// Column names, when the file has a header.
    pub names: Option<Vec<String>>,
    /// Rows (samples).
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Row-major values.
    pub values: Vec<f64>,
}

/// Whether `path` names a CSV file (by its extension).
pub fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Reads `path`: a header is recognised as a first row with a field that is not a number.
/// Every row must have the same number of fields, every field must be a finite number; the
/// error names the row (1-based, as an editor shows it) and the column.
pub fn read_csv(path: &Path) -> Result<Table> {
    let shown = path.display();
    let meta = std::fs::metadata(path).with_context(|| format!("cannot open {shown}"))?;
    if !meta.is_file() {
        bail!("{shown} is not a regular file; pass the path of a .csv file");
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {shown}"))?;
    read_csv_from(std::io::BufReader::new(file), path)
}

/// [`read_csv`] from any reader; `path` names the source in errors.
pub fn read_csv_from<R: std::io::Read>(source: R, path: &Path) -> Result<Table> {
    let shown = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(source);
    let mut names = None;
    let mut values = Vec::new();
    let mut cols = 0;
    let mut rows = 0;
    for (line, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{shown}: cannot read row {}", line + 1))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        if line == 0 && record.iter().any(|f| f.parse::<f64>().is_err()) {
            names = Some(record.iter().map(str::to_string).collect::<Vec<_>>());
            cols = record.len();
            continue;
        }
        if cols == 0 {
            cols = record.len();
        }
        if record.len() != cols {
            bail!(
                "{shown}: row {} has {} fields where the first row has {cols}; every row must \
                 have one field per column",
                line + 1,
                record.len()
            );
        }
        for (c, field) in record.iter().enumerate() {
            let v: f64 = field.parse().map_err(|_| {
                anyhow::anyhow!(
                    "{shown}: row {}, column {c} ({field:?}) is not a number; CSV inputs hold \
                     numbers only (a header row is allowed)",
                    line + 1
                )
            })?;
            if !v.is_finite() {
                bail!(
                    "{shown} holds a non-finite value (NaN or ±inf) at row {}, column {c}; \
                     clean or drop that sample",
                    line + 1
                );
            }
            values.push(v);
        }
        rows += 1;
    }
    if rows == 0 || cols == 0 {
        bail!("{shown} holds no samples; pass a CSV file with one sample per row");
    }
    Ok(Table {
        names,
        rows,
        cols,
        values,
    })
}

impl Table {
    /// Splits off the columns named by `spec` (comma-separated 0-based indices, or header
    /// names) as labels: returns (inputs, labels), both row-major.
    pub fn split(self, spec: &str, shown: &Path) -> Result<(Table, Table)> {
        let mut pick = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let c = match part.parse::<usize>() {
                Ok(c) => c,
                Err(_) => self
                    .names
                    .as_ref()
                    .and_then(|n| n.iter().position(|name| name == part))
                    .with_context(|| {
                        format!(
                            "--y-cols {part:?}: {} has no column of that name (its columns: {})",
                            shown.display(),
                            self.names
                                .as_ref()
                                .map_or("no header".into(), |n| n.join(", "))
                        )
                    })?,
            };
            if c >= self.cols {
                bail!(
                    "--y-cols {c}: {} has only {} columns (0 to {})",
                    shown.display(),
                    self.cols,
                    self.cols - 1
                );
            }
            if !pick.contains(&c) {
                pick.push(c);
            }
        }
        if pick.is_empty() || pick.len() == self.cols {
            bail!(
                "--y-cols must name at least one and fewer than all {} columns of {}",
                self.cols,
                shown.display()
            );
        }
        let keep: Vec<usize> = (0..self.cols).filter(|c| !pick.contains(c)).collect();
        let take = |cols: &[usize]| Table {
            names: self
                .names
                .as_ref()
                .map(|n| cols.iter().map(|&c| n[c].clone()).collect()),
            rows: self.rows,
            cols: cols.len(),
            values: (0..self.rows)
                .flat_map(|r| cols.iter().map(move |&c| (r, c)))
                .map(|(r, c)| self.values[r * self.cols + c])
                .collect(),
        };
        Ok((take(&keep), take(&pick)))
    }
}
