//! The one error type every storage backend returns.
//!
//! Callers match on the few cases they handle differently (a missing row, a name taken, a database that does
//! not answer); everything else is the backend's own error, boxed, so that no driver type leaks through the
//! storage boundary and each backend converts its errors in its own module.

/// A boxed error of a storage backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors from the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A row referenced by name or id does not exist.
    #[error("{what} {key:?} does not exist")]
    NotFound {
        /// What kind of record.
        what: &'static str,
        /// Its name or id.
        key: String,
    },
    /// The request conflicts with stored state (a name that is taken, for one).
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached right now (connection refused or lost, no connection free in time);
    /// trying again later may succeed.
    #[error("database unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else the backend failed at: a failed statement, a migration, a stored value that does not
    /// read back.
    #[error("database error")]
    Backend(#[source] BoxError),
}

impl StorageError {
    /// A backend error from anything that is an error (or a message).
    pub fn backend(error: impl Into<BoxError>) -> Self {
        Self::Backend(error.into())
    }
}

/// Shorthand for storage results.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
