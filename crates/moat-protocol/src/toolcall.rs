//! Parses Hermes/Qwen-style tool calls out of model output, incrementally:
//! `<tool_call>{"name": "...", "arguments": {...}}</tool_call>` blocks become
//! calls, everything else stays content. A block is released as one whole
//! call once it closes. A block that does not parse, or is still open when
//! generation ends (cut by `max_tokens`), is dropped: `<tool_call>` text
//! never reaches `content`, streamed or not, where a client would show a
//! half-written call as the answer (see `docs/tools.md`).

use rand::distr::{Alphanumeric, SampleString};
use serde_json::Value;

use crate::reasoning::partial_suffix;

const OPEN: &str = "<tool_call>";
const CLOSE: &str = "</tool_call>";

/// One piece of parsed output, in the order the model wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolCallPiece {
    /// Text to show as it is.
    Content(String),
    /// A complete call; `arguments` is compact JSON text.
    Call {
        id: String,
        name: String,
        arguments: String,
    },
}

/// Incremental parser; feed it content as it is generated.
#[derive(Debug, Clone, Default)]
pub struct ToolCallParser {
    /// Text not released yet: a possible start of a tag, white space that
    /// may precede a tag, or an open block (with the white space before it).
    pending: String,
    /// `pending` holds an open block.
    in_block: bool,
    /// The last thing released was a call: drop the white space after it.
    trim_next: bool,
}

impl ToolCallParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed newly generated text; returns what can be released now.
    pub fn push(&mut self, text: &str) -> Vec<ToolCallPiece> {
        self.pending.push_str(text);
        let mut out = Vec::new();
        loop {
            if self.trim_next {
                let trimmed = self.pending.trim_start();
                if trimmed.is_empty() {
                    self.pending.clear();
                    return out;
                }
                self.pending = trimmed.to_owned();
                self.trim_next = false;
            }
            if self.in_block {
                let Some(at) = self.pending.find(CLOSE) else {
                    return out;
                };
                let end = at + CLOSE.len();
                let block: String = self.pending.drain(..end).collect();
                self.in_block = false;
                if let Some(call) = parse_block(&block) {
                    out.push(call);
                }
                // A malformed block is dropped like a call: with the
                // white space after it.
                self.trim_next = true;
                continue;
            }
            if let Some(at) = self.pending.find(OPEN) {
                // White space right before a tag is kept with the block: it
                // is dropped if the block is a call, shown if not.
                let text_end = self.pending[..at].trim_end().len();
                let text: String = self.pending.drain(..text_end).collect();
                push_content(&mut out, text);
                self.in_block = true;
                continue;
            }
            let tag_start = self.pending.len() - partial_suffix(&self.pending, OPEN);
            let emit = self.pending[..tag_start].trim_end().len();
            let text: String = self.pending.drain(..emit).collect();
            push_content(&mut out, text);
            return out;
        }
    }

    /// Generation ended: release whatever text was held back; an
    /// unterminated block is dropped.
    pub fn finish(self) -> Vec<ToolCallPiece> {
        let mut out = Vec::new();
        if self.in_block {
            return out;
        }
        let rest = if self.trim_next {
            self.pending.trim_start().to_owned()
        } else {
            self.pending
        };
        push_content(&mut out, rest);
        out
    }
}

fn push_content(out: &mut Vec<ToolCallPiece>, text: String) {
    if text.is_empty() {
        return;
    }
    if let Some(ToolCallPiece::Content(last)) = out.last_mut() {
        last.push_str(&text);
    } else {
        out.push(ToolCallPiece::Content(text));
    }
}

/// A closed block (leading white space, tags and all) as a call, or `None`
/// when its inside is not a call.
fn parse_block(block: &str) -> Option<ToolCallPiece> {
    let inner = block.trim_start().strip_prefix(OPEN)?.strip_suffix(CLOSE)?;
    let value: Value = serde_json::from_str(inner.trim()).ok()?;
    let object = value.as_object()?;
    let name = object.get("name")?.as_str()?;
    if name.is_empty() {
        return None;
    }
    let arguments = match object.get("arguments").or_else(|| object.get("parameters")) {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(Value::Object(map)) => serde_json::to_string(map).ok()?,
        Some(Value::String(text)) => {
            let parsed: Value = serde_json::from_str(text).ok()?;
            if !parsed.is_object() {
                return None;
            }
            serde_json::to_string(&parsed).ok()?
        }
        Some(_) => return None,
    };
    Some(ToolCallPiece::Call {
        id: new_call_id(),
        name: name.to_owned(),
        arguments,
    })
}

/// `call_` and 24 random base62 characters, the shape OpenAI's ids have,
/// from the thread's OS-seeded CSPRNG: an id must not be guessable, since a
/// tool result names the call it answers.
pub fn new_call_id() -> String {
    format!("call_{}", Alphanumeric.sample_string(&mut rand::rng(), 24))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Pieces with ids blanked, so runs can be compared.
    fn run(chunks: &[&str]) -> Vec<ToolCallPiece> {
        let mut parser = ToolCallParser::new();
        let mut all = Vec::new();
        for c in chunks {
            all.extend(parser.push(c));
        }
        all.extend(parser.finish());
        normalize(all)
    }

    /// Merge neighbouring content pieces and blank ids.
    fn normalize(pieces: Vec<ToolCallPiece>) -> Vec<ToolCallPiece> {
        let mut out = Vec::new();
        for p in pieces {
            match p {
                ToolCallPiece::Content(text) => push_content(&mut out, text),
                ToolCallPiece::Call {
                    id,
                    name,
                    arguments,
                } => {
                    assert!(id.starts_with("call_") && id.len() == 29, "{id}");
                    out.push(ToolCallPiece::Call {
                        id: String::new(),
                        name,
                        arguments,
                    });
                }
            }
        }
        out
    }

    fn content(text: &str) -> ToolCallPiece {
        ToolCallPiece::Content(text.to_owned())
    }

    fn call(name: &str, arguments: &str) -> ToolCallPiece {
        ToolCallPiece::Call {
            id: String::new(),
            name: name.to_owned(),
            arguments: arguments.to_owned(),
        }
    }

    const TWO_CALLS: &str = "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>\nDone.";

    #[test]
    fn calls_are_parsed_with_content_before_and_after() {
        assert_eq!(
            run(&[TWO_CALLS]),
            vec![
                content("Let me look."),
                call("get_weather", r#"{"city":"Paris","days":2}"#),
                call("get_time", "{}"),
                content("Done."),
            ]
        );
    }

    #[test]
    fn every_split_position_gives_the_same_pieces() {
        let whole = run(&[TWO_CALLS]);
        for i in 0..=TWO_CALLS.len() {
            if !TWO_CALLS.is_char_boundary(i) {
                continue;
            }
            assert_eq!(
                run(&[&TWO_CALLS[..i], &TWO_CALLS[i..]]),
                whole,
                "split at {i}"
            );
        }
        let chars: Vec<String> = TWO_CALLS.chars().map(String::from).collect();
        let chars: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(run(&chars), whole);
    }

    #[test]
    fn calls_are_released_as_soon_as_their_block_closes() {
        let mut parser = ToolCallParser::new();
        assert_eq!(parser.push("Hi <tool_"), vec![content("Hi")]);
        assert_eq!(parser.push("call>{\"name\": \"f\", "), vec![]);
        let pieces = normalize(parser.push("\"arguments\": {\"a\": 1}}</tool_call>"));
        assert_eq!(pieces, vec![call("f", r#"{"a":1}"#)]);
        assert_eq!(parser.finish(), vec![]);
    }

    #[test]
    fn a_tag_split_across_chunks_is_recognised() {
        assert_eq!(
            run(&[
                "<tool",
                "_call>{\"name\": \"f\", \"arguments\": {}}</tool",
                "_call>"
            ]),
            vec![call("f", "{}")]
        );
    }

    #[test]
    fn string_arguments_and_parameters_are_accepted() {
        assert_eq!(
            run(&[r#"<tool_call>{"name": "f", "arguments": "{\"x\": [1, 2]}"}</tool_call>"#]),
            vec![call("f", r#"{"x":[1,2]}"#)]
        );
        assert_eq!(
            run(&[r#"<tool_call>{"name": "g", "parameters": {"y": null}}</tool_call>"#]),
            vec![call("g", r#"{"y":null}"#)]
        );
        assert_eq!(
            run(&[r#"<tool_call>{"name": "h"}</tool_call>"#]),
            vec![call("h", "{}")]
        );
    }

    #[test]
    fn unicode_arguments_survive() {
        let text = "<tool_call>{\"name\": \"translate\", \"arguments\": {\"text\": \"日本語 — ça 🦀\"}}</tool_call>";
        assert_eq!(
            run(&[text]),
            vec![call("translate", r#"{"text":"日本語 — ça 🦀"}"#)]
        );
        for i in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            assert_eq!(run(&[&text[..i], &text[i..]]), run(&[text]), "split at {i}");
        }
    }

    #[test]
    fn malformed_blocks_are_dropped_not_content() {
        for (text, kept) in [
            (
                "Oops \n<tool_call>{\"name\": \"f\", \"arguments\": {</tool_call> after",
                vec![content("Oops"), content("after")],
            ),
            ("<tool_call>not json</tool_call>", vec![]),
            ("<tool_call>{\"arguments\": {}}</tool_call>", vec![]),
            (
                "<tool_call>{\"name\": \"f\", \"arguments\": \"not json\"}</tool_call>",
                vec![],
            ),
            (
                "<tool_call>{\"name\": \"f\", \"arguments\": [1]}</tool_call>",
                vec![],
            ),
            ("<tool_call>[1, 2]</tool_call>", vec![]),
        ] {
            assert_eq!(run(&[text]), normalize(kept), "{text}");
        }
    }

    #[test]
    fn a_malformed_block_does_not_stop_the_next_call() {
        assert_eq!(
            run(&["<tool_call>{bad}</tool_call>\n<tool_call>{\"name\": \"f\"}</tool_call>"]),
            vec![call("f", "{}")]
        );
    }

    #[test]
    fn an_unterminated_block_is_dropped_at_the_end() {
        let text = "Sure.\n<tool_call>{\"name\": \"f\", \"argu";
        assert_eq!(run(&[text]), vec![content("Sure.")]);
        let mut parser = ToolCallParser::new();
        assert_eq!(parser.push(text), vec![content("Sure.")]);
        assert_eq!(parser.finish(), vec![]);
    }

    #[test]
    fn a_second_call_cut_short_leaves_only_the_first() {
        // The shape of a named-choice answer stopped by max_tokens while
        // writing a second call.
        let text = "<tool_call>\n{\"name\": \"get_order_status\", \"arguments\": {\"id\": \"7\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_order_status\", \"arguments\":";
        let whole = run(&[text]);
        assert_eq!(whole, vec![call("get_order_status", r#"{"id":"7"}"#)]);
        for i in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            let pieces = run(&[&text[..i], &text[i..]]);
            assert_eq!(pieces, whole, "split at {i}");
        }
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let chars: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(run(&chars), whole);
    }

    #[test]
    fn a_prefix_that_is_not_a_tag_is_content() {
        let mut parser = ToolCallParser::new();
        assert_eq!(parser.push("a <tool_c"), vec![content("a")]);
        assert_eq!(parser.push("hain> b"), vec![content(" <tool_chain> b")]);
        assert_eq!(parser.finish(), vec![]);
        assert_eq!(run(&["x <tool_ca"]), vec![content("x <tool_ca")]);
    }

    #[test]
    fn text_without_tags_is_released_at_once() {
        let mut parser = ToolCallParser::new();
        assert_eq!(parser.push("Hello, world"), vec![content("Hello, world")]);
        assert_eq!(parser.push("! <b>"), vec![content("! <b>")]);
        assert_eq!(parser.finish(), vec![]);
    }

    #[test]
    fn ids_are_distinct() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_call_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids
            .iter()
            .all(|id| id[5..].bytes().all(|b| b.is_ascii_alphanumeric())));
    }
}
