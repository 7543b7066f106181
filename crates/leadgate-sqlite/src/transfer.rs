//! The SQLite side of [`TableTransfer`] (`leadgate db copy`) and [`DatabaseBackup`] (`leadgate db backup`).
//!
//! A copy reads through one deferred transaction on a reader connection, which in WAL mode is a snapshot
//! that writers do not disturb, and loads through one `BEGIN IMMEDIATE` transaction on the writer. Flags
//! are stored as 0 and 1, times as milliseconds: they read into the neutral values as they are. The
//! counterparty search index (FTS5) is kept by its triggers as counterparties are inserted and rebuilt once
//! more at the end; the lead search's index is written at the end, as the intake writes it. Neither index nor
//! the migration bookkeeping is among the tables listed.
//!
//! A backup is `VACUUM INTO` a new file: a consistent copy of one moment of the database, made on a reader
//! connection while the writer goes on committing.

use std::path::Path;

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row as _, Sqlite, Transaction};

use super::{Edge, Error, SqliteStorage, create_private_file};
use leadgate_storage::transfer::{
    ColumnKind, DatabaseBackup, Row, StoredTable, Table, TableSession, TableTransfer, Value,
};
use leadgate_storage::{Result, StorageError};

/// A table or column name from the catalog, quoted.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn column_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|c| quoted(c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl TableTransfer for SqliteStorage {
    fn describe(&self) -> String {
        match &self.lock_dir {
            Some(dir) => format!("SQLite {}", dir.join(&self.lock_stem).display()),
            None => "SQLite in memory".to_owned(),
        }
    }

    async fn close(&self) {
        SqliteStorage::close(self).await;
    }

    async fn stored_tables(&self) -> Result<Vec<StoredTable>> {
        // Ordinary tables only: the FTS5 index is a virtual table and its storage "shadow" tables.
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM pragma_table_list
             WHERE schema = 'main' AND type = 'table'
               AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '_sqlx_migrations'
             ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .edge()?;
        let mut tables = Vec::with_capacity(names.len());
        for name in names {
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                    .bind(&name)
                    .fetch_all(&self.pool)
                    .await
                    .edge()?;
            tables.push(StoredTable { name, columns });
        }
        Ok(tables)
    }

    async fn read_snapshot(&self) -> Result<Box<dyn TableSession>> {
        let tx = self.pool.begin().await.edge()?;
        Ok(Box::new(SqliteSession { tx }))
    }

    async fn begin_load(&self) -> Result<Box<dyn TableSession>> {
        let tx = self.writer.begin_with("BEGIN IMMEDIATE").await.edge()?;
        Ok(Box::new(SqliteSession { tx }))
    }
}

/// A copy's transaction on SQLite.
struct SqliteSession {
    tx: Transaction<'static, Sqlite>,
}

fn read_value(row: &sqlx::sqlite::SqliteRow, i: usize, kind: ColumnKind) -> Result<Value, Error> {
    Ok(match kind {
        ColumnKind::Int | ColumnKind::Time => row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
        ColumnKind::Bool => row
            .try_get::<Option<i64>, _>(i)?
            .map(|v| Value::Bool(v != 0)),
        ColumnKind::Text | ColumnKind::Decimal | ColumnKind::Json => {
            row.try_get::<Option<String>, _>(i)?.map(Value::Text)
        }
        ColumnKind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Bytes),
    }
    .unwrap_or(Value::Null))
}

#[async_trait]
impl TableSession for SqliteSession {
    async fn count_rows(&mut self, table: &Table) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}",
            quoted(table.name)
        )))
        .fetch_one(&mut *self.tx)
        .await
        .edge()?;
        Ok(super::count(n))
    }

    async fn read_page(
        &mut self,
        table: &Table,
        after: Option<&[Value]>,
        limit: u32,
    ) -> Result<Vec<Row>> {
        let key: Vec<String> = table.key.iter().map(|k| quoted(k)).collect();
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {} FROM {}",
            column_list(table),
            quoted(table.name)
        ));
        if let Some(after) = after {
            q.push(format!(" WHERE ({}) > (", key.join(", ")));
            let mut values = q.separated(", ");
            for value in after {
                match value {
                    Value::Int(v) => values.push_bind(*v),
                    Value::Bool(v) => values.push_bind(i64::from(*v)),
                    Value::Text(v) => values.push_bind(v.as_str()),
                    Value::Bytes(v) => values.push_bind(v.as_slice()),
                    Value::Null => values.push_bind(Option::<i64>::None),
                };
            }
            q.push(")");
        }
        q.push(format!(" ORDER BY {} LIMIT ", key.join(", ")))
            .push_bind(i64::from(limit));
        let rows = q.build().fetch_all(&mut *self.tx).await.edge()?;
        rows.iter()
            .map(|row| {
                table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        read_value(row, i, c.kind).map_err(|e| {
                            StorageError::backend(format!("{}.{}: {e}", table.name, c.name))
                        })
                    })
                    .collect()
            })
            .collect()
    }

    async fn clear(&mut self, table: &Table) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {}",
            quoted(table.name)
        )))
        .execute(&mut *self.tx)
        .await
        .edge()?;
        Ok(())
    }

    async fn write_rows(&mut self, table: &Table, rows: &[Row]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "INSERT INTO {} ({}) ",
            quoted(table.name),
            column_list(table)
        ));
        q.push_values(rows, |mut b, row| {
            for value in row {
                match value {
                    Value::Null => b.push_bind(Option::<i64>::None),
                    Value::Int(v) => b.push_bind(*v),
                    Value::Bool(v) => b.push_bind(i64::from(*v)),
                    Value::Text(v) => b.push_bind(v.as_str()),
                    Value::Bytes(v) => b.push_bind(v.as_slice()),
                };
            }
        });
        q.build()
            .execute(&mut *self.tx)
            .await
            .map_err(|e| StorageError::backend(format!("writing {}: {e}", table.name)))?;
        Ok(())
    }

    async fn finish_load(&mut self) -> Result<()> {
        sqlx::query("INSERT INTO counterparties_fts (counterparties_fts) VALUES ('rebuild')")
            .execute(&mut *self.tx)
            .await
            .edge()?;
        // The lead search's keys, as the intake writes them, a page of leads at a time.
        let mut after = 0_i64;
        loop {
            let page: Vec<(i64, i64, String)> = sqlx::query_as(
                "SELECT id, calendar_id, search_text FROM leads WHERE id > $1 ORDER BY id LIMIT 1000",
            )
            .bind(after)
            .fetch_all(&mut *self.tx)
            .await
            .edge()?;
            let Some(&(last, _, _)) = page.last() else {
                return Ok(());
            };
            let keyed: Vec<(i64, i64, &str)> = page
                .iter()
                .map(|(id, calendar, text)| (*id, *calendar, text.as_str()))
                .collect();
            super::write::index_search_keys(&mut self.tx, &keyed)
                .await
                .edge()?;
            after = last;
        }
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await.edge()
    }
}

#[async_trait]
impl DatabaseBackup for SqliteStorage {
    async fn backup_to(&self, path: &Path) -> Result<()> {
        let path = std::path::absolute(path).edge()?;
        if path.exists() {
            return Err(StorageError::Conflict(format!(
                "{} exists; a backup is written to a new file",
                path.display()
            )));
        }
        if let Some(dir) = path.parent().filter(|dir| !dir.is_dir()) {
            return Err(StorageError::Conflict(format!(
                "the directory {} does not exist; a backup is written into an existing directory",
                dir.display()
            )));
        }
        let file_name = path
            .file_name()
            .ok_or_else(|| StorageError::backend(format!("{} names no file", path.display())))?;
        // Written beside the target under another name, then renamed: FILE appears whole or not at all.
        let partial = path.with_file_name(format!(
            ".{}.partial-{}",
            file_name.to_string_lossy(),
            std::process::id()
        ));
        let partial_text = partial
            .to_str()
            .ok_or_else(|| StorageError::backend("the backup's path is not UTF-8"))?
            .to_owned();
        // SQLite writes into an empty file; made first, it is readable only by its owner, like the database.
        let _ = std::fs::remove_file(&partial);
        create_private_file(&partial).edge()?;
        let written = async {
            sqlx::query("VACUUM INTO $1")
                .bind(&partial_text)
                .execute(&self.pool)
                .await?;
            std::fs::File::open(&partial)?.sync_all()?;
            if path.exists() {
                return Err(Error::Conflict(format!(
                    "{} exists; a backup is written to a new file",
                    path.display()
                )));
            }
            std::fs::rename(&partial, &path)?;
            if let Some(dir) = path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok::<_, Error>(())
        }
        .await;
        if written.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        written.edge()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use leadgate_storage::transfer::{DERIVED_TABLES, TABLES};

    /// The catalog is the migrated schema: every table with exactly its columns, so a migration that adds a
    /// table or a column fails here until the copy carries it too.
    #[tokio::test]
    async fn the_copy_catalog_is_the_sqlite_schema() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("schema.db").display());
        let storage = SqliteStorage::connect(&url).await.unwrap();
        let stored = storage.stored_tables().await.unwrap();
        let mut stored_names: Vec<_> = stored.iter().map(|t| t.name.clone()).collect();
        stored_names.sort();
        // The tables the backend derives itself are rebuilt by a copy, not copied.
        let mut catalog_names: Vec<_> = TABLES
            .iter()
            .map(|t| t.name)
            .chain(DERIVED_TABLES.iter().copied())
            .map(str::to_owned)
            .collect();
        catalog_names.sort();
        assert_eq!(stored_names, catalog_names);
        for table in TABLES {
            let found = stored.iter().find(|t| t.name == table.name).unwrap();
            let mut columns = found.columns.clone();
            columns.sort();
            let mut catalog: Vec<_> = table.columns.iter().map(|c| c.name.to_owned()).collect();
            catalog.sort();
            assert_eq!(columns, catalog, "{}", table.name);
        }
    }
}
