//! The reports page in headless Chromium: charts drawn as SVG with their tables, every number of the fixture
//! shop as the API gives it; a manager's page without another manager's personal calendar; taking a lead
//! in the UI counts as its first action; the CSV downloads of the page and of the inbox; the campaign
//! fields on the lead page. Screenshots go to `target/ui-artifacts/`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod report_fixture;
mod ui_support;

use fantoccini::Locator;
use report_fixture::{ADMIN_PASSWORD, M1_PASSWORD, QUARTER, shop};
use serde_json::Value;
use ui_support::*;

/// The cells of a table, row by row (header included).
async fn table(b: &Browser, id: &str) -> Vec<Vec<String>> {
    let script = format!(
        "return Array.from(document.querySelectorAll('#{id} tr')).map(tr => \
         Array.from(tr.children).map(td => td.textContent.trim()));"
    );
    let v: Value = b.client.execute(&script, vec![]).await.unwrap();
    serde_json::from_value(v).unwrap()
}

async fn count(b: &Browser, css: &str) -> usize {
    b.client.find_all(Locator::Css(css)).await.unwrap().len()
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn read_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    assert!(bytes.starts_with("\u{feff}".as_bytes()));
    csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[3..])
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn an_administrator_reads_every_report_as_a_chart_and_a_table() {
    let shop = shop().await;
    let b = Browser::start().await;
    b.sign_in(&shop.app, "admin", ADMIN_PASSWORD).await;
    b.client
        .goto(&format!("{}/reports?{QUARTER}&by=calendar", shop.app.base))
        .await
        .unwrap();
    b.wait_for("#report-leads").await;

    assert_eq!(
        table(&b, "leads-table").await,
        [
            row(&[
                "Период",
                "Заявки с сайта",
                "Личный m1",
                "Личный m2",
                "Всего"
            ]),
            row(&["01.2026", "3", "0", "0", "3"]),
            row(&["02.2026", "1", "1", "1", "3"]),
            row(&["03.2026", "2", "0", "0", "2"]),
            row(&["Итого", "6", "1", "1", "8"]),
        ]
    );
    // One bar per non-zero cell: January 1, February 3, March 1.
    assert_eq!(count(&b, "svg#leads-chart rect.bar").await, 5);
    assert_eq!(count(&b, "#report-leads .legend li").await, 3);

    assert_eq!(
        table(&b, "orders-table").await,
        [
            row(&["Период", "Заказы", "Обращения", "Сумма заказов"]),
            row(&["01.2026", "1", "2", "1500,5"]),
            row(&["02.2026", "2", "1", "2999,99"]),
            row(&["03.2026", "1", "1", "100"]),
            row(&["Итого", "4", "4", "4600,49"]),
        ]
    );
    assert_eq!(count(&b, "svg#orders-chart rect.bar").await, 6);
    assert_eq!(count(&b, "svg#value-chart rect.bar").await, 3);

    assert_eq!(
        table(&b, "outcomes-table").await,
        [
            row(&[
                "Период",
                "Выполнено",
                "Спам",
                "Открыто",
                "Всего",
                "Выполнено, %",
                "Спам, %",
                "Открыто, %"
            ]),
            row(&["01.2026", "1", "1", "1", "3", "33,3", "33,3", "33,3"]),
            row(&["02.2026", "1", "0", "2", "3", "33,3", "0,0", "66,7"]),
            row(&["03.2026", "1", "0", "1", "2", "50,0", "0,0", "50,0"]),
            row(&["Итого", "3", "1", "4", "8", "37,5", "12,5", "50,0"]),
        ]
    );

    assert_eq!(
        table(&b, "response-table").await,
        [
            row(&[
                "Разрез",
                "Кто / где",
                "С ответом",
                "Медиана, с",
                "90-й перцентиль, с",
                "Без ответа дольше часа"
            ]),
            row(&["Менеджер", "admin", "1", "7200", "7200", "1"]),
            row(&["Менеджер", "m1", "3", "600", "1200", "0"]),
            row(&["Менеджер", "m2", "3", "3600", "5400", "1"]),
            row(&["Календарь", "Заявки с сайта", "5", "1800", "7200", "2"]),
            row(&["Календарь", "Личный m1", "1", "300", "300", "0"]),
            row(&["Календарь", "Личный m2", "1", "5400", "5400", "1"]),
            row(&["Итого", "Всего", "7", "1800", "7200", "3"]),
        ]
    );
    assert_eq!(count(&b, "svg#response-managers-chart rect.bar").await, 6);

    assert_eq!(
        table(&b, "health-table").await,
        [
            row(&[
                "Период",
                "Принято",
                "Повторы",
                "Пропущено",
                "В карантине",
                "Запуски сборщиков",
                "Неудачные запуски"
            ]),
            row(&["01.2026", "3", "0", "0", "2", "2", "1"]),
            row(&["02.2026", "3", "0", "0", "0", "1", "0"]),
            row(&["03.2026", "2", "0", "0", "1", "1", "1"]),
            row(&["Итого", "8", "0", "0", "3", "4", "2"]),
        ]
    );
    b.screenshot("reports").await;

    // The page's CSV link downloads the table it stands under.
    let href: Value = b
        .client
        .execute(
            "return document.querySelector('#report-orders a.csv').getAttribute('href');",
            vec![],
        )
        .await
        .unwrap();
    let client = signed_in(&shop.app, "admin", ADMIN_PASSWORD).await;
    let r = client
        .get(format!("{}{}", shop.app.base, href.as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csv = read_csv(&r.bytes().await.unwrap());
    assert_eq!(csv, table(&b, "orders-table").await);
    b.stop().await;
}

#[tokio::test]
async fn a_managers_page_leaves_out_other_managers_calendars_and_counts_what_they_take() {
    let shop = shop().await;
    let b = Browser::start().await;
    b.sign_in(&shop.app, "m1", M1_PASSWORD).await;

    // Taking the untouched lead L5 in the UI is its first action, by m1.
    b.client
        .goto(&format!("{}/leads/{}", shop.app.base, shop.leads[4]))
        .await
        .unwrap();
    b.click("#take").await;
    b.wait_for("#lead-status.status-in_progress").await;

    b.client
        .goto(&format!("{}/reports?{QUARTER}&by=calendar", shop.app.base))
        .await
        .unwrap();
    b.wait_for("#report-leads").await;
    let page: Value = b
        .client
        .execute("return document.querySelector('main').textContent;", vec![])
        .await
        .unwrap();
    assert!(
        !page.as_str().unwrap().contains("Личный m2"),
        "another manager's calendar shown"
    );
    assert_eq!(count(&b, "#report-health").await, 0);
    assert_eq!(
        table(&b, "leads-table").await.last().unwrap(),
        &row(&["Итого", "6", "1", "7"])
    );
    let response = table(&b, "response-table").await;
    // m1 answered L1, L4, L7 in minutes and L5 just now, months after it came: four, one of them late.
    let m1 = response.iter().find(|r| r[1] == "m1").unwrap();
    assert_eq!(
        (&m1[0], &m1[2], &m1[3], &m1[5]),
        (
            &"Менеджер".to_owned(),
            &"4".to_owned(),
            &"600".to_owned(),
            &"1".to_owned()
        )
    );
    assert!(
        response.contains(&row(&["Менеджер", "m2", "2", "1800", "3600", "0"])),
        "{response:?}"
    );
    b.screenshot("reports-manager").await;

    // The inbox's current filter as CSV: only what m1 sees, Cyrillic intact.
    let client = signed_in(&shop.app, "m1", M1_PASSWORD).await;
    let r = client
        .get(format!(
            "{}/inbox.csv?from=2026-01-01&to=2026-03-31",
            shop.app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csv = read_csv(&r.bytes().await.unwrap());
    assert_eq!(csv.len() - 1, 7);
    let calendar = csv[0].iter().position(|h| h == "Календарь").unwrap();
    assert!(
        csv[1..]
            .iter()
            .all(|r| r[calendar] == "Заявки с сайта" || r[calendar] == "Личный m1")
    );
    let r = client
        .get(format!(
            "{}/inbox.csv?cal={}",
            shop.app.base, shop.personal_m2
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    b.stop().await;
}

#[tokio::test]
async fn the_lead_page_shows_where_the_visitor_came_from() {
    let shop = shop().await;
    let b = Browser::start().await;
    b.sign_in(&shop.app, "admin", ADMIN_PASSWORD).await;
    b.client
        .goto(&format!("{}/leads/{}", shop.app.base, shop.leads[1]))
        .await
        .unwrap();
    b.wait_for("dd.campaign").await;
    let shown: Value = b
        .client
        .execute(
            "return Array.from(document.querySelectorAll('dd.campaign')).map(d => \
             d.previousElementSibling.textContent + '=' + d.textContent);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        shown,
        serde_json::json!([
            "utm_source=yandex",
            "Страница заявки=https://shop.example/banners"
        ])
    );
    b.stop().await;
}
