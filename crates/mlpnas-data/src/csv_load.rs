//! Loading a CSV file with a header row into a [`Dataset`].

use std::path::Path;

use csv::{ReaderBuilder, StringRecord, Trim};
use mlpnas_core::{Dataset, Task};

use crate::Loaded;
use crate::config::DataConfig;
use crate::encode::{Cell, Column, Preprocessor, is_missing};
use crate::error::DataError;
use crate::labels;
use crate::raw::{CategoricalBuilder, ColumnInfo, ColumnType, RawColumn, RawKind, RawTable};

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
        Ok(_) => Err(not_finite(cell)),
        Err(_) => Err(format!("{cell:?} is not a number")),
    }
}

/// Why a cell that parses as a number is not a usable f32: a finite number too large for f32
/// (`1e300`) is not called "not finite".
pub(crate) fn not_finite(cell: &str) -> String {
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => format!("{cell:?} is beyond the range of f32 (about ±3.4e38)"),
        _ => format!("{cell:?} is not a finite number"),
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

/// Loads `path` as `cfg` says: header row required; `cfg.label` names the label column
/// (default: the last); `cfg.drop` and `[data.columns]` leave columns out; every other column
/// is numeric or categorical (inferred: numeric when every present cell is a finite number),
/// with missing cells (`cfg.na_values`, the empty cell). Rows without a label are left out
/// (counted in a note). A table of numeric columns without a missing cell loads as plain
/// features (exactly as before categories existed); any other as a [`RawTable`].
///
/// For a regression (`task`), every label cell must be a finite number: the first that is not
/// is an error naming its line.
pub(crate) fn load_csv(path: &Path, cfg: &DataConfig, task: Task) -> Result<Loaded, DataError> {
    let (file, bytes) = read_text(path)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DataError::invalid(&file, "the file is empty (a header row is required)"));
    }
    let (_, headers) = csv_reader(path, &file, &bytes)?;
    let n_cols = headers.len();
    if n_cols == 0 {
        return Err(DataError::invalid(&file, "the file is empty (a header row is required)"));
    }
    let label_col = match cfg.label.as_deref() {
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

    // Dropped columns, and the types set in [data.columns].
    let mut keep = vec![true; n_cols];
    keep[label_col] = false;
    let mut declared: Vec<Option<ColumnType>> = vec![None; n_cols];
    let drops = cfg.drop.iter().map(|d| (d, None));
    let typed = cfg.columns.iter().map(|(d, t)| (d, Some(*t)));
    for (name, ty) in drops.chain(typed) {
        let role = if ty.is_some() { "[data.columns]" } else { "drop" };
        let cols = find_columns(&headers, name);
        if cols.is_empty() {
            return Err(DataError::UnknownColumn { file, role, name: name.clone(), columns: column_list(&headers) });
        }
        if cols.contains(&label_col) {
            return Err(DataError::invalid(
                file,
                format!(
                    "column \"{}\" is the label; it cannot be {}",
                    column_ref(&headers, label_col),
                    match ty {
                        None | Some(ColumnType::Drop) => "dropped",
                        Some(_) => "typed in [data.columns]",
                    }
                ),
            ));
        }
        for j in cols {
            match ty {
                None | Some(ColumnType::Drop) => keep[j] = false,
                Some(t) => declared[j] = Some(t),
            }
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
    let na = &cfg.na_values;

    // First pass: which columns are numbers, and where the first cell that is not one is.
    struct Seen {
        numeric: bool,
        present: usize,
        /// (line, problem) of the first present cell that is not a finite number.
        bad: Option<(u64, String)>,
        /// The first number that is not finite (an error unless the column is categorical).
        non_finite: Option<(u64, String)>,
    }
    let mut seen: Vec<Seen> =
        features_cols.iter().map(|_| Seen { numeric: true, present: 0, bad: None, non_finite: None }).collect();
    let (mut reader, _) = csv_reader(path, &file, &bytes)?;
    let mut record = StringRecord::new();
    let mut lines = Lines::new(&bytes);
    let (mut rows, mut unlabeled) = (0usize, 0usize);
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
        if is_missing(na, &record[label_col]) {
            unlabeled += 1;
            continue;
        }
        if task == Task::Regression
            && let Err((_, cell)) = labels::targets(&[&record[label_col]])
        {
            return Err(DataError::invalid(
                &file,
                format!(
                    "line {line}, column \"{}\": {cell:?} is not a number, and a regression (search.task) predicts a number",
                    column_ref(&headers, label_col)
                ),
            ));
        }
        rows += 1;
        for (s, &j) in seen.iter_mut().zip(&features_cols) {
            let cell = &record[j];
            if is_missing(na, cell) {
                continue;
            }
            s.present += 1;
            match cell.parse::<f32>() {
                Ok(v) if v.is_finite() => {}
                Ok(_) => {
                    s.non_finite.get_or_insert_with(|| (line, not_finite(cell)));
                }
                Err(_) => {
                    s.numeric = false;
                    s.bad.get_or_insert_with(|| (line, format!("{cell:?} is not a number")));
                }
            }
        }
    }
    if rows == 0 {
        let why = if unlabeled > 0 { " with a label" } else { "" };
        return Err(DataError::invalid(file, format!("no data rows{why} after the header")));
    }

    // Types: declared, or inferred; numbers must be finite in a numeric column.
    let mut kinds = Vec::with_capacity(features_cols.len());
    for (s, &j) in seen.iter().zip(&features_cols) {
        let numeric = match declared[j] {
            Some(ColumnType::Numeric) => {
                if let Some((line, problem)) = &s.bad {
                    return Err(DataError::NotNumeric {
                        file,
                        line: *line,
                        column: column_ref(&headers, j),
                        problem: format!("{problem} (the column is declared numeric in [data.columns])"),
                        hint: drop_hint(&headers, j),
                    });
                }
                true
            }
            Some(ColumnType::Categorical) => false,
            _ => s.numeric,
        };
        if numeric && let Some((line, problem)) = &s.non_finite {
            return Err(DataError::NotNumeric {
                file,
                line: *line,
                column: column_ref(&headers, j),
                problem: format!("{problem} (list it in data.na_values to read it as missing)"),
                hint: drop_hint(&headers, j),
            });
        }
        kinds.push(numeric);
    }

    // Second pass: the cells.
    enum Building {
        Numeric(Vec<f32>),
        Categorical(CategoricalBuilder),
    }
    let mut built: Vec<Building> = kinds
        .iter()
        .map(|&numeric| {
            if numeric {
                Building::Numeric(Vec::with_capacity(rows))
            } else {
                Building::Categorical(Default::default())
            }
        })
        .collect();
    let mut missing = vec![0usize; features_cols.len()];
    let mut label_values: Vec<String> = Vec::with_capacity(rows);
    let (mut reader, _) = csv_reader(path, &file, &bytes)?;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(DataError::invalid(&file, e.to_string())),
        }
        if is_missing(na, &record[label_col]) {
            continue;
        }
        label_values.push(record[label_col].to_string());
        for (k, &j) in features_cols.iter().enumerate() {
            let cell = &record[j];
            let absent = is_missing(na, cell);
            missing[k] += usize::from(absent);
            match &mut built[k] {
                Building::Numeric(v) => v.push(if absent { f32::NAN } else { cell.parse::<f32>().unwrap_or(f32::NAN) }),
                Building::Categorical(b) => b.push((!absent).then_some(cell)),
            }
        }
    }

    let (labels, targets, class_names) = match task {
        // Every cell parsed in the first pass.
        Task::Regression => (Vec::new(), labels::targets(&label_values).unwrap_or_default(), Vec::new()),
        Task::Classification => {
            let (labels, class_names) = labels::encode(&label_values);
            if let Some(why) = labels::continuous(&class_names, label_values.len()) {
                return Err(DataError::invalid(
                    file,
                    format!("label column \"{}\": {why}", column_ref(&headers, label_col)),
                ));
            }
            (labels, Vec::new(), class_names)
        }
    };

    // Columns, leaving out what carries nothing (auto_drop).
    let mut columns = Vec::with_capacity(features_cols.len());
    let mut info = Vec::new();
    let mut notes = Vec::new();
    for ((b, &j), missing) in built.into_iter().zip(&features_cols).zip(missing) {
        let name = column_ref(&headers, j);
        let kind = match b {
            Building::Numeric(values) => RawKind::Numeric { values },
            Building::Categorical(b) => b.finish(),
        };
        let why = if missing == rows {
            Some("every cell is missing".to_string())
        } else if cfg.auto_drop && declared[j].is_none() {
            left_out(&headers[j], &kind, missing, rows)
        } else {
            None
        };
        match why {
            Some(why) => {
                notes.push(format!("column \"{name}\" left out: {why}"));
                info.push(ColumnInfo { name, kind: format!("left out: {why}"), missing, levels: None });
            }
            None => columns.push(RawColumn { name, kind, missing }),
        }
    }
    if unlabeled > 0 {
        notes.push(format!(
            "{unlabeled} row{} without a label (column \"{}\") left out",
            if unlabeled == 1 { "" } else { "s" },
            column_ref(&headers, label_col)
        ));
    }
    if columns.is_empty() {
        return Err(DataError::invalid(
            file,
            format!("no feature columns left: {}", notes.iter().take(3).cloned().collect::<Vec<_>>().join("; ")),
        ));
    }
    let table = RawTable { columns, na_values: na.clone() };
    let mut all_info = table.info();
    all_info.extend(info);
    let feature_names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    if table.is_plain() {
        // Numbers only, none missing: the features as they are, row-major.
        let width = table.columns.len();
        let mut features = vec![0f32; rows * width];
        for (k, c) in table.columns.iter().enumerate() {
            if let RawKind::Numeric { values } = &c.kind {
                for (i, v) in values.iter().enumerate() {
                    features[i * width + k] = *v;
                }
            }
        }
        let data = Dataset { features, sample_shape: vec![width], labels, targets, class_names, feature_names };
        data.check().map_err(|reason| DataError::invalid(&file, reason))?;
        return Ok(Loaded { data, table: None, columns: all_info, notes });
    }
    let data = Dataset { features: Vec::new(), sample_shape: vec![0], labels, targets, class_names, feature_names };
    Ok(Loaded { data, table: Some(table), columns: all_info, notes })
}

/// Why column `header` (cells `kind`, `missing` of `rows` missing) carries nothing to learn
/// from: constant, or an ID (distinct integers in an unnamed or `rownames` column; a category
/// per row or nearly).
fn left_out(header: &str, kind: &RawKind, missing: usize, rows: usize) -> Option<String> {
    match kind {
        RawKind::Numeric { values } => {
            let present: Vec<f32> = values.iter().copied().filter(|v| !v.is_nan()).collect();
            if missing == 0 && present.windows(2).all(|w| w[0] == w[1]) {
                return Some(format!("constant ({})", present.first().copied().unwrap_or_default()));
            }
            let named_like_an_index = header.is_empty() || header.eq_ignore_ascii_case("rownames");
            if named_like_an_index && missing == 0 && present.iter().all(|v| v.fract() == 0.0) {
                let mut sorted = present;
                sorted.sort_by(f32::total_cmp);
                if sorted.windows(2).all(|w| w[0] != w[1]) {
                    return Some(format!("ID-like (a distinct integer in each of its {rows} rows)"));
                }
            }
            None
        }
        RawKind::Categorical { dictionary, .. } => {
            if missing == 0 && dictionary.len() == 1 {
                Some(format!("constant ({:?})", dictionary[0]))
            } else if dictionary.len() * 2 > rows && dictionary.len() > 2 {
                Some(format!("ID-like ({} distinct values in {rows} rows)", dictionary.len()))
            } else {
                None
            }
        }
    }
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
    Ok(crate::Features { values, rows, labels, notes: Vec::new() })
}

/// The rows of CSV file `path` encoded by `pre`: its columns by name (any order, others
/// ignored), missing cells as `pre` spells them; the `label` column's cells when present.
pub(crate) fn load_table_rows(
    path: &Path,
    pre: &Preprocessor,
    label: Option<&str>,
) -> Result<crate::Features, DataError> {
    let (file, bytes) = read_text(path)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DataError::invalid(&file, "the file is empty (a header row is required)"));
    }
    let (mut reader, headers) = csv_reader(path, &file, &bytes)?;
    let n_cols = headers.len();
    let mut cols = Vec::with_capacity(pre.columns.len());
    let mut absent = Vec::new();
    for c in &pre.columns {
        match find_columns(&headers, c.name())[..] {
            [j] => cols.push(j),
            [] => absent.push(format!("\"{}\"", c.name())),
            _ => {
                return Err(DataError::invalid(
                    &file,
                    format!("column \"{}\" appears more than once in the header", c.name()),
                ));
            }
        }
    }
    if !absent.is_empty() {
        return Err(DataError::invalid(
            &file,
            format!(
                "missing column{} {} (the model reads {}; the file has: {})",
                if absent.len() == 1 { "" } else { "s" },
                absent.iter().take(MAX_LISTED_COLUMNS).cloned().collect::<Vec<_>>().join(", "),
                pre.columns.iter().map(|c| c.name()).take(MAX_LISTED_COLUMNS).collect::<Vec<_>>().join(", "),
                column_list(&headers)
            ),
        ));
    }
    let label_col = label.and_then(|l| match find_columns(&headers, l)[..] {
        [j] => Some(j),
        _ => None,
    });
    let width = pre.width();
    let mut values = Vec::new();
    let mut labels = label_col.map(|_| Vec::new());
    let (mut rows, mut unseen) = (0usize, 0usize);
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
        let mut cells: Vec<Cell<'_>> = Vec::with_capacity(cols.len());
        for (c, &j) in pre.columns.iter().zip(&cols) {
            let cell = &record[j];
            cells.push(if pre.is_missing(cell) {
                Cell::Missing
            } else {
                match c {
                    Column::Categorical { .. } => Cell::Text(cell),
                    Column::Numeric { .. } => match cell.parse::<f32>() {
                        Ok(v) if v.is_finite() => Cell::Number(v),
                        Ok(_) => {
                            return Err(DataError::invalid(
                                &file,
                                format!("line {line}, column \"{}\": {}", column_ref(&headers, j), not_finite(cell)),
                            ));
                        }
                        Err(_) => {
                            return Err(DataError::invalid(
                                &file,
                                format!("line {line}, column \"{}\": {cell:?} is not a number (the model reads it as numeric)", column_ref(&headers, j)),
                            ));
                        }
                    },
                }
            });
        }
        let at = values.len();
        values.resize(at + width, 0.0);
        unseen += usize::from(pre.transform_row(&cells, &mut values[at..]));
        if let (Some(j), Some(l)) = (label_col, labels.as_mut()) {
            l.push(record[j].to_string());
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(DataError::invalid(file, "no data rows after the header"));
    }
    let mut notes = Vec::new();
    if unseen > 0 {
        notes.push(format!(
            "{unseen} row{} of {file} had a category never seen in training (encoded as {})",
            if unseen == 1 { "" } else { "s" },
            crate::OTHER
        ));
    }
    Ok(crate::Features { values, rows, labels, notes })
}
