//! The storage contract's cases about several instances on one database, run against each backend: two
//! backends opened separately on one fresh database, as two `serve` processes (or `serve` and `collect`)
//! open it.
#![allow(clippy::unwrap_used, missing_docs)]

mod sqlite {
    use leadgate_sqlite::SqliteStorage;

    /// Two instances on one fresh SQLite file; the directory lives as long as the first.
    struct Instance {
        storage: SqliteStorage,
        _dir: std::sync::Arc<tempfile::TempDir>,
    }

    impl std::ops::Deref for Instance {
        type Target = SqliteStorage;

        fn deref(&self) -> &SqliteStorage {
            &self.storage
        }
    }

    async fn two_instances() -> (Instance, Instance) {
        let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let url = format!("sqlite://{}", dir.path().join("leadgate.db").display());
        let a = SqliteStorage::connect(&url).await.unwrap();
        let b = SqliteStorage::connect(&url).await.unwrap();
        (
            Instance {
                storage: a,
                _dir: dir.clone(),
            },
            Instance {
                storage: b,
                _dir: dir,
            },
        )
    }

    leadgate_storage::storage_contract_instances_suite!(two_instances);
}

mod postgres {
    use leadgate_postgres::PgStorage;
    use leadgate_postgres::testing::FreshPg;

    /// Two instances (two pools) on one fresh PostgreSQL database, dropped with the first.
    async fn two_instances() -> (FreshPg, Box<PgStorage>) {
        let first = FreshPg::new().await;
        let second = PgStorage::connect(first.url()).await.unwrap();
        (first, Box::new(second))
    }

    leadgate_storage::storage_contract_instances_suite!(two_instances);
}
