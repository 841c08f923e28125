//! The recognizers, one file per family. Each validates what it matches
//! (check characters, dates, allocated prefixes), not only its shape.

pub mod bank_card;
pub mod custom;
pub mod email;
pub mod id_card;
pub mod ip;
pub mod phone;
pub mod plate;
pub mod travel;
pub mod uscc;
