//! Policies and applying one to a text: allow, mask, pseudonymize or block.
//! Applying fails closed: on any inconsistency the caller gets an error,
//! never the unscanned text.

use serde::Deserialize;

use crate::error::GuardError;
use crate::finding::Finding;
use crate::kind::Kind;
use crate::scanner::Scanner;
use crate::vault::PseudonymVault;

/// What to do with the personal data in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Pass the text unchanged; the findings are still reported.
    Allow,
    /// Replace each value with its partial mask (`138****5678`).
    Mask,
    /// Replace each value with a placeholder (`<PHONE_1>`) that the vault
    /// turns back into the value in the response.
    #[default]
    Pseudonymize,
    /// Refuse the text when it has any personal data.
    Block,
}

/// A text after its policy was applied.
#[derive(Debug)]
pub struct Guarded {
    /// The text to pass on.
    pub text: String,
    /// What was found in the original text.
    pub findings: Vec<Finding>,
}

impl Guarded {
    /// The kinds found, each once, in table order.
    pub fn kinds(&self) -> Vec<Kind> {
        kinds_found(&self.findings)
    }
}

impl Policy {
    /// The name in the configuration (`pseudonymize`).
    pub fn name(self) -> &'static str {
        match self {
            Policy::Allow => "allow",
            Policy::Mask => "mask",
            Policy::Pseudonymize => "pseudonymize",
            Policy::Block => "block",
        }
    }

    /// Scans `text` and applies this policy. `Block` with findings is
    /// `GuardError::Blocked`; an inconsistency is `GuardError::Internal`.
    pub fn apply(
        self,
        scanner: &Scanner,
        text: &str,
        vault: &mut PseudonymVault,
    ) -> Result<Guarded, GuardError> {
        let findings = scanner.scan(text);
        check(text, &findings)?;
        let text = match self {
            Policy::Allow => text.to_owned(),
            Policy::Mask => mask(text, &findings)?,
            Policy::Pseudonymize => pseudonymize(text, &findings, vault)?,
            Policy::Block if findings.is_empty() => text.to_owned(),
            Policy::Block => {
                return Err(GuardError::Blocked {
                    kinds: kinds_found(&findings),
                })
            }
        };
        Ok(Guarded { text, findings })
    }
}

/// The kinds among `findings`, each once, in table order.
pub fn kinds_found(findings: &[Finding]) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = findings.iter().map(|f| f.kind.clone()).collect();
    // `Kind`'s order is the table order, custom kinds last by name.
    kinds.sort();
    kinds.dedup();
    kinds
}

/// `text` with each finding replaced by its partial mask.
pub fn mask(text: &str, findings: &[Finding]) -> Result<String, GuardError> {
    replace(text, findings, |f, _| Ok(f.masked()))
}

/// `text` with each finding replaced by its placeholder in `vault`.
pub fn pseudonymize(
    text: &str,
    findings: &[Finding],
    vault: &mut PseudonymVault,
) -> Result<String, GuardError> {
    vault.reserve_literals(text);
    replace(text, findings, |f, original| {
        vault.placeholder(&f.kind, original)
    })
}

/// Findings must be in bounds, on char boundaries, sorted and disjoint.
fn check(text: &str, findings: &[Finding]) -> Result<(), GuardError> {
    let mut last_end = 0;
    for f in findings {
        if f.start < last_end || f.start >= f.end || text.get(f.start..f.end).is_none() {
            return Err(GuardError::Internal(
                "findings out of order or off char boundaries",
            ));
        }
        last_end = f.end;
    }
    Ok(())
}

fn replace(
    text: &str,
    findings: &[Finding],
    mut with: impl FnMut(&Finding, &str) -> Result<String, GuardError>,
) -> Result<String, GuardError> {
    check(text, findings)?;
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for f in findings {
        let (Some(before), Some(original)) = (text.get(copied..f.start), text.get(f.start..f.end))
        else {
            return Err(GuardError::Internal("finding outside the text"));
        };
        out.push_str(before);
        out.push_str(&with(f, original)?);
        copied = f.end;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "客户张三，身份证11010519491231002X，手机13812345678，再次确认13812345678。";

    #[test]
    fn each_policy() {
        let scanner = Scanner::new();
        let mut vault = PseudonymVault::new();
        let allowed = Policy::Allow.apply(&scanner, TEXT, &mut vault).unwrap();
        assert_eq!(allowed.text, TEXT);
        assert_eq!(allowed.kinds(), vec![Kind::IdCard, Kind::Mobile]);

        let masked = Policy::Mask.apply(&scanner, TEXT, &mut vault).unwrap();
        assert_eq!(
            masked.text,
            "客户张三，身份证110105********002X，手机138****5678，再次确认138****5678。"
        );

        let pseudo = Policy::Pseudonymize
            .apply(&scanner, TEXT, &mut vault)
            .unwrap();
        assert_eq!(
            pseudo.text,
            "客户张三，身份证<ID_CARD_1>，手机<PHONE_1>，再次确认<PHONE_1>。"
        );
        assert_eq!(vault.restore(&pseudo.text), TEXT);

        match Policy::Block.apply(&scanner, TEXT, &mut vault) {
            Err(GuardError::Blocked { kinds }) => {
                assert_eq!(kinds, vec![Kind::IdCard, Kind::Mobile])
            }
            other => panic!("expected a block, got {other:?}"),
        }
        let clean = Policy::Block
            .apply(&scanner, "没有个人信息", &mut vault)
            .unwrap();
        assert_eq!(clean.text, "没有个人信息");
        assert_eq!(Policy::default().name(), "pseudonymize");
    }

    #[test]
    fn the_block_error_names_kinds_not_values() {
        let err = Policy::Block
            .apply(&Scanner::new(), TEXT, &mut PseudonymVault::new())
            .unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("id_card") && shown.contains("mobile"));
        assert!(!shown.contains("1381234"));
        assert_eq!(err.code(), "pii_blocked");
    }

    #[test]
    fn inconsistent_findings_fail_closed() {
        let bad = vec![Finding::new(
            Kind::Mobile,
            1,
            4,
            crate::Confidence::High,
            String::new(),
        )];
        assert!(matches!(mask("中文", &bad), Err(GuardError::Internal(_))));
    }
}
