//! The web UI's second factor for administrators and auditors: TOTP
//! (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), the authenticator
//! apps' default. An operator enrolls a key (`moat keys totp KEY_ID`),
//! which shows the shared secret once; the secret is kept sealed under a
//! key derived from the server secret. A code is accepted for the step it
//! was made in or the one before or after (clock drift), once: a code
//! seen before, or one older than the last accepted, is refused.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use moat_store::seal::SealingKey;
use moat_store::{Store, StoreError};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::apikey::ServerSecret;

/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Bytes of a new shared secret (RFC 4226's recommended 160 bits).
const SECRET_BYTES: usize = 20;
/// Steps before and after the current one whose codes are accepted.
const DRIFT_STEPS: i64 = 1;

/// The code of `secret` for time step `step` (RFC 4226's HOTP, truncated
/// to [`DIGITS`]).
pub fn code_at(secret: &[u8], step: u64) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let bits = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    bits % 10u32.pow(DIGITS as u32)
}

/// The step of `now_ms`.
pub fn step_of(now_ms: i64) -> i64 {
    now_ms.div_euclid(1000).div_euclid(STEP_SECONDS)
}

/// A new key's second factor, shown once.
#[derive(Clone)]
pub struct Enrollment {
    /// The shared secret in base32, as authenticator apps take it.
    pub secret: String,
    /// `otpauth://totp/…`, for a QR code.
    pub uri: String,
}

impl std::fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrollment(..)")
    }
}

/// Why a code was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum CodeRefused {
    /// The key has no second factor.
    NotEnrolled,
    /// Wrong, out of its time, or used before.
    Invalid,
    /// The store failed.
    Unavailable,
}

/// The second factors of keys; cheap to clone.
#[derive(Clone)]
pub struct SecondFactors {
    store: Store,
    sealing: std::sync::Arc<SealingKey>,
}

impl std::fmt::Debug for SecondFactors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecondFactors(..)")
    }
}

fn aad(key_id: &str) -> Vec<u8> {
    format!("moat.totp\0{key_id}").into_bytes()
}

fn unavailable(error: StoreError) -> CodeRefused {
    tracing::error!(%error, "second factor store failed");
    CodeRefused::Unavailable
}

impl SecondFactors {
    pub fn new(store: Store, secret: &ServerSecret) -> Self {
        Self {
            store,
            sealing: std::sync::Arc::new(SealingKey::new(&secret.derive_key("web ui totp v1"))),
        }
    }

    /// Gives `key_id` a new shared secret (replacing its old one), for an
    /// account named `label` in authenticator apps.
    pub async fn enroll(
        &self,
        key_id: &str,
        label: &str,
        now_ms: i64,
    ) -> Result<Enrollment, StoreError> {
        let secret: [u8; SECRET_BYTES] = rand::random();
        let sealed = self
            .sealing
            .seal(&aad(key_id), &secret)
            .map_err(|_| StoreError::Corrupt {
                what: format!("second factor of {key_id}"),
                detail: "it could not be sealed".into(),
            })?;
        self.store.put_totp(key_id, &sealed, now_ms).await?;
        let encoded = BASE32_NOPAD.encode(&secret);
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(Enrollment {
            uri: format!(
                "otpauth://totp/moat:{label}?secret={encoded}&issuer=moat&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
            ),
            secret: encoded,
        })
    }

    /// Whether `key_id` has a second factor.
    pub async fn enrolled(&self, key_id: &str) -> Result<bool, StoreError> {
        Ok(self.store.totp(key_id).await?.is_some())
    }

    /// Removes `key_id`'s second factor; false when it had none.
    pub async fn remove(&self, key_id: &str) -> Result<bool, StoreError> {
        self.store.delete_totp(key_id).await
    }

    /// Accepts `code` for `key_id` at `now_ms`, once.
    pub async fn check(&self, key_id: &str, code: &str, now_ms: i64) -> Result<(), CodeRefused> {
        let record = self
            .store
            .totp(key_id)
            .await
            .map_err(unavailable)?
            .ok_or(CodeRefused::NotEnrolled)?;
        let code = code.trim();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeRefused::Invalid);
        }
        let secret = self
            .sealing
            .open(&aad(key_id), &record.sealed)
            .ok_or_else(|| {
                tracing::error!(key = %key_id, "a second factor does not open under this server's secret");
                CodeRefused::Unavailable
            })?;
        let now = step_of(now_ms);
        // Every candidate step is compared, so the time taken says nothing
        // of which one matched.
        let mut matched = None;
        for step in now - DRIFT_STEPS..=now + DRIFT_STEPS {
            let Ok(unsigned) = u64::try_from(step) else {
                continue;
            };
            let expected = format!("{:0width$}", code_at(&secret, unsigned), width = DIGITS);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                matched = Some(step);
            }
        }
        let step = matched.ok_or(CodeRefused::Invalid)?;
        if step <= record.last_step {
            return Err(CodeRefused::Invalid);
        }
        match self.store.use_totp_step(key_id, step).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(CodeRefused::Invalid),
            Err(error) => Err(unavailable(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B, SHA1 (the last six of the eight digits).
    #[test]
    fn the_rfc_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59_u64, 94_287_082_u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(code_at(secret, time / 30), code % 1_000_000, "at {time}");
        }
        assert_eq!(step_of(59_000), 1);
        assert_eq!(step_of(-1), -1);
    }
}
