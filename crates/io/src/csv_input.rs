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

/// Reads `path`: the first row is a header when none of its fields is a number, a sample
/// when all are; a first row that mixes numbers and text (a header with a numeric name, or a
/// sample with a typo) is refused rather than guessed, so no sample is ever silently lost.
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
        if line == 0 {
            let text: Vec<usize> = (0..record.len())
                .filter(|&c| record[c].parse::<f64>().is_err())
                .collect();
            if text.len() == record.len() {
                names = Some(record.iter().map(str::to_string).collect::<Vec<_>>());
                cols = record.len();
                continue;
            }
            if let Some(&c) = text.first() {
                bail!(
                    "{shown}: row 1 mixes numbers and text (column {c} is {:?}), so it is \
                     neither a header (names only) nor a sample (numbers only); fix that row",
                    &record[c]
                );
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The first row is a header only when it holds no number, a sample only when it holds
    /// only numbers; a typo in a headerless file's first sample is refused, not taken as a
    /// header (which would silently drop that sample).
    #[test]
    fn the_first_row_is_judged_whole() {
        let path = Path::new("t.csv");
        let header = read_csv_from(&b"a,b\n1,2\n3,4\n"[..], path).unwrap();
        assert_eq!((header.rows, header.names.is_some()), (2, true));
        let plain = read_csv_from(&b"1,2\n3,4\n"[..], path).unwrap();
        assert_eq!((plain.rows, plain.names.is_none()), (2, true));
        let typo = read_csv_from(&b"1,abc\n3,4\n5,6\n"[..], path).unwrap_err();
        assert!(
            typo.to_string().contains("row 1 mixes numbers and text"),
            "{typo}"
        );
        let typo_later = read_csv_from(&b"1,2\n3,x\n"[..], path).unwrap_err();
        assert!(
            typo_later.to_string().contains("row 2, column 1"),
            "{typo_later}"
        );
    }
}
