//! Step 6, augment: what a turn adds to the request before the model sees
//! it (knowledge-base passages with their citations, once knowledge bases
//! exist). Nothing is added yet; this is the one place a turn calls for it.

use moat_protocol::ApiError;

use crate::turn::TurnRequest;

/// Add what the caller's knowledge bases say to `request`; today, nothing.
pub(crate) fn augment<R: TurnRequest>(_request: &mut R) -> Result<(), ApiError> {
    Ok(())
}
