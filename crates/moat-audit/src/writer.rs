//! The batching writer: appends queue in order; one task writes whatever
//! queued while the previous commit was in flight as one transaction (group
//! commit), answers each append once its record is committed, and signs a
//! checkpoint every so many records or seconds.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::body::Prepared;
use crate::event::event_record;
use crate::log::{Appended, WriterState};
use crate::{AuditError, AuditLog, AuditRecord};

/// How the writer batches and checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterSettings {
    /// Most records in one transaction.
    pub max_batch: usize,
    /// A checkpoint after this many records (0: not by count).
    pub checkpoint_every: u64,
    /// A checkpoint after this long with records not yet checkpointed
    /// (zero: not by time).
    pub checkpoint_interval: Duration,
}

impl Default for WriterSettings {
    fn default() -> Self {
        Self {
            max_batch: 512,
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(60),
        }
    }
}

/// Pauses before writing a failed batch again.
const RETRY_PAUSES: [Duration; 2] = [Duration::from_millis(50), Duration::from_millis(250)];

type AppendReply = oneshot::Sender<Result<u64, AuditError>>;

enum Job {
    Append {
        record: Box<Prepared>,
        reply: Option<AppendReply>,
    },
    Control(Control),
}

/// Work done in order between batches.
enum Control {
    /// Write what is queued and a checkpoint, then stop.
    Close(oneshot::Sender<Result<(), AuditError>>),
    /// Erase a data subject (by pseudonym) after everything queued before,
    /// then record it.
    Erase {
        pseudonym: String,
        now_ms: i64,
        reply: oneshot::Sender<Result<bool, AuditError>>,
    },
}

struct State {
    backlog: AtomicUsize,
    closed: AtomicBool,
}

/// A handle on a writer task. Cheap to clone; the task ends, after writing
/// what is queued and a checkpoint, on [`close`](Self::close) or when every
/// clone is dropped.
#[derive(Clone)]
pub struct AuditWriter {
    log: AuditLog,
    jobs: mpsc::UnboundedSender<Job>,
    state: Arc<State>,
}

impl std::fmt::Debug for AuditWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditWriter")
            .field("backlog", &self.backlog())
            .finish_non_exhaustive()
    }
}

impl AuditWriter {
    pub(crate) fn spawn(log: AuditLog, settings: WriterSettings) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            backlog: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        });
        tokio::spawn(run(log.clone(), settings, queue, state.clone()));
        Self { log, jobs, state }
    }

    /// Appends a record; resolves with its seq once it is committed. The
    /// record is written even when this future is dropped.
    pub async fn append(&self, record: AuditRecord) -> Result<u64, AuditError> {
        let prepared = Prepared::new(self.log.keys(), record)?;
        self.append_prepared(prepared).await
    }

    /// Appends a record without waiting (nobody is left to wait, e.g. the
    /// client disconnected); written in order all the same. A record that
    /// cannot be written is logged.
    pub fn append_detached(&self, record: AuditRecord) {
        let request_id = record.request_id.clone();
        let queued = Prepared::new(self.log.keys(), record).and_then(|p| self.enqueue(p, None));
        if let Err(err) = queued {
            tracing::error!(request_id, error = %err, "audit record not written");
        }
    }

    /// Writes everything queued and a checkpoint, then stops the writer;
    /// later appends fail with [`AuditError::Closed`]. For shutdown.
    pub async fn close(&self) -> Result<(), AuditError> {
        self.state.closed.store(true, Ordering::SeqCst);
        let (reply, done) = oneshot::channel();
        if self.jobs.send(Job::Control(Control::Close(reply))).is_err() {
            return Ok(());
        }
        done.await.unwrap_or(Ok(()))
    }

    /// Erases the subject with `pseudonym` once the records queued before
    /// are written, so that their content is erased too; then records the
    /// erasure. True when there was something to destroy.
    pub(crate) async fn erase(&self, pseudonym: String, now_ms: i64) -> Result<bool, AuditError> {
        if self.state.closed.load(Ordering::SeqCst) {
            return Err(AuditError::Closed);
        }
        let (reply, done) = oneshot::channel();
        let job = Job::Control(Control::Erase {
            pseudonym,
            now_ms,
            reply,
        });
        self.jobs.send(job).map_err(|_| AuditError::Closed)?;
        done.await.map_err(|_| AuditError::Closed)?
    }

    /// Records queued and not yet written.
    pub fn backlog(&self) -> usize {
        self.state.backlog.load(Ordering::Relaxed)
    }

    pub(crate) async fn append_prepared(&self, prepared: Prepared) -> Result<u64, AuditError> {
        let (reply, written) = oneshot::channel();
        self.enqueue(prepared, Some(reply))?;
        written.await.map_err(|_| AuditError::Closed)?
    }

    fn enqueue(&self, prepared: Prepared, reply: Option<AppendReply>) -> Result<(), AuditError> {
        if self.state.closed.load(Ordering::SeqCst) {
            return Err(AuditError::Closed);
        }
        self.state.backlog.fetch_add(1, Ordering::Relaxed);
        let job = Job::Append {
            record: Box::new(prepared),
            reply,
        };
        if self.jobs.send(job).is_err() {
            self.state.backlog.fetch_sub(1, Ordering::Relaxed);
            return Err(AuditError::Closed);
        }
        Ok(())
    }
}

/// The writer task.
async fn run(
    log: AuditLog,
    settings: WriterSettings,
    mut queue: mpsc::UnboundedReceiver<Job>,
    state: Arc<State>,
) {
    let mut task = Task {
        log,
        interval: (!settings.checkpoint_interval.is_zero()).then_some(settings.checkpoint_interval),
        settings,
        state: WriterState::default(),
        unsigned: 0,
        last_checkpoint: Instant::now(),
    };
    let max_batch = task.settings.max_batch.max(1);
    let mut batch: Vec<Prepared> = Vec::with_capacity(max_batch);
    let mut replies: Vec<Option<AppendReply>> = Vec::with_capacity(max_batch);

    loop {
        let first = match task.interval {
            Some(interval) if task.unsigned > 0 => {
                tokio::select! {
                    job = queue.recv() => job,
                    () = tokio::time::sleep_until(task.last_checkpoint + interval) => {
                        task.checkpoint().await;
                        continue;
                    }
                }
            }
            _ => queue.recv().await,
        };
        let mut control = None;
        match first {
            None => {
                if task.unsigned > 0 {
                    task.checkpoint().await;
                }
                return;
            }
            Some(Job::Control(next)) => control = Some(next),
            Some(Job::Append { record, reply }) => {
                batch.push(*record);
                replies.push(reply);
            }
        }
        // Whatever queued while the last commit was in flight.
        while control.is_none() && batch.len() < max_batch {
            match queue.try_recv() {
                Ok(Job::Append { record, reply }) => {
                    batch.push(*record);
                    replies.push(reply);
                }
                Ok(Job::Control(next)) => control = Some(next),
                Err(_) => break,
            }
        }

        if !batch.is_empty() {
            let closing = matches!(control, Some(Control::Close(_)));
            task.write_batch(&mut batch, &mut replies, closing).await;
            state.backlog.fetch_sub(batch.len(), Ordering::Relaxed);
            batch.clear();
        }

        match control {
            None => {}
            Some(Control::Erase {
                pseudonym,
                now_ms,
                reply,
            }) => {
                let _ = reply.send(task.erase(pseudonym, now_ms).await);
            }
            Some(Control::Close(reply)) => {
                let result = if task.unsigned > 0 {
                    task.log.checkpoint(&mut task.state).await
                } else {
                    Ok(())
                };
                let _ = reply.send(result);
                // Appends that raced with closing are answered `Closed` by
                // their dropped reply channels.
                queue.close();
                let mut dropped = 0;
                while let Ok(job) = queue.try_recv() {
                    if let Job::Append { reply: None, .. } = job {
                        dropped += 1;
                    }
                }
                if dropped > 0 {
                    tracing::error!(
                        records = dropped,
                        "audit records queued after close not written"
                    );
                }
                state.backlog.store(0, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// The writer task's state between batches.
struct Task {
    log: AuditLog,
    settings: WriterSettings,
    interval: Option<Duration>,
    state: WriterState,
    /// Records written since the last checkpoint.
    unsigned: u64,
    last_checkpoint: Instant,
}

impl Task {
    /// Writes a batch and answers its appends.
    async fn write_batch(
        &mut self,
        batch: &mut [Prepared],
        replies: &mut Vec<Option<AppendReply>>,
        closing: bool,
    ) {
        let count = batch.len() as u64;
        let due = closing
            || (self.settings.checkpoint_every > 0
                && self.unsigned + count >= self.settings.checkpoint_every)
            || self
                .interval
                .is_some_and(|interval| self.last_checkpoint.elapsed() >= interval);
        match self.write(batch, due).await {
            Ok(appended) => {
                for (seq, reply) in (appended.first_seq..).zip(replies.drain(..)) {
                    if let Some(reply) = reply {
                        let _ = reply.send(Ok(seq));
                    }
                }
                self.written(count, appended.checkpointed);
            }
            Err(err) => {
                let message = err.to_string();
                let mut detached = 0;
                for reply in replies.drain(..) {
                    match reply {
                        Some(reply) => {
                            let _ = reply.send(Err(AuditError::Write(message.clone())));
                        }
                        None => detached += 1,
                    }
                }
                tracing::error!(
                    records = count,
                    detached,
                    error = %message,
                    "audit records not written"
                );
            }
        }
    }

    /// Writes a batch, trying again after a pause when the database fails.
    async fn write(
        &mut self,
        batch: &mut [Prepared],
        checkpoint: bool,
    ) -> Result<Appended, AuditError> {
        let mut pauses = RETRY_PAUSES.iter();
        loop {
            match self
                .log
                .append_batch(&mut self.state, batch, checkpoint)
                .await
            {
                Ok(appended) => return Ok(appended),
                Err(err) => match pauses.next() {
                    Some(pause) => {
                        tracing::warn!(error = %err, "audit batch not written; trying again");
                        tokio::time::sleep(*pause).await;
                    }
                    None => return Err(err),
                },
            }
        }
    }

    fn written(&mut self, count: u64, checkpointed: bool) {
        if checkpointed {
            self.unsigned = 0;
            self.last_checkpoint = Instant::now();
        } else {
            self.unsigned += count;
        }
    }

    async fn checkpoint(&mut self) {
        match self.log.checkpoint(&mut self.state).await {
            Ok(()) => self.unsigned = 0,
            Err(err) => tracing::error!(error = %err, "audit checkpoint not written"),
        }
        self.last_checkpoint = Instant::now();
    }

    /// Destroys the subject's content key and sealed id, then records the
    /// erasure.
    async fn erase(&mut self, pseudonym: String, now_ms: i64) -> Result<bool, AuditError> {
        let erased = self.log.store().delete_audit_subject(&pseudonym).await?;
        self.state.keys.remove(&pseudonym);
        tracing::info!(subject = %pseudonym, erased, "audit data subject erased");
        let mut record = event_record("audit.erase", if erased { 200 } else { 404 }, now_ms);
        if !erased {
            record.error_code = Some("subject_not_found".into());
        }
        let mut batch = [Prepared::event(self.log.keys(), record, Some(pseudonym))?];
        let appended = self.write(&mut batch, false).await?;
        self.written(1, appended.checkpointed);
        Ok(erased)
    }
}
