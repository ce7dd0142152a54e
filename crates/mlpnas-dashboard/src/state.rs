//! What the dashboard knows of each run: read through the run's [`RunStorage`] by the one
//! refresher thread, a little at a time (only new trials), and served from memory.

use std::collections::{BTreeMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use mlpnas_core::{
    Architecture, DataSummary, EpochReport, LayerKey, RunStorage, TrialRecord, batches, top_n, verify_trials,
};
use mlpnas_runs::{Leaderboard, RunSettings};
use serde::Serialize;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A process holds the run's lock (a search or a coordinator is writing it).
    Running,
    /// It has a summary and nobody writes it.
    Finished,
    /// Neither: stopped before its end (continue it with `--resume`).
    Interrupted,
}

/// What the config says about a run, read once.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Facts {
    /// `controller.type`.
    pub controller: Option<String>,
    /// `data.source`.
    pub data: Option<String>,
    /// The run's seed.
    pub seed: Option<i64>,
    /// Trials the config plans (`controller_epochs` x `samples_per_epoch`; none under a
    /// multi-fidelity scheduler, whose brackets decide).
    pub planned: Option<usize>,
    /// `search.batch`: trials trained together against the store as it was at the batch's start.
    pub batch: usize,
    /// Whether trials share weights (one-shot on and a store configured).
    pub one_shot: bool,
    /// The multi-fidelity scheduler (`scheduler.type`), when it is not `"full"`: trials then
    /// have rungs, and some stop early.
    pub scheduler: Option<String>,
    /// Runs whose configs are equal but for the seed share a group (the compare page's bands).
    pub group: String,
    /// What a benchmark-table run measures (its trials train nothing: no accuracy, no
    /// parameters); `None` for runs that train networks.
    pub measured: Option<Measured>,
    /// The validation metric a trained run's rewards are made of (`search.metric`), when it is
    /// not the accuracy; its value is in every epoch of a trial.
    pub metric: Option<RunMetric>,
}

/// `search.metric` of a run that trains networks, as the dashboard names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunMetric {
    /// Its name (`balanced_accuracy`).
    pub name: String,
    /// Whether smaller is better (the reward is then the negated metric).
    pub minimize: bool,
    /// Whether it scores a regression (the trials then have no accuracy to show).
    pub regression: bool,
}

/// A benchmark table's name and metric, as its run's trials are shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    /// The table's name.
    pub table: String,
    /// The metric column (a trial's `metric`).
    pub metric: String,
    /// Whether smaller is better (the reward is then the negated metric).
    pub minimize: bool,
}

impl Facts {
    /// Reads them from a run's resolved config (TOML): the loop's settings as the search reads
    /// them ([`RunSettings`]), the group from the config without its seed.
    pub fn from_config(text: &str) -> Result<Self, String> {
        let settings = RunSettings::from_toml(text)?;
        let mut v: toml::Table = toml::from_str(text).map_err(|e| format!("config.toml: {}", e.message()))?;
        v.remove("seed");
        // A table run reads no data: it is named by its table (whose description is read once).
        let measured = settings.table.as_deref().and_then(Measured::read);
        let controller = settings.controller.clone();
        let data = match &measured {
            Some(m) => Some(format!("table {}", m.table)),
            None => settings.data_source.clone(),
        };
        let label =
            [controller.as_deref().unwrap_or("?"), data.as_deref().map(short_source).unwrap_or("?")].join(" · ");
        // The config without its seed, as text: equal texts = one group.
        let rest = toml::to_string(&v).unwrap_or_default();
        let group = format!("{label} #{:08x}", fnv1a(rest.as_bytes()) as u32);
        Ok(Self {
            controller,
            data,
            seed: settings.seed,
            // A scheduler's brackets decide how many trials an epoch has (its plugin, not linked
            // here, knows): no plan is shown then.
            planned: settings.scheduler.is_none().then(|| settings.search.planned()),
            scheduler: settings.scheduler.clone(),
            batch: settings.search.batch.max(1),
            one_shot: settings.shares_weights(),
            group,
            metric: (measured.is_none() && settings.search.metric != mlpnas_core::Metric::Accuracy).then(|| {
                RunMetric {
                    name: settings.search.metric.name().to_string(),
                    minimize: settings.search.metric.minimize(),
                    regression: settings.search.metric.task() == mlpnas_core::Task::Regression,
                }
            }),
            measured,
        })
    }
}

impl Measured {
    /// The head of `table.toml` in the table directory `dir` (name, metric, direction; the rest
    /// of mlpnas-data's table description is not needed here, and the dashboard holds no data
    /// crate). `None` when it cannot be read: the run is then shown by its config alone.
    fn read(dir: &str) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct Head {
            name: String,
            metric: String,
            #[serde(default)]
            direction: Option<String>,
        }
        let text = std::fs::read_to_string(std::path::Path::new(dir).join("table.toml")).ok()?;
        let head: Head = toml::from_str(&text).ok()?;
        Some(Self { table: head.name, metric: head.metric, minimize: head.direction.as_deref() == Some("minimize") })
    }
}

/// `builtin:iris` as is; a file path by its file name.
fn short_source(s: &str) -> &str {
    if s.starts_with("builtin:") { s } else { s.rsplit(['/', '\\']).next().unwrap_or(s) }
}

/// 64-bit FNV-1a (a stable group id; not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The best trial so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Best {
    /// Its index.
    pub trial: usize,
    /// Its reward.
    pub reward: f64,
    /// Its architecture.
    pub architecture: String,
}

/// One line of the runs page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// The dashboard's name for it (its URL segment).
    pub id: String,
    /// Where it lives.
    pub location: String,
    /// Running, finished or interrupted.
    pub status: Status,
    /// Who writes it, when running.
    pub writer: Option<String>,
    /// Trials journaled.
    pub trials: usize,
    /// The best trial.
    pub best: Option<Best>,
    /// What its config says.
    pub facts: Facts,
    /// Wall time of the whole search, once finished.
    pub wall_seconds: Option<f64>,
    /// Training and scoring time of its trials, added up.
    pub train_seconds: f64,
    /// Controller epochs reported.
    pub epochs: usize,
    /// Whether `finalize` wrote a leaderboard for it.
    pub finalized: bool,
    /// What its data holds (recorded when its search started; absent for runs made before
    /// 0.5.0 and benchmark-table runs).
    pub data: Option<DataSummary>,
    /// Its label as a reward should be read against: `classes: ... (majority rate ...)` or
    /// `target: mean ..., standard deviation ...` ([`mlpnas_core::LabelSummary`]'s words).
    pub label: Option<String>,
    /// Why the last read failed (a corrupt journal, a run that disappeared); what was read
    /// before is still shown.
    pub error: Option<String>,
    /// Grows whenever anything above or the run's trials change.
    pub version: u64,
}

/// What is read from a run's storage in one refresh.
#[derive(Debug)]
struct Update {
    facts: Option<Facts>,
    /// Keep this many trials, then append `records`.
    keep: usize,
    records: Vec<TrialRecord>,
    epochs: Vec<EpochReport>,
    finished: Option<f64>,
    writer: Option<String>,
    leaderboard: Option<Leaderboard>,
    data: Option<DataSummary>,
    /// Trials the run's latest checkpoint covers (read before the trials).
    covered: usize,
    location: String,
}

/// The reading side of a run: its storage and where reading stopped. Only the refresher thread
/// touches it (storages do I/O and need not be `Sync`).
#[derive(Debug)]
pub struct Reader {
    storage: Box<dyn RunStorage>,
    mark: u64,
    /// When it was last read.
    pub(crate) last: Option<std::time::Instant>,
}

impl Reader {
    /// A run not read yet.
    pub fn new(storage: Box<dyn RunStorage>) -> Self {
        Self { storage, mark: 0, last: None }
    }

    /// Where it lives.
    pub fn location(&self) -> String {
        self.storage.location()
    }

    /// What changed since `have` trials were read.
    fn read(&mut self, have: usize) -> Result<Update, String> {
        let s = self.storage.as_ref();
        // Read every time: a resume may raise the budget (a small file, or one row).
        let text = s.read_config().map_err(|e| e.to_string())?;
        let text = mlpnas_runs::fingerprint::unseal(&text).map_err(|m| format!("{} (config): {m}", s.location()))?;
        let facts = Some(Facts::from_config(text).map_err(|e| format!("{}: {e}", s.location()))?);
        // Before the trials (see RunStorage::read_verified_trials).
        let covered = s.checkpoint_meta().map_err(|e| e.to_string())?.map_or(0, |c| c.trials);
        let (log, mut mark) = s.read_trials_since(have, self.mark).map_err(|e| e.to_string())?;
        let (mut keep, mut records) = (have, log.records);
        if let Some(first) = records.first() {
            if first.trial <= have {
                keep = first.trial;
            } else {
                // A gap: this run is not what was read before. Read it all again.
                let (all, m) = s.read_trials_since(0, 0).map_err(|e| e.to_string())?;
                (keep, records, mark) = (0, all.records, m);
            }
        }
        let epochs = s.read_epochs().map_err(|e| e.to_string())?;
        let finished = s.read_summary().map_err(|e| e.to_string())?.map(|s| s.wall_seconds);
        let writer = s.writer().map_err(|e| e.to_string())?;
        let leaderboard = match s.local_dir() {
            Some(dir) => Leaderboard::read(dir).map_err(|e| e.to_string())?,
            None => None,
        };
        let data = s.read_data_summary().map_err(|e| e.to_string())?;
        self.mark = mark;
        Ok(Update {
            facts,
            keep,
            records,
            epochs,
            finished,
            writer,
            leaderboard,
            data,
            covered,
            location: s.location(),
        })
    }
}

/// Everything the dashboard shows of one run.
#[derive(Debug, Clone)]
pub struct RunView {
    /// Its summary line.
    pub info: RunInfo,
    /// Its trials, in order.
    pub records: Vec<TrialRecord>,
    /// Its controller epochs.
    pub epochs: Vec<EpochReport>,
    /// The finalize leaderboard, for a run directory that has one (`final/leaderboard.json`).
    pub leaderboard: Option<Leaderboard>,
}

impl RunView {
    /// A run not read yet.
    pub fn new(id: String, location: String) -> Self {
        let info = RunInfo {
            id,
            location,
            status: Status::Interrupted,
            writer: None,
            trials: 0,
            best: None,
            facts: Facts::default(),
            wall_seconds: None,
            train_seconds: 0.0,
            epochs: 0,
            finalized: false,
            data: None,
            label: None,
            error: None,
            version: 0,
        };
        Self { info, records: Vec::new(), epochs: Vec::new(), leaderboard: None }
    }

    fn apply(&mut self, u: Update) {
        let info = &mut self.info;
        if let Some(f) = u.facts {
            info.facts = f;
        }
        self.records.truncate(u.keep);
        self.records.extend(u.records);
        self.epochs = u.epochs;
        self.leaderboard = u.leaderboard;
        info.status = match (&u.writer, u.finished) {
            (Some(_), _) => Status::Running,
            (None, Some(_)) => Status::Finished,
            (None, None) => Status::Interrupted,
        };
        info.writer = u.writer;
        info.trials = self.records.len();
        info.best = top_n(&self.records, 1).first().map(|r| Best {
            trial: r.trial,
            reward: r.reward,
            architecture: r.architecture.clone(),
        });
        info.wall_seconds = u.finished;
        info.train_seconds = self.records.iter().map(|r| r.seconds).sum();
        info.epochs = self.epochs.len();
        info.finalized = self.leaderboard.is_some();
        info.label = u.data.as_ref().map(|d| d.label.to_string());
        info.data = u.data;
        // The trials read so far, checked as every reader checks them; damage is shown, and
        // what was read is kept.
        info.error = verify_trials(&self.records, u.covered).err().map(|m| format!("{}: {m}", u.location));
    }

    /// The trials on the run's Pareto front (a multi-objective run, `search.objectives`;
    /// [`mlpnas_core::pareto_front`]), by index; empty otherwise.
    pub fn front(&self) -> Vec<usize> {
        mlpnas_core::pareto_front(&self.records).iter().map(|r| r.trial).collect()
    }

    /// How often each layer bigram of the run's trials was handed to a later trial by the weight
    /// store (see [`bigram_reuse`]); empty for a run that shares no weights.
    pub fn bigrams(&self) -> Vec<BigramUse> {
        // Under a multi-fidelity scheduler a controller epoch (a bracket) is one batch.
        let batch = if self.info.facts.scheduler.is_some() { usize::MAX } else { self.info.facts.batch };
        if self.info.facts.one_shot { bigram_reuse(&self.records, batch) } else { Vec::new() }
    }
}

/// Reads what changed in the run of `reader` into `view`. A failure (or a panic in a storage) is
/// kept as the run's error, to be shown in the page; what was read before stays. The view is
/// locked only to apply what was read, never during I/O.
pub fn refresh(reader: &mut Reader, view: &std::sync::RwLock<RunView>) {
    let have = view.read().unwrap_or_else(|e| e.into_inner()).records.len();
    let result = catch_unwind(AssertUnwindSafe(|| reader.read(have)));
    reader.last = Some(std::time::Instant::now());
    let mut v = view.write().unwrap_or_else(|e| e.into_inner());
    let before = v.info.clone();
    match result {
        Ok(Ok(update)) => v.apply(update),
        Ok(Err(e)) => v.info.error = Some(e),
        Err(_) => v.info.error = Some(format!("{}: internal error while reading the run", reader.location())),
    }
    if v.info != before || v.records.len() != before.trials {
        v.info.version = before.version + 1;
    }
}

/// One layer bigram of a run: how many trials had it and how many started it from the store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BigramUse {
    /// `prev>cur`, e.g. `input>64:relu`, `64:relu>3:softmax` (dropout skipped, as the store's keys).
    pub bigram: String,
    /// Trials whose architecture has it.
    pub trials: usize,
    /// Of those, trials that started it from weights in the store.
    pub reused: usize,
    /// The first trial that had it.
    pub first_trial: usize,
}

/// Replays the store's contents over `records` the way the search loop fills it: each controller
/// epoch's trials run in batches of `batch` ([`mlpnas_core::batches`]); a trial sees the bigrams
/// put by the trials of earlier batches (only trials whose status stores weights put any). The
/// total of `reused` over all bigrams equals the journal's `transfers` summed (for a store without
/// a size cap; with `search.folds = K` or `repeats = K`, transfers count each of the K
/// evaluations' layers, K times as many).
pub fn bigram_reuse(records: &[TrialRecord], batch: usize) -> Vec<BigramUse> {
    let mut uses: BTreeMap<String, BigramUse> = BTreeMap::new();
    let mut stored: HashSet<String> = HashSet::new();
    let mut at = 0;
    while at < records.len() {
        let epoch = records[at].epoch;
        let len = records[at..].iter().take_while(|r| r.epoch == epoch).count();
        for range in batches(len, batch) {
            let mut pending: Vec<String> = Vec::new();
            for r in &records[at + range.start..at + range.end] {
                // Re-evaluations after the search (`search.rescore_top`) share no weights.
                if r.rescore_of.is_some() {
                    continue;
                }
                for key in bigrams_of(&r.architecture) {
                    let u = uses.entry(key.clone()).or_insert(BigramUse {
                        bigram: key.clone(),
                        trials: 0,
                        reused: 0,
                        first_trial: r.trial,
                    });
                    u.trials += 1;
                    if stored.contains(&key) {
                        u.reused += 1;
                    }
                    if r.status.stores_weights() {
                        pending.push(key);
                    }
                }
            }
            stored.extend(pending);
        }
        at += len;
    }
    let mut out: Vec<BigramUse> = uses.into_values().collect();
    out.sort_by(|a, b| b.reused.cmp(&a.reused).then(b.trials.cmp(&a.trials)).then(a.bigram.cmp(&b.bigram)));
    out
}

/// The store keys of a journaled architecture (`64:relu,dropout,32:elu,3:softmax`), as
/// [`Architecture::bigram_keys`] makes them, shown with the input unnamed (`input>64:relu`);
/// none for a text that is not a network (a table point).
fn bigrams_of(architecture: &str) -> Vec<String> {
    let Ok(arch) = Architecture::parse_journaled(architecture, 0) else { return Vec::new() };
    arch.bigram_keys()
        .iter()
        .map(|k| match k.prev {
            LayerKey::Input(_) => format!("input>{}", k.cur),
            prev => format!("{prev}>{}", k.cur),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlpnas_core::TrialStatus;

    fn rec(trial: usize, epoch: usize, arch: &str, status: TrialStatus) -> TrialRecord {
        TrialRecord {
            trial,
            epoch,
            tokens: vec![],
            architecture: arch.into(),
            reward: 0.5,
            val_acc_last: 0.5,
            predicted: None,
            transfers: 0,
            params: 1,
            seconds: 0.1,
            status,
            epochs: vec![],
            metric: None,
            scores: Vec::new(),
            rescore_of: None,
            rungs: Vec::new(),
            objectives: Vec::new(),
        }
    }

    #[test]
    fn bigrams_skip_dropout_and_start_at_the_input() {
        assert_eq!(
            bigrams_of("64:relu,dropout,32:elu,3:softmax"),
            ["input>64:relu", "64:relu>32:elu", "32:elu>3:softmax"]
        );
    }

    #[test]
    fn reuse_follows_batches_and_skips_diverged_trials() {
        let ok = TrialStatus::Ok;
        let records = [
            rec(0, 0, "8:relu,3:softmax", ok),
            rec(1, 0, "8:relu,3:softmax", ok), // same batch as 0: nothing stored yet
            rec(2, 0, "8:relu,16:tanh,3:softmax", TrialStatus::Diverged),
            rec(3, 0, "8:relu,16:tanh,3:softmax", ok), // batch 1 -> sees batch 0; not trial 2's
            rec(4, 1, "16:tanh,3:softmax", ok),        // new epoch, new batch: sees 2..3's puts
        ];
        let u = bigram_reuse(&records, 2);
        let get = |k: &str| u.iter().find(|b| b.bigram == k).cloned().expect(k);
        assert_eq!(get("input>8:relu").trials, 4);
        assert_eq!(get("input>8:relu").reused, 2);
        assert_eq!(get("8:relu>16:tanh").reused, 0);
        assert_eq!(get("16:tanh>3:softmax").reused, 1);
        assert_eq!(get("input>16:tanh").reused, 0);
        assert_eq!(get("input>16:tanh").first_trial, 4);
    }

    #[test]
    fn facts_group_runs_that_differ_only_by_seed() {
        let a = "seed = 1\n[controller]\ntype = \"random\"\n[data]\nsource = \"/x/wine.csv\"\n[search]\ncontroller_epochs = 3\nsamples_per_epoch = 8\nbatch = 2\n[store]\ntype = \"memory\"\n";
        let b = a.replace("seed = 1", "seed = 7");
        let c = a.replace("batch = 2", "batch = 3");
        let (fa, fb, fc) =
            (Facts::from_config(a).expect("a"), Facts::from_config(&b).expect("b"), Facts::from_config(&c).expect("c"));
        assert_eq!(fa.group, fb.group);
        assert_ne!(fa.group, fc.group);
        assert!(fa.group.starts_with("random · wine.csv"));
        assert_eq!((fa.planned, fa.batch, fa.one_shot, fa.seed), (Some(24), 2, true, Some(1)));
        assert!(Facts::from_config("seed = [").is_err());
        assert_eq!(fa.metric, None, "accuracy, the default, needs no naming");
        let ll = Facts::from_config(&a.replace("batch = 2", "batch = 2\nmetric = \"log_loss\"")).expect("log loss");
        assert_eq!(ll.metric, Some(RunMetric { name: "log_loss".into(), minimize: true, regression: false }));
        // A regression's metric defaults to rmse, to minimise, with no accuracy beside it.
        let r = Facts::from_config(&a.replace("batch = 2", "batch = 2\ntask = \"regression\"")).expect("regression");
        assert_eq!(r.metric, Some(RunMetric { name: "rmse".into(), minimize: true, regression: true }));
        let acc = Facts::from_config(&a.replace("batch = 2", "batch = 2\nmetric = \"accuracy\"")).expect("acc");
        assert_eq!(acc.metric, None);
    }
}
