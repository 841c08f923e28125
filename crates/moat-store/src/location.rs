//! Where the database lives, parsed from one setting: a PostgreSQL URL or a
//! SQLite file path, and how to name it without user or password.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use sqlx::postgres::PgConnectOptions;

use crate::StoreError;

/// A parsed database location. No `Debug`: the URL may hold a password.
pub(crate) enum Location {
    /// A SQLite file; `shown` is the path as given.
    Sqlite { path: PathBuf, shown: String },
    /// A PostgreSQL server; `target` is `host:port/database`.
    Postgres { url: String, target: String },
}

impl Location {
    /// Reads `postgres://…`, `postgresql://…`, `sqlite://PATH`, `sqlite:PATH`
    /// or a plain path.
    pub(crate) fn parse(location: &str) -> Result<Location, StoreError> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            let options =
                PgConnectOptions::from_str(location).map_err(|e| StoreError::Location {
                    reason: format!(
                        "the PostgreSQL URL is not valid ({e}); expected \
                     postgres://USER:PASSWORD@HOST:PORT/DATABASE"
                    ),
                })?;
            return Ok(Location::Postgres {
                url: location.to_owned(),
                target: postgres_target(&options),
            });
        }
        let path = location
            .strip_prefix("sqlite://")
            .or_else(|| location.strip_prefix("sqlite:"))
            .unwrap_or(location);
        if path.is_empty() {
            return Err(StoreError::Location {
                reason: "the SQLite path is empty; give a file path such as data/moat.db".into(),
            });
        }
        // Each pooled connection would get a database of its own.
        if path == ":memory:" {
            return Err(StoreError::Location {
                reason: "in-memory SQLite databases are not supported; give a file path, \
                         e.g. one in a temporary directory"
                    .into(),
            });
        }
        Ok(Location::Sqlite {
            path: PathBuf::from(path),
            shown: path.to_owned(),
        })
    }

    /// "SQLite data/moat.db" or "PostgreSQL db.internal:5432/moat".
    pub(crate) fn describe(&self) -> String {
        match self {
            Location::Sqlite { shown, .. } => format!("SQLite {shown}"),
            Location::Postgres { target, .. } => format!("PostgreSQL {target}"),
        }
    }
}

/// `host:port/database` (or `host:port` when the URL names no database).
fn postgres_target(options: &PgConnectOptions) -> String {
    let mut target = format!("{}:{}", options.get_host(), options.get_port());
    if let Some(database) = options.get_database() {
        let _ = write!(target, "/{database}");
    }
    target
}

/// The sqlx URL for a SQLite file at an absolute `path`, created when missing.
///
/// Bytes outside a small safe set are percent-encoded, so that `?`, `#`, `%`
/// or spaces in a path reach SQLite unchanged.
pub(crate) fn sqlite_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for &byte in path.as_os_str().as_encoded_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            let _ = write!(url, "%{byte:02X}");
        }
    }
    url.push_str("?mode=rwc");
    url
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn described(location: &str) -> String {
        Location::parse(location).unwrap().describe()
    }

    #[test]
    fn postgres_description_has_no_credentials() {
        let url = "postgres://moat:s3cret@db.internal:5433/moat?sslmode=prefer";
        assert_eq!(described(url), "PostgreSQL db.internal:5433/moat");
        assert_eq!(
            described("postgresql://moat:s3cret@db.internal/moat"),
            "PostgreSQL db.internal:5432/moat"
        );
    }

    #[test]
    fn invalid_postgres_url_error_has_no_password() {
        let err = Location::parse("postgres://moat:s3cret@db.internal:5432/moat?sslmode=bogus")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("bogus"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn sqlite_forms_name_the_same_file() {
        for location in [
            "sqlite://data/moat.db",
            "sqlite:data/moat.db",
            "data/moat.db",
        ] {
            let parsed = Location::parse(location).unwrap();
            let Location::Sqlite { path, shown } = &parsed else {
                panic!("{location} is not SQLite");
            };
            assert_eq!(path, Path::new("data/moat.db"));
            assert_eq!(shown, "data/moat.db");
            assert_eq!(parsed.describe(), "SQLite data/moat.db");
        }
        assert!(Location::parse("sqlite://").is_err());
        assert!(Location::parse("sqlite::memory:").is_err());
    }

    #[test]
    fn sqlite_url_escapes_special_characters() {
        assert_eq!(
            sqlite_url(Path::new("/var/lib/moat/a b?#%.db")),
            "sqlite:///var/lib/moat/a%20b%3F%23%25.db?mode=rwc"
        );
    }
}
