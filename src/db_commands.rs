//! `leadgate db backup` and `leadgate db copy`: a live SQLite database copied to a backup file, and a whole
//! database moved from either backend to an empty one of either backend.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::config::Settings;
use leadgate_postgres::PgTransfer;
use leadgate_sqlite::SqliteStorage;
use leadgate_storage::StorageError;
use leadgate_storage::transfer::{
    CopiedTable, CopyError, DatabaseBackup, TableTransfer, copy_database,
};

/// A database opened for a copy or a backup.
pub trait Movable: TableTransfer + DatabaseBackup {}

impl<T: TableTransfer + DatabaseBackup> Movable for T {}

/// Whether the URL names a PostgreSQL database.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// The URL as it may be shown: its password, in the user part or the query, replaced by `***`.
pub fn redacted(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        // Not a URL the parser takes: show the scheme only, as the configuration's Debug does.
        let scheme = url.split("://").next().unwrap_or("?");
        return format!("{scheme}://…");
    };
    let mut hid = false;
    if parsed.password().is_some() {
        hid = true;
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                if k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword") {
                    hid = true;
                    (k.into_owned(), "***".to_owned())
                } else {
                    (k.into_owned(), v.into_owned())
                }
            })
            .collect();
        if hid {
            parsed.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    if !hid {
        return url.to_owned();
    }
    parsed.to_string()
}

/// Opens the database at `url` for a copy or a backup. A SQLite file is made only for a copy's target: a
/// source or a backup's database that does not exist is an error, not an empty database. A PostgreSQL source
/// is never migrated: it must be leadgate's database at this version.
async fn open(url: &str, target: bool) -> anyhow::Result<Arc<dyn Movable>> {
    if url.starts_with("sqlite:") {
        let storage = if target {
            SqliteStorage::connect(url).await
        } else {
            SqliteStorage::connect_existing(url).await
        };
        let storage = storage.with_context(|| format!("opening {}", redacted(url)))?;
        return Ok(Arc::new(storage));
    }
    if is_postgres(url) {
        let storage = if target {
            PgTransfer::connect(url).await
        } else {
            PgTransfer::connect_source(url).await
        };
        let storage = storage.with_context(|| format!("opening {}", redacted(url)))?;
        return Ok(Arc::new(storage));
    }
    anyhow::bail!(
        "{}: unsupported database URL (sqlite://PATH or postgres://USER@HOST:PORT/DATABASE)",
        redacted(url)
    )
}

/// `leadgate db backup FILE`.
pub async fn backup(settings: &Settings, file: &Path) -> anyhow::Result<i32> {
    let url = settings.database.url.as_str();
    if is_postgres(url) {
        eprintln!(
            "leadgate: database.url names a PostgreSQL database; back it up with PostgreSQL's own tools: \
             pg_dump --format=custom --file=leadgate.dump DATABASE (restore with pg_restore into a new \
             database), or move it to a SQLite file with `leadgate db copy --from URL --to sqlite://FILE`"
        );
        return Ok(2);
    }
    let db = open(url, false).await?;
    let written = db.backup_to(file).await;
    db.close().await;
    match written {
        Ok(()) => {
            say!(
                "backup of {} written to {}",
                db.describe(),
                std::path::absolute(file)?.display()
            )?;
            Ok(0)
        }
        Err(StorageError::Conflict(message)) => {
            eprintln!("leadgate: {message}");
            Ok(1)
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("backing up to {}", file.display()))),
    }
}

/// `leadgate db copy --from URL --to URL`.
pub async fn copy(from: &str, to: &str) -> anyhow::Result<i32> {
    let source = open(from, false).await.context("the source")?;
    let target = open(to, true).await.context("the target")?;
    say!("copying {} to {}", source.describe(), target.describe())?;
    let copied = copy_database(source.as_ref(), target.as_ref(), |table| {
        eprintln!("  {} {} row(s)", table.name, table.rows);
    })
    .await;
    source.close().await;
    target.close().await;
    match copied {
        Ok(tables) => {
            print_summary(&tables)?;
            Ok(0)
        }
        Err(e @ (CopyError::TargetNotEmpty { .. } | CopyError::Mismatch { .. })) => {
            eprintln!("leadgate: {e}");
            Ok(1)
        }
        Err(e) => Err(anyhow::Error::new(e).context("copying the database")),
    }
}

fn print_summary(tables: &[CopiedTable]) -> std::io::Result<()> {
    say!(
        "{:<24} {:>10}  {:<16}  VERIFIED",
        "TABLE",
        "ROWS",
        "CHECKSUM"
    )?;
    for t in tables {
        say!(
            "{:<24} {:>10}  {:<16}  yes",
            t.name,
            t.rows,
            &t.checksum[..16.min(t.checksum.len())]
        )?;
    }
    let rows: u64 = tables.iter().map(|t| t.rows).sum();
    say!(
        "copied {} tables, {rows} rows; the target's row counts and checksums equal the source's",
        tables.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redacted("postgres://leadgate:hunter2@db:5432/shop"),
            "postgres://leadgate:***@db:5432/shop"
        );
        assert_eq!(
            redacted("postgres://leadgate@db/shop?password=hunter2&sslmode=require"),
            "postgres://leadgate@db/shop?password=***&sslmode=require"
        );
        assert_eq!(
            redacted("sqlite://data/leadgate.db"),
            "sqlite://data/leadgate.db"
        );
        assert!(!redacted("postgres://u:hunter2@[bad").contains("hunter2"));
    }
}
