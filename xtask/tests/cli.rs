//! `xtask` through its binary: bad arguments are one-line errors naming the problem, with a
//! non-zero exit and nothing started. (This integration test also makes `cargo test --workspace`
//! build `target/debug/xtask` with the test build's dependencies, which CI's smoke stages run.)

use std::process::Command;

/// Runs the xtask binary with `args`; it must fail with one line on stderr, returned.
fn fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).output().expect("run xtask");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("error: ") && !err.contains("panicked"), "{err}");
    err
}

#[test]
fn bad_compare_arguments_are_one_line_errors() {
    let out = std::env::temp_dir().join(format!("xtask-cli-{}", std::process::id()));
    let out = out.to_string_lossy().into_owned();
    let err = fails(&["compare", "no/such/config.toml", "--mlpnas", "/bin/true", "--out", &out]);
    assert!(err.contains("no/such/config.toml"), "{err}");
    let err = fails(&["compare", "--preset", "search-quality", "--set", "search.top=3", "--out", &out]);
    assert!(err.contains("--preset search-quality"), "{err}");
    assert!(!std::path::Path::new(&out).join("compare.json").exists(), "nothing was started");
}
