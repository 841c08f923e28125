//! Who is calling and what they may do: principals, roles, API keys,
//! OIDC/JWT bearer tokens, rate limits and quotas (steps 2–4 of a request).

pub mod apikey;
pub mod authn;
pub mod clock;
pub mod failures;
pub mod jwt;
pub mod keys;
pub mod limit;
pub mod limits;
pub mod permission;
pub mod principal;
pub mod role;
pub mod session;
pub mod totp;
pub mod usage;

pub use authn::{AuthFailure, Authenticator};
pub use limits::{Admission, Limited, Limiter, RateStatus, Refusal};
pub use permission::{authorize, Denied, Permission};
pub use principal::{Credential, Principal};
pub use role::{AuditContent, Limits, Role, RoleConfig, Roles};
pub use session::{Session, SessionSettings, Sessions, SignedIn};
