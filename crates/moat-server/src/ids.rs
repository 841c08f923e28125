//! Response ids and timestamps.

use rand::distr::Alphanumeric;
use rand::Rng;

/// `prefix` followed by 24 random alphanumerics, like OpenAI's ids.
pub(crate) fn response_id(prefix: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + 24);
    id.push_str(prefix);
    id.extend(
        rand::rng()
            .sample_iter(Alphanumeric)
            .take(24)
            .map(char::from),
    );
    id
}
