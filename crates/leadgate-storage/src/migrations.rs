//! What both backends say while they migrate a database.

/// Why a database cannot be opened by this version: it holds migrations this version does not know, so a newer
/// leadgate wrote it. `None` when every applied migration is one of `known`.
pub fn written_by_newer(known: impl IntoIterator<Item = i64>, applied: &[i64]) -> Option<String> {
    let known: Vec<i64> = known.into_iter().collect();
    let newest = applied.iter().filter(|v| !known.contains(v)).max()?;
    Some(format!(
        "the database was written by a newer leadgate (it holds migration {newest}, which this version does not \
         know): run that version or a newer one"
    ))
}

/// Runs `apply` (a backend's embedded migrations, `all` of them as version and description), saying first which
/// ones `applied` lacks and afterwards how long they took; says nothing when none is pending. A migration that
/// rewrites every lead (as the one folding the search texts does) takes minutes at a million leads, and a
/// start waits for it.
///
/// # Errors
/// `apply`'s.
pub async fn apply_migrations<E>(
    all: impl IntoIterator<Item = (i64, String)>,
    applied: &[i64],
    apply: impl Future<Output = Result<(), E>>,
) -> Result<(), E> {
    let pending: Vec<String> = all
        .into_iter()
        .filter(|(version, _)| !applied.contains(version))
        .map(|(version, description)| format!("{version:04} {description}"))
        .collect();
    if pending.is_empty() {
        return apply.await;
    }
    let started = std::time::Instant::now();
    tracing::info!(count = pending.len(), migrations = %pending.join(", "), "applying database migrations");
    apply.await?;
    tracing::info!(
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "database migrations applied"
    );
    Ok(())
}
