//! Changes managers make to counterparties in PostgreSQL: not implemented yet; every method fails with a backend error saying so.

#![allow(unused_variables)]

use async_trait::async_trait;

use super::PgStorage;
use crate::storage::*;

fn not_implemented(method: &str) -> StorageError {
    StorageError::backend(format!(
        "CounterpartyEdits::{method} is not implemented yet on PostgreSQL"
    ))
}

#[async_trait]
impl CounterpartyEdits for PgStorage {
    async fn rename_counterparty(&self, id: i64, name: &str) -> Result<bool> {
        Err(not_implemented("rename_counterparty"))
    }
    async fn add_counterparty_contact(
        &self,
        id: i64,
        contact: &CounterpartyContact,
        entered_by: i64,
    ) -> Result<bool> {
        Err(not_implemented("add_counterparty_contact"))
    }
    async fn remove_counterparty_contact(
        &self,
        id: i64,
        contact: &CounterpartyContact,
    ) -> Result<bool> {
        Err(not_implemented("remove_counterparty_contact"))
    }
    async fn counterparties_by_contact(
        &self,
        phone_e164: Option<&str>,
        email: Option<&str>,
        limit: u32,
    ) -> Result<Vec<i64>> {
        Err(not_implemented("counterparties_by_contact"))
    }
    async fn link_lead_to_counterparty(
        &self,
        lead_id: i64,
        counterparty_id: i64,
    ) -> Result<LinkOutcome> {
        Err(not_implemented("link_lead_to_counterparty"))
    }
}
