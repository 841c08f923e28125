//! OpenAI's attribute filters for vector-store search ([`Filter`]) and the
//! limits on the attributes a file carries ([`validate_attributes`]).
//!
//! A filter is a comparison `{"type": "eq"|"ne"|"gt"|"gte"|"lt"|"lte"|"in"|
//! "nin", "key": .., "value": ..}` or a compound `{"type": "and"|"or",
//! "filters": [..]}`. Parsing is strict (unknown types and fields are
//! errors that name where they are) and bounded: nesting at most
//! [`MAX_DEPTH`] deep, at most [`MAX_FILTERS`] filters in all.
//!
//! Semantics, where OpenAI leaves them open:
//! - A missing attribute (or `null`) fails every comparison except `ne`
//!   and `nin`, which it passes: the file does not have that value.
//! - Numbers compare as f64 (`1` equals `1.0`). Strings compare exactly
//!   (case counts); `gt`/`gte`/`lt`/`lte` on two strings compare them
//!   lexicographically by code point, so ISO dates (`"2024-03-01"`) order
//!   as dates. Booleans are only equal or not.
//! - Values of different types are never equal (so `ne` passes) and never
//!   ordered (so `gt`.. fail): `"5"` is not `5`.
//! - `in`/`nin` take an array of strings and numbers; a single value is
//!   read as an array of one.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Deepest nesting of compound filters (a lone comparison is depth 1).
pub const MAX_DEPTH: usize = 8;
/// Most filters, comparisons and compounds together, in one filter.
pub const MAX_FILTERS: usize = 64;
/// Most values in the array of an `in` or `nin`.
pub const MAX_LIST_VALUES: usize = 1024;
/// Most attributes a file may carry.
pub const MAX_ATTRIBUTES: usize = 16;
/// Longest attribute key, in characters.
pub const MAX_KEY_CHARS: usize = 64;
/// Longest string attribute value, in characters.
pub const MAX_STRING_CHARS: usize = 512;

/// A parsed attribute filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub enum Filter {
    /// One attribute against a value.
    Comparison(Comparison),
    /// Every filter holds.
    And(Vec<Filter>),
    /// At least one filter holds.
    Or(Vec<Filter>),
}

/// `key` `op` `value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub op: ComparisonOp,
    pub key: String,
    pub value: FilterValue,
}

/// The comparison types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Nin,
}

/// What an attribute is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// For `eq`, `ne`, `gt`, `gte`, `lt`, `lte`.
    One(Scalar),
    /// For `in` and `nin`.
    List(Vec<Scalar>),
}

/// A string, number or boolean.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    String(String),
    Number(f64),
    Bool(bool),
}

/// Why a filter was refused; the message names the place
/// (`filters.filters[1].type`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFilter(pub String);

/// Why a file's attributes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidAttributes(pub String);

const COMPARISON_TYPES: &str = "eq, ne, gt, gte, lt, lte, in, nin, and, or";

impl ComparisonOp {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "in" => Self::In,
            "nin" => Self::Nin,
            _ => return None,
        })
    }

    /// The name in OpenAI's JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Gt => "gt",
            Self::Gte => "gte",
            Self::Lt => "lt",
            Self::Lte => "lte",
            Self::In => "in",
            Self::Nin => "nin",
        }
    }
}

impl Filter {
    /// Parses OpenAI's JSON form; `path` names the parameter in messages
    /// (`"filters"`).
    pub fn from_json(value: &Value, path: &str) -> Result<Self, InvalidFilter> {
        let mut count = 0;
        parse(value, path, 1, &mut count)
    }

    /// Whether a file with these attributes passes the filter.
    pub fn matches(&self, attributes: &Map<String, Value>) -> bool {
        match self {
            Self::Comparison(comparison) => comparison.matches(attributes),
            Self::And(filters) => filters.iter().all(|f| f.matches(attributes)),
            Self::Or(filters) => filters.iter().any(|f| f.matches(attributes)),
        }
    }

    /// OpenAI's JSON form.
    pub fn to_json(&self) -> Value {
        let (kind, filters) = match self {
            Self::Comparison(comparison) => return comparison.to_json(),
            Self::And(filters) => ("and", filters),
            Self::Or(filters) => ("or", filters),
        };
        let mut object = Map::new();
        object.insert("type".into(), kind.into());
        let filters = filters.iter().map(Self::to_json).collect();
        object.insert("filters".into(), Value::Array(filters));
        Value::Object(object)
    }
}

impl TryFrom<Value> for Filter {
    type Error = InvalidFilter;

    fn try_from(value: Value) -> Result<Self, InvalidFilter> {
        Self::from_json(&value, "filters")
    }
}

impl From<Filter> for Value {
    fn from(filter: Filter) -> Value {
        filter.to_json()
    }
}

impl Comparison {
    fn matches(&self, attributes: &Map<String, Value>) -> bool {
        let attribute = match attributes.get(&self.key) {
            None | Some(Value::Null) => {
                return matches!(self.op, ComparisonOp::Ne | ComparisonOp::Nin)
            }
            Some(attribute) => attribute,
        };
        let one = |test: fn(Option<Ordering>) -> bool| match &self.value {
            FilterValue::One(value) => test(compare(attribute, value)),
            FilterValue::List(_) => false,
        };
        let any_equal = || match &self.value {
            FilterValue::One(value) => compare(attribute, value) == Some(Ordering::Equal),
            FilterValue::List(values) => values
                .iter()
                .any(|value| compare(attribute, value) == Some(Ordering::Equal)),
        };
        match self.op {
            ComparisonOp::Eq => one(|o| o == Some(Ordering::Equal)),
            ComparisonOp::Ne => one(|o| o != Some(Ordering::Equal)),
            ComparisonOp::Gt => one(|o| o == Some(Ordering::Greater)),
            ComparisonOp::Gte => one(|o| matches!(o, Some(Ordering::Greater | Ordering::Equal))),
            ComparisonOp::Lt => one(|o| o == Some(Ordering::Less)),
            ComparisonOp::Lte => one(|o| matches!(o, Some(Ordering::Less | Ordering::Equal))),
            ComparisonOp::In => any_equal(),
            ComparisonOp::Nin => !any_equal(),
        }
    }

    fn to_json(&self) -> Value {
        let value = match &self.value {
            FilterValue::One(value) => value.to_json(),
            FilterValue::List(values) => Value::Array(values.iter().map(Scalar::to_json).collect()),
        };
        let mut object = Map::new();
        object.insert("type".into(), self.op.name().into());
        object.insert("key".into(), self.key.clone().into());
        object.insert("value".into(), value);
        Value::Object(object)
    }
}

impl Scalar {
    fn to_json(&self) -> Value {
        match self {
            Self::String(s) => Value::String(s.clone()),
            Self::Number(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
            Self::Bool(b) => Value::Bool(*b),
        }
    }
}

/// How an attribute relates to a filter's value: `None` when they are of
/// different types, or booleans that differ.
fn compare(attribute: &Value, value: &Scalar) -> Option<Ordering> {
    match (attribute, value) {
        (Value::Number(a), Scalar::Number(b)) => a.as_f64()?.partial_cmp(b),
        (Value::String(a), Scalar::String(b)) => Some(a.as_str().cmp(b.as_str())),
        (Value::Bool(a), Scalar::Bool(b)) => (a == b).then_some(Ordering::Equal),
        _ => None,
    }
}

fn invalid(path: &str, message: impl std::fmt::Display) -> InvalidFilter {
    InvalidFilter(format!("{path}: {message}"))
}

fn parse(
    value: &Value,
    path: &str,
    depth: usize,
    count: &mut usize,
) -> Result<Filter, InvalidFilter> {
    if depth > MAX_DEPTH {
        return Err(invalid(
            path,
            format!("filters nest more than {MAX_DEPTH} deep"),
        ));
    }
    *count += 1;
    if *count > MAX_FILTERS {
        return Err(invalid(
            path,
            format!("more than {MAX_FILTERS} filters in all"),
        ));
    }
    let Value::Object(object) = value else {
        return Err(invalid(path, "a filter must be an object"));
    };
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return Err(invalid(&format!("{path}.type"), "must be a string")),
        None => return Err(invalid(&format!("{path}.type"), "missing")),
    };
    match kind {
        "and" | "or" => {
            only_fields(object, path, &["type", "filters"])?;
            let here = format!("{path}.filters");
            let Some(Value::Array(items)) = object.get("filters") else {
                return Err(invalid(
                    &here,
                    format!("`{kind}` needs an array of filters"),
                ));
            };
            if items.is_empty() {
                return Err(invalid(&here, "must hold at least one filter"));
            }
            let mut filters = Vec::with_capacity(items.len().min(MAX_FILTERS));
            for (i, item) in items.iter().enumerate() {
                filters.push(parse(item, &format!("{here}[{i}]"), depth + 1, count)?);
            }
            Ok(if kind == "and" {
                Filter::And(filters)
            } else {
                Filter::Or(filters)
            })
        }
        _ => {
            let Some(op) = ComparisonOp::from_name(kind) else {
                return Err(invalid(
                    &format!("{path}.type"),
                    format!(
                        "unknown type `{}`; expected one of {COMPARISON_TYPES}",
                        shorten(kind)
                    ),
                ));
            };
            only_fields(object, path, &["type", "key", "value"])?;
            let key = match object.get("key") {
                Some(Value::String(key)) if key.chars().count() <= MAX_KEY_CHARS => key.clone(),
                Some(Value::String(_)) => {
                    return Err(invalid(
                        &format!("{path}.key"),
                        format!("longer than {MAX_KEY_CHARS} characters"),
                    ))
                }
                Some(_) => return Err(invalid(&format!("{path}.key"), "must be a string")),
                None => return Err(invalid(&format!("{path}.key"), "missing")),
            };
            let here = format!("{path}.value");
            let value = match (op, object.get("value")) {
                (_, None) => return Err(invalid(&here, "missing")),
                (ComparisonOp::In | ComparisonOp::Nin, Some(Value::Array(items))) => {
                    if items.len() > MAX_LIST_VALUES {
                        return Err(invalid(
                            &here,
                            format!("more than {MAX_LIST_VALUES} values"),
                        ));
                    }
                    let mut values = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let scalar = scalar(item, &format!("{here}[{i}]"))?;
                        if let Scalar::Bool(_) = scalar {
                            return Err(invalid(
                                &format!("{here}[{i}]"),
                                "the values of `in` and `nin` must be strings or numbers",
                            ));
                        }
                        values.push(scalar);
                    }
                    FilterValue::List(values)
                }
                (ComparisonOp::In | ComparisonOp::Nin, Some(item)) => {
                    FilterValue::List(vec![scalar(item, &here)?])
                }
                (_, Some(Value::Array(_))) => {
                    return Err(invalid(
                        &here,
                        format!("`{kind}` takes a string, number or boolean, not an array"),
                    ))
                }
                (_, Some(item)) => FilterValue::One(scalar(item, &here)?),
            };
            Ok(Filter::Comparison(Comparison { op, key, value }))
        }
    }
}

fn scalar(value: &Value, path: &str) -> Result<Scalar, InvalidFilter> {
    match value {
        Value::String(s) if s.chars().count() <= MAX_STRING_CHARS => Ok(Scalar::String(s.clone())),
        Value::String(_) => Err(invalid(
            path,
            format!("longer than {MAX_STRING_CHARS} characters"),
        )),
        Value::Number(n) => n
            .as_f64()
            .map(Scalar::Number)
            .ok_or_else(|| invalid(path, "number out of range")),
        Value::Bool(b) => Ok(Scalar::Bool(*b)),
        _ => Err(invalid(path, "must be a string, number or boolean")),
    }
}

fn only_fields(
    object: &Map<String, Value>,
    path: &str,
    allowed: &[&str],
) -> Result<(), InvalidFilter> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(field) => Err(invalid(
            &format!("{path}.{}", shorten(field)),
            format!("unknown field; expected {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// At most [`MAX_KEY_CHARS`] characters of user text, for messages.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_KEY_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Checks a file's attributes against OpenAI's limits: at most
/// [`MAX_ATTRIBUTES`] keys of at most [`MAX_KEY_CHARS`] characters, each a
/// string of at most [`MAX_STRING_CHARS`] characters, a number or a
/// boolean.
pub fn validate_attributes(attributes: &Map<String, Value>) -> Result<(), InvalidAttributes> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(InvalidAttributes(format!(
            "attributes: at most {MAX_ATTRIBUTES} keys, got {}",
            attributes.len()
        )));
    }
    for (key, value) in attributes {
        if key.chars().count() > MAX_KEY_CHARS {
            return Err(InvalidAttributes(format!(
                "attributes: key `{}` is longer than {MAX_KEY_CHARS} characters",
                shorten(key)
            )));
        }
        match value {
            Value::String(s) if s.chars().count() > MAX_STRING_CHARS => {
                return Err(InvalidAttributes(format!(
                    "attributes.{key}: longer than {MAX_STRING_CHARS} characters"
                )))
            }
            Value::Number(n) if n.as_f64().is_none_or(|n| !n.is_finite()) => {
                return Err(InvalidAttributes(format!(
                    "attributes.{key}: number out of range"
                )))
            }
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {}
            _ => {
                return Err(InvalidAttributes(format!(
                    "attributes.{key}: must be a string, number or boolean"
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
