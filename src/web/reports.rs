//! The reports page: for a period, grouping and filters, each report as a chart drawn on the server (plain
//! SVG in the page, so it needs no script and prints as it shows) with its numbers in a table below, and each
//! table as a CSV download; and the inbox's current filter as CSV (every filter the inbox has, its assignee and
//! overdue follow-ups among them).
//!
//! A manager's reports count only the calendars the manager may see (the inbox's rule); the quarantine and
//! collector health report is for administrators.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use leadgate_domain::days::local_midnight;
use rust_decimal::prelude::ToPrimitive;
use tracing::instrument;

use super::inbox::{Choice, InboxParams};
use super::session::{Viewer, calendar_scope, visible_calendars};
use super::{Layout, fmt, timezone};
use crate::app::reports::{
    self, Grouping, HealthReport, LeadsReport, OrdersReport, OutcomesReport, ReportParams,
    Resolved, ResponseReport, SERIES, csv_response,
};
use crate::app::{ApiError, AppState};
use leadgate_domain::lead::{Channel, LeadKind, LeadStatus};
use leadgate_storage::{LeadFilter, LeadView, PageRequest, Storage};

/// Colours of the series, in order; readable in grey when printed (they differ in lightness).
const PALETTE: &[&str] = &[
    "#1d4ed8", "#f59e0b", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#65a30d", "#db2777",
    "#475569", "#ea580c",
];

/// The drawing area of every chart, in SVG units.
const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 40.0;

/// A bar: a rectangle with its value as a tooltip.
#[derive(Debug, Clone)]
pub struct Bar {
    x: String,
    y: String,
    w: String,
    h: String,
    fill: &'static str,
    title: String,
}

/// A text label at a point.
#[derive(Debug, Clone)]
pub struct Label {
    x: String,
    y: String,
    text: String,
}

/// A legend entry.
#[derive(Debug, Clone)]
pub struct Legend {
    fill: &'static str,
    label: String,
}

/// A bar chart ready to draw.
#[derive(Debug, Clone)]
pub struct Chart {
    id: &'static str,
    title: String,
    bars: Vec<Bar>,
    x_labels: Vec<Label>,
    y_labels: Vec<Label>,
    grid: Vec<String>,
    legend: Vec<Legend>,
    empty: bool,
}

/// A coordinate to a tenth of a pixel. Written from whole tenths: a year by day draws thousands of bars, and
/// formatting a float to a fixed precision is its slow path.
fn n(v: f64) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let tenths = (v * 10.0).round() as i64;
    let sign = if tenths < 0 { "-" } else { "" };
    let tenths = tenths.unsigned_abs();
    format!("{sign}{}.{}", tenths / 10, tenths % 10)
}

/// A "nice" top of the scale for `max`: 1, 2 or 5 times a power of ten.
fn nice_top(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let pow = 10f64.powf(max.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * pow >= max {
            return m * pow;
        }
    }
    10.0 * pow
}

/// Draws `series` (name, values per category) over `categories`, stacked or side by side.
fn chart(
    id: &'static str,
    title: &str,
    categories: &[String],
    series: &[(String, Vec<f64>)],
    stacked: bool,
    unit: &str,
) -> Chart {
    let count = categories.len().max(1);
    #[allow(clippy::cast_precision_loss)]
    let slot = (WIDTH - LEFT - RIGHT) / count as f64;
    let totals: Vec<f64> = (0..categories.len())
        .map(|i| {
            let values = series.iter().map(|(_, v)| v.get(i).copied().unwrap_or(0.0));
            if stacked {
                values.sum()
            } else {
                values.fold(0.0, f64::max)
            }
        })
        .collect();
    let max = totals.iter().copied().fold(0.0, f64::max);
    // Four equal steps of a round size (1, 2 or 5 times a power of ten) up to the top.
    let top = nice_top(max / 4.0) * 4.0;
    let plot = HEIGHT - TOP - BOTTOM;
    let scale = |v: f64| v / top * plot;
    let mut bars = Vec::new();
    let bar_w = (slot * 0.8).max(1.0);
    #[allow(clippy::cast_precision_loss)]
    let side_w = bar_w / series.len().max(1) as f64;
    for (i, category) in categories.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x0 = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let mut base = 0.0;
        for (k, (name, values)) in series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let h = scale(v);
            let (x, w, y) = if stacked {
                base += h;
                (x0, bar_w, HEIGHT - BOTTOM - base)
            } else {
                #[allow(clippy::cast_precision_loss)]
                let x = x0 + side_w * k as f64;
                (x, side_w, HEIGHT - BOTTOM - h)
            };
            bars.push(Bar {
                x: n(x),
                y: n(y),
                w: n(w),
                h: n(h),
                fill: PALETTE.get(k % PALETTE.len()).copied().unwrap_or("#000"),
                title: format!("{category}: {name} — {}{unit}", fmt_value(v)),
            });
        }
    }
    // At most about twelve category labels, evenly spread.
    let every = count.div_ceil(12).max(1);
    let x_labels = categories
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, c)| {
            #[allow(clippy::cast_precision_loss)]
            let x = LEFT + slot * (i as f64 + 0.5);
            Label {
                x: n(x),
                y: n(HEIGHT - BOTTOM + 16.0),
                text: c.clone(),
            }
        })
        .collect();
    let mut y_labels = Vec::new();
    let mut grid = Vec::new();
    for step in 0..=4_i32 {
        let v = top * f64::from(step) / 4.0;
        let y = HEIGHT - BOTTOM - scale(v);
        y_labels.push(Label {
            x: n(LEFT - 6.0),
            y: n(y + 4.0),
            text: fmt_value(v),
        });
        grid.push(n(y));
    }
    Chart {
        id,
        title: title.to_owned(),
        bars,
        x_labels,
        y_labels,
        grid,
        legend: series
            .iter()
            .enumerate()
            .map(|(k, (name, _))| Legend {
                fill: PALETTE.get(k % PALETTE.len()).copied().unwrap_or("#000"),
                label: name.clone(),
            })
            .collect(),
        empty: max <= 0.0,
    }
}

/// A number for an axis or a tooltip: whole numbers as they are, others with one decimal.
fn fmt_value(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}").replace('.', ",")
    }
}

#[allow(clippy::cast_precision_loss)]
fn f(v: i64) -> f64 {
    v as f64
}

/// A row of a report's table: its cells, already formatted.
#[derive(Debug, Clone)]
pub struct Row {
    cells: Vec<String>,
    total: bool,
}

/// A report's table.
#[derive(Debug, Clone)]
pub struct Table {
    id: &'static str,
    header: Vec<String>,
    rows: Vec<Row>,
}

/// A section of the page: a chart (or two), a table and its CSV link.
#[derive(Debug, Clone)]
pub struct Section {
    id: &'static str,
    title: &'static str,
    note: String,
    charts: Vec<Chart>,
    tables: Vec<Table>,
    csv_url: String,
}

fn table_of(id: &'static str, csv: &reports::Csv) -> Table {
    // The CSV's rows are the table's: one source for both, so the download matches the page.
    let mut rows = csv.rows().iter();
    let header = rows.next().cloned().unwrap_or_default();
    Table {
        id,
        header,
        rows: rows
            .map(|cells| Row {
                total: cells.first().is_some_and(|c| c == "Итого" || c == "Всего"),
                cells: cells.clone(),
            })
            .collect(),
    }
}

fn labels(r: &Resolved) -> Vec<String> {
    r.buckets.iter().map(|b| b.label.clone()).collect()
}

fn leads_section(r: &Resolved, report: &LeadsReport, query: &str) -> Section {
    let series: Vec<(String, Vec<f64>)> = report
        .series
        .iter()
        .map(|s| (s.label.clone(), s.counts.iter().copied().map(f).collect()))
        .collect();
    Section {
        id: "leads",
        title: "Заявки по времени",
        note: format!("Разрез: {}. Всего заявок: {}.", r.by.2, report.total),
        charts: vec![chart(
            "leads-chart",
            "Заявки по времени",
            &labels(r),
            &series,
            true,
            "",
        )],
        tables: vec![table_of("leads-table", &reports::leads_csv(report))],
        csv_url: format!("/reports/leads.csv?{query}"),
    }
}

fn orders_section(r: &Resolved, report: &OrdersReport, query: &str) -> Section {
    let orders: Vec<f64> = report.rows.iter().map(|b| f(b.orders)).collect();
    let contacts: Vec<f64> = report.rows.iter().map(|b| f(b.contacts)).collect();
    let value: Vec<f64> = report
        .rows
        .iter()
        .map(|b| b.value.to_f64().unwrap_or(0.0))
        .collect();
    Section {
        id: "orders",
        title: "Заказы и обращения",
        note: format!(
            "Заказов: {}, обращений: {}, сумма заказов: {} ₽.",
            report.total.orders,
            report.total.contacts,
            fmt::money(report.total.value)
        ),
        charts: vec![
            chart(
                "orders-chart",
                "Заказы и обращения",
                &labels(r),
                &[("Заказы".into(), orders), ("Обращения".into(), contacts)],
                true,
                "",
            ),
            chart(
                "value-chart",
                "Сумма заказов",
                &labels(r),
                &[("Сумма заказов, ₽".into(), value)],
                false,
                " ₽",
            ),
        ],
        tables: vec![table_of("orders-table", &reports::orders_csv(report))],
        csv_url: format!("/reports/orders.csv?{query}"),
    }
}

fn outcomes_section(r: &Resolved, report: &OutcomesReport, query: &str) -> Section {
    let t = &report.total;
    Section {
        id: "outcomes",
        title: "Исход заявок",
        note: format!(
            "Выполнено {} %, спам {} %, открыто {} % из {} заявок.",
            fmt_value(t.done_share),
            fmt_value(t.rejected_share),
            fmt_value(t.open_share),
            t.total
        ),
        charts: vec![chart(
            "outcomes-chart",
            "Исход заявок",
            &labels(r),
            &[
                (
                    "Выполнено".into(),
                    report.rows.iter().map(|b| f(b.done)).collect(),
                ),
                (
                    "Спам".into(),
                    report.rows.iter().map(|b| f(b.rejected)).collect(),
                ),
                (
                    "Открыто".into(),
                    report.rows.iter().map(|b| f(b.open)).collect(),
                ),
            ],
            true,
            "",
        )],
        tables: vec![table_of("outcomes-table", &reports::outcomes_csv(report))],
        csv_url: format!("/reports/outcomes.csv?{query}"),
    }
}

fn response_section(report: &ResponseReport, query: &str) -> Section {
    let minutes = |v: Option<i64>| f(v.unwrap_or(0)) / 60.0;
    let who: Vec<String> = report.managers.iter().map(|m| m.name.clone()).collect();
    let calendars: Vec<String> = report.calendars.iter().map(|c| c.name.clone()).collect();
    let pair = |rows: &[reports::ResponseRow]| -> Vec<(String, Vec<f64>)> {
        vec![
            (
                "Медиана, мин".into(),
                rows.iter().map(|m| minutes(m.median_secs)).collect(),
            ),
            (
                "90-й перцентиль, мин".into(),
                rows.iter().map(|m| minutes(m.p90_secs)).collect(),
            ),
        ]
    };
    Section {
        id: "response",
        title: "Скорость ответа",
        note: format!(
            "От поступления до первого действия менеджера (взял в работу, сменил статус, назначил). \
             Медиана {}, 90-й перцентиль {}; без ответа дольше часа: {}.",
            duration(report.total.median_secs),
            duration(report.total.p90_secs),
            report.total.late
        ),
        charts: vec![
            chart(
                "response-managers-chart",
                "По менеджерам",
                &who,
                &pair(&report.managers),
                false,
                " мин",
            ),
            chart(
                "response-calendars-chart",
                "По календарям",
                &calendars,
                &pair(&report.calendars),
                false,
                " мин",
            ),
        ],
        tables: vec![table_of("response-table", &reports::response_csv(report))],
        csv_url: format!("/reports/response.csv?{query}"),
    }
}

fn health_section(r: &Resolved, report: &HealthReport, query: &str) -> Section {
    Section {
        id: "health",
        title: "Карантин и сборщики",
        note: format!(
            "Принято {}, в карантине {}, неудачных запусков сборщиков {} из {}.",
            report.total.imported,
            report.total.quarantined,
            report.total.failed_runs,
            report.total.runs
        ),
        charts: vec![chart(
            "health-chart",
            "Карантин и сборщики",
            &labels(r),
            &[
                (
                    "Принято".into(),
                    report.rows.iter().map(|b| f(b.imported)).collect(),
                ),
                (
                    "В карантине".into(),
                    report.rows.iter().map(|b| f(b.quarantined)).collect(),
                ),
                (
                    "Неудачные запуски".into(),
                    report.rows.iter().map(|b| f(b.failed_runs)).collect(),
                ),
            ],
            false,
            "",
        )],
        tables: vec![table_of("health-table", &reports::health_csv(report))],
        csv_url: format!("/reports/health.csv?{query}"),
    }
}

/// Seconds as people read them: `45 с`, `12 мин`, `3 ч 5 мин`.
fn duration(secs: Option<i64>) -> String {
    match secs {
        None => "—".into(),
        Some(s) if s < 60 => format!("{s} с"),
        Some(s) if s < 3600 => format!("{} мин", s / 60),
        Some(s) => format!("{} ч {} мин", s / 3600, s % 3600 / 60),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "reports.html")]
struct ReportsPage {
    layout: Layout,
    from: String,
    to: String,
    groups: Vec<Choice>,
    calendars: Vec<Choice>,
    channels: Vec<Choice>,
    sources: Vec<Choice>,
    kinds: Vec<Choice>,
    splits: Vec<Choice>,
    sections: Vec<Section>,
}

/// The query string of a report's parameters, for its CSV links.
fn query_string(p: &ReportParams) -> String {
    let pairs: Vec<(&str, &str)> = [
        ("from", &p.from),
        ("to", &p.to),
        ("group", &p.group),
        ("calendar", &p.calendar),
        ("channel", &p.channel),
        ("source", &p.source),
        ("kind", &p.kind),
        ("by", &p.by),
    ]
    .into_iter()
    .filter_map(|(k, v)| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| (k, v))
    })
    .collect();
    serde_urlencoded::to_string(&pairs).unwrap_or_default()
}

async fn resolve(
    state: &AppState,
    viewer: &Viewer,
    p: &ReportParams,
) -> Result<Resolved, ApiError> {
    let scope = calendar_scope(state, viewer).await?;
    let tz = timezone(state);
    reports::resolve(p, scope, tz, fmt::today(tz))
}

fn choice(value: &str, label: &str, chosen: Option<&str>) -> Choice {
    Choice {
        value: value.to_owned(),
        label: label.to_owned(),
        selected: chosen.unwrap_or("") == value,
    }
}

/// `GET /reports`.
#[instrument(skip_all, fields(user = %viewer.login))]
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let r = resolve(&state, &viewer, &p).await?;
    let storage = state.storage.as_ref();
    let query = query_string(&p);
    let mut sections = vec![
        leads_section(&r, &reports::leads(storage, &r).await?, &query),
        orders_section(&r, &reports::orders(storage, &r).await?, &query),
        outcomes_section(&r, &reports::outcomes(storage, &r).await?, &query),
        response_section(
            &reports::response(storage, &r, chrono::Utc::now()).await?,
            &query,
        ),
    ];
    if viewer.is_admin() {
        sections.push(health_section(
            &r,
            &reports::health(storage, &r).await?,
            &query,
        ));
    }

    let trimmed = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let group = r.group.as_str();
    let mut calendars = vec![choice("", "Все календари", None)];
    let cal = trimmed(&p.calendar);
    calendars.extend(
        visible_calendars(&state, &viewer)
            .await?
            .iter()
            .map(|c| choice(&c.id.to_string(), &c.name, cal.as_deref())),
    );
    let channel = trimmed(&p.channel);
    let mut channels = vec![choice("", "Все каналы", None)];
    channels.extend(
        [Channel::Mail, Channel::Http, Channel::File]
            .iter()
            .map(|c| choice(c.as_str(), fmt::channel(*c), channel.as_deref())),
    );
    let source = trimmed(&p.source);
    let mut sources = vec![choice("", "Все источники", None)];
    for c in state.storage.collectors(false).await? {
        sources.push(choice(
            &format!("collector:{}", c.id),
            &format!("Почта: {}", c.name),
            source.as_deref(),
        ));
    }
    for s in state.storage.http_sources().await? {
        sources.push(choice(
            &format!("http:{}", s.source.id),
            &format!("Сайт: {}", s.source.name),
            source.as_deref(),
        ));
    }
    let kind = trimmed(&p.kind);
    let mut kinds = vec![choice("", "Любой", None)];
    kinds.extend(
        LeadKind::ALL
            .iter()
            .map(|k| choice(k.as_str(), fmt::kind(*k), kind.as_deref())),
    );
    Ok(ReportsPage {
        layout: Layout::new(&viewer, "reports"),
        from: r.from.format("%Y-%m-%d").to_string(),
        to: r.to.format("%Y-%m-%d").to_string(),
        groups: Grouping::ALL
            .iter()
            .map(|g| choice(g.as_str(), g.label(), Some(group)))
            .collect(),
        calendars,
        channels,
        sources,
        kinds,
        splits: SERIES
            .iter()
            .map(|(w, _, label)| choice(w, label, Some(r.by.0)))
            .collect(),
        sections,
    }
    .into_response())
}

/// `GET /reports/{name}.csv`: one report's table as CSV.
pub async fn csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(file): Path<String>,
    Query(p): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let r = resolve(&state, &viewer, &p).await?;
    let storage = state.storage.as_ref();
    let csv = match file.as_str() {
        "leads.csv" => reports::leads_csv(&reports::leads(storage, &r).await?),
        "orders.csv" => reports::orders_csv(&reports::orders(storage, &r).await?),
        "outcomes.csv" => reports::outcomes_csv(&reports::outcomes(storage, &r).await?),
        "response.csv" => {
            reports::response_csv(&reports::response(storage, &r, chrono::Utc::now()).await?)
        }
        "health.csv" if viewer.is_admin() => {
            reports::health_csv(&reports::health(storage, &r).await?)
        }
        "health.csv" => return Err(ApiError::Forbidden),
        _ => return Err(ApiError::NotFound("report")),
    };
    Ok(csv_response(&format!("report-{file}"), &csv))
}

/// `GET /inbox.csv`: the leads of the inbox's current filter (every page) as CSV.
pub async fn inbox_csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<InboxParams>,
) -> Result<Response, ApiError> {
    let tz = timezone(&state);
    let trimmed = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let bad = |what: &str| ApiError::BadRequest(format!("malformed {what}"));
    let visible = visible_calendars(&state, &viewer).await?;
    let calendar = match trimmed(&p.cal) {
        Some(cal) => {
            let id: i64 = cal.parse().map_err(|_| bad("calendar"))?;
            if !visible.iter().any(|c| c.id == id) {
                return Err(ApiError::Forbidden);
            }
            Some(id.to_string())
        }
        None => None,
    };
    let date = |v: &Option<String>, what: &str| {
        trimmed(v)
            .map(|s| fmt::parse_iso_date(&s).ok_or_else(|| bad(what)))
            .transpose()
    };
    let filter = LeadFilter {
        calendar,
        status: trimmed(&p.status)
            .map(|s| s.parse::<LeadStatus>().map_err(|_| bad("status")))
            .transpose()?,
        kind: trimmed(&p.kind)
            .map(|s| s.parse::<LeadKind>().map_err(|_| bad("kind")))
            .transpose()?,
        from: date(&p.from, "from")?.map(|d| local_midnight(d, tz)),
        to: date(&p.to, "to")?.map(|d| local_midnight(d + Duration::days(1), tz)),
        search: trimmed(&p.q),
    };
    // The inbox's own filters beside the lead list's: the assignee and the overdue follow-ups.
    let assignee = match trimmed(&p.who).as_deref() {
        None => None,
        Some("me") => Some(Some(viewer.login.clone())),
        Some("none") => Some(None),
        Some(login) => {
            let known = state
                .storage
                .users()
                .await?
                .iter()
                .any(|u| !u.disabled && u.login == login);
            if !known {
                return Err(bad("assignee"));
            }
            Some(Some(login.to_owned()))
        }
    };
    let inbox = InboxFilter {
        assignee,
        overdue_at: trimmed(&p.overdue).map(|_| Utc::now()),
    };
    let scope = calendar_scope(&state, &viewer).await?;
    let leads = inbox_leads(state.storage.as_ref(), &filter, scope.as_deref(), &inbox).await?;
    Ok(csv_response(
        "inbox.csv",
        &reports::leads_list_csv(&leads, tz),
    ))
}

/// What the inbox narrows the lead list by beyond a [`LeadFilter`].
struct InboxFilter {
    /// Only leads of this assignee (login), or only unassigned ones (`Some(None)`).
    assignee: Option<Option<String>>,
    /// Only leads with an open follow-up due before this time.
    overdue_at: Option<DateTime<Utc>>,
}

/// Every lead the inbox shows for its filter (up to [`reports::MAX_EXPORT_LEADS`]), newest first: the lead
/// list's leads without those marked a second submission of another (they have left the inbox), narrowed by
/// the assignee and the overdue follow-ups as the inbox narrows them.
async fn inbox_leads(
    storage: &dyn Storage,
    filter: &LeadFilter,
    scope: Option<&[i64]>,
    inbox: &InboxFilter,
) -> Result<Vec<LeadView>, ApiError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = storage
            .leads(
                filter,
                scope,
                PageRequest {
                    limit: PageRequest::MAX_LIMIT,
                    cursor,
                },
            )
            .await?;
        let mut leads: Vec<LeadView> = page
            .items
            .into_iter()
            .filter(|l| l.duplicate_of.is_none())
            .filter(|l| inbox.assignee.as_ref().is_none_or(|a| *a == l.assignee))
            .collect();
        if let Some(now) = inbox.overdue_at {
            let ids: Vec<i64> = leads.iter().map(|l| l.id).collect();
            let overdue = storage.leads_with_overdue_follow_ups(&ids, now).await?;
            leads.retain(|l| overdue.contains(&l.id));
        }
        out.extend(leads);
        if out.len() >= reports::MAX_EXPORT_LEADS {
            out.truncate(reports::MAX_EXPORT_LEADS);
            break;
        }
        match page.next.as_deref().map(str::parse::<i64>) {
            Some(Ok(next)) => cursor = Some(next),
            _ => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::n;

    #[test]
    fn a_coordinate_is_written_to_a_tenth() {
        for (v, text) in [
            (0.0, "0.0"),
            (12.34, "12.3"),
            (12.36, "12.4"),
            (640.0, "640.0"),
            (-0.04, "0.0"),
            (-3.25, "-3.3"),
        ] {
            assert_eq!(n(v), text, "{v}");
        }
    }
}
