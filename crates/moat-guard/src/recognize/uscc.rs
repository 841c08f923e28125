//! Unified social credit codes (GB 32100-2015, 法人和其他组织统一社会信用代码
//! 编码规则): 18 characters of `0-9A-HJ-NP-RTUW-Y`, read as the standard
//! defines them, so that an eighteen-digit number that only happens to pass
//! the final check character is not taken for one:
//!
//! | positions | part                                                   |
//! |-----------|--------------------------------------------------------|
//! | 1         | registration authority (登记管理部门代码)              |
//! | 2         | organisation type, one of that authority's (机构类别代码) |
//! | 3-8       | administrative division of the registering office (GB/T 2260) |
//! | 9-17      | organisation code (GB 11714-1997), with its own check character at 17 |
//! | 18        | check character over 1-17 (GB 32100 §5, MOD 31)         |

use crate::checksum::{gb11714, gb32100};

/// The registration authorities of GB 32100-2015 (table 1, as maintained by
/// the national credit-code data centre) and the organisation types each
/// may give (position 2):
/// 1 机构编制 (机关, 事业单位, 编办直接管理的群众团体, 其他), 2 外交 (外国常驻新闻机构,
/// 其他), 3 司法行政 (律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会,
/// 其他), 4 文化 (外国在华文化中心, 其他), 5 民政 (社会团体, 民办非企业单位, 基金会,
/// 其他), 6 旅游 (外国/港澳台旅游部门常驻代表机构, 其他), 7 宗教 (宗教活动场所,
/// 宗教院校, 其他), 8 工会 (基层工会, 其他), 9 工商 (企业, 个体工商户, 农民专业合作社),
/// A 中央军委改革和编制办公室 (军队事业单位, 其他), N 农业 (组级, 村级, 乡镇级集体经济
/// 组织, 其他), Y 其他 (1 only: no types).
const AUTHORITIES: [(u8, &[u8]); 12] = [
    (b'1', b"1239"),
    (b'2', b"19"),
    (b'3', b"123459"),
    (b'4', b"19"),
    (b'5', b"1239"),
    (b'6', b"129"),
    (b'7', b"129"),
    (b'8', b"19"),
    (b'9', b"123"),
    (b'A', b"19"),
    (b'N', b"1239"),
    (b'Y', b"1"),
];

/// Province-level codes that begin an administrative division (GB/T 2260),
/// and 10, which begins the code of a national-level registration
/// (`100000`: 民政部, 国家市场监督管理总局, 中央编办).
const DIVISIONS: [u8; 35] = [
    10, 11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51,
    52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// Whether a folded token is a unified social credit code.
pub fn valid(v: &[u8]) -> bool {
    let [authority, kind, division @ .., _] = v else {
        return false;
    };
    v.len() == 18
        && AUTHORITIES
            .iter()
            .any(|(a, kinds)| a == authority && kinds.contains(kind))
        && division.get(..6).is_some_and(valid_division)
        && v.get(8..17).is_some_and(gb11714)
        && gb32100(v)
}

/// Six digits whose first two are a province-level code (or the
/// national 10).
fn valid_division(d: &[u8]) -> bool {
    if d.len() != 6 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let province = d
        .get(..2)
        .map(|p| p.iter().fold(0u8, |n, c| n * 10 + (c - b'0')));
    province.is_some_and(|p| DIVISIONS.contains(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert!(valid(b"91350100M000100Y43"));
        assert!(valid(b"91110000600037341L"));
        assert!(!valid(b"91110000600037341M"), "wrong check");
        assert!(!valid(b"9111000060003734L"), "17 characters");
        assert!(!valid(b"911A0000600037341L"), "letter in the region code");
        assert!(!valid(b"91350100m000100y43"), "lower case");
    }

    #[test]
    fn each_part_is_checked() {
        use crate::checksum::gb32100_check;
        // A code with the final check character recomputed.
        let with_check = |first17: &[u8]| {
            let mut v = first17.to_vec();
            v.push(gb32100_check(first17).unwrap());
            v
        };
        assert!(valid(&with_check(b"91110000600037341")));
        assert!(valid(&with_check(b"Y1110000600037341")), "other authority");
        assert!(
            valid(&with_check(b"51100000600037341")),
            "national division"
        );
        assert!(!valid(&with_check(b"94110000600037341")), "9 has no type 4");
        assert!(
            !valid(&with_check(b"Y2110000600037341")),
            "Y has type 1 only"
        );
        assert!(!valid(&with_check(b"B1110000600037341")), "no authority B");
        assert!(!valid(&with_check(b"01110000600037341")), "no authority 0");
        assert!(!valid(&with_check(b"91990000600037341")), "no province 99");
        assert!(!valid(&with_check(b"91200000600037341")), "no province 20");
        assert!(
            !valid(&with_check(b"91110000600037342")),
            "organisation code check"
        );
    }
}
