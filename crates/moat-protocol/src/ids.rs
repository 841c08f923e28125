//! OpenAI-looking object ids: a prefix (`file-`, `vs_`, `vsfb_`) and 24
//! random alphanumerics from the thread's OS-seeded CSPRNG.

use rand::distr::{Alphanumeric, SampleString};

/// How many random characters follow the prefix.
pub const ID_RANDOM_CHARS: usize = 24;

/// `prefix` followed by [`ID_RANDOM_CHARS`] random alphanumerics.
pub fn object_id(prefix: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + ID_RANDOM_CHARS);
    id.push_str(prefix);
    Alphanumeric.append_string(&mut rand::rng(), &mut id, ID_RANDOM_CHARS);
    id
}

/// A new file id, `file-…`.
pub fn new_file_id() -> String {
    object_id("file-")
}

/// A new vector store id, `vs_…`.
pub fn new_vector_store_id() -> String {
    object_id("vs_")
}

/// A new vector store file batch id, `vsfb_…`.
pub fn new_file_batch_id() -> String {
    object_id("vsfb_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_their_prefix_24_alphanumerics_and_differ() {
        for (id, prefix) in [
            (new_file_id(), "file-"),
            (new_vector_store_id(), "vs_"),
            (new_file_batch_id(), "vsfb_"),
        ] {
            let rest = id.strip_prefix(prefix).unwrap_or_default();
            assert_eq!(rest.len(), 24, "{id}");
            assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        }
        assert_ne!(new_file_id(), new_file_id());
    }
}
