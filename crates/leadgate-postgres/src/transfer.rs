//! The PostgreSQL side of [`TableTransfer`] (`leadgate db copy`) and [`DatabaseBackup`], which points to
//! `pg_dump`: [`PgTransfer`], a small pool of its own beside a migrated [`PgStorage`].
//!
//! A copy reads through one `REPEATABLE READ READ ONLY` transaction, a snapshot that writers do not
//! disturb, and loads through one transaction. Every column is read cast to the neutral kind's type (flags
//! as `boolean`, times and ids as `bigint`, text, decimals and JSON as `text`, bytes as `bytea`), so the
//! neutral values do not depend on how a column is declared. Text keys are ordered `COLLATE "C"`, byte-wise,
//! as SQLite orders them. After the load the identity sequences are moved past the copied ids. The search
//! indexes are expression indexes PostgreSQL keeps by itself, and `leads.search_keys` a column its trigger
//! fills for rows written without it (migration 0017); neither is listed, nor is the migration bookkeeping.

use std::path::Path;

use async_trait::async_trait;
use sqlx::Connection as _;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, QueryBuilder, Row as _, Transaction};

use crate::{PgStorage, Target};
use leadgate_storage::transfer::{
    ColumnKind, DatabaseBackup, Row, StoredTable, Table, TableSession, TableTransfer, Value,
};
use leadgate_storage::{Result, StorageError};

/// A table or column name from the catalog, quoted.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A column read as its neutral kind's type.
fn selected(name: &str, kind: ColumnKind) -> String {
    let cast = match kind {
        ColumnKind::Int | ColumnKind::Time => "bigint",
        ColumnKind::Bool => "boolean",
        ColumnKind::Text | ColumnKind::Decimal | ColumnKind::Json => "text",
        ColumnKind::Bytes => "bytea",
    };
    format!("{}::{cast}", quoted(name))
}

/// A key column as ordered and compared: text byte-wise.
fn key_expr(table: &Table, name: &str) -> String {
    let text = table
        .columns
        .iter()
        .any(|c| c.name == name && matches!(c.kind, ColumnKind::Text));
    if text {
        format!("{} COLLATE \"C\"", quoted(name))
    } else {
        quoted(name)
    }
}

/// A PostgreSQL database opened for a copy.
#[derive(Debug)]
pub struct PgTransfer {
    pool: PgPool,
    target: Target,
}

impl PgTransfer {
    /// Opens the database at `url` as [`PgStorage::connect`] does (migrating it, one clear error naming the
    /// server and the database, never the password, when it cannot), with two connections for the copy.
    ///
    /// # Errors
    /// See [`PgStorage::connect`].
    pub async fn connect(url: &str) -> Result<Self> {
        let storage = PgStorage::connect(url).await?;
        storage.close().await;
        let (options, target) = crate::parse_url(url)?;
        Self::pool(options, target).await
    }

    /// Opens the database at `url` to be read whole (the source of a copy): never migrated, and refused unless
    /// it is leadgate's at this version, so a mistyped URL naming another database is an error that changes
    /// nothing there.
    ///
    /// # Errors
    /// As [`PgTransfer::connect`], and an error naming the database when it is not leadgate's at this version.
    pub async fn connect_source(url: &str) -> Result<Self> {
        let (options, target) = crate::parse_url(url)?;
        let mut first = sqlx::PgConnection::connect_with(&options)
            .await
            .map_err(|e| crate::connect_error(&target, e))?;
        let checked = crate::ensure_current_schema(&mut first, &target).await;
        let _ = first.close().await;
        checked?;
        Self::pool(options, target).await
    }

    /// Two connections to the database, for the copy's reads or its load.
    async fn pool(options: sqlx::postgres::PgConnectOptions, target: Target) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options.application_name("leadgate db copy"))
            .await
            .map_err(|e| {
                StorageError::Unavailable(format!("cannot connect to {target}: {e}").into())
            })?;
        Ok(Self { pool, target })
    }
}

/// A driver error at the edge of this module.
trait Edge<T> {
    fn edge(self) -> Result<T>;
}

impl<T> Edge<T> for std::result::Result<T, sqlx::Error> {
    fn edge(self) -> Result<T> {
        self.map_err(StorageError::backend)
    }
}

#[async_trait]
impl TableTransfer for PgTransfer {
    fn describe(&self) -> String {
        self.target.to_string()
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn stored_tables(&self) -> Result<Vec<StoredTable>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.table_name::text, c.column_name::text
             FROM information_schema.columns c
             JOIN information_schema.tables t
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
               AND c.is_generated = 'NEVER' AND c.table_name <> '_sqlx_migrations'
               AND (c.table_name, c.column_name) <> ('leads', 'search_keys')
             ORDER BY c.table_name, c.ordinal_position",
        )
        .fetch_all(&self.pool)
        .await
        .edge()?;
        let mut tables: Vec<StoredTable> = Vec::new();
        for (table, column) in rows {
            match tables.last_mut() {
                Some(last) if last.name == table => last.columns.push(column),
                _ => tables.push(StoredTable {
                    name: table,
                    columns: vec![column],
                }),
            }
        }
        Ok(tables)
    }

    async fn read_snapshot(&self) -> Result<Box<dyn TableSession>> {
        let tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .edge()?;
        Ok(Box::new(PgSession { tx }))
    }

    async fn begin_load(&self) -> Result<Box<dyn TableSession>> {
        let tx = self.pool.begin().await.edge()?;
        Ok(Box::new(PgSession { tx }))
    }
}

/// A copy's transaction on PostgreSQL.
struct PgSession {
    tx: Transaction<'static, Postgres>,
}

fn read_value(
    row: &sqlx::postgres::PgRow,
    i: usize,
    kind: ColumnKind,
) -> std::result::Result<Value, sqlx::Error> {
    Ok(match kind {
        ColumnKind::Int | ColumnKind::Time => row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
        ColumnKind::Bool => row.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
        ColumnKind::Text | ColumnKind::Decimal | ColumnKind::Json => {
            row.try_get::<Option<String>, _>(i)?.map(Value::Text)
        }
        ColumnKind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Bytes),
    }
    .unwrap_or(Value::Null))
}

/// Binds a value of a column of `kind` (a NULL typed as the column is, so PostgreSQL takes it).
fn bind(
    b: &mut sqlx::query_builder::Separated<'_, Postgres, &'static str>,
    kind: ColumnKind,
    value: &Value,
) {
    match (value, kind) {
        (Value::Null, ColumnKind::Int | ColumnKind::Time) => b.push_bind(Option::<i64>::None),
        (Value::Null, ColumnKind::Bool) => b.push_bind(Option::<bool>::None),
        (Value::Null, ColumnKind::Bytes) => b.push_bind(Option::<Vec<u8>>::None),
        (Value::Null, _) => b.push_bind(Option::<String>::None),
        (Value::Int(v), ColumnKind::Bool) => b.push_bind(*v != 0),
        (Value::Int(v), _) => b.push_bind(*v),
        (Value::Bool(v), ColumnKind::Int) => b.push_bind(i64::from(*v)),
        (Value::Bool(v), _) => b.push_bind(*v),
        (Value::Text(v), _) => b.push_bind(v.as_str()),
        (Value::Bytes(v), _) => b.push_bind(v.as_slice()),
    };
}

#[async_trait]
impl TableSession for PgSession {
    async fn count_rows(&mut self, table: &Table) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}",
            quoted(table.name)
        )))
        .fetch_one(&mut *self.tx)
        .await
        .edge()?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn read_page(
        &mut self,
        table: &Table,
        after: Option<&[Value]>,
        limit: u32,
    ) -> Result<Vec<Row>> {
        let columns: Vec<String> = table
            .columns
            .iter()
            .map(|c| selected(c.name, c.kind))
            .collect();
        let key: Vec<String> = table.key.iter().map(|k| key_expr(table, k)).collect();
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {} FROM {}",
            columns.join(", "),
            quoted(table.name)
        ));
        if let Some(after) = after {
            q.push(format!(" WHERE ({}) > (", key.join(", ")));
            let mut values = q.separated(", ");
            for (value, kind) in after.iter().zip(table.key_kinds()) {
                bind(&mut values, kind, value);
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
        let columns: Vec<String> = table.columns.iter().map(|c| quoted(c.name)).collect();
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "INSERT INTO {} ({}) ",
            quoted(table.name),
            columns.join(", ")
        ));
        q.push_values(rows, |mut b, row| {
            for (value, column) in row.iter().zip(table.columns) {
                bind(&mut b, column.kind, value);
            }
        });
        q.build()
            .execute(&mut *self.tx)
            .await
            .map_err(|e| StorageError::backend(format!("writing {}: {e}", table.name)))?;
        Ok(())
    }

    async fn finish_load(&mut self) -> Result<()> {
        // Each identity column's sequence continues after the largest copied id.
        for table in leadgate_storage::transfer::TABLES {
            if table.key != ["id"] {
                continue;
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT setval(s::regclass, COALESCE((SELECT MAX(\"id\") FROM {t}), 0) + 1, false)
                 FROM pg_get_serial_sequence($1, 'id') AS s WHERE s IS NOT NULL",
                t = quoted(table.name)
            )))
            .bind(quoted(table.name))
            .execute(&mut *self.tx)
            .await
            .edge()?;
        }
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await.edge()
    }
}

#[async_trait]
impl DatabaseBackup for PgTransfer {
    async fn backup_to(&self, _path: &Path) -> Result<()> {
        Err(StorageError::backend(format!(
            "{} is backed up with pg_dump (for example pg_dump --format=custom), not by leadgate",
            self.target
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use leadgate_storage::transfer::{DERIVED_TABLES, TABLES};

    /// The catalog is the migrated PostgreSQL schema: every table with exactly its stored columns.
    #[tokio::test]
    async fn the_copy_catalog_is_the_postgresql_schema() {
        let pg = crate::testing::FreshPg::new().await;
        let db = PgTransfer::connect(pg.url()).await.unwrap();
        let stored = db.stored_tables().await.unwrap();
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
        db.pool.close().await;
    }
}
