//! The timeline entries of a manager's changes to a lead, written in the change's own transaction.

use sqlx::SqliteConnection;

use super::Result;
use leadgate_domain::techcard::TechCardStatus;
use leadgate_storage::{FieldChange, LineChange};

/// A field corrected, with its old and new value.
pub(super) async fn edited(
    _conn: &mut SqliteConnection,
    _lead_id: i64,
    _by: i64,
    _change: &FieldChange,
) -> Result<()> {
    Ok(())
}

/// A line added, changed or removed, and the cards that went stale.
pub(super) async fn lines_changed(
    _conn: &mut SqliteConnection,
    _lead_id: i64,
    _by: i64,
    _change: &LineChange,
    _stale_cards: &[i64],
) -> Result<()> {
    Ok(())
}

/// A tech card moved on.
pub(super) async fn tech_card_status_changed(
    _conn: &mut SqliteConnection,
    _lead_id: i64,
    _by: i64,
    _card: i64,
    _from: TechCardStatus,
    _to: TechCardStatus,
) -> Result<()> {
    Ok(())
}

/// The lead marked a second submission of `of`.
pub(super) async fn duplicate_marked(
    _conn: &mut SqliteConnection,
    _lead_id: i64,
    _by: i64,
    _of: i64,
) -> Result<()> {
    Ok(())
}

/// The hint that the lead repeats `of` dismissed.
pub(super) async fn duplicate_dismissed(
    _conn: &mut SqliteConnection,
    _lead_id: i64,
    _by: i64,
    _of: i64,
) -> Result<()> {
    Ok(())
}
