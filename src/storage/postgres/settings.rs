//! Settings changed in the UI in PostgreSQL: not implemented yet; every method fails with a backend error saying so.

#![allow(unused_variables)]

use std::collections::HashMap;

use async_trait::async_trait;

use super::PgStorage;
use crate::storage::*;

fn not_implemented(method: &str) -> StorageError {
    StorageError::backend(format!(
        "SettingsStore::{method} is not implemented yet on PostgreSQL"
    ))
}

#[async_trait]
impl SettingsStore for PgStorage {
    async fn stored_settings(&self) -> Result<HashMap<String, String>> {
        Err(not_implemented("stored_settings"))
    }
    async fn save_settings(&self, values: &[(&str, Option<&str>)], by: Option<i64>) -> Result<()> {
        Err(not_implemented("save_settings"))
    }
}
