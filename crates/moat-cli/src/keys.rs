//! `moat keys create|list|revoke|rotate`: API keys, straight on the store
//! (a running server picks changes up within a second).

use clap::{ArgMatches, Args, FromArgMatches, Subcommand};
use moat_policy::clock::{Clock, SystemClock};
use moat_policy::keys::{parse_lifetime, NewKey};
use moat_server::key_status;
use moat_store::ApiKeyRecord;

use crate::access::KeyAdmin;
use crate::config::{self, AccessConfig, ConfigFile, StoreOptions};
use crate::output::say;

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    pub common: ConfigFile,
    /// The `[store]` flags; read with the file, by [`config::load_with`].
    #[command(flatten)]
    pub _store: StoreOptions,
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once (only a keyed hash is stored).
    Create {
        /// Who or what the key is for.
        #[arg(long)]
        name: String,
        /// A role from the configuration, or built-in `admin` / `user` (repeat for several).
        #[arg(long = "role", required = true, value_name = "ROLE")]
        roles: Vec<String>,
        /// Lifetime, e.g. 90d, 12h, 2w, 1y. Default: no expiry
        #[arg(long, value_name = "LIFETIME")]
        expires: Option<String>,
        /// Only these models (names or globs, comma-separated), within what the roles allow.
        #[arg(long, value_delimiter = ',', value_name = "MODELS")]
        models: Option<Vec<String>>,
        /// Print the key alone (for scripts).
        #[arg(long)]
        quiet: bool,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key; servers stop accepting it within a second.
    Revoke { id: String },
    /// Give a key a new secret (printed once); the old one stops working.
    Rotate {
        id: String,
        /// Print the key alone (for scripts).
        #[arg(long)]
        quiet: bool,
    },
    /// Enroll a key's second factor for web UI sign-in (`[ui]
    /// admin_second_factor`): prints a new TOTP secret once, for an
    /// authenticator app; a secret it had stops working.
    Totp {
        id: String,
        /// Remove the key's second factor instead.
        #[arg(long)]
        remove: bool,
        /// Print the otpauth:// URI alone (for scripts).
        #[arg(long)]
        quiet: bool,
    },
}

pub fn run(args: KeysArgs, matches: &ArgMatches) -> anyhow::Result<()> {
    let options = config::load_with(&args.common, matches, |options, given| {
        options.store.update_from_arg_matches(given)
    })?;
    let access = AccessConfig::resolve(&options)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let admin = KeyAdmin::open(&access).await?;
        let result = command(&admin, args.command).await;
        admin.store.close().await;
        result
    })
}

async fn command(admin: &KeyAdmin, command: KeysCommand) -> anyhow::Result<()> {
    let keys = admin.service();
    let now = SystemClock.now_ms();
    match command {
        KeysCommand::Create {
            name,
            roles,
            expires,
            models,
            quiet,
        } => {
            let expires_in = expires
                .as_deref()
                .map(parse_lifetime)
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let issued = keys
                .create(
                    NewKey {
                        name,
                        roles,
                        models,
                        expires_in,
                    },
                    now,
                )
                .await?;
            if quiet {
                say(&issued.secret);
            } else {
                say(&format!(
                    "created key {} ({}) with roles {}{}",
                    issued.record.id,
                    issued.record.name,
                    issued.record.roles.join(", "),
                    expiry_text(&issued.record),
                ));
                say("the key is shown only this once:");
                say(&format!("  {}", issued.secret));
            }
        }
        KeysCommand::List => {
            let list = keys.list().await?;
            if list.is_empty() {
                say("no keys");
            } else {
                say(&table(&list, now));
            }
        }
        KeysCommand::Revoke { id } => {
            let record = keys.revoke(&id, now).await?;
            say(&format!("revoked key {} ({})", record.id, record.name));
        }
        KeysCommand::Totp { id, remove, quiet } => {
            let record = admin
                .store
                .key(&id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no key {id}"))?;
            let factors = admin.second_factors();
            if remove {
                let removed = factors.remove(&id).await?;
                say(&if removed {
                    format!("removed the second factor of key {id} ({})", record.name)
                } else {
                    format!("key {id} ({}) had no second factor", record.name)
                });
            } else {
                let enrolled = factors.enroll(&id, &record.name, now).await?;
                if quiet {
                    say(&enrolled.uri);
                } else {
                    say(&format!(
                        "second factor of key {id} ({}): add it to an authenticator app; \
                         it is shown only this once",
                        record.name
                    ));
                    say(&format!("  secret: {}", enrolled.secret));
                    say(&format!("  uri:    {}", enrolled.uri));
                }
            }
        }
        KeysCommand::Rotate { id, quiet } => {
            let issued = keys.rotate(&id, now).await?;
            if quiet {
                say(&issued.secret);
            } else {
                say(&format!(
                    "rotated key {} ({}); the old secret no longer works",
                    issued.record.id, issued.record.name
                ));
                say("the new key is shown only this once:");
                say(&format!("  {}", issued.secret));
            }
        }
    }
    Ok(())
}

fn expiry_text(record: &ApiKeyRecord) -> String {
    record
        .expires_ms
        .map(|ms| format!(", expires {}", time_text(ms)))
        .unwrap_or_default()
}

/// `2026-11-24 03:30 UTC`.
fn time_text(ms: i64) -> String {
    let day = moat_policy::clock::utc_day(ms);
    let in_day = ms.rem_euclid(86_400_000) / 60_000;
    format!("{day} {:02}:{:02} UTC", in_day / 60, in_day % 60)
}

fn table(keys: &[ApiKeyRecord], now: i64) -> String {
    let header = [
        "ID",
        "NAME",
        "KEY",
        "ROLES",
        "MODELS",
        "STATUS",
        "CREATED",
        "EXPIRES",
        "LAST USED",
    ];
    let rows: Vec<[String; 9]> = keys
        .iter()
        .map(|k| {
            [
                k.id.clone(),
                k.name.clone(),
                k.hint.clone(),
                k.roles.join(","),
                k.models
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |m| m.join(",")),
                key_status(k, now).to_owned(),
                time_text(k.created_ms),
                k.expires_ms.map_or_else(|| "never".to_owned(), time_text),
                k.last_used_ms.map_or_else(|| "never".to_owned(), time_text),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(header.to_vec())];
    for row in &rows {
        out.push(line(row.iter().map(String::as_str).collect()));
    }
    out.join("\n")
}
