//! mlpnas-bench: the benchmarks behind BENCHMARKS.md (no library code).
//!
//! ```text
//! cargo bench -p mlpnas-bench --bench workload                    # every section
//! cargo bench -p mlpnas-bench --bench workload -- workload step  # some sections
//! ```
//!
//! Sections of `benches/workload.rs`:
//!
//! * `workload`: the 20 architectures of `shared/bench/ref/archs.json` trained on wine-quality
//!   with the Burn trainer (Adam lr 0.01 eps 1e-7, batch 32, 10 epochs, Glorot-uniform, one
//!   thread) on each backend, then the PyTorch and Keras reference scripts when their venvs are
//!   named (`MLPNAS_REF_TORCH_PY`, `MLPNAS_REF_TF_PY`), side by side: seconds per
//!   architecture, total, architectures per second, mean weighted validation accuracy;
//! * `step`: microseconds per training step of the smallest net (11-8-3);
//! * `workers`: one 100-trial random search with `search.batch` = 1 and = 2;
//! * `rss`: peak resident memory (VmHWM) of searches of 50, 100 and 200 trials, each in a fresh
//!   process;
//! * `store`: weight-store get + put (+ flush) per trial with 100 / 1,000 / 10,000 bigrams
//!   stored, memory and disk stores.
//!
//! Environment: `MLPNAS_BENCH_DATA` (wine-quality CSV), `MLPNAS_REF_DIR` (the reference
//! scripts and `archs.json`), `MLPNAS_BENCH_BACKENDS` (default `flex,ndarray`),
//! `MLPNAS_BENCH_STANDARDIZE=1`, `MLPNAS_BENCH_REPEAT` (runs of the Burn workload; the fastest
//! is reported). The `mimalloc` feature (default) sets the global allocator;
//! `--no-default-features` measures glibc's malloc.
