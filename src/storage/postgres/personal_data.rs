//! Personal data in PostgreSQL.

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
        "PersonalData::{method} is not implemented yet on PostgreSQL"
    ))
}

#[async_trait]
impl PersonalData for PgStorage {
    async fn find_personal_data(
        &self,
        query: &PersonDataQuery,
        mentioned: &[i64],
    ) -> Result<PersonalDataFound> {
        Err(not_implemented("find_personal_data"))
    }
    async fn erase_personal_data(
        &self,
        query: &PersonDataQuery,
        mentioned: &[i64],
        actor: &ErasureActor,
    ) -> Result<ErasureRecord> {
        Err(not_implemented("erase_personal_data"))
    }
    async fn personal_data_erasures(&self, limit: u32) -> Result<Vec<ErasureRecord>> {
        Err(not_implemented("personal_data_erasures"))
    }
}
