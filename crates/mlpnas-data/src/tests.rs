//! Tests of loading (CSV, NPY, built-ins) and preparation (split, standardization).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use mlpnas_core::{Dataset, Task};

use super::*;

/// [`crate::load`] of data that needs nothing fitted, for a classification: its plain features.
fn load(cfg: &DataConfig, base_dir: &Path) -> Result<Dataset, DataError> {
    crate::load(cfg, base_dir, Task::Classification).map(|l| l.data)
}

/// [`crate::prepare`] of plain features.
fn prepare(cfg: &DataConfig, data: Dataset, seed: u64) -> Result<Prepared, DataError> {
    crate::prepare(cfg, Loaded::plain(data), seed)
}

/// A fresh, empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("mlpnas-data-test-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("should succeed");
    dir
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("should succeed");
    path
}

fn cfg(source: &str) -> DataConfig {
    DataConfig { source: source.parse().expect("a data spec"), ..DataConfig::default() }
}

/// Loads CSV `content` written as `name` with optional label and drop list.
fn load_csv_text(name: &str, content: &str, label: Option<&str>, drop: &[&str]) -> Result<Dataset, DataError> {
    let dir = temp_dir("csv");
    write(&dir, name, content);
    let c = DataConfig {
        source: DataSpec::Csv(name.into()),
        label: label.map(str::to_string),
        drop: drop.iter().map(|s| s.to_string()).collect(),
        ..DataConfig::default()
    };
    load(&c, &dir)
}

/// Loads CSV `content` with the config `edit` makes (source set to the file).
fn load_csv_with(content: &str, edit: impl FnOnce(&mut DataConfig)) -> Result<Loaded, DataError> {
    let dir = temp_dir("csv");
    write(&dir, "t.csv", content);
    let mut c = DataConfig { source: DataSpec::Csv("t.csv".into()), ..DataConfig::default() };
    edit(&mut c);
    crate::load(&c, &dir, Task::Classification)
}

/// Loads CSV `content` for a regression.
fn load_regression(content: &str) -> Result<Loaded, DataError> {
    let dir = temp_dir("csv");
    write(&dir, "t.csv", content);
    crate::load(&DataConfig { source: DataSpec::Csv("t.csv".into()), ..DataConfig::default() }, &dir, Task::Regression)
}

#[test]
fn a_regression_reads_its_label_as_numbers_and_splits_every_row() {
    let mut text = String::from("x,kind,y\n");
    for i in 0..40 {
        text.push_str(&format!("{i},{},{}\n", if i % 2 == 0 { "a" } else { "" }, f64::from(i) * 0.5 + 0.25));
    }
    text.push_str("41,a,\n");
    let loaded = load_regression(&text).expect("loads");
    assert!(loaded.data.is_regression() && loaded.data.class_names.is_empty());
    assert_eq!(loaded.data.targets[..3], [0.25, 0.75, 1.25]);
    assert!(loaded.notes.iter().any(|n| n.contains("1 row without a label")), "{:?}", loaded.notes);
    let cfg = DataConfig { source: DataSpec::Csv("t.csv".into()), test_fraction: 0.2, ..DataConfig::default() };
    let p = crate::prepare(&cfg, loaded, 3).expect("prepares");
    let parts = [&p.split.train, &p.split.valid, p.split.test.as_ref().expect("a test part")];
    assert_eq!(parts.map(|d| d.n_rows()), [28, 4, 8]);
    let mut all: Vec<f32> = parts.iter().flat_map(|d| d.targets.clone()).collect();
    all.sort_by(f32::total_cmp);
    let want: Vec<f32> = (0..40).map(|i| i as f32 * 0.5 + 0.25).collect();
    assert_eq!(all, want, "every labelled row in exactly one part, its target unchanged");
    assert!(p.split.train.check().is_ok());
}

#[test]
fn a_text_label_is_refused_by_a_regression_and_a_continuous_one_names_it() {
    let e = load_regression("x,y\n1,2.5\n2,high\n").expect_err("refused").to_string();
    assert!(e.contains("line 3, column \"y\": \"high\" is not a number"), "{e}");
    let e = load_csv_with("x,y\n1,2.5\n2,3.5\n3,1.5\n", |_| {}).expect_err("refused").to_string();
    assert!(e.contains("use --task regression"), "{e}");
}

#[test]
fn builtins_load_for_the_task_their_label_allows() {
    let c =
        |name: &str| DataConfig { source: format!("builtin:{name}").parse().expect("spec"), ..DataConfig::default() };
    let d = crate::load(&c("diabetes"), Path::new("."), Task::Regression).expect("diabetes").data;
    assert_eq!((d.n_rows(), d.n_features()), (442, 10));
    assert!(d.is_regression());
    let e = crate::load(&c("diabetes"), Path::new("."), Task::Classification).expect_err("a number").to_string();
    assert!(e.contains("use --task regression"), "{e}");
    let wine = crate::load(&c("winequality-red"), Path::new("."), Task::Regression).expect("quality").data;
    assert!(wine.is_regression() && wine.targets.iter().all(|&q| (3.0..=8.0).contains(&q)));
    let e = crate::load(&c("iris"), Path::new("."), Task::Regression).expect_err("classes").to_string();
    assert!(e.contains("its label is classes (setosa"), "{e}");
}

fn csv_err(content: &str, label: Option<&str>, drop: &[&str]) -> String {
    let e = load_csv_text("wine.csv", content, label, drop).expect_err("should fail").to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    assert!(e.contains("wine.csv"), "names the file: {e}");
    e
}

// ---------------------------------------------------------------- CSV

#[test]
fn csv_string_labels_default_to_last_column() {
    let d = load_csv_text("f.csv", "a,b,species\n1,2,virginica\n3,4,setosa\n5,6.5,versicolor\n7,8,setosa\n", None, &[])
        .expect("should succeed");
    assert_eq!(d.sample_shape, [2]);
    assert_eq!(d.feature_names, ["a", "b"]);
    assert_eq!(d.features, [1.0, 2.0, 3.0, 4.0, 5.0, 6.5, 7.0, 8.0]);
    assert_eq!(d.class_names, ["setosa", "versicolor", "virginica"]);
    assert_eq!(d.labels, [2, 0, 1, 0]);
}

#[test]
fn csv_numeric_labels_sort_numerically_and_label_can_be_named() {
    let d = load_csv_text("f.csv", "x,y,z\n1,10,2\n2,9,3\n3,10,4\n4,1,5\n", Some("y"), &[]).expect("should succeed");
    assert_eq!(d.feature_names, ["x", "z"]);
    assert_eq!(d.class_names, ["1", "9", "10"]);
    assert_eq!(d.labels, [2, 1, 2, 0]);
    assert_eq!(d.features, [1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0]);
}

#[test]
fn csv_drop_by_name_by_position_and_empty_name() {
    let text = ",id,a,b,label\n0,x1,1,2,p\n1,x2,3,4,q\n2,x3,5,6,p\n";
    for unnamed in ["#0", ""] {
        let d = load_csv_text("f.csv", text, None, &[unnamed, "id"]).expect("should succeed");
        assert_eq!(d.feature_names, ["a", "b"]);
        assert_eq!(d.features, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(d.labels, [0, 1, 0]);
    }
    // Label chosen by position; an unnamed feature column is named by its position.
    let d = load_csv_text("f.csv", ",a,label\n0,1,p\n0,2,q\n1,3,p\n", Some("#2"), &[]).expect("should succeed");
    assert_eq!(d.feature_names, ["#0", "a"]);
    // An unnamed (or `rownames`) column of distinct integers is an index: left out, said so.
    let l = load_csv_with(",a,label\n0,1,p\n1,2,q\n2,4,p\n", |_| {}).expect("loads");
    assert_eq!(l.data.feature_names, ["a"]);
    assert!(l.notes.iter().any(|n| n.contains("column \"#0\" left out: ID-like")), "{:?}", l.notes);
    let l = load_csv_with(",a,label\n0,1,p\n1,2,q\n2,4,p\n", |c| c.auto_drop = false).expect("loads");
    assert_eq!(l.data.feature_names, ["#0", "a"], "runs made before auto_drop keep it");
}

#[test]
fn csv_semicolons_tabs_and_spaces() {
    let d = load_csv_text("f.csv", "\"a\"; b ;q\n1; 2 ;3\n4;5;6\n", None, &[]).expect("should succeed");
    assert_eq!(d.feature_names, ["a", "b"]);
    assert_eq!(d.features, [1.0, 2.0, 4.0, 5.0]);
    assert_eq!(d.class_names, ["3", "6"]);
    let d = load_csv_text("f.tsv", "a\tb\n1\tx\n2\ty\n", None, &[]).expect("should succeed");
    assert_eq!(d.features, [1.0, 2.0]);
}

#[test]
fn csv_unknown_label_column_lists_columns() {
    let e = csv_err(",a,b,c\n0,1,2,3\n", Some("qualty"), &[]);
    assert!(e.contains(r#"unknown label column "qualty" (columns: #0, a, b, c)"#), "{e}");
}

#[test]
fn csv_unknown_drop_column_lists_columns() {
    let e = csv_err("a,b,c\n1,2,3\n", None, &["d"]);
    assert!(e.contains(r#"unknown drop column "d" (columns: a, b, c)"#), "{e}");
}

#[test]
fn csv_non_numeric_cell_names_line_column_value_and_hint() {
    // A text cell makes a column categorical, unless [data.columns] declares it numeric.
    let numeric = |c: &mut DataConfig| {
        c.columns.insert("alcohol".into(), ColumnType::Numeric);
        c.columns.insert("fixed acidity".into(), ColumnType::Numeric);
    };
    let e =
        load_csv_with("fixed acidity,alcohol,q\n1,2,a\n3,4,b\n5,abc,a\n", numeric).expect_err("declared").to_string();
    assert!(!e.contains('\n'), "{e}");
    assert!(
        e.ends_with(
            "t.csv: line 4, column \"alcohol\": \"abc\" is not a number (the column is declared numeric in [data.columns]) (use --drop alcohol to ignore the column)"
        ),
        "{e}"
    );
    let e = load_csv_with("fixed acidity,alcohol,q\nx,2,a\n3,4,b\n", numeric).expect_err("declared").to_string();
    assert!(e.contains(r#"line 2, column "fixed acidity": "x" is not a number"#), "{e}");
    assert!(e.contains(r#"--drop "fixed acidity""#), "{e}");
    let l = load_csv_with("fixed acidity,alcohol,q\n1,2,a\n3,4,b\n5,abc,a\n", |c| c.auto_drop = false)
        .expect("categorical");
    let t = l.table.expect("a table to fit");
    assert!(matches!(&t.columns[1].kind, RawKind::Categorical { dictionary, .. } if dictionary == &["2", "4", "abc"]));
    let e = csv_err("a,b,q\n1,inf,a\n", None, &[]);
    assert!(e.contains(r#""inf" is not a finite number"#), "{e}");
    // Finite, but not an f32: said as such (issue 37), not "not finite".
    let e = csv_err("a,b,q\n1,1e300,a\n", None, &[]);
    assert!(e.contains(r#"line 2, column "b": "1e300" is beyond the range of f32 (about ±3.4e38)"#), "{e}");
}

#[test]
fn csv_missing_cells_and_unlabeled_rows() {
    // Every missing spelling; a row without a label is left out and counted.
    let l = load_csv_with("a,b,q\n1,2,x\n3,,y\n4,NA,x\n5,n/a,y\n6,?,x\n7,8,\n9,10,NaN\n", |_| {}).expect("loads");
    let t = l.table.expect("missing cells need fitting");
    assert_eq!(t.columns[1].missing, 4);
    assert_eq!(l.data.labels.len(), 5);
    assert!(l.notes.iter().any(|n| n.contains("2 rows without a label")), "{:?}", l.notes);
    // Spellings are configurable; an unlisted one is text.
    let l = load_csv_with("a,b,q\n1,2,x\n3,-,y\n4,5,x\n", |c| c.na_values = vec!["-".into()]).expect("loads");
    assert_eq!(l.table.expect("table").columns[1].missing, 1);
    let l = load_csv_with("a,b,q\n1,2,x\n3,-,y\n4,5,x\n", |c| c.auto_drop = false).expect("loads");
    assert!(matches!(l.table.expect("table").columns[1].kind, RawKind::Categorical { .. }));
    // Only unlabeled rows: nothing to learn.
    let e = load_csv_with("a,q\n1,\n2,NA\n", |_| {}).expect_err("no labels").to_string();
    assert!(e.contains("no data rows with a label"), "{e}");
}

#[test]
fn csv_empty_file_header_only_and_ragged_rows() {
    let e = csv_err("", None, &[]);
    assert!(e.contains("the file is empty (a header row is required)"), "{e}");
    let e = csv_err("\n  \n", None, &[]);
    assert!(e.contains("the file is empty"), "{e}");
    let e = csv_err("a,b,c\n", None, &[]);
    assert!(e.contains("no data rows after the header"), "{e}");
    let e = csv_err("a,b,c\n1,2,3\n4,5,6\n7,8\n", None, &[]);
    assert!(e.contains("line 4 has 2 fields but the header has 3"), "{e}");
    let e = csv_err("a,b,c\n1,2,3,4\n", None, &[]);
    assert!(e.contains("line 2 has 4 fields but the header has 3"), "{e}");
}

#[test]
fn csv_other_errors() {
    let e = csv_err("a,b\n1,x\n2,x\n", None, &[]);
    assert!(e.contains("at least 2 are needed"), "{e}");
    let e = csv_err("a,b\n1,x\n2,y\n", None, &["a"]);
    assert!(e.contains("no feature columns left"), "{e}");
    let e = csv_err("a,b\n1,x\n2,y\n", None, &["b"]);
    assert!(e.contains("is the label; it cannot be dropped"), "{e}");
    let e = csv_err("a,a,b\n1,2,x\n2,3,y\n", Some("a"), &[]);
    assert!(e.contains("ambiguous"), "{e}");
    let dir = temp_dir("missing");
    let e = load(&cfg("nope.csv"), &dir).expect_err("should fail").to_string();
    assert!(e.contains("nope.csv") && e.contains(dir.to_str().expect("should succeed")), "{e}");
}

#[test]
fn csv_relative_paths_resolve_against_base_dir() {
    let dir = temp_dir("rel");
    std::fs::create_dir_all(dir.join("sub")).expect("should succeed");
    write(&dir.join("sub"), "d.csv", "a,y\n1,p\n2,q\n");
    let d = load(&cfg("sub/d.csv"), &dir).expect("should succeed");
    assert_eq!(d.n_rows(), 2);
    let abs = dir.join("sub/d.csv");
    let d = load(&cfg(abs.to_str().expect("should succeed")), Path::new("/elsewhere")).expect("should succeed");
    assert_eq!(d.n_rows(), 2);
}

#[test]
fn csv_large_file_loads() {
    let mut text = String::from("a,b,c,d,e,f,g,h,label\n");
    for i in 0..30_000 {
        let v = i as f32 * 0.5;
        text.push_str(&format!("{v},{v},{v},{v},{v},{v},{v},{v},c{}\n", i % 7));
    }
    let d = load_csv_text("big.csv", &text, None, &[]).expect("should succeed");
    assert_eq!(d.n_rows(), 30_000);
    assert_eq!(d.n_features(), 8);
    assert_eq!(d.n_classes(), 7);
}

#[test]
fn shared_wine_quality_csv() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/wine-quality.csv");
    if !Path::new(path).exists() {
        eprintln!("skipped: {path} is absent");
        return;
    }
    let c = DataConfig {
        source: DataSpec::Csv(path.into()),
        label: Some("quality_label".into()),
        drop: vec!["#0".into(), "quality".into()],
        ..DataConfig::default()
    };
    let d = load(&c, Path::new(".")).expect("should succeed");
    assert_eq!(d.n_rows(), 4898);
    assert_eq!(d.sample_shape, [11]);
    assert_eq!(d.class_names, ["high", "low", "medium"]);
    assert_eq!(d.feature_names[0], "fixed acidity");
    // The empty-string name works too.
    let c = DataConfig { drop: vec![String::new(), "quality".into()], ..c };
    assert_eq!(load(&c, Path::new(".")).expect("should succeed").n_features(), 11);
}

// ---------------------------------------------------------------- NPY

/// An NPY v1.0 file: header dict padded to a multiple of 64 bytes, then `data`.
fn npy_bytes(descr: &str, shape: &[usize], fortran: bool, data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let order = if fortran { "True" } else { "False" };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

fn le_bytes<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    v.iter().flat_map(|&x| f(x)).collect()
}

/// Writes `x.npy` and `y.npy` into a fresh dir and loads `x.npy:y.npy` from it.
fn load_npy_pair(x: Vec<u8>, y: Vec<u8>) -> Result<Dataset, DataError> {
    let dir = temp_dir("npy");
    write(&dir, "x.npy", x);
    write(&dir, "y.npy", y);
    load(&cfg("x.npy:y.npy"), &dir)
}

#[test]
fn npy_round_trip_f32_and_int_labels() {
    let xs = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let x = npy_bytes("<f4", &[3, 2], false, &le_bytes(&xs, f32::to_le_bytes));
    let y = npy_bytes("<i8", &[3], false, &le_bytes(&[7i64, -1, 7], i64::to_le_bytes));
    let d = load_npy_pair(x, y).expect("should succeed");
    assert_eq!(d.features, xs);
    assert_eq!(d.sample_shape, [2]);
    assert_eq!(d.feature_names, ["f0", "f1"]);
    assert_eq!(d.class_names, ["-1", "7"]);
    assert_eq!(d.labels, [1, 0, 1]);
}

#[test]
fn npy_rank3_fortran_f64_with_float_and_string_labels() {
    // Logical array a[i][j][k] = 100 i + 10 j + k, shape [2, 2, 3], stored column-major.
    let shape = [2, 2, 3];
    let mut stored = Vec::new();
    for k in 0..3 {
        for j in 0..2 {
            for i in 0..2 {
                stored.push((100 * i + 10 * j + k) as f64);
            }
        }
    }
    let x = npy_bytes("<f8", &shape, true, &le_bytes(&stored, f64::to_le_bytes));
    let y = npy_bytes("<f4", &[2, 1], false, &le_bytes(&[1.0f32, 0.0], f32::to_le_bytes));
    let d = load_npy_pair(x.clone(), y).expect("should succeed");
    assert_eq!(d.sample_shape, [2, 3]);
    assert_eq!(d.features, [0., 1., 2., 10., 11., 12., 100., 101., 102., 110., 111., 112.]);
    assert_eq!(d.labels, [1, 0]);
    assert_eq!(d.class_names, ["0", "1"]);

    // Unicode string labels, '<U3': 3 code points of 4 bytes each.
    let mut ybytes = Vec::new();
    for s in ["cat", "ox"] {
        let mut cps: Vec<u32> = s.chars().map(|c| c as u32).collect();
        cps.resize(3, 0);
        ybytes.extend(le_bytes(&cps, u32::to_le_bytes));
    }
    let d = load_npy_pair(x.clone(), npy_bytes("<U3", &[2], false, &ybytes)).expect("should succeed");
    assert_eq!(d.class_names, ["cat", "ox"]);
    assert_eq!(d.labels, [0, 1]);

    // Big-endian integer features, unsigned byte labels.
    let xb = npy_bytes(">i2", &[2, 2], false, &le_bytes(&[1i16, -2, 300, 4], i16::to_be_bytes));
    let d = load_npy_pair(xb, npy_bytes("|u1", &[2], false, &[3, 9])).expect("should succeed");
    assert_eq!(d.features, [1.0, -2.0, 300.0, 4.0]);
    assert_eq!(d.class_names, ["3", "9"]);
}

fn npy_err(x: Vec<u8>, y: Vec<u8>) -> String {
    let e = load_npy_pair(x, y).expect_err("should fail").to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    e
}

#[test]
fn npy_errors() {
    let x32 = |shape: &[usize]| {
        let n: usize = shape.iter().product();
        npy_bytes("<f4", shape, false, &le_bytes(&vec![0.5f32; n], f32::to_le_bytes))
    };
    let y64 = |v: &[i64]| npy_bytes("<i8", &[v.len()], false, &le_bytes(v, i64::to_le_bytes));

    let e = npy_err(x32(&[3, 2]), y64(&[0, 1]));
    assert!(e.contains("y.npy: 2 labels but") && e.contains("x.npy has 3 rows"), "{e}");
    let e = npy_err(x32(&[3]), y64(&[0, 1, 0]));
    assert!(e.contains("x.npy: features have shape [3]"), "{e}");
    let e = npy_err(x32(&[2, 2]), npy_bytes("<f8", &[2], false, &le_bytes(&[0.5f64, 1.0], f64::to_le_bytes)));
    assert!(e.contains("y.npy: label 0.5 at row 0 is not a whole number"), "{e}");
    let e = npy_err(x32(&[2, 2]), npy_bytes("<i8", &[2, 2], false, &[0; 32]));
    assert!(e.contains("y.npy: labels have shape [2, 2]"), "{e}");
    let mut truncated = x32(&[4, 2]);
    truncated.truncate(truncated.len() - 8);
    let e = npy_err(truncated, y64(&[0, 1, 0, 1]));
    assert!(e.contains("x.npy: truncated"), "{e}");
    let e = npy_err(b"not numpy at all".to_vec(), y64(&[0]));
    assert!(e.contains("x.npy: not a valid .npy file"), "{e}");
    let e = npy_err(npy_bytes("<c8", &[1, 1], false, &[0; 8]), y64(&[0]));
    assert!(e.contains("x.npy: dtype '<c8' is not supported"), "{e}");
    let nan = npy_bytes("<f4", &[2, 1], false, &le_bytes(&[1.0f32, f32::NAN], f32::to_le_bytes));
    let e = npy_err(nan, y64(&[0, 1]));
    assert!(e.contains("x.npy: row 1: feature 0 is not a finite number"), "{e}");
    let dir = temp_dir("npy-missing");
    let e = load(&cfg("x.npy:y.npy"), &dir).expect_err("should fail").to_string();
    assert!(e.contains("x.npy"), "{e}");
}

// ---------------------------------------------------------------- built-ins

#[cfg(feature = "builtin")]
#[test]
fn builtins_load_with_expected_shapes() {
    let cases: [(&str, usize, &[usize], usize); 4] = [
        ("iris", 150, &[4], 3),
        ("winequality-red", 1599, &[11], 6),
        ("digits", 1797, &[8, 8], 10),
        ("breast-cancer", 569, &[30], 2),
    ];
    // And the one regression, tested below.
    assert_eq!(builtin_names()[..4], cases.map(|c| c.0));
    assert_eq!(builtin_names()[4..], ["diabetes"]);
    for (name, rows, shape, classes) in cases {
        let d = load(&cfg(&format!("builtin:{name}")), Path::new(".")).expect("should succeed");
        assert_eq!(d.n_rows(), rows, "{name}");
        assert_eq!(d.sample_shape, shape, "{name}");
        assert_eq!(d.n_classes(), classes, "{name}");
        assert_eq!(d.feature_names.len(), d.n_features(), "{name}");
        for c in 0..classes as u32 {
            assert!(d.labels.contains(&c), "{name}: class {c} is empty");
        }
    }
    let wine = load(&cfg("builtin:winequality-red"), Path::new(".")).expect("should succeed");
    assert_eq!(wine.class_names, ["3", "4", "5", "6", "7", "8"]);
    assert_eq!(wine.feature_names[10], "alcohol");
    let iris = load(&cfg("builtin:iris"), Path::new(".")).expect("should succeed");
    assert_eq!(iris.class_names, ["setosa", "versicolor", "virginica"]);
    let digits = load(&cfg("builtin:digits"), Path::new(".")).expect("should succeed");
    assert_eq!(digits.feature_names[63], "px63");
    assert!(digits.features.iter().all(|&v| (0.0..=16.0).contains(&v)));
    let cancer = load(&cfg("builtin:Breast_Cancer"), Path::new(".")).expect("should succeed");
    assert_eq!(cancer.class_names, ["malignant", "benign"]);
    // sklearn's counts: 212 malignant, 357 benign.
    assert_eq!(cancer.labels.iter().filter(|&&l| l == 0).count(), 212);
}

#[test]
fn unknown_builtin_lists_known_names() {
    let e = load(&cfg("builtin:mnist"), Path::new(".")).expect_err("should fail").to_string();
    assert!(e.starts_with("builtin:mnist: unknown built-in data set (known: "), "{e}");
    #[cfg(feature = "builtin")]
    assert!(e.contains("iris, winequality-red, digits, breast-cancer"), "{e}");
}

#[test]
fn label_and_drop_are_csv_only() {
    let c = DataConfig { label: Some("y".into()), ..cfg("builtin:iris") };
    assert!(load(&c, Path::new(".")).expect_err("should fail").to_string().contains("only be chosen for a CSV file"));
    let c = DataConfig { drop: vec!["a".into()], ..cfg("x.npy:y.npy") };
    assert!(load(&c, Path::new(".")).expect_err("should fail").to_string().contains("only be dropped from a CSV file"));
}

// ---------------------------------------------------------------- config

#[test]
fn config_defaults_serde_and_validation() {
    let d = DataConfig::default();
    assert_eq!(d.source.to_string(), "builtin:iris");
    assert_eq!((d.valid_fraction, d.test_fraction, d.standardize), (0.1, 0.0, true));
    assert!(d.validate().is_ok());
    let c: DataConfig = serde_json::from_str(r##"{"source": "w.csv", "drop": ["#0"]}"##).expect("should succeed");
    assert_eq!(
        c,
        DataConfig { source: DataSpec::Csv("w.csv".into()), drop: vec!["#0".into()], ..DataConfig::default() }
    );
    // The spec is parsed once, when the config is read: a malformed one is a parse error.
    let e = serde_json::from_str::<DataConfig>(r#"{"source": "builtin:"}"#).expect_err("bad spec").to_string();
    assert!(e.contains("missing built-in name"), "{e}");
    assert!(serde_json::from_str::<DataConfig>(r#"{"sauce": "w.csv"}"#).is_err());

    let bad = |f: fn(&mut DataConfig), field: &str| {
        let mut c = DataConfig::default();
        f(&mut c);
        let e = c.validate().expect_err("should fail");
        assert_eq!(e.field, field, "{e}");
    };
    bad(|c| c.valid_fraction = 0.0, "data.valid_fraction");
    bad(|c| c.valid_fraction = 1.0, "data.valid_fraction");
    bad(|c| c.valid_fraction = f64::NAN, "data.valid_fraction");
    bad(|c| c.test_fraction = -0.1, "data.test_fraction");
    bad(|c| c.test_fraction = 1.0, "data.test_fraction");
    bad(|c| (c.valid_fraction, c.test_fraction) = (0.5, 0.5), "data.test_fraction");
}

// ---------------------------------------------------------------- prepare

/// 100 rows: classes of 50, 30 and 20; feature 0 = row index, feature 1 constant.
fn toy() -> Dataset {
    let labels: Vec<u32> = (0..100)
        .map(|i| {
            if i < 50 {
                0
            } else if i < 80 {
                1
            } else {
                2
            }
        })
        .collect();
    Dataset {
        features: (0..100).flat_map(|i| [i as f32, 3.0]).collect(),
        sample_shape: vec![2],
        labels,
        targets: Vec::new(),
        class_names: vec!["a".into(), "b".into(), "c".into()],
        feature_names: vec!["i".into(), "k".into()],
    }
}

fn class_counts(d: &Dataset) -> Vec<usize> {
    (0..d.n_classes() as u32).map(|c| d.labels.iter().filter(|&&l| l == c).count()).collect()
}

fn split_cfg(valid: f64, test: f64, standardize: bool) -> DataConfig {
    DataConfig { valid_fraction: valid, test_fraction: test, standardize, ..DataConfig::default() }
}

#[test]
fn split_sizes_are_stratified_and_disjoint() {
    let p = prepare(&split_cfg(0.2, 0.1, false), toy(), 7).expect("should succeed");
    let s = &p.split;
    assert!(p.standardizer.is_none());
    let test = s.test.as_ref().expect("should succeed");
    assert_eq!(class_counts(&s.valid), [10, 6, 4]);
    assert_eq!(class_counts(test), [5, 3, 2]);
    assert_eq!(class_counts(&s.train), [35, 21, 14]);
    let mut ids: Vec<f32> =
        [&s.train, &s.valid, test].iter().flat_map(|d| d.features.iter().step_by(2).copied()).collect();
    ids.sort_by(f32::total_cmp);
    assert_eq!(ids, (0..100).map(|i| i as f32).collect::<Vec<_>>());
    // Rows keep their labels.
    for d in [&s.train, &s.valid, test] {
        for (row, &l) in d.features.chunks(2).zip(&d.labels) {
            assert_eq!(l, toy().labels[row[0] as usize]);
        }
    }
    // Classes are mixed, not grouped.
    assert_ne!(s.train.labels, {
        let mut l = s.train.labels.clone();
        l.sort();
        l
    });

    let p = prepare(&split_cfg(0.1, 0.0, false), toy(), 7).expect("should succeed");
    assert!(p.split.test.is_none());
    assert_eq!(p.split.valid.n_rows(), 10);
    assert_eq!(p.split.train.n_rows(), 90);
}

#[test]
fn split_is_deterministic_for_a_seed() {
    let c = split_cfg(0.2, 0.1, true);
    let a = prepare(&c, toy(), 42).expect("should succeed");
    let b = prepare(&c, toy(), 42).expect("should succeed");
    assert_eq!(a, b);
    let other = prepare(&c, toy(), 43).expect("should succeed");
    assert_ne!(a.split.valid, other.split.valid);
}

#[test]
fn small_data_keeps_every_part_non_empty_or_fails_clearly() {
    // 6 rows of 3 classes: 10 % holds out one row, which leaves two classes unscored: refused.
    let d = Dataset {
        features: (0..6).map(|i| i as f32).collect(),
        sample_shape: vec![1],
        labels: vec![0, 0, 1, 1, 2, 2],
        targets: Vec::new(),
        class_names: vec!["a".into(), "b".into(), "c".into()],
        feature_names: vec!["x".into()],
    };
    let e = prepare(&split_cfg(0.1, 0.1, true), d.clone(), 1).expect_err("classes without validation rows");
    assert!(e.to_string().contains("no validation row"), "{e}");
    // 36 rows of 3 classes: every class gets a training, a validation and a test row.
    let d36 = Dataset {
        features: (0..36).map(|i| i as f32).collect(),
        sample_shape: vec![1],
        labels: (0..36).map(|i| i % 3).collect(),
        ..d.clone()
    };
    let p = prepare(&split_cfg(0.1, 0.1, true), d36, 1).expect("should succeed");
    assert_eq!(p.split.valid.n_rows(), 4);
    assert_eq!(p.split.test.as_ref().expect("should succeed").n_rows(), 4);
    assert_eq!(p.split.train.n_rows(), 28);
    assert!(class_counts(&p.split.valid).iter().all(|&c| c > 0));
    let two = d.select(&[0, 2]);
    let e = prepare(&split_cfg(0.1, 0.1, true), two, 1).expect_err("should fail").to_string();
    assert!(e.starts_with("builtin:iris: 2 rows are too few"), "{e}");
}

#[test]
fn standardizer_is_fitted_on_train_only() {
    let p = prepare(&split_cfg(0.2, 0.1, true), toy(), 3).expect("should succeed");
    let s = p.standardizer.as_ref().expect("should succeed");
    let train = &p.split.train;
    let n = train.n_rows() as f64;
    let mean: f64 = train.features.iter().step_by(2).map(|&v| f64::from(v)).sum::<f64>() / n;
    let var: f64 = train.features.iter().step_by(2).map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
    assert!(mean.abs() < 1e-5, "{mean}");
    assert!((var.sqrt() - 1.0).abs() < 1e-4, "{var}");
    // The constant feature gets std 1 and becomes 0 everywhere.
    assert_eq!(s.std[1], 1.0);
    assert!(train.features.iter().skip(1).step_by(2).all(|&v| v == 0.0));
    // The fitted mean is the raw train mean, not the mean of all rows (49.5).
    let raw = prepare(&split_cfg(0.2, 0.1, false), toy(), 3).expect("should succeed");
    let raw_mean: f64 = raw.split.train.features.iter().step_by(2).map(|&v| f64::from(v)).sum::<f64>() / n;
    assert!((f64::from(s.mean[0]) - raw_mean).abs() < 1e-4);
    assert_ne!(s.mean[0], 49.5);
    // Valid and test parts went through the same transform.
    let mut v = raw.split.valid.clone();
    s.apply(&mut v);
    assert_eq!(v, p.split.valid);
    let json = serde_json::to_string(s).expect("should succeed");
    assert_eq!(&serde_json::from_str::<Standardizer>(&json).expect("should succeed"), s);
}

#[test]
fn prepare_rejects_bad_config_and_data() {
    let e = prepare(&split_cfg(0.0, 0.0, true), toy(), 1).expect_err("should fail");
    assert!(matches!(e, DataError::Config(_)), "{e}");
    let mut d = toy();
    d.labels.pop();
    let e = prepare(&split_cfg(0.1, 0.0, true), d, 1).expect_err("should fail").to_string();
    assert!(e.starts_with("builtin:iris: "), "{e}");
}

#[test]
fn adding_a_test_part_keeps_the_validation_rows() {
    // `mlpnas finalize` relies on this: re-splitting a run's data with a test part takes the test
    // rows out of the training rows and leaves the validation rows the search scored on alone.
    let ids = |d: &Dataset| {
        let mut v: Vec<f32> = d.features.iter().step_by(2).copied().collect();
        v.sort_by(f32::total_cmp);
        v
    };
    for seed in [1, 7, 42] {
        let without = prepare(&split_cfg(0.2, 0.0, false), toy(), seed).expect("split");
        let with = prepare(&split_cfg(0.2, 0.1, false), toy(), seed).expect("split");
        assert_eq!(ids(&without.split.valid), ids(&with.split.valid), "seed {seed}");
        let train: std::collections::HashSet<u32> = ids(&without.split.train).iter().map(|v| v.to_bits()).collect();
        let test = with.split.test.as_ref().expect("test part");
        assert_eq!(test.n_rows(), 10);
        assert!(ids(test).iter().all(|v| train.contains(&v.to_bits())), "seed {seed}");
    }
}

#[test]
fn features_for_prediction_are_matched_by_name() {
    let dir = temp_dir("features");
    write(&dir, "new.csv", "id,b,a,label\n1,2.5,1.5,x\n2,4,3,y\n");
    let names = vec!["a".to_string(), "b".to_string()];
    let f = load_features(&spec("new.csv"), &dir, &names, Some("label")).expect("features");
    assert_eq!(f.rows, 2);
    assert_eq!(f.values, [1.5, 2.5, 3.0, 4.0]);
    assert_eq!(f.labels, Some(vec!["x".to_string(), "y".to_string()]));
    let f = load_features(&spec("new.csv"), &dir, &names, Some("absent")).expect("features");
    assert_eq!(f.labels, None);
    let e = load_features(&spec("new.csv"), &dir, &["a".into(), "zz".into()], None).expect_err("missing").to_string();
    assert!(e.contains("new.csv") && e.contains("\"zz\"") && !e.contains('\n'), "{e}");
    write(&dir, "bad.csv", "a,b\n1,x\n");
    let e = load_features(&spec("bad.csv"), &dir, &names, None).expect_err("not numeric").to_string();
    assert!(e.contains("bad.csv") && e.contains("line 2") && e.contains("\"b\""), "{e}");
    // NPY arrays are read by position (their width must be the model's): see the CLI tests.
    let e = load_features(&spec("x.npy:y.npy"), &dir, &names, None).expect_err("missing file").to_string();
    assert!(e.contains("x.npy"), "{e}");
}

/// A data spec from its text.
fn spec(text: &str) -> DataSpec {
    text.parse().expect("a data spec")
}

// ---------------------------------------------------------------- pinned randomness and edge cases

/// The split of seed 0 is pinned: its first training and validation rows. The seed streams are
/// ChaCha12 (`mlpnas_core::seed`), named explicitly so that no dependency upgrade changes them;
/// if this fails, every split of every run changed, and runs made before can no longer resume.
#[test]
fn pinned_seed_0_draws() {
    let p = prepare(&split_cfg(0.2, 0.0, false), toy(), 0).expect("should succeed");
    let first = |d: &Dataset| d.features.iter().step_by(2).take(8).map(|&v| v as u32).collect::<Vec<_>>();
    assert_eq!(first(&p.split.train), PINNED_TRAIN, "the first training rows of seed 0 changed");
    assert_eq!(first(&p.split.valid), PINNED_VALID, "the first validation rows of seed 0 changed");
}

const PINNED_TRAIN: [u32; 8] = [48, 4, 66, 47, 42, 21, 49, 95];
const PINNED_VALID: [u32; 8] = [97, 37, 26, 73, 3, 7, 68, 55];

#[test]
fn a_binary_file_is_not_a_text_csv_file() {
    let dir = temp_dir("binary");
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) % 251) as u8));
    write(&dir, "image.csv", &bytes);
    let c = DataConfig { source: DataSpec::Csv(dir.join("image.csv")), ..DataConfig::default() };
    let e = load(&c, Path::new(".")).expect_err("binary").to_string();
    assert!(e.contains("image.csv") && e.contains("not a text CSV file"), "{e}");
    assert!(e.len() < 200, "one short line, no garbage column names: {e}");
    // A NumPy array given as CSV says how to give it.
    write(&dir, "x.csv", b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n\0\0\0\0");
    let c = DataConfig { source: DataSpec::Csv(dir.join("x.csv")), ..DataConfig::default() };
    let e = load(&c, Path::new(".")).expect_err("npy").to_string();
    assert!(e.contains("X.npy:Y.npy"), "{e}");
    // UTF-8 text with accents is text.
    write(&dir, "ok.csv", "größe,label\n1.5,a\n2.5,b\n".as_bytes());
    let c = DataConfig { source: DataSpec::Csv(dir.join("ok.csv")), ..DataConfig::default() };
    assert!(load(&c, Path::new(".")).is_ok());
}

#[test]
fn a_class_left_without_training_or_validation_rows_is_refused() {
    let tiny = Dataset {
        features: vec![0.0, 1.0],
        sample_shape: vec![1],
        labels: vec![0, 1],
        targets: Vec::new(),
        class_names: vec!["yes".into(), "no".into()],
        feature_names: vec!["x".into()],
    };
    let e = prepare(&split_cfg(0.1, 0.0, false), tiny, 0).expect_err("2 rows, 2 classes").to_string();
    assert!(e.contains("class \"") && e.contains("every class needs at least 10 rows"), "{e}");
    // A class of 3 rows among 100 gets no validation row at valid_fraction 0.1.
    let mut d = toy();
    for l in d.labels.iter_mut().skip(97) {
        *l = 2;
    }
    for l in d.labels.iter_mut().take(97).skip(80) {
        *l = 1;
    }
    let e = prepare(&split_cfg(0.1, 0.0, false), d, 0).expect_err("rare class").to_string();
    assert!(e.contains("class \"c\" has 3 rows") && e.contains("no validation row"), "{e}");
    // The usual data sets pass.
    assert!(prepare(&split_cfg(0.1, 0.0, false), toy(), 0).is_ok());
}

#[test]
fn error_lines_are_physical_lines_with_crlf_too() {
    for eol in ["\n", "\r\n"] {
        let mut text = format!("a,b,label{eol}");
        for i in 0..40 {
            let a = if i == 28 { "abc".to_string() } else { i.to_string() };
            text.push_str(&format!("{a},1.5,{}{eol}", i % 2));
        }
        // Row 28 (0-based) stands on physical line 30: one header line before it.
        let dir = temp_dir("crlf");
        write(&dir, "crlf.csv", &text);
        let mut c = DataConfig { source: DataSpec::Csv("crlf.csv".into()), ..DataConfig::default() };
        c.columns.insert("a".into(), ColumnType::Numeric);
        let e = crate::load(&c, &dir, Task::Classification).expect_err("not a number").to_string();
        assert!(e.contains("line 30,"), "{eol:?}: {e}");
        let ragged = text.replacen("abc,1.5,0", "7,1.5", 1);
        let e = load_csv_text("ragged.csv", &ragged, None, &[]).expect_err("ragged").to_string();
        assert!(e.contains("line 30"), "{eol:?}: {e}");
    }
}

#[test]
fn a_continuous_label_is_refused_with_how_to_bin_it() {
    let mut text = String::from("x,y\n");
    for i in 0..600 {
        text.push_str(&format!("{i},{}\n", 2.0 * f64::from(i) + 0.37 * f64::from(i % 7)));
    }
    let e = load_csv_text("regression.csv", &text, None, &[]).expect_err("continuous").to_string();
    assert!(e.contains("regression.csv") && e.contains("label column \"y\"") && e.contains("bin it"), "{e}");
}

// ---------------------------------------------------------------- tables

/// A small table: a categorical column with a rare level, a numeric one with missing cells, an
/// ID column, a yes/no column.
fn table_text(rows: usize) -> String {
    let mut t = String::from("rownames,island,mass,smoker,species\n");
    for i in 0..rows {
        let island = ["Biscoe", "Dream", "Torgersen"][i % 3];
        let island = if i == 7 { "Atlantis" } else { island };
        let mass = if i % 5 == 0 { "NA".to_string() } else { format!("{}", 3000 + (i * 37) % 900) };
        let smoker = if i % 2 == 0 { "yes" } else { "no" };
        t.push_str(&format!("{},{island},{mass},{smoker},{}\n", i + 1, ["a", "b"][(i / 2) % 2]));
    }
    t
}

#[test]
fn a_table_is_typed_encoded_on_training_rows_and_standardized() {
    let l = load_csv_with(&table_text(60), |_| {}).expect("loads");
    assert!(l.notes.iter().any(|n| n.contains("\"rownames\" left out: ID-like")), "{:?}", l.notes);
    let kinds: Vec<(&str, &str, usize)> =
        l.columns.iter().map(|c| (c.name.as_str(), c.kind.as_str(), c.missing)).collect();
    assert_eq!(kinds[..3], [("island", "categorical", 0), ("mass", "numeric", 12), ("smoker", "categorical", 0)]);
    let mut cfg = DataConfig { source: DataSpec::Csv("t.csv".into()), ..DataConfig::default() };
    cfg.standardize = false;
    let p = crate::prepare(&cfg, l, 5).expect("prepares");
    let pre = p.preprocessor.as_ref().expect("fitted");
    // Atlantis (one row) is rarer than min_level_count: it is (other); mass gets an indicator.
    assert_eq!(
        pre.feature_names(),
        [
            "island=Biscoe",
            "island=Dream",
            "island=Torgersen",
            "island=(other)",
            "mass",
            "mass (missing)",
            "smoker=no",
            "smoker=yes",
            "smoker=(other)"
        ]
    );
    assert_eq!(p.split.train.n_features(), 9);
    // Each row: exactly one hot island and smoker slot; a missing mass is the training median.
    let Column::Numeric { median, .. } = pre.columns[1] else { panic!("mass is numeric") };
    for row in p.split.train.features.chunks_exact(9).chain(p.split.valid.features.chunks_exact(9)) {
        assert_eq!(row[..4].iter().sum::<f32>(), 1.0);
        assert_eq!(row[6..].iter().sum::<f32>(), 1.0);
        if row[5] == 1.0 {
            assert_eq!(row[4], median);
        }
    }
}

#[test]
fn levels_beyond_max_levels_and_unseen_categories_go_to_other() {
    let mut t = String::from("city,y\n");
    for i in 0..400 {
        t.push_str(&format!("c{},{}\n", i % 100, i % 2));
    }
    let l = load_csv_with(&t, |c| c.max_levels = 10).expect("loads");
    let cfg = DataConfig { source: DataSpec::Csv("t.csv".into()), max_levels: 10, ..DataConfig::default() };
    let p = crate::prepare(&cfg, l, 1).expect("prepares");
    let pre = p.preprocessor.expect("fitted");
    assert_eq!(pre.width(), 11, "10 levels and (other), not 100 inputs");
    let mut out = vec![0f32; 11];
    assert!(pre.transform_row(&[Cell::Text("nowhere")], &mut out), "unseen");
    assert_eq!(out[10], 1.0);
}

#[test]
fn prediction_rows_are_read_by_name_and_encoded_like_training_rows() {
    let text = table_text(60);
    let l = load_csv_with(&text, |_| {}).expect("loads");
    let table = l.table.clone().expect("table");
    let cfg = DataConfig { source: DataSpec::Csv("t.csv".into()), standardize: false, ..DataConfig::default() };
    let p = crate::prepare(&cfg, l, 5).expect("prepares");
    let pre = p.preprocessor.expect("fitted");
    // The whole file through the prediction reader equals the table's own encoding, row by row.
    let dir = temp_dir("predict");
    // Columns in another order, one extra column.
    let mut shuffled = String::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(',').collect();
        shuffled.push_str(&format!("{},{},extra,{},{}\n", f[3], f[2], f[1], f[4]));
    }
    write(&dir, "new.csv", &shuffled);
    let source: PredictSource = "new.csv".parse().expect("spec");
    let f = load_table_rows(&source, &dir, &pre, Some("species")).expect("reads");
    let rows: Vec<usize> = (0..60).collect();
    assert_eq!(f.values, pre.transform_table(&table, &rows));
    assert_eq!(f.labels.expect("labels").len(), 60);
    assert!(f.notes.is_empty() || f.notes[0].contains("never seen"), "{:?}", f.notes);
    // A missing column is named.
    write(&dir, "short.csv", "island,smoker\nDream,yes\n");
    let e = load_table_rows(&"short.csv".parse().expect("spec"), &dir, &pre, None).expect_err("mass").to_string();
    assert!(e.contains("missing column \"mass\""), "{e}");
}

mod properties {
    //! The encoder is a pure function of the training rows, and prediction reads rows exactly as
    //! the search encoded them.

    use proptest::prelude::*;

    use super::*;

    /// A random table as CSV text: a categorical column (some cells missing), a numeric one
    /// (some missing), a label alternating between two classes.
    fn table() -> impl Strategy<Value = String> {
        let row = (prop::option::of(0u8..6), prop::option::of(-50i32..50));
        prop::collection::vec(row, 24..80).prop_map(|rows| {
            let mut t = String::from("c,x,y\n");
            for (i, (c, x)) in rows.iter().enumerate() {
                let c = c.map_or(String::new(), |c| format!("k{c}"));
                let x = x.map_or("NA".to_string(), |x| format!("{}", f64::from(x) / 4.0));
                t.push_str(&format!("{c},{x},{}\n", i % 2));
            }
            t
        })
    }

    fn cfg(standardize: bool) -> DataConfig {
        DataConfig {
            source: DataSpec::Csv("t.csv".into()),
            auto_drop: false,
            min_level_count: 2,
            standardize,
            ..DataConfig::default()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn the_encoder_does_not_depend_on_row_order(text in table(), seed: u64) {
            let lines: Vec<&str> = text.lines().collect();
            let mut shuffled: Vec<&str> = lines[1..].to_vec();
            let mut rng = mlpnas_core::seed::rng(seed);
            rand::seq::SliceRandom::shuffle(&mut shuffled[..], &mut rng);
            let other = format!("{}\n{}\n", lines[0], shuffled.join("\n"));
            let fit = |t: &str| {
                let l = load_csv_with(t, |c| *c = cfg(false)).expect("loads");
                let table = l.table.expect("a table");
                let all: Vec<usize> = (0..table.rows()).collect();
                Preprocessor::fit(&table, &all, 2, 64)
            };
            prop_assert_eq!(fit(&text), fit(&other));
        }

        #[test]
        fn prediction_reproduces_the_searched_inputs_bit_for_bit(text in table(), seed in 0u64..1000) {
            let dir = temp_dir("prop");
            write(&dir, "t.csv", &text);
            let loaded = crate::load(&cfg(true), &dir, Task::Classification).expect("loads");
            let p = crate::prepare(&cfg(true), loaded, seed).expect("prepares");
            let pre = p.preprocessor.expect("fitted");
            let s = p.standardizer.expect("standardized");
            let f = load_table_rows(&"t.csv".parse().expect("spec"), &dir, &pre, None).expect("reads");
            let w = pre.width();
            let mut predicted: Vec<Vec<u32>> = f
                .values
                .chunks_exact(w)
                .map(|r| {
                    let mut r = r.to_vec();
                    s.apply_row(&mut r);
                    r.iter().map(|v| v.to_bits()).collect()
                })
                .collect();
            predicted.sort();
            for row in p.split.train.features.chunks_exact(w).chain(p.split.valid.features.chunks_exact(w)) {
                let bits: Vec<u32> = row.iter().map(|v| v.to_bits()).collect();
                prop_assert!(predicted.binary_search(&bits).is_ok(), "a searched row prediction does not reproduce");
            }
        }
    }
}

/// The values `ADDED_FIELDS` give stored runs are today's defaults, except `auto_drop` (off:
/// what such a run did).
#[test]
fn added_fields_are_the_defaults_but_auto_drop() {
    let defaults = toml::Table::try_from(DataConfig::default()).expect("toml");
    for (key, value) in ADDED_FIELDS {
        let v: toml::Table = toml::from_str(&format!("v = {value}")).expect("TOML value");
        if *key == "auto_drop" {
            assert_eq!(v["v"].as_bool(), Some(false));
        } else {
            assert_eq!(Some(&v["v"]), defaults.get(*key), "{key}");
        }
    }
}
