//! What both backends say while they migrate a database.

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
