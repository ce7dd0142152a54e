//! The on-disk store against real files: reopening, damaged files, a second writer (in this
//! process and in another one) and the LRU cap.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mlpnas_core::{Activation, BigramKey, HostTensor, LayerKey, LayerWeights, OutputKind, StoreError, WeightStore};
use redb::ReadableDatabase;
use store_disk::{DiskStore, codec};

/// Env var telling [`holder`] which store file to open and hold.
const HOLD_ENV: &str = "STORE_DISK_TEST_HOLD";
/// What [`holder`] prints once it holds the store.
const HOLDING: &str = "holder: store open";

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("store-disk").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

fn key(input: u32, units: u32) -> BigramKey {
    BigramKey { fold: 0, prev: LayerKey::Input(input), cur: LayerKey::Dense { units, activation: Activation::Relu } }
}

/// Weights fitting `key` whose every value is `fill` (a distinctive bit pattern in the file).
fn filled(key: &BigramKey, fill: f32) -> LayerWeights {
    let [i, o] = key.kernel_shape();
    LayerWeights {
        kernel: HostTensor { shape: vec![i, o], data: vec![fill; i * o] },
        bias: HostTensor { shape: vec![o], data: vec![fill; o] },
    }
}

/// Weights fitting `key` with awkward values: both zeros, subnormals, extremes, thirds.
fn awkward(key: &BigramKey, salt: u32) -> LayerWeights {
    let special = [-0.0, 0.0, 1.0e-40, -1.0e-45, f32::MIN_POSITIVE, f32::MAX, f32::MIN, 1.0 / 3.0];
    let [i, o] = key.kernel_shape();
    let v = |n: usize| special[(n + salt as usize) % special.len()] * if n.is_multiple_of(3) { 1.0 } else { -1.0 };
    LayerWeights {
        kernel: HostTensor { shape: vec![i, o], data: (0..i * o).map(v).collect() },
        bias: HostTensor { shape: vec![o], data: (0..o).map(|n| v(n + 7)).collect() },
    }
}

fn bits(w: &LayerWeights) -> (Vec<usize>, Vec<usize>, Vec<u32>) {
    let data = w.kernel.data.iter().chain(&w.bias.data).map(|v| v.to_bits()).collect();
    (w.kernel.shape.clone(), w.bias.shape.clone(), data)
}

fn expect_corrupt<T: std::fmt::Debug>(r: Result<T, StoreError>, file: &Path, needle: &str) {
    match r {
        Err(e @ StoreError::Corrupt { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&file.display().to_string()), "the error names the file: {msg}");
            assert!(msg.contains(needle), "the error says {needle:?}: {msg}");
        }
        other => panic!("expected StoreError::Corrupt, got {other:?}"),
    }
}

/// A store file keeps the identity drawn at its creation; every new file draws another one
/// (what lets a resume refuse a store copied in from another run).
#[test]
fn each_file_keeps_an_identity_of_its_own() -> TestResult {
    let dir = scratch("identity");
    let first = DiskStore::open(&dir.join("a.redb"), None)?.identity().ok_or("an identity")?;
    assert_eq!(DiskStore::open(&dir.join("a.redb"), None)?.identity(), Some(first.clone()), "kept on reopening");
    let second = DiskStore::open(&dir.join("b.redb"), None)?.identity().ok_or("an identity")?;
    assert_ne!(first, second);
    std::fs::remove_file(dir.join("a.redb"))?;
    let again = DiskStore::open(&dir.join("a.redb"), None)?.identity().ok_or("an identity")?;
    assert_ne!(first, again, "a file made anew is another store");
    Ok(())
}

#[test]
fn reopen_returns_the_same_bits() -> TestResult {
    let path = scratch("reopen").join("w.redb");
    let out = BigramKey {
        fold: 0,
        prev: LayerKey::Dense { units: 5, activation: Activation::Tanh },
        cur: LayerKey::Output { units: 1, output: OutputKind::Sigmoid },
    };
    let hidden_sigmoid = BigramKey {
        fold: 0,
        prev: LayerKey::Dense { units: 5, activation: Activation::Tanh },
        cur: LayerKey::Dense { units: 1, activation: Activation::Sigmoid },
    };
    let keys = [key(3, 5), out, hidden_sigmoid, key(7, 5)];
    {
        let mut s = DiskStore::open(&path, None)?;
        for (i, k) in keys.iter().enumerate() {
            s.put(*k, awkward(k, i as u32))?;
        }
        s.put(keys[0], awkward(&keys[0], 99))?; // last write wins, also across a reopen
        assert_eq!(s.unflushed(), 4);
        s.flush()?;
        assert_eq!(s.unflushed(), 0);
        s.put(key(9, 9), filled(&key(9, 9), 1.0))?; // never flushed: lost, nothing else
    }
    let s = DiskStore::open(&path, None)?;
    assert_eq!(s.len(), keys.len());
    assert_eq!(s.get(&key(9, 9))?, None);
    for (i, k) in keys.iter().enumerate() {
        let want = awkward(k, if i == 0 { 99 } else { i as u32 });
        let got = s.get(k)?.ok_or_else(|| format!("{k} lost"))?;
        assert_eq!(bits(&got), bits(&want), "{k}");
    }
    let neg_zero = s.get(&keys[0])?.map(|w| w.kernel.data.iter().any(|v| v.to_bits() == (-0.0f32).to_bits()));
    assert_eq!(neg_zero, Some(true), "-0.0 survives as -0.0");
    Ok(())
}

#[test]
fn a_truncated_file_is_a_clear_error() -> TestResult {
    let path = scratch("truncated").join("w.redb");
    {
        let mut s = DiskStore::open(&path, None)?;
        for i in 1..20 {
            s.put(key(i, 64), filled(&key(i, 64), i as f32))?;
        }
        s.flush()?;
    }
    let len = std::fs::metadata(&path)?.len();
    for keep in [len / 2, 1000, 10] {
        let f = std::fs::OpenOptions::new().write(true).open(&path)?;
        f.set_len(keep)?;
        drop(f);
        match DiskStore::open(&path, None) {
            Err(e @ (StoreError::Corrupt { .. } | StoreError::Io { .. })) => {
                let msg = e.to_string();
                assert!(msg.starts_with(&path.display().to_string()), "names the file: {msg}");
            }
            other => panic!("truncated to {keep} bytes: expected Corrupt or Io, got {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn a_garbage_file_is_a_clear_error() -> TestResult {
    let dir = scratch("garbage");
    let path = dir.join("w.redb");
    std::fs::write(&path, b"this is not a weight store, just some text\n".repeat(200))?;
    expect_corrupt(DiskStore::open(&path, None), &path, "");
    Ok(())
}

#[test]
fn a_flipped_byte_in_a_value_is_corrupt() -> TestResult {
    let path = scratch("flipped").join("w.redb");
    let k = key(16, 16);
    // 0x3ABCDEF1 repeated: a pattern that nothing else in the file contains.
    let marker = f32::from_bits(0x3ABC_DEF1);
    {
        let mut s = DiskStore::open(&path, None)?;
        s.put(k, filled(&k, marker))?;
        s.put(key(4, 4), filled(&key(4, 4), 0.5))?;
        s.flush()?;
    }
    let mut bytes = std::fs::read(&path)?;
    let pattern: Vec<u8> = std::iter::repeat_n(marker.to_le_bytes(), 8).flatten().collect();
    let hits: Vec<usize> =
        bytes.windows(pattern.len()).enumerate().filter(|(_, w)| *w == pattern).map(|(i, _)| i).collect();
    assert!(!hits.is_empty(), "the value's bytes are in the file");
    for &at in &hits {
        bytes[at + 5] ^= 0x10; // one bit of one f32
    }
    std::fs::write(&path, &bytes)?;
    // redb verifies every page checksum when the store opens the file: the damage shows there.
    expect_corrupt(DiskStore::open(&path, None), &path, "");
    // A file opened without that check (plain redb) hands the damaged bytes over, and the value's
    // own checksum refuses them: what `get` reports as Corrupt if damage ever gets past redb.
    let db = redb::Database::open(&path)?;
    let txn = db.begin_read()?;
    let table = txn.open_table(redb::TableDefinition::<&str, &[u8]>::new("weights"))?;
    let text = codec::key_text(&k);
    let stored = table.get(text.as_str())?.ok_or("the value is in the file")?;
    let err = codec::decode(&text, stored.value()).expect_err("a flipped bit must not decode");
    assert!(err.contains("checksum mismatch"), "{err}");
    Ok(())
}

#[test]
fn a_second_opener_in_this_process_is_locked() -> TestResult {
    let path = scratch("locked").join("w.redb");
    let mut first = DiskStore::open(&path, None)?;
    first.put(key(2, 2), filled(&key(2, 2), 2.0))?;
    first.flush()?;
    match DiskStore::open(&path, None) {
        Err(e @ StoreError::Locked { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&path.display().to_string()) && msg.contains("locked"), "{msg}");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    // The refused opener did not disturb the first one.
    assert_eq!(first.get(&key(2, 2))?, Some(filled(&key(2, 2), 2.0)));
    drop(first);
    let again = DiskStore::open(&path, None)?;
    assert_eq!(again.len(), 1);
    Ok(())
}

/// Not a test on its own: with `STORE_DISK_TEST_HOLD` set, opens that store, says so on stdout
/// and holds it until stdin closes. [`a_second_opener_in_another_process_is_locked`] runs it.
#[test]
fn holder() -> TestResult {
    let Some(path) = std::env::var_os(HOLD_ENV) else { return Ok(()) };
    let _store = DiskStore::open(Path::new(&path), None)?;
    println!("{HOLDING}");
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    Ok(())
}

#[test]
fn a_second_opener_in_another_process_is_locked() -> TestResult {
    let path = scratch("locked-process").join("w.redb");
    {
        let mut s = DiskStore::open(&path, None)?;
        s.put(key(2, 2), filled(&key(2, 2), 2.0))?;
        s.flush()?;
    }
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--exact", "holder", "--nocapture", "--test-threads=1"])
        .env(HOLD_ENV, &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let held = lines.by_ref().map_while(Result::ok).any(|l| l.contains(HOLDING));
    assert!(held, "the holder process did not open the store");
    let second = DiskStore::open(&path, None);
    drop(child.stdin.take()); // lets the holder end
    let status = child.wait()?;
    assert!(status.success(), "holder exited with {status}");
    assert!(matches!(second, Err(StoreError::Locked { .. })), "expected Locked, got {second:?}");
    // Once the other process is gone, the file opens and holds what was flushed.
    let s = DiskStore::open(&path, None)?;
    assert_eq!(s.get(&key(2, 2))?, Some(filled(&key(2, 2), 2.0)));
    Ok(())
}

#[test]
fn lru_cap_evicts_the_least_recently_used() -> TestResult {
    let path = scratch("lru").join("w.redb");
    let (a, b, c) = (key(8, 8), key(9, 8), key(10, 8));
    let size = |k: &BigramKey| filled(k, 0.0).byte_len() as u64;
    // Fits A and B (the largest two) but not three values.
    let cap = size(&b) + size(&c);
    {
        let mut s = DiskStore::open(&path, Some(cap))?;
        s.put(a, filled(&a, 1.0))?;
        s.put(b, filled(&b, 2.0))?;
        assert!(s.stored_bytes() <= cap);
        s.flush()?; // A and B on disk: the eviction below must delete B from the file
        assert_eq!(s.get(&a)?, Some(filled(&a, 1.0))); // A is now the most recently used
        s.put(c, filled(&c, 3.0))?;
        assert!(s.stored_bytes() <= cap, "{} > {cap}", s.stored_bytes());
        assert_eq!(s.len(), 2);
        assert_eq!(s.get(&b)?, None, "B was the least recently used");
        assert_eq!(s.get(&a)?, Some(filled(&a, 1.0)));
        assert_eq!(s.get(&c)?, Some(filled(&c, 3.0)));
        s.flush()?;
    }
    let mut s = DiskStore::open(&path, Some(cap))?;
    assert_eq!(s.len(), 2, "the eviction survived the reopen");
    assert_eq!(s.get(&b)?, None);
    assert!(s.stored_bytes() <= cap);
    // The last uses survived too: C (last got) is newer than A, so A goes first.
    s.put(b, filled(&b, 4.0))?;
    assert_eq!(s.get(&a)?, None);
    assert_eq!(s.get(&c)?, Some(filled(&c, 3.0)));
    assert_eq!(s.get(&b)?, Some(filled(&b, 4.0)));
    Ok(())
}

#[test]
fn lru_cap_holds_across_many_puts_and_a_smaller_cap() -> TestResult {
    let path = scratch("lru-many").join("w.redb");
    let cap = 3000;
    {
        let mut s = DiskStore::open(&path, Some(cap))?;
        for i in 1..60u32 {
            let k = key(i % 13 + 1, i % 5 + 1);
            s.put(k, filled(&k, i as f32))?;
            if i.is_multiple_of(2) {
                let _ = s.get(&key(1, 1))?;
            }
            assert!(s.stored_bytes() <= cap, "put {i}: {} > {cap}", s.stored_bytes());
            if i.is_multiple_of(7) {
                s.flush()?;
            }
        }
        // A value larger than the whole cap is not kept (nor is an older value of its key).
        let big = key(40, 40);
        s.put(big, filled(&big, 1.0))?;
        assert_eq!(s.get(&big)?, None);
        assert!(s.stored_bytes() <= cap);
        s.flush()?;
    }
    // Reopened with a smaller cap: evicted down to it at once, and in the file after a flush.
    {
        let mut s = DiskStore::open(&path, Some(100))?;
        assert!(s.stored_bytes() <= 100, "{}", s.stored_bytes());
        s.flush()?;
    }
    let s = DiskStore::open(&path, None)?;
    assert!(s.stored_bytes() <= 100, "{}", s.stored_bytes());
    Ok(())
}

#[test]
fn a_file_of_another_redb_application_is_refused() -> TestResult {
    let path = scratch("other-redb").join("w.redb");
    let db = redb::Database::create(&path)?;
    let txn = db.begin_write()?;
    {
        let mut t = txn.open_table(redb::TableDefinition::<&str, u64>::new("counters"))?;
        t.insert("visits", 3)?;
    }
    txn.commit()?;
    drop(db);
    expect_corrupt(DiskStore::open(&path, None), &path, "not an mlpnas weight store");
    Ok(())
}

/// Timings, not a check: `cargo test -p store-disk --release --test disk -- --ignored --nocapture`.
/// A store of 10,000 keys; one trial's worth of puts (3 layers of 64x64) and a flush; a get.
#[test]
#[ignore = "a measurement; run by hand"]
fn measure_trial_and_get_with_10k_keys() -> TestResult {
    use std::time::Instant;
    let path = scratch("measure").join("w.redb");
    let dense = |units: u32, i: usize| LayerKey::Dense { units, activation: Activation::ALL[i % 4] };
    // 50 x 50 x 4 = 10,000 keys, kernels 1x1 .. 50x50 (about 25 MB of values).
    let filler: Vec<BigramKey> = (0..10_000)
        .map(|i| BigramKey { fold: 0, prev: dense((i / 200 + 1) as u32, i), cur: dense((i / 4 % 50 + 1) as u32, 0) })
        .collect();
    let mut s = DiskStore::open(&path, None)?;
    let t = Instant::now();
    for (i, k) in filler.iter().enumerate() {
        s.put(*k, filled(k, i as f32))?;
        if i % 100 == 99 {
            s.flush()?;
        }
    }
    s.flush()?;
    println!("fill: 10,000 keys in {:?} ({} bytes of values)", t.elapsed(), s.stored_bytes());
    drop(s);
    let t = Instant::now();
    let mut s = DiskStore::open(&path, None)?;
    println!("reopen (integrity check, index load): {:?}, file {} bytes", t.elapsed(), std::fs::metadata(&path)?.len());
    let trial = [
        BigramKey { fold: 0, prev: LayerKey::Input(64), cur: dense(64, 2) },
        BigramKey { fold: 0, prev: dense(64, 2), cur: dense(64, 1) },
        BigramKey { fold: 0, prev: dense(64, 1), cur: LayerKey::Output { units: 64, output: OutputKind::Softmax } },
    ];
    let mut times = Vec::new();
    for round in 0..50 {
        let t = Instant::now();
        for k in &trial {
            s.put(*k, filled(k, round as f32))?;
        }
        s.flush()?;
        times.push(t.elapsed());
    }
    times.sort();
    println!("trial (3 puts of 64x64 + flush): median {:?}, min {:?}, max {:?}", times[25], times[0], times[49]);
    let n = 2000;
    let t = Instant::now();
    for i in 0..n {
        let w = s.get(&trial[i % 3])?.ok_or("hit")?;
        assert_eq!(w.kernel.data.len(), 64 * 64);
    }
    println!("get hit (64x64, flushed): {:?} each", t.elapsed() / n as u32);
    let t = Instant::now();
    for k in filler.iter().take(n) {
        s.get(k)?.ok_or("hit")?;
    }
    println!("get hit (filler, flushed): {:?} each", t.elapsed() / n as u32);
    let miss = key(12_345, 7);
    let t = Instant::now();
    for _ in 0..n {
        assert!(s.get(&miss)?.is_none());
    }
    println!("get miss: {:?} each", t.elapsed() / n as u32);
    Ok(())
}
