//! Step 3, authorization, as the pipeline asks it: models here, tools in
//! [`crate::tools`], both through [`moat_policy::authorize`].

use moat_policy::{authorize, Permission, Principal};
use moat_protocol::ApiError;

/// May `principal` use `model`? 403 `model_not_allowed` when no role
/// allows the name, whether or not it is served, so names cannot be probed.
pub(crate) fn model(principal: &Principal, model: &str) -> Result<(), ApiError> {
    authorize(principal, Permission::Model(model)).map_err(ApiError::from)
}
