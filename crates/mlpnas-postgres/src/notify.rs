//! [`Waker`]: LISTEN/NOTIFY, so that idle workers and a waiting coordinator wake when tasks or
//! results appear instead of polling.

use std::sync::Mutex;
use std::time::Duration;

use crate::url::PgUrl;

/// Wakes waiting workers and coordinators when tasks or results appear: one connection per
/// process LISTENs on [`CHANNEL`] (writers `pg_notify` it in the same transaction as their
/// write), and every notification bumps a counter that waiters block on. A lost connection is
/// reconnected with backoff; meanwhile waits simply time out (callers poll then).
pub(crate) struct Waker {
    url: PgUrl,
    state: Mutex<(u64, bool)>,
    changed: std::sync::Condvar,
}

/// The notification channel of mlpnas.
pub(crate) const CHANNEL: &str = "mlpnas";

impl Waker {
    pub(crate) fn new(url: &PgUrl) -> Self {
        Self { url: url.clone(), state: Mutex::new((0, false)), changed: std::sync::Condvar::new() }
    }

    /// The counter, starting the listener on first use.
    pub(crate) fn changes(self: &std::sync::Arc<Self>) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !st.1 {
            st.1 = true;
            let me = std::sync::Arc::clone(self);
            std::thread::spawn(move || me.listen());
        }
        st.0
    }

    pub(crate) fn wait(&self, seen: u64, timeout: Duration) {
        let st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = self.changed.wait_timeout_while(st, timeout, |st| st.0 == seen);
    }

    fn bump(&self) {
        let mut st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        st.0 += 1;
        self.changed.notify_all();
    }

    /// The listener thread: forever (it ends with the process).
    fn listen(&self) {
        let mut pause = Duration::from_millis(100);
        loop {
            let Ok(mut c) = self.url.connect() else {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(2));
                continue;
            };
            if c.batch_execute(&format!("LISTEN {CHANNEL}")).is_err() {
                continue;
            }
            pause = Duration::from_millis(100);
            // Anything may have happened while not listening.
            self.bump();
            loop {
                use postgres::fallible_iterator::FallibleIterator;
                let next = c.notifications().timeout_iter(Duration::from_secs(1)).next();
                match next {
                    Ok(Some(_)) => self.bump(),
                    Ok(None) if c.is_closed() => break,
                    Ok(None) => {}
                    Err(_) => break,
                }
            }
        }
    }
}
