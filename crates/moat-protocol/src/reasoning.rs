//! Splits model output into reasoning (`<think>…</think>`, Qwen3 and
//! DeepSeek-R1 convention) and content, incrementally, so a tag split across
//! stream chunks is never shown to the client.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing but white space seen yet: an opening tag may still come.
    Start,
    Reasoning,
    Content,
}

/// Incremental splitter; feed it text as it is generated.
#[derive(Debug, Clone)]
pub struct ReasoningSplitter {
    state: State,
    pending: String,
    /// White space right after a tag is dropped.
    trim_next: bool,
}

/// Text split off one push.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Split {
    pub content: String,
    pub reasoning: String,
}

impl ReasoningSplitter {
    /// `in_reasoning`: the prompt already opened a `<think>` block (some
    /// templates end the generation prompt with it).
    pub fn new(in_reasoning: bool) -> Self {
        Self {
            state: if in_reasoning {
                State::Reasoning
            } else {
                State::Start
            },
            pending: String::new(),
            trim_next: in_reasoning,
        }
    }

    /// Feed newly generated text; returns what can be shown now.
    pub fn push(&mut self, text: &str) -> Split {
        self.pending.push_str(text);
        let mut out = Split::default();
        loop {
            match self.state {
                State::Start => {
                    let trimmed = self.pending.trim_start();
                    if let Some(rest) = trimmed.strip_prefix(OPEN) {
                        self.pending = rest.to_owned();
                        self.state = State::Reasoning;
                        self.trim_next = true;
                        continue;
                    }
                    if OPEN.starts_with(trimmed) {
                        // Empty, white space only, or a prefix of the tag.
                        return out;
                    }
                    self.state = State::Content;
                }
                State::Reasoning => {
                    if !self.trim_after_tag() {
                        return out;
                    }
                    if let Some(at) = self.pending.find(CLOSE) {
                        out.reasoning.push_str(self.pending[..at].trim_end());
                        self.pending = self.pending[at + CLOSE.len()..].to_owned();
                        self.state = State::Content;
                        self.trim_next = true;
                        continue;
                    }
                    // Hold back a possible start of the closing tag and the
                    // white space before it, which is trimmed at the tag.
                    let tag_start = self.pending.len() - partial_suffix(&self.pending, CLOSE);
                    let emit = self.pending[..tag_start].trim_end().len();
                    out.reasoning.push_str(&self.pending[..emit]);
                    self.pending.drain(..emit);
                    return out;
                }
                State::Content => {
                    if !self.trim_after_tag() {
                        return out;
                    }
                    out.content.push_str(&self.pending);
                    self.pending.clear();
                    return out;
                }
            }
        }
    }

    /// Drop the white space that follows a tag; false while nothing else
    /// has come yet.
    fn trim_after_tag(&mut self) -> bool {
        if !self.trim_next {
            return true;
        }
        let trimmed = self.pending.trim_start();
        if trimmed.is_empty() {
            self.pending.clear();
            return false;
        }
        self.pending = trimmed.to_owned();
        self.trim_next = false;
        true
    }

    /// Generation ended: release whatever was held back.
    pub fn finish(&mut self) -> Split {
        let rest = std::mem::take(&mut self.pending);
        match self.state {
            State::Reasoning => Split {
                reasoning: rest.trim_end().to_owned(),
                content: String::new(),
            },
            State::Start | State::Content => Split {
                content: if self.trim_next {
                    rest.trim_start().to_owned()
                } else {
                    rest
                },
                reasoning: String::new(),
            },
        }
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `tag`.
pub fn partial_suffix(text: &str, tag: &str) -> usize {
    (1..tag.len().min(text.len() + 1))
        .rev()
        .find(|&n| {
            text.is_char_boundary(text.len() - n) && tag.starts_with(&text[text.len() - n..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&str], in_reasoning: bool) -> Split {
        let mut s = ReasoningSplitter::new(in_reasoning);
        let mut all = Split::default();
        for c in chunks {
            let p = s.push(c);
            all.content += &p.content;
            all.reasoning += &p.reasoning;
        }
        let p = s.finish();
        all.content += &p.content;
        all.reasoning += &p.reasoning;
        all
    }

    #[test]
    fn splits_reasoning_from_content() {
        let out = run(&["<think>\nlet me see\n</think>\n\nHello"], false);
        assert_eq!(out.reasoning, "let me see");
        assert_eq!(out.content, "Hello");
    }

    #[test]
    fn tags_split_at_every_position_give_the_same_result() {
        let text = "<think>\nstep one\n</think>\n\nThe answer is 4.";
        for i in 0..=text.len() {
            for j in i..=text.len() {
                let out = run(&[&text[..i], &text[i..j], &text[j..]], false);
                assert_eq!(out.reasoning, "step one", "split at {i},{j}");
                assert_eq!(out.content, "The answer is 4.", "split at {i},{j}");
            }
        }
    }

    #[test]
    fn output_without_tags_is_content() {
        let out = run(&["Hel", "lo <think> world"], false);
        assert_eq!(out.content, "Hello <think> world");
        assert_eq!(out.reasoning, "");
    }

    #[test]
    fn a_prompt_that_opened_the_block_starts_in_reasoning() {
        let out = run(&["hmm", "</thi", "nk>ok"], true);
        assert_eq!(out.reasoning, "hmm");
        assert_eq!(out.content, "ok");
    }

    #[test]
    fn unterminated_reasoning_is_flushed_as_reasoning() {
        let out = run(&["<think>still thin", "king</"], false);
        assert_eq!(out.reasoning, "still thinking</");
        assert_eq!(out.content, "");
    }

    #[test]
    fn a_lone_prefix_of_the_tag_is_content_at_the_end() {
        assert_eq!(run(&["<thi"], false).content, "<thi");
    }

    #[test]
    fn partial_suffix_respects_char_boundaries() {
        assert_eq!(partial_suffix("abc</th", CLOSE), 4);
        assert_eq!(partial_suffix("日本", CLOSE), 0);
        assert_eq!(partial_suffix("x<", CLOSE), 1);
    }
}
