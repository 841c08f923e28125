//! Generated personal data for the tests and the benchmark: valid values of
//! every kind (computed check characters, real dates), near-misses, and
//! sentences in Chinese and English around them. Deterministic: a seeded
//! xorshift, no external randomness.

// Shared with the benchmark, where the test-only lint allowances do not apply.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::manual_is_multiple_of,
    clippy::unreachable
)]

/// xorshift64*: small, fast, the same sequence everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn range(&mut self, lo: usize, hi_inclusive: usize) -> usize {
        lo + self.below(hi_inclusive - lo + 1)
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    pub fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

// ---------- check characters (written again here, independently) ----------

pub fn mod11_check(first17: &str) -> char {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(W)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    char::from(b"10X98765432"[(sum % 11) as usize])
}

pub fn luhn_ok(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let t = d * 2;
                if t > 9 {
                    t - 9
                } else {
                    t
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// The digit that makes `body` + digit pass Luhn.
pub fn luhn_digit(body: &str) -> char {
    (b'0'..=b'9')
        .map(char::from)
        .find(|d| luhn_ok(&format!("{body}{d}")))
        .unwrap()
}

pub const USCC_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

pub fn uscc_check(first17: &str) -> char {
    let mut sum = 0u32;
    let mut w = 1u32;
    for c in first17.bytes() {
        let code = USCC_CHARS.iter().position(|&x| x == c).unwrap() as u32;
        sum += code * w;
        w = w * 3 % 31;
    }
    char::from(USCC_CHARS[((31 - sum % 31) % 31) as usize])
}

// ---------- valid values ----------

pub const PROVINCES: [u32; 35] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
];

fn days_in(year: usize, month: usize) -> usize {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYYMMDD` of a real date between 1930 and 2020 (leap days included).
pub fn birth_date(rng: &mut Rng) -> String {
    let year = rng.range(1930, 2020);
    let month = rng.range(1, 12);
    let day = if rng.chance(3) && month == 2 && days_in(year, 2) == 29 {
        29
    } else {
        rng.range(1, days_in(year, month))
    };
    format!("{year:04}{month:02}{day:02}")
}

pub fn region(rng: &mut Rng) -> String {
    format!(
        "{}{:02}{:02}",
        rng.pick(&PROVINCES),
        rng.range(1, 30),
        rng.range(1, 40)
    )
}

pub fn id_card(rng: &mut Rng) -> String {
    let body = format!("{}{}{}", region(rng), birth_date(rng), rng.digits(3));
    let check = mod11_check(&body);
    let check = if check == 'X' && rng.chance(30) {
        'x'
    } else {
        check
    };
    format!("{body}{check}")
}

pub fn id_card15(rng: &mut Rng) -> String {
    let date = birth_date(rng);
    let date = if &date[..2] == "19" {
        date
    } else {
        format!("19{}", &date[2..])
    };
    // 19YY-02-29 only where 19YY is a leap year.
    let date = if &date[4..] == "0229" && days_in(date[..4].parse().unwrap(), 2) == 28 {
        format!("{}0228", &date[..4])
    } else {
        date
    };
    format!("{}{}{}", region(rng), &date[2..], rng.digits(3))
}

pub fn foreigner_id(rng: &mut Rng) -> String {
    let mainland: Vec<u32> = PROVINCES.iter().copied().filter(|&p| p < 71).collect();
    let body = format!(
        "9{}{}{}{}",
        rng.pick(&mainland),
        rng.digits(3),
        birth_date(rng),
        rng.digits(3)
    );
    format!("{body}{}", mod11_check(&body))
}

pub const MOBILE_PREFIXES: [&str; 40] = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145", "147", "150",
    "151", "152", "153", "155", "156", "157", "158", "159", "162", "165", "166", "167", "170",
    "171", "173", "175", "176", "177", "178", "180", "181", "186", "187", "188", "189", "191",
    "199",
];

pub fn mobile(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(&MOBILE_PREFIXES), rng.digits(8))
}

/// A mobile number as people write it.
pub fn mobile_written(rng: &mut Rng) -> String {
    let m = mobile(rng);
    let (a, b, c) = (&m[..3], &m[3..7], &m[7..]);
    match rng.below(9) {
        0 => format!("{a} {b} {c}"),
        1 => format!("{a}-{b}-{c}"),
        2 => format!("+86 {a} {b} {c}"),
        3 => format!("+86-{m}"),
        4 => format!("0086 {m}"),
        5 => format!("+86{m}"),
        6 => format!("86-{a}-{b}-{c}"),
        _ => m,
    }
}

pub fn landline_written(rng: &mut Rng) -> String {
    let (area, local) = if rng.chance(50) {
        (
            rng.pick(&[
                "010", "020", "021", "022", "023", "024", "025", "027", "028", "029",
            ])
            .to_string(),
            format!("{}{}", rng.range(2, 8), rng.digits(7)),
        )
    } else {
        let len = rng.range(7, 8);
        (
            format!("0{}{}", rng.range(3, 9), rng.digits(2)),
            format!("{}{}", rng.range(2, 8), rng.digits(len - 1)),
        )
    };
    match rng.below(5) {
        0 => format!("({area}){local}"),
        1 => format!("（{area}）{local}"),
        2 if local.len() == 8 => format!("{area} {} {}", &local[..4], &local[4..]),
        3 => format!("{area} {local}"),
        _ => format!("{area}-{local}"),
    }
}

pub fn bank_card(rng: &mut Rng) -> String {
    let iin = rng.pick(&[
        "622202", "621700", "622848", "625911", "436742", "524047", "955880",
    ]);
    let len = if rng.chance(50) { 16 } else { 19 };
    let body = format!("{iin}{}", rng.digits(len - 7));
    format!("{body}{}", luhn_digit(&body))
}

pub fn bank_card_written(rng: &mut Rng) -> String {
    let card = bank_card(rng);
    if rng.chance(50) {
        return card;
    }
    let sep = if rng.chance(50) { " " } else { "-" };
    let groups: Vec<String> = card
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    groups.join(sep)
}

/// The GB 11714 check character of an 8-character organisation code body.
pub fn org_code_check(body: &str) -> char {
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(W)
        .map(|(c, w)| {
            let v = if c.is_ascii_digit() {
                u32::from(c - b'0')
            } else {
                u32::from(c - b'A') + 10
            };
            v * w
        })
        .sum();
    match 11 - sum % 11 {
        11 => '0',
        10 => 'X',
        n => char::from(b'0' + n as u8),
    }
}

/// Authority and organisation type pairs of GB 32100-2015.
pub const USCC_HEADS: [&str; 34] = [
    "11", "12", "13", "19", "21", "29", "31", "32", "33", "34", "35", "39", "41", "49", "51", "52",
    "53", "59", "61", "62", "69", "71", "72", "79", "81", "89", "91", "92", "93", "A1", "A9", "N1",
    "N2", "Y1",
];

/// Province-level codes a credit code's division may begin with (10: national).
pub const USCC_DIVISIONS: [u32; 35] = [
    10, 11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51,
    52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

pub fn uscc(rng: &mut Rng) -> String {
    let head = if rng.chance(60) {
        rng.pick(&["91", "92", "93", "11", "12", "13", "51", "52", "53", "Y1"])
    } else {
        rng.pick(&USCC_HEADS)
    };
    let body: String = (0..8).map(|_| char::from(rng.pick(USCC_CHARS))).collect();
    let org = format!("{body}{}", org_code_check(&body));
    let first17 = format!(
        "{head}{}{:04}{org}",
        rng.pick(&USCC_DIVISIONS),
        rng.below(10_000)
    );
    format!("{first17}{}", uscc_check(&first17))
}

pub fn passport(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!("E{}", rng.digits(8)),
        1 => format!("G{}", rng.digits(8)),
        _ => {
            let letter = rng.pick(b"ABCDEFGHJKLMNPQRSTUVWXYZ");
            format!("E{}{}", char::from(letter), rng.digits(7))
        }
    }
}

pub fn permit(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => format!("C{}", rng.digits(8)),
        1 => format!("H{}", rng.digits(8)),
        2 => format!("M{}", rng.digits(8)),
        _ => format!("H{}", rng.digits(10)),
    }
}

pub fn email(rng: &mut Rng) -> String {
    let names = [
        "zhang.san",
        "li_si",
        "wang.wu88",
        "chen-jie",
        "admin",
        "liu+news",
        "13812345678",
        "qq123456",
    ];
    let domains = [
        "example.com",
        "qq.com",
        "163.com",
        "mail.bank.com.cn",
        "hospital.org.cn",
        "corp.example.cn",
    ];
    format!("{}@{}", rng.pick(&names), rng.pick(&domains))
}

pub fn ipv4(rng: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        rng.range(1, 254),
        rng.below(256),
        rng.below(256),
        rng.range(1, 254)
    )
}

pub fn ipv6(rng: &mut Rng) -> String {
    let groups: Vec<u16> = (0..8)
        .map(|i| {
            if i < 2 || rng.chance(60) {
                rng.below(0x10000) as u16
            } else {
                0
            }
        })
        .collect();
    let mut g = groups;
    g[0] = 0x2001;
    let addr = std::net::Ipv6Addr::new(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]);
    if rng.chance(30) {
        // Full form, every group written.
        g.iter()
            .map(|x| format!("{x:x}"))
            .collect::<Vec<_>>()
            .join(":")
    } else {
        addr.to_string()
    }
}

pub const PLATE_PROVINCES: [char; 31] = [
    '京', '津', '沪', '渝', '冀', '豫', '云', '辽', '黑', '湘', '皖', '鲁', '新', '苏', '浙', '赣',
    '鄂', '桂', '甘', '晋', '蒙', '陕', '吉', '闽', '贵', '粤', '青', '藏', '川', '宁', '琼',
];
const PLATE_LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";

pub fn plate(rng: &mut Rng) -> String {
    let province = rng.pick(&PLATE_PROVINCES);
    let letter = char::from(rng.pick(PLATE_LETTERS));
    let serial = match rng.below(4) {
        0 => format!("D{}", rng.digits(5)),
        1 => format!("{}F", rng.digits(5)),
        2 => {
            let l = char::from(rng.pick(PLATE_LETTERS));
            let d = rng.digits(4);
            let at = rng.below(5);
            format!("{}{l}{}", &d[..at.min(4)], &d[at.min(4)..])
        }
        _ => rng.digits(5),
    };
    let sep = rng.pick(&["", "", "·", " "]);
    format!("{province}{letter}{sep}{serial}")
}

/// ASCII letters, digits and `+-@.()` turned into their full-width forms.
pub fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+-@.()".contains(c) {
                char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap()
            } else {
                c
            }
        })
        .collect()
}

// ---------- near-misses: look like personal data, are not ----------

/// Whether `s` passes another kind's check by chance (Luhn for 16-19 digits,
/// GB 32100 for 18 characters): such a string is not a near-miss.
fn passes_other_checks(s: &str) -> bool {
    let digits = s.bytes().all(|b| b.is_ascii_digit());
    let card = digits && (16..=19).contains(&s.len()) && luhn_ok(s);
    let uscc = s.len() == 18
        && s.bytes().all(|c| USCC_CHARS.contains(&c))
        && uscc_check(&s[..17]) == char::from(s.as_bytes()[17]);
    card || uscc
}

fn retry(rng: &mut Rng, make: impl Fn(&mut Rng) -> String) -> String {
    loop {
        let s = make(rng);
        if !passes_other_checks(&s) {
            return s;
        }
    }
}

/// Something shaped like a value that no recognizer should report.
pub fn near_miss(rng: &mut Rng) -> String {
    match rng.below(22) {
        // ID card with a wrong check character.
        0 => retry(rng, |rng| {
            let id = id_card(rng);
            let right = id.as_bytes()[17].to_ascii_uppercase();
            let others: Vec<u8> = b"0123456789X"
                .iter()
                .copied()
                .filter(|&c| c != right)
                .collect();
            format!("{}{}", &id[..17], char::from(rng.pick(&others)))
        }),
        // ID card with an impossible date (check character right).
        1 => retry(rng, |rng| {
            let date = rng.pick(&[
                "19990230", "20010229", "19850431", "19771301", "19800100", "18991231",
            ]);
            let body = format!("{}{date}{}", region(rng), rng.digits(3));
            format!("{body}{}", mod11_check(&body))
        }),
        // A valid ID glued into a longer run of digits or letters.
        2 => {
            let id = id_card(rng);
            if rng.chance(50) {
                format!("NO{id}")
            } else {
                format!("{id}AB")
            }
        }
        // 17 characters.
        3 => retry(rng, |rng| id_card(rng)[..17].to_string()),
        // Order numbers that begin like a phone or a date.
        4 => format!("订单号{}", "2023081512345678901"),
        5 => format!("20{}{}", rng.range(10, 25), rng.digits(15)),
        // Mobile-like with a wrong length or an unallocated prefix.
        6 => {
            let n = rng.pick(&[7usize, 9]);
            format!("{}{}", rng.pick(&["138", "159", "186"]), rng.digits(n))
        }
        7 => format!(
            "{}{}",
            rng.pick(&["120", "110", "154", "100", "144"]),
            rng.digits(8)
        ),
        // A phone number inside a decimal amount.
        8 => format!("{}.{}", mobile(rng), rng.digits(2)),
        // A card number failing Luhn, no context word.
        9 => {
            let card = bank_card(rng);
            let last = card.as_bytes()[card.len() - 1];
            let wrong = (last - b'0' + 1 + rng.below(8) as u8) % 10 + b'0';
            format!("{}{}", &card[..card.len() - 1], char::from(wrong))
        }
        // USCC with a wrong check character.
        10 => {
            let code = uscc(rng);
            let right = code.as_bytes()[17];
            let wrong = rng.pick(
                &USCC_CHARS
                    .iter()
                    .copied()
                    .filter(|&c| c != right && c.is_ascii_uppercase() && c != b'X')
                    .collect::<Vec<_>>(),
            );
            format!("{}{}", &code[..17], char::from(wrong))
        }
        // Dotted numbers that are not IPv4 addresses.
        11 => format!(
            "{}.{}.{}.{}",
            rng.range(256, 999),
            rng.below(256),
            rng.below(256),
            rng.below(256)
        ),
        12 => format!("v{}.{}.{}", rng.below(10), rng.below(20), rng.below(100)),
        13 => format!(
            "{}.{}.{}.{}.{}",
            rng.below(256),
            rng.below(256),
            rng.below(256),
            rng.below(256),
            rng.below(256)
        ),
        // Times, dates, amounts.
        14 => format!(
            "{:02}:{:02}:{:02}",
            rng.below(24),
            rng.below(60),
            rng.below(60)
        ),
        15 => format!(
            "20{:02}-{:02}-{:02}",
            rng.below(26),
            rng.range(1, 12),
            rng.range(1, 28)
        ),
        16 => format!(
            "¥{},{:03}.{:02}",
            rng.range(1, 999),
            rng.below(1000),
            rng.below(100)
        ),
        // E-mail-like without a real domain.
        17 => format!(
            "{}@{}",
            rng.pick(&["root", "admin", "user"]),
            rng.pick(&["localhost", "server", "a.b1", "x."])
        ),
        // Plate-like with a letter plates never use, or no province.
        18 => format!(
            "{}{}{}",
            rng.pick(&PLATE_PROVINCES),
            rng.pick(&["I", "O"]),
            rng.digits(5)
        ),
        19 => format!("车{}{}", char::from(rng.pick(PLATE_LETTERS)), rng.digits(5)),
        // A weak passport shape without a context word, a model number.
        20 => format!("型号S{}", rng.digits(7)),
        // Landline-like with an area code that does not exist.
        _ => format!("01{}-{}{}", rng.range(1, 9), rng.range(2, 8), rng.digits(7)),
    }
}

// ---------- sentences ----------

/// A text and the values in it: (kind name, byte start, byte end).
#[derive(Default, Clone)]
pub struct Sample {
    pub text: String,
    pub expected: Vec<(&'static str, usize, usize)>,
}

impl Sample {
    pub fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    pub fn push_value(&mut self, kind: &'static str, value: &str) {
        let start = self.text.len();
        self.text.push_str(value);
        self.expected.push((kind, start, self.text.len()));
    }
}

/// Words before a value: Chinese glued, or English with a space.
fn lead(rng: &mut Rng, kind: &str) -> &'static str {
    let zh: &[&'static str] = match kind {
        "id_card" => &["身份证号", "身份证号码：", "证件号 ", "公民身份号码"],
        "foreigner_id" => &["永久居留身份证号", "永居证："],
        "mobile" => &["手机", "联系电话：", "请拨打", "电话 "],
        "landline" => &["办公电话", "座机：", "总机 "],
        "bank_card" => &["银行卡号", "卡号：", "信用卡 ", "借记卡"],
        "uscc" => &["统一社会信用代码", "信用代码：", "企业代码 "],
        "passport" => &["护照号", "护照号码：", "passport no. "],
        "hk_macau_permit" => &["港澳通行证", "回乡证号：", "通行证 "],
        "email" => &["邮箱", "电子邮件：", "email: "],
        "ipv4" | "ipv6" => &["登录IP：", "服务器地址 ", "来源地址"],
        "vehicle_plate" => &["车牌号", "车辆", "车牌："],
        _ => &["编号"],
    };
    let en: &[&'static str] = &["Please note ", "Record: ", "value ", "The customer gave "];
    if rng.chance(75) {
        rng.pick(zh)
    } else {
        rng.pick(en)
    }
}

const TRAIL: [&str; 8] = [
    "，请核对。",
    "。",
    " for verification.",
    "，谢谢！",
    "；已登记",
    ", thanks",
    "）",
    "\n",
];
const FILLER: [&str; 10] = [
    "客户于今日上午到柜台办理业务，",
    "The patient was admitted on the ward and seen by the doctor. ",
    "根据相关规定，本次申请需要补充材料。",
    "会议纪要：第三季度营收同比增长12%，",
    "Please find the attached summary of the meeting. ",
    "患者主诉头痛三天，既往体健。",
    "订单已于2023年8月15日发货，",
    "Total amount due: 1,250.00 CNY. ",
    "我们将在3个工作日内回复您。",
    "系统版本v2.3.1已上线，",
];

/// One valid value of the kind, as written (sometimes full-width or in groups).
pub fn value_of(rng: &mut Rng, kind: &str) -> String {
    let v = match kind {
        "id_card" => {
            if rng.chance(15) {
                id_card15(rng)
            } else if rng.chance(15) {
                let id = id_card(rng);
                format!("{} {} {}", &id[..6], &id[6..14], &id[14..])
            } else {
                id_card(rng)
            }
        }
        "foreigner_id" => foreigner_id(rng),
        "mobile" => mobile_written(rng),
        "landline" => landline_written(rng),
        "bank_card" => bank_card_written(rng),
        "uscc" => uscc(rng),
        "passport" => passport(rng),
        "hk_macau_permit" => permit(rng),
        "email" => email(rng),
        "ipv4" => ipv4(rng),
        "ipv6" => return ipv6(rng),
        "vehicle_plate" => plate(rng),
        _ => unreachable!(),
    };
    if rng.chance(10) {
        full_width(&v)
    } else {
        v
    }
}

pub const KINDS: [&str; 12] = [
    "id_card",
    "foreigner_id",
    "mobile",
    "landline",
    "bank_card",
    "uscc",
    "passport",
    "hk_macau_permit",
    "email",
    "ipv4",
    "ipv6",
    "vehicle_plate",
];

/// A sentence with one value of `kind`.
pub fn sentence(rng: &mut Rng, kind: &'static str) -> Sample {
    let mut s = Sample::default();
    if rng.chance(50) {
        s.push(rng.pick(&FILLER));
    }
    s.push(lead(rng, kind));
    let v = value_of(rng, kind);
    s.push_value(kind, &v);
    s.push(rng.pick(&TRAIL));
    s
}

/// A sentence with a near-miss and no value.
pub fn near_miss_sentence(rng: &mut Rng) -> Sample {
    let mut s = Sample::default();
    if rng.chance(50) {
        s.push(rng.pick(&FILLER));
    }
    s.push(rng.pick(&["编号", "参考号：", "Ref ", "记录", "单号 "]));
    s.push(&near_miss(rng));
    s.push(rng.pick(&TRAIL));
    s
}

/// About `bytes` of mixed Chinese and English text with personal data
/// about every 400 bytes and ordinary numbers in between.
pub fn mixed_text(rng: &mut Rng, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 256);
    while out.len() < bytes {
        for _ in 0..rng.range(3, 6) {
            out.push_str(rng.pick(&FILLER));
        }
        if rng.chance(70) {
            let kind = rng_kind(rng);
            out.push_str(&sentence(rng, kind).text);
        } else {
            out.push_str(&near_miss_sentence(rng).text);
        }
    }
    out
}

fn rng_kind(rng: &mut Rng) -> &'static str {
    KINDS[rng.below(KINDS.len())]
}

/// `s` cut at `min..max` random char boundaries (duplicates merged).
pub fn random_chunks<'a>(rng: &mut Rng, s: &'a str, min: usize, max: usize) -> Vec<&'a str> {
    let cuts: Vec<usize> = (0..=s.len()).filter(|&i| s.is_char_boundary(i)).collect();
    let mut points: Vec<usize> = (0..rng.range(min, max))
        .map(|_| cuts[rng.below(cuts.len())])
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut chunks = Vec::new();
    let mut last = 0;
    for p in points {
        chunks.push(&s[last..p]);
        last = p;
    }
    chunks.push(&s[last..]);
    chunks
}
