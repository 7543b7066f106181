//! The timeline entries of a manager's changes to a lead, written through [`super::history::record`] in the
//! change's own transaction.

use sqlx::PgConnection;

use super::Result;
use super::history::record;
use leadgate_domain::lead::LeadEventKind;
use leadgate_domain::payload::OrderLine;
use leadgate_domain::techcard::TechCardStatus;
use leadgate_storage::{FieldChange, NewLeadEvent};

/// The fields corrected, each with its old and new value.
pub(super) async fn edited(
    conn: &mut PgConnection,
    lead_id: i64,
    by: i64,
    changes: &[FieldChange],
) -> Result<()> {
    let event = changes.iter().fold(
        NewLeadEvent::new(lead_id, Some(by), LeadEventKind::Edited),
        |event, c| event.with_change(&c.field, c.old.as_deref(), c.new.as_deref()),
    );
    record(conn, &event).await?;
    Ok(())
}

/// A line written out for the timeline: `Баннер, 3 × 2 м, 2 шт., 9000`.
pub(super) fn line_summary(line: &OrderLine) -> String {
    let num = |d: Option<rust_decimal::Decimal>| d.map(|d| d.normalize().to_string());
    let mut parts = vec![line.nomenclature.clone().unwrap_or_else(|| "—".to_owned())];
    if let (Some(w), Some(h)) = (num(line.width), num(line.height)) {
        parts.push(format!("{w} × {h} м"));
    }
    if let Some(q) = num(line.quantity) {
        parts.push(format!("{q} шт."));
    }
    if let Some(a) = num(line.amount) {
        parts.push(a);
    }
    if line.is_service {
        parts.push("услуга".to_owned());
    }
    parts.join(", ")
}

/// A line added, changed or removed (old and new as text), and the cards that went stale.
pub(super) async fn lines_changed(
    conn: &mut PgConnection,
    lead_id: i64,
    by: i64,
    position: u32,
    old: Option<String>,
    new: Option<String>,
    stale_cards: &[i64],
) -> Result<()> {
    let mut event = NewLeadEvent::new(lead_id, Some(by), LeadEventKind::LinesChanged).with_change(
        &format!("line {position}"),
        old.as_deref(),
        new.as_deref(),
    );
    if !stale_cards.is_empty() {
        let numbers: Vec<String> =
            sqlx::query_scalar("SELECT number FROM tech_cards WHERE id = ANY($1) ORDER BY id")
                .bind(stale_cards.to_vec())
                .fetch_all(&mut *conn)
                .await?;
        event = event.with("stale_tech_cards", numbers);
    }
    record(conn, &event).await?;
    Ok(())
}

/// A tech card moved on.
pub(super) async fn tech_card_status_changed(
    conn: &mut PgConnection,
    lead_id: i64,
    by: i64,
    number: &str,
    from: TechCardStatus,
    to: TechCardStatus,
) -> Result<()> {
    let event = NewLeadEvent::new(lead_id, Some(by), LeadEventKind::TechCardStatusChanged)
        .with("tech_card", number)
        .with_change("status", Some(from.as_str()), Some(to.as_str()));
    record(conn, &event).await?;
    Ok(())
}

/// The lead marked a second submission of `of`.
pub(super) async fn duplicate_marked(
    conn: &mut PgConnection,
    lead_id: i64,
    by: i64,
    of: i64,
) -> Result<()> {
    let event = NewLeadEvent::new(lead_id, Some(by), LeadEventKind::DuplicateMarked)
        .with("duplicate_of", of);
    record(conn, &event).await?;
    Ok(())
}

/// The hint that the lead repeats `of` dismissed.
pub(super) async fn duplicate_dismissed(
    conn: &mut PgConnection,
    lead_id: i64,
    by: i64,
    of: i64,
) -> Result<()> {
    let event = NewLeadEvent::new(lead_id, Some(by), LeadEventKind::DuplicateDismissed)
        .with("hinted_at", of);
    record(conn, &event).await?;
    Ok(())
}
