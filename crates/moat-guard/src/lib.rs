//! moat's personal-data guard: recognizers for mainland-China and common
//! personal data that validate what they find (check characters, dates,
//! allocated prefixes), policies that mask, pseudonymize or block it, a
//! pseudonym vault per request, and a restorer for streamed responses.
//!
//! ```
//! use moat_guard::{Policy, PseudonymVault, Scanner};
//!
//! let scanner = Scanner::new();
//! let mut vault = PseudonymVault::new();
//! let guarded = Policy::Pseudonymize
//!     .apply(&scanner, "手机13812345678", &mut vault)
//!     .unwrap();
//! assert_eq!(guarded.text, "手机<PHONE_1>");
//! assert_eq!(vault.restore("已记录<PHONE_1>"), "已记录13812345678");
//! ```

mod checksum;
mod error;
mod finding;
mod kind;
mod mask;
mod normalize;
mod overlap;
mod policy;
mod recognize;
mod scanner;
mod stream;
mod text;
mod token;
mod vault;

pub use checksum::Checksum;
pub use error::GuardError;
pub use finding::Finding;
pub use kind::{Confidence, Kind, KindInfo, BUILTIN};
pub use policy::{kinds_found, mask, pseudonymize, Guarded, Policy};
pub use recognize::custom::CustomRecognizer;
pub use scanner::Scanner;
pub use stream::StreamRestorer;
pub use vault::PseudonymVault;
