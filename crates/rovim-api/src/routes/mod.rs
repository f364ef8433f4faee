//! One module per resource.

pub mod accounts;
pub mod actions;
pub mod events;
pub mod health;
pub mod instances;
pub mod items;
pub mod orphans;
pub mod sdn;

use rovim_store::{AnyConnection, StoreError};

use crate::ApiState;
use crate::error::ApiError;

/// A database read on a blocking thread (reads never wait for the DbActor): the engine's own
/// read helper, its errors as API errors.
pub async fn read<T, F>(state: &ApiState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
{
    rovim_engine::read(state.engine.store(), f)
        .await
        .map_err(ApiError::from)
}

/// Parses an id from the path; a malformed one is simply not found.
pub fn id<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, ApiError> {
    text.parse()
        .map_err(|_| ApiError::not_found("path", format!("no {what} '{text}'")))
}
