//! Cursor pages of objects (`{"object": "list", "data", "first_id",
//! "last_id", "has_more"}`) and the query that asks for one
//! (`limit`, `order`, `after`, `before`).

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The `object` of every page.
pub const LIST_OBJECT: &str = "list";

/// One page of a listing, in the order asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListPage<T> {
    /// Always `"list"`.
    pub object: String,
    pub data: Vec<T>,
    /// The id of the first object of `data`; `null` when it is empty.
    pub first_id: Option<String>,
    /// The id of the last object of `data`; `null` when it is empty.
    pub last_id: Option<String>,
    /// Whether more objects follow `last_id` in this order.
    pub has_more: bool,
}

impl<T> ListPage<T> {
    /// A page of `data`; `id` names each object (for `first_id` and `last_id`).
    pub fn new(data: Vec<T>, has_more: bool, id: impl Fn(&T) -> &str) -> Self {
        Self {
            object: LIST_OBJECT.to_owned(),
            first_id: data.first().map(|item| id(item).to_owned()),
            last_id: data.last().map(|item| id(item).to_owned()),
            data,
            has_more,
        }
    }
}

/// `order`: by creation time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListOrder {
    /// Oldest first.
    Asc,
    /// Newest first (the default).
    #[default]
    Desc,
}

/// The default `limit` of a page.
pub const DEFAULT_LIMIT: u32 = 20;
/// The largest `limit` of a page.
pub const MAX_LIMIT: u32 = 100;

/// The query string of a listing: `?limit=&order=&after=&before=`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1 to 100; 20 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default)]
    pub order: ListOrder,
    /// Objects that come after this id in `order`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Objects that come before this id in `order`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

impl ListQuery {
    /// `limit` within 1..=100, at most one cursor, cursors of sane length.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_limit(self.limit, MAX_LIMIT)?;
        check_cursors(self.after.as_deref(), self.before.as_deref())
    }

    /// The page size asked for, or the default.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT)
    }
}

/// The longest id accepted as a cursor.
pub const MAX_CURSOR_CHARS: usize = 64;

/// `limit`, when given, within `1..=max`.
pub(crate) fn check_limit(limit: Option<u32>, max: u32) -> Result<(), ApiError> {
    match limit {
        Some(n) if n == 0 || n > max => Err(ApiError::invalid_param(
            "limit",
            format!("limit must be between 1 and {max}; {n} was given."),
        )),
        _ => Ok(()),
    }
}

/// At most one of `after` and `before`, each a plausible id.
pub(crate) fn check_cursors(after: Option<&str>, before: Option<&str>) -> Result<(), ApiError> {
    if after.is_some() && before.is_some() {
        return Err(ApiError::invalid_param(
            "before",
            "Give at most one of after and before.",
        ));
    }
    for (param, cursor) in [("after", after), ("before", before)] {
        if let Some(id) = cursor {
            if id.is_empty() || id.chars().count() > MAX_CURSOR_CHARS {
                return Err(ApiError::invalid_param(
                    param,
                    format!("{param} must be an object id of 1 to {MAX_CURSOR_CHARS} characters."),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(json: &str) -> Result<ListQuery, ApiError> {
        crate::error::parse_json::<ListQuery>(json.as_bytes())
            .and_then(|q| q.validate().map(|()| q))
    }

    #[test]
    fn defaults_and_bounds() {
        let q = query("{}").unwrap();
        assert_eq!((q.limit(), q.order), (20, ListOrder::Desc));
        let q = query(r#"{"limit":100,"order":"asc","after":"vs_abc"}"#).unwrap();
        assert_eq!((q.limit(), q.order), (100, ListOrder::Asc));
        assert_eq!(q.after.as_deref(), Some("vs_abc"));
        for (body, param) in [
            (r#"{"limit":0}"#, "limit"),
            (r#"{"limit":101}"#, "limit"),
            (r#"{"limit":-1}"#, "limit"),
            (r#"{"order":"up"}"#, "order"),
            (r#"{"after":"a","before":"b"}"#, "before"),
            (r#"{"after":""}"#, "after"),
        ] {
            let e = query(body).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{body}");
            assert_eq!(e.status(), 400);
        }
        let long = format!(r#"{{"before":"{}"}}"#, "x".repeat(65));
        assert_eq!(query(&long).unwrap_err().param.as_deref(), Some("before"));
    }

    #[test]
    fn a_page_names_its_ends() {
        let page = ListPage::new(vec!["a".to_owned(), "b".to_owned()], true, |s| s.as_str());
        insta::assert_snapshot!(serde_json::to_string(&page).unwrap(), @r#"{"object":"list","data":["a","b"],"first_id":"a","last_id":"b","has_more":true}"#);
        let empty = ListPage::<String>::new(vec![], false, |s| s.as_str());
        insta::assert_snapshot!(serde_json::to_string(&empty).unwrap(), @r#"{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":false}"#);
    }
}
