//! mlpnas-link: the link facade that makes every plugin's typetag registration reach the binary.
//!
//! Configs name their implementations by string (`[store] type = "memory"`,
//! `[controller] type = "random"`, `[trainer] type = "burn"`); `typetag` resolves the string
//! through `inventory`, whose registrations are `#[used]` statics collected at program start.
//! They only exist in the final binary if the crate defining them is linked, and rustc only links
//! a dependency that the crate graph actually names: a crate listed in `Cargo.toml` but never
//! mentioned in source is dropped, and deserializing its config then fails with
//! "unknown variant `memory`, there are no variants".
//!
//! This crate names every plugin crate (`use store_memory as _;` ...), and binaries and test
//! suites call [`link_all`] once, which names this crate and so, transitively, every plugin.
//!
//! # Rule: every new plugin crate must be added here
//!
//! A new crate under `plugins/` (anything that registers a typetag impl) needs two lines in this crate: a `[dependencies]` entry in its `Cargo.toml` and a
//! `use <crate> as _;` below. The conformance suites in the workspace `tests` package build
//! every implementation through its typetag name after calling only [`link_all`], so a plugin
//! missing here fails them.
//!
//! # Why `use x as _;` is enough
//!
//! Checked empirically (Rust 1.95, typetag 0.2.23, inventory 0.3.25) with a test binary in
//! another crate that depends only on this facade and calls only [`link_all`]: deserializing
//! `type = "memory"` finds the impl in dev and release builds, and with fat LTO and one codegen
//! unit. `use x as _;` makes rustc load the crate into the crate graph, and rustc then keeps every
//! `#[used]` static of every linked rlib (it references them from a synthetic object file so that
//! the linker does not skip them inside the archive). Without the `use`, the registration is
//! gone; without the call to [`link_all`] from the binary, this facade (and with it every plugin)
//! is dropped too. So no function of a plugin needs to be referenced, and plugins need not export
//! anything for linking.

use controller_evolution as _;
use controller_random as _;
use controller_reinforce as _;
use controller_tpe as _;
use scheduler_halving as _;
use store_disk as _;
use store_memory as _;
use table as _;
use trainer_burn as _;

/// Makes sure every plugin crate is linked into the binary that calls it, so that typetag finds
/// each registered config (stores, controllers, trainers). Call it once, early (e.g. at the top of
/// `main` and of each integration test that deserializes a config); it does nothing at run time.
pub fn link_all() {}
