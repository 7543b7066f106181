//! The SQLite side of [`Assignments`]: the calendars' `assignment_rule` and `calendar_round_robin` (migration
//! 0016), and [`assign_new_leads`], which the write path calls inside the transaction that inserts leads.
//! Every write holds SQLite's one write lock (`BEGIN IMMEDIATE`), so round-robin turns are taken one at a
//! time, also against another process.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::SqliteConnection;

use super::{Edge, Error, Result, SqliteStorage, parse_enum};
use leadgate_domain::lead::{AssignmentRule, LeadEventKind};
use leadgate_storage::{Assignments, CalendarAssignment, NewLeadEvent, RoundRobinMember};

/// Applies the calendars' assignment rules to new leads (`(lead id, calendar id)`, in id order), recording
/// each assignment in the lead's history. Costs one query when no calendar has a rule.
pub(super) async fn assign_new_leads(
    conn: &mut SqliteConnection,
    leads: &[(i64, i64)],
) -> Result<()> {
    let ruled: Vec<(i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT id, assignment_rule, owner_id FROM calendars WHERE assignment_rule <> 'none'",
    )
    .fetch_all(&mut *conn)
    .await?;
    if ruled.is_empty() {
        return Ok(());
    }
    let rules: HashMap<i64, (AssignmentRule, Option<i64>)> = ruled
        .into_iter()
        .map(|(id, rule, owner)| Ok((id, (parse_enum("assignment_rule", &rule)?, owner))))
        .collect::<Result<_>>()?;
    for &(lead_id, calendar_id) in leads {
        let Some(&(rule, owner)) = rules.get(&calendar_id) else {
            continue;
        };
        let chosen: Option<(i64, String)> = match rule {
            AssignmentRule::None => None,
            AssignmentRule::Owner => match owner {
                Some(owner) => {
                    sqlx::query_as(
                        "SELECT id, login FROM users WHERE id = $1 AND disabled_at IS NULL",
                    )
                    .bind(owner)
                    .fetch_optional(&mut *conn)
                    .await?
                }
                None => None,
            },
            AssignmentRule::RoundRobin => {
                let next: Option<(i64, String)> = sqlx::query_as(
                    "SELECT r.user_id, u.login FROM calendar_round_robin r JOIN users u ON u.id = r.user_id
                     WHERE r.calendar_id = $1 AND u.disabled_at IS NULL
                     ORDER BY r.assigned, r.user_id LIMIT 1",
                )
                .bind(calendar_id)
                .fetch_optional(&mut *conn)
                .await?;
                if let Some((user_id, _)) = &next {
                    sqlx::query(
                        "UPDATE calendar_round_robin SET assigned = assigned + 1
                         WHERE calendar_id = $1 AND user_id = $2",
                    )
                    .bind(calendar_id)
                    .bind(user_id)
                    .execute(&mut *conn)
                    .await?;
                }
                next
            }
        };
        let Some((user_id, login)) = chosen else {
            continue;
        };
        sqlx::query("UPDATE leads SET assignee_id = $1 WHERE id = $2")
            .bind(user_id)
            .bind(lead_id)
            .execute(&mut *conn)
            .await?;
        super::history::record(
            conn,
            &NewLeadEvent::new(lead_id, None, LeadEventKind::Assigned)
                .with_change("assignee", None, Some(&login))
                .with("rule", rule.as_str()),
        )
        .await?;
    }
    Ok(())
}

impl SqliteStorage {
    async fn calendar_assignments_in(&self) -> Result<Vec<CalendarAssignment>> {
        let calendars: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, assignment_rule FROM calendars ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        let members: Vec<(i64, i64, String, i64)> = sqlx::query_as(
            "SELECT r.calendar_id, r.user_id, u.login, r.assigned
             FROM calendar_round_robin r JOIN users u ON u.id = r.user_id
             ORDER BY r.calendar_id, r.user_id",
        )
        .fetch_all(&self.pool)
        .await?;
        calendars
            .into_iter()
            .map(|(calendar_id, rule)| {
                Ok(CalendarAssignment {
                    calendar_id,
                    rule: parse_enum("assignment_rule", &rule)?,
                    members: members
                        .iter()
                        .filter(|m| m.0 == calendar_id)
                        .map(|(_, user_id, login, assigned)| RoundRobinMember {
                            user_id: *user_id,
                            login: login.clone(),
                            assigned: *assigned,
                        })
                        .collect(),
                })
            })
            .collect()
    }

    async fn set_assignment_rule_in(
        &self,
        calendar_id: i64,
        rule: AssignmentRule,
        members: &[i64],
    ) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query("UPDATE calendars SET assignment_rule = $1 WHERE id = $2")
            .bind(rule.as_str())
            .bind(calendar_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound {
                what: "calendar",
                key: calendar_id.to_string(),
            });
        }
        for user in members {
            let known: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
            if known.is_none() {
                return Err(Error::NotFound {
                    what: "user",
                    key: user.to_string(),
                });
            }
        }
        let kept: Vec<i64> =
            sqlx::query_scalar("SELECT user_id FROM calendar_round_robin WHERE calendar_id = $1")
                .bind(calendar_id)
                .fetch_all(&mut *tx)
                .await?;
        for gone in kept.iter().filter(|u| !members.contains(u)) {
            sqlx::query("DELETE FROM calendar_round_robin WHERE calendar_id = $1 AND user_id = $2")
                .bind(calendar_id)
                .bind(gone)
                .execute(&mut *tx)
                .await?;
        }
        // A new member starts level with the fewest, so the counts stay within one of each other.
        for new in members.iter().filter(|u| !kept.contains(u)) {
            sqlx::query(
                "INSERT INTO calendar_round_robin (calendar_id, user_id, assigned)
                 SELECT $1, $2, COALESCE((SELECT MIN(assigned) FROM calendar_round_robin
                                          WHERE calendar_id = $1), 0)
                 ON CONFLICT (calendar_id, user_id) DO NOTHING",
            )
            .bind(calendar_id)
            .bind(new)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl Assignments for SqliteStorage {
    async fn calendar_assignments(&self) -> leadgate_storage::Result<Vec<CalendarAssignment>> {
        self.calendar_assignments_in().await.edge()
    }

    async fn set_assignment_rule(
        &self,
        calendar_id: i64,
        rule: AssignmentRule,
        members: &[i64],
    ) -> leadgate_storage::Result<()> {
        self.set_assignment_rule_in(calendar_id, rule, members)
            .await
            .edge()
    }
}
