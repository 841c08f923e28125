//! What steps 2–4 of a request need, built once by the binary (or a test)
//! from the store and the configuration.

use moat_policy::keys::KeyService;
use moat_policy::{Authenticator, Limiter};
use moat_store::Store;

/// Authentication, limits, key administration and the store behind them.
#[derive(Debug, Clone)]
pub struct Access {
    pub authenticator: Authenticator,
    pub limiter: Limiter,
    pub keys: KeyService,
    pub store: Store,
}
