//! Conformance suite of [`Controller`] implementations, in their default configuration.
//!
//! Each check takes a factory that builds a fresh controller for a space and a seed, and drives
//! it the way the search does: propose a batch, train it (here: synthetic trial records), add it
//! to the tried set, update. [`controller_conformance_tests!`](crate::controller_conformance_tests)
//! turns the whole suite into `#[test]` functions.

use std::collections::HashSet;

use anyhow::{Context, Result, bail, ensure};
use mlpnas_core::{
    Activation, Controller, ControllerContext, ControllerError, MlpSpace, MlpSpaceConfig, Proposal, SearchSpace,
    SpaceConfig, TokenId, TrialRecord, TrialStatus,
};

/// Builds a fresh controller for `space`, seeded with `seed`.
pub type ControllerFactory<'a> = &'a dyn Fn(&dyn SearchSpace, u64) -> Box<dyn Controller>;

/// One check of the suite.
pub type Check = fn(ControllerFactory<'_>) -> Result<()>;

/// Every check, by name.
pub const CHECKS: &[(&str, Check)] = &[
    ("proposals_are_valid", proposals_are_valid),
    ("proposals_are_distinct_and_untried", proposals_are_distinct_and_untried),
    ("same_seed_same_proposals", same_seed_same_proposals),
    ("state_round_trips", state_round_trips),
    ("exhaustion", exhaustion),
];

/// Runs every check in turn; the error names the failing one.
pub fn run_all(factory: ControllerFactory<'_>) -> Result<()> {
    for (name, check) in CHECKS {
        check(factory).with_context(|| format!("controller conformance check `{name}`"))?;
    }
    Ok(())
}

/// `mod`-level `#[test]` functions running each check against `$factory`, a path to a
/// `fn(&dyn SearchSpace, u64) -> Box<dyn Controller>`.
#[macro_export]
macro_rules! controller_conformance_tests {
    ($factory:path) => {
        $crate::controller_conformance_tests!(@tests $factory;
            proposals_are_valid, proposals_are_distinct_and_untried, same_seed_same_proposals,
            state_round_trips, exhaustion);
    };
    (@tests $factory:path; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() -> ::std::result::Result<(), $crate::Error> {
                $crate::controller_conformance::$check(&$factory)
            }
        )*
    };
}

/// A space with these units and activations (dropout 0.2).
pub fn space(units: &[u32], activations: &[Activation], max_len: usize) -> Result<MlpSpace> {
    let cfg = MlpSpaceConfig {
        units: units.to_vec(),
        activations: activations.to_vec(),
        max_len,
        dropout: 0.2.into(),
        ..Default::default()
    };
    cfg.build().with_context(|| format!("space {cfg:?}"))
}

/// The spaces the checks run on: small unit and activation lists, `max_len` 2..=5, the default
/// space, and benchmark-table spaces ([`table_spaces`]).
pub fn spaces() -> Result<Vec<Box<dyn SearchSpace>>> {
    let mut out: Vec<Box<dyn SearchSpace>> = Vec::new();
    for max_len in 2..=5 {
        out.push(Box::new(space(&[8], &[Activation::Relu], max_len)?));
        out.push(Box::new(space(&[8, 16], &[Activation::Relu, Activation::Tanh], max_len)?));
    }
    out.push(Box::new(space(&[32, 64, 128], &Activation::ALL, 3)?));
    out.push(Box::new(MlpSpaceConfig::default().build()?));
    out.extend(training_spaces()?);
    out.extend(table_spaces()?);
    Ok(out)
}

/// MLP spaces that search training settings after the layers: one small enough to exhaust, and
/// one with every dimension.
pub fn training_spaces() -> Result<Vec<Box<dyn SearchSpace>>> {
    let small = MlpSpaceConfig {
        units: vec![8, 16],
        activations: vec![Activation::Relu],
        max_len: 2,
        learning_rate: vec![0.01, 0.001],
        batch_size: vec![32],
        ..Default::default()
    };
    let all = MlpSpaceConfig {
        units: vec![8, 32, 64],
        activations: vec![Activation::Relu, Activation::Elu],
        max_len: 3,
        dropout: mlpnas_core::space::DropoutRates::Searched(vec![0.0, 0.2]),
        learning_rate: vec![0.03, 0.003, 0.0003],
        batch_size: vec![16, 64],
        weight_decay: vec![0.0, 1e-4],
        optimizer: mlpnas_core::Optimizer::ALL.to_vec(),
        epochs: vec![5, 10],
    };
    let mut out: Vec<Box<dyn SearchSpace>> = Vec::new();
    for cfg in [small, all] {
        out.push(Box::new(cfg.build().with_context(|| format!("space {cfg:?}"))?));
    }
    Ok(out)
}

/// Two `[space] type = "table"` spaces (the plugin must be linked): a full 2 x 3 x 2 grid, and a
/// sparse table (20 of the 4 x 4 x 3 configurations, mixed numbers and strings) whose prefixes
/// lead to few completions.
pub fn table_spaces() -> Result<Vec<Box<dyn SearchSpace>>> {
    // A directory of its own per call: the suite's tests run in parallel threads of one
    // process, and one writing a table while another reads it would see half a file.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("mlpnas-conformance-tables-{}-{call}", std::process::id()));
    let mut out = Vec::new();
    let grids: [(&str, &str, Vec<String>); 2] = [
        (
            "grid",
            "[[dimension]]\nname = \"a\"\nvalues = [1, 2]\n[[dimension]]\nname = \"b\"\nvalues = [\"x\", \"y\", \"z\"]\n[[dimension]]\nname = \"c\"\nvalues = [0.5, 1e-8]\n",
            (0..12)
                .map(|i| format!("{},{},{}", [1, 2][i / 6], ["x", "y", "z"][i / 2 % 3], ["0.5", "1e-08"][i % 2]))
                .collect(),
        ),
        (
            "sparse",
            "[[dimension]]\nname = \"lr\"\nvalues = [0.1, 0.01, 0.001, 0.0001]\n[[dimension]]\nname = \"act\"\nvalues = [\"relu\", \"tanh\", \"elu\", \"gelu\"]\n[[dimension]]\nname = \"width\"\nvalues = [16, 32, 64]\n",
            (0..48usize)
                .filter(|i| (i * 7 + 3) % 12 < 5)
                .map(|i| {
                    format!(
                        "{},{},{}",
                        ["0.1", "0.01", "0.001", "0.0001"][i / 12],
                        ["relu", "tanh", "elu", "gelu"][i / 3 % 4],
                        [16, 32, 64][i % 3]
                    )
                })
                .collect(),
        ),
    ];
    for (name, dims, rows) in grids {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).with_context(|| format!("{}", d.display()))?;
        let names: Vec<String> =
            dims.lines().filter_map(|l| l.strip_prefix("name = ")).map(|n| n.trim_matches('"').to_string()).collect();
        std::fs::write(
            d.join("table.toml"),
            format!("name = \"{name}\"\nmetric = \"loss\"\ndirection = \"minimize\"\n{dims}"),
        )?;
        let mut csv = format!("{},seed,loss\n", names.join(","));
        for (i, r) in rows.iter().enumerate() {
            csv.push_str(&format!("{r},0,{}\n", i as f64 / 10.0));
        }
        std::fs::write(d.join("table.csv"), csv)?;
        let cfg: Box<dyn SpaceConfig> =
            toml::from_str(&format!("type = \"table\"\npath = {:?}\n", d.to_string_lossy()))
                .with_context(|| format!("table space config for {}", d.display()))?;
        cfg.validate().with_context(|| format!("table {name}"))?;
        let space = cfg.build().with_context(|| format!("table {name}"))?;
        ensure!(space.size() == rows.len() as u128, "table {name}: {} sequences for {} rows", space.size(), rows.len());
        out.push(space);
    }
    Ok(out)
}

/// A synthetic finished trial for `tokens`, its reward a deterministic function of the tokens.
pub fn synthetic_record(space: &dyn SearchSpace, trial: usize, epoch: usize, p: &Proposal) -> Result<TrialRecord> {
    let candidate = space.candidate(&p.tokens, 4, 3)?;
    let h = p.tokens.iter().fold(17u64, |h, &t| mlpnas_core::seed::splitmix64(h ^ u64::from(t)));
    let reward = (h % 1000) as f64 / 1000.0;
    Ok(TrialRecord {
        trial,
        epoch,
        tokens: p.tokens.clone(),
        architecture: candidate.text(),
        reward,
        val_acc_last: reward,
        predicted: p.predicted,
        transfers: 0,
        params: candidate.params(),
        seconds: 0.0,
        status: TrialStatus::Ok,
        epochs: Vec::new(),
        metric: None,
        scores: Vec::new(),
        rescore_of: None,
        rungs: Vec::new(),
        objectives: Vec::new(),
    })
}

/// A search loop in miniature: the tried set and the epoch counter.
#[derive(Debug, Clone, Default)]
pub struct Loop {
    /// Every sequence proposed so far.
    pub tried: HashSet<Vec<TokenId>>,
    /// Next controller epoch.
    pub epoch: usize,
}

impl Loop {
    /// One controller epoch: asks for `n` proposals and checks them (valid, distinct, untried,
    /// `min(n, untried)` of them), updates the controller with synthetic records and returns the
    /// proposed sequences; `Ok(None)` once the controller reports the space exhausted (checked
    /// to be true).
    pub fn step(
        &mut self,
        c: &mut dyn Controller,
        space: &dyn SearchSpace,
        n: usize,
    ) -> Result<Option<Vec<Vec<TokenId>>>> {
        let size = space.size();
        let ctx = ControllerContext { space, tried: &self.tried, epoch: self.epoch };
        let proposals = match c.propose(&ctx, n) {
            Ok(p) => p,
            Err(ControllerError::Exhausted { size: s }) => {
                ensure!(s == size, "Exhausted reports size {s}, the space has {size}");
                ensure!(
                    self.tried.len() as u128 == size,
                    "Exhausted after {} of {size} sequences were tried",
                    self.tried.len()
                );
                return Ok(None);
            }
            Err(e) => return Err(e).context(format!("propose {n} at epoch {}", self.epoch)),
        };
        let remaining = size.saturating_sub(self.tried.len() as u128);
        let expected = remaining.min(n as u128);
        ensure!(
            proposals.len() as u128 == expected,
            "asked for {n} with {remaining} untried sequences left, got {}",
            proposals.len()
        );
        let mut batch = HashSet::new();
        for p in &proposals {
            space.validate(&p.tokens).with_context(|| format!("proposal {:?} at epoch {}", p.tokens, self.epoch))?;
            ensure!(!self.tried.contains(&p.tokens), "proposal {:?} was tried before", p.tokens);
            ensure!(batch.insert(p.tokens.clone()), "proposal {:?} twice in one batch", p.tokens);
        }
        let first = self.tried.len();
        let records = proposals
            .iter()
            .enumerate()
            .map(|(i, p)| synthetic_record(space, first + i, self.epoch, p))
            .collect::<Result<Vec<_>>>()?;
        self.tried.extend(batch);
        let ctx = ControllerContext { space, tried: &self.tried, epoch: self.epoch };
        c.update(&ctx, &records).with_context(|| format!("update at epoch {}", self.epoch))?;
        self.epoch += 1;
        Ok(Some(proposals.into_iter().map(|p| p.tokens).collect()))
    }

    /// Up to `epochs` steps of `n` proposals (fewer if the space runs out), all proposals in order.
    pub fn run(
        &mut self,
        c: &mut dyn Controller,
        space: &dyn SearchSpace,
        epochs: usize,
        n: usize,
    ) -> Result<Vec<Vec<TokenId>>> {
        let mut all = Vec::new();
        for _ in 0..epochs {
            match self.step(c, space, n)? {
                Some(batch) => all.extend(batch),
                None => break,
            }
        }
        Ok(all)
    }
}

/// Every proposal is a valid sequence of the space, across several spaces and seeds (and the
/// batches also satisfy the checks of [`Loop::step`]).
pub fn proposals_are_valid(factory: ControllerFactory<'_>) -> Result<()> {
    for s in spaces()? {
        let s = s.as_ref();
        for seed in [0, 1] {
            let mut c = factory(s, seed);
            Loop::default().run(c.as_mut(), s, 4, 5).with_context(|| format!("space {s:?}, seed {seed}"))?;
        }
    }
    Ok(())
}

/// Driven until the space runs out, proposals never repeat (within or across batches), a batch
/// is short only when fewer untried sequences remain, and then `propose` reports `Exhausted`.
pub fn proposals_are_distinct_and_untried(factory: ControllerFactory<'_>) -> Result<()> {
    let small: Vec<Box<dyn SearchSpace>> = spaces()?.into_iter().filter(|s| s.size() <= 300).collect();
    ensure!(small.len() >= 7, "too few small spaces");
    for s in &small {
        let s = s.as_ref();
        let mut c = factory(s, 3);
        let mut l = Loop::default();
        let size = s.size();
        // Enough epochs of 7 to exhaust the space, plus one to see `Exhausted`.
        let epochs = (size / 7) as usize + 2;
        let all = l.run(c.as_mut(), s, epochs, 7).with_context(|| format!("space {s:?}"))?;
        ensure!(all.len() as u128 == size, "{} proposals in a space of {size}", all.len());
        ensure!(l.step(c.as_mut(), s, 1)?.is_none(), "propose succeeded on an exhausted space {s:?}");
    }
    Ok(())
}

/// The same seed gives the same proposals; another seed gives others.
pub fn same_seed_same_proposals(factory: ControllerFactory<'_>) -> Result<()> {
    let s = MlpSpaceConfig { max_len: 4, ..Default::default() }.build()?;
    let run = |seed: u64| -> Result<Vec<Vec<TokenId>>> {
        let mut c = factory(&s, seed);
        Loop::default().run(c.as_mut(), &s, 3, 8)
    };
    let a = run(42)?;
    ensure!(a == run(42)?, "two controllers seeded 42 proposed different sequences");
    ensure!(a != run(43)?, "controllers seeded 42 and 43 proposed the same 24 sequences");
    Ok(())
}

/// `save_state` then `load_state` into a fresh controller (built with another seed) continues
/// exactly where the first one is; garbage state is refused with `ControllerError::State`.
pub fn state_round_trips(factory: ControllerFactory<'_>) -> Result<()> {
    let s = space(&[8, 16, 32, 64], &Activation::ALL, 4)?;
    let mut a = factory(&s, 5);
    let mut la = Loop::default();
    la.run(a.as_mut(), &s, 2, 6)?;
    let state = a.save_state()?;
    let mut b = factory(&s, 999);
    b.load_state(&state).context("load_state of a saved state")?;
    let mut lb = la.clone();
    let next_a = la.run(a.as_mut(), &s, 2, 6)?;
    let next_b = lb.run(b.as_mut(), &s, 2, 6)?;
    ensure!(next_a == next_b, "the restored controller proposed {next_b:?}, the original {next_a:?}");
    for garbage in [&b"not a state"[..], b"", b"{\"rng\": 17}"] {
        match b.load_state(garbage) {
            Err(ControllerError::State(_)) => {}
            Err(e) => bail!("load_state({garbage:?}) failed with {e:?}, expected ControllerError::State"),
            Ok(()) => bail!("load_state({garbage:?}) was accepted"),
        }
    }
    Ok(())
}

/// On a space of 3 sequences: asking for more than remain returns just those, and once all are
/// tried `propose` errors with `Exhausted { size: 3 }`.
pub fn exhaustion(factory: ControllerFactory<'_>) -> Result<()> {
    let s = space(&[8], &[Activation::Relu], 3)?;
    ensure!(s.size() == 3, "the tiny space has {} sequences", s.size());
    let mut c = factory(&s, 0);
    let mut l = Loop::default();
    let first = l.step(c.as_mut(), &s, 2)?.context("exhausted at once")?;
    ensure!(first.len() == 2, "asked for 2 of 3, got {}", first.len());
    let rest = l.step(c.as_mut(), &s, 5)?.context("exhausted with one left")?;
    ensure!(rest.len() == 1, "asked for 5 with 1 left, got {}", rest.len());
    let ctx = ControllerContext { space: &s, tried: &l.tried, epoch: l.epoch };
    match c.propose(&ctx, 1) {
        Err(ControllerError::Exhausted { size: 3 }) => Ok(()),
        other => bail!("propose on an exhausted space returned {other:?}, expected Exhausted {{ size: 3 }}"),
    }
}
