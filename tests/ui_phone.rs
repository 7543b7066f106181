//! The manager's phone: the inbox, a lead (its `tel:` link and actions), the lead's forms as a manager uses
//! them (its details corrected, a comment, a follow-up, an order line added and changed), the calendar's week
//! and month and a tech card, in headless Chromium emulating a 390×844 phone (device scale 3, touch). Each
//! page must fit the screen's width (no sideways scrolling, no element sticking out), every link, button and
//! form control a thumb taps must be at least 44×44 CSS px (the size Apple's and WCAG's target-size guidance
//! names), and the same pages at a desktop's width keep their layout (the inbox a table). Screenshots of both go to
//! `target/ui-artifacts/` (`phone-*.png`, `desktop-*.png`) for a human to look at.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::TestApp;
use fantoccini::Locator;
use leadgate_domain::account::Role;
use serde_json::{Value, json};
use ui_support::*;

/// The smallest tap target, CSS px.
const TAP: f64 = 44.0;
/// The phone's width, CSS px.
const PHONE_WIDTH: f64 = 390.0;

const LONG_SUBJECTS: [&str; 4] = [
    "Заказ на широкоформатную печать баннеров для выставки «Реклама и полиграфия — 2026» с доставкой в Красногорск",
    "ПерезвонитеПожалуйстаПослеОбедаОченьСрочноНужноСогласоватьМакетБаннераДляФасадаТорговогоЦентраНаМира",
    "Заявка с сайта https://shop.example/catalog/banners/shirokoformatnaya-pechat-na-bannernoj-tkani-510-gramm?utm_source=yandex",
    "Обратный звонок",
];
const LONG_PERSON: &str = "Константинопольский-Преображенский Александр Вениаминович";
const LONG_EMAIL: &str =
    "zakupki.otdel.reklamy.i.marketinga@ooo-romashka-i-partnery-severo-zapad.example.ru";
const LONG_PHONE: &str =
    "8-916-123-45-67,8-495-765-43-21(спросить-Наталью-Викторовну-из-бухгалтерии)";

async fn post_lead(app: &TestApp, lead: &Value) -> i64 {
    let r = app.intake_json(&lead.to_string()).await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// An order with many lines: long names, an unbroken material code, extra works, layout files with long
/// addresses; dated 3 June 2026.
fn big_order() -> Value {
    let lines: Vec<Value> = (1..=16)
        .map(|n| {
            json!({
                "Номенклатура": format!("Баннер на фасад торгового центра «Северное сияние», секция {n}, с проклейкой краёв"),
                "СтанокКод": n,
                "Разрешеине": "720 dpi",
                "Материал": "Баннерная ткань литая Blackout (510 гр./м2) — 720 dpi, для наружной рекламы",
                "МатериалКод": format!("00-00000021-ОЧЕНЬДЛИННЫЙКОДМАТЕРИАЛАБЕЗПРОБЕЛОВ{n:04}"),
                "Ширина": 12.5,
                "Высота": 3.75,
                "Количество": n,
                "Цена": 1250.5,
                "Сумма": 1250.5 * f64::from(n),
                "Услуга": false,
                "ДополнительныеРаботы": [
                    {"ВидРаботы": "Люверсы", "Количество": 40, "Описание": "шаг 30 см по всему периметру, усиленные"},
                    {"ВидРаботы": "Карманы", "Количество": 2, "Описание": "сверху и снизу под трубу 32 мм"}
                ]
            })
        })
        .chain(std::iter::once(json!({
            "Номенклатура": "Доставка и монтаж промышленными альпинистами",
            "Услуга": true, "Количество": 1, "Цена": 15000, "Сумма": 15000
        })))
        .collect();
    json!({
        "Тема": "Заказ №4711 от 03.06.2026 — баннеры на фасад ТЦ «Северное сияние», шестнадцать секций, срочно",
        "Дата": "03.06.2026 10:00:00",
        "Описание": "Нужно к пятнице.\nМакеты в приложении: ФинальнаяВерсияМакетаБезПробеловСогласованоСЗаказчиком_v17.pdf",
        "ИНН": "7709745454",
        "Телефон": "+7 925 642 42-90",
        "АдресЭлектроннойПочты": LONG_EMAIL,
        "КонтактноеЛицо": LONG_PERSON,
        "ФайлыМакета": [
            {"Файл": "https://shop.example/cabinet/print/2026/FinalnayaVersiyaMaketaBezProbelovSoglasovanoSZakazchikom_v17.pdf"}
        ],
        "Товары": lines,
    })
}

/// `leads` contact requests and the big order over the week of 1–7 June 2026 (55 are more than a page of the
/// inbox and more than a month cell shows), with long Cyrillic subjects, a long unbroken word, a long address,
/// a long e-mail and a long phone as sent; returns the big order's id and a contact request's id.
async fn seed(app: &TestApp, leads: u32) -> (i64, i64) {
    let mut contact = 0;
    for i in 0..leads {
        let mut lead = json!({
            "Тема": LONG_SUBJECTS[i as usize % LONG_SUBJECTS.len()],
            "Дата": format!("{:02}.06.2026 {:02}:{:02}:00", 1 + i % 7, 9 + i % 9, (i * 7) % 60),
            "Описание": "Перезвоните, пожалуйста",
            "Телефон": if i % 5 == 0 { LONG_PHONE } else { "+7 916 123-45-67" },
        });
        if i % 3 == 0 {
            lead["АдресЭлектроннойПочты"] = json!(LONG_EMAIL);
        } else {
            lead["КонтактноеЛицо"] = json!(LONG_PERSON);
            lead["АдресЭлектроннойПочты"] = json!(LONG_EMAIL);
        }
        let id = post_lead(app, &lead).await;
        if i == 1 {
            contact = id;
        }
    }
    (post_lead(app, &big_order()).await, contact)
}

/// What a phone-sized page does wrong: its widths and every element sticking out past the viewport (outside
/// an element that scrolls on its own) or a tap target smaller than 44×44.
#[derive(Debug)]
struct Fit {
    client_width: f64,
    inner_width: f64,
    scroll_width: f64,
    sticking_out: Vec<String>,
    too_small: Vec<String>,
}

const MEASURE: &str = r#"
const vw = document.documentElement.clientWidth;
const name = el => {
  let s = el.tagName.toLowerCase();
  if (el.id) s += '#' + el.id;
  if (typeof el.className === 'string' && el.className.trim()) s += '.' + el.className.trim().split(/\s+/).join('.');
  const t = (el.innerText || el.value || '').trim().replace(/\s+/g, ' ').slice(0, 40);
  return t ? s + ' "' + t + '"' : s;
};
const scrollsOnItsOwn = el => {
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    const o = getComputedStyle(p).overflowX;
    if (o === 'auto' || o === 'scroll') return true;
  }
  return false;
};
const stickingOut = [];
for (const el of document.querySelectorAll('body *')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  const left = r.left + window.scrollX, right = r.right + window.scrollX;
  if ((right > vw + 0.5 || left < -0.5) && !scrollsOnItsOwn(el)) {
    stickingOut.push(name(el) + ' spans ' + Math.round(left) + '..' + Math.round(right));
  }
}
const tapped = 'a[href], button, select, textarea, summary, '
  + 'input:not([type=hidden]):not([type=checkbox]):not([type=radio]), '
  + 'label:has(input[type=checkbox]), label:has(input[type=radio])';
const tooSmall = [];
for (const el of document.querySelectorAll(tapped)) {
  if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) continue;
  if (r.width < arguments[0] || r.height < arguments[0]) {
    tooSmall.push(name(el) + ' is ' + r.width.toFixed(1) + '×' + r.height.toFixed(1));
  }
}
return { clientWidth: vw, innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth, stickingOut, tooSmall };
"#;

async fn measure(b: &Browser) -> Fit {
    let v = b.client.execute(MEASURE, vec![json!(TAP)]).await.unwrap();
    let list = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    Fit {
        client_width: v["clientWidth"].as_f64().unwrap(),
        inner_width: v["innerWidth"].as_f64().unwrap(),
        scroll_width: v["scrollWidth"].as_f64().unwrap(),
        sticking_out: list("stickingOut"),
        too_small: list("tooSmall"),
    }
}

/// Opens `path` on the phone, saves its screenshots and asserts it fits the screen with thumb-sized targets.
async fn phone_page_fits(b: &Browser, app: &TestApp, path: &str, wait: &str, name: &str) {
    b.client.goto(&format!("{}{path}", app.base)).await.unwrap();
    b.wait_for(wait).await;
    page_fits(b, name).await;
}

async fn page_fits(b: &Browser, name: &str) {
    b.client
        .execute("window.scrollTo(0, 0); return null", vec![])
        .await
        .unwrap();
    b.screenshot(&format!("phone-{name}")).await;
    b.full_page_screenshot(&format!("phone-{name}-full")).await;
    let fit = measure(b).await;
    assert_eq!(
        fit.client_width, PHONE_WIDTH,
        "{name}: not a phone's viewport"
    );
    // A phone zooms out to show a page wider than the screen, which widens the visual viewport.
    assert!(
        fit.scroll_width <= fit.inner_width && fit.inner_width <= PHONE_WIDTH,
        "{name} scrolls sideways: {} px wide, the phone zoomed out to {} px; sticking out: {:#?}",
        fit.scroll_width,
        fit.inner_width,
        fit.sticking_out
    );
    assert!(
        fit.sticking_out.is_empty(),
        "{name}: wider than the screen: {:#?}",
        fit.sticking_out
    );
    assert!(
        fit.too_small.is_empty(),
        "{name}: tap targets under {TAP}×{TAP} px: {:#?}",
        fit.too_small
    );
}

async fn attr_of(b: &Browser, css: &str, attr: &str) -> Option<String> {
    b.client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .attr(attr)
        .await
        .unwrap()
}

async fn count(b: &Browser, css: &str) -> u64 {
    b.client
        .execute(
            "return document.querySelectorAll(arguments[0]).length",
            vec![json!(css)],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap()
}

/// A signed-in manager on a phone, with the leads of [`seed`].
async fn manager_on_a_phone(leads: u32) -> (TestApp, Browser, i64, i64) {
    let app = TestApp::spawn().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let (order, contact) = seed(&app, leads).await;
    let b = Browser::start_phone().await;
    b.sign_in(&app, "manager1", "manager-password").await;
    (app, b, order, contact)
}

#[tokio::test]
async fn on_a_phone_the_inbox_fits_the_screen_and_each_lead_s_phone_dials_it() {
    let (app, b, order, _) = manager_on_a_phone(54).await;
    // A page of leads, each phone a link that dials it, and the next page.
    phone_page_fits(&b, &app, "/inbox", "#next-page", "inbox").await;
    assert_eq!(count(&b, "tr.lead-row").await, 50);
    // Every lead's phone dials it, but the one written as two numbers with a note: joining their digits
    // would dial a number nobody gave, so it is shown as sent, without a link.
    let rows_with = |with_link: bool| {
        b.client.execute(
            "return [...document.querySelectorAll('tr.lead-row')]
                 .filter(r => !!r.querySelector('td a[href^=\"tel:\"]') === arguments[0])
                 .map(r => r.textContent.includes('спросить-Наталью'))",
            vec![json!(with_link)],
        )
    };
    let linked = rows_with(true).await.unwrap();
    let unlinked = rows_with(false).await.unwrap();
    let (linked, unlinked) = (linked.as_array().unwrap(), unlinked.as_array().unwrap());
    assert!(linked.len() >= 40, "{linked:?}");
    assert!(
        linked.iter().all(|long| long == false),
        "every plain phone dials it, no two-number one does"
    );
    assert!(
        !unlinked.is_empty() && unlinked.iter().all(|long| long == true),
        "{unlinked:?}"
    );
    assert_eq!(
        attr_of(
            &b,
            &format!("tr[data-lead-id=\"{order}\"] a[href^=\"tel:\"]"),
            "href"
        )
        .await
        .as_deref(),
        Some("tel:+79256424290")
    );
    b.stop().await;
}

#[tokio::test]
async fn on_a_phone_a_lead_with_many_lines_its_actions_and_its_tech_card_fit_the_screen() {
    let (app, b, order, contact) = manager_on_a_phone(2).await;
    // A contact request with a long unbroken subject, and the big order with its phone to dial.
    phone_page_fits(
        &b,
        &app,
        &format!("/leads/{contact}"),
        "#take",
        "lead-contact",
    )
    .await;
    phone_page_fits(&b, &app, &format!("/leads/{order}"), "#take", "lead-order").await;
    assert_eq!(
        attr_of(&b, "#phone-link", "href").await.as_deref(),
        Some("tel:+79256424290")
    );
    // The actions are tapped as on a phone, and the page still fits with what they add.
    b.click("#take").await;
    b.wait_for("#assignee").await;
    b.click("#form-cards").await;
    b.wait_for("a.tech-card-link").await;
    page_fits(&b, "lead-order-in-work").await;
    let card = attr_of(&b, "a.tech-card-link", "href").await.unwrap();
    // The tech card, with its print button.
    phone_page_fits(&b, &app, &card, "#card-number", "tech-card").await;
    b.stop().await;
}

#[tokio::test]
async fn on_a_phone_the_calendar_s_week_and_month_fit_the_screen() {
    let (app, b, _, _) = manager_on_a_phone(54).await;
    phone_page_fits(
        &b,
        &app,
        "/calendar?view=week&date=2026-06-03",
        "#calendar-grid .event",
        "calendar-week",
    )
    .await;
    // The month is a list of the days that have leads; a busy day links to the rest of its leads.
    phone_page_fits(
        &b,
        &app,
        "/calendar?view=month&date=2026-06-01",
        "#calendar-grid .event",
        "calendar-month",
    )
    .await;
    assert!(count(&b, "#calendar-grid a.more").await > 0);
    b.stop().await;
}

#[tokio::test]
async fn at_a_desktop_width_the_inbox_is_still_a_table_with_every_column() {
    let app = TestApp::spawn().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let (order, _) = seed(&app, 54).await;
    let b = Browser::start().await;
    b.sign_in(&app, "manager1", "manager-password").await;

    b.client.goto(&format!("{}/inbox", app.base)).await.unwrap();
    b.wait_for("#next-page").await;
    let layout = b
        .client
        .execute(
            r#"const t = document.getElementById('leads');
               const shown = el => el.getBoundingClientRect().width > 0;
               return {
                 table: getComputedStyle(t).display,
                 head: getComputedStyle(t.tHead).display,
                 row: getComputedStyle(t.tBodies[0].rows[0]).display,
                 columns: [...t.tHead.rows[0].cells].filter(shown).length,
                 viewport: window.innerWidth,
               };"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(layout["table"], "table", "{layout}");
    assert_eq!(layout["head"], "table-header-group", "{layout}");
    assert_eq!(layout["row"], "table-row", "{layout}");
    assert_eq!(layout["columns"], 8, "{layout}");
    assert!(layout["viewport"].as_f64().unwrap() > 1000.0, "{layout}");
    b.full_page_screenshot("desktop-inbox").await;

    for (path, wait, name) in [
        (format!("/leads/{order}"), "#take", "desktop-lead-order"),
        (
            "/calendar?view=week&date=2026-06-03".to_owned(),
            "#calendar-grid .event",
            "desktop-calendar-week",
        ),
        (
            "/calendar?view=month&date=2026-06-01".to_owned(),
            "#calendar-grid .event",
            "desktop-calendar-month",
        ),
    ] {
        b.client.goto(&format!("{}{path}", app.base)).await.unwrap();
        b.wait_for(wait).await;
        b.full_page_screenshot(name).await;
    }
    b.client
        .goto(&format!("{}/leads/{order}", app.base))
        .await
        .unwrap();
    b.wait_for("#take").await;
    b.click("#take").await;
    b.wait_for("#assignee").await;
    b.click("#form-cards").await;
    b.wait_for("a.tech-card-link").await;
    b.click("a.tech-card-link").await;
    b.wait_for("#card-number").await;
    b.full_page_screenshot("desktop-tech-card").await;
    b.stop().await;
}

/// Replaces the text of an input, as a thumb would: tap, clear, type.
async fn retype(b: &Browser, css: &str, value: &str) {
    let input = b
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

#[tokio::test]
async fn on_a_phone_a_manager_edits_a_lead_comments_plans_a_follow_up_and_changes_a_line() {
    let (app, b, _, contact) = manager_on_a_phone(2).await;
    let lead = format!("/leads/{contact}");
    phone_page_fits(&b, &app, &lead, "#edit-lead", "lead-to-edit").await;

    // The details, corrected in the open form.
    b.click("#edit-lead summary").await;
    b.wait_for("#edit-phone").await;
    page_fits(&b, "lead-edit-form").await;
    retype(&b, "#edit-phone", "+7 916 765-43-21").await;
    retype(&b, "#edit-person", LONG_PERSON).await;
    b.click("#edit-save").await;
    b.wait_for("#phone-link[href=\"tel:+79167654321\"]").await;

    // A comment with a long unbroken word, and a follow-up for tomorrow.
    b.type_into(
        "#comment-body",
        "Перезвонить после обеда: ПросилиСогласоватьМакетБаннераДляФасадаТорговогоЦентраНаМираБезПробелов",
    )
    .await;
    b.click("#add-comment").await;
    b.wait_for("li.comment").await;
    b.client
        .execute(
            "document.getElementById('follow-up-time').value = '11:00'; return null",
            vec![],
        )
        .await
        .unwrap();
    b.type_into("#follow-up-note", "Уточнить размеры и выставить счёт")
        .await;
    b.click("#plan-follow-up").await;
    b.wait_for("li.follow-up .complete-follow-up").await;
    page_fits(&b, "lead-commented-and-planned").await;

    // A line added on the phone turns the request into an order; then it is opened and changed.
    retype(&b, "#new-line-nomenclature", "Баннер").await;
    retype(&b, "#new-line-width", "3,0").await;
    retype(&b, "#new-line-height", "2").await;
    retype(&b, "#new-line-quantity", "2").await;
    retype(&b, "#new-line-price", "1500").await;
    retype(&b, "#new-line-amount", "3000").await;
    b.click("#add-line-save").await;
    b.wait_for("details.edit-line").await;
    b.click("details.edit-line summary").await;
    b.wait_for("details.edit-line[open] .line-width").await;
    page_fits(&b, "lead-edit-line").await;
    retype(&b, "details.edit-line .line-width", "4").await;
    retype(&b, "details.edit-line .line-amount", "4000").await;
    b.click("details.edit-line .save-line").await;
    b.client
        .wait()
        .for_element(Locator::XPath(
            "//table[contains(@class, 'lines')]//td[normalize-space(.) = '4 × 2']",
        ))
        .await
        .expect("the changed line in the order's table");
    page_fits(&b, "lead-edited-into-an-order").await;
    b.stop().await;
}
