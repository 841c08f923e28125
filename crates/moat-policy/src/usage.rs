//! Usage per principal, role, model and UTC day, written to the store in
//! batches off the request path (`moat usage` reads it).

use std::collections::HashMap;
use std::time::Duration;

use moat_store::{Store, UsageDelta};
use tokio::sync::{mpsc, oneshot};

/// How often gathered usage is written.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

enum Message {
    Add(UsageDelta),
    Flush(oneshot::Sender<()>),
}

/// Sends usage to the writer task; cheap to clone.
#[derive(Debug, Clone)]
pub struct UsageRecorder {
    tx: mpsc::UnboundedSender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("usage message")
    }
}

impl UsageRecorder {
    /// Start the writer task on the current runtime.
    pub fn spawn(store: Store) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_loop(store, rx));
        (Self { tx }, task)
    }

    pub fn add(&self, delta: UsageDelta) {
        // The writer only stops when every recorder is gone.
        let _ = self.tx.send(Message::Add(delta));
    }

    /// Write everything gathered so far; returns once it is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Message::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

type Group = (String, String, String, String);

async fn write_loop(store: Store, mut rx: mpsc::UnboundedReceiver<Message>) {
    let mut pending: HashMap<Group, UsageDelta> = HashMap::new();
    let mut tick = tokio::time::interval(FLUSH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = rx.recv() => match message {
                Some(Message::Add(d)) => {
                    let key = (d.day.clone(), d.principal.clone(), d.role.clone(), d.model.clone());
                    let entry = pending.entry(key).or_insert_with(|| UsageDelta {
                        requests: 0,
                        prompt_tokens: 0,
                        completion_tokens: 0,
                        ..d.clone()
                    });
                    entry.requests += d.requests;
                    entry.prompt_tokens += d.prompt_tokens;
                    entry.completion_tokens += d.completion_tokens;
                }
                Some(Message::Flush(done)) => {
                    write(&store, &mut pending).await;
                    let _ = done.send(());
                }
                None => {
                    write(&store, &mut pending).await;
                    return;
                }
            },
            _ = tick.tick() => write(&store, &mut pending).await,
        }
    }
}

async fn write(store: &Store, pending: &mut HashMap<Group, UsageDelta>) {
    if pending.is_empty() {
        return;
    }
    let rows: Vec<UsageDelta> = pending.values().cloned().collect();
    match store.add_usage(&rows).await {
        Ok(()) => pending.clear(),
        // Kept and retried on the next tick.
        Err(error) => tracing::warn!(%error, rows = rows.len(), "cannot record usage yet"),
    }
}
