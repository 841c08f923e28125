//! The count and range keywords of one schema object, checked before
//! llama.cpp sees them: a contradiction such as `minLength` above
//! `maxLength` becomes a repetition `{10,2}`, which llama.cpp's grammar
//! parser expands without end (the `max - min` count wraps around).
//!
//! Counts (`minLength`, `maxItems`...) must be non-negative integers and each
//! `min*` at most its `max*`; numeric bounds (`minimum`, `exclusiveMaximum`...)
//! must be numbers that leave some value, and integer bounds fit in ±2^53.
//! Every refusal names the keyword by its path in the request.

use serde_json::{Map, Number, Value};

/// The `min*`/`max*` count pairs JSON Schema defines.
pub(super) const COUNT_PAIRS: [(&str, &str); 4] = [
    ("minLength", "maxLength"),
    ("minItems", "maxItems"),
    ("minProperties", "maxProperties"),
    ("minContains", "maxContains"),
];

/// Largest integer bound: integers beyond it lose precision as JSON numbers,
/// and llama.cpp's integer-range rules negate and step bounds in 64 bits.
pub const MAX_INTEGER_BOUND: i64 = 1 << 53;

/// A keyword whose value no instance can satisfy, or that is not what the
/// keyword takes; `path` is where it is in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BoundError {
    pub path: String,
    pub message: String,
}

/// Check (and normalise, in place) the count and range keywords of one
/// schema object at `path`: integral floats (`3.0`) become integers, and the
/// bounds of an integer schema become one inclusive `minimum`/`maximum`.
pub(super) fn check(map: &mut Map<String, Value>, path: &str) -> Result<(), BoundError> {
    let at = |keyword: &str| format!("{path}.{keyword}");
    for (min_key, max_key) in COUNT_PAIRS {
        let min = count(map, min_key, &at(min_key))?;
        let max = count(map, max_key, &at(max_key))?;
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                return Err(BoundError {
                    path: at(min_key),
                    message: format!(
                        "`{min_key}` ({min}) is greater than `{max_key}` ({max}) at {path}; no value can satisfy both."
                    ),
                });
            }
        }
    }
    range(map, path)
}

/// The value of a count keyword, which must be a non-negative integer.
fn count(map: &mut Map<String, Value>, key: &str, path: &str) -> Result<Option<u64>, BoundError> {
    let Some(value) = map.get_mut(key) else {
        return Ok(None);
    };
    let n = match value.as_u64() {
        Some(n) => n,
        None => match value.as_f64() {
            Some(f) if f >= 0.0 && f.fract() == 0.0 && f < 1e18 => {
                let n = f as u64;
                *value = Value::from(n);
                n
            }
            _ => {
                return Err(BoundError {
                    path: path.to_owned(),
                    message: format!(
                        "`{key}` must be a non-negative integer (at {path}), not {}.",
                        shown(value)
                    ),
                })
            }
        },
    };
    Ok(Some(n))
}

/// `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`: numbers,
/// with room for a value between them.
fn range(map: &mut Map<String, Value>, path: &str) -> Result<(), BoundError> {
    let bound = |key: &str| -> Result<Option<f64>, BoundError> {
        match map.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(other) => Err(BoundError {
                path: format!("{path}.{key}"),
                message: format!(
                    "`{key}` must be a number (at {path}.{key}), not {}.",
                    shown(other)
                ),
            }),
        }
    };
    let minimum = bound("minimum")?;
    let maximum = bound("maximum")?;
    let exclusive_minimum = bound("exclusiveMinimum")?;
    let exclusive_maximum = bound("exclusiveMaximum")?;
    // The tightest bound on each side; `true`: the bound itself is excluded.
    let lower = tighter(minimum, exclusive_minimum, |a, b| a > b);
    let upper = tighter(maximum, exclusive_maximum, |a, b| a < b);
    let key_of = |exclusive: bool, inclusive: &'static str, strict: &'static str| {
        if exclusive {
            strict
        } else {
            inclusive
        }
    };
    if let (Some((lo, lo_strict)), Some((hi, hi_strict))) = (lower, upper) {
        if lo > hi || (lo == hi && (lo_strict || hi_strict)) {
            let lo_key = key_of(lo_strict, "minimum", "exclusiveMinimum");
            let hi_key = key_of(hi_strict, "maximum", "exclusiveMaximum");
            return Err(BoundError {
                path: format!("{path}.{lo_key}"),
                message: format!(
                    "`{lo_key}` ({lo}) and `{hi_key}` ({hi}) at {path} leave no value between them."
                ),
            });
        }
    }
    if !is_integer_schema(map) || (lower.is_none() && upper.is_none()) {
        return Ok(());
    }
    // An integer schema: one inclusive integer range, as llama.cpp reads it
    // (it keeps `minimum` and drops `exclusiveMinimum` when both are given).
    let lo = lower.map(|(v, strict)| if strict { v.floor() + 1.0 } else { v.ceil() });
    let hi = upper.map(|(v, strict)| if strict { v.ceil() - 1.0 } else { v.floor() });
    let limit = MAX_INTEGER_BOUND as f64;
    for (value, key) in [(lo, "minimum"), (hi, "maximum")] {
        if value.is_some_and(|v| v.abs() > limit) {
            return Err(BoundError {
                path: format!("{path}.{key}"),
                message: format!("The integer bounds at {path} must lie between -2^53 and 2^53."),
            });
        }
    }
    if let (Some(lo), Some(hi)) = (lo, hi) {
        if lo > hi {
            return Err(BoundError {
                path: format!("{path}.minimum"),
                message: format!("The bounds at {path} leave no integer between them."),
            });
        }
    }
    for key in ["exclusiveMinimum", "exclusiveMaximum", "minimum", "maximum"] {
        map.remove(key);
    }
    if let Some(lo) = lo {
        map.insert("minimum".into(), Value::Number(Number::from(lo as i64)));
    }
    if let Some(hi) = hi {
        map.insert("maximum".into(), Value::Number(Number::from(hi as i64)));
    }
    Ok(())
}

/// The tighter of an inclusive and an exclusive bound, and whether it is
/// the exclusive one; `beyond(a, b)`: `a` is tighter than `b`.
fn tighter(
    inclusive: Option<f64>,
    exclusive: Option<f64>,
    beyond: impl Fn(f64, f64) -> bool,
) -> Option<(f64, bool)> {
    match (inclusive, exclusive) {
        (Some(i), Some(e)) if beyond(i, e) => Some((i, false)),
        (_, Some(e)) => Some((e, true)),
        (Some(i), None) => Some((i, false)),
        (None, None) => None,
    }
}

/// `type` is `integer` or a list holding it.
fn is_integer_schema(map: &Map<String, Value>) -> bool {
    match map.get("type") {
        Some(Value::String(t)) => t == "integer",
        Some(Value::Array(types)) => types.iter().any(|t| t == "integer"),
        _ => false,
    }
}

/// A short rendering of a refused value for the error message.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(32) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn checked(schema: Value) -> Result<Value, BoundError> {
        let mut schema = schema;
        let map = schema.as_object_mut().unwrap();
        check(map, "p")?;
        Ok(schema)
    }

    fn refused_at(schema: Value) -> String {
        checked(schema).unwrap_err().path
    }

    #[test]
    fn a_min_count_above_its_max_is_refused_at_the_min_keyword() {
        for (min, max) in COUNT_PAIRS {
            let err = checked(json!({min: 10, max: 2})).unwrap_err();
            assert_eq!(err.path, format!("p.{min}"));
            assert!(err.message.contains("(10)") && err.message.contains("(2)"));
        }
        assert!(checked(json!({"minLength": 2, "maxLength": 2})).is_ok());
    }

    #[test]
    fn counts_must_be_non_negative_integers() {
        assert_eq!(refused_at(json!({"minLength": -1})), "p.minLength");
        assert_eq!(refused_at(json!({"maxItems": 2.5})), "p.maxItems");
        assert_eq!(refused_at(json!({"maxItems": "3"})), "p.maxItems");
        assert_eq!(refused_at(json!({"minItems": 1e300})), "p.minItems");
        assert_eq!(refused_at(json!({"minItems": null})), "p.minItems");
        let normalised = checked(json!({"minLength": 3.0})).unwrap();
        assert_eq!(normalised["minLength"], json!(3));
        assert!(normalised["minLength"].is_u64());
    }

    #[test]
    fn ranges_with_no_value_are_refused() {
        assert_eq!(refused_at(json!({"minimum": 5, "maximum": 1})), "p.minimum");
        assert_eq!(
            refused_at(json!({"exclusiveMinimum": 1, "maximum": 1})),
            "p.exclusiveMinimum"
        );
        assert_eq!(
            refused_at(json!({"minimum": 1, "exclusiveMaximum": 1})),
            "p.minimum"
        );
        assert_eq!(
            refused_at(json!({"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 2})),
            "p.minimum"
        );
        assert_eq!(refused_at(json!({"minimum": "0"})), "p.minimum");
        assert_eq!(
            refused_at(json!({"exclusiveMinimum": true})),
            "p.exclusiveMinimum"
        );
        // Numbers may be close; only integers need room for an integer.
        assert!(
            checked(json!({"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 2}))
                .is_ok()
        );
        assert!(checked(json!({"minimum": 1, "maximum": 1})).is_ok());
    }

    #[test]
    fn integer_bounds_become_one_inclusive_range() {
        let schema = checked(json!({
            "type": "integer", "minimum": 0, "exclusiveMinimum": 2.5, "exclusiveMaximum": 10
        }))
        .unwrap();
        assert_eq!(
            schema,
            json!({"type": "integer", "minimum": 3, "maximum": 9})
        );
        let schema = checked(json!({"type": ["integer", "null"], "maximum": 7.9})).unwrap();
        assert_eq!(schema["maximum"], json!(7));
        assert_eq!(
            refused_at(json!({"type": "integer", "minimum": -1e300})),
            "p.minimum"
        );
        assert_eq!(
            refused_at(json!({"type": "integer", "maximum": 9_223_372_036_854_775_807_i64})),
            "p.maximum"
        );
        // A number schema keeps its bounds as they are.
        let schema = checked(json!({"type": "number", "maximum": 1e300})).unwrap();
        assert_eq!(schema["maximum"], json!(1e300));
    }
}
