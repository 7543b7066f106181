//! Leads in PostgreSQL: one lead and the API's lead list, status and assignee changes, and tech cards. The
//! [`Leads`] trait is implemented here; its counterparty queries live in [`super::counterparties`] and the web
//! UI's light lead lists (inbox, calendar views, feed) in [`super::summaries`].

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::{
    Error, PgStorage, Result, counterparties, dec, dec_text, from_json, from_ms, ms, page_of,
    parse_enum, push_calendar_ids, push_kind_and_period, push_lead_search, search_calendars,
    summaries,
};
use leadgate_domain::lead::{Channel, LeadEventKind, LeadKind, LeadStatus};
use leadgate_domain::payload::{Campaign, Contact, ExtraWork, OrderLine};
use leadgate_storage::{
    self as storage, CalendarRef, CounterpartyRef, CounterpartyView, DaySlot, InboxPage,
    InboxPulse, InboxQuery, LeadFilter, LeadPatch, LeadSummary, LeadView, Leads, NewLeadEvent,
    Page, PageRequest, SearchKey, SourceView, TechCardView,
};

/// An order line's figures as stored, for forming its tech card.
#[derive(sqlx::FromRow)]
struct CardLineRow {
    id: i64,
    position: i64,
    width: Option<String>,
    height: Option<String>,
    quantity: Option<String>,
}

/// Creates the missing tech cards of a lead; existing ones are left as they are (UNIQUE(line_id), and the
/// number: a concurrent forming of the same lead inserts nothing twice).
pub(super) async fn form_cards(conn: &mut PgConnection, lead_id: i64) -> Result<Vec<String>> {
    let lines: Vec<CardLineRow> = sqlx::query_as(
        "SELECT l.id, l.position, l.width, l.height, l.quantity FROM order_lines l
         WHERE l.lead_id = $1 AND NOT l.is_service AND l.removed_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM tech_cards t WHERE t.line_id = l.id)
         ORDER BY l.position",
    )
    .bind(lead_id)
    .fetch_all(&mut *conn)
    .await?;
    let now = ms(Utc::now());
    let mut formed = Vec::with_capacity(lines.len());
    for line in lines {
        // A line that replaced one whose card went stale gets a number of its own: `7-2/2`.
        let base = format!("{lead_id}-{}", line.position);
        let taken: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM tech_cards WHERE lead_id = $1 AND (number = $2 OR number LIKE $3)",
        )
        .bind(lead_id)
        .bind(&base)
        .bind(format!("{base}/%"))
        .fetch_one(&mut *conn)
        .await?;
        let number = if taken == 0 {
            base
        } else {
            format!("{base}/{}", taken + 1)
        };
        let f = leadgate_domain::techcard::figures(
            dec("width", line.width)?,
            dec("height", line.height)?,
            dec("quantity", line.quantity)?,
        );
        let done = sqlx::query(
            "INSERT INTO tech_cards (number, lead_id, line_id, area_per_piece, total_area, perimeter, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&number)
        .bind(lead_id)
        .bind(line.id)
        .bind(dec_text(f.area_per_piece))
        .bind(dec_text(f.total_area))
        .bind(dec_text(f.perimeter))
        .bind(now)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() > 0 {
            formed.push(number);
        }
    }
    Ok(formed)
}

const LEAD_SELECT: &str =
    "SELECT l.*, c.name AS calendar_name, cp.inn AS cp_inn, cp.name AS cp_name,
        co.name AS collector_name, hs.name AS http_source_name, u.login AS assignee_login
    FROM leads l
    JOIN calendars c ON c.id = l.calendar_id
    LEFT JOIN counterparties cp ON cp.id = l.counterparty_id
    LEFT JOIN collectors co ON co.id = l.collector_id
    LEFT JOIN http_sources hs ON hs.id = l.http_source_id
    LEFT JOIN users u ON u.id = l.assignee_id";

/// The columns of [`LEAD_SELECT`] a [`LeadView`] shows.
#[derive(sqlx::FromRow)]
struct LeadRow {
    id: i64,
    kind: String,
    status: String,
    calendar_id: i64,
    calendar_name: String,
    subject: Option<String>,
    occurred_at: Option<i64>,
    received_at: i64,
    description: Option<String>,
    contact_person: Option<String>,
    phone: Option<String>,
    phone_e164: Option<String>,
    email: Option<String>,
    inn: Option<String>,
    counterparty_id: Option<i64>,
    cp_inn: Option<String>,
    cp_name: Option<String>,
    layout_files: String,
    warnings: String,
    channel: String,
    collector_name: Option<String>,
    http_source_name: Option<String>,
    message_id: Option<String>,
    external_number: Option<String>,
    assignee_login: Option<String>,
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
    page_url: Option<String>,
    referrer: Option<String>,
    duplicate_of: Option<i64>,
}

impl LeadRow {
    /// The lead without its lines.
    fn into_view(self) -> Result<LeadView> {
        let counterparty = match (self.counterparty_id, self.cp_inn, self.cp_name) {
            (Some(id), Some(inn), Some(name)) => Some(CounterpartyRef { id, inn, name }),
            (Some(id), ..) => {
                return Err(Error::Corrupt(format!(
                    "lead {}: counterparty {id} missing",
                    self.id
                )));
            }
            (None, ..) => None,
        };
        Ok(LeadView {
            id: self.id,
            kind: parse_enum::<LeadKind>("kind", &self.kind)?,
            status: parse_enum::<LeadStatus>("status", &self.status)?,
            calendar: CalendarRef {
                id: self.calendar_id,
                name: self.calendar_name,
            },
            subject: self.subject,
            occurred_at: self.occurred_at.map(from_ms).transpose()?,
            received_at: from_ms(self.received_at)?,
            description: self.description,
            contact: Contact {
                person: self.contact_person,
                phone: self.phone,
                phone_e164: self.phone_e164,
                email: self.email,
            },
            inn: self.inn,
            counterparty,
            layout_files: from_json("layout_files", &self.layout_files)?,
            lines: Vec::new(),
            source: SourceView {
                channel: parse_enum::<Channel>("channel", &self.channel)?,
                collector: self.collector_name,
                http_source: self.http_source_name,
                message_id: self.message_id,
                external_number: self.external_number,
            },
            warnings: from_json("warnings", &self.warnings)?,
            assignee: self.assignee_login,
            campaign: Campaign {
                utm_source: self.utm_source,
                utm_medium: self.utm_medium,
                utm_campaign: self.utm_campaign,
                page_url: self.page_url,
                referrer: self.referrer,
            },
            duplicate_of: self.duplicate_of,
        })
    }
}

/// The columns of an order line; a line kept for its stale tech card shows the position it had.
const LINE_SELECT: &str = "SELECT id, lead_id, COALESCE(removed_position, position) AS position, nomenclature,
        machine_code, resolution, material, material_code, width, height, quantity, price, amount, is_service
    FROM order_lines";

/// An order line as stored.
#[derive(sqlx::FromRow)]
struct LineRow {
    id: i64,
    lead_id: i64,
    position: i64,
    nomenclature: Option<String>,
    machine_code: Option<String>,
    resolution: Option<String>,
    material: Option<String>,
    material_code: Option<String>,
    width: Option<String>,
    height: Option<String>,
    quantity: Option<String>,
    price: Option<String>,
    amount: Option<String>,
    is_service: bool,
}

impl LineRow {
    fn into_line(self) -> Result<OrderLine> {
        Ok(OrderLine {
            position: u32::try_from(self.position)
                .map_err(|_| Error::Corrupt(format!("position = {}", self.position)))?,
            nomenclature: self.nomenclature,
            machine_code: self.machine_code,
            resolution: self.resolution,
            material: self.material,
            material_code: self.material_code,
            width: dec("width", self.width)?,
            height: dec("height", self.height)?,
            quantity: dec("quantity", self.quantity)?,
            price: dec("price", self.price)?,
            amount: dec("amount", self.amount)?,
            is_service: self.is_service,
            extra_works: Vec::new(),
        })
    }
}

/// An extra work as stored.
#[derive(sqlx::FromRow)]
struct ExtraWorkRow {
    line_id: i64,
    kind: Option<String>,
    quantity: Option<String>,
    description: Option<String>,
}

/// A tech card with its line's position.
#[derive(sqlx::FromRow)]
struct TechCardRow {
    id: i64,
    number: String,
    lead_id: i64,
    status: String,
    area_per_piece: Option<String>,
    total_area: Option<String>,
    perimeter: Option<String>,
    line_id: i64,
    stale_at: Option<i64>,
    line_position: i64,
}

impl PgStorage {
    /// Loads the lines (with extra works) of the given leads, keyed by lead id, in position order.
    async fn lines_of(&self, lead_ids: &[i64]) -> Result<HashMap<i64, Vec<OrderLine>>> {
        Ok(self
            .lines_with_ids(lead_ids, false)
            .await?
            .into_iter()
            .map(|(lead, lines)| (lead, lines.into_iter().map(|(_, l)| l).collect()))
            .collect())
    }

    /// The lines of the given leads with their ids; with `removed`, also the lines kept only for their
    /// stale tech cards (at the position they had).
    async fn lines_with_ids(
        &self,
        lead_ids: &[i64],
        removed: bool,
    ) -> Result<HashMap<i64, Vec<(i64, OrderLine)>>> {
        let mut out: HashMap<i64, Vec<(i64, OrderLine)>> = HashMap::new();
        if lead_ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "{LINE_SELECT} WHERE lead_id = ANY($1) AND ($2 OR removed_at IS NULL) ORDER BY lead_id, position"
        );
        let rows: Vec<LineRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(lead_ids.to_vec())
            .bind(removed)
            .fetch_all(&self.pool)
            .await?;
        let mut line_index: HashMap<i64, (i64, usize)> = HashMap::new();
        for row in rows {
            let lines = out.entry(row.lead_id).or_default();
            line_index.insert(row.id, (row.lead_id, lines.len()));
            lines.push((row.id, row.into_line()?));
        }
        if line_index.is_empty() {
            return Ok(out);
        }
        let line_ids: Vec<i64> = line_index.keys().copied().collect();
        let works: Vec<ExtraWorkRow> = sqlx::query_as(
            "SELECT * FROM extra_works WHERE line_id = ANY($1) ORDER BY line_id, position",
        )
        .bind(line_ids)
        .fetch_all(&self.pool)
        .await?;
        for work in works {
            if let Some((lead_id, idx)) = line_index.get(&work.line_id)
                && let Some(line) = out.get_mut(lead_id).and_then(|l| l.get_mut(*idx))
            {
                line.1.extra_works.push(ExtraWork {
                    kind: work.kind,
                    quantity: dec("quantity", work.quantity)?,
                    description: work.description,
                });
            }
        }
        Ok(out)
    }

    async fn with_lines(&self, mut leads: Vec<LeadView>) -> Result<Vec<LeadView>> {
        let ids: Vec<i64> = leads.iter().map(|l| l.id).collect();
        let mut lines = self.lines_of(&ids).await?;
        for lead in &mut leads {
            lead.lines = lines.remove(&lead.id).unwrap_or_default();
        }
        Ok(leads)
    }

    /// Tech cards matching `clause` (on `t`, with one `$1`), with their lines.
    async fn cards(&self, clause: &'static str, id: i64) -> Result<Vec<TechCardView>> {
        let sql = format!(
            "SELECT t.*, COALESCE(l.removed_position, l.position) AS line_position, l.lead_id AS line_lead
             FROM tech_cards t JOIN order_lines l ON l.id = t.line_id
             WHERE {clause} ORDER BY line_position, t.id"
        );
        let rows: Vec<TechCardRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        // Every card's line, loaded once for all the leads involved (with its extra works).
        let mut lead_ids: Vec<i64> = rows.iter().map(|r| r.lead_id).collect();
        lead_ids.dedup();
        let mut lines = self.lines_with_ids(&lead_ids, true).await?;
        let mut cards = Vec::with_capacity(rows.len());
        for row in rows {
            let position = row.line_position;
            let line = lines
                .get_mut(&row.lead_id)
                .and_then(|lines| {
                    lines
                        .iter()
                        .position(|(id, _)| *id == row.line_id)
                        .map(|i| lines.swap_remove(i).1)
                })
                .ok_or_else(|| Error::Corrupt(format!("tech card without line {position}")))?;
            cards.push(TechCardView {
                id: row.id,
                number: row.number,
                lead_id: row.lead_id,
                line_position: position,
                status: row.status,
                stale: row.stale_at.is_some(),
                line,
                area_per_piece: dec("area_per_piece", row.area_per_piece)?,
                total_area: dec("total_area", row.total_area)?,
                perimeter: dec("perimeter", row.perimeter)?,
            });
        }
        Ok(cards)
    }

    async fn lead_in(&self, id: i64) -> Result<Option<LeadView>> {
        let sql = format!("{LEAD_SELECT} WHERE l.id = $1");
        let Some(row) = sqlx::query_as::<_, LeadRow>(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        Ok(self.with_lines(vec![row.into_view()?]).await?.pop())
    }

    async fn leads_in(
        &self,
        filter: &LeadFilter,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> Result<Page<LeadView>> {
        let mut q = QueryBuilder::<Postgres>::new(LEAD_SELECT);
        q.push(" WHERE 1 = 1");
        if let Some(calendars) = calendars {
            push_calendar_ids(&mut q, calendars);
        }
        if let Some(cursor) = page.cursor {
            q.push(" AND l.id < ").push_bind(cursor);
        }
        if let Some(calendar) = filter.calendar.as_deref() {
            match calendar.parse::<i64>() {
                Ok(id) => q.push(" AND l.calendar_id = ").push_bind(id),
                Err(_) => q.push(" AND c.name = ").push_bind(calendar.to_owned()),
            };
        }
        if let Some(status) = filter.status {
            q.push(" AND l.status = ").push_bind(status.as_str());
        }
        push_kind_and_period(&mut q, filter.kind, filter.from, filter.to);
        if let Some(key) = filter.search.as_deref().and_then(SearchKey::parse) {
            q.push(" AND ");
            let search = self.lead_search(key).await?;
            let calendars = search_calendars(&self.pool, &search, calendars).await?;
            push_lead_search(&mut q, &search, &calendars);
        }
        // Written in, not bound, so that the statement keeps one plan (see `summaries::inbox`).
        q.push(format_args!(
            " ORDER BY l.id DESC LIMIT {}",
            i64::from(page.limit) + 1
        ));
        let rows: Vec<LeadRow> = q.build_query_as().fetch_all(&self.pool).await?;
        let leads = rows
            .into_iter()
            .map(LeadRow::into_view)
            .collect::<Result<Vec<_>>>()?;
        let page = page_of(leads, page.limit, |l| l.id);
        Ok(Page {
            items: self.with_lines(page.items).await?,
            next: page.next,
        })
    }

    async fn update_lead_in(&self, id: i64, patch: &LeadPatch) -> Result<Option<LeadView>> {
        let mut tx = self.pool.begin().await?;
        // The row lock orders concurrent changes of one lead: only the first of them finds no first action.
        let current: Option<(String, Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT l.status, u.login, l.first_action_at FROM leads l
             LEFT JOIN users u ON u.id = l.assignee_id WHERE l.id = $1 FOR UPDATE OF l",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((status_now, assignee_now, first_action)) = current else {
            return Ok(None);
        };
        let now = ms(Utc::now());
        // The first change of status or assignee is the lead's first manager action (the response time).
        let changes_status = patch.status.is_some_and(|s| s.as_str() != status_now);
        let changes_assignee = patch.assignee.as_deref().is_some_and(|login| {
            if login.is_empty() {
                assignee_now.is_some()
            } else {
                assignee_now.as_deref() != Some(login)
            }
        });
        if first_action.is_none() && (changes_status || changes_assignee) {
            sqlx::query(
                "UPDATE leads SET first_action_at = $1, first_action_by = $2
                 WHERE id = $3 AND first_action_at IS NULL",
            )
            .bind(now)
            .bind(patch.by)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        // The webhooks' outbox, in the transaction that changes the status.
        if let Some(status) = patch.status
            && status.as_str() != status_now
        {
            super::webhooks::queue_events(
                &mut tx,
                leadgate_storage::WebhookEventType::LeadStatusChanged,
                &[id],
                Utc::now(),
            )
            .await?;
        }
        if let Some(status) = patch.status {
            sqlx::query("UPDATE leads SET status = $1, updated_at = $2 WHERE id = $3")
                .bind(status.as_str())
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(login) = patch.assignee.as_deref() {
            let user_id: Option<i64> = if login.is_empty() {
                None
            } else {
                Some(
                    sqlx::query_scalar("SELECT id FROM users WHERE login = $1")
                        .bind(login)
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or_else(|| Error::NotFound {
                            what: "user",
                            key: login.to_owned(),
                        })?,
                )
            };
            sqlx::query("UPDATE leads SET assignee_id = $1, updated_at = $2 WHERE id = $3")
                .bind(user_id)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let at = Utc::now();
        if let Some(status) = patch.status
            && changes_status
        {
            super::history::record(
                &mut tx,
                &NewLeadEvent {
                    at,
                    ..NewLeadEvent::new(id, patch.by, LeadEventKind::StatusChanged)
                }
                .with_change("status", Some(&status_now), Some(status.as_str())),
            )
            .await?;
        }
        if changes_assignee {
            let new = patch.assignee.as_deref().filter(|login| !login.is_empty());
            super::history::record(
                &mut tx,
                &NewLeadEvent {
                    at,
                    ..NewLeadEvent::new(id, patch.by, LeadEventKind::Assigned)
                }
                .with_change("assignee", assignee_now.as_deref(), new),
            )
            .await?;
        }
        tx.commit().await?;
        self.lead_in(id).await
    }

    async fn move_lead_in(
        &self,
        id: i64,
        calendar_id: i64,
        by: Option<i64>,
        unassign: Option<&str>,
    ) -> Result<Option<LeadView>> {
        let mut tx = self.pool.begin().await?;
        let current: Option<(i64, String)> = sqlx::query_as(
            "SELECT l.calendar_id, c.name FROM leads l JOIN calendars c ON c.id = l.calendar_id
             WHERE l.id = $1 FOR UPDATE OF l",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((from, from_name)) = current else {
            return Ok(None);
        };
        let to_name: String = sqlx::query_scalar("SELECT name FROM calendars WHERE id = $1")
            .bind(calendar_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "calendar",
                key: calendar_id.to_string(),
            })?;
        if from != calendar_id {
            sqlx::query("UPDATE leads SET calendar_id = $1, updated_at = $2 WHERE id = $3")
                .bind(calendar_id)
                .bind(ms(Utc::now()))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            super::history::record(
                &mut tx,
                &NewLeadEvent::new(id, by, LeadEventKind::Moved).with_change(
                    "calendar",
                    Some(&from_name),
                    Some(&to_name),
                ),
            )
            .await?;
            if let Some(login) = unassign {
                let taken = sqlx::query(
                    "UPDATE leads SET assignee_id = NULL
                     WHERE id = $1 AND assignee_id = (SELECT id FROM users WHERE login = $2)",
                )
                .bind(id)
                .bind(login)
                .execute(&mut *tx)
                .await?;
                if taken.rows_affected() > 0 {
                    super::history::record(
                        &mut tx,
                        &NewLeadEvent::new(id, by, LeadEventKind::Assigned).with_change(
                            "assignee",
                            Some(login),
                            None,
                        ),
                    )
                    .await?;
                }
            }
        }
        tx.commit().await?;
        self.lead_in(id).await
    }

    async fn form_tech_cards_in(
        &self,
        lead_id: i64,
        by: Option<i64>,
    ) -> Result<Option<Vec<TechCardView>>> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM leads WHERE id = $1 FOR UPDATE")
                .bind(lead_id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let formed = form_cards(&mut tx, lead_id).await?;
        if !formed.is_empty() {
            super::history::record(
                &mut tx,
                &NewLeadEvent::new(lead_id, by, LeadEventKind::TechCardsFormed)
                    .with("cards", formed),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(self.cards("t.lead_id = $1", lead_id).await?))
    }
}

#[async_trait]
impl Leads for PgStorage {
    async fn lead(&self, id: i64) -> storage::Result<Option<LeadView>> {
        Ok(self.lead_in(id).await?)
    }

    async fn leads(
        &self,
        filter: &LeadFilter,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> storage::Result<Page<LeadView>> {
        Ok(self.leads_in(filter, calendars, page).await?)
    }

    async fn update_lead(&self, id: i64, patch: &LeadPatch) -> storage::Result<Option<LeadView>> {
        Ok(self.update_lead_in(id, patch).await?)
    }

    async fn move_lead(
        &self,
        id: i64,
        calendar_id: i64,
        by: Option<i64>,
        unassign: Option<&str>,
    ) -> storage::Result<Option<LeadView>> {
        Ok(self.move_lead_in(id, calendar_id, by, unassign).await?)
    }

    async fn form_tech_cards(
        &self,
        lead_id: i64,
        by: Option<i64>,
    ) -> storage::Result<Option<Vec<TechCardView>>> {
        Ok(self.form_tech_cards_in(lead_id, by).await?)
    }

    async fn tech_cards_of_lead(&self, lead_id: i64) -> storage::Result<Vec<TechCardView>> {
        Ok(self.cards("t.lead_id = $1", lead_id).await?)
    }

    async fn tech_card(&self, id: i64) -> storage::Result<Option<TechCardView>> {
        Ok(self.cards("t.id = $1", id).await?.pop())
    }

    async fn counterparties(
        &self,
        inn: Option<&str>,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> storage::Result<Page<CounterpartyView>> {
        Ok(counterparties::list(self, inn, calendars, page).await?)
    }

    async fn counterparty(
        &self,
        id: i64,
        calendars: Option<&[i64]>,
    ) -> storage::Result<Option<CounterpartyView>> {
        Ok(counterparties::one(self, id, calendars).await?)
    }

    async fn search_counterparties(
        &self,
        query: &str,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> storage::Result<Page<CounterpartyView>> {
        Ok(counterparties::search(self, query, calendars, page).await?)
    }

    async fn leads_of_counterparty(
        &self,
        counterparty_id: i64,
        limit: u32,
    ) -> storage::Result<Vec<LeadSummary>> {
        Ok(summaries::leads_of_counterparty(&self.pool, counterparty_id, limit).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn inbox(&self, query: &InboxQuery) -> storage::Result<InboxPage> {
        let search = match query.search_key() {
            Some(key) => Some(self.lead_search(key).await?),
            None => None,
        };
        Ok(summaries::inbox(&self.pool, query, search.as_ref()).await?)
    }

    async fn inbox_pulse(&self, calendars: Option<&[i64]>) -> storage::Result<InboxPulse> {
        Ok(summaries::inbox_pulse(&self.pool, calendars).await?)
    }

    #[tracing::instrument(skip_all, fields(days = bounds.len().saturating_sub(1)))]
    async fn calendar_days(
        &self,
        calendars: &[i64],
        bounds: &[DateTime<Utc>],
        per_day: u32,
    ) -> storage::Result<Vec<DaySlot>> {
        Ok(summaries::calendar_days(&self.pool, calendars, bounds, per_day).await?)
    }

    async fn calendar_feed(
        &self,
        calendar_id: i64,
        from: DateTime<Utc>,
        limit: u32,
    ) -> storage::Result<Vec<LeadSummary>> {
        Ok(summaries::calendar_feed(&self.pool, calendar_id, from, limit).await?)
    }
}
