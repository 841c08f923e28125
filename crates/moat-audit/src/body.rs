//! A record's stored body: the JSON the chain hashes. The principal appears
//! only as its pseudonym; `masked` and `full` content only as ciphertext
//! under the data subject's key, so the chain commits to the ciphertext and
//! still verifies once the key is destroyed.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::canonical::{canonical_json, hex};
use crate::crypto::SubjectKey;
use crate::record::{AuditRecord, ContentPolicy, Record, StoredContent, StoredRecord};
use crate::{AuditError, AuditKeys};

/// The version of the body format.
const BODY_VERSION: u32 = 1;

/// The data subject whose key encrypts content of requests without a
/// principal.
pub const ANONYMOUS_SUBJECT: &str = "anonymous";

/// The stored body, version 1: the record's facts with the principal as
/// its pseudonym and content as [`BodyContent`], at its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Body {
    pub v: u32,
    pub seq: u64,
    #[serde(flatten)]
    pub record: Record<Option<BodyContent>>,
}

/// Content as stored in the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "lowercase")]
pub(crate) enum BodyContent {
    /// Digests of prompt and completion.
    Hash {
        prompt_sha256: String,
        completion_sha256: String,
    },
    /// `{prompt, completion}` sealed with the subject's key `key` (base64).
    Masked {
        subject: String,
        key: String,
        sealed: String,
    },
    /// As `Masked`.
    Full {
        subject: String,
        key: String,
        sealed: String,
    },
}

/// A record made ready on the caller's side: pseudonymized and hashed;
/// sealing, seq and chain hash are the writer's.
pub(crate) struct Prepared {
    pub body: Body,
    pub pending: Option<PendingContent>,
    /// Clear id to seal for auditors, with its pseudonym.
    pub identity: Option<(String, String)>,
}

/// Content still to be sealed with the subject's key.
pub(crate) struct PendingContent {
    pub policy: ContentPolicy,
    pub subject: String,
    pub plaintext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Plaintext {
    prompt: String,
    completion: String,
}

impl Prepared {
    /// A request's record.
    pub fn new(keys: &AuditKeys, record: AuditRecord) -> Result<Self, AuditError> {
        let pseudonym = record.principal.as_deref().map(|p| keys.pseudonym(p));
        let identity = record.principal.clone().zip(pseudonym.clone());
        let (mut facts, content) = record.with_content(None);
        facts.principal = pseudonym.clone();
        let mut pending = None;
        if let Some(content) = content {
            match content.policy {
                ContentPolicy::Hash => {
                    facts.content = Some(BodyContent::Hash {
                        prompt_sha256: sha256_hex(&content.prompt),
                        completion_sha256: sha256_hex(&content.completion),
                    });
                }
                policy @ (ContentPolicy::Masked | ContentPolicy::Full) => {
                    let subject = pseudonym
                        .clone()
                        .unwrap_or_else(|| keys.pseudonym(ANONYMOUS_SUBJECT));
                    let plaintext = serde_json::to_vec(&Plaintext {
                        prompt: content.prompt,
                        completion: content.completion,
                    })
                    .map_err(|e| AuditError::Write(e.to_string()))?;
                    pending = Some(PendingContent {
                        policy,
                        subject,
                        plaintext,
                    });
                }
            }
        }
        Ok(Self {
            body: Body {
                v: BODY_VERSION,
                seq: 0,
                record: facts,
            },
            pending,
            identity,
        })
    }

    /// An audit event about `subject` (a pseudonym): no clear id is sealed.
    pub fn event(
        keys: &AuditKeys,
        record: AuditRecord,
        subject: Option<String>,
    ) -> Result<Self, AuditError> {
        let mut prepared = Self::new(
            keys,
            AuditRecord {
                principal: None,
                ..record
            },
        )?;
        prepared.body.record.principal = subject;
        Ok(prepared)
    }

    /// Seals pending content with the subject's key.
    pub fn seal(&mut self, key: &SubjectKey) -> Result<(), AuditError> {
        if let Some(pending) = self.pending.take() {
            let sealed = BASE64.encode(
                key.key
                    .seal(&content_label(&pending.subject), &pending.plaintext)?,
            );
            let subject = pending.subject.clone();
            let key = key.id.clone();
            self.body.record.content = Some(match pending.policy {
                ContentPolicy::Full => BodyContent::Full {
                    subject,
                    key,
                    sealed,
                },
                ContentPolicy::Masked | ContentPolicy::Hash => BodyContent::Masked {
                    subject,
                    key,
                    sealed,
                },
            });
            self.pending = Some(pending);
        }
        Ok(())
    }

    /// The canonical body at `seq`.
    pub fn canonical(&mut self, seq: u64) -> Result<String, AuditError> {
        self.body.seq = seq;
        let value =
            serde_json::to_value(&self.body).map_err(|e| AuditError::Write(e.to_string()))?;
        Ok(canonical_json(&value))
    }
}

/// Associated data of sealed content.
fn content_label(subject: &str) -> Vec<u8> {
    format!("moat-audit content v1 {subject}").into_bytes()
}

fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

impl Body {
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The subject whose key opens this body's content.
    pub fn sealed_subject(&self) -> Option<&str> {
        match &self.record.content {
            Some(BodyContent::Masked { subject, .. } | BodyContent::Full { subject, .. }) => {
                Some(subject)
            }
            _ => None,
        }
    }

    /// The record as search shows it; `key` opens sealed content (`None`:
    /// the subject was erased).
    pub fn into_stored(
        self,
        hash: String,
        prev_hash: String,
        key: Option<&SubjectKey>,
    ) -> StoredRecord {
        let (mut record, content) = self.record.with_content(None);
        record.content = content.map(|content| match content {
            BodyContent::Hash {
                prompt_sha256,
                completion_sha256,
            } => StoredContent::Hashed {
                prompt_sha256,
                completion_sha256,
            },
            BodyContent::Masked {
                subject,
                key: id,
                sealed,
            } => open_content(ContentPolicy::Masked, &subject, &id, &sealed, key),
            BodyContent::Full {
                subject,
                key: id,
                sealed,
            } => open_content(ContentPolicy::Full, &subject, &id, &sealed, key),
        });
        StoredRecord {
            seq: self.seq,
            hash,
            prev_hash,
            record,
        }
    }
}

/// Opens content sealed with key `id` of `subject`, given the subject's
/// current key: erased when the subject has no key or a newer one.
fn open_content(
    policy: ContentPolicy,
    subject: &str,
    id: &str,
    sealed: &str,
    key: Option<&SubjectKey>,
) -> StoredContent {
    let Some(key) = key.filter(|key| key.id == id) else {
        return StoredContent::Erased { policy };
    };
    let plaintext = BASE64
        .decode(sealed)
        .ok()
        .and_then(|sealed| key.key.open(&content_label(subject), &sealed))
        .and_then(|plain| serde_json::from_slice::<Plaintext>(&plain).ok());
    match plaintext {
        Some(Plaintext { prompt, completion }) => StoredContent::Readable {
            policy,
            prompt,
            completion,
        },
        None => StoredContent::Unreadable { policy },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::record::Content;

    fn record(policy: Option<ContentPolicy>) -> AuditRecord {
        AuditRecord {
            time_ms: 1_000,
            request_id: "req_1".into(),
            principal: Some("key_alice".into()),
            method: "POST".into(),
            route: "/v1/chat/completions".into(),
            status: 200,
            content: policy.map(|policy| Content {
                policy,
                prompt: "my IBAN is DE89".into(),
                completion: "noted".into(),
            }),
            ..AuditRecord::default()
        }
    }

    #[test]
    fn the_body_holds_the_pseudonym_and_no_clear_content() {
        let keys = AuditKeys::from_bytes([1; 32], [2; 32]);
        let subject_key = SubjectKey::new(&[9; 32], b"wrapped");
        for policy in [
            ContentPolicy::Hash,
            ContentPolicy::Masked,
            ContentPolicy::Full,
        ] {
            let mut prepared = Prepared::new(&keys, record(Some(policy))).unwrap();
            prepared.seal(&subject_key).unwrap();
            let text = prepared.canonical(5).unwrap();
            assert!(!text.contains("key_alice"), "{text}");
            assert!(!text.contains("IBAN"), "{text}");
            assert!(text.contains(&keys.pseudonym("key_alice")), "{text}");
            assert!(
                text.starts_with(r#"{"backend":null,"client":null,"#),
                "{text}"
            );
            let body = Body::parse(&text).unwrap();
            assert_eq!(body.seq, 5);
            let stored = body.into_stored(String::new(), String::new(), Some(&subject_key));
            match (policy, stored.record.content.unwrap()) {
                (ContentPolicy::Hash, StoredContent::Hashed { prompt_sha256, .. }) => {
                    assert_eq!(prompt_sha256, sha256_hex("my IBAN is DE89"));
                }
                (
                    _,
                    StoredContent::Readable {
                        policy: p, prompt, ..
                    },
                ) => {
                    assert_eq!(p, policy);
                    assert_eq!(prompt, "my IBAN is DE89");
                }
                (_, other) => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn content_without_its_key_is_erased_and_with_another_key_unreadable() {
        let keys = AuditKeys::from_bytes([1; 32], [2; 32]);
        let mut prepared = Prepared::new(&keys, record(Some(ContentPolicy::Full))).unwrap();
        prepared
            .seal(&SubjectKey::new(&[9; 32], b"wrapped"))
            .unwrap();
        let text = prepared.canonical(1).unwrap();
        let erased = Body::parse(&text)
            .unwrap()
            .into_stored(String::new(), String::new(), None);
        assert_eq!(
            erased.record.content,
            Some(StoredContent::Erased {
                policy: ContentPolicy::Full
            })
        );
        // A newer key of the subject: the content was erased.
        let newer = SubjectKey::new(&[8; 32], b"newer");
        let replaced =
            Body::parse(&text)
                .unwrap()
                .into_stored(String::new(), String::new(), Some(&newer));
        assert_eq!(
            replaced.record.content,
            Some(StoredContent::Erased {
                policy: ContentPolicy::Full
            })
        );
        // The same key id but another key: altered outside moat.
        let other = SubjectKey::new(&[8; 32], b"wrapped");
        let wrong =
            Body::parse(&text)
                .unwrap()
                .into_stored(String::new(), String::new(), Some(&other));
        assert_eq!(
            wrong.record.content,
            Some(StoredContent::Unreadable {
                policy: ContentPolicy::Full
            })
        );
    }
}
