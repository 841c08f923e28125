//! Cursor pagination shared by every listing: ordered by (creation time,
//! id), or by another ordering column (a conversation item's position),
//! `after` and `before` naming an id of the same listing.

use sqlx::any::AnyRow;
use sqlx::{Any, Pool, Row as _};

use crate::StoreError;

/// Which way a listing runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// Oldest first.
    Asc,
    /// Newest first.
    #[default]
    Desc,
}

/// Which page of a listing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    /// The most items to return (at least 1 is read).
    pub limit: u32,
    pub order: SortOrder,
    /// Items that come after this id in `order`.
    pub after: Option<String>,
    /// Items that come before this id in `order` (the nearest `limit`);
    /// ignored when `after` is given.
    pub before: Option<String>,
}

impl PageQuery {
    /// The first page of `limit` items in `order`.
    pub fn first(limit: u32, order: SortOrder) -> Self {
        Self {
            limit,
            order,
            after: None,
            before: None,
        }
    }
}

/// One page of a listing, in the order asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Whether more items follow in the direction read (after the last
    /// item, or before the first one for a `before` page).
    pub has_more: bool,
}

/// One listing: a table, its columns, the condition that scopes it (an
/// owner, a store) and filters that only narrow it (a purpose, a status).
pub(crate) struct Listing<'a> {
    pub table: &'static str,
    pub columns: &'static str,
    /// The id column cursors name.
    pub id: &'static str,
    /// The integer column the listing runs by (then the id): `created_ms`
    /// for most.
    pub order: &'static str,
    /// `column = value` conditions cursors must satisfy too.
    pub scope: Vec<(&'static str, &'a str)>,
    /// `column = value` conditions of the listing alone.
    pub filters: Vec<(&'static str, &'a str)>,
}

impl Listing<'_> {
    /// Reads one page, mapping each row with `map`. A cursor that names
    /// nothing in the listing's scope is [`StoreError::UnknownCursor`].
    pub async fn page<T>(
        &self,
        pool: &Pool<Any>,
        query: &PageQuery,
        map: impl Fn(&AnyRow) -> Result<T, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let (cursor, backwards) = match (&query.after, &query.before) {
            (Some(id), _) => (Some(id.as_str()), false),
            (None, Some(id)) => (Some(id.as_str()), true),
            (None, None) => (None, false),
        };
        let mut binds: Vec<&str> = Vec::new();
        let mut conditions: Vec<String> = Vec::new();
        for (column, value) in &self.scope {
            binds.push(value);
            conditions.push(format!("{column} = ${}", binds.len()));
        }
        let cursor_ms = match cursor {
            Some(id) => Some(self.cursor_time(pool, &conditions, &binds, id).await?),
            None => None,
        };
        for (column, value) in &self.filters {
            binds.push(value);
            conditions.push(format!("{column} = ${}", binds.len()));
        }
        // Read newest first for a descending listing, and the other way
        // round for a `before` page (reversed afterwards).
        let descending = (query.order == SortOrder::Desc) != backwards;
        let (cmp, dir) = if descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let mut next = binds.len() + 1;
        if cursor.is_some() {
            let (t, c) = (next, next + 1);
            next += 2;
            conditions.push(format!(
                "({order} {cmp} ${t} OR ({order} = ${t} AND {id} {cmp} ${c}))",
                order = self.order,
                id = self.id
            ));
        }
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {columns} FROM {table} {where_clause} \
             ORDER BY {order} {dir}, {id} {dir} LIMIT ${next}",
            columns = self.columns,
            table = self.table,
            order = self.order,
            id = self.id,
        );
        let mut q = sqlx::query(&sql);
        for value in &binds {
            q = q.bind(*value);
        }
        if let (Some(id), Some(ms)) = (cursor, cursor_ms) {
            q = q.bind(ms).bind(id);
        }
        let limit = query.limit.max(1);
        let rows = q.bind(i64::from(limit) + 1).fetch_all(pool).await?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_more = rows.len() > limit;
        let mut items = rows
            .iter()
            .take(limit)
            .map(map)
            .collect::<Result<Vec<_>, _>>()?;
        if backwards {
            items.reverse();
        }
        Ok(Page { items, has_more })
    }

    /// The ordering value of the item a cursor names, within the scope.
    async fn cursor_time(
        &self,
        pool: &Pool<Any>,
        scope: &[String],
        binds: &[&str],
        id: &str,
    ) -> Result<i64, StoreError> {
        let mut conditions = scope.to_vec();
        conditions.push(format!("{} = ${}", self.id, binds.len() + 1));
        let sql = format!(
            "SELECT {} AS cursor_value FROM {} WHERE {}",
            self.order,
            self.table,
            conditions.join(" AND ")
        );
        let mut q = sqlx::query(&sql);
        for value in binds {
            q = q.bind(*value);
        }
        match q.bind(id).fetch_optional(pool).await? {
            Some(row) => Ok(row.try_get("cursor_value")?),
            None => Err(StoreError::UnknownCursor { id: id.to_owned() }),
        }
    }
}
