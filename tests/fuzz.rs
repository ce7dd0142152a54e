//! Fuzzing every parser of untrusted input, on stable Rust: proptest feeds each one bytes derived
//! from a small committed corpus of valid inputs (`tests/fuzz/`: bit flips, truncations, spliced
//! garbage) and plain random bytes; the parser must return (`Ok` or a one-line `Err`), never
//! panic or hang. Parsers: the CSV data loader, the NPY loader, the TOML search config, a run's
//! journal (through the one verified reader), benchmark table files, and safetensors buffers of
//! the weights codec.
//!
//! `MLPNAS_FUZZ_CASES` sets the cases per target (default 256: seconds, in every `cargo test`);
//! `MLPNAS_FUZZ_CASES=100000 cargo test -p tests --test fuzz --release` is the long run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use mlpnas_core::{RunStorage, Task};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("MLPNAS_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() }
}

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(name)).expect("corpus file")
}

/// A fresh directory for one case.
fn scratch(target: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz").join(format!(
        "{target}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// A seed input changed the ways real damage and hostile files change it.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Splice(usize, Vec<u8>),
    Random(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..64)).prop_map(|(i, b)| Mutation::Splice(i, b)),
        proptest::collection::vec(any::<u8>(), 0..512).prop_map(Mutation::Random),
    ]
}

fn apply(seed: &[u8], m: &Mutation) -> Vec<u8> {
    let mut v = seed.to_vec();
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match m {
        Mutation::Flip(i, b) if !v.is_empty() => {
            let k = at(*i, v.len());
            v[k] ^= b;
        }
        Mutation::Flip(..) => {}
        Mutation::Truncate(i) => v.truncate(at(*i, v.len() + 1)),
        Mutation::Splice(i, bytes) => {
            let k = at(*i, v.len() + 1);
            v.splice(k..k, bytes.iter().copied());
        }
        Mutation::Random(bytes) => v = bytes.clone(),
    }
    v
}

/// An error must be one line.
fn one_line(e: impl std::fmt::Display) -> Result<(), TestCaseError> {
    let text = e.to_string();
    prop_assert!(!text.contains('\n'), "a multi-line error: {text}");
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn csv_files(m in mutation()) {
        let bytes = apply(&corpus("data.csv"), &m);
        let d = scratch("csv");
        std::fs::write(d.join("data.csv"), &bytes).expect("write");
        let cfg: mlpnas_data::DataConfig = toml::from_str("source = \"data.csv\"").expect("data config");
        for task in [Task::Classification, Task::Regression] {
            if let Err(e) = mlpnas_data::load(&cfg, &d, task) {
                one_line(e)?;
            }
        }
    }

    #[test]
    fn npy_files(m in mutation(), labels in any::<bool>()) {
        let seed = corpus(if labels { "y.npy" } else { "x.npy" });
        let d = scratch("npy");
        std::fs::write(d.join("x.npy"), if labels { corpus("x.npy") } else { apply(&seed, &m) }).expect("x");
        std::fs::write(d.join("y.npy"), if labels { apply(&seed, &m) } else { corpus("y.npy") }).expect("y");
        let cfg: mlpnas_data::DataConfig = toml::from_str("source = \"x.npy:y.npy\"").expect("data config");
        for task in [Task::Classification, Task::Regression] {
            if let Err(e) = mlpnas_data::load(&cfg, &d, task) {
                one_line(e)?;
            }
        }
    }

    #[test]
    fn search_configs(m in mutation()) {
        mlpnas_link::link_all();
        let bytes = apply(&corpus("config.toml"), &m);
        let text = String::from_utf8_lossy(&bytes);
        match mlpnas_search::SearchConfig::from_toml(&text, "fuzz.toml", Path::new("/"), &[]) {
            Ok(cfg) => {
                if let Err(e) = cfg.check() {
                    one_line(e)?;
                }
            }
            Err(e) => one_line(e)?,
        }
    }

    #[test]
    fn journals(m in mutation()) {
        let d = scratch("journal");
        std::fs::write(d.join("journal.jsonl"), apply(&corpus("journal.jsonl"), &m)).expect("write");
        match mlpnas_runs::RunDir::new(&d).read_verified_trials() {
            Ok(log) => {
                for (i, r) in log.records.iter().enumerate() {
                    prop_assert_eq!(r.trial, i, "the verified reader let a gap or a double through");
                }
            }
            Err(e) => one_line(e)?,
        }
    }

    #[test]
    fn table_files(m in mutation(), which in any::<bool>()) {
        let d = scratch("table");
        let (toml_bytes, csv_bytes) = (corpus("table.toml"), corpus("table.csv"));
        let (t, c) = if which { (apply(&toml_bytes, &m), csv_bytes) } else { (toml_bytes, apply(&csv_bytes, &m)) };
        std::fs::write(d.join("table.toml"), t).expect("toml");
        std::fs::write(d.join("table.csv"), c).expect("csv");
        if let Err(e) = mlpnas_data::table::Table::load(&d) {
            one_line(e)?;
        }
    }

    #[test]
    fn safetensors_buffers(m in mutation()) {
        let seed = mlpnas_core::codec::encode_layers(
            &[mlpnas_core::LayerWeights {
                kernel: mlpnas_core::HostTensor { shape: vec![3, 2], data: vec![0.5, -1.0, 2.0, 0.0, 1.5, -0.25] },
                bias: mlpnas_core::HostTensor { shape: vec![2], data: vec![0.1, -0.1] },
            }],
            &[],
        )
        .expect("seed buffer");
        let bytes = apply(&seed, &m);
        match mlpnas_core::codec::decode_layers(&bytes) {
            // Whatever decodes is consistent: shapes and values agree.
            Ok(layers) => {
                for l in layers {
                    prop_assert_eq!(l.kernel.shape.iter().product::<usize>(), l.kernel.data.len());
                }
            }
            Err(e) => one_line(e)?,
        }
    }
}

/// The corpus seeds themselves are valid inputs, so the mutations start from what parsers accept.
#[test]
fn the_corpus_seeds_parse() {
    mlpnas_link::link_all();
    let d = scratch("seeds");
    for f in ["data.csv", "x.npy", "y.npy", "journal.jsonl", "table.toml", "table.csv"] {
        std::fs::write(d.join(f), corpus(f)).expect("write");
    }
    let csv: mlpnas_data::DataConfig = toml::from_str("source = \"data.csv\"\ndrop = [\"#0\"]").expect("cfg");
    mlpnas_data::load(&csv, &d, Task::Classification).expect("the CSV seed loads");
    let npy: mlpnas_data::DataConfig = toml::from_str("source = \"x.npy:y.npy\"").expect("cfg");
    mlpnas_data::load(&npy, &d, Task::Classification).expect("the NPY seeds load");
    let text = String::from_utf8(corpus("config.toml")).expect("utf-8");
    mlpnas_search::SearchConfig::from_toml(&text, "seed", Path::new("/"), &[]).expect("parses").check().expect("valid");
    assert_eq!(mlpnas_runs::RunDir::new(&d).read_verified_trials().expect("journal").records.len(), 2);
    mlpnas_data::table::Table::load(&d).expect("the table seed loads");
}
