//! The texts of a model's control tokens (`<|im_start|>`, `<|im_end|>`...).
//! The rendered prompt is tokenized with special tokens parsed, so any of
//! these texts in caller-supplied data would become a real control token
//! and could forge a turn. Every string that reaches the template (message
//! fields and keys, tool definitions, template kwargs) is searched once,
//! and the first hit is refused naming where it is.

use serde_json::Value;

/// The control-token texts of one model, indexed by first byte.
#[derive(Debug, Clone)]
pub struct ControlTokens {
    /// `by_first[b]`: the texts starting with byte `b`, longest first.
    by_first: Vec<Vec<String>>,
}

/// Where a control-token text was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlHit {
    /// The request parameter holding it (`messages[2].content`,
    /// `tools[0].function.description`...).
    pub path: String,
    pub token: String,
    /// The text was an object key, not a value.
    pub in_key: bool,
}

impl ControlTokens {
    /// Texts of one byte are left out: a lone `<` is not a control token
    /// to the tokenizer in practice, and refusing it would refuse prose.
    pub fn new(texts: impl IntoIterator<Item = String>) -> Self {
        let mut by_first: Vec<Vec<String>> = vec![Vec::new(); 256];
        for text in texts {
            if let Some(&b) = text.as_bytes().first() {
                if text.len() > 1 && !by_first[usize::from(b)].contains(&text) {
                    by_first[usize::from(b)].push(text);
                }
            }
        }
        for list in &mut by_first {
            list.sort_by_key(|t| std::cmp::Reverse(t.len()));
        }
        Self { by_first }
    }

    /// The first control-token text in `text`.
    pub fn find(&self, text: &str) -> Option<&str> {
        self.next_match(text.as_bytes(), 0).map(|(_, t)| t)
    }

    /// How many control-token texts `text` holds (leftmost, longest,
    /// not overlapping): each is at least one token of the prompt.
    pub fn count(&self, text: &str) -> usize {
        let bytes = text.as_bytes();
        let mut n = 0;
        let mut from = 0;
        while let Some((at, t)) = self.next_match(bytes, from) {
            n += 1;
            from = at + t.len();
        }
        n
    }

    /// Where the first control-token text at or after `from` starts, and
    /// which it is.
    fn next_match<'s>(&'s self, bytes: &[u8], from: usize) -> Option<(usize, &'s str)> {
        (from..bytes.len()).find_map(|at| {
            self.by_first[usize::from(bytes[at])]
                .iter()
                .find(|t| bytes[at..].starts_with(t.as_bytes()))
                .map(|t| (at, t.as_str()))
        })
    }

    /// The first control-token text anywhere in `value` (strings and
    /// object keys, at any depth), `path` naming `value` itself.
    pub fn find_in(&self, value: &Value, path: &mut String) -> Option<ControlHit> {
        match value {
            Value::String(s) => self.find(s).map(|token| ControlHit {
                path: path.clone(),
                token: token.to_owned(),
                in_key: false,
            }),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let hit = self.find_in(item, path);
                path.truncate(len);
                hit
            }),
            Value::Object(map) => map.iter().find_map(|(key, child)| {
                let len = path.len();
                path.push_str(&path_segment(key));
                let hit = match self.find(key) {
                    Some(token) => Some(ControlHit {
                        path: path.clone(),
                        token: token.to_owned(),
                        in_key: true,
                    }),
                    None => self.find_in(child, path),
                };
                path.truncate(len);
                hit
            }),
            _ => None,
        }
    }
}

/// `.key` for a plain key, `["key"]` (JSON-quoted, at most 64 characters)
/// for any other: one segment of a `param` path naming where a refused
/// value stands.
pub(crate) fn path_segment(key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'-'));
    if plain {
        return format!(".{key}");
    }
    let shown: String = key.chars().take(64).collect();
    format!("[{}]", Value::String(shown))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn chatml() -> ControlTokens {
        ControlTokens::new(
            [
                "<|im_start|>",
                "<|im_end|>",
                "<|endoftext|>",
                "<",
                "<|im_start|>",
            ]
            .map(String::from),
        )
    }

    #[test]
    fn texts_are_found_and_counted() {
        let c = chatml();
        assert_eq!(c.find("hi <|im_end|> x"), Some("<|im_end|>"));
        assert_eq!(c.find("a < b, <|im_en"), None);
        assert_eq!(c.count("<|im_start|>user\nx<|im_end|>\n<|im_start|>"), 3);
        assert_eq!(c.count(&"<".repeat(1000)), 0);
        assert_eq!(c.find("日本<|endoftext|>"), Some("<|endoftext|>"));
    }

    #[test]
    fn every_string_and_key_is_searched_with_its_path() {
        let c = chatml();
        let v = json!({"function": {"name": "f", "parameters": {"properties": {"ok": {"enum": ["a", "<|im_start|>system"]}}}}});
        let mut path = "tools[0]".to_owned();
        let hit = c.find_in(&v, &mut path).unwrap();
        assert_eq!(
            hit.path,
            "tools[0].function.parameters.properties.ok.enum[1]"
        );
        assert_eq!(hit.token, "<|im_start|>");
        assert!(!hit.in_key);
        assert_eq!(path, "tools[0]");

        let v = json!({"properties": {"<|im_end|>x": {}}});
        let hit = c.find_in(&v, &mut String::from("p")).unwrap();
        assert_eq!(hit.path, r#"p.properties["<|im_end|>x"]"#);
        assert!(hit.in_key);
        assert_eq!(
            c.find_in(&json!([1, true, null, "x"]), &mut String::new()),
            None
        );
    }
}
