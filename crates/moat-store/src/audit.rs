//! The audit log's tables: hash-chained records, signed checkpoints, the
//! chain head, content keys per data subject and sealed principal ids. This
//! module stores and reads rows; hashing, signing, encryption and
//! verification belong to `moat-audit`.

use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection as _, Row as _, Transaction};

use crate::{Store, StoreError, StoreKind};

/// One stored audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// SHA-256 of `prev_hash || body`.
    pub hash: Vec<u8>,
    /// Hash of the record before (32 zero bytes before the first).
    pub prev_hash: Vec<u8>,
    /// When the request arrived (ms since the Unix epoch), as in the body.
    pub time_ms: i64,
    /// Pseudonym of the principal, as in the body.
    pub principal: Option<String>,
    /// Model, as in the body.
    pub model: Option<String>,
    /// HTTP status, as in the body.
    pub status: i64,
    /// The record's canonical JSON, which the hash covers.
    pub body: String,
}

/// A signed checkpoint of the chain at `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpoint {
    /// The record the checkpoint vouches for.
    pub seq: i64,
    /// That record's hash.
    pub hash: Vec<u8>,
    /// When the checkpoint was made (ms since the Unix epoch).
    pub time_ms: i64,
    /// Ed25519 signature over seq, hash and time.
    pub signature: Vec<u8>,
}

/// The chain head: seq and hash of the last record appended (0 and 32 zero
/// bytes before the first). It survives a purge of every record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    /// Seq of the last record.
    pub seq: i64,
    /// Hash of the last record.
    pub hash: Vec<u8>,
}

/// The content key of one data subject, wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSubjectKey {
    /// The subject (pseudonym of a principal).
    pub subject: String,
    /// The key, encrypted under a key kept outside the database.
    pub wrapped: Vec<u8>,
    /// When the key was made.
    pub created_ms: i64,
    /// Made for this append and to be stored by it; otherwise read from the
    /// store earlier and only checked (never stored again: the subject may
    /// have been erased since).
    pub new: bool,
}

/// The clear id behind a pseudonym, sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPrincipal {
    /// The pseudonym records carry.
    pub pseudonym: String,
    /// The clear id, encrypted under a key kept outside the database.
    pub sealed: Vec<u8>,
}

/// What one append writes, all or nothing.
#[derive(Debug, Clone, Copy)]
pub struct AuditAppend<'a> {
    /// The head the records were chained onto; the append is refused when
    /// the stored head has moved since.
    pub expected_head: &'a AuditHead,
    /// Records in seq order, continuing from `expected_head`.
    pub records: &'a [AuditRow],
    /// Every content key the records were encrypted with, one per subject:
    /// new ones are stored; the append is refused unless each is stored as
    /// given when it commits.
    pub subject_keys: &'a [AuditSubjectKey],
    /// Pseudonyms of the records' principals (kept when already stored).
    pub principals: &'a [AuditPrincipal],
    /// A checkpoint of the last record, when one is due.
    pub checkpoint: Option<&'a AuditCheckpoint>,
}

/// A connection one audit writer keeps between appends, sparing a trip
/// through the pool per append.
#[derive(Default)]
pub struct AuditSession {
    conn: Option<PoolConnection<Any>>,
}

impl std::fmt::Debug for AuditSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSession")
            .field("connected", &self.conn.is_some())
            .finish()
    }
}

/// Which records [`Store::search_audit`] returns, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Records at or after this time.
    pub since_ms: Option<i64>,
    /// Records before this time.
    pub until_ms: Option<i64>,
    /// Records of any of these pseudonyms (no filter when empty).
    pub principals: Vec<String>,
    /// Records of this model.
    pub model: Option<String>,
    /// Records with this HTTP status.
    pub status: Option<i64>,
    /// Records after this seq (for paging).
    pub after_seq: Option<i64>,
    /// At most this many records.
    pub limit: Option<i64>,
    /// Newest first (highest seq first) instead of oldest first.
    pub newest_first: bool,
}

const ROW_COLUMNS: &str = "seq, hash, prev_hash, time_ms, principal, model, status, body";

/// Rows per INSERT statement: well below both databases' bind limits.
const ROWS_PER_INSERT: usize = 128;

impl Store {
    /// The chain head.
    pub async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::Corrupt {
                what: "audit log head".into(),
                detail: "the row is missing".into(),
            });
        };
        Ok(AuditHead {
            seq: row.try_get("seq")?,
            hash: row.try_get("hash")?,
        })
    }

    /// Appends records, stores the subject keys and principals they use,
    /// moves the head and stores the checkpoint, in one transaction on the
    /// session's connection. `Ok(false)`, with nothing written, when another
    /// writer moved the head, or when one of the subject keys is not stored
    /// as given (another writer stored a different key first, or the subject
    /// was erased): read the head and keys again and retry.
    pub async fn append_audit(
        &self,
        session: &mut AuditSession,
        append: AuditAppend<'_>,
    ) -> Result<bool, StoreError> {
        if append.records.is_empty() {
            return Ok(true);
        }
        let mut conn = match session.conn.take() {
            Some(conn) => conn,
            None => self.pool.acquire().await?,
        };
        let appended = match self.kind {
            StoreKind::Sqlite => append_sqlite(&mut conn, append).await,
            StoreKind::Postgres => append_postgres(&mut conn, append).await,
        };
        // After an error the connection goes back to the pool, which checks
        // it before handing it out again; the next append takes a fresh one.
        if appended.is_ok() {
            session.conn = Some(conn);
        }
        appended
    }

    /// Stores a checkpoint; one already stored for the same seq is kept.
    pub async fn insert_audit_checkpoint(
        &self,
        checkpoint: &AuditCheckpoint,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_checkpoint(&mut tx, checkpoint).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every checkpoint, by seq.
    pub async fn audit_checkpoints(&self) -> Result<Vec<AuditCheckpoint>, StoreError> {
        let rows =
            sqlx::query("SELECT seq, hash, time_ms, signature FROM audit_checkpoints ORDER BY seq")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    /// The checkpoint with the highest seq.
    pub async fn latest_audit_checkpoint(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT seq, hash, time_ms, signature FROM audit_checkpoints \
             ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(checkpoint_from_row).transpose()
    }

    /// Records with `from_seq <= seq <= to_seq`, by seq (rows claiming the
    /// same seq by hash).
    pub async fn audit_rows(
        &self,
        from_seq: i64,
        to_seq: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ROW_COLUMNS} FROM audit_records \
             WHERE seq >= $1 AND seq <= $2 ORDER BY seq, hash"
        ))
        .bind(from_seq)
        .bind(to_seq)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_from_row).collect()
    }

    /// The lowest seq of a stored record at or after `at_least`.
    pub async fn audit_seq_at_or_after(&self, at_least: i64) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT MIN(seq) AS seq FROM audit_records WHERE seq >= $1")
            .bind(at_least)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("seq")?)
    }

    /// The highest seq of a stored record.
    pub async fn audit_max_seq(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT MAX(seq) AS seq FROM audit_records")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("seq")?)
    }

    /// Records matching `query`, by seq.
    pub async fn search_audit(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        let mut conditions = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if query.since_ms.is_some() {
            conditions.push(format!("time_ms >= {}", next()));
        }
        if query.until_ms.is_some() {
            conditions.push(format!("time_ms < {}", next()));
        }
        if !query.principals.is_empty() {
            let list: Vec<String> = query.principals.iter().map(|_| next()).collect();
            conditions.push(format!("principal IN ({})", list.join(", ")));
        }
        if query.model.is_some() {
            conditions.push(format!("model = {}", next()));
        }
        if query.status.is_some() {
            conditions.push(format!("status = {}", next()));
        }
        if query.after_seq.is_some() {
            conditions.push(format!("seq > {}", next()));
        }
        let mut sql = format!("SELECT {ROW_COLUMNS} FROM audit_records");
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(if query.newest_first {
            " ORDER BY seq DESC, hash"
        } else {
            " ORDER BY seq, hash"
        });
        if query.limit.is_some() {
            sql.push_str(&format!(" LIMIT {}", next()));
        }

        let mut q = sqlx::query(&sql);
        if let Some(since) = query.since_ms {
            q = q.bind(since);
        }
        if let Some(until) = query.until_ms {
            q = q.bind(until);
        }
        for principal in &query.principals {
            q = q.bind(principal.as_str());
        }
        if let Some(model) = &query.model {
            q = q.bind(model.as_str());
        }
        if let Some(status) = query.status {
            q = q.bind(status);
        }
        if let Some(after) = query.after_seq {
            q = q.bind(after);
        }
        if let Some(limit) = query.limit {
            q = q.bind(limit);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(row_from_row).collect()
    }

    /// The wrapped content keys of those of `subjects` that have one.
    pub async fn audit_subject_keys(
        &self,
        subjects: &[String],
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut keys = Vec::new();
        for chunk in subjects.chunks(ROWS_PER_INSERT) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT subject, wrapped FROM audit_subject_keys WHERE subject IN ({})",
                list.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for subject in chunk {
                q = q.bind(subject.as_str());
            }
            for row in q.fetch_all(&self.pool).await? {
                keys.push((row.try_get("subject")?, row.try_get("wrapped")?));
            }
        }
        Ok(keys)
    }

    /// The fingerprint of the audit keys the log belongs to: `fingerprint`
    /// when none was stored yet (it is stored now), else the stored one.
    pub async fn claim_audit_keys_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO audit_keys_fingerprint (id, fingerprint) VALUES (1, $1) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(fingerprint)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT fingerprint FROM audit_keys_fingerprint WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("fingerprint")?)
    }

    /// Stores `subject`'s content key (wrapped) unless it has one; true
    /// when this one was stored. Read the key back after a false: another
    /// writer's key won, and content must be sealed under that one.
    pub async fn insert_audit_subject_key(
        &self,
        subject: &str,
        wrapped: &[u8],
        created_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO audit_subject_keys (subject, wrapped, created_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (subject) DO NOTHING",
        )
        .bind(subject)
        .bind(wrapped)
        .bind(created_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Erases a subject: deletes its content key, its sealed clear id, its
    /// conversations and its stored responses, in one transaction. Returns whether any existed.
    pub async fn delete_audit_subject(&self, subject: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let keys = sqlx::query("DELETE FROM audit_subject_keys WHERE subject = $1")
            .bind(subject)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let principals = sqlx::query("DELETE FROM audit_principals WHERE pseudonym = $1")
            .bind(subject)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let conversations = crate::conversations::delete_owned(&mut tx, subject).await?;
        let responses = crate::responses::delete_owned(&mut tx, subject).await?;
        tx.commit().await?;
        Ok(keys + principals + conversations + responses > 0)
    }

    /// The sealed clear id behind a pseudonym.
    pub async fn audit_principal(&self, pseudonym: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT sealed FROM audit_principals WHERE pseudonym = $1")
            .bind(pseudonym)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get("sealed")).transpose()?)
    }

    /// The newest checkpoint up to which every record is older than
    /// `before_ms` and at least one record is stored: the end of the range a
    /// purge may delete.
    pub async fn audit_purge_checkpoint(
        &self,
        before_ms: i64,
    ) -> Result<Option<AuditCheckpoint>, StoreError> {
        let first_kept =
            sqlx::query("SELECT MIN(seq) AS seq FROM audit_records WHERE time_ms >= $1")
                .bind(before_ms)
                .fetch_one(&self.pool)
                .await?
                .try_get::<Option<i64>, _>("seq")?;
        let Some(first_stored) = self.audit_seq_at_or_after(i64::MIN).await? else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT seq, hash, time_ms, signature FROM audit_checkpoints \
             WHERE seq < $1 AND seq >= $2 ORDER BY seq DESC LIMIT 1",
        )
        .bind(first_kept.unwrap_or(i64::MAX))
        .bind(first_stored)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(checkpoint_from_row).transpose()
    }

    /// Deletes the records up to and including `through_seq` and the
    /// checkpoints before it; returns how many records were deleted.
    pub async fn purge_audit(&self, through_seq: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM audit_records WHERE seq <= $1")
            .bind(through_seq)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM audit_checkpoints WHERE seq < $1")
            .bind(through_seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}

/// SQLite: the whole transaction as one script, so that an append costs one
/// trip to the database thread. The head moves only from where the records
/// continue and when every key is stored as given; the rest is written only
/// when it moved; the script ends by reporting the head.
async fn append_sqlite(
    conn: &mut PoolConnection<Any>,
    append: AuditAppend<'_>,
) -> Result<bool, StoreError> {
    let Some(last) = append.records.last() else {
        return Ok(true);
    };
    let mut script = Script::default();
    // The write lock first: no other connection can commit between this
    // transaction's reads and its writes.
    script.sql.push_str("BEGIN IMMEDIATE;\n");
    let last_seq = script.arg(Arg::Int(last.seq));
    let last_hash = script.arg(Arg::Blob(&last.hash));
    let expected = script.arg(Arg::Int(append.expected_head.seq));
    let mut key_pairs = Vec::with_capacity(append.subject_keys.len());
    let mut new_keys = Vec::new();
    let mut new_pairs = Vec::new();
    for key in append.subject_keys {
        let subject = script.arg(Arg::Text(Some(&key.subject)));
        let wrapped = script.arg(Arg::Blob(&key.wrapped));
        if key.new {
            let created = script.arg(Arg::Int(key.created_ms));
            new_keys.push(format!("({subject}, {wrapped}, {created})"));
            new_pairs.push(format!("(subject = {subject} AND wrapped = {wrapped})"));
        }
        key_pairs.push((subject, wrapped));
    }
    // New keys are stored first, for the check of every key below.
    if !new_keys.is_empty() {
        script.sql.push_str(&format!(
            "INSERT INTO audit_subject_keys (subject, wrapped, created_ms) VALUES {} \
             ON CONFLICT (subject) DO NOTHING;\n",
            new_keys.join(", ")
        ));
    }
    let mut guard = format!("seq = {expected}");
    if !key_pairs.is_empty() {
        let count = script.arg(Arg::Int(i64::try_from(key_pairs.len()).unwrap_or(i64::MAX)));
        guard.push_str(&format!(" AND {}", keys_present(&key_pairs, &count)));
    }
    script.sql.push_str(&format!(
        "UPDATE audit_head SET seq = {last_seq}, hash = {last_hash} WHERE id = 1 AND {guard};\n"
    ));
    // From here on, writes happen only when the head moved to this batch.
    let moved = format!("(SELECT hash FROM audit_head WHERE id = 1) = {last_hash}");
    if !new_keys.is_empty() {
        // Keys of a batch that was not written are not kept.
        script.sql.push_str(&format!(
            "DELETE FROM audit_subject_keys WHERE NOT {moved} AND ({});\n",
            new_pairs.join(" OR ")
        ));
    }
    for chunk in append.principals.chunks(ROWS_PER_INSERT) {
        let values: Vec<String> = chunk
            .iter()
            .map(|p| {
                let pseudonym = script.arg(Arg::Text(Some(&p.pseudonym)));
                let sealed = script.arg(Arg::Blob(&p.sealed));
                format!("({pseudonym}, {sealed})")
            })
            .collect();
        // `WHERE` before `ON CONFLICT` is required after `INSERT … SELECT`.
        script.sql.push_str(&format!(
            "INSERT INTO audit_principals (pseudonym, sealed) \
             SELECT column1, column2 FROM (VALUES {}) WHERE {moved} \
             ON CONFLICT (pseudonym) DO NOTHING;\n",
            values.join(", ")
        ));
    }
    for chunk in append.records.chunks(ROWS_PER_INSERT) {
        let values: Vec<String> = chunk
            .iter()
            .map(|row| {
                let args = [
                    script.arg(Arg::Int(row.seq)),
                    script.arg(Arg::Blob(&row.hash)),
                    script.arg(Arg::Blob(&row.prev_hash)),
                    script.arg(Arg::Int(row.time_ms)),
                    script.arg(Arg::Text(row.principal.as_deref())),
                    script.arg(Arg::Text(row.model.as_deref())),
                    script.arg(Arg::Int(row.status)),
                    script.arg(Arg::Text(Some(&row.body))),
                ];
                format!("({})", args.join(", "))
            })
            .collect();
        script.sql.push_str(&format!(
            "INSERT INTO audit_records ({ROW_COLUMNS}) \
             SELECT column1, column2, column3, column4, column5, column6, column7, column8 \
             FROM (VALUES {}) WHERE {moved};\n",
            values.join(", ")
        ));
    }
    if let Some(checkpoint) = append.checkpoint {
        let seq = script.arg(Arg::Int(checkpoint.seq));
        let hash = script.arg(Arg::Blob(&checkpoint.hash));
        let time = script.arg(Arg::Int(checkpoint.time_ms));
        let signature = script.arg(Arg::Blob(&checkpoint.signature));
        script.sql.push_str(&format!(
            "INSERT INTO audit_checkpoints (seq, hash, time_ms, signature) \
             SELECT {seq}, {hash}, {time}, {signature} WHERE {moved} \
             ON CONFLICT (seq) DO NOTHING;\n"
        ));
    }
    script
        .sql
        .push_str("SELECT seq, hash FROM audit_head WHERE id = 1;\nCOMMIT;");

    let rows = match script.query().fetch_all(&mut **conn).await {
        Ok(rows) => rows,
        Err(err) => {
            // The script stops at the failing statement, maybe inside its
            // transaction: end it.
            let _ = sqlx::query("ROLLBACK").execute(&mut **conn).await;
            return Err(err.into());
        }
    };
    let Some(head) = rows.last() else {
        return Err(StoreError::Corrupt {
            what: "audit log head".into(),
            detail: "the row is missing".into(),
        });
    };
    let seq: i64 = head.try_get("seq")?;
    let hash: Vec<u8> = head.try_get("hash")?;
    Ok(seq == last.seq && hash == last.hash)
}

/// PostgreSQL: one statement per table in a transaction, the head's move
/// conditional on the head and keys being as expected.
async fn append_postgres(
    conn: &mut PoolConnection<Any>,
    append: AuditAppend<'_>,
) -> Result<bool, StoreError> {
    let Some(last) = append.records.last() else {
        return Ok(true);
    };
    let mut tx = conn.begin().await?;
    let mut keys = Script::default();
    let mut values = Vec::new();
    for key in append.subject_keys.iter().filter(|key| key.new) {
        let subject = keys.arg(Arg::Text(Some(&key.subject)));
        let wrapped = keys.arg(Arg::Blob(&key.wrapped));
        let created = keys.arg(Arg::Int(key.created_ms));
        values.push(format!("({subject}, {wrapped}, {created})"));
    }
    if !values.is_empty() {
        keys.sql = format!(
            "INSERT INTO audit_subject_keys (subject, wrapped, created_ms) VALUES {} \
             ON CONFLICT (subject) DO NOTHING",
            values.join(", ")
        );
        keys.query().execute(&mut *tx).await?;
    }
    insert_principals(&mut tx, append.principals).await?;
    for chunk in append.records.chunks(ROWS_PER_INSERT) {
        insert_rows(&mut tx, chunk).await?;
    }
    let mut update = Script::default();
    let seq = update.arg(Arg::Int(last.seq));
    let hash = update.arg(Arg::Blob(&last.hash));
    let expected = update.arg(Arg::Int(append.expected_head.seq));
    update.sql = format!(
        "UPDATE audit_head SET seq = {seq}, hash = {hash} WHERE id = 1 AND seq = {expected}"
    );
    if !append.subject_keys.is_empty() {
        // The same subject and key values, bound again for this statement.
        let pairs: Vec<(String, String)> = append
            .subject_keys
            .iter()
            .map(|key| {
                (
                    update.arg(Arg::Text(Some(&key.subject))),
                    update.arg(Arg::Blob(&key.wrapped)),
                )
            })
            .collect();
        let count = update.arg(Arg::Int(i64::try_from(pairs.len()).unwrap_or(i64::MAX)));
        update
            .sql
            .push_str(&format!(" AND {}", keys_present(&pairs, &count)));
    }
    let moved = update.query().execute(&mut *tx).await?.rows_affected();
    if moved == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    if let Some(checkpoint) = append.checkpoint {
        insert_checkpoint(&mut tx, checkpoint).await?;
    }
    tx.commit().await?;
    Ok(true)
}

async fn insert_rows(tx: &mut Transaction<'_, Any>, rows: &[AuditRow]) -> Result<(), StoreError> {
    let values: Vec<String> = (0..rows.len())
        .map(|i| {
            let b = i * 8;
            format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO audit_records ({ROW_COLUMNS}) VALUES {}",
        values.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for row in rows {
        q = q
            .bind(row.seq)
            .bind(row.hash.as_slice())
            .bind(row.prev_hash.as_slice())
            .bind(row.time_ms)
            .bind(row.principal.as_deref())
            .bind(row.model.as_deref())
            .bind(row.status)
            .bind(row.body.as_str());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

async fn insert_principals(
    tx: &mut Transaction<'_, Any>,
    principals: &[AuditPrincipal],
) -> Result<(), StoreError> {
    for chunk in principals.chunks(ROWS_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO audit_principals (pseudonym, sealed) VALUES {} \
             ON CONFLICT (pseudonym) DO NOTHING",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for principal in chunk {
            q = q
                .bind(principal.pseudonym.as_str())
                .bind(principal.sealed.as_slice());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_checkpoint(
    tx: &mut Transaction<'_, Any>,
    checkpoint: &AuditCheckpoint,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_checkpoints (seq, hash, time_ms, signature) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (seq) DO NOTHING",
    )
    .bind(checkpoint.seq)
    .bind(checkpoint.hash.as_slice())
    .bind(checkpoint.time_ms)
    .bind(checkpoint.signature.as_slice())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A statement (or script) and its arguments, numbered as they are added.
#[derive(Default)]
struct Script<'a> {
    sql: String,
    args: Vec<Arg<'a>>,
}

enum Arg<'a> {
    Int(i64),
    Blob(&'a [u8]),
    Text(Option<&'a str>),
}

impl<'a> Script<'a> {
    /// Adds an argument; returns its placeholder.
    fn arg(&mut self, arg: Arg<'a>) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    fn query(&self) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
        let mut query = sqlx::query(&self.sql);
        for arg in &self.args {
            query = match *arg {
                Arg::Int(value) => query.bind(value),
                Arg::Blob(value) => query.bind(value),
                Arg::Text(value) => query.bind(value),
            };
        }
        query
    }
}

/// SQL that is true when every (subject, wrapped key) pair, given as
/// placeholders, is stored; `count` is the placeholder of their number.
fn keys_present(pairs: &[(String, String)], count: &str) -> String {
    let any_of: Vec<String> = pairs
        .iter()
        .map(|(subject, wrapped)| format!("(subject = {subject} AND wrapped = {wrapped})"))
        .collect();
    format!(
        "(SELECT COUNT(*) FROM audit_subject_keys WHERE {}) = {count}",
        any_of.join(" OR ")
    )
}

fn row_from_row(row: &AnyRow) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        seq: row.try_get("seq")?,
        hash: row.try_get("hash")?,
        prev_hash: row.try_get("prev_hash")?,
        time_ms: row.try_get("time_ms")?,
        principal: row.try_get("principal")?,
        model: row.try_get("model")?,
        status: row.try_get("status")?,
        body: row.try_get("body")?,
    })
}

fn checkpoint_from_row(row: &AnyRow) -> Result<AuditCheckpoint, StoreError> {
    Ok(AuditCheckpoint {
        seq: row.try_get("seq")?,
        hash: row.try_get("hash")?,
        time_ms: row.try_get("time_ms")?,
        signature: row.try_get("signature")?,
    })
}
