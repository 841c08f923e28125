//! The audit log against real databases: every body runs once on a SQLite
//! file in a temporary directory and once on a fresh PostgreSQL database
//! created through `MOAT_TEST_POSTGRES_URL` (skipped when unset, a failure
//! when `MOAT_TEST_REQUIRE_SERVICES=1`).

// The bodies are plain async functions called from the generated tests, so
// clippy's allowance for `#[test]` functions does not reach them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// `is_multiple_of` is newer than the MSRV (1.85).
#![allow(clippy::manual_is_multiple_of)]

#[macro_use]
mod support;

mod chain;
mod search;
mod subjects;
mod tamper;
mod writer;
