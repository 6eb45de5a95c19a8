//! The admin's integrations page: add a webhook endpoint (a bad URL is refused in
//! words, a good one shows its secret once), watch its deliveries arrive at a
//! real receiver, send one again; at desktop and phone width.

use crate::helpers::{TestApp, spawn_app};
use crate::webdriver::{Driver, chromedriver_or_skip};
use crate::{DESKTOP, PHONE, agent_logs_in, artifacts, raw_codes_visible};
use serde_json::json;
use xiaoer::domain::staff::Role;

/// A receiver that takes every delivery (the API suite checks signatures).
async fn receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

async fn no_horizontal_scroll(browser: &crate::webdriver::Browser) {
    let wide = browser
        .run(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
            json!([]),
        )
        .await;
    assert_eq!(wide, json!(false), "the page scrolls sideways");
}

#[tokio::test]
async fn an_admin_adds_a_webhook_and_sees_its_deliveries() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app: TestApp = spawn_app().await;
    app.staff("admin-zhao", Role::Admin).await;
    let url = receiver().await;
    let out = artifacts();
    let driver = Driver::start(&chromedriver).await;
    let admin = driver.session(DESKTOP.0, DESKTOP.1).await;
    agent_logs_in(&admin, &app, "admin-zhao").await;
    admin.click("[data-nav=integrations]").await;
    admin.wait_for("[data-testid=webhooks-empty]").await;

    // A plain-http address of another machine is refused, in words.
    let field = admin.wait_for("[data-testid=webhook-url]").await;
    admin.type_into(&field, "http://shop.example/hooks").await;
    admin.click("[data-testid=webhook-create]").await;
    admin
        .wait_until(
            "the refusal",
            "document.querySelector('[data-testid=webhook-error]').textContent.includes('https://')",
        )
        .await;
    admin
        .run(
            "document.querySelector('[data-testid=webhook-url]').value = '';",
            json!([]),
        )
        .await;
    let field = admin.wait_for("[data-testid=webhook-url]").await;
    admin.type_into(&field, &url).await;
    admin.click("[data-testid=webhook-create]").await;
    admin.wait_for("[data-testid=webhook-secret] code").await;
    let shown = admin
        .run(
            "return document.querySelector('[data-testid=webhook-secret] code').textContent;",
            json!([]),
        )
        .await;
    assert!(shown.as_str().unwrap().starts_with("whsec_"), "{shown}");
    admin
        .wait_until(
            "the endpoint is listed as on",
            "document.querySelector('[data-testid=webhooks] [data-testid=webhook-state]')?.textContent.includes('启用中')",
        )
        .await;
    admin
        .screenshot(&out.join("console-integrations-desktop.png"))
        .await;

    // Something happens in the shop: the delivery log shows it delivered.
    let buyer = app.start_conversation().await;
    let res = app.buyer_send(&buyer, "m-1", "你好").await;
    assert!(res.status().is_success());
    admin.click("[data-testid=webhook-log]").await;
    // Reload until both deliveries show (up to 30 s on a loaded machine).
    for _ in 0..150 {
        let delivered = admin
            .run(
                "return [...document.querySelectorAll('[data-testid=delivery-status]')].filter(td => td.textContent === '已送达').length;",
                json!([]),
            )
            .await;
        if delivered.as_u64().unwrap_or(0) >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        admin.run("location.reload();", json!([])).await;
        admin.wait_for("[data-testid=deliveries]").await;
    }
    admin
        .wait_until(
            "two delivered events (the chat started, the message)",
            "[...document.querySelectorAll('[data-testid=delivery-status]')].filter(td => td.textContent === '已送达').length >= 2",
        )
        .await;
    admin.click("[data-testid=delivery-replay]").await;
    admin
        .wait_until(
            "the replay notice",
            "document.querySelector('[data-testid=toast]').textContent.includes('重新发送')",
        )
        .await;
    assert_eq!(
        admin
            .run(&format!("return {};", raw_codes_visible()), json!([]))
            .await,
        json!([])
    );
    let english_words = admin
        .run(
            "return ['pending','delivered','failed','message.posted'].filter(w => document.querySelector('[data-testid=view]').innerText.includes(w));",
            json!([]),
        )
        .await;
    assert_eq!(english_words, json!([]), "no raw codes in the Chinese page");

    admin.resize(PHONE.0, PHONE.1).await;
    admin.goto(&app.url("/console/#/integrations")).await;
    admin.wait_for("[data-testid=webhooks]").await;
    no_horizontal_scroll(&admin).await;
    admin
        .screenshot(&out.join("console-integrations-phone.png"))
        .await;
    admin.quit().await;
}
