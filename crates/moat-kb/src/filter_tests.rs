//! Tests of attribute filters and attribute limits, from exact JSON.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;

fn filter(value: Value) -> Filter {
    Filter::from_json(&value, "filters").unwrap()
}

fn error(value: Value) -> String {
    Filter::from_json(&value, "filters").unwrap_err().0
}

fn attrs(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[test]
fn comparisons_on_numbers_strings_and_booleans() {
    let file =
        attrs(json!({"year": 2024, "region": "north", "draft": false, "date": "2024-03-01"}));
    let cases = [
        (json!({"type": "eq", "key": "year", "value": 2024}), true),
        (json!({"type": "eq", "key": "year", "value": 2024.0}), true),
        (json!({"type": "eq", "key": "year", "value": "2024"}), false),
        (json!({"type": "ne", "key": "year", "value": "2024"}), true),
        (json!({"type": "ne", "key": "year", "value": 2024}), false),
        (json!({"type": "gt", "key": "year", "value": 2023}), true),
        (json!({"type": "gt", "key": "year", "value": 2024}), false),
        (json!({"type": "gte", "key": "year", "value": 2024}), true),
        (json!({"type": "lt", "key": "year", "value": 2024.5}), true),
        (json!({"type": "lte", "key": "year", "value": 2023}), false),
        (
            json!({"type": "eq", "key": "region", "value": "north"}),
            true,
        ),
        (
            json!({"type": "eq", "key": "region", "value": "North"}),
            false,
        ),
        (
            json!({"type": "gt", "key": "date", "value": "2024-02-28"}),
            true,
        ),
        (
            json!({"type": "lt", "key": "date", "value": "2024-02-28"}),
            false,
        ),
        (json!({"type": "gt", "key": "region", "value": 3}), false),
        (json!({"type": "eq", "key": "draft", "value": false}), true),
        (json!({"type": "ne", "key": "draft", "value": true}), true),
        (json!({"type": "gt", "key": "draft", "value": false}), false),
        (
            json!({"type": "in", "key": "region", "value": ["south", "north"]}),
            true,
        ),
        (
            json!({"type": "in", "key": "year", "value": [2023, 2024]}),
            true,
        ),
        (
            json!({"type": "in", "key": "year", "value": ["2024"]}),
            false,
        ),
        (
            json!({"type": "nin", "key": "region", "value": ["south", "east"]}),
            true,
        ),
        (
            json!({"type": "nin", "key": "region", "value": ["north"]}),
            false,
        ),
        (
            json!({"type": "in", "key": "region", "value": "north"}),
            true,
        ),
        (json!({"type": "in", "key": "region", "value": []}), false),
        (json!({"type": "nin", "key": "region", "value": []}), true),
    ];
    for (json, expected) in cases {
        assert_eq!(filter(json.clone()).matches(&file), expected, "{json}");
    }
}

#[test]
fn a_missing_attribute_passes_only_ne_and_nin() {
    let file = attrs(json!({"other": 1, "empty": null}));
    for key in ["absent", "empty"] {
        let result = |kind: &str, value: Value| {
            filter(json!({"type": kind, "key": key, "value": value})).matches(&file)
        };
        assert!(!result("eq", json!(1)));
        assert!(result("ne", json!(1)));
        assert!(!result("gt", json!(0)));
        assert!(!result("lte", json!(0)));
        assert!(!result("in", json!([1])));
        assert!(result("nin", json!([1])));
    }
}

#[test]
fn compounds_combine() {
    let file = attrs(json!({"year": 2024, "region": "north"}));
    let and = json!({"type": "and", "filters": [
        {"type": "eq", "key": "region", "value": "north"},
        {"type": "gte", "key": "year", "value": 2020}
    ]});
    assert!(filter(and).matches(&file));
    let nested = json!({"type": "or", "filters": [
        {"type": "eq", "key": "region", "value": "south"},
        {"type": "and", "filters": [
            {"type": "lt", "key": "year", "value": 2020},
            {"type": "eq", "key": "region", "value": "north"}
        ]}
    ]});
    assert!(!filter(nested).matches(&file));
}

#[test]
fn serde_reads_and_writes_openai_json() {
    let text = r#"{"type":"and","filters":[{"type":"eq","key":"a","value":"x"},{"type":"in","key":"b","value":[1.5,"y"]}]}"#;
    let parsed: Filter = serde_json::from_str(text).unwrap();
    assert_eq!(
        parsed,
        Filter::And(vec![
            Filter::Comparison(Comparison {
                op: ComparisonOp::Eq,
                key: "a".into(),
                value: FilterValue::One(Scalar::String("x".into())),
            }),
            Filter::Comparison(Comparison {
                op: ComparisonOp::In,
                key: "b".into(),
                value: FilterValue::List(vec![Scalar::Number(1.5), Scalar::String("y".into())]),
            }),
        ])
    );
    assert_eq!(serde_json::to_string(&parsed).unwrap(), text);
    let bad = serde_json::from_str::<Filter>(r#"{"type":"like","key":"a","value":"x"}"#);
    assert_eq!(
        bad.unwrap_err().to_string(),
        "filters.type: unknown type `like`; expected one of eq, ne, gt, gte, lt, lte, in, nin, and, or"
    );
}

#[test]
fn malformed_filters_say_where() {
    let cases = [
        (json!([]), "filters: a filter must be an object"),
        (json!({"key": "a", "value": 1}), "filters.type: missing"),
        (json!({"type": 3}), "filters.type: must be a string"),
        (json!({"type": "eq", "value": 1}), "filters.key: missing"),
        (json!({"type": "eq", "key": 1, "value": 1}), "filters.key: must be a string"),
        (json!({"type": "eq", "key": "a"}), "filters.value: missing"),
        (json!({"type": "eq", "key": "a", "value": null}), "filters.value: must be a string, number or boolean"),
        (json!({"type": "eq", "key": "a", "value": {"x": 1}}), "filters.value: must be a string, number or boolean"),
        (json!({"type": "eq", "key": "a", "value": [1]}), "filters.value: `eq` takes a string, number or boolean, not an array"),
        (json!({"type": "in", "key": "a", "value": [true]}), "filters.value[0]: the values of `in` and `nin` must be strings or numbers"),
        (json!({"type": "in", "key": "a", "value": [1, [2]]}), "filters.value[1]: must be a string, number or boolean"),
        (json!({"type": "eq", "key": "a", "value": 1, "extra": 2}), "filters.extra: unknown field; expected type, key, value"),
        (json!({"type": "and"}), "filters.filters: `and` needs an array of filters"),
        (json!({"type": "or", "filters": []}), "filters.filters: must hold at least one filter"),
        (json!({"type": "and", "filters": [{"type": "eq", "key": "a", "value": 1}, {"type": "xor"}]}),
            "filters.filters[1].type: unknown type `xor`; expected one of eq, ne, gt, gte, lt, lte, in, nin, and, or"),
        (json!({"type": "eq", "key": "k".repeat(65), "value": 1}), "filters.key: longer than 64 characters"),
        (json!({"type": "eq", "key": "a", "value": "v".repeat(513)}), "filters.value: longer than 512 characters"),
    ];
    for (json, expected) in cases {
        assert_eq!(error(json.clone()), expected, "{json}");
    }
    let long_type = error(json!({"type": "t".repeat(1000)}));
    assert!(long_type.len() < 200, "{long_type}");
}

#[test]
fn depth_and_count_are_bounded() {
    let leaf = json!({"type": "eq", "key": "a", "value": 1});
    let nest = |depth: usize| {
        let mut value = leaf.clone();
        for _ in 1..depth {
            value = json!({"type": "and", "filters": [value]});
        }
        value
    };
    assert!(filter(nest(8)).matches(&attrs(json!({"a": 1}))));
    let too_deep = error(nest(9));
    assert!(
        too_deep.ends_with(": filters nest more than 8 deep"),
        "{too_deep}"
    );
    assert!(
        too_deep.starts_with("filters.filters[0].filters[0]"),
        "{too_deep}"
    );

    let wide = |n: usize| json!({"type": "or", "filters": vec![leaf.clone(); n]});
    assert!(Filter::from_json(&wide(63), "filters").is_ok());
    assert_eq!(
        error(wide(64)),
        "filters.filters[63]: more than 64 filters in all"
    );
    let values: Vec<u32> = (0..=1024).collect();
    assert_eq!(
        error(json!({"type": "in", "key": "a", "value": values})),
        "filters.value: more than 1024 values"
    );
}

#[test]
fn attribute_limits() {
    assert!(validate_attributes(&attrs(json!({"a": "x", "b": 1.5, "c": true}))).is_ok());
    let sixteen: Map<String, Value> = (0..16).map(|i| (format!("k{i}"), json!(i))).collect();
    assert!(validate_attributes(&sixteen).is_ok());
    let mut seventeen = sixteen.clone();
    seventeen.insert("k16".into(), json!(16));
    let check = |map: &Map<String, Value>| validate_attributes(map).unwrap_err().0;
    assert_eq!(check(&seventeen), "attributes: at most 16 keys, got 17");
    let mut long_key = Map::new();
    long_key.insert("k".repeat(65), json!(1));
    assert_eq!(
        check(&long_key),
        format!(
            "attributes: key `{}…` is longer than 64 characters",
            "k".repeat(64)
        )
    );
    let mut key_64 = Map::new();
    key_64.insert("键".repeat(64), json!("值".repeat(512)));
    assert!(validate_attributes(&key_64).is_ok());
    assert_eq!(
        check(&attrs(json!({"a": "v".repeat(513)}))),
        "attributes.a: longer than 512 characters"
    );
    for bad in [json!(null), json!([1]), json!({"x": 1})] {
        assert_eq!(
            check(&attrs(json!({"a": bad}))),
            "attributes.a: must be a string, number or boolean"
        );
    }
}
