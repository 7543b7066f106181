//! The mailbox password typed in the collector form: write-only, kept sealed, bound to its server.
//!
//! - The field is never filled in when the form is shown (not even after a failed submit), the form's
//!   `Debug` shows it as `…`, and no API answer carries it: the collector record holds no password at all,
//!   only storage's separate sealed row does.
//! - It is sealed with the `[secrets]` key and with `protocol://user@host:port` as associated data
//!   ([`StoredPassword::owner_of`]); saving the collector with another host, port, protocol or login
//!   and no password typed again deletes it, so a stored password is never sent to another server.
//! - A password environment variable or file, where one is set, still comes first.

use serde::Deserialize;

use crate::app::{ApiError, AppState};
use leadgate_storage::{CollectorRecord, StoredPassword};

/// A password as typed in a form: deserialised from the field, never shown by `Debug`.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct TypedPassword(String);

impl TypedPassword {
    /// Whether something was typed.
    pub fn is_given(&self) -> bool {
        !self.0.is_empty()
    }
}

impl std::fmt::Debug for TypedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_given() { "…" } else { "" })
    }
}

/// Whether the collector has a stored password bound to its current server and login.
///
/// # Errors
/// Database errors.
pub async fn has_stored(state: &AppState, c: &CollectorRecord) -> Result<bool, ApiError> {
    Ok(state
        .storage
        .collector_password(c.id)
        .await?
        .is_some_and(|p| p.bound_to == StoredPassword::owner_of(c)))
}

/// After the collector `c` (as saved) is stored: seals and keeps a typed password, or, with none typed,
/// deletes a stored one that was bound to another server or login.
///
/// # Errors
/// Database errors; a key that cannot seal (never in practice).
pub async fn save(
    state: &AppState,
    c: &CollectorRecord,
    typed: &TypedPassword,
) -> Result<(), ApiError> {
    let owner = StoredPassword::owner_of(c);
    if typed.is_given() {
        let sealed = state
            .job
            .secrets()
            .seal(&typed.0, &owner)
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
        state
            .storage
            .set_collector_password(
                c.id,
                &StoredPassword {
                    bound_to: owner,
                    sealed,
                },
            )
            .await?;
        tracing::info!(
            collector = c.id,
            "mailbox password typed in the UI stored, encrypted"
        );
    } else if state
        .storage
        .collector_password(c.id)
        .await?
        .is_some_and(|p| p.bound_to != owner)
        && state.storage.clear_collector_password(c.id).await?
    {
        tracing::info!(
            collector = c.id,
            "collector moved: its stored mailbox password is deleted"
        );
    }
    Ok(())
}
