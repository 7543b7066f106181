//! Settings an administrator changes in the UI, kept as keys and text values. What the keys mean, and that
//! the configuration file's value wins, is the application's business (its `admin_settings` module).

use std::collections::HashMap;

use async_trait::async_trait;

use super::Result;

/// The settings table.
#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// Every stored setting, by key.
    ///
    /// # Errors
    /// Database errors.
    async fn stored_settings(&self) -> Result<HashMap<String, String>>;

    /// Stores these values (`None` removes the key, so the default applies again) in one transaction,
    /// recording who changed them.
    ///
    /// # Errors
    /// Database errors; nothing is changed then.
    async fn save_settings(&self, values: &[(&str, Option<&str>)], by: Option<i64>) -> Result<()>;
}
