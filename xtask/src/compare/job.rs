//! One run of a comparison ([`Job`]): where it lives (a run directory, or a name in `--storage`)
//! and the `mlpnas` arguments that resume it when it was started before, or start it otherwise.

use std::path::PathBuf;

use super::plan::{SharedOptions, Source};

/// One `mlpnas search`.
#[derive(Debug, Clone)]
pub(super) struct Job {
    pub(super) data: String,
    pub(super) source: Source,
    pub(super) config: String,
    pub(super) config_path: PathBuf,
    pub(super) seed: u64,
    pub(super) run_dir: PathBuf,
    pub(super) log: PathBuf,
    /// The run's name in `--storage`, the URL, and the run's status there (`None`: not there).
    pub(super) stored: Option<(String, String, Option<String>)>,
}

impl Job {
    pub(super) fn title(&self) -> String {
        format!("{} seed {} on {}", self.config, self.seed, self.data)
    }

    /// Whether the run was started before, so that [`Job::args`] resumes it: a journal in its
    /// directory, or, in a database, a status there.
    pub(super) fn started(&self) -> bool {
        self.stored.as_ref().map_or(self.run_dir.join("journal.jsonl").exists(), |s| s.2.is_some())
    }

    /// Arguments of `mlpnas`: a resume when a journal exists, a fresh search otherwise.
    pub(super) fn args(&self, shared: &SharedOptions) -> Vec<String> {
        // Where the run lives: a run directory, or a name in a database (then this process only
        // coordinates: the workers train).
        let (flag, target, mut tail): (&str, String, Vec<String>) = match &self.stored {
            Some((name, url, _)) => {
                ("--name", name.clone(), vec!["--storage".into(), url.clone(), "--threads".into(), "0".into()])
            }
            None => ("--out", self.run_dir.to_string_lossy().into_owned(), Vec::new()),
        };
        tail.push("--quiet".into());
        if self.started() {
            return ["search".into(), "--resume".into(), target].into_iter().chain(tail).collect();
        }
        let mut a: Vec<String> = vec![
            "search".into(),
            "--config".into(),
            self.config_path.to_string_lossy().into_owned(),
            "--seed".into(),
            self.seed.to_string(),
            flag.into(),
            target,
        ];
        a.extend(tail);
        self.shared_args(shared, &mut a);
        a
    }

    fn shared_args(&self, shared: &SharedOptions, a: &mut Vec<String>) {
        a.extend(self.source.args());
        let on_table = matches!(self.source, Source::Table(_));
        if let (false, Some(l)) = (on_table, &shared.label) {
            a.extend(["--label".into(), l.clone()]);
        }
        if let (false, Some(d)) = (on_table, &shared.drop) {
            a.extend(["--drop".into(), d.clone()]);
        }
        let only_data = if on_table { &[][..] } else { &shared.data_sets[..] };
        for s in shared.sets.iter().chain(only_data) {
            a.extend(["--set".into(), s.clone()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::tests::{tmp, write_run};

    #[test]
    fn resume_or_start_and_the_arguments_passed() {
        let d = tmp("job-args");
        let job = Job {
            data: "iris".into(),
            source: Source::Data("builtin:iris".into()),
            config: "random".into(),
            config_path: d.join("random.toml"),
            seed: 2,
            run_dir: d.join("run"),
            log: d.join("log"),
            stored: None,
        };
        let shared = SharedOptions {
            label: Some("y".into()),
            drop: Some("#0,q".into()),
            sets: vec!["a.b=1".into()],
            data_sets: vec!["trainer.epochs=2".into()],
        };
        let a = job.args(&shared).join(" ");
        assert!(a.starts_with("search --config "), "{a}");
        assert!(a.contains("--seed 2 --out ") && a.contains("--quiet --data builtin:iris"), "{a}");
        assert!(a.ends_with("--label y --drop #0,q --set a.b=1 --set trainer.epochs=2"), "{a}");
        // On a table: its paths instead of --data, and no data-only options.
        let on_table = Job { source: Source::Table(d.join("t")), run_dir: d.join("t-run"), ..job.clone() };
        let t = on_table.args(&shared).join(" ");
        let path = format!("{:?}", d.join("t").to_string_lossy());
        assert!(t.contains(&format!("--set space.path={path} --set trainer.path={path}")), "{t}");
        assert!(t.ends_with("--set a.b=1") && !t.contains("--data") && !t.contains("--label"), "{t}");
        write_run(&job.run_dir, &[0.5], None);
        assert_eq!(job.args(&shared), ["search", "--resume", &job.run_dir.to_string_lossy(), "--quiet"]);
        // In a database: started with a name, or resumed by it, coordinating only.
        let url = "postgresql://u@h/db".to_string();
        let fresh = Job { stored: Some(("c/iris/random/seed-2".into(), url.clone(), None)), ..job.clone() };
        let a = fresh.args(&shared).join(" ");
        assert!(a.contains("--name c/iris/random/seed-2 --storage postgresql://u@h/db --threads 0"), "{a}");
        assert!(!a.contains("--out") && a.ends_with("--set trainer.epochs=2"), "{a}");
        let again = Job { stored: Some(("c/iris/random/seed-2".into(), url, Some("interrupted".into()))), ..job };
        assert_eq!(
            again.args(&shared).join(" "),
            "search --resume c/iris/random/seed-2 --storage postgresql://u@h/db --threads 0 --quiet"
        );
    }
}
