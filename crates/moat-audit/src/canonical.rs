//! The chain's byte format: canonical JSON (object keys sorted by their
//! UTF-8 bytes, no whitespace, strings escaped as serde_json does, integers
//! only) and `hash = SHA-256(prev_hash || canonical body)` from a genesis
//! hash of 32 zero bytes.

use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The hash the first record chains onto.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// `value` as canonical JSON.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::with_capacity(512);
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    // serde_json escapes `"`, `\` and control characters and nothing else.
    match serde_json::to_string(s) {
        Ok(escaped) => out.push_str(&escaped),
        // Serializing a string to a String cannot fail.
        Err(_) => out.push_str("\"\""),
    }
}

/// The hash of a record with `body`, chained onto `prev_hash`.
pub fn chain_hash(prev_hash: &[u8], body: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(body.as_bytes());
    hasher.finalize().into()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

/// Bytes of lower- or upper-case hex; `None` when it is not hex.
#[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` is newer than the MSRV (1.85)
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_level_without_whitespace() {
        let value = json!({"b": 1, "a": {"z": [true, null, "x"], "é": 2, "A": -3}, "": "q\"\n"});
        assert_eq!(
            canonical_json(&value),
            r#"{"":"q\"\n","a":{"A":-3,"z":[true,null,"x"],"é":2},"b":1}"#
        );
    }

    #[test]
    fn insertion_order_does_not_matter() {
        let one: Value = serde_json::from_str(r#"{"x":1,"y":{"b":2,"a":1}}"#).unwrap();
        let two: Value = serde_json::from_str(r#"{ "y": {"a":1, "b":2}, "x": 1 }"#).unwrap();
        assert_eq!(canonical_json(&one), canonical_json(&two));
    }

    #[test]
    fn the_hash_covers_the_previous_hash_and_the_body() {
        let first = chain_hash(&GENESIS_HASH, "{}");
        assert_ne!(first, chain_hash(&GENESIS_HASH, "{ }"));
        assert_ne!(chain_hash(&first, "{}"), first);
        assert_eq!(
            hex(&chain_hash(&GENESIS_HASH, "")),
            // SHA-256 of 32 zero bytes.
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00ABff").unwrap(), vec![0, 0xab, 0xff]);
        assert!(unhex("0").is_none());
        assert!(unhex("zz").is_none());
    }
}
