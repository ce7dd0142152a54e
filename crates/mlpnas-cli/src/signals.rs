//! Ctrl-C and SIGTERM: what a search, a tabulation or a finalize says and leaves behind when
//! interrupted.

use std::path::PathBuf;

/// Ctrl-C (or SIGTERM) ends the search at once: the trial in flight is abandoned, every finished
/// trial is already durable in the run directory, and the message says how to continue. Exiting
/// from any point is safe by design (the same as a crash; see `Search`).
#[cfg(unix)]
pub(crate) fn on_interrupt(kept: &str, resume: &str) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let (kept, resume) = (kept.to_string(), resume.to_string());
    match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    note!(
                        "\ninterrupted: the trial in flight is abandoned, finished trials are kept in {kept}; continue with: {resume}"
                    );
                    std::process::exit(128 + sig);
                }
            });
        }
        Err(e) => note!("warning: cannot catch Ctrl-C ({e}); an interrupted search can still be resumed"),
    }
}

#[cfg(not(unix))]
pub(crate) fn on_interrupt(_kept: &str, _resume: &str) {}

/// Ctrl-C (or SIGTERM) during finalize: the models trained so far live only in its temporary
/// directory, which is removed; the message says that nothing was written to `out`.
#[cfg(unix)]
pub(crate) fn on_finalize_interrupt(tmp: PathBuf, out: PathBuf) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let _ = std::fs::remove_dir_all(&tmp);
                note!(
                    "\ninterrupted: finalize stopped, nothing was written to {}; run it again to finalize",
                    out.display()
                );
                std::process::exit(128 + sig);
            }
        });
    }
}

#[cfg(not(unix))]
pub(crate) fn on_finalize_interrupt(_tmp: PathBuf, _out: PathBuf) {}
