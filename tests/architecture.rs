//! The architecture invariants of ARCHITECTURE.md, checked on the workspace's manifests through
//! `cargo metadata` (like rust-analyzer's tidy tests): a violated rule fails here, not in review.
//!
//! * `mlpnas-core` depends on no framework, no CLI library, no anyhow and no other crate of the
//!   workspace;
//! * only the link facade (`mlpnas-link`) depends on plugin crates (the benchmark may, as a
//!   dev-dependency: it measures the Burn trainer itself);
//! * a plugin depends on no other plugin and not on the facade;
//! * library crates use neither clap nor anyhow (those are for the edges: CLI, xtask, tests);
//! * the crates above the plugins (`mlpnas-data`, `mlpnas-search`, `mlpnas-final`,
//!   `mlpnas-dashboard`, `mlpnas-postgres`) depend on no
//!   framework, and `mlpnas-final`'s source names no Burn type.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Package name -> (manifest directory relative to the workspace, normal dependencies, dev-dependencies).
type Graph = BTreeMap<String, (String, Vec<String>, Vec<String>)>;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(workspace())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let root = std::fs::canonicalize(workspace()).expect("workspace");
    let mut g = Graph::new();
    for p in meta["packages"].as_array().expect("packages") {
        let name = p["name"].as_str().expect("name").to_string();
        let manifest = PathBuf::from(p["manifest_path"].as_str().expect("manifest"));
        let dir = manifest.parent().expect("dir").strip_prefix(&root).expect("inside").display().to_string();
        let (mut normal, mut dev) = (Vec::new(), Vec::new());
        for d in p["dependencies"].as_array().expect("dependencies") {
            let dep = d["name"].as_str().expect("dep").to_string();
            if d["kind"].as_str() == Some("dev") { dev.push(dep) } else { normal.push(dep) }
        }
        g.insert(name, (dir, normal, dev));
    }
    g
}

fn is_framework(dep: &str) -> bool {
    dep.starts_with("burn") || dep == "tch" || dep == "torch-sys"
}

fn plugins(g: &Graph) -> Vec<&String> {
    g.iter().filter(|(_, (dir, _, _))| dir.starts_with("plugins/")).map(|(n, _)| n).collect()
}

#[test]
fn core_depends_on_no_framework_cli_library_or_workspace_crate() {
    let g = graph();
    let (_, normal, _) = &g["mlpnas-core"];
    for dep in normal {
        assert!(!is_framework(dep) && dep != "clap" && dep != "anyhow", "mlpnas-core depends on {dep}");
        assert!(!g.contains_key(dep), "mlpnas-core depends on the workspace crate {dep}");
    }
}

#[test]
fn only_the_link_facade_names_plugins() {
    let g = graph();
    let plugins = plugins(&g);
    assert!(plugins.iter().any(|p| p.as_str() == "trainer-burn"), "the trainer is a plugin: {plugins:?}");
    for (name, (_, normal, dev)) in &g {
        for p in &plugins {
            if name != "mlpnas-link" {
                assert!(!normal.contains(p), "{name} depends on the plugin {p}; only mlpnas-link may");
            }
            if !["mlpnas-link", "mlpnas-bench"].contains(&name.as_str()) && !plugins.contains(&name) {
                assert!(!dev.contains(p), "{name} names the plugin {p} in its tests; go through mlpnas-link");
            }
        }
    }
    for p in &plugins {
        let (_, normal, _) = &g[p.as_str()];
        assert!(!normal.iter().any(|d| d == "mlpnas-link"), "the plugin {p} depends on the link facade");
    }
}

#[test]
fn libraries_use_no_cli_library_and_no_anyhow() {
    let g = graph();
    for (name, (_, normal, _)) in &g {
        if ["mlpnas-cli", "xtask", "tests", "mlpnas-bench"].contains(&name.as_str()) {
            continue;
        }
        for dep in normal {
            assert!(dep != "clap" && dep != "anyhow", "the library {name} depends on {dep} (edges only)");
        }
    }
}

#[test]
fn crates_above_the_plugins_depend_on_no_framework() {
    let g = graph();
    for name in [
        "mlpnas-data",
        "mlpnas-search",
        "mlpnas-final",
        "mlpnas-dashboard",
        "mlpnas-postgres",
        "mlpnas-cli",
        "mlpnas-link",
        "xtask",
    ] {
        let (_, normal, _) = &g[name];
        for dep in normal {
            // The CLI's build script reads LibTorch's lib dir from torch-sys for its rpath.
            let rpath = name == "mlpnas-cli" && dep == "torch-sys";
            assert!(!is_framework(dep) || rpath, "{name} depends on the framework crate {dep}");
        }
    }
    let src = workspace().join("crates/mlpnas-final/src");
    for entry in std::fs::read_dir(&src).expect("src").flatten() {
        let text = std::fs::read_to_string(entry.path()).expect("source");
        for needle in ["burn::", "trainer_burn", "BurnModel", "BurnTrainer", "mlpnas_backend"] {
            assert!(!text.contains(needle), "{} names {needle}", entry.path().display());
        }
    }
}
