//! The storage contract suite run against both backends: SQLite, each case on a fresh database file in a
//! temporary directory (a file, not `:memory:`, so the job lock is the one `serve` uses), and PostgreSQL,
//! each case in a fresh database on the test server (`LEADGATE_TEST_POSTGRES_URL`), dropped afterwards.
#![allow(clippy::unwrap_used, missing_docs)]

use leadgate::storage::sqlite::SqliteStorage;

/// A fresh SQLite database that lives as long as this value.
struct FreshSqlite {
    storage: SqliteStorage,
    _dir: tempfile::TempDir,
}

impl FreshSqlite {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("leadgate.db").display());
        let storage = SqliteStorage::connect(&url).await.unwrap();
        Self { storage, _dir: dir }
    }
}

impl std::ops::Deref for FreshSqlite {
    type Target = SqliteStorage;

    fn deref(&self) -> &SqliteStorage {
        &self.storage
    }
}

mod sqlite {
    use super::FreshSqlite;

    leadgate::storage_contract_suite!(|| async { FreshSqlite::new().await });
}

mod postgres {
    use leadgate::storage::postgres::testing::FreshPg;

    leadgate::storage_contract_suite!(|| async { FreshPg::new().await });
}
