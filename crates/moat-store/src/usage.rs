//! Usage accounting: requests and tokens per principal, role and model per
//! UTC day, added up as requests finish and summed for reports and quotas.

use sqlx::Row as _;

use crate::{Store, StoreError};

/// Usage to add to one (day, principal, role, model) row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDelta {
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Who made the requests: an API key id or an identity-provider subject.
    pub principal: String,
    /// The role the requests were made under.
    pub role: String,
    /// The model that served them.
    pub model: String,
    /// Number of requests.
    pub requests: i64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
}

/// What [`Store::usage`] groups totals by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageBy {
    /// The principal (API key id or subject).
    Key,
    /// The role.
    Role,
    /// The model.
    Model,
    /// The UTC day.
    Day,
}

impl UsageBy {
    fn column(self) -> &'static str {
        match self {
            UsageBy::Key => "principal",
            UsageBy::Role => "role",
            UsageBy::Model => "model",
            UsageBy::Day => "day",
        }
    }
}

/// Totals for one group of a usage report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// The principal, role, model or day the totals are for.
    pub group: String,
    /// Number of requests.
    pub requests: i64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
}

impl Store {
    /// Adds each delta to its (day, principal, role, model) row, creating the
    /// row when missing; all or nothing.
    pub async fn add_usage(&self, rows: &[UsageDelta]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for row in rows {
            sqlx::query(
                "INSERT INTO usage_daily \
                 (day, principal, role, model, requests, prompt_tokens, completion_tokens) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (day, principal, role, model) DO UPDATE SET \
                 requests = usage_daily.requests + excluded.requests, \
                 prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens, \
                 completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens",
            )
            .bind(row.day.as_str())
            .bind(row.principal.as_str())
            .bind(row.role.as_str())
            .bind(row.model.as_str())
            .bind(row.requests)
            .bind(row.prompt_tokens)
            .bind(row.completion_tokens)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Totals grouped `by` principal, role, model or day, over the days from
    /// `since_day` (`YYYY-MM-DD`, inclusive) when given; ordered by group.
    pub async fn usage(
        &self,
        by: UsageBy,
        since_day: Option<&str>,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let column = by.column();
        let filter = if since_day.is_some() {
            "WHERE day >= $1"
        } else {
            ""
        };
        // SUM of BIGINT is NUMERIC in PostgreSQL, which the Any driver cannot read.
        let sql = format!(
            "SELECT {column} AS usage_group, \
             CAST(SUM(requests) AS BIGINT) AS requests, \
             CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, \
             CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens \
             FROM usage_daily {filter} GROUP BY {column}"
        );
        let mut query = sqlx::query(&sql);
        if let Some(day) = since_day {
            query = query.bind(day);
        }
        let mut totals = query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(UsageRow {
                    group: row.try_get("usage_group")?,
                    requests: row.try_get("requests")?,
                    prompt_tokens: row.try_get("prompt_tokens")?,
                    completion_tokens: row.try_get("completion_tokens")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        // Sorted here rather than in SQL: the databases' text collations differ.
        totals.sort_by(|a, b| a.group.cmp(&b.group));
        Ok(totals)
    }

    /// Prompt plus completion tokens of `principal` on `day` (`YYYY-MM-DD`),
    /// over all roles and models; 0 when none were recorded.
    pub async fn tokens_on(&self, principal: &str, day: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS BIGINT) AS tokens \
             FROM usage_daily WHERE principal = $1 AND day = $2",
        )
        .bind(principal)
        .bind(day)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("tokens")?)
    }

    /// prompt + completion tokens recorded under `role` on `day` (usage rows
    /// carry the caller's first role), summed over principals and models.
    pub async fn role_tokens_on(&self, role: &str, day: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS BIGINT) AS tokens \
             FROM usage_daily WHERE role = $1 AND day = $2",
        )
        .bind(role)
        .bind(day)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("tokens")?)
    }
}
