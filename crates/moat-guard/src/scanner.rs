//! The scanner: one pass over the bytes that skips fast to the few bytes that
//! can begin personal data (a digit, an `@`, a full-width form), reads the
//! whole token there and lets the recognizers validate it.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::GuardError;
use crate::finding::Finding;
use crate::kind::{Confidence, Kind};
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
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        let mut pass = Pass {
            scanner: self,
            text,
            bytes: text.as_bytes(),
            found: Vec::new(),
            floor: 0,
            groups: Vec::with_capacity(MAX_GROUPS),
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
            for token in &groups {
                end = end.max(self.token(token));
            }
            if let Some(sequence) = sequence {
                self.grouped(&groups, sequence);
            }
            end = end.max(groups.last().map_or(end, |t| t.end));
            self.groups = groups;
        } else {
            end = end.max(self.token(&first));
        }
        self.floor = self.floor.max(end);
        end
    }

    /// Collects into `self.groups` the number groups joined by single spaces
    /// or dashes that begin with `first` (and a `(0xx)` area code). Returns
    /// how the sequence begins, or `None` when it cannot be one grouped
    /// number (it continues a longer one, or has too many groups).
    fn sequence(&mut self, first: Token) -> Option<Opening> {
        let bytes = self.bytes;
        self.groups.clear();
        self.groups.push(first);
        let before = unit_before(bytes, first.start);
        let continues_longer = before.is_some_and(|u| {
            matches!(u.ascii, b' ' | b'-')
                && ascii_before(bytes, first.start - u.width).is_some_and(|b| b.is_ascii_digit())
        });
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
            let Some(sep) = unit_at(bytes, pos).filter(|u| matches!(u.ascii, b' ' | b'-')) else {
                break;
            };
            let Some(next) = self.group_at(pos + sep.width) else {
                break;
            };
            if ends_in_x || self.groups.len() == MAX_GROUPS {
                return None;
            }
            self.groups.push(next);
            pos = next.end;
        }
        (!continues_longer).then_some(opening)
    }

    /// The number group (digits, maybe a final X) starting at `pos`.
    fn group_at(&self, pos: usize) -> Option<Token> {
        ascii_at(self.bytes, pos).filter(u8::is_ascii_alphanumeric)?;
        Some(Token::read(self.bytes, pos)).filter(Token::is_number_group)
    }

    /// Values written in groups: `138 1234 5678`, `+86-138-1234-5678`,
    /// `(010) 6234 5678`, `6222 0212 3456 7890 128`, `110105 19491231 002X`.
    fn grouped(&mut self, groups: &[Token], opening: Opening) {
        let (Some(first), Some(last)) = (groups.first(), groups.last()) else {
            return;
        };
        if groups.len() < 2 {
            return;
        }
        let folded: Vec<&[u8]> = groups.iter().filter_map(Token::folded).collect();
        if folded.len() != groups.len() {
            return;
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
            return;
        }
        if opening.paren {
            return;
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
            return;
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
                return;
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
            }
        }
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
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    // Days since 1970-01-01 to the civil year (H. Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let year = yoe + era * 400 + i64::from(mp >= 10);
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
