//! Reports through the API: every number of every report over a fixture shop with known leads, actions and
//! times, checked exactly; a manager's reports without another manager's personal calendar; the filters;
//! the shop's time zone deciding the bucket; the CSV exports read back with a CSV reader.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod report_fixture;
mod ui_support;

use report_fixture::{QUARTER, Shop, shop};
use serde_json::{Value, json};

async fn get(shop: &Shop, token: &str, path: &str) -> (u16, Value) {
    let r = shop
        .app
        .client
        .get(format!("{}{path}", shop.app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn ok(shop: &Shop, token: &str, path: &str) -> Value {
    let (status, body) = get(shop, token, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn csv_of(shop: &Shop, token: &str, path: &str) -> Vec<Vec<String>> {
    let r = shop
        .app
        .client
        .get(format!("{}{path}", shop.app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let bytes = r.bytes().await.unwrap();
    assert!(
        bytes.starts_with("\u{feff}".as_bytes()),
        "{path}: no byte-order mark"
    );
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[3..]);
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// `series` of a leads report as `{label: counts}`.
fn series(report: &Value) -> Vec<(Value, Vec<i64>, i64)> {
    report["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].clone(),
                s["counts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_i64().unwrap())
                    .collect(),
                s["total"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn find<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing in {list}"))
}

#[tokio::test]
async fn an_administrator_sees_every_number_of_the_quarter() {
    let shop = shop().await;
    let admin = shop.app.admin_token.clone();

    let leads = ok(&shop, &admin, &format!("/api/v1/reports/leads?{QUARTER}")).await;
    let labels: Vec<&str> = leads["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["01.2026", "02.2026", "03.2026"]);
    assert_eq!(leads["by"], "channel");
    assert_eq!(
        series(&leads),
        vec![
            (json!("mail"), vec![1, 1, 1], 3),
            (json!("http"), vec![1, 2, 1], 4),
            (json!("file"), vec![1, 0, 0], 1),
        ]
    );
    assert_eq!(leads["totals"], json!([3, 3, 2]));
    assert_eq!(leads["total"], 8);

    let by_calendar = ok(
        &shop,
        &admin,
        &format!("/api/v1/reports/leads?{QUARTER}&by=calendar"),
    )
    .await;
    assert_eq!(
        series(&by_calendar),
        vec![
            (json!("Заявки с сайта"), vec![3, 1, 2], 6),
            (json!("Личный m1"), vec![0, 1, 0], 1),
            (json!("Личный m2"), vec![0, 1, 0], 1),
        ]
    );

    let by_utm = ok(
        &shop,
        &admin,
        &format!("/api/v1/reports/leads?{QUARTER}&by=utm_source"),
    )
    .await;
    assert_eq!(
        series(&by_utm),
        vec![
            (Value::Null, vec![1, 1, 1], 3),
            (json!("google"), vec![0, 0, 1], 1),
            (json!("vk"), vec![0, 2, 0], 2),
            (json!("yandex"), vec![2, 0, 0], 2),
        ]
    );

    let orders = ok(&shop, &admin, &format!("/api/v1/reports/orders?{QUARTER}")).await;
    let rows: Vec<(i64, i64, &str)> = orders["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["orders"].as_i64().unwrap(),
                r["contacts"].as_i64().unwrap(),
                r["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [(1, 2, "1500.5"), (2, 1, "2999.99"), (1, 1, "100")]);
    assert_eq!(orders["total"]["orders"], 4);
    assert_eq!(orders["total"]["contacts"], 4);
    assert_eq!(orders["total"]["value"], "4600.49");

    let outcomes = ok(
        &shop,
        &admin,
        &format!("/api/v1/reports/outcomes?{QUARTER}"),
    )
    .await;
    let rows: Vec<(i64, i64, i64)> = outcomes["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["done"].as_i64().unwrap(),
                r["rejected"].as_i64().unwrap(),
                r["open"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [(1, 1, 1), (1, 0, 2), (1, 0, 1)]);
    let t = &outcomes["total"];
    assert_eq!(
        (
            t["done"].clone(),
            t["rejected"].clone(),
            t["open"].clone(),
            t["total"].clone()
        ),
        (json!(3), json!(1), json!(4), json!(8))
    );
    assert_eq!(
        (t["new"].clone(), t["in_progress"].clone()),
        (json!(1), json!(3))
    );
    assert_eq!(t["done_share"], 37.5);
    assert_eq!(t["rejected_share"], 12.5);
    assert_eq!(t["open_share"], 50.0);

    let response = ok(
        &shop,
        &admin,
        &format!("/api/v1/reports/response?{QUARTER}"),
    )
    .await;
    assert_eq!(response["late_after_secs"], 3600);
    let stat = |r: &Value| {
        (
            r["answered"].as_i64().unwrap(),
            r["median_secs"].as_i64(),
            r["p90_secs"].as_i64(),
            r["late"].as_i64().unwrap(),
        )
    };
    let managers: Vec<&str> = response["managers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["admin", "m1", "m2"]);
    assert_eq!(
        stat(find(&response["managers"], "admin")),
        (1, Some(7200), Some(7200), 1)
    );
    assert_eq!(
        stat(find(&response["managers"], "m1")),
        (3, Some(600), Some(1200), 0)
    );
    assert_eq!(
        stat(find(&response["managers"], "m2")),
        (3, Some(3600), Some(5400), 1)
    );
    assert_eq!(
        stat(find(&response["calendars"], "Заявки с сайта")),
        (5, Some(1800), Some(7200), 2)
    );
    assert_eq!(
        stat(find(&response["calendars"], "Личный m1")),
        (1, Some(300), Some(300), 0)
    );
    assert_eq!(
        stat(find(&response["calendars"], "Личный m2")),
        (1, Some(5400), Some(5400), 1)
    );
    assert_eq!(stat(&response["total"]), (7, Some(1800), Some(7200), 3));

    let health = ok(&shop, &admin, &format!("/api/v1/reports/health?{QUARTER}")).await;
    let rows: Vec<(i64, i64, i64, i64)> = health["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["imported"].as_i64().unwrap(),
                r["quarantined"].as_i64().unwrap(),
                r["runs"].as_i64().unwrap(),
                r["failed_runs"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [(3, 2, 2, 1), (3, 0, 1, 0), (2, 1, 1, 1)]);
    assert_eq!(health["total"]["quarantined"], 3);
    assert_eq!(health["total"]["failed_runs"], 2);
}

#[tokio::test]
async fn a_manager_never_counts_another_managers_personal_calendar() {
    let shop = shop().await;
    let m1 = shop.m1_token.clone();

    let by_calendar = ok(
        &shop,
        &m1,
        &format!("/api/v1/reports/leads?{QUARTER}&by=calendar"),
    )
    .await;
    assert_eq!(
        series(&by_calendar),
        vec![
            (json!("Заявки с сайта"), vec![3, 1, 2], 6),
            (json!("Личный m1"), vec![0, 1, 0], 1),
        ]
    );
    assert_eq!(by_calendar["total"], 7);
    let orders = ok(&shop, &m1, &format!("/api/v1/reports/orders?{QUARTER}")).await;
    assert_eq!(orders["rows"][1]["orders"], 1);
    assert_eq!(orders["rows"][1]["value"], "2000");
    assert_eq!(orders["total"]["value"], "3600.5");
    let response = ok(&shop, &m1, &format!("/api/v1/reports/response?{QUARTER}")).await;
    assert!(
        response["calendars"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "Личный m2")
    );
    let m2 = find(&response["managers"], "m2");
    assert_eq!(
        (
            m2["answered"].clone(),
            m2["median_secs"].clone(),
            m2["p90_secs"].clone(),
            m2["late"].clone()
        ),
        (json!(2), json!(1800), json!(3600), json!(0))
    );
    assert_eq!(response["total"]["answered"], 6);
    assert_eq!(response["total"]["late"], 2);

    // Asking for the other manager's calendar is refused, in JSON and in CSV.
    let cal = shop.personal_m2;
    for path in [
        format!("/api/v1/reports/leads?{QUARTER}&calendar={cal}"),
        format!("/api/v1/reports/response.csv?{QUARTER}&calendar={cal}"),
    ] {
        assert_eq!(get(&shop, &m1, &path).await.0, 403, "{path}");
    }
    // The health of the intake is the administrators'.
    assert_eq!(
        get(&shop, &m1, &format!("/api/v1/reports/health?{QUARTER}"))
            .await
            .0,
        403
    );

    // The other manager sees their own calendar and not m1's.
    let by_calendar = ok(
        &shop,
        &shop.m2_token,
        &format!("/api/v1/reports/leads?{QUARTER}&by=calendar"),
    )
    .await;
    let keys: Vec<Value> = series(&by_calendar).into_iter().map(|(k, ..)| k).collect();
    assert_eq!(keys, [json!("Заявки с сайта"), json!("Личный m2")]);
}

#[tokio::test]
async fn filters_narrow_every_report_and_the_shops_time_zone_decides_the_day() {
    let shop = shop().await;
    let admin = shop.app.admin_token.clone();

    let mail = ok(
        &shop,
        &admin,
        &format!("/api/v1/reports/leads?{QUARTER}&channel=mail"),
    )
    .await;
    assert_eq!(mail["totals"], json!([1, 1, 1]));
    let collector = ok(
        &shop,
        &admin,
        &format!(
            "/api/v1/reports/leads?{QUARTER}&source=collector:{}&by=source",
            shop.collector
        ),
    )
    .await;
    assert_eq!(
        series(&collector),
        vec![(json!("site-orders"), vec![1, 1, 1], 3)]
    );
    let website = ok(
        &shop,
        &admin,
        &format!(
            "/api/v1/reports/orders?{QUARTER}&source=http:{}&kind=order",
            shop.website
        ),
    )
    .await;
    assert_eq!(website["total"]["orders"], 2);
    assert_eq!(website["total"]["contacts"], 0);
    assert_eq!(website["total"]["value"], "2999.99");
    let common = ok(
        &shop,
        &admin,
        &format!(
            "/api/v1/reports/outcomes?{QUARTER}&calendar={}",
            shop.common
        ),
    )
    .await;
    assert_eq!(common["total"]["total"], 6);
    let health = ok(
        &shop,
        &admin,
        &format!("/api/v1/reports/health?{QUARTER}&channel=http"),
    )
    .await;
    assert_eq!(health["total"]["imported"], 4);
    assert_eq!(health["total"]["quarantined"], 1);
    assert_eq!(health["total"]["runs"], 0);

    // 23:30 on the 28th of February and 00:30 on the 1st of March in Moscow: one lead on each day, though
    // both are the 28th in UTC.
    let days = ok(
        &shop,
        &admin,
        "/api/v1/reports/leads?from=2026-02-28&to=2026-03-01&group=day",
    )
    .await;
    let labels: Vec<&str> = days["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["28.02.2026", "01.03.2026"]);
    assert_eq!(days["totals"], json!([1, 1]));

    // Weeks start on Monday; the period's ends cut the first and the last.
    let weeks = ok(
        &shop,
        &admin,
        "/api/v1/reports/leads?from=2026-01-08&to=2026-01-21&group=week",
    )
    .await;
    let starts: Vec<&str> = weeks["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["start"].as_str().unwrap())
        .collect();
    assert_eq!(starts, ["2026-01-08", "2026-01-12", "2026-01-19"]);
    assert_eq!(weeks["totals"], json!([1, 0, 1]));

    for bad in [
        "group=year",
        "from=2026-13-01",
        "from=2026-03-01&to=2026-01-01",
        "channel=pigeon",
        "source=collector:x",
        "by=colour",
        "from=2020-01-01&to=2026-01-01&group=day",
    ] {
        let (status, body) = get(&shop, &admin, &format!("/api/v1/reports/leads?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

#[tokio::test]
async fn report_tables_and_the_lead_list_download_as_csv_for_russian_excel() {
    let shop = shop().await;
    let admin = shop.app.admin_token.clone();

    let orders = csv_of(
        &shop,
        &admin,
        &format!("/api/v1/reports/orders.csv?{QUARTER}"),
    )
    .await;
    assert_eq!(
        orders,
        [
            ["Период", "Заказы", "Обращения", "Сумма заказов"],
            ["01.2026", "1", "2", "1500,5"],
            ["02.2026", "2", "1", "2999,99"],
            ["03.2026", "1", "1", "100"],
            ["Итого", "4", "4", "4600,49"],
        ]
    );
    let response = csv_of(
        &shop,
        &admin,
        &format!("/api/v1/reports/response.csv?{QUARTER}"),
    )
    .await;
    assert_eq!(response[0][3], "Медиана, с");
    assert!(
        response.contains(
            &["Менеджер", "m1", "3", "600", "1200", "0"]
                .map(String::from)
                .to_vec()
        )
    );
    assert!(
        response.contains(
            &["Итого", "Всего", "7", "1800", "7200", "3"]
                .map(String::from)
                .to_vec()
        )
    );
    let leads = csv_of(
        &shop,
        &admin,
        &format!("/api/v1/reports/leads.csv?{QUARTER}&by=calendar"),
    )
    .await;
    assert_eq!(
        leads[0],
        [
            "Период",
            "Заявки с сайта",
            "Личный m1",
            "Личный m2",
            "Всего"
        ]
    );
    assert_eq!(leads[4], ["Итого", "6", "1", "1", "8"]);

    // Hostile text typed into a website form is neutralised; Cyrillic and numbers arrive intact.
    let hostile = json!({
        "Тема": "=HYPERLINK(\"http://evil.example\";\"Открыть\")",
        "КонтактноеЛицо": "-2+3",
        "Телефон": "+7 916 000-00-01",
        "Описание": "@SUM(1)",
        "АдресЭлектроннойПочты": "ok@shop.example",
        "Товары": [{"Номенклатура": "Баннер", "Количество": 2, "Сумма": "1234,56"}],
        "utm_campaign": "@весна"
    });
    let r = shop.app.intake_json(&hostile.to_string()).await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(
        created["warnings"],
        json!([]),
        "campaign fields are accepted without a warning"
    );
    let id = created["id"].as_i64().unwrap();
    let list = csv_of(&shop, &admin, "/api/v1/leads.csv?search=ok@shop.example").await;
    assert_eq!(list.len(), 2, "{list:?}");
    let header = &list[0];
    let row = &list[1];
    let cell = |name: &str| row[header.iter().position(|h| h == name).unwrap()].clone();
    assert_eq!(cell("Номер"), id.to_string());
    assert_eq!(
        cell("Тема"),
        "'=HYPERLINK(\"http://evil.example\";\"Открыть\")"
    );
    assert_eq!(cell("Контактное лицо"), "'-2+3");
    assert_eq!(cell("Телефон"), "'+7 916 000-00-01");
    assert_eq!(cell("Сумма"), "1234,56");
    assert_eq!(cell("Вид"), "Заказ");
    assert_eq!(cell("Календарь"), "Заявки с сайта");
    assert_eq!(cell("utm_campaign"), "'@весна");

    // Dates as dd.mm.yyyy hh:mm in the shop's time zone.
    let quarter = csv_of(
        &shop,
        &admin,
        "/api/v1/leads.csv?from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z",
    )
    .await;
    let received = quarter[0].iter().position(|h| h == "Получена").unwrap();
    let mut dates: Vec<&str> = quarter[1..].iter().map(|r| r[received].as_str()).collect();
    dates.sort_unstable();
    assert!(dates.contains(&"10.01.2026 10:00"), "{dates:?}");
    assert!(dates.contains(&"28.02.2026 23:30"), "{dates:?}");
    assert_eq!(dates.len(), 8);

    // A manager's export holds only what the manager may see.
    let mine = csv_of(
        &shop,
        &shop.m1_token,
        "/api/v1/leads.csv?from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z",
    )
    .await;
    assert_eq!(mine.len() - 1, 7);
}

#[tokio::test]
async fn the_first_action_is_recorded_once_by_whoever_took_it() {
    let shop = shop().await;
    let lead = shop.leads[4]; // L5: new, never touched.
    // A change that changes nothing is no action.
    report_fixture::patch(&shop.app, &shop.m1_token, lead, json!({"status": "new"})).await;
    let before = ok(
        &shop,
        &shop.app.admin_token,
        &format!("/api/v1/reports/response?{QUARTER}"),
    )
    .await;
    assert_eq!(before["total"]["answered"], 7);
    report_fixture::patch(&shop.app, &shop.m1_token, lead, json!({"assignee": "m1"})).await;
    report_fixture::patch(&shop.app, &shop.m2_token, lead, json!({"status": "done"})).await;
    let after = ok(
        &shop,
        &shop.app.admin_token,
        &format!("/api/v1/reports/response?{QUARTER}"),
    )
    .await;
    assert_eq!(after["total"]["answered"], 8);
    assert_eq!(find(&after["managers"], "m1")["answered"], 4);
    assert_eq!(find(&after["managers"], "m2")["answered"], 3);
    // Answered months after receipt: late, whoever it was.
    assert_eq!(find(&after["managers"], "m1")["late"], 1);
}
