//! `POST /v1/vector_stores/{id}/search`: the request and the results page.
//! `filters` stay raw JSON here; moat-kb reads them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::Attributes;
use crate::error::ApiError;

/// `query`: one text or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SearchQuery {
    One(String),
    Many(Vec<String>),
}

impl SearchQuery {
    /// The texts, in order.
    pub fn texts(&self) -> Vec<String> {
        match self {
            Self::One(text) => vec![text.clone()],
            Self::Many(texts) => texts.clone(),
        }
    }
}

/// The most texts in one `query`.
pub const MAX_QUERIES: usize = 16;
/// The longest query text, in characters.
pub const MAX_QUERY_CHARS: usize = 4096;
/// The default `max_num_results`.
pub const DEFAULT_MAX_RESULTS: u32 = 10;
/// The largest `max_num_results`.
pub const MAX_RESULTS: u32 = 50;

/// `ranking_options.ranker`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ranker {
    #[serde(rename = "none")]
    None,
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "default-2024-11-15")]
    Default20241115,
}

/// `ranking_options`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankingOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranker: Option<Ranker>,
    /// 0 to 1: results scoring lower are left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_threshold: Option<f64>,
}

/// The search request. Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    pub query: SearchQuery,
    /// 1 to 50; 10 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_num_results: Option<u32>,
    /// A comparison or compound filter on file attributes, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking_options: Option<RankingOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite_query: Option<bool>,
}

impl SearchRequest {
    /// One to 16 texts, none empty or over 4096 characters;
    /// `max_num_results` within 1..=50; `score_threshold` within 0..=1.
    pub fn validate(&self) -> Result<(), ApiError> {
        let texts: &[String] = match &self.query {
            SearchQuery::One(text) => std::slice::from_ref(text),
            SearchQuery::Many(texts) => texts,
        };
        if texts.is_empty() || texts.len() > MAX_QUERIES {
            return Err(ApiError::invalid_param(
                "query",
                format!("query must hold 1 to {MAX_QUERIES} texts."),
            ));
        }
        for text in texts {
            if text.trim().is_empty() {
                return Err(ApiError::invalid_param("query", "query must not be empty."));
            }
            if text.chars().count() > MAX_QUERY_CHARS {
                return Err(ApiError::invalid_param(
                    "query",
                    format!("Each query text must be at most {MAX_QUERY_CHARS} characters long."),
                ));
            }
        }
        if let Some(n) = self.max_num_results {
            if n == 0 || n > MAX_RESULTS {
                return Err(ApiError::invalid_param(
                    "max_num_results",
                    format!("max_num_results must be between 1 and {MAX_RESULTS}; {n} was given."),
                ));
            }
        }
        if let Some(threshold) = self.ranking_options.and_then(|r| r.score_threshold) {
            if !(0.0..=1.0).contains(&threshold) {
                return Err(ApiError::invalid_param(
                    "ranking_options.score_threshold",
                    "score_threshold must be between 0 and 1.",
                ));
            }
        }
        Ok(())
    }

    /// The number of results asked for, or the default.
    pub fn max_num_results(&self) -> u32 {
        self.max_num_results.unwrap_or(DEFAULT_MAX_RESULTS)
    }
}

/// One piece of a result's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchContent {
    /// Always `"text"`.
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
}

impl SearchContent {
    /// A text piece.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            kind: "text".to_owned(),
            text: text.into(),
        }
    }
}

/// One result: a chunk of a file and its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    pub file_id: String,
    pub filename: String,
    pub score: f64,
    pub attributes: Attributes,
    pub content: Vec<SearchContent>,
}

/// The answer: all results on one page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResultsPage {
    /// Always `"vector_store.search_results.page"`.
    pub object: String,
    /// The texts searched for (after any rewriting).
    pub search_query: Vec<String>,
    pub data: Vec<SearchResult>,
    pub has_more: bool,
    /// Always `null`: every result is on this page.
    pub next_page: Option<String>,
}

impl SearchResult {
    /// The result's text pieces as one text, a line break between pieces.
    pub fn text(&self) -> String {
        let pieces: Vec<&str> = self.content.iter().map(|c| c.text.as_str()).collect();
        pieces.join("\n")
    }
}

impl SearchResultsPage {
    /// The one page of `data` found for `search_query`.
    pub fn new(search_query: Vec<String>, data: Vec<SearchResult>) -> Self {
        Self {
            object: "vector_store.search_results.page".to_owned(),
            search_query,
            data,
            has_more: false,
            next_page: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::parse_json;
    use serde_json::json;

    fn search(body: &str) -> Result<SearchRequest, ApiError> {
        parse_json::<SearchRequest>(body.as_bytes()).and_then(|r| r.validate().map(|()| r))
    }

    #[test]
    fn requests_as_the_sdk_sends_them() {
        // client.vector_stores.search(vs_id, query="refund policy")
        let r = search(r#"{"query":"refund policy"}"#).unwrap();
        assert_eq!(r.query.texts(), ["refund policy"]);
        assert_eq!(r.max_num_results(), 10);
        // ... query=[...], filters=..., max_num_results=5, ranking_options=..., rewrite_query=True
        let r = search(r#"{"query":["退款","refund"],"filters":{"type":"and","filters":[{"type":"eq","key":"dept","value":"hr"},{"type":"gte","key":"year","value":2023}]},"max_num_results":5,"ranking_options":{"ranker":"default-2024-11-15","score_threshold":0.5},"rewrite_query":true}"#).unwrap();
        assert_eq!(r.query.texts(), ["退款", "refund"]);
        assert_eq!(r.max_num_results(), 5);
        assert_eq!(
            r.filters.as_ref().unwrap()["filters"][1]["value"],
            json!(2023)
        );
        assert_eq!(
            r.ranking_options.unwrap().ranker,
            Some(Ranker::Default20241115)
        );
        assert_eq!(r.rewrite_query, Some(true));
    }

    #[test]
    fn hostile_requests_are_refused() {
        let long = json!({"query": "q".repeat(4097)}).to_string();
        let many = json!({"query": vec!["q"; 17]}).to_string();
        for (body, param) in [
            (r#"{}"#, "query"),
            (r#"{"query":""}"#, "query"),
            (r#"{"query":"  "}"#, "query"),
            (r#"{"query":[]}"#, "query"),
            (r#"{"query":["a",""]}"#, "query"),
            (r#"{"query":7}"#, "query"),
            (long.as_str(), "query"),
            (&many, "query"),
            (r#"{"query":"a","max_num_results":0}"#, "max_num_results"),
            (r#"{"query":"a","max_num_results":51}"#, "max_num_results"),
            (
                r#"{"query":"a","ranking_options":{"score_threshold":1.5}}"#,
                "ranking_options.score_threshold",
            ),
            (
                r#"{"query":"a","ranking_options":{"score_threshold":-0.1}}"#,
                "ranking_options.score_threshold",
            ),
            (
                r#"{"query":"a","ranking_options":{"ranker":"best"}}"#,
                "ranking_options.ranker",
            ),
        ] {
            let e = search(body).unwrap_err();
            assert_eq!(e.status(), 400, "{body}");
            assert_eq!(e.param.as_deref(), Some(param), "{body}");
        }
        let ok = json!({"query": "q".repeat(4096), "max_num_results": 50}).to_string();
        search(&ok).unwrap();
    }

    #[test]
    fn the_page_has_openai_shape() {
        let page = SearchResultsPage::new(
            vec!["refund".into()],
            vec![SearchResult {
                file_id: "file-abc".into(),
                filename: "policy.pdf".into(),
                score: 0.875,
                attributes: serde_json::from_value(json!({"dept": "hr"})).unwrap(),
                content: vec![SearchContent::text("Refunds within 30 days.")],
            }],
        );
        insta::assert_snapshot!(serde_json::to_string(&page).unwrap(), @r#"{"object":"vector_store.search_results.page","search_query":["refund"],"data":[{"file_id":"file-abc","filename":"policy.pdf","score":0.875,"attributes":{"dept":"hr"},"content":[{"type":"text","text":"Refunds within 30 days."}]}],"has_more":false,"next_page":null}"#);
    }
}
