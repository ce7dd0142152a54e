//! Every file in configs/ parses, validates and builds its components: a config that ships with
//! the repository can never be broken by a rename of a field or a plugin.

use std::path::Path;

use mlpnas_search::SearchConfig;

#[test]
fn every_config_file_parses_and_validates() {
    mlpnas_link::link_all();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut n = 0;
    let files = std::fs::read_dir(&dir)
        .expect("configs/")
        .chain(std::fs::read_dir(dir.join("tables")).expect("configs/tables/"));
    for entry in files {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let cfg = SearchConfig::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
            let space = cfg.space.build().expect("space");
            mlpnas_core::build_controller(cfg.controller.as_ref(), space.as_ref(), 1)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // The resolved config written to run directories parses back to the same settings.
            let text = cfg.to_toml().expect("to_toml");
            let again = SearchConfig::from_toml(&text, "resolved", Path::new("/"), &[]).expect("resolved parses");
            assert_eq!(again.search, cfg.search);
            assert_eq!(format!("{:?}", again.space), format!("{:?}", cfg.space));
            n += 1;
        }
    }
    assert!(n >= 10, "configs/ and configs/tables/ hold {n} configs");
}

#[test]
fn a_stored_reinforce_config_without_advantage_resumes_with_the_baseline() {
    mlpnas_link::link_all();
    let dir = std::env::temp_dir().join(format!("mlpnas-configs-advantage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let stored = "seed = 1\n[data]\nsource = \"builtin:iris\"\n[controller]\ntype = \"reinforce\"\n[trainer]\ntype = \"burn\"\n[store]\ntype = \"memory\"\n";
    std::fs::write(dir.join("config.toml"), stored).expect("config");
    std::fs::write(dir.join("journal.jsonl"), "").expect("journal");
    let run = mlpnas_search::Run::open(Box::new(mlpnas_runs::RunDir::new(&dir)), None).expect("open");
    let text = run.config().to_toml().expect("toml");
    assert!(text.contains("advantage = \"baseline\""), "{text}");
    // A new config gets today's default.
    let fresh = SearchConfig::from_toml(stored, "new", Path::new("/"), &[]).expect("new").to_toml().expect("toml");
    assert!(fresh.contains("advantage = \"rank\""), "{fresh}");
}

#[test]
fn swapping_a_component_is_a_config_edit() {
    mlpnas_link::link_all();
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/random.toml"))
        .expect("random.toml");
    let cfg = SearchConfig::from_toml(&text, "random.toml", Path::new("."), &["search.one_shot=false".into()])
        .expect("override");
    assert!(!cfg.search.one_shot);
    let e = SearchConfig::from_toml(&text, "random.toml", Path::new("."), &["controller.type=\"nope\"".into()])
        .expect_err("unknown type");
    assert!(e.to_string().contains("random"), "the error lists the known controllers: {e}");
}
