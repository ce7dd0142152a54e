//! Loading a CSV file with a header row into a [`Dataset`].

use std::path::Path;

use csv::{ReaderBuilder, StringRecord, Trim};
use mlpnas_core::Dataset;

use crate::error::DataError;
use crate::labels;

/// Longest column list quoted in an error message.
const MAX_LISTED_COLUMNS: usize = 40;

/// How a column is referred to in messages and `--drop`: its name, or `#N` when unnamed.
fn column_ref(headers: &[String], j: usize) -> String {
    // Escaped: a quoted header may hold line breaks or control characters, and an error is one
    // line.
    if headers[j].is_empty() { format!("#{j}") } else { headers[j].escape_debug().to_string() }
}

/// The `--drop` argument that names column `j`, quoted when it holds spaces or odd characters.
fn drop_hint(headers: &[String], j: usize) -> String {
    let r = column_ref(headers, j);
    if r.chars().all(|c| c.is_alphanumeric() || "_-.#".contains(c)) { r } else { format!("\"{r}\"") }
}

/// Physical line numbers of records, counted from the bytes: the csv crate's own line count is
/// off by one on CRLF files. Records come in file order, so the count only moves forward (one
/// pass over the file in all).
struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0, line: 1 }
    }

    /// The 1-based line of the record that starts at byte `offset` (at or after the last one).
    fn at(&mut self, offset: u64) -> u64 {
        let mut end = usize::try_from(offset).unwrap_or(usize::MAX).min(self.bytes.len());
        // On CRLF files a record's position can stand on the `\n` that ends the line before it.
        while end < self.bytes.len() && matches!(self.bytes[end], b'\r' | b'\n') {
            end += 1;
        }
        if end > self.pos {
            self.line += self.bytes[self.pos..end].iter().filter(|&&b| b == b'\n').count() as u64;
            self.pos = end;
        }
        self.line
    }
}

/// Refuses a file that is not text (an image, an archive, a NumPy array given as CSV): a NUL
/// byte, invalid UTF-8 or many control characters in its first 64 KiB. Without this, its bytes
/// would be read as a header of garbage column names.
pub(crate) fn check_text(file: &str, bytes: &[u8]) -> Result<(), DataError> {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let utf8 = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut by the 64 KiB window is still text.
        Err(e) => e.error_len().is_none(),
    };
    let control = head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c)).count();
    if head.contains(&0) || !utf8 || control * 100 > head.len().max(1) {
        let hint = if head.starts_with(b"\x93NUMPY") { " (a NumPy array: give it as X.npy:Y.npy)" } else { "" };
        return Err(DataError::invalid(file, format!("not a text CSV file (binary content){hint}")));
    }
    Ok(())
}

/// The header's columns for an error message, shortened when long.
fn column_list(headers: &[String]) -> String {
    let mut list: Vec<String> = (0..headers.len().min(MAX_LISTED_COLUMNS)).map(|j| column_ref(headers, j)).collect();
    if headers.len() > MAX_LISTED_COLUMNS {
        list.push(format!("... ({} more)", headers.len() - MAX_LISTED_COLUMNS));
    }
    list.join(", ")
}

/// Columns that `reference` names: every column with exactly that name, else `#N` (0-based).
fn find_columns(headers: &[String], reference: &str) -> Vec<usize> {
    let reference = reference.trim();
    let by_name: Vec<usize> = (0..headers.len()).filter(|&j| headers[j] == reference).collect();
    if !by_name.is_empty() {
        return by_name;
    }
    match reference.strip_prefix('#').and_then(|n| n.parse::<usize>().ok()) {
        Some(j) if j < headers.len() => vec![j],
        _ => Vec::new(),
    }
}

/// The field delimiter: `\t` for `.tsv`, else whichever of `,` `;` `\t` is most frequent on the
/// first line (`,` when none is).
fn sniff_delimiter(path: &Path, bytes: &[u8]) -> u8 {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("tsv")) {
        return b'\t';
    }
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let count = |d: u8| first.iter().filter(|&&b| b == d).count();
    let mut best = (b',', count(b','));
    for d in [b';', b'\t'] {
        let n = count(d);
        if n > best.1 {
            best = (d, n);
        }
    }
    best.0
}

/// Parses one feature cell.
fn parse_cell(cell: &str) -> Result<f32, String> {
    if cell.is_empty() {
        return Err("the cell is empty".into());
    }
    match cell.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("{cell:?} is not a finite number")),
        Err(_) => Err(format!("{cell:?} is not a number")),
    }
}

/// The bytes of text file `path` and its name for errors (a binary file is refused).
fn read_text(path: &Path) -> Result<(String, Vec<u8>), DataError> {
    let file = path.display().to_string();
    let bytes = crate::file::read_file(path, &file)?;
    check_text(&file, &bytes)?;
    Ok((file, bytes))
}

/// A CSV reader over `bytes` (delimiter sniffed, cells trimmed, ragged rows allowed so that
/// they get their own error) and the header row.
fn csv_reader<'a>(path: &Path, file: &str, bytes: &'a [u8]) -> Result<(csv::Reader<&'a [u8]>, Vec<String>), DataError> {
    let mut reader = ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(Trim::All)
        .delimiter(sniff_delimiter(path, bytes))
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| DataError::invalid(file, format!("cannot read the header row: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    Ok((reader, headers))
}

/// The name (or `#N` reference) of the label column of CSV file `path`: `label` as given, or the
/// last column's when `None` (what a model card records, so that `predict` finds the labels).
pub(crate) fn label_name(path: &Path, label: Option<&str>) -> Result<String, DataError> {
    if let Some(l) = label {
        return Ok(l.to_string());
    }
    let (file, bytes) = read_text(path)?;
    let (_, headers) = csv_reader(path, &file, &bytes)?;
    match headers.len() {
        0 => Err(DataError::invalid(&file, "the file is empty (a header row is required)")),
        n => Ok(column_ref(&headers, n - 1)),
    }
}

/// Loads `path`: header row required; `label` names the label column (default: the last);
/// `drop` names ignored columns; every other column must be numeric.
pub(crate) fn load_csv(path: &Path, label: Option<&str>, drop: &[String]) -> Result<Dataset, DataError> {
    let (file, bytes) = read_text(path)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DataError::invalid(&file, "the file is empty (a header row is required)"));
    }
    let (mut reader, headers) = csv_reader(path, &file, &bytes)?;
    let n_cols = headers.len();
    if n_cols == 0 {
        return Err(DataError::invalid(&file, "the file is empty (a header row is required)"));
    }

    // The label column.
    let label_col = match label {
        None => n_cols - 1,
        Some(name) => match find_columns(&headers, name)[..] {
            [j] => j,
            [] => {
                return Err(DataError::UnknownColumn {
                    file,
                    role: "label",
                    name: name.to_string(),
                    columns: column_list(&headers),
                });
            }
            ref many => {
                let refs: Vec<String> = many.iter().map(|j| format!("#{j}")).collect();
                return Err(DataError::invalid(
                    file,
                    format!(
                        "label column \"{name}\" is ambiguous: columns {} share the name (use #N, the 0-based position)",
                        refs.join(", ")
                    ),
                ));
            }
        },
    };

    // Dropped columns.
    let mut keep = vec![true; n_cols];
    keep[label_col] = false;
    for name in drop {
        let cols = find_columns(&headers, name);
        if cols.is_empty() {
            return Err(DataError::UnknownColumn {
                file,
                role: "drop",
                name: name.clone(),
                columns: column_list(&headers),
            });
        }
        if cols.contains(&label_col) {
            return Err(DataError::invalid(
                file,
                format!("column \"{}\" is both the label and dropped", column_ref(&headers, label_col)),
            ));
        }
        for j in cols {
            keep[j] = false;
        }
    }
    let features_cols: Vec<usize> = (0..n_cols).filter(|&j| keep[j]).collect();
    if features_cols.is_empty() {
        return Err(DataError::invalid(
            file,
            format!(
                "no feature columns left (label: \"{}\"; columns: {})",
                column_ref(&headers, label_col),
                column_list(&headers)
            ),
        ));
    }

    // Rows.
    let mut features: Vec<f32> = Vec::new();
    let mut label_values: Vec<String> = Vec::new();
    let mut record = StringRecord::new();
    let mut lines = Lines::new(&bytes);
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(DataError::invalid(&file, e.to_string())),
        }
        let line = record.position().map_or(0, |p| lines.at(p.byte()));
        if record.len() != n_cols {
            return Err(DataError::Ragged { file, line, found: record.len(), expected: n_cols });
        }
        for &j in &features_cols {
            let v = parse_cell(&record[j]).map_err(|problem| DataError::NotNumeric {
                file: file.clone(),
                line,
                column: column_ref(&headers, j),
                problem,
                hint: drop_hint(&headers, j),
            })?;
            features.push(v);
        }
        let y = &record[label_col];
        if y.is_empty() {
            return Err(DataError::invalid(
                file,
                format!("line {line}, label column \"{}\": the cell is empty", column_ref(&headers, label_col)),
            ));
        }
        label_values.push(y.to_string());
    }
    if label_values.is_empty() {
        return Err(DataError::invalid(file, "no data rows after the header"));
    }

    let (labels, class_names) = labels::encode(&label_values);
    if let Some(why) = labels::continuous(&class_names, label_values.len()) {
        return Err(DataError::invalid(file, format!("label column \"{}\": {why}", column_ref(&headers, label_col))));
    }
    let data = Dataset {
        features,
        sample_shape: vec![features_cols.len()],
        labels,
        class_names,
        feature_names: features_cols.iter().map(|&j| column_ref(&headers, j)).collect(),
    };
    data.check().map_err(|reason| DataError::invalid(file, reason))?;
    Ok(data)
}

/// The columns `names` of CSV file `path` (matched by header name, in that order) as row-major
/// features, and the `label` column's cells when `label` is given and the file has it. Other
/// columns are ignored; a missing feature column is an error that lists what is missing.
pub(crate) fn load_named_columns(
    path: &Path,
    names: &[String],
    label: Option<&str>,
) -> Result<crate::Features, DataError> {
    let (file, bytes) = read_text(path)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DataError::invalid(&file, "the file is empty (a header row is required)"));
    }
    let (mut reader, headers) = csv_reader(path, &file, &bytes)?;
    let n_cols = headers.len();
    let mut cols = Vec::with_capacity(names.len());
    let mut missing = Vec::new();
    for name in names {
        match find_columns(&headers, name)[..] {
            [j] => cols.push(j),
            [] => missing.push(format!("\"{name}\"")),
            _ => {
                return Err(DataError::invalid(
                    &file,
                    format!("column \"{name}\" appears more than once in the header"),
                ));
            }
        }
    }
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(MAX_LISTED_COLUMNS).cloned().collect();
        let more = if missing.len() > MAX_LISTED_COLUMNS {
            format!(" and {} more", missing.len() - MAX_LISTED_COLUMNS)
        } else {
            String::new()
        };
        return Err(DataError::invalid(
            &file,
            format!(
                "missing feature column{} {}{more} (the model needs {} columns; the file has: {})",
                if missing.len() == 1 { "" } else { "s" },
                shown.join(", "),
                names.len(),
                column_list(&headers)
            ),
        ));
    }
    let label_col = label.and_then(|l| match find_columns(&headers, l)[..] {
        [j] => Some(j),
        _ => None,
    });
    let mut values = Vec::new();
    let mut labels = label_col.map(|_| Vec::new());
    let mut rows = 0usize;
    let mut record = StringRecord::new();
    let mut lines = Lines::new(&bytes);
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(DataError::invalid(&file, e.to_string())),
        }
        let line = record.position().map_or(0, |p| lines.at(p.byte()));
        if record.len() != n_cols {
            return Err(DataError::Ragged { file, line, found: record.len(), expected: n_cols });
        }
        for &j in &cols {
            let v = parse_cell(&record[j]).map_err(|problem| {
                DataError::invalid(&file, format!("line {line}, column \"{}\": {problem}", column_ref(&headers, j)))
            })?;
            values.push(v);
        }
        if let (Some(j), Some(l)) = (label_col, labels.as_mut()) {
            l.push(record[j].to_string());
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(DataError::invalid(file, "no data rows after the header"));
    }
    Ok(crate::Features { values, rows, labels })
}
