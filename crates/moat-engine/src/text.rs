//! Turning generated token bytes into text: UTF-8 assembled across tokens,
//! and stop strings cut out even when split across tokens.

use moat_protocol::reasoning::partial_suffix;

/// Collects token bytes and releases complete UTF-8 text.
#[derive(Debug, Default)]
pub struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    /// Append bytes; return the text that is complete. Invalid bytes become
    /// U+FFFD; an incomplete character at the end waits for more bytes.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        // Incomplete sequence at the end: wait.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// The end of generation: whatever is left, made valid.
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}

/// Outcome of feeding text to a [`StopMatcher`].
#[derive(Debug, PartialEq, Eq)]
pub struct StopScan {
    /// Text safe to send now.
    pub text: String,
    /// A stop string was found; `text` ends right before it.
    pub stopped: bool,
}

/// Finds stop strings in generated text; holds back only what could be the
/// start of one, so a stop string is never sent, even split across tokens.
#[derive(Debug, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    pending: String,
}

impl StopMatcher {
    pub fn new(stops: Vec<String>) -> Self {
        Self {
            stops: stops.into_iter().filter(|s| !s.is_empty()).collect(),
            pending: String::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> StopScan {
        if self.stops.is_empty() {
            return StopScan {
                text: text.to_owned(),
                stopped: false,
            };
        }
        self.pending.push_str(text);
        let first = self
            .stops
            .iter()
            .filter_map(|s| self.pending.find(s.as_str()))
            .min();
        if let Some(at) = first {
            let text = self.pending[..at].to_owned();
            self.pending.clear();
            return StopScan {
                text,
                stopped: true,
            };
        }
        let hold = self
            .stops
            .iter()
            .map(|s| partial_suffix(&self.pending, s))
            .max()
            .unwrap_or(0);
        let emit = self.pending.len() - hold;
        let text: String = self.pending.drain(..emit).collect();
        StopScan {
            text,
            stopped: false,
        }
    }

    /// The end of generation: held-back text was not a stop string after all.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multibyte_characters_split_across_tokens_are_joined() {
        let bytes = "日本語 ok 🙂".as_bytes();
        for cut in 0..bytes.len() {
            let mut d = Utf8Decoder::default();
            let mut s = d.push(&bytes[..cut]);
            s += &d.push(&bytes[cut..]);
            s += &d.finish();
            assert_eq!(s, "日本語 ok 🙂");
        }
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut d = Utf8Decoder::default();
        assert_eq!(d.push(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(d.push(b"\xe6\x97"), "");
        assert_eq!(d.finish(), "\u{fffd}");
    }

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let mut m = StopMatcher::new(stops.iter().map(|s| s.to_string()).collect());
        let mut out = String::new();
        for p in pieces {
            let scan = m.push(p);
            out += &scan.text;
            if scan.stopped {
                return (out, true);
            }
        }
        out += &m.finish();
        (out, false)
    }

    #[test]
    fn stop_strings_split_at_every_position_are_never_emitted() {
        let text = "The capital is Paris. Next question";
        for i in 0..=text.len() {
            for j in i..=text.len() {
                let (out, stopped) = run(&[". Next"], &[&text[..i], &text[i..j], &text[j..]]);
                assert_eq!(
                    (out.as_str(), stopped),
                    ("The capital is Paris", true),
                    "{i},{j}"
                );
            }
        }
    }

    #[test]
    fn the_earliest_of_several_stops_wins() {
        assert_eq!(run(&["b", "a"], &["xxab"]), ("xx".into(), true));
    }

    #[test]
    fn near_misses_are_released_at_the_end() {
        assert_eq!(run(&["STOP"], &["ab", "ST", "O"]), ("abSTO".into(), false));
        assert_eq!(run(&["STOP"], &["ab", "ST", "x"]), ("abSTx".into(), false));
    }

    #[test]
    fn held_back_text_is_released_as_soon_as_it_cannot_match() {
        let mut m = StopMatcher::new(vec!["\n\n".into()]);
        assert_eq!(m.push("a\n").text, "a");
        assert_eq!(m.push("b").text, "\nb");
    }
}
