//! The visitor funnel (访客漏斗) through the real HTTP API: visits from the
//! widget's heartbeat, chats opened with the visit's key, an order found by the
//! conversion sweep, visits ended by the sweeper; every number worked out by
//! hand, the same after a rebuild from the outbox, and for admins only.

use crate::analytics::{DAY, Day, MIN, T0, spawn_day};
use crate::helpers::{Buyer, error_code};
use crate::visitors::{SHOP, again, arrive, browser};
use serde_json::{Value, json};
use xiaoer::domain::commerce::OrderStatus;
use xiaoer::domain::staff::Role;

/// A chat opened on the shop page whose widget holds `visit_key`, as the
/// shop account `account` (signed on the test's clock) or anonymously.
async fn chat_from(day: &Day, account: Option<&str>, visit_key: &str) -> Buyer {
    day.chat(account, Some(visit_key)).await
}

/// The script (shop time, 2026-11-30; the day's clock starts at 08:30):
///
/// - V1, browser 1 from Baidu (search): pages at 08:40, 08:42, 08:45; at 08:46
///   buyer_c2 (signed in) opens the chat with V1's key (3 pages before it) and
///   asks at 08:47; a fourth page at 08:48 (the last heartbeat: 8 min, 4 pages).
///   At 08:49 an anonymous chat with the same key is not V1's (its first chat
///   counts, and the visit is c2's).
/// - V2, browser 2, no referrer (direct): one page at 08:50, no chat.
/// - V3, browser 3 from a cpc link (ads) of the campaign 双12预热: pages at
///   08:54 and 08:55; an anonymous chat with its key at 08:56 (2 pages before)
///   that asks; no order.
/// - V4, browser 1 again from Google (search, returning): one page at 09:00.
/// - A chat at 09:01 without a visit key: no visit's.
/// - buyer_c2 pays an order at 09:30 (within 24 h of the question); the
///   conversion sweep finds it; at 09:45 the visit sweeper ends all four.
///
/// search: 2 visits (1 returning), 5 pages over 2 visits, 480 s on them,
/// 1 chat after 3 pages, 1 order. ads: 1 visit, 2 pages, 60 s, 1 chat after 2
/// pages, no order. direct: 1 visit, 1 page, 0 s, no chat. Total: 4 visits,
/// 8 pages, 540 s, 2 chats, 5 pages before them, 1 order.
async fn script(day: &Day) -> (Buyer, Buyer) {
    let (app, clock) = (&day.app, &day.clock);
    let b1 = browser(1);
    clock.at(-20, 0);
    let (_, v1) = arrive(
        app,
        &b1,
        &format!("{SHOP}/item?sku=TS-001"),
        Some("https://www.baidu.com/s?wd=t"),
    )
    .await;
    clock.at(-18, 0);
    again(app, &b1, &v1, &format!("{SHOP}/item?sku=JK-002")).await;
    clock.at(-15, 0);
    again(app, &b1, &v1, &format!("{SHOP}/cart")).await;
    clock.at(-14, 0);
    let c2 = chat_from(day, Some("buyer_c2"), &v1).await;
    clock.at(-13, 0);
    day.say(&c2, "这件有现货吗").await;
    clock.at(-12, 0);
    again(app, &b1, &v1, &format!("{SHOP}/checkout")).await;
    clock.at(-11, 0);
    let stray = chat_from(day, None, &v1).await;
    clock.at(-10, 0);
    arrive(app, &browser(2), &format!("{SHOP}/"), None).await;
    let b3 = browser(3);
    clock.at(-6, 0);
    let (_, v3) = arrive(
        app,
        &b3,
        &format!("{SHOP}/item?sku=EB-003&utm_source=baidu&utm_medium=cpc&utm_campaign=双12预热"),
        None,
    )
    .await;
    clock.at(-5, 0);
    again(app, &b3, &v3, &format!("{SHOP}/item?sku=MG-004")).await;
    clock.at(-4, 0);
    let c3 = chat_from(day, None, &v3).await;
    day.say(&c3, "包邮吗").await;
    clock.at(0, 0);
    arrive(
        app,
        &b1,
        &format!("{SHOP}/"),
        Some("https://www.google.com/"),
    )
    .await;
    clock.at(1, 0);
    app.start_conversation().await;
    day.order(
        "XE20261130911",
        "buyer_c2",
        OrderStatus::Paid,
        T0 + 30 * MIN,
        "TS-001",
        1,
    )
    .await;
    clock.at(45, 0);
    // The sweeps run in the background too: what they did is read from the
    // numbers and the outbox, not from their counts.
    day.caught_up().await;
    app.state.conversions.sweep().await.unwrap();
    app.state.presence.end_visits().await.unwrap();
    app.state.presence.end_visits().await.unwrap();
    day.caught_up().await;
    let events = app.state.store.outbox_after(0, 10_000).await.unwrap();
    let count = |kind: &str| events.iter().filter(|e| e.type_name() == kind).count();
    assert_eq!(count("visit.started"), 4);
    assert_eq!(count("visit.ended"), 4, "a visit ends once");
    assert_eq!(
        count("conversation.attributed"),
        2,
        "V1's first chat and V3's"
    );
    (c2, stray)
}

async fn funnel(day: &Day, who: &crate::helpers::StaffLogin, range: &str) -> reqwest::Response {
    day.app
        .staff_get(who, &format!("/api/v1/staff/analytics/funnel?{range}"))
        .await
}

fn row(body: &Value, source: Value) -> &Value {
    body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == source)
        .unwrap_or_else(|| panic!("no {source} row in {body}"))
}

fn close(got: &Value, want: f64) -> bool {
    got.as_f64().is_some_and(|g| (g - want).abs() < 1e-9)
}

#[tokio::test]
async fn the_funnel_of_a_scripted_morning_equals_the_hand_computed_numbers() {
    let day = spawn_day().await;
    let (c2, stray) = script(&day).await;
    let admin = day.app.staff("boss-funnel", Role::Admin).await;

    // Beside c2's chat: V1's pages in order, with the time on each (the last
    // until its last heartbeat), three of them before the chat.
    let detail = |buyer: &Buyer| format!("/api/v1/staff/conversations/{}", buyer.conversation_id);
    let shown: Value = day
        .app
        .staff_get(&admin, &detail(&c2))
        .await
        .json()
        .await
        .unwrap();
    let visit = &shown["visit"];
    assert_eq!(
        (
            &visit["source"],
            &visit["returning"],
            &visit["pages_before_chat"]
        ),
        (&json!("search"), &json!(false), &json!(3)),
        "{visit}"
    );
    let dwell: Vec<i64> = visit["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["dwell_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(dwell, [2 * MIN, 3 * MIN, 3 * MIN, 0], "{visit}");
    assert!(
        visit["referrer"].as_str().unwrap().contains("baidu.com"),
        "{visit}"
    );
    // The stray chat with V1's key is no visit's.
    let shown: Value = day
        .app
        .staff_get(&admin, &detail(&stray))
        .await
        .json()
        .await
        .unwrap();
    assert!(shown["visit"].is_null(), "{shown}");
    let res = funnel(&day, &admin, &format!("from={DAY}&to={DAY}")).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    let sources: Vec<&Value> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["source"])
        .collect();
    assert_eq!(
        sources,
        [
            &json!("search"),
            &json!("ads"),
            &json!("direct"),
            &Value::Null
        ],
        "{body}"
    );

    let search = row(&body, json!("search"));
    assert_eq!(
        (
            &search["visits"],
            &search["returning"],
            &search["chats"],
            &search["orders"]
        ),
        (&json!(2), &json!(1), &json!(1), &json!(1)),
        "{search}"
    );
    assert!(close(&search["pages_per_visit"], 2.5), "{search}");
    assert!(close(&search["seconds_per_page"], 96.0), "{search}");
    assert!(close(&search["pages_before_chat"], 3.0), "{search}");
    assert!(
        close(&search["chat_rate"], 0.5)
            && close(&search["order_rate"], 1.0)
            && close(&search["visit_to_order"], 0.5),
        "{search}"
    );

    let ads = row(&body, json!("ads"));
    assert_eq!(
        (
            &ads["visits"],
            &ads["returning"],
            &ads["chats"],
            &ads["orders"]
        ),
        (&json!(1), &json!(0), &json!(1), &json!(0)),
        "{ads}"
    );
    assert!(
        close(&ads["pages_per_visit"], 2.0) && close(&ads["seconds_per_page"], 30.0),
        "{ads}"
    );
    assert!(
        close(&ads["pages_before_chat"], 2.0)
            && close(&ads["chat_rate"], 1.0)
            && close(&ads["order_rate"], 0.0),
        "{ads}"
    );

    let direct = row(&body, json!("direct"));
    assert_eq!(
        (&direct["visits"], &direct["chats"]),
        (&json!(1), &json!(0)),
        "{direct}"
    );
    assert!(
        close(&direct["seconds_per_page"], 0.0) && close(&direct["chat_rate"], 0.0),
        "{direct}"
    );
    assert!(
        direct["order_rate"].is_null() && direct["pages_before_chat"].is_null(),
        "{direct}"
    );

    let total = row(&body, Value::Null);
    assert_eq!(
        (
            &total["visits"],
            &total["returning"],
            &total["chats"],
            &total["orders"]
        ),
        (&json!(4), &json!(1), &json!(2), &json!(1)),
        "{total}"
    );
    assert!(
        close(&total["pages_per_visit"], 2.0) && close(&total["seconds_per_page"], 67.5),
        "{total}"
    );
    assert!(
        close(&total["pages_before_chat"], 2.5) && close(&total["chat_rate"], 0.5),
        "{total}"
    );
    assert!(
        close(&total["order_rate"], 0.5) && close(&total["visit_to_order"], 0.25),
        "{total}"
    );

    // The campaign line: V3 and its chat.
    assert_eq!(
        body["campaigns"],
        json!([{
            "campaign": "双12预热", "visits": 1, "chats": 1, "orders": 0,
            "chat_rate": 1.0, "order_rate": 0.0, "visit_to_order": 0.0,
        }]),
        "{body}"
    );
    // Day by day, for the chart: the day before has none of it.
    let res = funnel(&day, &admin, &format!("from=2026-11-29&to={DAY}")).await;
    let two: Value = res.json().await.unwrap();
    assert_eq!(
        two["days"],
        json!([
            { "day": "2026-11-29", "visits": 0, "chats": 0, "orders": 0 },
            { "day": DAY, "visits": 4, "chats": 2, "orders": 1 },
        ]),
        "{two}"
    );
    // Another day has none of it.
    let res = funnel(&day, &admin, "from=2026-11-29&to=2026-11-29").await;
    let other: Value = res.json().await.unwrap();
    assert_eq!(other["rows"].as_array().unwrap().len(), 1, "{other}");
    assert_eq!(row(&other, Value::Null)["visits"], 0);

    // The same rollups after a rebuild from the outbox.
    let store = day.app.state.store.clone();
    let funnel_rows = |rows: Vec<(String, String, String, String, String, i64)>| -> Vec<_> {
        rows.into_iter()
            .filter(|r| xiaoer::domain::funnel::is_funnel_counter(&r.4))
            .collect()
    };
    let before = funnel_rows(store.analytics_rollups(DAY, DAY).await.unwrap());
    assert!(
        before
            .iter()
            .any(|r| r.3 == "search" && r.4 == "src_orders:search" && r.5 == 1),
        "{before:?}"
    );
    let settings = day.app.settings.clone();
    let _dir = day.app.stop().await;
    let out = crate::cli::xiaoer(&settings, &["analytics", "rebuild"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = xiaoer::startup::open_store(&settings).await.unwrap();
    assert_eq!(
        funnel_rows(store.analytics_rollups(DAY, DAY).await.unwrap()),
        before
    );
    store.close().await;
}

async fn report(day: &Day, query: &str) -> reqwest::Response {
    day.app
        .staff_get(
            &day.admin,
            &format!("/api/v1/staff/analytics/report?from={DAY}&to={DAY}&{query}"),
        )
        .await
}

/// Source as a dimension of the conversation reports, on the same script:
/// search has c2's chat (asked, ordered), ads c3's (asked, no order), and
/// "none" the stray chat with V1's key and the 09:01 chat without one
/// (neither asked anything).
#[tokio::test]
async fn conversation_reports_split_by_how_the_buyer_came() {
    let day = spawn_day().await;
    script(&day).await;
    let res = report(
        &day,
        "metrics=conversations,inquiries,converted_24h,conversion_rate_24h&by=source",
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    let rows: Vec<(&str, &Value, &Value, &Value, &Value)> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let v = &r["values"];
            (
                r["key"].as_str().unwrap(),
                &v["conversations"],
                &v["inquiries"],
                &v["converted_24h"],
                &v["conversion_rate_24h"],
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("ads", &json!(1.0), &json!(1.0), &json!(0.0), &json!(0.0)),
            ("none", &json!(2.0), &json!(0.0), &json!(0.0), &Value::Null),
            ("search", &json!(1.0), &json!(1.0), &json!(1.0), &json!(1.0)),
        ],
        "{body}"
    );

    // A source as a filter: by day, and in the conversation export.
    let one_day = |body: &Value| body["rows"][0]["values"]["conversations"].clone();
    let res = report(&day, "metrics=conversations&by=day&source=none").await;
    assert_eq!(one_day(&res.json().await.unwrap()), json!(2.0));
    let res = report(&day, "metrics=conversations&by=day&source=search").await;
    assert_eq!(one_day(&res.json().await.unwrap()), json!(1.0));
    // Without a source the report reads the rollups not kept apart by source:
    // the same four chats.
    let res = report(&day, "metrics=conversations&by=day").await;
    assert_eq!(one_day(&res.json().await.unwrap()), json!(4.0));
    let res = day
        .app
        .staff_get(
            &day.admin,
            &format!("/api/v1/staff/analytics/conversations.csv?from={DAY}&to={DAY}&source=ads"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count(), 2, "the header and c3's chat: {csv}");

    // By hour of the day: c2 (08:46), the stray chat (08:49) and c3 (08:56)
    // started at 8, the chat without a visit at 9.
    let res = report(&day, "metrics=conversations,engaged,handoffs&by=hour").await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    let hours: Vec<(&Value, &Value, &Value, &Value)> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                &r["key"],
                &r["label"],
                &r["values"]["conversations"],
                &r["values"]["engaged"],
            )
        })
        .collect();
    assert_eq!(
        hours,
        [
            (&json!("08"), &json!("08:00"), &json!(3.0), &json!(2.0)),
            (&json!("09"), &json!("09:00"), &json!(1.0), &json!(0.0)),
        ],
        "{body}"
    );
    for query in [
        "metrics=csat_avg&by=hour",
        "metrics=conversations&by=hour&source=ads",
        "metrics=conversations&by=source,hour",
    ] {
        let res = report(&day, query).await;
        assert_eq!(res.status(), 400, "{query}");
        assert_eq!(
            error_code(&res.json::<Value>().await.unwrap()),
            "report_not_by_hour",
            "{query}"
        );
    }

    // Agent time belongs to no source: a report by source has none of it.
    let res = report(&day, "metrics=online_time_ms&by=source").await;
    let body: Value = res.json().await.unwrap();
    for row in body["rows"].as_array().unwrap() {
        assert!(
            row["values"]["online_time_ms"]
                .as_f64()
                .is_none_or(|v| v == 0.0),
            "{body}"
        );
    }

    for query in [
        "metrics=conversations&by=day&source=weibo",
        "metrics=conversations&by=day&source=SEARCH",
    ] {
        let res = report(&day, query).await;
        assert_eq!(res.status(), 400, "{query}");
        assert_eq!(
            error_code(&res.json::<Value>().await.unwrap()),
            "invalid_report_source"
        );
    }
}

#[tokio::test]
async fn only_admins_see_the_funnel_and_a_bad_range_is_refused() {
    let day = spawn_day().await;
    for who in [&day.supervisor, &day.li] {
        let res = funnel(&day, who, &format!("from={DAY}&to={DAY}")).await;
        assert_eq!(res.status(), 403);
        assert_eq!(
            error_code(&res.json::<Value>().await.unwrap()),
            "report_out_of_scope"
        );
    }
    let res = funnel(&day, &day.admin, &format!("from={DAY}&to=2026-11-01")).await;
    assert_eq!(res.status(), 400, "{}", res.text().await.unwrap());
    let res = funnel(&day, &day.admin, "from=yesterday&to=today").await;
    assert_eq!(res.status(), 400);
}

/// A visit key the page does not hold (made up, or of a visit that is over)
/// starts the chat as usual and counts nowhere.
#[tokio::test]
async fn a_chat_with_an_unknown_or_finished_visit_key_still_starts() {
    let day = spawn_day().await;
    let (app, clock) = (&day.app, &day.clock);
    clock.at(0, 0);
    let (_, key) = arrive(app, &browser(7), &format!("{SHOP}/"), None).await;
    chat_from(&day, None, "vk_not_a_real_visit_key").await;
    clock.at(40, 0);
    chat_from(&day, None, &key).await;
    day.caught_up().await;
    let res = funnel(&day, &day.admin, &format!("from={DAY}&to={DAY}")).await;
    let body: Value = res.json().await.unwrap();
    let direct = row(&body, json!("direct"));
    assert_eq!(
        (&direct["visits"], &direct["chats"]),
        (&json!(1), &json!(0)),
        "{body}"
    );
}
