//! The small fields several vector store requests share, with their
//! limits: `metadata` (string pairs), `attributes` (string, number or
//! boolean values), `expires_after`, file id lists.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// `metadata`: up to 16 string pairs.
pub type Metadata = BTreeMap<String, String>;

/// `attributes` of a vector store file: up to 16 pairs, each value a
/// string, a number or a boolean; numbers keep the form they were sent in.
pub type Attributes = Map<String, Value>;

/// The most pairs in `metadata` or `attributes`.
pub const MAX_PAIRS: usize = 16;
/// The longest key, in characters.
pub const MAX_KEY_CHARS: usize = 64;
/// The longest string value, in characters.
pub const MAX_VALUE_CHARS: usize = 512;
/// The longest vector store name, in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// The most file ids in one request.
pub const MAX_FILE_IDS: usize = 500;
/// The longest file id accepted, in characters.
pub const MAX_FILE_ID_CHARS: usize = 64;

/// At most 16 pairs, keys of 1 to 64 characters, values of at most 512.
pub fn check_metadata(metadata: &Metadata, param: &str) -> Result<(), ApiError> {
    check_pair_count(metadata.len(), param)?;
    for (key, value) in metadata {
        check_key(key, param)?;
        check_string_value(key, value, param)?;
    }
    Ok(())
}

/// As [`check_metadata`], and each value a string, a number or a boolean.
pub fn check_attributes(attributes: &Attributes, param: &str) -> Result<(), ApiError> {
    check_pair_count(attributes.len(), param)?;
    for (key, value) in attributes {
        check_key(key, param)?;
        match value {
            Value::String(text) => check_string_value(key, text, param)?,
            Value::Number(_) | Value::Bool(_) => {}
            _ => {
                return Err(ApiError::invalid_param(
                    param,
                    format!("The value of `{key}` must be a string, a number or a boolean."),
                ))
            }
        }
    }
    Ok(())
}

fn check_pair_count(n: usize, param: &str) -> Result<(), ApiError> {
    if n > MAX_PAIRS {
        return Err(ApiError::invalid_param(
            param,
            format!("{param} may hold at most {MAX_PAIRS} pairs; {n} were given."),
        ));
    }
    Ok(())
}

fn check_key(key: &str, param: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
        return Err(ApiError::invalid_param(
            param,
            format!("Keys of {param} must have 1 to {MAX_KEY_CHARS} characters."),
        ));
    }
    Ok(())
}

fn check_string_value(key: &str, value: &str, param: &str) -> Result<(), ApiError> {
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(ApiError::invalid_param(
            param,
            format!("The value of `{key}` is longer than {MAX_VALUE_CHARS} characters."),
        ));
    }
    Ok(())
}

/// A name of at most 256 characters.
pub fn check_name(name: &str, param: &str) -> Result<(), ApiError> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid_param(
            param,
            format!("{param} must be at most {MAX_NAME_CHARS} characters long."),
        ));
    }
    Ok(())
}

/// At most 500 ids, each of 1 to 64 characters, none twice.
pub fn check_file_ids<'a>(
    ids: impl ExactSizeIterator<Item = &'a str>,
    param: &str,
) -> Result<(), ApiError> {
    if ids.len() > MAX_FILE_IDS {
        return Err(ApiError::invalid_param(
            param,
            format!(
                "At most {MAX_FILE_IDS} files may be given at once; {} were given.",
                ids.len()
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        if id.is_empty() || id.chars().count() > MAX_FILE_ID_CHARS {
            return Err(ApiError::invalid_param(
                param,
                format!("File ids must have 1 to {MAX_FILE_ID_CHARS} characters."),
            ));
        }
        if !seen.insert(id) {
            return Err(ApiError::invalid_param(
                param,
                format!("File `{id}` is given twice."),
            ));
        }
    }
    Ok(())
}

/// `expires_after.anchor`: the only anchor there is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpiresAnchor {
    #[default]
    #[serde(rename = "last_active_at")]
    LastActiveAt,
}

/// `expires_after`: the store expires `days` after it was last active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiresAfter {
    pub anchor: ExpiresAnchor,
    /// 1 to 365.
    pub days: u32,
}

/// The longest expiry, in days.
pub const MAX_EXPIRY_DAYS: u32 = 365;

impl ExpiresAfter {
    /// `days` within 1..=365.
    pub fn validate(&self) -> Result<(), ApiError> {
        if !(1..=MAX_EXPIRY_DAYS).contains(&self.days) {
            return Err(ApiError::invalid_param(
                "expires_after.days",
                format!(
                    "expires_after.days must be between 1 and {MAX_EXPIRY_DAYS}; {} was given.",
                    self.days
                ),
            ));
        }
        Ok(())
    }

    /// When a store last active at `last_active_at` (seconds) expires.
    pub fn expires_at(&self, last_active_at: i64) -> i64 {
        last_active_at.saturating_add(i64::from(self.days) * 86_400)
    }
}

/// Reads a field that may be absent (`None`), `null` (`Some(None)`) or a
/// value (`Some(Some(v))`); use with `#[serde(default)]`.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attributes(value: Value) -> Attributes {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn pairs_are_bounded() {
        let mut m: Metadata = (0..16).map(|i| (format!("k{i}"), "v".into())).collect();
        check_metadata(&m, "metadata").unwrap();
        m.insert("k16".into(), "v".into());
        assert_eq!(
            check_metadata(&m, "metadata").unwrap_err().param.as_deref(),
            Some("metadata")
        );
        for (k, v) in [
            ("k".repeat(65), "v".to_owned()),
            (String::new(), "v".into()),
            ("k".into(), "v".repeat(513)),
        ] {
            let m = Metadata::from([(k, v)]);
            assert!(check_metadata(&m, "metadata").is_err());
        }
        let m = Metadata::from([("k".repeat(64), "v".repeat(512))]);
        check_metadata(&m, "metadata").unwrap();
    }

    #[test]
    fn attributes_are_scalars() {
        check_attributes(
            &attributes(json!({"a": "x", "b": 2, "c": 1.5, "d": true})),
            "attributes",
        )
        .unwrap();
        for bad in [
            json!({"a": null}),
            json!({"a": [1]}),
            json!({"a": {"b": 1}}),
            json!({"a": "v".repeat(513)}),
        ] {
            let e = check_attributes(&attributes(bad.clone()), "attributes").unwrap_err();
            assert_eq!(e.param.as_deref(), Some("attributes"), "{bad}");
        }
        let many: Map<String, Value> = (0..17).map(|i| (format!("k{i}"), json!(i))).collect();
        assert!(check_attributes(&many, "attributes").is_err());
    }

    #[test]
    fn file_ids_are_bounded_and_distinct() {
        let ids: Vec<String> = (0..500).map(|i| format!("file-{i}")).collect();
        check_file_ids(ids.iter().map(String::as_str), "file_ids").unwrap();
        let ids: Vec<String> = (0..501).map(|i| format!("file-{i}")).collect();
        assert!(check_file_ids(ids.iter().map(String::as_str), "file_ids").is_err());
        assert!(check_file_ids(["file-a", "file-a"].into_iter(), "file_ids").is_err());
        assert!(check_file_ids([""].into_iter(), "file_ids").is_err());
    }

    #[test]
    fn expiry_is_bounded() {
        let e: ExpiresAfter =
            serde_json::from_value(json!({"anchor": "last_active_at", "days": 7})).unwrap();
        e.validate().unwrap();
        assert_eq!(e.expires_at(1_000), 1_000 + 7 * 86_400);
        for days in [0, 366] {
            let e = ExpiresAfter {
                anchor: ExpiresAnchor::LastActiveAt,
                days,
            };
            assert_eq!(
                e.validate().unwrap_err().param.as_deref(),
                Some("expires_after.days")
            );
        }
        assert!(
            serde_json::from_value::<ExpiresAfter>(json!({"anchor": "created_at", "days": 7}))
                .is_err()
        );
    }
}
