//! `moat usage`: requests and tokens per key, role, model or day.

use clap::{ArgMatches, Args, FromArgMatches, ValueEnum};
use moat_policy::clock::{utc_day, Clock, SystemClock};
use moat_policy::keys::parse_lifetime;
use moat_protocol::time::is_day;
use moat_store::UsageBy;

use crate::access::KeyAdmin;
use crate::config::{self, AccessConfig, ConfigFile, StoreOptions};
use crate::output::say;

#[derive(Debug, Args)]
pub struct UsageArgs {
    #[command(flatten)]
    pub common: ConfigFile,
    /// The `[store]` flags; read with the file, by [`config::load_with`].
    #[command(flatten)]
    pub _store: StoreOptions,
    /// Group by key, role, model or day.
    #[arg(long, value_enum, default_value = "key")]
    pub by: By,
    /// From this UTC day (YYYY-MM-DD) or this long ago (7d, 2w). Default: all
    #[arg(long, value_name = "DAY|AGO")]
    pub since: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum By {
    Key,
    Role,
    Model,
    Day,
}

fn since_day(text: &str, now_ms: i64) -> anyhow::Result<String> {
    if is_day(text) {
        return Ok(text.to_owned());
    }
    let ago = parse_lifetime(text)
        .map_err(|_| anyhow::anyhow!("--since: write a day (2026-11-01) or a span (7d, 2w)"))?;
    let ago_ms = i64::try_from(ago.as_millis()).unwrap_or(i64::MAX);
    Ok(utc_day(now_ms.saturating_sub(ago_ms)))
}

pub fn run(args: UsageArgs, matches: &ArgMatches) -> anyhow::Result<()> {
    let options = config::load_with(&args.common, matches, |options, given| {
        options.store.update_from_arg_matches(given)
    })?;
    let access = AccessConfig::resolve(&options)?;
    let since = args
        .since
        .as_deref()
        .map(|s| since_day(s, SystemClock.now_ms()))
        .transpose()?;
    let by = match args.by {
        By::Key => UsageBy::Key,
        By::Role => UsageBy::Role,
        By::Model => UsageBy::Model,
        By::Day => UsageBy::Day,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let admin = KeyAdmin::open(&access).await?;
        let rows = admin.store.usage(by, since.as_deref()).await;
        admin.store.close().await;
        let rows = rows?;
        let group = format!("{:?}", args.by).to_uppercase();
        let mut lines = vec![format!(
            "{group:<24}  {:>10}  {:>14}  {:>14}  {:>14}",
            "REQUESTS", "PROMPT", "COMPLETION", "TOTAL"
        )];
        for r in &rows {
            lines.push(format!(
                "{:<24}  {:>10}  {:>14}  {:>14}  {:>14}",
                if r.group.is_empty() { "-" } else { &r.group },
                r.requests,
                r.prompt_tokens,
                r.completion_tokens,
                r.prompt_tokens + r.completion_tokens
            ));
        }
        if rows.is_empty() {
            lines.push("(no usage recorded)".to_owned());
        }
        say(&lines.join("\n"));
        anyhow::Ok(())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn since_accepts_days_and_spans() {
        // 2026-11-24T03:30:00Z
        let now = 1_795_491_000_000;
        assert_eq!(since_day("2026-11-01", now).unwrap(), "2026-11-01");
        assert_eq!(since_day("7d", now).unwrap(), "2026-11-17");
        assert!(since_day("last week", now).is_err());
    }
}
