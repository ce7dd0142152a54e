//! The architecture invariants of ARCHITECTURE.md, checked on the workspace's manifests through
//! `cargo metadata` (like rust-analyzer's tidy tests): a violated rule fails here, not in review.
//!
//! * `mlpnas-core` depends on no framework, no CLI library, no anyhow and no other crate of the
//!   workspace;
//! * only the link facade (`mlpnas-link`) depends on plugin crates (the benchmark may, as a
//!   dev-dependency: it measures the Burn trainer itself);
//! * a plugin depends on no other plugin and not on the facade;
//! * library crates use neither clap nor anyhow (those are for the edges: CLI, xtask, tests);
//! * the crates above the plugins (`mlpnas-data`, `mlpnas-runs`, `mlpnas-search`, `mlpnas-final`,
//!   `mlpnas-dashboard`, `mlpnas-postgres`) depend on no
//!   framework, and `mlpnas-final`'s source names no Burn type;
//! * whole dependency closures (everything built for a crate, through every crate in between):
//!   the dashboard's holds no ML framework and no data-set crate, core's no async runtime, web
//!   framework or database client;
//! * no plugin depends on another plugin, not even in its tests (cross-plugin tests live in the
//!   `tests` crate and reach plugins through `mlpnas-link`);
//! * inside every crate, module imports (`crate::x`) form no circle, except between a plugin's
//!   config and its implementation (`config` builds the implementation, which keeps its config).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Package name -> (manifest directory relative to the workspace, normal dependencies, dev-dependencies).
type Graph = BTreeMap<String, (String, Vec<String>, Vec<String>)>;

/// The workspace checked: this one, or the tree `MLPNAS_ARCH_TREE` names (to show what the rules
/// say of another checkout, e.g. an older commit).
fn workspace() -> PathBuf {
    std::env::var_os("MLPNAS_ARCH_TREE").map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."), PathBuf::from)
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

/// Package name -> its normal and build dependencies, as resolved for the whole workspace (every
/// feature any member turns on), registry crates included.
fn resolved() -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // This machine's target: crates of other platforms are never built here (and need not be
    // downloaded to answer).
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let info = Command::new(rustc).arg("-vV").output().expect("rustc -vV runs");
    let host = String::from_utf8_lossy(&info.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc names its host");
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--filter-platform", &host])
        .current_dir(workspace())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let name_of: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().expect("id"), p["name"].as_str().expect("name")))
        .collect();
    let mut g = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().expect("resolve") {
        let name = name_of[node["id"].as_str().expect("id")].to_string();
        let deps: Vec<String> = node["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .filter(|d| d["dep_kinds"].as_array().expect("kinds").iter().any(|k| k["kind"].as_str() != Some("dev")))
            .map(|d| name_of[d["pkg"].as_str().expect("pkg")].to_string())
            .collect();
        g.entry(name).or_insert_with(Vec::new).extend(deps);
    }
    g
}

/// Every crate built for `root` (its normal and build dependencies, transitively), with the
/// path through which it comes in.
fn closure(g: &BTreeMap<String, Vec<String>>, root: &str) -> BTreeMap<String, String> {
    let mut seen = BTreeMap::new();
    let mut todo = vec![(root.to_string(), root.to_string())];
    while let Some((name, path)) = todo.pop() {
        for dep in g.get(&name).into_iter().flatten() {
            if !seen.contains_key(dep) {
                let via = format!("{path} -> {dep}");
                seen.insert(dep.clone(), via.clone());
                todo.push((dep.clone(), via));
            }
        }
    }
    seen
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
        "mlpnas-runs",
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

#[test]
fn dependency_closures_hold_nothing_a_crate_does_not_use() {
    let g = resolved();
    let forbidden: [(&str, &[&str], &str); 3] = [
        (
            "mlpnas-dashboard",
            &["burn", "smartcore", "linfa", "ndarray", "tch", "torch-sys"],
            "an ML framework or data-set crate",
        ),
        (
            "mlpnas-runs",
            &["burn", "smartcore", "linfa", "ndarray", "tch", "torch-sys", "tokio", "postgres"],
            "a framework, data set or runtime",
        ),
        (
            "mlpnas-core",
            &["tokio", "axum", "hyper", "postgres", "tokio-postgres", "burn", "clap", "anyhow"],
            "a runtime, server, database client, framework or CLI crate",
        ),
    ];
    for (root, banned, what) in forbidden {
        for (dep, via) in closure(&g, root) {
            let hit = banned
                .iter()
                .any(|b| dep == *b || dep.starts_with(&format!("{b}-")) || dep.starts_with(&format!("{b}_")));
            assert!(!hit, "{root} pulls in {dep}, {what}: {via}");
        }
    }
}

#[test]
fn no_plugin_depends_on_another_plugin_even_in_its_tests() {
    let g = graph();
    let plugins = plugins(&g);
    for p in &plugins {
        let (_, normal, dev) = &g[p.as_str()];
        for other in &plugins {
            if other != p {
                assert!(!normal.contains(other), "the plugin {p} depends on the plugin {other}");
                assert!(
                    !dev.contains(other),
                    "the plugin {p} names the plugin {other} in its tests; cross-plugin tests belong in tests/ (through mlpnas-link)"
                );
            }
        }
    }
}

/// The top-level modules of a crate's `src/` (a file `x.rs` or a folder `x/`), each with the
/// modules of the same crate it names (`crate::y`, `use crate::{y, z::w}`), comments left out.
fn module_imports(src: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("src dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    for file in files {
        let rel = file.strip_prefix(src).expect("inside src");
        let top =
            rel.components().next().expect("a file").as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" {
            continue; // the root declares every module
        }
        let text = std::fs::read_to_string(&file).expect("source");
        let code: String =
            text.lines().filter(|l| !l.trim_start().starts_with("//")).map(|l| format!("{l}\n")).collect();
        let names = out.entry(top.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            if i > 0 && code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
                continue; // `$crate::`, `mlpnas_crate::`
            }
            let rest = &code[i + "crate::".len()..];
            let mut firsts = Vec::new();
            if let Some(group) = rest.strip_prefix('{') {
                let (mut depth, mut item) = (0, String::new());
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => firsts.push(std::mem::take(&mut item)),
                        _ => {}
                    }
                    if c != ',' || depth > 0 {
                        item.push(c);
                    }
                }
                firsts.push(item);
            } else {
                firsts.push(rest.to_string());
            }
            for f in firsts {
                let name: String = f.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && name != top && name != "self" {
                    names.push(name);
                }
            }
        }
        names.sort();
        names.dedup();
    }
    // An item re-exported at the root (`pub use storage::PgStorage;`) is named through the root:
    // `crate::PgStorage` is an import of `storage`.
    let mut reexported: BTreeMap<String, String> = BTreeMap::new();
    for root in ["lib.rs", "main.rs"] {
        let Ok(text) = std::fs::read_to_string(src.join(root)) else { continue };
        for stmt in text.split(';') {
            let Some(path) = stmt.trim().strip_prefix("pub use ") else { continue };
            let Some((module, rest)) = path.split_once("::") else { continue };
            let items = rest.trim().trim_start_matches('{').trim_end_matches('}');
            for item in items.split(',') {
                let last = item.rsplit("::").next().unwrap_or_default();
                let name = last.rsplit(" as ").next().unwrap_or_default().trim();
                if !name.is_empty() {
                    reexported.insert(name.to_string(), module.trim().to_string());
                }
            }
        }
    }
    let modules: Vec<String> = out.keys().cloned().collect();
    for (m, names) in out.iter_mut() {
        let resolved: Vec<String> = names
            .iter()
            .filter_map(|n| if modules.contains(n) { Some(n.clone()) } else { reexported.get(n).cloned() })
            .filter(|n| n != m && modules.contains(n))
            .collect();
        *names = resolved;
        names.sort();
        names.dedup();
    }
    out
}

/// A circle in `imports`, if there is one: the modules on it, in order.
fn find_circle(imports: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        imports: &BTreeMap<String, Vec<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(m.to_string(), 1);
        stack.push(m.to_string());
        for n in imports.get(m).into_iter().flatten() {
            match state.get(n.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == n).unwrap_or(0);
                    let mut circle = stack[at..].to_vec();
                    circle.push(n.clone());
                    return Some(circle);
                }
                0 => {
                    if let Some(c) = visit(n, imports, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(m.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in imports.keys() {
        if state.get(m.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(m, imports, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn module_imports_form_no_circle() {
    let g = graph();
    for (name, (dir, _, _)) in &g {
        let src = workspace().join(dir).join("src");
        if !src.is_dir() {
            continue;
        }
        let mut imports = module_imports(&src);
        if dir.starts_with("plugins/") {
            // A plugin's config builds its implementation, which keeps its config: that pair may
            // name each other.
            let config_users: Vec<String> = imports
                .get("config")
                .into_iter()
                .flatten()
                .filter(|m| imports[m.as_str()].contains(&"config".to_string()))
                .cloned()
                .collect();
            if let Some(c) = imports.get_mut("config") {
                c.retain(|m| !config_users.contains(m));
            }
        }
        if let Some(circle) = find_circle(&imports) {
            panic!("{name}: modules import each other in a circle: {}", circle.join(" -> "));
        }
    }
}

#[test]
fn the_circle_finder_finds_circles() {
    let g = |edges: &[(&str, &str)]| {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (a, b) in edges {
            m.entry(a.to_string()).or_default().push(b.to_string());
            m.entry(b.to_string()).or_default();
        }
        m
    };
    assert_eq!(find_circle(&g(&[("a", "b"), ("b", "c")])), None);
    let c = find_circle(&g(&[("a", "b"), ("b", "c"), ("c", "a")])).expect("a circle");
    assert_eq!(c.first(), c.last());
    assert_eq!(c.len(), 4);
    // Grouped imports are read too.
    let d = std::env::temp_dir().join(format!("mlpnas-arch-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("dir");
    std::fs::write(d.join("a.rs"), "//! doc naming crate::c\nuse crate::{b::X, d};\n").expect("a");
    std::fs::write(d.join("b.rs"), "fn f() { crate::a::g() }\n").expect("b");
    std::fs::write(d.join("c.rs"), "").expect("c");
    std::fs::write(d.join("d.rs"), "fn f() -> crate::Thing { todo!() }\n").expect("d");
    std::fs::write(d.join("e.rs"), "pub struct Thing;\nuse crate::D;\n").expect("e");
    std::fs::write(d.join("lib.rs"), "mod a;\npub use e::Thing;\npub use d::{f as D};\n").expect("lib");
    let m = module_imports(&d);
    assert_eq!(m["a"], ["b", "d"]);
    assert_eq!(m["d"], ["e"], "an item re-exported at the root is an import of its module");
    assert_eq!(m["e"], ["d"]);
    assert!(find_circle(&m).is_some());
    let _ = std::fs::remove_dir_all(&d);
}
