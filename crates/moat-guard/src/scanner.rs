//! The scanner: one pass over the bytes that skips fast to the few bytes that
//! can begin personal data (a digit, an `@`, a full-width form), reads the
//! whole token there and lets the recognizers validate it.

use crate::error::GuardError;
use crate::finding::Finding;
use crate::kind::{Confidence, Kind};
use crate::normalize::{Normalized, Reading};
use crate::overlap;
use crate::recognize::custom::{self, Compiled, CustomRecognizer};
use crate::recognize::{bank_card, email, id_card, ip, phone, plate, travel, uscc};
use crate::text::{ascii_at, ascii_before, context_before, run_backward, unit_at, unit_before};
use crate::token::Token;

/// Finds personal data in text: the built-in recognizers and the operator's
/// custom ones. Cheap to share: scanning takes `&self`.
#[derive(Debug, Clone)]
pub struct Scanner {
    custom: Vec<Compiled>,
    max_birth_year: u32,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

impl Scanner {
    /// A scanner with the built-in recognizers only.
    pub fn new() -> Scanner {
        Scanner {
            custom: Vec::new(),
            max_birth_year: current_year(),
        }
    }

    /// A scanner with the built-in recognizers and `recognizers` from the
    /// configuration; an invalid one is an error naming it.
    pub fn with_custom(recognizers: &[CustomRecognizer]) -> Result<Scanner, GuardError> {
        let custom = recognizers
            .iter()
            .map(Compiled::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Scanner {
            custom,
            ..Scanner::new()
        })
    }

    /// The personal data in `text`, sorted by position and never overlapping.
    ///
    /// The text is normalised first ([`Normalized`]): values written with
    /// Unicode spaces, dashes, invisible format characters, other digit
    /// forms or look-alike letters are found, and each finding's offsets
    /// are those of the original text, covering the separators in between.
    /// A text with invisible characters or look-alike letters is read twice
    /// ([`Reading`]), so they can neither glue two values into one that is
    /// not recognised nor split one value into pieces that are not.
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        let Some(joined) = Normalized::new(text, Reading::Joined) else {
            return self.scan_normalized(text);
        };
        let mut found = self.scan_mapped(&joined);
        if joined.ambiguous() {
            match Normalized::new(text, Reading::Apart) {
                Some(apart) => found.extend(self.scan_mapped(&apart)),
                None => found.extend(self.scan_normalized(text)),
            }
            return overlap::resolve(found);
        }
        found
    }

    /// The findings in a normalised text, at offsets of the original.
    fn scan_mapped(&self, normalized: &Normalized) -> Vec<Finding> {
        let mut found = self.scan_normalized(normalized.text());
        for f in &mut found {
            (f.start, f.end) = (normalized.start(f.start), normalized.end(f.end));
        }
        found
    }

    /// The findings in a text that needs no normalising.
    fn scan_normalized(&self, text: &str) -> Vec<Finding> {
        let mut pass = Pass {
            scanner: self,
            text,
            bytes: text.as_bytes(),
            found: Vec::new(),
            floor: 0,
            groups: Vec::with_capacity(MAX_GROUPS),
            joints: Vec::with_capacity(MAX_GROUPS),
        };
        pass.run();
        overlap::resolve(pass.found)
    }
}

/// Bytes that can begin a value: ASCII digits, `@`, and 0xEF, which leads
/// the full-width digits and `＠`.
const TRIGGER: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = b'0';
    while b <= b'9' {
        table[b as usize] = true;
        b += 1;
    }
    table[b'@' as usize] = true;
    table[0xEF] = true;
    table
};

/// Most groups a separated number can have (`+86 138 1234 5678`,
/// `6222 0212 3456 7890 123`).
const MAX_GROUPS: usize = 8;

/// One scan of one text.
struct Pass<'a> {
    scanner: &'a Scanner,
    text: &'a str,
    bytes: &'a [u8],
    found: Vec<Finding>,
    /// Bytes before this were read already: tokens never reach back past it.
    floor: usize,
    /// Scratch for the groups of a separated number.
    groups: Vec<Token>,
    /// Scratch for what joins each group to the next.
    joints: Vec<Joint>,
}

impl Pass<'_> {
    fn run(&mut self) {
        let bytes = self.bytes;
        let mut i = 0;
        while let Some(skip) = bytes
            .get(i..)
            .and_then(|rest| rest.iter().position(|&b| TRIGGER[usize::from(b)]))
        {
            i += skip;
            let next = match unit_at(bytes, i).map(|u| u.ascii) {
                Some(b'@') => self.on_at(i),
                Some(b) if b.is_ascii_digit() => self.on_digit(i),
                _ => i + 1,
            };
            i = next.max(i + 1);
        }
    }

    fn push(
        &mut self,
        kind: Kind,
        start: usize,
        end: usize,
        confidence: Confidence,
        value: String,
    ) {
        self.found
            .push(Finding::new(kind, start, end, confidence, value));
    }

    /// An `@`: an e-mail address around it. Returns where to go on.
    fn on_at(&mut self, at: usize) -> usize {
        match email::at(self.bytes, at) {
            Some((start, end, value)) => {
                self.push(Kind::Email, start, end, Confidence::High, value);
                self.floor = self.floor.max(end);
                end
            }
            None => at + 1,
        }
    }

    /// A digit: the token around it, and the separated number it may begin.
    fn on_digit(&mut self, i: usize) -> usize {
        let start = run_backward(self.bytes, i, self.floor, usize::MAX, |b| {
            b.is_ascii_alphanumeric()
        });
        let first = Token::read(self.bytes, start);
        let mut end = first.end;
        if first.is_number_group() {
            let sequence = self.sequence(first);
            let groups = std::mem::take(&mut self.groups);
            let joints = std::mem::take(&mut self.joints);
            for token in &groups {
                end = end.max(self.token(token));
            }
            if let Some(sequence) = sequence {
                self.grouped(&groups, &joints, sequence);
            }
            end = end.max(groups.last().map_or(end, |t| t.end));
            self.groups = groups;
            self.joints = joints;
        } else {
            end = end.max(self.token(&first));
        }
        self.floor = self.floor.max(end);
        end
    }

    /// Collects into `self.groups` the number groups that begin with `first`
    /// (and a `(0xx)` area code), joined by short runs of separators
    /// (spaces, dashes, dots, tabs, line breaks; see [`Joint`]), and into
    /// `self.joints` what joins each to the next. Returns how the sequence
    /// begins, or `None` when it cannot be one grouped number (it continues
    /// a longer one, or has too many groups).
    fn sequence(&mut self, first: Token) -> Option<Opening> {
        let bytes = self.bytes;
        self.groups.clear();
        self.joints.clear();
        self.groups.push(first);
        let before = unit_before(bytes, first.start);
        let joint_before = joint_before(bytes, first.start, self.floor);
        let mut opening = Opening {
            start: first.start,
            plus: None,
            paren: false,
        };
        let mut pos = first.end;
        match before {
            Some(u) if u.ascii == b'+' => opening.plus = Some(first.start - u.width),
            Some(u) if u.ascii == b'(' => {
                if let Some(close) = unit_at(bytes, first.end).filter(|c| c.ascii == b')') {
                    opening.start = first.start - u.width;
                    opening.paren = true;
                    pos += close.width;
                    if let Some(space) = unit_at(bytes, pos).filter(|s| s.ascii == b' ') {
                        pos += space.width;
                    }
                    let local = self.group_at(pos)?;
                    self.groups.push(local);
                    self.joints.push(Joint::SpaceOrDash);
                    pos = local.end;
                }
            }
            _ => {}
        }
        loop {
            let ends_in_x = self
                .groups
                .last()
                .and_then(|t| t.folded())
                .is_some_and(|v| v.last().is_some_and(|b| !b.is_ascii_digit()));
            let Some((joint, after)) = joint_at(bytes, pos) else {
                break;
            };
            let Some(next) = self.group_at(after) else {
                break;
            };
            if ends_in_x || self.groups.len() == MAX_GROUPS {
                return None;
            }
            self.groups.push(next);
            self.joints.push(joint);
            pos = next.end;
        }
        let continues_longer =
            joint_before.is_some_and(|j| self.joints.first().is_none_or(|&first| first == j));
        (!continues_longer).then_some(opening)
    }

    /// The number group (digits, maybe a final X) starting at `pos`.
    fn group_at(&self, pos: usize) -> Option<Token> {
        ascii_at(self.bytes, pos).filter(u8::is_ascii_alphanumeric)?;
        Some(Token::read(self.bytes, pos)).filter(Token::is_number_group)
    }

    /// Values written in groups: the whole sequence, or else each run of
    /// it joined by one kind of separator (`1.` then `138 1234 5678` on a
    /// numbered line; `2024\n138-1234-5678`).
    fn grouped(&mut self, groups: &[Token], joints: &[Joint], opening: Opening) {
        if self.grouped_value(groups, opening) {
            return;
        }
        let mut from = 0;
        for i in 1..=joints.len() {
            let (Some(kind), next) = (joints.get(from), joints.get(i)) else {
                return;
            };
            if next == Some(kind) {
                continue;
            }
            if from > 0 || i < joints.len() {
                if let (Some(part), Some(head)) = (groups.get(from..=i), groups.get(from)) {
                    let opening = if from == 0 {
                        opening
                    } else {
                        Opening {
                            start: head.start,
                            plus: None,
                            paren: false,
                        }
                    };
                    self.grouped_value(part, opening);
                }
            }
            from = i;
        }
    }

    /// One value written in groups: `138 1234 5678`, `+86-138-1234-5678`,
    /// `(010) 6234 5678`, `6222 0212 3456 7890 128`, `110105 19491231 002X`.
    /// Returns whether one was found.
    fn grouped_value(&mut self, groups: &[Token], opening: Opening) -> bool {
        let (Some(first), Some(last)) = (groups.first(), groups.last()) else {
            return false;
        };
        if groups.len() < 2 {
            return false;
        }
        let folded: Vec<&[u8]> = groups.iter().filter_map(Token::folded).collect();
        if folded.len() != groups.len() {
            return false;
        }
        let lens: Vec<usize> = folded.iter().map(|v| v.len()).collect();
        let joined = |from: usize| -> Vec<u8> {
            folded
                .iter()
                .skip(from)
                .flat_map(|v| v.iter().copied())
                .collect()
        };
        let end = last.end;
        let area = folded.first().copied().unwrap_or_default();

        // Landline: area code, then 7-8 digits, 4-4 or 3-4.
        let local = joined(1);
        if matches!(lens.get(1..), Some([7 | 8] | [4, 4] | [3, 4])) && phone::landline(area, &local)
        {
            let value = format!("{}-{}", ascii(area), ascii(&local));
            self.push(
                Kind::Landline,
                opening.start,
                end,
                Confidence::Medium,
                value,
            );
            return true;
        }
        if opening.paren {
            return false;
        }
        // Mobile: 3-4-4, with or without a 86 / 0086 group before it.
        let (skip, start) = if phone::country_code(area) {
            (1, opening.plus.unwrap_or(first.start))
        } else {
            (0, first.start)
        };
        let mobile = joined(skip);
        let mobile_shape = match lens.get(skip..) {
            Some([3, 4, 4]) => true,
            Some([11]) => skip == 1,
            _ => false,
        };
        if mobile_shape && phone::mobile(&mobile) {
            self.push(Kind::Mobile, start, end, Confidence::Medium, ascii(&mobile));
            return true;
        }
        let all = joined(0);
        // ID card: 6-8-4, 6-4-4-4, or legacy 6-6-3.
        if matches!(lens.as_slice(), [6, 8, 4] | [6, 4, 4, 4] | [6, 6, 3]) {
            if let Some(kind) = id_card::classify(&all, self.scanner.max_birth_year) {
                let confidence = if all.len() == 18 {
                    Confidence::High
                } else {
                    Confidence::Medium
                };
                self.push(kind, first.start, end, confidence, ascii(&all));
                return true;
            }
        }
        // Bank card: groups of 4, the last 1-4, 16-19 digits in all.
        let card_shape = lens
            .split_last()
            .is_some_and(|(tail, body)| body.iter().all(|&l| l == 4) && (1..=4).contains(tail))
            && (16..=19).contains(&all.len());
        if card_shape {
            let text = self.text;
            let context = || {
                context_before(
                    text,
                    first.start,
                    bank_card::CONTEXT_WINDOW,
                    &bank_card::CONTEXT,
                )
            };
            if let Some(confidence) = bank_card::confidence(&all, context) {
                self.push(Kind::BankCard, first.start, end, confidence, ascii(&all));
                return true;
            }
        }
        false
    }

    /// The recognizers that match one whole token. Returns how far the
    /// values found reach (an IP address spans several tokens).
    fn token(&mut self, t: &Token) -> usize {
        let Some(v) = t.folded() else {
            return t.end;
        };
        let (text, bytes) = (self.text, self.bytes);
        let mut reach = t.end;
        if t.is_number_group() && !t.in_decimal(bytes) {
            if let Some(kind) = id_card::classify(v, self.scanner.max_birth_year) {
                let confidence = if v.len() == 18 {
                    Confidence::High
                } else {
                    Confidence::Medium
                };
                self.push(kind, t.start, t.end, confidence, ascii(v));
            }
            if let Some(digits) = phone::mobile_with_prefix(v) {
                let plus = unit_before(bytes, t.start).filter(|u| u.ascii == b'+' && v.len() == 13);
                let start = t.start - plus.map_or(0, |u| u.width);
                self.push(
                    Kind::Mobile,
                    start,
                    t.end,
                    Confidence::Medium,
                    ascii(digits),
                );
            }
            let context = || {
                context_before(
                    text,
                    t.start,
                    bank_card::CONTEXT_WINDOW,
                    &bank_card::CONTEXT,
                )
            };
            if let Some(confidence) = bank_card::confidence(v, context) {
                self.push(Kind::BankCard, t.start, t.end, confidence, ascii(v));
            }
        }
        if uscc::valid(v) {
            self.push(Kind::Uscc, t.start, t.end, Confidence::High, ascii(v));
        }
        if v.first().is_some_and(u8::is_ascii_uppercase) {
            let context = || {
                context_before(
                    text,
                    t.start,
                    travel::CONTEXT_WINDOW,
                    &travel::PASSPORT_CONTEXT,
                )
            };
            if let Some((kind, confidence)) = travel::classify(v, context) {
                self.push(kind, t.start, t.end, confidence, ascii(v));
            }
        }
        if let Some((start, value)) = plate::glued(text, t).or_else(|| plate::separated(text, t)) {
            self.push(Kind::VehiclePlate, start, t.end, Confidence::Medium, value);
        }
        let next = ascii_at(bytes, t.end);
        if v.len() <= 3 && t.is_digits() && next == Some(b'.') {
            if let Some((end, value)) = ip::ipv4(bytes, t) {
                self.push(Kind::Ipv4, t.start, end, Confidence::High, value);
                reach = reach.max(end);
            }
        }
        if next == Some(b':') || t.start.checked_sub(1).and_then(|i| bytes.get(i)) == Some(&b':') {
            if let Some((start, end, value)) = ip::ipv6(bytes, t) {
                self.push(Kind::Ipv6, start, end, Confidence::High, value);
                reach = reach.max(end);
            }
        }
        for c in &self.scanner.custom {
            if c.matches(v)
                && (c.context.is_empty()
                    || context_before(text, t.start, custom::CONTEXT_WINDOW, &c.context))
            {
                let confidence = c.confidence();
                self.found.push(Finding::new(
                    c.kind.clone(),
                    t.start,
                    t.end,
                    confidence,
                    ascii(v),
                ));
            }
        }
        reach
    }
}

/// What joins two groups of a number. The groups of one value are joined
/// by one kind; spaces and dashes count as one (`+86 138-1234-5678`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Joint {
    /// Spaces and dashes, whatever Unicode form they were written in.
    SpaceOrDash,
    /// A dot (`138.1234.5678`).
    Dot,
    /// A tab or a line break, maybe with spaces (`138\n1234\n5678`).
    Break,
}

/// Most separator chars between two groups (`138 - 1234`, `\r\n`).
const MAX_JOINT: usize = 3;

/// What kind of joint a folded separator byte makes, if it is one.
fn joint_of(b: u8) -> Option<Joint> {
    match b {
        b' ' | b'-' => Some(Joint::SpaceOrDash),
        b'.' => Some(Joint::Dot),
        b'\t' | b'\n' | b'\r' | 0x0B | 0x0C => Some(Joint::Break),
        _ => None,
    }
}

/// The stronger of two joint kinds, for a run of mixed separators: a line
/// break wins over a dot, a dot over spaces.
fn stronger(a: Joint, b: Joint) -> Joint {
    match (a, b) {
        (Joint::Break, _) | (_, Joint::Break) => Joint::Break,
        (Joint::Dot, _) | (_, Joint::Dot) => Joint::Dot,
        _ => Joint::SpaceOrDash,
    }
}

/// The run of separators at `pos` (at most [`MAX_JOINT`] chars): its kind
/// and where it ends.
fn joint_at(bytes: &[u8], pos: usize) -> Option<(Joint, usize)> {
    let mut kind = None;
    let mut i = pos;
    for _ in 0..MAX_JOINT {
        let Some((u, j)) = unit_at(bytes, i).and_then(|u| Some((u, joint_of(u.ascii)?))) else {
            break;
        };
        kind = Some(kind.map_or(j, |k| stronger(k, j)));
        i += u.width;
    }
    kind.map(|k| (k, i))
}

/// The kind of the run of separators that ends at `end` with a digit
/// before it (not before `floor`): `None` when there is no such run.
fn joint_before(bytes: &[u8], end: usize, floor: usize) -> Option<Joint> {
    let mut kind = None;
    let mut i = end;
    for _ in 0..MAX_JOINT {
        let Some((u, j)) = unit_before(bytes, i).and_then(|u| Some((u, joint_of(u.ascii)?))) else {
            break;
        };
        if i - u.width < floor {
            break;
        }
        kind = Some(kind.map_or(j, |k| stronger(k, j)));
        i -= u.width;
    }
    let digit_before = ascii_before(bytes, i).is_some_and(|b| b.is_ascii_digit());
    kind.filter(|_| digit_before)
}

/// How a sequence of number groups begins.
#[derive(Debug, Clone, Copy)]
struct Opening {
    /// Where a value made of the whole sequence starts.
    start: usize,
    /// A `+` right before the first group.
    plus: Option<usize>,
    /// The first group is an area code in parentheses.
    paren: bool,
}

/// Folded ASCII bytes as a `String`.
fn ascii(v: &[u8]) -> String {
    v.iter().map(|&b| char::from(b)).collect()
}

/// The current year (never before 2025, whatever the clock says): the
/// latest birth year an ID card can carry.
fn current_year() -> u32 {
    use moat_protocol::time::{civil_from_days, now_ms, MS_PER_DAY};
    let year = civil_from_days(now_ms().div_euclid(MS_PER_DAY)).year;
    u32::try_from(year).unwrap_or(2025).max(2025)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(String, &str)> {
        Scanner::new()
            .scan(text)
            .iter()
            .map(|f| (f.kind.name().to_owned(), &text[f.start..f.end]))
            .collect()
    }

    fn kinds(text: &str) -> Vec<String> {
        found(text).into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn the_year_is_plausible() {
        assert!((2025..2200).contains(&current_year()));
    }

    #[test]
    fn id_cards_in_chinese_text() {
        assert_eq!(
            found("身份证号11010519491231002X，请核对"),
            vec![("id_card".into(), "11010519491231002X")]
        );
        assert_eq!(
            found("ID: 110105 19491231 002x."),
            vec![("id_card".into(), "110105 19491231 002x")]
        );
        assert_eq!(found("１１０１０５１９４９１２３１００２Ｘ").len(), 1);
        assert!(
            found("编号ID11010519491231002X").is_empty(),
            "glued to letters"
        );
        assert!(
            found("编号911010519491231002X").is_empty(),
            "glued to digits"
        );
        assert!(
            found("13812345678９").is_empty(),
            "glued to a full-width digit"
        );
        assert!(found("X13812345678").is_empty(), "glued to a letter");
        assert_eq!(
            kinds("11010519491231002X 13812345678"),
            vec!["id_card", "mobile"],
            "space-separated tokens are matched one by one"
        );
    }

    #[test]
    fn phones_in_their_usual_forms() {
        for text in [
            "电话13812345678。",
            "call +86 138 1234 5678 now",
            "手机：+86-138-1234-5678",
            "0086 13812345678",
            "+8613812345678",
            "tel 138-1234-5678",
        ] {
            assert_eq!(kinds(text), vec!["mobile"], "{text}");
        }
        for text in [
            "办公室010-62345678",
            "(010) 6234 5678",
            "（0571）8765432",
            "0571 8765 4321",
        ] {
            assert_eq!(kinds(text), vec!["landline"], "{text}");
        }
        assert!(found("订单号2023081512345678901").is_empty());
        assert!(found("编号138123456789").is_empty(), "12 digits");
        assert!(found("金额13812345678.50元").is_empty(), "a decimal number");
        assert!(
            found("2023 138 1234 5678").is_empty(),
            "part of a longer grouped number"
        );
    }

    #[test]
    fn cards_uscc_and_documents() {
        assert_eq!(kinds("卡号 6222 0212 3456 7890 128"), vec!["bank_card"]);
        assert_eq!(
            kinds("card 6222021234567890129"),
            vec!["bank_card"],
            "context rescues Luhn"
        );
        assert!(kinds("编号 6222021234567890129").is_empty());
        assert_eq!(kinds("统一社会信用代码91350100M000100Y43"), vec!["uscc"]);
        assert_eq!(
            kinds("护照号E12345678，港澳通行证C12345678"),
            vec!["passport", "hk_macau_permit"]
        );
        assert_eq!(kinds("护照 S1234567"), vec!["passport"]);
        assert!(kinds("型号 S1234567").is_empty());
    }

    #[test]
    fn email_ip_and_plates() {
        assert_eq!(
            kinds("mail zhang.san@example.com or 13812345678@163.com"),
            vec!["email", "email"]
        );
        assert_eq!(
            kinds("服务器192.168.1.20和2001:db8::1"),
            vec!["ipv4", "ipv6"]
        );
        assert_eq!(
            kinds("车牌京A12345，粤B·D12345"),
            vec!["vehicle_plate", "vehicle_plate"]
        );
        assert!(kinds("版本1.2.3和时间12:30:45").is_empty());
    }

    /// Separators between the groups of a value, each in a sentence.
    const SEPARATORS: [&str; 30] = [
        "\u{A0}",
        "\u{202F}",
        "\u{2009}",
        "\u{2000}",
        "\u{2002}",
        "\u{2003}",
        "\u{2007}",
        "\u{2008}",
        "\u{200A}",
        "\u{205F}",
        "\u{1680}",
        "\u{3000}",
        "\u{2013}",
        "\u{2014}",
        "\u{2010}",
        "\u{2011}",
        "\u{2012}",
        "\u{2015}",
        "\u{2212}",
        "\u{FE63}",
        "\u{FF0D}",
        "\t",
        "\n",
        "\r\n",
        ".",
        " - ",
        "\u{2028}",
        "\u{85}",
        "\u{A0}\u{A0}",
        "\u{2060}-",
    ];

    /// Invisible chars that may stand anywhere inside a value.
    const INVISIBLES: [&str; 9] = [
        "\u{200B}", "\u{AD}", "\u{2060}", "\u{200C}", "\u{200D}", "\u{FEFF}", "\u{200E}",
        "\u{180E}", "\u{2062}",
    ];

    /// What is found in `text`, with the text each finding covers.
    fn found_in(text: &str) -> Vec<(String, String)> {
        Scanner::new()
            .scan(text)
            .iter()
            .map(|f| (f.kind.name().to_owned(), text[f.start..f.end].to_owned()))
            .collect()
    }

    #[test]
    fn values_grouped_with_unusual_separators() {
        for sep in SEPARATORS {
            for (kind, groups) in [
                ("mobile", &["138", "1234", "5678"][..]),
                ("landline", &["010", "6234", "5678"][..]),
                ("bank_card", &["6222", "0212", "3456", "7890", "128"][..]),
                ("id_card", &["110105", "19491231", "002X"][..]),
                ("id_card", &["110105", "1949", "1231", "002X"][..]),
            ] {
                let value = groups.join(sep);
                let text = format!("请核对：{value}，谢谢");
                assert_eq!(
                    found_in(&text),
                    vec![(kind.to_owned(), value.clone())],
                    "{kind} with {sep:?}"
                );
                let mut vault = crate::PseudonymVault::new();
                let guarded = crate::Policy::Pseudonymize
                    .apply(&Scanner::new(), &text, &mut vault)
                    .unwrap();
                assert!(!guarded.text.contains("5678") && !guarded.text.contains("1949"));
                assert_eq!(vault.restore(&guarded.text), text);
            }
        }
    }

    #[test]
    fn invisible_chars_inside_a_value() {
        for inv in INVISIBLES {
            let mobile = format!("138{inv}1234{inv}5678");
            let text = format!("tel {mobile}.");
            assert_eq!(found_in(&text), vec![("mobile".into(), mobile)], "{inv:?}");
            let between_every_digit: String = "11010519491231002X"
                .chars()
                .map(|c| format!("{c}{inv}"))
                .collect();
            let text = format!("身份证{between_every_digit}号");
            let expected = between_every_digit.trim_end_matches(inv).to_owned();
            assert_eq!(
                found_in(&text),
                vec![("id_card".into(), expected)],
                "{inv:?}"
            );
            let email = format!("zhang{inv}.san@exa{inv}mple.com");
            assert_eq!(
                found_in(&format!("mail {email} now")),
                vec![("email".into(), email)],
                "{inv:?}"
            );
            // Between two values, an invisible char still separates them.
            let two = format!("13812345678{inv}13912345678");
            assert_eq!(kinds(&two), vec!["mobile", "mobile"], "{inv:?}");
            // Next to a value, it stays outside the finding.
            let text = format!("{inv}13812345678{inv}");
            assert_eq!(
                found_in(&text),
                vec![("mobile".into(), "13812345678".into())]
            );
        }
    }

    #[test]
    fn other_digit_forms_and_look_alike_letters() {
        for text in [
            "١٣٨١٢٣٤٥٦٧٨",
            "۱۳۸ ۱۲۳۴ ۵۶۷۸",
            "१३८१२३४५६७८",
            "𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖",
            "１３８\u{A0}１２３４\u{A0}５６７８",
        ] {
            assert_eq!(kinds(text), vec!["mobile"], "{text}");
        }
        assert_eq!(
            kinds("身份证11010519491231002Х"),
            vec!["id_card"],
            "Cyrillic Kha"
        );
        assert_eq!(kinds("护照号Е12345678"), vec!["passport"], "Cyrillic Ie");
        assert_eq!(
            kinds("тел 13812345678Х13912345678"),
            vec!["mobile", "mobile"],
            "a look-alike between two values still ends a token"
        );
    }

    #[test]
    fn a_run_joined_by_one_kind_of_separator_is_a_value_of_its_own() {
        assert_eq!(kinds("1.\t138 1234 5678"), vec!["mobile"]);
        assert_eq!(kinds("第2\n138-1234-5678"), vec!["mobile"]);
        assert_eq!(kinds("2023.08.15\n138 1234 5678"), vec!["mobile"]);
        assert!(kinds("2023 138 1234 5678").is_empty(), "one longer number");
        assert!(kinds("2023\u{A0}138\u{A0}1234\u{A0}5678").is_empty());
        assert!(kinds("版本 1.2.3 和 2023.08.15 和 10.5.2024").is_empty());
        assert_eq!(kinds("192.168.1.20"), vec!["ipv4"]);
        assert!(kinds("金额13812345678.50元").is_empty(), "a decimal number");
    }

    #[test]
    fn custom_recognizers() {
        let scanner = Scanner::with_custom(&[CustomRecognizer {
            name: "customer_no".into(),
            prefix: Some("KH".into()),
            pattern: "d{10}".into(),
            checksum: crate::Checksum::None,
            context: vec![],
        }])
        .unwrap();
        let text = "客户KH0012345678的电话13812345678";
        let kinds: Vec<String> = scanner
            .scan(text)
            .iter()
            .map(|f| f.kind.name().to_owned())
            .collect();
        assert_eq!(kinds, vec!["customer_no", "mobile"]);
    }
}
