//! Settings an administrator changes in the UI: the default calendar for site data, and the mail collector
//! job's schedule and on/off switch.
//!
//! One truth per value: a key the configuration sets (in the file, or by an environment override) is the
//! configuration's, and the UI shows it read-only as "задано в файле настроек"; a key the configuration
//! leaves out takes the value stored from the UI, else the built-in default. The scheduler follows the
//! result: saving a schedule hands it to the running job ([`crate::jobs::MailCollectorJob::set_schedule`]),
//! so no restart is needed.

use chrono::Utc;
use chrono_tz::Tz;
use croner::Cron;

use crate::config::Settings;
use leadgate_storage::{Storage, StorageError};

/// Settings key of the default calendar (a calendar id).
pub const DEFAULT_CALENDAR: &str = "default_calendar";
/// Settings key of the mail collector job's cron expression.
pub const MAIL_COLLECTOR_CRON: &str = "schedule.mail_collector.cron";
/// Settings key of the mail collector job's switch (`true` or `false`).
pub const MAIL_COLLECTOR_ENABLED: &str = "schedule.mail_collector.enabled";

/// Where a value in force comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The configuration sets it: read-only in the UI.
    File,
    /// An administrator set it in the UI.
    Ui,
    /// Nobody set it: the built-in default.
    Default,
}

impl Origin {
    /// Whether the UI may change it.
    pub fn is_editable(self) -> bool {
        self != Origin::File
    }
}

/// A value in force and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valued<T> {
    /// The value.
    pub value: T,
    /// Its origin.
    pub origin: Origin,
}

/// The default calendar in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultCalendar {
    /// Its id; `None` only when the configured calendar is missing from the database.
    pub id: Option<i64>,
    /// Its name.
    pub name: String,
}

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    /// The calendar for site data whose collector or source names none.
    pub default_calendar: Valued<DefaultCalendar>,
    /// The mail collector job's cron expression.
    pub mail_collector_cron: Valued<String>,
    /// Whether the mail collector job runs on its schedule.
    pub mail_collector_enabled: Valued<bool>,
}

/// Why a schedule cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The expression does not parse.
    #[error("the cron expression {pattern:?} is not valid: {reason}")]
    Invalid {
        /// The expression.
        pattern: String,
        /// The parser's reason.
        reason: String,
    },
    /// It parses but never falls due (the 30th of February).
    #[error("the cron expression {0:?} never falls due")]
    Never(String),
}

/// Parses a schedule and checks that it falls due at least once more: 6 fields (with seconds) or 5.
///
/// # Errors
/// A malformed expression, or one that never falls due.
pub fn parse_schedule(pattern: &str, tz: Tz) -> Result<Cron, ScheduleError> {
    let pattern = pattern.trim();
    let cron = crate::config::parse_cron(pattern).map_err(|e| ScheduleError::Invalid {
        pattern: pattern.to_owned(),
        reason: e.to_string(),
    })?;
    cron.find_next_occurrence(&Utc::now().with_timezone(&tz), false)
        .map_err(|_| ScheduleError::Never(pattern.to_owned()))?;
    Ok(cron)
}

impl Effective {
    /// The cron the job follows, or `None` when it is switched off.
    ///
    /// # Errors
    /// The expression in force cannot be used (one in the configuration file; one saved from the UI was
    /// checked before it was saved).
    pub fn schedule(&self, tz: Tz) -> Result<Option<Cron>, ScheduleError> {
        if !self.mail_collector_enabled.value {
            return Ok(None);
        }
        parse_schedule(&self.mail_collector_cron.value, tz).map(Some)
    }
}

/// Reads the settings in force: the configuration's keys, else the stored ones, else the defaults.
///
/// # Errors
/// Database errors.
pub async fn load(storage: &dyn Storage, settings: &Settings) -> Result<Effective, StorageError> {
    let stored = storage.stored_settings().await?;
    let calendars = storage.calendars().await?;
    let files = settings.from_file;
    let by_name = |name: &str| DefaultCalendar {
        id: calendars.iter().find(|c| c.name == name).map(|c| c.id),
        name: name.to_owned(),
    };
    let stored_calendar = stored
        .get(DEFAULT_CALENDAR)
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|id| calendars.iter().find(|c| c.id == id));
    let default_calendar = match (files.default_calendar, stored_calendar) {
        (true, _) => Valued {
            value: by_name(&settings.default_calendar),
            origin: Origin::File,
        },
        (false, Some(c)) => Valued {
            value: DefaultCalendar {
                id: Some(c.id),
                name: c.name.clone(),
            },
            origin: Origin::Ui,
        },
        (false, None) => Valued {
            value: by_name(&settings.default_calendar),
            origin: Origin::Default,
        },
    };
    let schedule = &settings.schedule.mail_collector;
    let mail_collector_cron = pick(
        files.mail_collector_cron,
        stored.get(MAIL_COLLECTOR_CRON).cloned(),
        schedule.cron.clone(),
    );
    let mail_collector_enabled = pick(
        files.mail_collector_enabled,
        stored
            .get(MAIL_COLLECTOR_ENABLED)
            .and_then(|v| v.parse::<bool>().ok()),
        schedule.enabled,
    );
    Ok(Effective {
        default_calendar,
        mail_collector_cron,
        mail_collector_enabled,
    })
}

/// The configuration's value when it sets the key, else the stored one, else the configuration's default.
fn pick<T>(from_file: bool, stored: Option<T>, configured: T) -> Valued<T> {
    match (from_file, stored) {
        (true, _) => Valued {
            value: configured,
            origin: Origin::File,
        },
        (false, Some(value)) => Valued {
            value,
            origin: Origin::Ui,
        },
        (false, None) => Valued {
            value: configured,
            origin: Origin::Default,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_file_wins_over_the_ui_and_the_ui_over_the_default() {
        assert_eq!(pick(true, Some(1), 2).origin, Origin::File);
        assert_eq!(pick(true, Some(1), 2).value, 2);
        assert_eq!(pick(false, Some(1), 2).value, 1);
        assert_eq!(pick(false, Some(1), 2).origin, Origin::Ui);
        assert_eq!(pick(false, None, 2).origin, Origin::Default);
    }

    #[test]
    fn a_schedule_that_never_falls_due_or_does_not_parse_is_refused() {
        let tz = chrono_tz::Europe::Moscow;
        assert!(parse_schedule("*/5 * * * *", tz).is_ok());
        assert!(parse_schedule("0 */5 * * * *", tz).is_ok());
        assert!(matches!(
            parse_schedule("every five minutes", tz),
            Err(ScheduleError::Invalid { .. })
        ));
        assert!(matches!(
            parse_schedule("0 0 30 2 *", tz),
            Err(ScheduleError::Never(_)) | Err(ScheduleError::Invalid { .. })
        ));
    }
}
