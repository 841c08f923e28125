//! The log over a store, and appending a batch of records to the chain:
//! seal content with each subject's key, number the records from the head,
//! hash them in order and write them with the head's move in one
//! transaction, again from the new head when another writer got there first.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use moat_protocol::time::now_ms;
use moat_store::{
    AuditAppend, AuditHead, AuditPrincipal, AuditRow, AuditSession, AuditSubjectKey, Store,
};

use crate::body::Prepared;
use crate::canonical::chain_hash;
use crate::checkpoint::{is_signed_by, sign};
use crate::crypto::{ContentKey, SubjectKey};
use crate::writer::{AuditWriter, WriterSettings};
use crate::{AuditError, AuditKeys};

/// How often one batch is rebuilt on a moved head before giving up.
const APPEND_ATTEMPTS: usize = 16;

/// Most content keys one writer keeps open.
const KEY_CACHE_MAX: usize = 10_000;

/// What a writer keeps between batches.
#[derive(Default)]
pub(crate) struct WriterState {
    /// The chain head as this writer left it; `None`: read it.
    pub head: Option<AuditHead>,
    /// Content keys in use.
    pub keys: KeyCache,
    /// The writer's database connection.
    pub session: AuditSession,
}

/// Content keys a writer has used, opened, with the wrapped form stored.
/// Each append has the database check that every key it used is still
/// stored as such, so a key erased or replaced by another process is
/// noticed and read again, never silently used.
#[derive(Default)]
pub(crate) struct KeyCache {
    keys: HashMap<String, (SubjectKey, AuditSubjectKey)>,
}

impl KeyCache {
    /// A key read from the store (`created_ms` `None`) or made now.
    fn insert(
        &mut self,
        subject: String,
        key: SubjectKey,
        wrapped: Vec<u8>,
        created_ms: Option<i64>,
    ) {
        let stored = AuditSubjectKey {
            subject: subject.clone(),
            wrapped,
            created_ms: created_ms.unwrap_or(0),
            new: created_ms.is_some(),
        };
        self.keys.insert(subject, (key, stored));
    }

    /// After an append: every key is stored now.
    fn stored(&mut self) {
        for (_, key) in self.keys.values_mut() {
            key.new = false;
        }
    }

    /// Forgets the key of one subject (erased).
    pub(crate) fn remove(&mut self, subject: &str) {
        self.keys.remove(subject);
    }

    pub(crate) fn clear(&mut self) {
        self.keys.clear();
    }
}

/// The audit log over a store. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<LogInner>,
}

struct LogInner {
    store: Store,
    keys: AuditKeys,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

/// What one append wrote.
pub(crate) struct Appended {
    /// Seq of the batch's first record.
    pub first_seq: u64,
    /// Whether a checkpoint of the last record was written with it.
    pub checkpointed: bool,
}

impl AuditLog {
    /// The log in `store`, signed and pseudonymized with `keys`. Refused
    /// when `keys` do not verify the latest checkpoint: a different key file
    /// would fork the signed chain and could not read stored content.
    pub async fn open(store: Store, keys: AuditKeys) -> Result<Self, AuditError> {
        store.audit_head().await?;
        if let Some(checkpoint) = store.latest_audit_checkpoint().await? {
            if !is_signed_by(&keys.verifying_key(), &checkpoint) {
                return Err(AuditError::KeysMismatch {
                    seq: u64::try_from(checkpoint.seq).unwrap_or(0),
                });
            }
        }
        let found = keys.fingerprint();
        let stored = store.claim_audit_keys_fingerprint(&found).await?;
        if stored != found {
            return Err(AuditError::KeysNotTheLogs { stored, found });
        }
        Ok(Self {
            inner: Arc::new(LogInner { store, keys }),
        })
    }

    /// The store the log lives in.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The log's keys.
    pub fn keys(&self) -> &AuditKeys {
        &self.inner.keys
    }

    /// Starts a batching writer task (within a Tokio runtime). Several
    /// writers, in one process or in several sharing a database, append to
    /// one chain. A writer keeps one connection of the store's pool until
    /// it is closed or every handle is dropped: close writers before the
    /// store.
    pub fn writer(&self, settings: WriterSettings) -> AuditWriter {
        AuditWriter::spawn(self.clone(), settings)
    }

    /// Appends `batch` after the writer's head (read from the store when
    /// unknown), sealing content with the writer's cached keys (filled from
    /// the store as needed). When the head or a key turns out stale, both
    /// are read again.
    pub(crate) async fn append_batch(
        &self,
        writer: &mut WriterState,
        batch: &mut [Prepared],
        checkpoint: bool,
    ) -> Result<Appended, AuditError> {
        let store = self.store();
        let WriterState {
            head,
            keys,
            session,
        } = writer;
        for _ in 0..APPEND_ATTEMPTS {
            let current = match head.take() {
                Some(current) => current,
                None => store.audit_head().await?,
            };
            let subject_keys = match self.seal_contents(batch, keys).await {
                Ok(subject_keys) => subject_keys,
                Err(err) => {
                    keys.clear();
                    return Err(err);
                }
            };
            let principals = self.principals(batch)?;
            let first_seq = u64::try_from(current.seq + 1).unwrap_or(0);
            let mut rows = Vec::with_capacity(batch.len());
            let mut prev_hash = current.hash.clone();
            for (i, prepared) in (0u64..).zip(batch.iter_mut()) {
                let seq = first_seq + i;
                let body = prepared.canonical(seq)?;
                let hash = chain_hash(&prev_hash, &body).to_vec();
                rows.push(AuditRow {
                    seq: i64::try_from(seq).unwrap_or(i64::MAX),
                    prev_hash: std::mem::replace(&mut prev_hash, hash.clone()),
                    hash,
                    time_ms: prepared.body.record.time_ms,
                    principal: prepared.body.record.principal.clone(),
                    model: prepared.body.record.model.clone(),
                    status: i64::from(prepared.body.record.status),
                    body,
                });
            }
            let Some(last) = rows.last() else {
                *head = Some(current);
                return Ok(Appended {
                    first_seq,
                    checkpointed: false,
                });
            };
            let new_head = AuditHead {
                seq: last.seq,
                hash: last.hash.clone(),
            };
            let signed = checkpoint.then(|| sign(self.keys(), last.seq, &last.hash, now_ms()));
            let appended = store
                .append_audit(
                    session,
                    AuditAppend {
                        expected_head: &current,
                        records: &rows,
                        subject_keys: &subject_keys,
                        principals: &principals,
                        checkpoint: signed.as_ref(),
                    },
                )
                .await;
            match appended {
                Ok(true) => {
                    keys.stored();
                    *head = Some(new_head);
                    return Ok(Appended {
                        first_seq,
                        checkpointed: checkpoint,
                    });
                }
                Ok(false) => {
                    tracing::debug!(
                        "audit head or a subject key changed under another writer; rebuilding the batch"
                    );
                }
                Err(err) => {
                    keys.clear();
                    return Err(err.into());
                }
            }
            keys.clear();
        }
        Err(AuditError::Write(
            "the chain head kept moving under concurrent writers".into(),
        ))
    }

    /// Writes a checkpoint of the writer's head (read when unknown); nothing
    /// before the first record.
    pub(crate) async fn checkpoint(&self, writer: &mut WriterState) -> Result<(), AuditError> {
        let head = &mut writer.head;
        let current = match head.take() {
            Some(current) => current,
            None => self.store().audit_head().await?,
        };
        if current.seq > 0 {
            let checkpoint = sign(self.keys(), current.seq, &current.hash, now_ms());
            self.store().insert_audit_checkpoint(&checkpoint).await?;
        }
        *head = Some(current);
        Ok(())
    }

    /// Seals each record's pending content with its subject's key, making
    /// keys for subjects that have none; returns every key used, wrapped.
    async fn seal_contents(
        &self,
        batch: &mut [Prepared],
        cache: &mut KeyCache,
    ) -> Result<Vec<AuditSubjectKey>, AuditError> {
        let subjects: BTreeSet<String> = batch
            .iter()
            .filter_map(|p| p.pending.as_ref().map(|c| c.subject.clone()))
            .collect();
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        if cache.keys.len() + subjects.len() > KEY_CACHE_MAX {
            cache.clear();
        }
        let missing: Vec<String> = subjects
            .iter()
            .filter(|subject| !cache.keys.contains_key(*subject))
            .cloned()
            .collect();
        if !missing.is_empty() {
            for (subject, key, wrapped) in self.load_subject_keys(&missing).await? {
                cache.insert(subject, key, wrapped, None);
            }
        }
        for subject in &subjects {
            if cache.keys.contains_key(subject) {
                continue;
            }
            let key: [u8; 32] = rand::random();
            let wrapped = self
                .keys()
                .vault()
                .seal(&subject_key_label(subject), &key)?;
            let opened = SubjectKey::new(&key, &wrapped);
            cache.insert(subject.clone(), opened, wrapped, Some(now_ms()));
        }
        for prepared in batch.iter_mut() {
            let Some(subject) = prepared.pending.as_ref().map(|c| c.subject.as_str()) else {
                continue;
            };
            if let Some((key, _)) = cache.keys.get(subject) {
                prepared.seal(key)?;
            }
        }
        Ok(subjects
            .iter()
            .filter_map(|subject| cache.keys.get(subject).map(|(_, stored)| stored.clone()))
            .collect())
    }

    /// The content key of `principal`'s subject (its pseudonym), the one
    /// its audit content is sealed with: read from the store, or made and
    /// stored when the subject has none. When another writer stores one at
    /// the same time, the stored one is returned (the first stored wins).
    pub async fn content_key(&self, principal: &str) -> Result<ContentKey, AuditError> {
        let subject = self.keys().pseudonym(principal);
        if let Some(key) = self.stored_content_key(&subject).await? {
            return Ok(key);
        }
        let key: [u8; 32] = rand::random();
        let wrapped = self
            .keys()
            .vault()
            .seal(&subject_key_label(&subject), &key)?;
        self.store()
            .insert_audit_subject_key(&subject, &wrapped, now_ms())
            .await?;
        self.stored_content_key(&subject)
            .await?
            .ok_or_else(|| AuditError::Corrupt {
                what: format!("content key of subject {subject}"),
                detail: "it was erased while it was being made; try again".into(),
            })
    }

    /// The stored content key of `subject` (a pseudonym), for reading
    /// content sealed under it; `None` when the subject has none (never
    /// had one, or was erased). Never makes one.
    pub async fn subject_content_key(
        &self,
        subject: &str,
    ) -> Result<Option<ContentKey>, AuditError> {
        self.stored_content_key(subject).await
    }

    async fn stored_content_key(&self, subject: &str) -> Result<Option<ContentKey>, AuditError> {
        Ok(self
            .load_subject_keys(&[subject.to_owned()])
            .await?
            .pop()
            .map(|(subject, key, wrapped)| ContentKey {
                subject,
                key,
                wrapped,
            }))
    }

    /// The stored content keys of `subjects` (erased ones are missing),
    /// opened.
    pub(crate) async fn subject_keys(
        &self,
        subjects: &[String],
    ) -> Result<BTreeMap<String, SubjectKey>, AuditError> {
        Ok(self
            .load_subject_keys(subjects)
            .await?
            .into_iter()
            .map(|(subject, key, _)| (subject, key))
            .collect())
    }

    async fn load_subject_keys(
        &self,
        subjects: &[String],
    ) -> Result<Vec<(String, SubjectKey, Vec<u8>)>, AuditError> {
        let mut keys = Vec::new();
        for (subject, wrapped) in self.store().audit_subject_keys(subjects).await? {
            let key: [u8; 32] = self
                .keys()
                .vault()
                .open(&subject_key_label(&subject), &wrapped)
                .and_then(|key| key.try_into().ok())
                .ok_or_else(|| AuditError::Corrupt {
                    what: format!("content key of subject {subject}"),
                    detail: "it does not open with the audit key file's vault key".into(),
                })?;
            keys.push((subject, SubjectKey::new(&key, &wrapped), wrapped));
        }
        Ok(keys)
    }

    /// The batch's clear principal ids, sealed for auditors.
    fn principals(&self, batch: &[Prepared]) -> Result<Vec<AuditPrincipal>, AuditError> {
        let distinct: BTreeMap<&str, &str> = batch
            .iter()
            .filter_map(|p| p.identity.as_ref())
            .map(|(clear, pseudonym)| (pseudonym.as_str(), clear.as_str()))
            .collect();
        distinct
            .into_iter()
            .map(|(pseudonym, clear)| {
                Ok(AuditPrincipal {
                    pseudonym: pseudonym.to_owned(),
                    sealed: self
                        .keys()
                        .vault()
                        .seal(&principal_label(pseudonym), clear.as_bytes())?,
                })
            })
            .collect()
    }

    /// The clear id behind a pseudonym.
    pub(crate) async fn principal(&self, pseudonym: &str) -> Result<Option<String>, AuditError> {
        let Some(sealed) = self.store().audit_principal(pseudonym).await? else {
            return Ok(None);
        };
        let clear = self
            .keys()
            .vault()
            .open(&principal_label(pseudonym), &sealed)
            .and_then(|clear| String::from_utf8(clear).ok())
            .ok_or_else(|| AuditError::Corrupt {
                what: format!("principal of pseudonym {pseudonym}"),
                detail: "it does not open with the audit key file's vault key".into(),
            })?;
        Ok(Some(clear))
    }
}

fn subject_key_label(subject: &str) -> Vec<u8> {
    format!("moat-audit subject key v1 {subject}").into_bytes()
}

fn principal_label(pseudonym: &str) -> Vec<u8> {
    format!("moat-audit principal v1 {pseudonym}").into_bytes()
}
