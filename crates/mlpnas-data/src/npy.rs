//! Loading a pair of NPY files (features `X.npy`, labels `Y.npy`) into a [`Dataset`].
//!
//! A small self-contained reader of the NPY format (versions 1.0, 2.0 and 3.0): a magic string,
//! a header that is a Python dict literal (`descr`, `fortran_order`, `shape`), then the raw
//! elements. The NPY crates (`npyz`, `ndarray-npy`) parse that header with a full Python-literal
//! parser built on `pest`, which costs far more to compile than this whole crate.

use std::path::Path;

use mlpnas_core::{Dataset, Task};

use crate::error::DataError;
use crate::labels;

/// The `.npy` magic string.
const MAGIC: &[u8] = b"\x93NUMPY";

/// The elements of one array.
enum Values {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    U64(Vec<u64>),
    Bool(Vec<bool>),
    Str(Vec<String>),
}

/// One array read from a file, elements in C (row-major) order.
struct Array {
    shape: Vec<usize>,
    descr: String,
    values: Values,
}

/// A value of the header's Python dict literal.
#[derive(Debug, PartialEq)]
enum PyValue {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
    /// A list, dict or anything else this reader does not need (e.g. a structured dtype).
    Other,
}

/// A tiny parser for the header dict, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }`.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&mut self) -> Option<u8> {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {} of the header", c as char, self.i))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let q = self.peek().filter(|&c| c == b'\'' || c == b'"').ok_or("expected a string in the header")?;
        self.i += 1;
        let start = self.i;
        while self.s.get(self.i).is_some_and(|&c| c != q) {
            self.i += 1;
        }
        let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.expect(q)?;
        Ok(text)
    }

    fn tuple(&mut self) -> Result<PyValue, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            match self.peek() {
                Some(b')') => {
                    self.i += 1;
                    return Ok(PyValue::Tuple(dims));
                }
                Some(b',') => self.i += 1,
                Some(c) if c.is_ascii_digit() => {
                    let start = self.i;
                    while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                        self.i += 1;
                    }
                    let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                    dims.push(text.parse::<u64>().map_err(|_| format!("bad dimension {text}"))?);
                    if self.s.get(self.i).is_some_and(|&c| c == b'L' || c == b'l') {
                        self.i += 1; // Python 2 long suffix.
                    }
                }
                _ => return Err("bad shape tuple in the header".into()),
            }
        }
    }

    /// Skips a balanced list or dict (structured dtypes), ignoring brackets inside strings.
    fn skip_nested(&mut self) -> Result<PyValue, String> {
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                b'\'' | b'"' => {
                    self.string()?;
                    continue;
                }
                b'[' | b'{' | b'(' => depth += 1,
                b']' | b'}' | b')' => depth = depth.saturating_sub(1),
                _ => {}
            }
            self.i += 1;
            if depth == 0 {
                return Ok(PyValue::Other);
            }
        }
        Err("unbalanced brackets in the header".into())
    }

    fn value(&mut self) -> Result<PyValue, String> {
        match self.peek() {
            Some(b'\'' | b'"') => Ok(PyValue::Str(self.string()?)),
            Some(b'(') => self.tuple(),
            Some(b'[' | b'{') => self.skip_nested(),
            _ => {
                let start = self.i;
                while self.s.get(self.i).is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.') {
                    self.i += 1;
                }
                match &self.s[start..self.i] {
                    b"True" => Ok(PyValue::Bool(true)),
                    b"False" => Ok(PyValue::Bool(false)),
                    b"" => Err(format!("unexpected character at byte {} of the header", self.i)),
                    _ => Ok(PyValue::Other),
                }
            }
        }
    }

    fn dict(&mut self) -> Result<Vec<(String, PyValue)>, String> {
        self.expect(b'{')?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(b'}') => return Ok(out),
                Some(b',') => self.i += 1,
                Some(_) => {
                    let key = self.string()?;
                    self.expect(b':')?;
                    out.push((key, self.value()?));
                }
                None => return Err("unterminated header dict".into()),
            }
        }
    }
}

/// The parsed header: dtype string, memory order and shape.
#[derive(Debug, PartialEq)]
struct Header {
    descr: String,
    fortran: bool,
    shape: Vec<u64>,
}

fn parse_header(text: &[u8]) -> Result<Header, String> {
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (key, value) in (Parser { s: text, i: 0 }).dict()? {
        match (key.as_str(), value) {
            ("descr", PyValue::Str(d)) => descr = Some(d),
            ("descr", _) => return Err("structured dtypes are not supported".into()),
            ("fortran_order", PyValue::Bool(b)) => fortran = Some(b),
            ("shape", PyValue::Tuple(t)) => shape = Some(t),
            (k @ ("fortran_order" | "shape"), v) => return Err(format!("bad value {v:?} for '{k}'")),
            _ => {}
        }
    }
    match (descr, fortran, shape) {
        (Some(descr), Some(fortran), Some(shape)) => Ok(Header { descr, fortran, shape }),
        _ => Err("the header lacks 'descr', 'fortran_order' or 'shape'".into()),
    }
}

/// Decodes `N`-byte elements with `f` (which reads little-endian bytes), in storage order.
fn decode<T, const N: usize>(data: &[u8], big_endian: bool, f: impl Fn([u8; N]) -> T) -> Vec<T> {
    data.chunks_exact(N)
        .map(|c| {
            let mut b = [0u8; N];
            b.copy_from_slice(c);
            if big_endian {
                b.reverse();
            }
            f(b)
        })
        .collect()
}

/// Decodes the first `n` elements of `data` as `descr` says (e.g. `<f4`, `|u1`, `<U8`).
///
/// `None` when the dtype is not supported or `data` is too short.
fn decode_values(descr: &str, data: &[u8], n: usize) -> Option<Values> {
    let bytes = descr.as_bytes();
    let (order, kind, size) = match bytes.first()? {
        b'<' | b'>' | b'|' | b'=' => (bytes[0], *bytes.get(1)?, descr.get(2..)?.parse::<usize>().ok()?),
        &k => (b'|', k, descr.get(1..)?.parse::<usize>().ok()?),
    };
    let be = order == b'>' || (order == b'=' && cfg!(target_endian = "big"));
    let item = if kind == b'U' { size.checked_mul(4)? } else { size };
    let data = data.get(..n.checked_mul(item)?)?;
    Some(match (kind, size) {
        (b'f', 4) => Values::F32(decode(data, be, f32::from_le_bytes)),
        (b'f', 8) => Values::F64(decode(data, be, f64::from_le_bytes)),
        (b'i', 1) => Values::I64(decode(data, be, |b: [u8; 1]| i64::from(i8::from_le_bytes(b)))),
        (b'i', 2) => Values::I64(decode(data, be, |b| i64::from(i16::from_le_bytes(b)))),
        (b'i', 4) => Values::I64(decode(data, be, |b| i64::from(i32::from_le_bytes(b)))),
        (b'i', 8) => Values::I64(decode(data, be, i64::from_le_bytes)),
        (b'u', 1) => Values::U64(data.iter().map(|&b| u64::from(b)).collect()),
        (b'u', 2) => Values::U64(decode(data, be, |b| u64::from(u16::from_le_bytes(b)))),
        (b'u', 4) => Values::U64(decode(data, be, |b| u64::from(u32::from_le_bytes(b)))),
        (b'u', 8) => Values::U64(decode(data, be, u64::from_le_bytes)),
        (b'b', 1) => Values::Bool(data.iter().map(|&b| b != 0).collect()),
        (b'S' | b'a', s) if s > 0 => Values::Str(
            data.chunks_exact(s)
                .map(|c| {
                    let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
                    String::from_utf8_lossy(&c[..end]).into_owned()
                })
                .collect(),
        ),
        (b'U', s) if s > 0 => Values::Str(
            data.chunks_exact(item)
                .map(|c| {
                    decode(c, be, u32::from_le_bytes)
                        .into_iter()
                        .take_while(|&cp| cp != 0)
                        .map(|cp| char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER))
                        .collect()
                })
                .collect(),
        ),
        _ => return None,
    })
}

/// `data` stored in Fortran (column-major) order, reordered to C order.
fn fortran_to_c<T: Clone>(data: Vec<T>, shape: &[usize]) -> Vec<T> {
    if shape.len() < 2 || data.is_empty() {
        return data;
    }
    let mut out = Vec::with_capacity(data.len());
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..data.len() {
        // Fortran offset: the first index varies fastest.
        let mut off = 0;
        for k in (0..shape.len()).rev() {
            off = off * shape[k] + idx[k];
        }
        out.push(data[off].clone());
        // Next C-order multi-index: the last index varies fastest.
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

fn reorder(values: Values, shape: &[usize]) -> Values {
    match values {
        Values::F32(v) => Values::F32(fortran_to_c(v, shape)),
        Values::F64(v) => Values::F64(fortran_to_c(v, shape)),
        Values::I64(v) => Values::I64(fortran_to_c(v, shape)),
        Values::U64(v) => Values::U64(fortran_to_c(v, shape)),
        Values::Bool(v) => Values::Bool(fortran_to_c(v, shape)),
        Values::Str(v) => Values::Str(fortran_to_c(v, shape)),
    }
}

/// Reads a whole `.npy` file: plain numeric, bool or string dtypes, any rank, C or Fortran order.
fn read_array(path: &Path) -> Result<Array, DataError> {
    let file = path.display().to_string();
    let bytes = crate::file::read_file(path, &file)?;
    let bad = |why: &str| DataError::invalid(&file, format!("not a valid .npy file: {why}"));
    if !bytes.starts_with(MAGIC) || bytes.len() < 10 {
        return Err(bad("it does not start with the NPY magic string"));
    }
    let (header_len, text_start): (usize, usize) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(bad(&format!("unsupported format version {v}"))),
    };
    let text = text_start
        .checked_add(header_len)
        .and_then(|end| bytes.get(text_start..end))
        .ok_or_else(|| bad("the header is truncated"))?;
    let header = parse_header(text).map_err(|why| bad(&why))?;
    let descr = header.descr;
    let shape: Vec<usize> = header
        .shape
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| DataError::invalid(&file, "the array is too large"))?;
    if decode_values(&descr, &[], 0).is_none() {
        return Err(DataError::invalid(&file, format!("dtype '{}' is not supported", descr.escape_debug())));
    }
    let data = &bytes[text_start + header_len..];
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let Some(values) = n.and_then(|n| decode_values(&descr, data, n)) else {
        return Err(DataError::invalid(
            &file,
            format!("truncated: shape {shape:?} of '{descr}' does not fit in the {} data bytes", data.len()),
        ));
    };
    let values = if header.fortran { reorder(values, &shape) } else { values };
    Ok(Array { shape, descr, values })
}

/// Features of `x` (shape `[N, ...]`, numeric): the values row-major, and the shape.
pub(crate) fn read_features(x: &Path) -> Result<(Vec<f32>, Vec<usize>), DataError> {
    let x_file = x.display().to_string();
    let xa = read_array(x)?;
    if xa.shape.len() < 2 {
        return Err(DataError::invalid(
            x_file,
            format!("features have shape {:?}; expected [rows, features...] (rank 2 or more)", xa.shape),
        ));
    }
    let features: Vec<f32> = match xa.values {
        Values::F32(v) => v,
        Values::F64(v) => v.into_iter().map(|x| x as f32).collect(),
        Values::I64(v) => v.into_iter().map(|x| x as f32).collect(),
        Values::U64(v) => v.into_iter().map(|x| x as f32).collect(),
        Values::Bool(v) => v.into_iter().map(f32::from).collect(),
        Values::Str(_) => {
            return Err(DataError::invalid(
                x_file,
                format!("features must be numeric, got dtype '{}'", xa.descr.escape_debug()),
            ));
        }
    };
    if let Some(i) = features.iter().position(|v| !v.is_finite()) {
        let w: usize = xa.shape[1..].iter().product();
        return Err(DataError::invalid(
            x_file,
            format!("row {}: feature {} is not a finite number ({})", i / w.max(1), i % w.max(1), features[i]),
        ));
    }
    Ok((features, xa.shape))
}

/// Labels of `y` (shape `[n_rows]` or `[n_rows, 1]`; integers, whole floats, bools or strings)
/// as strings; `x_file` is named when the row counts differ.
pub(crate) fn read_labels(y: &Path, n_rows: usize, x_file: &str) -> Result<Vec<String>, DataError> {
    let y_file = y.display().to_string();
    let ya = read_array(y)?;
    let label_shape_ok = matches!(ya.shape[..], [_] | [_, 1]);
    if !label_shape_ok {
        return Err(DataError::invalid(
            y_file,
            format!("labels have shape {:?}; expected [rows] or [rows, 1]", ya.shape),
        ));
    }
    if ya.shape[0] != n_rows {
        return Err(DataError::invalid(y_file, format!("{} labels but {x_file} has {n_rows} rows", ya.shape[0])));
    }
    Ok(match ya.values {
        Values::I64(v) => v.iter().map(i64::to_string).collect(),
        Values::U64(v) => v.iter().map(u64::to_string).collect(),
        Values::Bool(v) => v.iter().map(bool::to_string).collect(),
        Values::Str(v) => v,
        Values::F32(v) => whole_numbers(v.into_iter().map(f64::from), &y_file)?,
        Values::F64(v) => whole_numbers(v.into_iter(), &y_file)?,
    })
}

/// The target values of a regression from `y` (shape `[N]` or `[N, 1]`, numeric, finite).
fn read_targets(y: &Path, n_rows: usize, x_file: &str) -> Result<Vec<f32>, DataError> {
    let y_file = y.display().to_string();
    let ya = read_array(y)?;
    if !matches!(ya.shape[..], [_] | [_, 1]) {
        return Err(DataError::invalid(
            y_file,
            format!("targets have shape {:?}; expected [rows] or [rows, 1]", ya.shape),
        ));
    }
    if ya.shape[0] != n_rows {
        return Err(DataError::invalid(y_file, format!("{} targets but {x_file} has {n_rows} rows", ya.shape[0])));
    }
    let values: Vec<f32> = match ya.values {
        Values::F32(v) => v,
        Values::F64(v) => v.into_iter().map(|x| x as f32).collect(),
        Values::I64(v) => v.into_iter().map(|x| x as f32).collect(),
        Values::U64(v) => v.into_iter().map(|x| x as f32).collect(),
        Values::Bool(_) | Values::Str(_) => {
            return Err(DataError::invalid(
                y_file,
                format!("a regression target must be numeric, got dtype '{}'", ya.descr.escape_debug()),
            ));
        }
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(DataError::invalid(y_file, format!("target {} at row {i} is not a finite number", values[i])));
    }
    Ok(values)
}

/// Loads features from `x` (shape `[N, ...]`, numeric) and labels from `y` (shape `[N]` or
/// `[N, 1]`; integers, whole floats, bools or strings), or a regression's target values.
pub(crate) fn load_npy(x: &Path, y: &Path, task: Task) -> Result<Dataset, DataError> {
    let (x_file, y_file) = (x.display().to_string(), y.display().to_string());
    let (features, shape) = read_features(x)?;
    let (labels, targets, class_names) = match task {
        Task::Regression => (Vec::new(), read_targets(y, shape[0], &x_file)?, Vec::new()),
        Task::Classification => {
            let label_strings = read_labels(y, shape[0], &x_file)?;
            let (labels, class_names) = labels::encode(&label_strings);
            if let Some(why) = labels::continuous(&class_names, label_strings.len()) {
                return Err(DataError::invalid(&y_file, why));
            }
            (labels, Vec::new(), class_names)
        }
    };
    let data = Dataset {
        features,
        sample_shape: shape[1..].to_vec(),
        labels,
        targets,
        class_names,
        feature_names: (0..shape[1..].iter().product()).map(|i| format!("f{i}")).collect(),
    };
    data.check().map_err(|reason| DataError::invalid(format!("{x_file}:{y_file}"), reason))?;
    Ok(data)
}

/// Float labels as integer strings; an error names the first one that is not a whole number.
fn whole_numbers(values: impl Iterator<Item = f64>, file: &str) -> Result<Vec<String>, DataError> {
    values
        .enumerate()
        .map(|(i, v)| {
            if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 {
                Ok(format!("{}", v as i64))
            } else {
                Err(DataError::invalid(
                    file,
                    format!(
                        "label {v} at row {i} is not a whole number (class labels must be integers or strings; to predict the number, use --task regression)"
                    ),
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_headers() {
        let h =
            parse_header(b"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }    \n").expect("should succeed");
        assert_eq!(h, Header { descr: "<f4".into(), fortran: false, shape: vec![3, 2] });
        let h = parse_header(br#"{"shape": (5L,), "fortran_order": True, "descr": "|u1"}"#).expect("should succeed");
        assert_eq!(h, Header { descr: "|u1".into(), fortran: true, shape: vec![5] });
        let h = parse_header(b"{'descr': '<i8', 'fortran_order': False, 'shape': ()}").expect("should succeed");
        assert_eq!(h.shape, Vec::<u64>::new());
        let e = parse_header(b"{'descr': [('a', '<i4'), ('b', '<f8')], 'fortran_order': False, 'shape': (2,)}");
        assert_eq!(e.expect_err("should fail"), "structured dtypes are not supported");
        assert!(parse_header(b"{'descr': '<f4', 'shape': (2,)}").expect_err("should fail").contains("lacks"));
        assert!(parse_header(b"{'descr': '<f4', 'shape': (2,").is_err());
        assert!(parse_header(b"").is_err());
    }

    #[test]
    fn decodes_each_dtype() {
        let f = |d: &str, data: &[u8], n| match decode_values(d, data, n) {
            Some(Values::F32(v)) => format!("f32 {v:?}"),
            Some(Values::F64(v)) => format!("f64 {v:?}"),
            Some(Values::I64(v)) => format!("i64 {v:?}"),
            Some(Values::U64(v)) => format!("u64 {v:?}"),
            Some(Values::Bool(v)) => format!("bool {v:?}"),
            Some(Values::Str(v)) => format!("str {v:?}"),
            None => "none".into(),
        };
        assert_eq!(f("<i2", &[1, 0, 0xff, 0xff], 2), "i64 [1, -1]");
        assert_eq!(f(">u2", &[1, 0], 1), "u64 [256]");
        assert_eq!(f("|b1", &[0, 1], 2), "bool [false, true]");
        assert_eq!(f("|S3", b"ab\0xyz", 2), r#"str ["ab", "xyz"]"#);
        assert_eq!(f("<f8", &1.5f64.to_le_bytes(), 1), "f64 [1.5]");
        assert_eq!(f(">f4", &2.5f32.to_be_bytes(), 1), "f32 [2.5]");
        assert_eq!(f("<f4", &[0; 3], 1), "none");
        assert_eq!(f("<f2", &[0; 2], 1), "none");
        assert_eq!(f("O", &[], 0), "none");
    }

    #[test]
    fn version_2_header() {
        let dir = std::env::temp_dir().join(format!("mlpnas-data-npy-v2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("should succeed");
        let text = b"{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n";
        let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
        bytes.extend((text.len() as u32).to_le_bytes());
        bytes.extend(text);
        bytes.extend([7, 0, 0, 0, 9, 0, 0, 0]);
        let path = dir.join("v2.npy");
        std::fs::write(&path, bytes).expect("should succeed");
        let a = read_array(&path).expect("should succeed");
        assert_eq!(a.shape, [2]);
        assert!(matches!(a.values, Values::I64(ref v) if v == &[7, 9]));
    }
}
