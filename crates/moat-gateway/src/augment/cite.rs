//! Which quoted passages an answer used. A passage is cited when the
//! answer names it by its number (`[2]`, `[1, 3]`, `【2】`); an answer that
//! names none cites the passages it shares words with: a run of
//! [`RUN`] terms (not all common words), or an identifier such as
//! `HT-2024-5082`. Passages the answer does not touch are not cited, however
//! well they ranked. Each citation quotes the passage's sentence closest to
//! the answer.

use std::collections::HashSet;

use super::Passage;

/// The most of an answer read for citations.
pub(crate) const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Consecutive shared terms that make a citation.
const RUN: usize = 6;
/// Of those, at least this many are not common words.
const CONTENT_TERMS: usize = 2;
/// The longest quote, in characters.
const MAX_QUOTE_CHARS: usize = 300;

const COMMON: [&str; 40] = [
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "for", "by", "with", "from", "is",
    "are", "was", "were", "be", "been", "it", "its", "this", "that", "as", "not", "no", "you",
    "your", "we", "our", "they", "their", "can", "may", "will", "if", "than", "then", "which",
];

/// The passages (by index) `answer` cites, each with its quote, in index
/// order.
pub(crate) fn citations(answer: &str, passages: &[Passage]) -> Vec<(usize, String)> {
    let answer_terms = terms(answer);
    let numbered = markers(answer, passages.len());
    let chosen: Vec<usize> = if numbered.is_empty() {
        (0..passages.len())
            .filter(|&i| shares_words(&answer_terms, &terms(&passages[i].text)))
            .collect()
    } else {
        numbered
    };
    let answer_set: HashSet<&str> = answer_terms.iter().map(String::as_str).collect();
    chosen
        .into_iter()
        .map(|i| (i, quote(&passages[i].text, &answer_set)))
        .collect()
}

/// The passage numbers `[n]` in `text` names (1-based, at most `count`),
/// as indices, in order, each once.
fn markers(text: &str, count: usize) -> Vec<usize> {
    let mut found: Vec<usize> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['[', '【']) {
        let open_len = rest[open..].chars().next().map_or(1, char::len_utf8);
        let inside = &rest[open + open_len..];
        let close = inside.find([']', '】']);
        let Some(close) = close.filter(|&c| c <= 24) else {
            rest = inside;
            continue;
        };
        let numbers: Vec<Option<usize>> = inside[..close]
            .split([',', '，', ' '])
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<usize>().ok())
            .collect();
        if !numbers.is_empty() && numbers.iter().all(Option::is_some) {
            for n in numbers.into_iter().flatten() {
                if (1..=count).contains(&n) && !found.contains(&(n - 1)) {
                    found.push(n - 1);
                }
            }
        }
        rest = &inside[close..];
    }
    found.sort_unstable();
    found
}

/// Does `answer` share a run of content words, or an identifier, with
/// `passage`?
fn shares_words(answer: &[String], passage: &[String]) -> bool {
    let identifiers: HashSet<&str> = passage
        .iter()
        .filter(|t| is_identifier(t))
        .map(String::as_str)
        .collect();
    if answer.iter().any(|t| identifiers.contains(t.as_str())) {
        return true;
    }
    let run = RUN.min(passage.len());
    if run < 3 {
        return false;
    }
    let windows: HashSet<&[String]> = passage.windows(run).collect();
    answer.windows(run).any(|w| {
        windows.contains(w)
            && w.iter().filter(|t| !COMMON.contains(&t.as_str())).count() >= CONTENT_TERMS
    })
}

/// A term that names one thing: letters or dashes with digits, four
/// characters or more (`kx-310a`, `ht-2024-5082`), not a bare number.
fn is_identifier(term: &str) -> bool {
    term.chars().count() >= 4
        && term.chars().any(|c| c.is_ascii_digit())
        && term.chars().any(|c| c.is_alphabetic() || c == '-')
}

/// The text's terms: lowercased words (letters and digits, with inner
/// `-`, `.` or `_`), and each CJK character alone.
fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if is_cjk(c) {
            flush(&mut word, &mut out);
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if matches!(c, '-' | '.' | '_')
            && !word.is_empty()
            && chars
                .peek()
                .is_some_and(|n| n.is_alphanumeric() && !is_cjk(*n))
        {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn flush(word: &mut String, out: &mut Vec<String>) {
    if !word.is_empty() {
        out.push(std::mem::take(word));
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // kana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // compatibility ideographs
        | 0x20000..=0x2FA1F) // extensions B and later
}

/// The sentence of `passage` with the most of the answer's terms, cut to
/// [`MAX_QUOTE_CHARS`].
fn quote(passage: &str, answer: &HashSet<&str>) -> String {
    let best = sentences(passage)
        .into_iter()
        .map(|s| {
            let shared = terms(s)
                .iter()
                .filter(|t| answer.contains(t.as_str()) && !COMMON.contains(&t.as_str()))
                .count();
            (shared, s)
        })
        .fold(None, |best: Option<(usize, &str)>, (n, s)| match best {
            Some((m, _)) if m >= n => best,
            _ => Some((n, s)),
        })
        .map_or("", |(_, s)| s);
    let trimmed = best.trim();
    match trimmed.char_indices().nth(MAX_QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

/// `text` split after sentence ends (`.`, `!`, `?` before a space, and
/// `。！？；`) and at line breaks; empty pieces dropped.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let next = iter.peek().map(|&(_, n)| n);
        let ends = matches!(c, '。' | '！' | '？' | '；' | '\n')
            || (matches!(c, '.' | '!' | '?') && next.is_none_or(char::is_whitespace));
        if ends {
            let end = i + c.len_utf8();
            if !text[start..end].trim().is_empty() {
                out.push(&text[start..end]);
            }
            start = end;
        }
    }
    if !text[start..].trim().is_empty() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passages(texts: &[&str]) -> Vec<Passage> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| Passage {
                file_id: format!("file-{i}"),
                filename: format!("{i}.txt"),
                text: (*t).to_owned(),
            })
            .collect()
    }

    #[test]
    fn numbered_markers_choose_the_passages() {
        let p = passages(&[
            "Leave is 25 days.",
            "Travel is by train.",
            "Parking is free.",
        ]);
        let cited = citations("You get 25 days [1]; parking costs nothing [3].", &p);
        assert_eq!(
            cited,
            vec![
                (0, "Leave is 25 days.".to_owned()),
                (2, "Parking is free.".to_owned())
            ]
        );
        // Lists, full-width brackets, repeats; out-of-range numbers and
        // bracketed words are not markers.
        assert_eq!(
            markers("see [2, 1] and 【2】 and [7] and [note]", 3),
            vec![0, 1]
        );
        assert_eq!(markers("[0] [x1] [", 3), Vec::<usize>::new());
    }

    #[test]
    fn without_markers_shared_wording_chooses_the_passages() {
        let p = passages(&[
            "Employees may carry over at most five unused days into the next year.",
            "The canteen opens at noon and closes at three.",
            "Contract HT-2024-5082 ends on 30 June.",
        ]);
        let answer = "You may carry over at most five unused days into next year. \
                      The contract HT-2024-5082 is also relevant.";
        let cited: Vec<usize> = citations(answer, &p).into_iter().map(|(i, _)| i).collect();
        assert_eq!(cited, vec![0, 2]);
        // Common words in a row are not a citation.
        assert!(citations("it is in the of a to be or", &p).is_empty());
        assert!(citations("I do not know.", &p).is_empty());
    }

    #[test]
    fn chinese_answers_cite_by_shared_characters() {
        let p = passages(&[
            "员工每年享有十五天带薪年假。病假需提供医院证明。",
            "食堂中午十二点开放。",
        ]);
        let cited = citations("根据规定，员工每年享有十五天带薪年假。", &p);
        assert_eq!(cited, vec![(0, "员工每年享有十五天带薪年假。".to_owned())]);
    }

    #[test]
    fn terms_keep_identifiers_whole_and_split_cjk() {
        assert_eq!(
            terms("KX-310A, v2.1 and 合同"),
            ["kx-310a", "v2.1", "and", "合", "同"]
        );
        assert!(is_identifier("ht-2024-5082"));
        assert!(!is_identifier("2024"));
        assert!(!is_identifier("a1"));
    }

    #[test]
    fn quotes_are_one_sentence_and_bounded() {
        let long = "word ".repeat(200);
        let q = quote(&long, &HashSet::from(["word"]));
        assert_eq!(q.chars().count(), MAX_QUOTE_CHARS + 1);
        assert!(q.ends_with('…'));
        assert_eq!(
            sentences("One. Two! 三。四\nfive"),
            ["One.", " Two!", " 三。", "四\n", "five"]
        );
        // A passage with nothing in common is quoted from its start.
        assert_eq!(quote("First. Second.", &HashSet::new()), "First.");
    }
}
