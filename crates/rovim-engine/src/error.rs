//! The engine's errors.

use rovim_store::StoreError;

use crate::config::ConfigError;
use crate::request::PlanError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The submission was refused: nothing was stored.
    #[error(transparent)]
    Rejected(#[from] PlanError),
    #[error("{0}")]
    Conflict(String),
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("the engine is not running: {0}")]
    Stopped(String),
    /// A VIM call made for the caller failed (an orphan listing).
    #[error("the VIM failed: {0}")]
    Vim(#[from] rovim_vim::VimError),
}

impl From<actix::MailboxError> for EngineError {
    fn from(e: actix::MailboxError) -> Self {
        EngineError::Stopped(e.to_string())
    }
}
