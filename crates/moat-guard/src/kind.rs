//! The kinds of personal data the guard knows, as one table.

use std::fmt;
use std::sync::Arc;

/// A kind of personal data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Resident identity card (GB 11643), 18 characters or the legacy 15 digits.
    IdCard,
    /// Foreigner's permanent residence ID card (18 characters, starts with 9).
    ForeignerId,
    /// Mainland mobile number.
    Mobile,
    /// Landline with area code.
    Landline,
    /// Bank card number (Luhn, or a context word nearby).
    BankCard,
    /// Unified social credit code (GB 32100).
    Uscc,
    /// Passport number.
    Passport,
    /// Hong Kong / Macau travel permit or home-return permit.
    HkMacauPermit,
    /// E-mail address.
    Email,
    /// IPv4 address.
    Ipv4,
    /// IPv6 address.
    Ipv6,
    /// Mainland vehicle plate.
    VehiclePlate,
    /// An operator-defined recognizer, by its configured name.
    Custom(Arc<str>),
}

/// What the table says about a built-in kind.
#[derive(Debug, Clone, Copy)]
pub struct KindInfo {
    /// Name in JSON and configuration (`id_card`).
    pub name: &'static str,
    /// Placeholder label (`ID_CARD` in `<ID_CARD_1>`).
    pub label: &'static str,
    /// One line for people.
    pub about: &'static str,
}

/// The built-in kinds in the order they are reported, with their table row.
pub const BUILTIN: [(Kind, KindInfo); 12] = [
    (
        Kind::IdCard,
        info(
            "id_card",
            "ID_CARD",
            "resident identity card, 18 characters (MOD 11-2) or legacy 15 digits",
        ),
    ),
    (
        Kind::ForeignerId,
        info(
            "foreigner_id",
            "FOREIGNER_ID",
            "foreigner's permanent residence ID card (MOD 11-2)",
        ),
    ),
    (
        Kind::Mobile,
        info(
            "mobile",
            "PHONE",
            "mobile number, optional +86/0086/86 prefix",
        ),
    ),
    (
        Kind::Landline,
        info("landline", "PHONE", "landline with area code"),
    ),
    (
        Kind::BankCard,
        info(
            "bank_card",
            "BANK_CARD",
            "bank card, 16-19 digits (Luhn, or a context word nearby)",
        ),
    ),
    (
        Kind::Uscc,
        info(
            "uscc",
            "USCC",
            "unified social credit code (GB 32100: authority, type, division, organisation code and check character)",
        ),
    ),
    (
        Kind::Passport,
        info(
            "passport",
            "PASSPORT",
            "passport number (E/G series; P/S/D with a context word)",
        ),
    ),
    (
        Kind::HkMacauPermit,
        info(
            "hk_macau_permit",
            "PERMIT",
            "Hong Kong/Macau travel or home-return permit",
        ),
    ),
    (Kind::Email, info("email", "EMAIL", "e-mail address")),
    (Kind::Ipv4, info("ipv4", "IP", "IPv4 address")),
    (Kind::Ipv6, info("ipv6", "IP", "IPv6 address")),
    (
        Kind::VehiclePlate,
        info("vehicle_plate", "PLATE", "mainland vehicle plate"),
    ),
];

const fn info(name: &'static str, label: &'static str, about: &'static str) -> KindInfo {
    KindInfo { name, label, about }
}

impl Kind {
    /// Name in JSON and configuration (`id_card`, or the custom name).
    pub fn name(&self) -> &str {
        match self {
            Kind::Custom(name) => name,
            builtin => builtin_info(builtin).map_or("custom", |i| i.name),
        }
    }

    /// Placeholder label: `ID_CARD`, `PHONE`, or the custom name upper-cased.
    pub fn label(&self) -> String {
        match self {
            Kind::Custom(name) => name.to_ascii_uppercase(),
            builtin => builtin_info(builtin).map_or("PII", |i| i.label).to_owned(),
        }
    }

    /// Which kind wins when two recognizers claim exactly the same text:
    /// the higher rank (stronger validation) wins.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Kind::IdCard => 12,
            Kind::ForeignerId => 11,
            Kind::Uscc => 10,
            Kind::Email => 9,
            Kind::Ipv6 => 8,
            Kind::Ipv4 => 7,
            Kind::BankCard => 6,
            Kind::Mobile => 5,
            Kind::Landline => 4,
            Kind::Passport => 3,
            Kind::HkMacauPermit => 2,
            Kind::VehiclePlate => 1,
            Kind::Custom(_) => 0,
        }
    }

    /// The built-in kind with this name.
    pub fn from_name(name: &str) -> Option<Kind> {
        BUILTIN
            .iter()
            .find(|(_, i)| i.name == name)
            .map(|(k, _)| k.clone())
    }
}

fn builtin_info(kind: &Kind) -> Option<&'static KindInfo> {
    BUILTIN.iter().find(|(k, _)| k == kind).map(|(_, i)| i)
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How sure a recognizer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    /// Shape only, made plausible by a context word (a card failing Luhn next to "卡号").
    Low,
    /// Shape and structure without a check character (mobile prefix, plate, date).
    Medium,
    /// A check character or a full structural parse (ID card, USCC, Luhn, IP).
    High,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_come_from_the_table() {
        assert_eq!(Kind::IdCard.name(), "id_card");
        assert_eq!(Kind::Landline.label(), "PHONE");
        assert_eq!(Kind::Custom("customer_no".into()).label(), "CUSTOMER_NO");
        assert_eq!(Kind::from_name("bank_card"), Some(Kind::BankCard));
        for (kind, info) in BUILTIN {
            assert_eq!(kind.name(), info.name);
        }
    }
}
