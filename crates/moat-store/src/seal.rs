//! Sealing with AES-256-GCM, for what is stored encrypted (audit content,
//! wrapped keys and principal ids, parked tool calls): a random 96-bit
//! nonce stored in front of the ciphertext and its tag, and associated data
//! that names what the plaintext is, so that a sealed value cannot be moved
//! to another row, role or subject.

use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::{Aes256Gcm, KeyInit as _};

/// Bytes of the nonce in front of a sealed value.
pub const NONCE_LEN: usize = 12;

/// A plaintext too large for AES-GCM.
#[derive(Debug, thiserror::Error)]
#[error("too large to encrypt")]
pub struct SealError;

/// An AES-256-GCM key. No `Debug` output of the key itself.
#[derive(Clone)]
pub struct SealingKey(Aes256Gcm);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    /// The key of these 32 bytes.
    pub fn new(key: &[u8; 32]) -> Self {
        Self(Aes256Gcm::new(&(*key).into()))
    }

    /// `plaintext` sealed under `aad`: `nonce || ciphertext || tag`, with a
    /// fresh random nonce.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        self.seal_with_nonce(rand::random(), aad, plaintext)
    }

    fn seal_with_nonce(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let ciphertext = self
            .0
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SealError)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// The plaintext; `None` when `sealed` was not sealed with this key and
    /// `aad`, or was altered.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        self.0
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_label() {
        let key = SealingKey::new(&[7; 32]);
        let sealed = key.seal(b"label", b"secret text").unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + b"secret text".len() + 16);
        assert_eq!(key.open(b"label", &sealed).unwrap(), b"secret text");
        assert!(key.open(b"other", &sealed).is_none());
        assert!(SealingKey::new(&[8; 32]).open(b"label", &sealed).is_none());
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(key.open(b"label", &altered).is_none());
        assert!(key.open(b"label", &sealed[..NONCE_LEN - 1]).is_none());
        assert!(key.open(b"label", &sealed[..NONCE_LEN]).is_none());
        assert_ne!(key.seal(b"label", b"secret text").unwrap(), sealed);
    }

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Audit content sealed by the audit log before sealing moved here:
    /// subject key `[9; 32]`, labelled with the subject's pseudonym.
    const AUDIT_CONTENT: &str =
        "ba3707917cdb4aa4eb19be84bb941de2306b937dfe5fc2b6a43e86d6ecd3086645\
        92fe93c62fc9f35b8a9f9969baa5b7739b91f13f0799303586eddeb6775b1df87ff46177b9d92989627047e0";
    const AUDIT_LABEL: &[u8] =
        b"moat-audit content v1 c9e39ef6a4f4d28c73b2ec688ee110efe4df07c260b20668ef103b84855b67f5";
    const AUDIT_PLAINTEXT: &[u8] = br#"{"prompt":"my IBAN is DE89","completion":"noted"}"#;

    #[test]
    fn audit_content_sealed_before_opens_and_seals_to_the_same_bytes() {
        let key = SealingKey::new(&[9; 32]);
        let sealed = unhex(AUDIT_CONTENT);
        assert_eq!(key.open(AUDIT_LABEL, &sealed).unwrap(), AUDIT_PLAINTEXT);
        let nonce: [u8; NONCE_LEN] = sealed[..NONCE_LEN].try_into().unwrap();
        assert_eq!(
            key.seal_with_nonce(nonce, AUDIT_LABEL, AUDIT_PLAINTEXT)
                .unwrap(),
            sealed
        );
    }

    /// A tool call parked by the server before sealing moved here: key
    /// `[7; 32]`, bound to its id and owner.
    const PARKED_CALL: &str = "9d44cdeb6637e14f63596f156d3a961184840517ebb648c5bc23509d6c64aa3b\
        1f5c1b44dea69326fe4492466288116ff5a7a315e6aa39c4b2f8584b935b7f02e16d3215a82cda8d14eea749\
        7f4f59f305aad6f0d62fb6e3aeae19d325d8d7f00f3bda5f34e1d206db7d222c468abc79a2a761924d472b89\
        9f25b02c141f246af80cea3aac79be536012766ca3ccfb31ef7f1f2138531a446424bc15d59d71bb82a92b53\
        500d64807ec4790182b0d3da64f6067e0da2d079668159cbf5aa37b2e93f2ff3a985b029fa5e1603a2";
    const PARKED_LABEL: &[u8] = b"tcf_GfCGcte9Mf92bPr5aemoYy8lJLVNnyfX\0key_a";

    #[test]
    fn a_tool_call_parked_before_opens() {
        let key = SealingKey::new(&[7; 32]);
        let sealed = unhex(PARKED_CALL);
        let plain = String::from_utf8(key.open(PARKED_LABEL, &sealed).unwrap()).unwrap();
        assert!(
            plain.starts_with(r#"{"conversation":{"request":{"#),
            "{plain}"
        );
        assert!(plain.contains(r#""offered":["send_email"]"#), "{plain}");
        assert!(key.open(b"tcf_other\0key_a", &sealed).is_none());
    }
}
