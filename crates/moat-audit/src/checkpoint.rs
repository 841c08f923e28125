//! Signed checkpoints: an Ed25519 signature over a fixed-format message
//! naming a record's seq and hash and the checkpoint's time.

use ed25519_dalek::{Signature, VerifyingKey};
use moat_store::AuditCheckpoint;

use crate::canonical::hex;
use crate::AuditKeys;

/// The signed message:
/// `moat-audit checkpoint v1\nseq <seq>\nhash <hex>\ntime_ms <ms>\n`.
pub fn checkpoint_message(seq: i64, hash: &[u8], time_ms: i64) -> String {
    format!(
        "moat-audit checkpoint v1\nseq {seq}\nhash {}\ntime_ms {time_ms}\n",
        hex(hash)
    )
}

/// A checkpoint of the record at `seq` with `hash`, signed now.
pub(crate) fn sign(keys: &AuditKeys, seq: i64, hash: &[u8], time_ms: i64) -> AuditCheckpoint {
    let signature = keys.sign(checkpoint_message(seq, hash, time_ms).as_bytes());
    AuditCheckpoint {
        seq,
        hash: hash.to_vec(),
        time_ms,
        signature: signature.to_vec(),
    }
}

/// Whether `checkpoint` carries a valid signature of `key`.
pub(crate) fn is_signed_by(key: &VerifyingKey, checkpoint: &AuditCheckpoint) -> bool {
    let Ok(signature) = Signature::from_slice(&checkpoint.signature) else {
        return false;
    };
    let message = checkpoint_message(checkpoint.seq, &checkpoint.hash, checkpoint.time_ms);
    key.verify_strict(message.as_bytes(), &signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_covers_seq_hash_and_time() {
        let keys = AuditKeys::from_bytes([3; 32], [4; 32]);
        let key = keys.verifying_key();
        let checkpoint = sign(&keys, 7, &[9; 32], 1_000);
        assert!(is_signed_by(&key, &checkpoint));
        for altered in [
            AuditCheckpoint {
                seq: 8,
                ..checkpoint.clone()
            },
            AuditCheckpoint {
                hash: vec![8; 32],
                ..checkpoint.clone()
            },
            AuditCheckpoint {
                time_ms: 1_001,
                ..checkpoint.clone()
            },
            AuditCheckpoint {
                signature: vec![0; 64],
                ..checkpoint.clone()
            },
        ] {
            assert!(!is_signed_by(&key, &altered));
        }
        let other = AuditKeys::from_bytes([5; 32], [4; 32]).verifying_key();
        assert!(!is_signed_by(&other, &checkpoint));
    }
}
