//! Leads in PostgreSQL.

#![allow(unused_variables, unused_imports)]

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PgStorage;
use crate::storage::*;
use leadgate_domain::ledger::Outcome;
use leadgate_domain::personal_data::PersonDataQuery;

fn not_implemented(method: &str) -> StorageError {
    StorageError::backend(format!(
        "Leads::{method} is not implemented yet on PostgreSQL"
    ))
}

#[async_trait]
impl Leads for PgStorage {
    async fn lead(&self, id: i64) -> Result<Option<LeadView>> {
        Err(not_implemented("lead"))
    }
    async fn leads(
        &self,
        filter: &LeadFilter,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> Result<Page<LeadView>> {
        Err(not_implemented("leads"))
    }
    async fn update_lead(&self, id: i64, patch: &LeadPatch) -> Result<Option<LeadView>> {
        Err(not_implemented("update_lead"))
    }
    async fn form_tech_cards(&self, lead_id: i64) -> Result<Option<Vec<TechCardView>>> {
        Err(not_implemented("form_tech_cards"))
    }
    async fn tech_cards_of_lead(&self, lead_id: i64) -> Result<Vec<TechCardView>> {
        Err(not_implemented("tech_cards_of_lead"))
    }
    async fn tech_card(&self, id: i64) -> Result<Option<TechCardView>> {
        Err(not_implemented("tech_card"))
    }
    async fn counterparties(
        &self,
        inn: Option<&str>,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> Result<Page<CounterpartyView>> {
        Err(not_implemented("counterparties"))
    }
    async fn counterparty(
        &self,
        id: i64,
        calendars: Option<&[i64]>,
    ) -> Result<Option<CounterpartyView>> {
        Err(not_implemented("counterparty"))
    }
    async fn search_counterparties(
        &self,
        query: &str,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> Result<Page<CounterpartyView>> {
        Err(not_implemented("search_counterparties"))
    }
    async fn leads_of_counterparty(
        &self,
        counterparty_id: i64,
        limit: u32,
    ) -> Result<Vec<LeadSummary>> {
        Err(not_implemented("leads_of_counterparty"))
    }
    async fn inbox(&self, query: &InboxQuery) -> Result<InboxPage> {
        Err(not_implemented("inbox"))
    }
    async fn inbox_pulse(&self, calendars: Option<&[i64]>) -> Result<InboxPulse> {
        Err(not_implemented("inbox_pulse"))
    }
    async fn calendar_days(
        &self,
        calendars: &[i64],
        bounds: &[DateTime<Utc>],
        per_day: u32,
    ) -> Result<Vec<DaySlot>> {
        Err(not_implemented("calendar_days"))
    }
    async fn calendar_feed(
        &self,
        calendar_id: i64,
        from: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<LeadSummary>> {
        Err(not_implemented("calendar_feed"))
    }
}
