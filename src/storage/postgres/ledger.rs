//! The ledger in PostgreSQL.

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
        "Ledger::{method} is not implemented yet on PostgreSQL"
    ))
}

#[async_trait]
impl Ledger for PgStorage {
    async fn ping(&self) -> Result<()> {
        Err(not_implemented("ping"))
    }
    async fn submit_batch(&self, batch: &[Submission]) -> Result<Vec<SubmitOutcome>> {
        Err(not_implemented("submit_batch"))
    }
    async fn import_for_message(&self, message_id: i64, draft: &LeadDraft) -> Result<Reimport> {
        Err(not_implemented("import_for_message"))
    }
    async fn resolve_message(
        &self,
        id: i64,
        outcome: Outcome,
        reason: Option<&str>,
        lead_id: Option<i64>,
    ) -> Result<bool> {
        Err(not_implemented("resolve_message"))
    }
    async fn messages(
        &self,
        outcome: Option<Outcome>,
        page: PageRequest,
    ) -> Result<Page<MessageView>> {
        Err(not_implemented("messages"))
    }
    async fn message(&self, id: i64) -> Result<Option<MessageView>> {
        Err(not_implemented("message"))
    }
    async fn message_raw(&self, id: i64) -> Result<Option<RawMessage>> {
        Err(not_implemented("message_raw"))
    }
    async fn message_of_lead(&self, lead_id: i64) -> Result<Option<i64>> {
        Err(not_implemented("message_of_lead"))
    }
    async fn known_mailbox_keys(&self, source: &str, keys: &[String]) -> Result<HashSet<String>> {
        Err(not_implemented("known_mailbox_keys"))
    }
    async fn imported_mailbox_keys(
        &self,
        source: &str,
        keys: &[String],
    ) -> Result<HashSet<String>> {
        Err(not_implemented("imported_mailbox_keys"))
    }
    async fn imported_mailbox_keys_before(
        &self,
        source: &str,
        before: DateTime<Utc>,
    ) -> Result<HashSet<String>> {
        Err(not_implemented("imported_mailbox_keys_before"))
    }
}
