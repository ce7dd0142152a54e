//! Conformance suite of [`WeightStore`] implementations.
//!
//! Each check takes a factory returning a fresh, empty store and fails with a message naming
//! what went wrong. [`store_conformance_tests!`](crate::store_conformance_tests) turns the whole
//! suite into `#[test]` functions.

use std::collections::HashMap;

use anyhow::{Context, Result, anyhow, bail, ensure};
use mlpnas_core::{Activation, BigramKey, HostTensor, LayerKey, LayerWeights, OutputKind, StoreError, WeightStore};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

/// Builds a fresh, empty store.
pub type StoreFactory<'a> = &'a dyn Fn() -> Box<dyn WeightStore>;

/// One check of the suite.
pub type Check = fn(StoreFactory<'_>) -> Result<()>;

/// Every check, by name.
pub const CHECKS: &[(&str, Check)] = &[
    ("get_on_empty_is_none", get_on_empty_is_none),
    ("put_then_get_returns_it", put_then_get_returns_it),
    ("put_replaces", put_replaces),
    ("many_keys", many_keys),
    ("keys_differing_in_prev_or_cur_are_distinct", keys_differing_in_prev_or_cur_are_distinct),
    ("rejects_inconsistent_weights", rejects_inconsistent_weights),
    ("rejects_weights_not_fitting_the_key", rejects_weights_not_fitting_the_key),
    ("flush_ok", flush_ok),
    ("returns_what_was_put", returns_what_was_put),
    ("snapshot_restores", snapshot_restores),
];

/// Runs every check in turn; the error names the failing one.
pub fn run_all(factory: StoreFactory<'_>) -> Result<()> {
    for (name, check) in CHECKS {
        check(factory).with_context(|| format!("store conformance check `{name}`"))?;
    }
    Ok(())
}

/// `mod`-level `#[test]` functions running each check against `$factory`, a path to a
/// `fn() -> Box<dyn WeightStore>`.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:path) => {
        $crate::store_conformance_tests!(@tests $factory;
            get_on_empty_is_none, put_then_get_returns_it, put_replaces, many_keys,
            keys_differing_in_prev_or_cur_are_distinct, rejects_inconsistent_weights,
            rejects_weights_not_fitting_the_key, flush_ok, returns_what_was_put, snapshot_restores);
    };
    (@tests $factory:path; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() -> ::std::result::Result<(), $crate::Error> {
                $crate::store_conformance::$check(&$factory)
            }
        )*
    };
}

/// A hidden-layer key side.
pub fn dense(units: u32, activation: Activation) -> LayerKey {
    LayerKey::Dense { units, activation }
}

/// Weights that fit `key`, their values a deterministic function of `salt` (finite, varied, and
/// including awkward values: negative zero, subnormals, extremes).
pub fn weights_for(key: &BigramKey, salt: u32) -> LayerWeights {
    let [input, output] = key.kernel_shape();
    let special = [-0.0, f32::MIN_POSITIVE, 1.0e-40, f32::MAX, f32::MIN, 1.0 / 3.0];
    let value = |i: usize| {
        let h = mlpnas_core::seed::splitmix64(u64::from(salt) << 32 | i as u64);
        if h.is_multiple_of(7) {
            special[(h >> 8) as usize % special.len()]
        } else {
            ((h >> 40) as f32 / 16_777_216.0 - 0.5) * 4.0
        }
    };
    LayerWeights {
        kernel: HostTensor { shape: vec![input, output], data: (0..input * output).map(value).collect() },
        bias: HostTensor { shape: vec![output], data: (0..output).map(|i| value(input * output + i)).collect() },
    }
}

/// Whether two weights are bit-for-bit equal (so `-0.0` and `0.0` differ).
pub fn same_bits(a: &LayerWeights, b: &LayerWeights) -> bool {
    let bits = |t: &HostTensor| t.data.iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
    a.kernel.shape == b.kernel.shape
        && a.bias.shape == b.bias.shape
        && bits(&a.kernel) == bits(&b.kernel)
        && bits(&a.bias) == bits(&b.bias)
}

fn expect_same(store: &dyn WeightStore, key: &BigramKey, want: &LayerWeights) -> Result<()> {
    match store.get(key).with_context(|| format!("get {key}"))? {
        Some(got) if same_bits(&got, want) => Ok(()),
        Some(got) => bail!("get {key} returned {got:?}, but {want:?} was put"),
        None => bail!("get {key} returned None after a put"),
    }
}

fn sample_keys() -> Vec<BigramKey> {
    vec![
        BigramKey { fold: 0, prev: LayerKey::Input(4), cur: dense(8, Activation::Relu) },
        BigramKey { fold: 0, prev: dense(8, Activation::Relu), cur: dense(16, Activation::Tanh) },
        BigramKey {
            fold: 0,
            prev: dense(16, Activation::Tanh),
            cur: LayerKey::Output { units: 3, output: OutputKind::Softmax },
        },
        BigramKey {
            fold: 0,
            prev: LayerKey::Input(2),
            cur: LayerKey::Output { units: 1, output: OutputKind::Sigmoid },
        },
        // The same bigram in the namespaces of two resampled evaluations: distinct keys.
        BigramKey { fold: 1, prev: LayerKey::Input(4), cur: dense(8, Activation::Relu) },
        BigramKey { fold: 2, prev: LayerKey::Input(4), cur: dense(8, Activation::Relu) },
    ]
}

/// A new store is empty and `get` finds nothing.
pub fn get_on_empty_is_none(factory: StoreFactory<'_>) -> Result<()> {
    let store = factory();
    ensure!(store.is_empty(), "a new store has {} keys", store.len());
    for key in sample_keys() {
        ensure!(store.get(&key)?.is_none(), "get {key} on an empty store is not None");
    }
    Ok(())
}

/// `get` returns exactly (bit for bit) what was put.
pub fn put_then_get_returns_it(factory: StoreFactory<'_>) -> Result<()> {
    let mut store = factory();
    let keys = sample_keys();
    for (i, key) in keys.iter().enumerate() {
        store.put(*key, weights_for(key, i as u32)).with_context(|| format!("put {key}"))?;
        ensure!(store.len() == i + 1, "len is {} after {} puts of distinct keys", store.len(), i + 1);
    }
    for (i, key) in keys.iter().enumerate() {
        expect_same(store.as_ref(), key, &weights_for(key, i as u32))?;
    }
    Ok(())
}

/// A second `put` under a key replaces the first (last write wins) without adding a key.
pub fn put_replaces(factory: StoreFactory<'_>) -> Result<()> {
    let mut store = factory();
    let keys = sample_keys();
    for key in &keys {
        store.put(*key, weights_for(key, 1))?;
    }
    for round in 2..5 {
        store.put(keys[1], weights_for(&keys[1], round))?;
        expect_same(store.as_ref(), &keys[1], &weights_for(&keys[1], round))?;
        ensure!(store.len() == keys.len(), "len is {} after replacing a key", store.len());
    }
    for key in [keys[0], keys[2], keys[3]] {
        expect_same(store.as_ref(), &key, &weights_for(&key, 1))?;
    }
    Ok(())
}

/// 2,000 distinct keys are all kept and retrievable.
pub fn many_keys(factory: StoreFactory<'_>) -> Result<()> {
    let mut store = factory();
    let key = |i: u32| BigramKey {
        fold: 0,
        prev: LayerKey::Input(1 + i / 100),
        cur: dense(1 + (i % 100) / 4, Activation::ALL[(i % 4) as usize]),
    };
    for i in 0..2000 {
        store.put(key(i), weights_for(&key(i), i)).with_context(|| format!("put {}", key(i)))?;
    }
    ensure!(store.len() == 2000, "len is {} after 2000 puts of distinct keys", store.len());
    for i in (0..2000).rev() {
        expect_same(store.as_ref(), &key(i), &weights_for(&key(i), i))?;
    }
    Ok(())
}

/// Keys that differ only in `prev`, or only in `cur`, are different entries.
pub fn keys_differing_in_prev_or_cur_are_distinct(factory: StoreFactory<'_>) -> Result<()> {
    let mut store = factory();
    let cur = dense(8, Activation::Relu);
    let prev = dense(8, Activation::Relu);
    let keys = [
        // Same cur, prev differs by kind, width or activation.
        BigramKey { fold: 0, prev: LayerKey::Input(8), cur },
        BigramKey { fold: 0, prev: dense(8, Activation::Tanh), cur },
        BigramKey { fold: 0, prev, cur },
        BigramKey { fold: 0, prev: dense(4, Activation::Relu), cur },
        // Same prev, cur differs by kind, width or activation.
        BigramKey { fold: 0, prev, cur: dense(8, Activation::Elu) },
        BigramKey { fold: 0, prev, cur: dense(16, Activation::Relu) },
        BigramKey { fold: 0, prev, cur: LayerKey::Output { units: 8, output: OutputKind::Softmax } },
        BigramKey { fold: 0, prev, cur: LayerKey::Output { units: 1, output: OutputKind::Sigmoid } },
    ];
    for (i, key) in keys.iter().enumerate() {
        store.put(*key, weights_for(key, 100 + i as u32))?;
    }
    ensure!(store.len() == keys.len(), "{} distinct keys put, len is {}", keys.len(), store.len());
    for (i, key) in keys.iter().enumerate() {
        expect_same(store.as_ref(), key, &weights_for(key, 100 + i as u32))?;
    }
    Ok(())
}

fn expect_invalid(store: &mut dyn WeightStore, key: BigramKey, w: LayerWeights, what: &str) -> Result<()> {
    match store.put(key, w) {
        Err(StoreError::Invalid { .. }) => Ok(()),
        Err(e) => bail!("put of {what} under {key} failed with {e:?}, expected StoreError::Invalid"),
        Ok(()) => bail!("put of {what} under {key} was accepted"),
    }
}

/// Weights for `key` spoiled in each way a store must refuse, with what is wrong.
fn inconsistent_variants(key: &BigramKey) -> Vec<(&'static str, LayerWeights)> {
    let spoil = |edit: &dyn Fn(&mut LayerWeights)| {
        let mut w = weights_for(key, 8);
        edit(&mut w);
        w
    };
    vec![
        ("a kernel missing a value", spoil(&|w| w.kernel.data.truncate(w.kernel.data.len() - 1))),
        ("a bias with an extra value", spoil(&|w| w.bias.data.push(0.5))),
        ("a NaN in the kernel", spoil(&|w| w.kernel.data[0] = f32::NAN)),
        ("+inf in the bias", spoil(&|w| w.bias.data[0] = f32::INFINITY)),
        ("-inf in the kernel", spoil(&|w| w.kernel.data[1] = f32::NEG_INFINITY)),
    ]
}

/// Weights whose shape and data disagree, or that hold NaN or infinities, are refused with
/// [`StoreError::Invalid`] and leave the store unchanged.
pub fn rejects_inconsistent_weights(factory: StoreFactory<'_>) -> Result<()> {
    let mut store = factory();
    let [stored, fresh] = [sample_keys()[0], sample_keys()[1]];
    let good = weights_for(&stored, 7);
    store.put(stored, good.clone())?;
    for key in [stored, fresh] {
        for (what, w) in inconsistent_variants(&key) {
            expect_invalid(store.as_mut(), key, w, what)?;
            expect_same(store.as_ref(), &stored, &good).context("a refused put changed the stored value")?;
            ensure!(store.get(&fresh)?.is_none(), "a refused put under {fresh} stored something");
            ensure!(store.len() == 1, "a refused put changed len to {}", store.len());
        }
    }
    Ok(())
}

/// Weights whose shapes do not fit the key (kernel `[prev.units(), cur.units()]`, bias
/// `[cur.units()]`) are refused: a hit must always fit the layer it is handed to.
pub fn rejects_weights_not_fitting_the_key(factory: StoreFactory<'_>) -> Result<()> {
    let mut store = factory();
    let key = sample_keys()[1]; // [8, 16]
    let other = BigramKey { fold: 0, prev: LayerKey::Input(16), cur: dense(8, Activation::Relu) }; // [16, 8]
    expect_invalid(store.as_mut(), key, weights_for(&other, 1), "a transposed kernel")?;
    let mut short_bias = weights_for(&key, 1);
    short_bias.bias = HostTensor { shape: vec![8], data: vec![0.0; 8] };
    expect_invalid(store.as_mut(), key, short_bias, "a bias of the wrong width")?;
    let mut flat = weights_for(&key, 1);
    flat.kernel.shape = vec![8 * 16];
    expect_invalid(store.as_mut(), key, flat, "a 1-d kernel")?;
    ensure!(store.is_empty(), "refused puts left {} keys", store.len());
    Ok(())
}

/// `flush` succeeds, on an empty store and after puts, and changes nothing visible.
pub fn flush_ok(factory: StoreFactory<'_>) -> Result<()> {
    let mut store = factory();
    store.flush().context("flush of an empty store")?;
    let keys = sample_keys();
    for (i, key) in keys.iter().enumerate() {
        store.put(*key, weights_for(key, i as u32))?;
    }
    store.flush().context("flush after puts")?;
    store.flush().context("second flush")?;
    ensure!(store.len() == keys.len(), "len is {} after flush", store.len());
    for (i, key) in keys.iter().enumerate() {
        expect_same(store.as_ref(), key, &weights_for(key, i as u32))?;
    }
    Ok(())
}

/// One step of the property: put (possibly corrupted) weights, or get.
#[derive(Debug, Clone)]
enum Op {
    /// Put weights filled from `values` under the key; `corrupt` 0..=2 keeps them valid,
    /// 3 puts a NaN, 4 drops a value.
    Put { key: BigramKey, values: Vec<f32>, corrupt: u8 },
    /// Get the key.
    Get(BigramKey),
}

fn key_strategy() -> impl Strategy<Value = BigramKey> {
    let activation = (0..4usize).prop_map(|i| Activation::ALL[i]);
    let output = prop_oneof![Just(OutputKind::Softmax), Just(OutputKind::Sigmoid)];
    let prev = prop_oneof![
        (1u32..=4).prop_map(LayerKey::Input),
        (1u32..=4, activation.clone()).prop_map(|(units, activation)| LayerKey::Dense { units, activation }),
    ];
    let cur = prop_oneof![
        (1u32..=4, activation).prop_map(|(units, activation)| LayerKey::Dense { units, activation }),
        (1u32..=3, output).prop_map(|(units, output)| LayerKey::Output { units, output }),
    ];
    (prev, cur).prop_map(|(prev, cur)| BigramKey { fold: 0, prev, cur })
}

fn op_strategy() -> impl Strategy<Value = Op> {
    use proptest::num::f32::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    let value = POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO;
    prop_oneof![
        3 => (key_strategy(), proptest::collection::vec(value, 20), 0u8..5)
            .prop_map(|(key, values, corrupt)| Op::Put { key, values, corrupt }),
        1 => key_strategy().prop_map(Op::Get),
    ]
}

fn op_weights(key: &BigramKey, values: &[f32], corrupt: u8) -> LayerWeights {
    let [input, output] = key.kernel_shape();
    let mut w = LayerWeights {
        kernel: HostTensor { shape: vec![input, output], data: values[..input * output].to_vec() },
        bias: HostTensor { shape: vec![output], data: values[input * output..input * output + output].to_vec() },
    };
    match corrupt {
        3 => w.kernel.data[0] = f32::NAN,
        4 => w.bias.data.truncate(w.bias.data.len() - 1),
        _ => {}
    }
    w
}

fn check_ops(factory: StoreFactory<'_>, ops: &[Op]) -> Result<()> {
    let mut store = factory();
    let mut model: HashMap<BigramKey, LayerWeights> = HashMap::new();
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Put { key, values, corrupt } => {
                let w = op_weights(key, values, *corrupt);
                let r = store.put(*key, w.clone());
                match (w.is_consistent(), r) {
                    (true, Ok(())) => {
                        model.insert(*key, w);
                    }
                    (false, Err(StoreError::Invalid { .. })) => {}
                    (valid, r) => bail!("step {step}: put {key} (valid: {valid}) returned {r:?}"),
                }
            }
            Op::Get(key) => match (model.get(key), store.get(key)?) {
                (None, None) => {}
                (Some(want), Some(got)) if same_bits(want, &got) => {}
                (want, got) => bail!("step {step}: get {key} returned {got:?}, the model holds {want:?}"),
            },
        }
        ensure!(store.len() == model.len(), "step {step}: len is {}, the model holds {}", store.len(), model.len());
    }
    for (key, want) in &model {
        expect_same(store.as_ref(), key, want)?;
    }
    Ok(())
}

/// Property: over random sequences of puts (some invalid) and gets on a small key space, the
/// store behaves like a `HashMap` model. 64 cases, fixed seed.
pub fn returns_what_was_put(factory: StoreFactory<'_>) -> Result<()> {
    let config =
        Config { cases: 64, failure_persistence: None, rng_seed: RngSeed::Fixed(0x5702e), ..Config::default() };
    let mut runner = TestRunner::new(config);
    runner
        .run(&proptest::collection::vec(op_strategy(), 1..60), |ops| {
            check_ops(factory, &ops).map_err(|e| TestCaseError::fail(format!("{e:#}")))
        })
        .map_err(|e| anyhow!("{e}"))
}

/// A store that snapshots (in-memory stores) restores the snapshot into a fresh store exactly,
/// and later puts do not leak into a snapshot already taken. Stores that persist themselves
/// return `None` and are covered by their own reopen tests.
pub fn snapshot_restores(factory: StoreFactory<'_>) -> Result<()> {
    let mut store = factory();
    let keys = sample_keys();
    for (i, k) in keys.iter().enumerate() {
        store.put(*k, weights_for(k, i as u32))?;
    }
    let Some(bytes) = store.snapshot()? else {
        return Ok(());
    };
    store.put(keys[0], weights_for(&keys[0], 999))?;
    let mut fresh = factory();
    fresh.put(keys[1], weights_for(&keys[1], 555))?;
    fresh.restore(&bytes).context("restore a snapshot")?;
    ensure!(fresh.len() == keys.len(), "restored store holds {} keys, the snapshot {}", fresh.len(), keys.len());
    for (i, k) in keys.iter().enumerate() {
        expect_same(fresh.as_ref(), k, &weights_for(k, i as u32))?;
    }
    let mut bad = bytes.clone();
    bad.truncate(bytes.len() / 2);
    ensure!(fresh.restore(&bad).is_err(), "restoring a truncated snapshot succeeded");
    Ok(())
}
