//! Restoring placeholders in streamed model output, where a placeholder may
//! arrive split across chunks: only what could still become a placeholder of
//! the vault is held back; everything else is released at once.

use std::borrow::Borrow;
use std::fmt;

use crate::vault::PseudonymVault;

/// Restores one streamed response, chunk by chunk. `V` is how the vault is
/// held: borrowed (`&PseudonymVault`), owned, or shared (`Arc`) when the
/// stream outlives the request handler.
pub struct StreamRestorer<V: Borrow<PseudonymVault>> {
    vault: V,
    pending: String,
}

impl<V: Borrow<PseudonymVault>> StreamRestorer<V> {
    /// A restorer for one response, with the request's vault.
    pub fn new(vault: V) -> StreamRestorer<V> {
        StreamRestorer {
            vault,
            pending: String::new(),
        }
    }

    /// Takes the next chunk of model output; returns the restored text that
    /// can be sent now (possibly empty).
    pub fn push(&mut self, chunk: &str) -> String {
        self.pending.push_str(chunk);
        let held = self.held_from();
        let tail = self.pending.split_off(held);
        let ready = std::mem::replace(&mut self.pending, tail);
        self.vault.borrow().restore(&ready)
    }

    /// The end of the output: whatever was held back, restored.
    pub fn finish(self) -> String {
        self.vault.borrow().restore(&self.pending)
    }

    /// Where the held-back tail begins: at the last `<` when everything
    /// after it is `[A-Z0-9_]` and begins a placeholder of the vault.
    fn held_from(&self) -> usize {
        let len = self.pending.len();
        let Some(open) = self.pending.rfind('<') else {
            return len;
        };
        let tail = self.pending.get(open..).unwrap_or_default();
        let shaped = tail
            .bytes()
            .skip(1)
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if shaped
            && tail.len() < self.vault.borrow().longest()
            && self.vault.borrow().could_begin(tail)
        {
            open
        } else {
            len
        }
    }
}

impl<V: Borrow<PseudonymVault>> fmt::Debug for StreamRestorer<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamRestorer")
            .field("held_bytes", &self.pending.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Kind;

    #[test]
    fn a_split_placeholder_is_held_then_restored() {
        let mut vault = PseudonymVault::new();
        vault.placeholder(&Kind::Mobile, "13812345678").unwrap();
        let mut r = StreamRestorer::new(&vault);
        assert_eq!(r.push("call <PH"), "call ");
        assert_eq!(r.push("ONE_"), "");
        assert_eq!(r.push("1> now <"), "13812345678 now ");
        assert_eq!(r.push("b>"), "<b>");
        assert_eq!(
            r.push(" <PHONE_9"),
            " <PHONE_9",
            "not a placeholder of the vault"
        );
        assert_eq!(r.push("<PHONE_1"), "");
        assert_eq!(r.finish(), "<PHONE_1");
    }

    #[test]
    fn the_vault_can_be_owned_or_shared() {
        let mut vault = PseudonymVault::new();
        vault.placeholder(&Kind::Email, "a@b.cn").unwrap();
        let mut shared = StreamRestorer::new(std::sync::Arc::new(vault.clone()));
        assert_eq!(shared.push("<EMAIL_1>"), "a@b.cn");
        let mut owned = StreamRestorer::new(vault);
        assert_eq!(owned.push("<EMAIL"), "");
        assert_eq!(owned.finish(), "<EMAIL");
    }
}
