//! Build script of the `mlpnas` binary: with the `tch` feature, writes LibTorch's lib dir into the
//! binary's rpath, so that it runs without LD_LIBRARY_PATH.
//!
//! torch-sys (a dependency only for this, with `links = "tch"`) reports the lib dir it linked
//! against as `DEP_TCH_LIBTORCH_LIB`, whichever way LibTorch was found: `LIBTORCH` /
//! `LIBTORCH_LIB` (scripts/setup-libtorch), `LIBTORCH_USE_PYTORCH`, or its own download.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_TCH").is_none() {
        return;
    }
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    match std::env::var("DEP_TCH_LIBTORCH_LIB") {
        Ok(lib) if !lib.is_empty() => {
            let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
            if target_os == "linux" || target_os == "macos" {
                // Applies to the binary and this package's tests (which run the binary).
                println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
            }
        }
        _ => println!("cargo:warning=torch-sys did not report LibTorch's lib dir: set LD_LIBRARY_PATH to run mlpnas"),
    }
}
