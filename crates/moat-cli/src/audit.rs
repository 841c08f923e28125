//! `moat audit verify|search|export|erase|purge`: the audit log, straight on
//! the store (the same `--config`/`--store` as `moat serve`; with none, the
//! default store in the working directory).

use std::time::Duration;

use clap::{ArgMatches, Args, FromArgMatches, Subcommand, ValueEnum};
use moat_audit::{
    erase_subject, export, purge, reveal_principal, search, verify, AuditKeys, AuditLog,
    ExportFormat, SearchFilter, WriterSettings,
};
use moat_policy::clock::{Clock, SystemClock};
use moat_policy::keys::parse_lifetime;
use moat_protocol::time::{days_from_civil, is_day, parse_day, MS_PER_DAY};
use moat_store::Store;

use crate::config::{self, AccessConfig, AuditConfig, AuditOptions, ConfigFile, StoreOptions};
use crate::output::say;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub common: ConfigFile,
    /// The `[store]` flags; read with the file, by [`config::load_with`].
    #[command(flatten)]
    pub _store: StoreOptions,
    /// The `[audit]` flags (`--audit-keys`); read with the file.
    #[command(flatten)]
    pub _audit: AuditOptions,
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain and the signed checkpoints; report the first
    /// broken link. Exit status 1 on any break.
    Verify {
        /// First record (sequence number) to check.
        #[arg(long)]
        from: Option<u64>,
        /// Last record to check.
        #[arg(long)]
        to: Option<u64>,
    },
    /// Records matching the filters, one JSON object a line.
    Search(FilterArgs),
    /// Records for a SIEM: JSON lines or an Elasticsearch/OpenSearch bulk body.
    Export {
        #[command(flatten)]
        filter: FilterArgs,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// Index name for es-bulk.
        #[arg(long, default_value = "moat-audit")]
        index: String,
    },
    /// Erase a data subject's stored content (crypto-shredding): its key is
    /// destroyed, the chain still verifies; the erasure is itself recorded.
    Erase {
        /// The subject: a key id (key_…) or a token subject (oidc:…).
        #[arg(long)]
        subject: String,
    },
    /// The clear principal id (key_…, oidc:…) behind a record's pseudonym.
    Reveal { pseudonym: String },
    /// Delete records older than the retention period (keeps the chain
    /// verifiable from a signed checkpoint).
    Purge {
        /// Retention, e.g. 180d, 1y. Default: the configuration's (180d)
        #[arg(long, value_name = "LIFETIME")]
        retention: Option<String>,
        /// Accept a retention under 180 days (below what MLPS level 3 asks).
        #[arg(long)]
        i_know_retention_is_short: bool,
    },
}

#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// From this time: RFC 3339 day (2026-11-01) or a span ago (24h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// Up to this time, same forms.
    #[arg(long)]
    until: Option<String>,
    /// A principal's clear id (key_… or oidc:…).
    #[arg(long)]
    principal: Option<String>,
    #[arg(long)]
    model: Option<String>,
    /// HTTP status.
    #[arg(long)]
    status: Option<u16>,
    /// At most this many records.
    #[arg(long)]
    limit: Option<u32>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Jsonl,
    EsBulk,
}

/// A day (`2026-11-01`, midnight UTC) or a span ago (`7d`) as ms.
fn time_arg(text: &str, now_ms: i64) -> anyhow::Result<i64> {
    if is_day(text) {
        let day = parse_day(text).ok_or_else(|| anyhow::anyhow!("`{text}` is not a date"))?;
        return Ok(days_from_civil(day) * MS_PER_DAY);
    }
    let ago = parse_lifetime(text).map_err(|_| {
        anyhow::anyhow!("`{text}`: write a day (2026-11-01) or a span ago (24h, 7d)")
    })?;
    Ok(now_ms.saturating_sub(i64::try_from(ago.as_millis()).unwrap_or(i64::MAX)))
}

impl FilterArgs {
    fn filter(&self, now_ms: i64) -> anyhow::Result<SearchFilter> {
        Ok(SearchFilter {
            since_ms: self
                .since
                .as_deref()
                .map(|t| time_arg(t, now_ms))
                .transpose()?,
            until_ms: self
                .until
                .as_deref()
                .map(|t| time_arg(t, now_ms))
                .transpose()?,
            principal: self.principal.clone(),
            model: self.model.clone(),
            status: self.status,
            limit: self.limit,
            newest_first: false,
        })
    }
}

pub fn run(args: AuditArgs, matches: &ArgMatches) -> anyhow::Result<()> {
    let options = config::load_with(&args.common, matches, |options, given| {
        options.store.update_from_arg_matches(given)?;
        options.audit.update_from_arg_matches(given)
    })?;
    let access = AccessConfig::resolve(&options)?;
    let audit = AuditConfig::try_from(&options.audit)?;
    let keys_path = audit.keys_file;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let store = Store::open(&access.store).await?;
        let result = command(&store, &keys_path, audit.retention, args.command).await;
        store.close().await;
        result
    })
}

async fn command(
    store: &Store,
    keys_path: &std::path::Path,
    retention: Duration,
    command: AuditCommand,
) -> anyhow::Result<()> {
    let now = SystemClock.now_ms();
    let keys = AuditKeys::load_or_create(keys_path, false)?;
    match command {
        AuditCommand::Verify { from, to } => {
            let report = verify(store, &keys.verifying_key(), from, to).await?;
            match report.first_break {
                None => {
                    say(&format!(
                        "audit log intact: {} records, {} signed checkpoints",
                        report.records, report.checkpoints
                    ));
                    Ok(())
                }
                Some(b) => anyhow::bail!(
                    "audit log broken at record {}: {:?}: {} ({} records checked before it)",
                    b.seq,
                    b.kind,
                    b.detail,
                    report.records
                ),
            }
        }
        AuditCommand::Search(filter) => {
            let log = AuditLog::open(store.clone(), keys).await?;
            for record in search(&log, &filter.filter(now)?).await? {
                say(&serde_json::to_string(&record)?);
            }
            Ok(())
        }
        AuditCommand::Export {
            filter,
            format,
            index,
        } => {
            let log = AuditLog::open(store.clone(), keys).await?;
            let format = match format {
                Format::Jsonl => ExportFormat::Jsonl,
                Format::EsBulk => ExportFormat::EsBulk { index },
            };
            let mut out = std::io::BufWriter::new(std::io::stdout());
            let n = export(&log, &filter.filter(now)?, format, &mut out).await?;
            std::io::Write::flush(&mut out)?;
            tracing::info!(records = n, "exported");
            Ok(())
        }
        AuditCommand::Erase { subject } => {
            let log = AuditLog::open(store.clone(), keys).await?;
            let writer = log.writer(WriterSettings::default());
            let erased = erase_subject(&log, &writer, &subject, now).await?;
            writer.close().await?;
            if erased {
                say(&format!(
                    "erased the stored content of {subject}: its key is destroyed; the erasure is recorded"
                ));
            } else {
                say(&format!(
                    "no stored content for {subject}; the request is recorded"
                ));
            }
            Ok(())
        }
        AuditCommand::Reveal { pseudonym } => {
            let log = AuditLog::open(store.clone(), keys).await?;
            match reveal_principal(&log, &pseudonym).await? {
                Some(principal) => {
                    say(&principal);
                    Ok(())
                }
                None => anyhow::bail!("no principal behind {pseudonym} (unknown, or erased)"),
            }
        }
        AuditCommand::Purge {
            retention: given,
            i_know_retention_is_short,
        } => {
            let retention = match given {
                Some(text) => parse_lifetime(&text).map_err(anyhow::Error::msg)?,
                None => retention,
            };
            let log = AuditLog::open(store.clone(), keys).await?;
            let n = purge(&log, retention, now, i_know_retention_is_short).await?;
            say(&format!(
                "purged {n} records older than {} days",
                retention.as_secs() / 86_400
            ));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn days_and_spans() {
        let now = 1_795_491_000_000;
        assert_eq!(time_arg("2026-11-24", now).unwrap(), 20_781 * 86_400_000);
        assert_eq!(time_arg("1h", now).unwrap(), now - 3_600_000);
        assert!(time_arg("yesterday", now).is_err());
        assert_eq!(time_arg("1970-01-01", now).unwrap(), 0);
        assert!(time_arg("2026-13-01", now).is_err());
    }
}
