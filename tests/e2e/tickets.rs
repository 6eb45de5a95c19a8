//! Ticket pages in the browser: the mail server reminders go through (admin
//! settings) and a person's own reminder preferences (#/me), the board and a
//! merge, and out of hours a buyer's message turned into a ticket whose number
//! the widget shows; at desktop and phone width, checked against what the API
//! then holds. (A chat turned into a ticket that 物流 resolves is in roles.rs.)

use super::roles::page_is_sound;
use super::{DESKTOP, agent_logs_in};
use crate::helpers::{self, TestApp};
use crate::webdriver::{Browser, Driver, chromedriver_or_skip};
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;

async fn saved(browser: &Browser) {
    browser
        .wait_until(
            "saved",
            "document.querySelector('[data-testid=toast]').textContent === '已保存'",
        )
        .await;
    browser
        .run(
            "const t = document.querySelector('[data-testid=toast]'); t.hidden = true; t.textContent = '';",
            json!([]),
        )
        .await;
}

async fn both_widths(browser: &Browser, name: &str) {
    page_is_sound(browser, name, false).await;
    page_is_sound(browser, name, true).await;
    browser.resize(DESKTOP.0, DESKTOP.1).await;
}

async fn fill(browser: &Browser, testid: &str, text: &str) {
    let selector = format!("[data-testid={testid}]");
    let input = browser.wait_for(&selector).await;
    browser
        .run(
            &format!("document.querySelector('{selector}').value = '';"),
            json!([]),
        )
        .await;
    browser.type_into(&input, text).await;
}

/// Picks an option of a select, as a person does.
async fn choose(browser: &Browser, testid: &str, value: &str) {
    browser.wait_for(&format!("[data-testid={testid}]")).await;
    browser
        .run(
            "const s = document.querySelector(`[data-testid=${arguments[0]}]`); \
             s.value = arguments[1]; s.dispatchEvent(new Event('change'));",
            json!([testid, value]),
        )
        .await;
}

async fn api(app: &TestApp, staff: &helpers::StaffLogin, path: &str) -> Value {
    app.staff_get(staff, path).await.json().await.unwrap()
}

#[tokio::test]
async fn an_admin_sets_the_mail_server_and_an_agent_chooses_their_reminders() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = helpers::spawn_app().await;
    let admin = app.staff("admin-mail", Role::Admin).await;
    let agent = app.staff("agent-mail", Role::Agent).await;
    let driver = Driver::start(&chromedriver).await;
    let browser = driver.session(DESKTOP.0, DESKTOP.1).await;

    agent_logs_in(&browser, &app, "admin-mail").await;
    browser.goto(&app.url("/console/#/admin/mail")).await;
    fill(&browser, "smtp-host", "smtp.shop.example").await;
    fill(&browser, "smtp-port", "465").await;
    browser
        .run(
            "const s = document.querySelector('[data-testid=smtp-tls]'); s.value = 'tls';",
            json!([]),
        )
        .await;
    fill(&browser, "smtp-user", "kefu@shop.example").await;
    fill(&browser, "smtp-password", "app-password-1").await;
    fill(&browser, "smtp-from", "店小二 <kefu@shop.example>").await;
    browser.click("[data-testid=smtp-save]").await;
    saved(&browser).await;
    let smtp = api(&app, &admin, "/api/v1/admin/smtp").await;
    assert_eq!(
        (
            &smtp["host"],
            &smtp["port"],
            &smtp["tls"],
            &smtp["password_set"]
        ),
        (
            &json!("smtp.shop.example"),
            &json!(465),
            &json!("tls"),
            &json!(true)
        )
    );
    // A bad sender is refused in words, and nothing changes.
    fill(&browser, "smtp-from", "nobody").await;
    browser.click("[data-testid=smtp-save]").await;
    browser
        .wait_until(
            "the refusal",
            "document.querySelector('[data-testid=toast]').textContent.includes('邮件服务器设置不正确')",
        )
        .await;
    assert_eq!(
        api(&app, &admin, "/api/v1/admin/smtp").await["from_address"],
        "店小二 <kefu@shop.example>"
    );

    // A routing rule: parcel words make a ticket urgent and tag it.
    browser.click("[data-testid=rr-add]").await;
    fill(&browser, "rr-name", "物流加急").await;
    fill(&browser, "rr-keywords", "快递，包裹").await;
    fill(&browser, "rr-tags", "物流").await;
    browser
        .run(
            "const s = document.querySelector('[data-testid=rr-set-priority]'); s.value = 'urgent'; s.dispatchEvent(new Event('change'));",
            json!([]),
        )
        .await;
    browser.click("[data-testid=rr-save]").await;
    saved(&browser).await;
    let rules = api(&app, &admin, "/api/v1/admin/ticket-routing-rules").await;
    assert_eq!(
        rules,
        json!({ "rules": [{ "name": "物流加急", "when": { "keywords": ["快递", "包裹"] },
                            "then": { "priority": "urgent", "tags": ["物流"] } }] })
    );
    // A rule that does nothing is refused in words; the stored one stays.
    browser.click("[data-testid=rr-add]").await;
    browser
        .run(
            "const n = document.querySelectorAll('[data-testid=rr-name]'); n[1].value = '空规则'; n[1].dispatchEvent(new Event('input'));",
            json!([]),
        )
        .await;
    browser.click("[data-testid=rr-save]").await;
    browser
        .wait_until(
            "the rule's refusal",
            "document.querySelector('[data-testid=toast]').textContent.includes('至少一个动作')",
        )
        .await;
    assert_eq!(
        api(&app, &admin, "/api/v1/admin/ticket-routing-rules").await,
        rules
    );

    // An older automation (on an event this test never sees) runs first
    // until 上移 puts the new one before it.
    let res = app
        .staff_post(
            &admin,
            "/api/v1/admin/ticket-automations",
            json!({ "name": "超时加标签", "event": "sla_breached", "then": { "tags": ["超时"] } }),
        )
        .await;
    assert_eq!(res.status(), 201);
    // An automation: a ticket about a return is opened at once and tagged;
    // the ticket's history then says so, in words.
    fill(&browser, "au-name", "退货先处理").await;
    choose(&browser, "au-event", "ticket_created").await;
    fill(&browser, "au-keywords", "退货").await;
    choose(&browser, "au-set-state", "open").await;
    fill(&browser, "au-tags", "退货").await;
    browser.click("[data-testid=au-create]").await;
    browser
        .wait_until(
            "the automation in the list",
            "[...document.querySelectorAll('[data-testid=au-rule-name]')].some((n) => n.textContent === '退货先处理')",
        )
        .await;
    browser
        .run(
            "[...document.querySelectorAll('[data-testid=au-rule]')].find((r) => r.textContent.includes('退货先处理')).querySelector('[data-testid=au-up]').click();",
            json!([]),
        )
        .await;
    browser
        .wait_until(
            "the new automation moved first",
            "document.querySelector('[data-testid=au-rule-name]').textContent === '退货先处理' \
             && document.querySelector('[data-testid=toast]').textContent.includes('执行顺序已保存')",
        )
        .await;
    let automations = api(&app, &admin, "/api/v1/admin/ticket-automations").await;
    assert_eq!(automations[0]["name"], "退货先处理");
    assert_eq!(automations[1]["name"], "超时加标签");
    assert_eq!(
        automations[0]["then"],
        json!({ "state": "open", "tags": ["退货"] })
    );
    assert_eq!(automations[0]["when"], json!({ "keywords": ["退货"] }));
    let res = app
        .staff_post(
            &admin,
            "/api/v1/staff/tickets",
            json!({ "title": "我要退货" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let ticket: Value = res.json().await.unwrap();
    let id = ticket["id"].as_str().unwrap();
    // The subscriber runs after the commit: the page is opened once its
    // change is stored (the ticket is opened, up to 30 s on a loaded machine).
    // Reloading the page meanwhile never let it draw the ticket in time.
    let path = format!("/api/v1/staff/tickets/{id}");
    for _ in 0..150 {
        if api(&app, &admin, &path).await["state"] == "open" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    browser
        .goto(&app.url(&format!("/console/#/tickets/{id}")))
        .await;
    browser
        .wait_until(
            "the automation's line in the history",
            "(document.querySelector('[data-testid=tk-h-automation]')?.textContent || '').includes('自动化「退货先处理」') \
             && document.querySelector('[data-testid=tk-h-automation]').textContent.includes('处理中') \
             && document.querySelector('[data-testid=tk-state]').textContent === '处理中'",
        )
        .await;
    // Turned off in the console, it is off.
    browser.goto(&app.url("/console/#/admin/mail")).await;
    browser.wait_for("[data-testid=au-enabled]").await;
    browser.click("[data-testid=au-enabled]").await;
    saved(&browser).await;
    assert_eq!(
        api(&app, &admin, "/api/v1/admin/ticket-automations").await[0]["enabled"],
        false
    );
    // A time rule: a ticket waiting for the buyer 72 hours is closed.
    fill(&browser, "au-name", "等买家超 72 小时关闭").await;
    choose(&browser, "au-event", "idle").await;
    fill(&browser, "au-idle-hours", "72").await;
    choose(&browser, "au-state", "pending").await;
    choose(&browser, "au-set-state", "closed").await;
    browser.click("[data-testid=au-create]").await;
    browser
        .wait_until(
            "the idle rule listed with its hours in words",
            "[...document.querySelectorAll('[data-testid=au-rule]')].some((r) => r.textContent.includes('等买家超 72 小时关闭') \
               && r.textContent.includes('长时间无变化') && r.textContent.includes('72 小时无变化'))",
        )
        .await;
    let automations = api(&app, &admin, "/api/v1/admin/ticket-automations").await;
    let idle = automations.as_array().unwrap().last().unwrap();
    assert_eq!(idle["event"], "idle");
    assert_eq!(
        idle["when"],
        json!({ "idle_hours": 72, "state": "pending" })
    );
    assert_eq!(idle["then"], json!({ "state": "closed" }));

    browser.goto(&app.url("/console/#/admin/mail")).await;
    browser.wait_for("[data-testid=smtp-form]").await;
    browser.wait_for("[data-testid=rr-rule]").await;
    browser.wait_for("[data-testid=au-rule]").await;
    both_widths(&browser, "admin-mail").await;

    // The agent's own page: an address, and no e-mail for SLA warnings.
    let session = driver.session(DESKTOP.0, DESKTOP.1).await;
    agent_logs_in(&session, &app, "agent-mail").await;
    session.click("[data-testid=nav-me]").await;
    fill(&session, "notify-email", "li@shop.example").await;
    session.click("[data-testid=notify-on-sla_warning]").await;
    session.click("[data-testid=notify-save]").await;
    saved(&session).await;
    let prefs = api(&app, &agent, "/api/v1/staff/me/notifications").await;
    assert_eq!(prefs["email"], "li@shop.example");
    assert_eq!(prefs["email_on"]["sla_warning"], false);
    assert_eq!(prefs["email_on"]["sla_breach"], true);
    both_widths(&session, "my-settings").await;
    session.quit().await;
    browser.quit().await;
}

#[tokio::test]
async fn an_agent_reads_the_ticket_board_and_merges_a_duplicate_on_the_ticket_page() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = helpers::spawn_app().await;
    let agent = app.staff("agent-board", Role::Agent).await;
    let mut tickets = Vec::new();
    for (title, priority) in [("包裹丢失", "high"), ("包裹丢失（重复）", "normal")] {
        let res = app
            .staff_post(
                &agent,
                "/api/v1/staff/tickets",
                json!({ "title": title, "priority": priority, "assignee_id": agent.id }),
            )
            .await;
        assert_eq!(res.status(), 201);
        tickets.push(res.json::<Value>().await.unwrap());
    }
    let driver = Driver::start(&chromedriver).await;
    let browser = driver.session(DESKTOP.0, DESKTOP.1).await;
    agent_logs_in(&browser, &app, "agent-board").await;
    browser.goto(&app.url("/console/#/tickets")).await;

    // A saved view: the high-priority filter kept under a name, opened again
    // from 我的视图 after the list was widened.
    let rows = "document.querySelectorAll('[data-testid=ticket-list] tbody tr').length";
    browser
        .wait_until("both tickets listed", &format!("{rows} === 2"))
        .await;
    choose(&browser, "tk-filter-priority", "high").await;
    browser
        .wait_until("the high one only", &format!("{rows} === 1"))
        .await;
    fill(&browser, "tk-view-name", "高优先级").await;
    browser.click("[data-testid=tk-view-save]").await;
    browser
        .wait_until(
            "the view is saved and shown",
            "[...document.querySelectorAll('[data-testid=tk-views] option')].some(o => o.selected && o.textContent === '高优先级') \
             && !!document.querySelector('[data-testid=tk-view-delete]')",
        )
        .await;
    let saved = api(&app, &agent, "/api/v1/staff/ticket-views").await;
    assert_eq!(
        saved[0]["filters"],
        json!({ "priority": "high" }),
        "{saved}"
    );
    choose(&browser, "tk-views", "").await;
    browser
        .wait_until("every ticket again", &format!("{rows} === 2"))
        .await;
    let view_id = saved[0]["id"].as_str().unwrap();
    choose(&browser, "tk-views", view_id).await;
    browser
        .wait_until(
            "the view opens its filter",
            &format!(
                "{rows} === 1 && document.querySelector('[data-testid=ticket-list] tbody').textContent.includes('包裹丢失') \
                 && document.querySelector('[data-testid=tk-filter-priority]').value === 'high'"
            ),
        )
        .await;
    both_widths(&browser, "ticket-views").await;
    browser.click("[data-testid=tk-board-link]").await;
    browser
        .wait_until(
            "the board's counts",
            "document.querySelector('[data-testid=tk-board-state-new]')?.textContent.includes('2') \
             && document.querySelector('[data-testid=tk-board-priority-high]')?.textContent.includes('1') \
             && document.querySelector('[data-testid=tk-board-workload]')?.textContent.includes('agent-board') \
             && document.querySelector('[data-testid=tk-board-age-under_1d] .an-value')?.textContent === '2' \
             && document.querySelector('[data-testid=tk-board-age-over_7d] .an-value')?.textContent === '0'",
        )
        .await;
    both_widths(&browser, "ticket-board").await;

    // A supervisor gives the agent a ticket: the bell rings without a reload,
    // and the reminder opens the ticket and is read.
    let supervisor = app.staff("super-board", Role::Supervisor).await;
    let res = app
        .staff_post(
            &supervisor,
            "/api/v1/staff/tickets",
            json!({ "title": "发票抬头要改", "priority": "normal", "assignee_id": agent.id }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let given: Value = res.json().await.unwrap();
    browser
        .wait_until(
            "the bell rings",
            "document.querySelector('[data-testid=bell-count]')?.hidden === false \
             && document.querySelector('[data-testid=bell-count]').textContent === '1'",
        )
        .await;
    browser.click("[data-testid=bell]").await;
    browser.wait_for("[data-testid=bell-item]").await;
    let text = browser
        .run(
            "return document.querySelector('[data-testid=bell-item]').textContent;",
            json!([]),
        )
        .await;
    let number = given["number"].as_str().unwrap();
    assert_eq!(text, format!("工单 {number} 已分配给您"));
    page_is_sound(&browser, "bell", true).await;
    browser.resize(DESKTOP.0, DESKTOP.1).await;
    browser.click("[data-testid=bell-item]").await;
    browser
        .wait_until(
            "the ticket opens and the reminder is read",
            &format!(
                "location.hash === '#/tickets/{}' && document.querySelector('[data-testid=tk-state]') \
                 && document.querySelector('[data-testid=bell-count]').hidden === true",
                given["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(
        api(&app, &agent, "/api/v1/staff/me/bell").await["unread"],
        0
    );

    // The duplicate goes into the first ticket by its number.
    let (keep, duplicate) = (&tickets[0], &tickets[1]);
    browser
        .goto(&app.url(&format!(
            "/console/#/tickets/{}",
            duplicate["id"].as_str().unwrap()
        )))
        .await;
    fill(&browser, "tk-merge-into", keep["number"].as_str().unwrap()).await;
    browser.click("[data-testid=tk-merge-submit]").await;
    browser
        .wait_until(
            "closed as merged, linked to the kept ticket",
            "document.querySelector('[data-testid=tk-state]')?.textContent === '已关闭' \
             && document.querySelector('[data-testid=tk-link-merged_into]')",
        )
        .await;
    both_widths(&browser, "ticket-merged").await;
    browser.click("[data-testid=tk-link-merged_into]").await;
    browser
        .wait_until(
            "the kept ticket names the duplicate",
            "document.querySelector('[data-testid=tk-link-merged_from]')",
        )
        .await;
    let kept = api(
        &app,
        &agent,
        &format!("/api/v1/staff/tickets/{}", keep["id"].as_str().unwrap()),
    )
    .await;
    assert!(
        kept["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "merged_from" && h["detail"]["ticket_id"] == duplicate["id"])
    );
    browser.quit().await;
}

#[tokio::test]
async fn out_of_hours_a_buyers_message_becomes_a_ticket_whose_number_the_widget_shows() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = helpers::spawn_app().await;
    let admin = app.staff("admin-ooh", Role::Admin).await;
    // Today is a holiday of the shop: nobody is in.
    let res = app
        .client
        .put(app.url("/api/v1/admin/shop-settings"))
        .bearer_auth(&admin.token)
        .json(
            &json!({ "shop_name": "小二的店", "service_hours": "09:00-18:00",
                       "utc_offset_minutes": 480, "holidays": [helpers::today_in_beijing()] }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let driver = Driver::start(&chromedriver).await;
    let buyer = driver.session(DESKTOP.0, DESKTOP.1).await;
    super::open_widget(&buyer, &app).await;
    let input = buyer.wait_for("[data-testid=input]").await;
    buyer.type_into(&input, "有人在吗").await;
    buyer.click("[data-testid=send]").await;
    buyer.click("[data-testid=handoff]").await;
    let input = buyer.wait_for("[data-testid=input]").await;
    buyer
        .type_into(&input, "我的包裹丢了，订单 XE20261101002，麻烦尽快处理")
        .await;
    buyer.click("[data-testid=send]").await;

    let mut list = Value::Null;
    // Up to 30 s: the ticket comes from a subscriber, behind the whole suite.
    for _ in 0..600 {
        list = api(&app, &admin, "/api/v1/staff/tickets").await;
        if list.as_array().is_some_and(|l| !l.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(list[0]["source"], "out_of_hours", "{list}");
    let number = list[0]["number"].as_str().unwrap().to_owned();
    // The chat tells the buyer the number, and 我的工单 lists it.
    buyer
        .wait_until(
            "the ticket's number in the chat",
            &format!(
                "[...document.querySelectorAll('ol.log li.msg')].some(li => li.textContent.includes({number:?}))"
            ),
        )
        .await;
    buyer.click("[data-testid=my-tickets-toggle]").await;
    buyer
        .wait_until(
            "the ticket under 我的工单",
            &format!(
                "document.querySelector('[data-testid=my-ticket-{number}] [data-testid=my-ticket-number]')?.textContent === {number:?}"
            ),
        )
        .await;
    both_widths(&buyer, "buyer-out-of-hours-ticket").await;
    buyer.quit().await;
}
