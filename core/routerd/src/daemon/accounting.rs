//! The accounting writer: a thread of its own owns the [`AccountingLog`], because every
//! record is synced to disk before the next one (a blocking `fsync` must not stall the
//! runtime). Records are queued; a full queue drops the record and counts it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use crate::accounting::{AccountingLog, Record};
use crate::config::AccountingConfig;

/// Records queued at most before new ones are dropped.
const QUEUE: usize = 4096;

enum Msg {
    Record(Box<Record>),
    Reopen(Option<(PathBuf, u64, u32)>),
    Flush(SyncSender<()>),
}

/// A handle to the accounting thread. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Accounting {
    tx: Arc<Mutex<SyncSender<Msg>>>,
    /// Records written.
    pub written: Arc<AtomicU64>,
    /// Records lost (queue full, disabled log, write errors).
    pub lost: Arc<AtomicU64>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("accounting message")
    }
}

fn target(config: &AccountingConfig, path: PathBuf) -> Option<(PathBuf, u64, u32)> {
    config
        .enabled
        .then_some((path, config.rotate_size_bytes, config.keep))
}

impl Accounting {
    /// Starts the thread, writing to `path` as `config` says (nothing when disabled).
    pub fn start(config: &AccountingConfig, path: PathBuf) -> Self {
        let (tx, rx) = sync_channel::<Msg>(QUEUE);
        let written = Arc::new(AtomicU64::new(0));
        let lost = Arc::new(AtomicU64::new(0));
        let (w, l) = (written.clone(), lost.clone());
        let first = target(config, path);
        let spawned = thread::Builder::new()
            .name("accounting".into())
            .spawn(move || {
                let open = |t: &Option<(PathBuf, u64, u32)>| {
                    t.as_ref().and_then(|(p, size, keep)| {
                        match AccountingLog::open(p, *size, *keep) {
                            Ok(log) => Some(log),
                            Err(e) => {
                                tracing::error!("accounting log {}: {e}", p.display());
                                None
                            }
                        }
                    })
                };
                let mut log = open(&first);
                while let Ok(msg) = rx.recv() {
                    match msg {
                        Msg::Record(r) => match log.as_mut().map(|log| log.append(&r)) {
                            Some(Ok(())) => {
                                w.fetch_add(1, Ordering::Relaxed);
                            }
                            Some(Err(e)) => {
                                tracing::error!("accounting: {e}");
                                l.fetch_add(1, Ordering::Relaxed);
                            }
                            None => {
                                l.fetch_add(1, Ordering::Relaxed);
                            }
                        },
                        Msg::Reopen(t) => log = open(&t),
                        Msg::Flush(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the accounting thread: {e}");
        }
        Accounting {
            tx: Arc::new(Mutex::new(tx)),
            written,
            lost,
        }
    }

    fn send(&self, msg: Msg) -> bool {
        let tx = self.tx.lock().unwrap_or_else(PoisonError::into_inner);
        match tx.try_send(msg) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// Queues a record.
    pub fn record(&self, record: Record) {
        if !self.send(Msg::Record(Box::new(record))) {
            self.lost.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("accounting queue full: record dropped");
        }
    }

    /// Switches to a new log configuration (after a config change).
    pub fn reconfigure(&self, config: &AccountingConfig, path: PathBuf) {
        let _ = self.send(Msg::Reopen(target(config, path)));
    }

    /// Waits (blocking) until every record queued so far is written.
    pub fn flush_blocking(&self) {
        let (done, wait) = sync_channel(1);
        if self.send(Msg::Flush(done)) {
            let _ = wait.recv();
        }
    }
}
