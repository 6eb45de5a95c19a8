//! Who is on the shop now, in the browser: a visitor who stays on a product
//! page is invited by a rule, accepts, gets the product's card and adds it to
//! the shop's cart from the chat, then asks the bot for a suggestion and gets
//! recommended product cards; an agent watching the live visitor list sees
//! a second visitor arrive and invites them, and that visitor gets the agent's
//! greeting; in that chat the agent's product-card picker shows the products
//! recommended for the buyer and one click sends one. Screenshots go to test-artifacts/e2e/<backend>/visitors-*.png.

use super::roles::page_is_sound;
use super::{DESKTOP, PHONE, agent_logs_in, artifacts};
use crate::helpers;
use crate::webdriver::{Browser, Driver, chromedriver_or_skip};
use serde_json::json;
use std::time::Duration;
use xiaoer::domain::staff::Role;
use xiaoer::services::staff::NewStaff;

const RULE_GREETING: &str = "您好，这款商品有什么想了解的吗？";
const AGENT_GREETING: &str = "您好，我是客服小李，这件T恤今天有优惠哦";
/// Heartbeats come every 5 s: an invitation shows at the latest one beat later.
const BEATS: Duration = Duration::from_secs(30);

async fn invitation_shows(buyer: &Browser, text: &str) {
    buyer
        .wait_until_within(
            "the invitation on the shop page",
            &format!(
                "document.querySelector('[data-testid=xiaoer-invitation]:not([hidden]) [data-testid=xiaoer-invitation-text]')?.textContent === {text:?}"
            ),
            BEATS,
        )
        .await;
}

async fn enter_chat(buyer: &Browser) {
    let frame = buyer.wait_for("[data-testid=xiaoer-frame]").await;
    buyer.enter_frame(&frame).await;
    buyer
        .wait_until(
            "the widget is connected",
            "document.querySelector('[data-testid=connection]')?.dataset.state === 'online'",
        )
        .await;
}

#[tokio::test]
async fn a_rule_invites_a_visitor_who_adds_the_carded_product_and_an_agent_invites_another_live() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    // The bot is on: it answers the menu's 有什么推荐.
    let app = super::spawn_shop().await;
    let new = NewStaff::parse(
        "agent-li",
        helpers::PASSWORD,
        Some("小李"),
        Role::Agent,
        Some(5),
    )
    .unwrap();
    app.state.staff.add_user(new).await.unwrap();
    let admin = app.staff("admin-zhao", Role::Admin).await;
    let rule = json!({
        "name": "商品页停留",
        "conditions": { "page_url_contains": "sku=", "min_dwell_seconds": 2 },
        "action": { "kind": "bot", "greeting": RULE_GREETING },
        "caps": { "once_per_session": true, "per_day": 3 }
    });
    let res = app
        .staff_post(&admin, "/api/v1/admin/invitation-rules", rule)
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    let out = artifacts();
    let driver = Driver::start(&chromedriver).await;
    let agent = driver.session(DESKTOP.0, DESKTOP.1).await;
    let first = driver.session(DESKTOP.0, DESKTOP.1).await;
    let second = driver.session(PHONE.0, PHONE.1).await;

    // The agent watches the visitor list.
    agent_logs_in(&agent, &app, "agent-li").await;
    agent.click("[data-testid=nav-visitors]").await;
    agent.wait_for("[data-testid=visit-list]").await;

    // A visitor stays on a product page: the rule invites them.
    first.goto(&app.url("/demo/?sku=EB-003")).await;
    first
        .wait_until(
            "the product page",
            "document.querySelector('[data-testid=product-title]').textContent.includes('蓝牙耳机')",
        )
        .await;
    agent
        .wait_until(
            "the visitor on the agent's list, live",
            "[...document.querySelectorAll('[data-testid=visit] [data-testid=visit-page-link]')].some(a => a.href.includes('sku=EB-003'))",
        )
        .await;
    invitation_shows(&first, RULE_GREETING).await;
    first
        .screenshot(&out.join("visitors-invitation-desktop.png"))
        .await;
    first.click("[data-testid=xiaoer-invitation-accept]").await;

    // The chat opens with the greeting and the card of the product on the page;
    // its "加入购物车" puts it in the shop's cart.
    enter_chat(&first).await;
    first
        .wait_until(
            "the greeting",
            &format!("[...document.querySelectorAll('li.msg.bot')].some(li => li.textContent.includes({RULE_GREETING:?}))"),
        )
        .await;
    first
        .wait_for("[data-testid=product-card][data-sku=EB-003]")
        .await;
    first.click("[data-testid=product-card-add]").await;
    first.leave_frame().await;
    first
        .wait_until(
            "the shop's cart has the carded product",
            "document.querySelector('[data-testid=cart-count]').textContent.includes('1') && \
             !!document.querySelector('[data-testid=cart-lines] li[data-sku=EB-003]')",
        )
        .await;
    first
        .screenshot(&out.join("visitors-card-desktop.png"))
        .await;

    // The bot's greeting carries its menu: a tap on a quick-reply button is
    // the buyer's own message.
    enter_chat(&first).await;
    let suggest = "li.msg.bot [data-testid=quick-buttons] [data-testid=quick-button]:nth-child(3)";
    first
        .wait_until(
            "the menu's quick-reply buttons",
            &format!("document.querySelector({suggest:?})?.textContent === '有什么推荐'"),
        )
        .await;
    first.click(suggest).await;
    first
        .wait_until(
            "the tapped button sent as the buyer's message",
            "[...document.querySelectorAll('li.msg.you')].some(li => li.textContent.includes('有什么推荐') && !li.classList.contains('failed') && !li.classList.contains('pending'))",
        )
        .await;
    // The bot recommends with product cards: products viewed with the one in
    // the cart, not that one again.
    let recommended = first
        .wait_until_within(
            "the bot's recommended product cards",
            "(() => { const intro = [...document.querySelectorAll('li.msg.bot')].some(li => li.textContent.includes('为您推荐')); \
               const skus = [...document.querySelectorAll('[data-testid=product-card]')].map(c => c.dataset.sku).filter(s => s !== 'EB-003'); \
               return intro && skus.length >= 2 && skus; })()",
            BEATS,
        )
        .await;
    assert!(
        recommended.as_array().unwrap().len() <= 3,
        "three cards at most: {recommended}"
    );
    first
        .screenshot(&out.join("visitors-recommended-cards-desktop.png"))
        .await;
    first.leave_frame().await;

    // A second visitor arrives on the home page (no rule matches there); the
    // agent sees them live and invites them with a greeting of their own.
    second.goto(&app.url("/demo/")).await;
    let visit = agent
        .wait_until(
            "the second visitor on the list",
            "[...document.querySelectorAll('[data-testid=visit]')].find(li => li.querySelector('[data-testid=visit-page-link]').href.endsWith('/demo/'))?.dataset.visit",
        )
        .await;
    let visit = visit.as_str().unwrap().to_owned();
    let greeting = agent.wait_for("[data-testid=visit-greeting]").await;
    agent.type_into(&greeting, AGENT_GREETING).await;
    agent
        .click(&format!("[data-testid=visit-invite-{visit}]"))
        .await;
    agent
        .wait_until(
            "the invitation is sent",
            "document.querySelector('[data-testid=toast]:not([hidden])')?.textContent.includes('已发出邀请')",
        )
        .await;
    agent
        .screenshot(&out.join("visitors-list-desktop.png"))
        .await;

    invitation_shows(&second, AGENT_GREETING).await;
    second
        .screenshot(&out.join("visitors-agent-invitation-phone.png"))
        .await;
    second.click("[data-testid=xiaoer-invitation-accept]").await;
    enter_chat(&second).await;
    second
        .wait_until(
            "the agent's greeting in the chat",
            &format!("[...document.querySelectorAll('li.msg.agent')].some(li => li.textContent.includes({AGENT_GREETING:?}))"),
        )
        .await;
    second.leave_frame().await;
    second
        .screenshot(&out.join("visitors-chat-phone.png"))
        .await;

    // The chat is the agent's: it is in their inbox.
    agent.click("[data-nav=inbox]").await;
    agent
        .wait_until_within(
            "the invited chat in the agent's list",
            "document.querySelectorAll('[data-testid=list-mine] a[data-testid^=conv-]').length === 1",
            BEATS,
        )
        .await;

    // The agent opens the chat: the product-card picker shows the products
    // recommended for this buyer, and one click sends one as a card.
    agent
        .click("[data-testid=list-mine] a[data-testid^=conv-]")
        .await;
    agent.click("[data-testid=action-product_card]").await;
    let sku = agent
        .wait_until(
            "a product recommended for this buyer",
            "document.querySelector('[data-testid=product-recommended] [data-testid=product-recommendation] [data-testid=product-card]')?.dataset.sku",
        )
        .await;
    let sku = sku.as_str().unwrap().to_owned();
    agent
        .wait_until(
            "the recommended block is titled in Chinese",
            "[...document.querySelectorAll('[data-testid=product-picker] h4')].some(h => h.textContent === '为该买家推荐')",
        )
        .await;
    agent
        .screenshot(&out.join("visitors-recommended-desktop.png"))
        .await;
    agent
        .click(&format!("[data-testid=product-recommend-{sku}]"))
        .await;
    agent
        .wait_until(
            "the recommended card in the chat",
            &format!(
                "!document.querySelector('[data-testid=product-picker]') && \
                 [...document.querySelectorAll('[data-testid=product-card][data-sku={sku:?}]')].length > 0"
            ),
        )
        .await;
    let frame = second.wait_for("[data-testid=xiaoer-frame]").await;
    second.enter_frame(&frame).await;
    second
        .wait_until(
            "the buyer gets the recommended card",
            &format!("!!document.querySelector('[data-testid=product-card][data-sku={sku:?}]')"),
        )
        .await;
    second.leave_frame().await;

    // The visitor list reads well at both widths, in Chinese, without codes.
    agent.click("[data-testid=nav-visitors]").await;
    agent.wait_for("[data-testid=visit]").await;
    page_is_sound(&agent, "visitors", false).await;
    page_is_sound(&agent, "visitors", true).await;

    for browser in [agent, first, second] {
        browser.quit().await;
    }
}

/// A buyer who opens the chat themselves on a shop page reached from an ad
/// counts in the visitor funnel: the widget names the page's visit when the
/// chat starts, and the admin's 数据报表 shows 访客漏斗 with the API's numbers
/// (the visit, the chat, the ads line). Screenshots: visitors-funnel-*.png.
#[tokio::test]
async fn a_chat_opened_on_an_ad_landing_page_shows_in_the_admins_visitor_funnel() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = helpers::spawn_app().await;
    let admin = app.staff("admin-funnel", Role::Admin).await;
    let driver = Driver::start(&chromedriver).await;
    let buyer = driver.session(DESKTOP.0, DESKTOP.1).await;
    buyer
        .goto(&app.url("/demo/?sku=TS-001&utm_source=baidu&utm_medium=cpc&utm_campaign=double12"))
        .await;
    buyer.wait_for("[data-testid=product-title]").await;
    // The page's first heartbeat starts its visit before the buyer opens the chat.
    let mut visits = 0;
    for _ in 0..600 {
        let funnel = app.state.store.outbox_after(0, 1000).await.unwrap();
        visits = funnel
            .iter()
            .filter(|e| e.type_name() == "visit.started")
            .count();
        if visits > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(visits, 1, "the shop page's heartbeat started a visit");
    buyer.click("[data-testid=xiaoer-launcher]").await;
    enter_chat(&buyer).await;
    let input = buyer.wait_for("[data-testid=input]").await;
    buyer.type_into(&input, "这件T恤有现货吗").await;
    buyer.click("[data-testid=send]").await;
    buyer
        .wait_until(
            "the message is sent",
            "[...document.querySelectorAll('li.msg.you')].some(li => li.textContent.includes('有现货吗'))",
        )
        .await;

    // The analytics subscriber is asynchronous: wait for the API to count the chat.
    let today = {
        let summary: serde_json::Value = app
            .staff_get(&admin, "/api/v1/staff/analytics/summary")
            .await
            .json()
            .await
            .unwrap();
        summary["from"].as_str().unwrap().to_owned()
    };
    let path = format!("/api/v1/staff/analytics/funnel?from={today}&to={today}");
    let mut funnel = serde_json::Value::Null;
    for _ in 0..600 {
        funnel = app.staff_get(&admin, &path).await.json().await.unwrap();
        if funnel["rows"][0]["chats"] == json!(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ads = &funnel["rows"][0];
    assert_eq!(
        (&ads["source"], &ads["visits"], &ads["chats"]),
        (&json!("ads"), &json!(1), &json!(1)),
        "{funnel}"
    );

    let console = driver.session(DESKTOP.0, DESKTOP.1).await;
    agent_logs_in(&console, &app, "admin-funnel").await;
    console.click("[data-testid=nav-analytics]").await;
    console.wait_for("[data-testid=an-funnel]").await;
    for (step, want) in [("visits", 1), ("chats", 1), ("orders", 0)] {
        let shown = console
            .run(
                &format!(
                    "return document.querySelector('[data-testid=funnel-{step}]').dataset.value"
                ),
                json!([]),
            )
            .await;
        assert_eq!(shown, json!(want.to_string()), "{step}");
    }
    let line = console
        .run(
            "return [...document.querySelectorAll('[data-testid=funnel-row-ads] td')].map(td => td.textContent)",
            json!([]),
        )
        .await;
    // 来源, 访问, 回访, 每次访问浏览页数, 每页停留, 咨询 ... 咨询率
    assert_eq!(line[0], "广告", "{line}");
    assert_eq!(
        (&line[1], &line[5], &line[8]),
        (&json!("1"), &json!("1"), &json!("100.0%")),
        "{line}"
    );
    let bar = console
        .run(
            "return document.querySelector('[data-testid=funnel-chats] .fn-fill').getBoundingClientRect().width > 0",
            json!([]),
        )
        .await;
    assert_eq!(bar, json!(true), "the chats bar is drawn");
    // The last 14 days as a chart on a real canvas, today's visit and chat in it.
    let daily = console
        .wait_until(
            "the funnel's daily chart",
            "(() => { const box = document.querySelector('[data-testid=chart-funnel]'); \
               const canvas = box && box.querySelector('canvas'); \
               return canvas && canvas.width > 0 && [box.dataset.visits, box.dataset.chats, box.dataset.orders]; })()",
        )
        .await;
    assert_eq!(daily, json!(["1", "1", "0"]), "{daily}");
    // The ad's campaign has its own line.
    let campaign = console
        .run(
            "return [...document.querySelectorAll('[data-testid=funnel-campaign][data-campaign=double12] td')].map(td => td.textContent)",
            json!([]),
        )
        .await;
    assert_eq!(
        campaign,
        json!(["double12", "1", "1", "0", "100.0%", "0.0%", "0.0%"]),
        "{campaign}"
    );
    let out = artifacts();
    console
        .run(
            "document.querySelector('[data-testid=an-funnel]').scrollIntoView();",
            json!([]),
        )
        .await;
    console
        .screenshot(&out.join("visitors-funnel-desktop.png"))
        .await;
    page_is_sound(&console, "visitors-funnel", true).await;
    console.resize(DESKTOP.0, DESKTOP.1).await;

    // Beside the chat: the visit it was opened from, with its pages in order.
    let id = app
        .state
        .store
        .outbox_after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.type_name() == "conversation.attributed")
        .and_then(|e| e.conversation_id)
        .expect("the chat was attributed to its visit");
    console
        .goto(&app.url(&format!("/console/?zh#/inbox/{id}")))
        .await;
    console
        .wait_until(
            "the chat's visit beside it",
            "document.querySelector('[data-testid=chat-visit]')?.dataset.source === 'ads'",
        )
        .await;
    let shown = console
        .run(
            "return [document.querySelector('[data-testid=chat-visit-source]').textContent, \
             document.querySelector('[data-testid=chat-visit-before]').textContent, \
             [...document.querySelectorAll('[data-testid=visit-path-page] a')].map(a => a.href)]",
            json!([]),
        )
        .await;
    assert!(
        shown[0].as_str().unwrap().starts_with("广告 · 新访客"),
        "{shown}"
    );
    assert_eq!(shown[1], "咨询前浏览 1 页", "{shown}");
    assert!(
        shown[2][0].as_str().unwrap().contains("sku=TS-001"),
        "{shown}"
    );
    console
        .wait_until(
            "the buyer's profile beside the chat",
            "!!document.querySelector('[data-testid=portrait] .portrait-line')",
        )
        .await;
    let portrait = console
        .run(
            "return document.querySelector('[data-testid=portrait]').textContent",
            json!([]),
        )
        .await;
    assert!(!portrait.as_str().unwrap().contains("null"), "{portrait}");
    console
        .screenshot(&out.join("visitors-chat-visit-desktop.png"))
        .await;
}

/// The one rule the admin's API lists.
async fn the_rule(app: &helpers::TestApp, admin: &helpers::StaffLogin) -> serde_json::Value {
    let rules: serde_json::Value = app
        .staff_get(admin, "/api/v1/admin/invitation-rules")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rules.as_array().map(Vec::len), Some(1), "{rules}");
    rules[0].clone()
}

/// An admin adds a proactive invitation rule in the console, edits it (the
/// form shows the rule's values, saving keeps the same rule) and switches it
/// off and on again; the list and the API agree at each step, and the page
/// reads well at both widths. Screenshots: visitors-rules-*.png.
#[tokio::test]
async fn an_admin_adds_edits_and_switches_off_an_invitation_rule_in_the_console() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let app = helpers::spawn_app().await;
    let admin = app.staff("admin-rules", Role::Admin).await;
    let driver = Driver::start(&chromedriver).await;
    let console = driver.session(DESKTOP.0, DESKTOP.1).await;
    agent_logs_in(&console, &app, "admin-rules").await;
    console.click("[data-testid=nav-visitors]").await;
    for (field, text) in [
        ("rule-name", "购物车挽留"),
        ("rule-page", "/cart"),
        ("rule-cart", "199"),
        ("rule-greeting", "购物车里的宝贝还在等您，有问题随时问我"),
    ] {
        let input = console
            .wait_for(&format!("[data-testid=rule-form] [data-testid={field}]"))
            .await;
        console.type_into(&input, text).await;
    }
    console.click("[data-testid=rule-save]").await;
    console
        .wait_until(
            "the rule listed",
            "[...document.querySelectorAll('[data-testid=rule] strong')].some(s => s.textContent === '购物车挽留')",
        )
        .await;
    let added = the_rule(&app, &admin).await;
    assert_eq!(
        added["conditions"],
        json!({ "page_url_contains": "/cart", "min_cart_cents": 19900 }),
        "{added}"
    );

    // The form takes the rule's values; a higher cart and a campaign are saved.
    console
        .click("[data-testid=rule] [data-testid=rule-edit]")
        .await;
    let shown = console
        .wait_until(
            "the form shows the rule",
            "(() => { const f = document.querySelector('[data-testid=rule-form]'); \
               return f && f.dataset.editing && ['rule-name', 'rule-page', 'rule-cart', 'rule-save'] \
                 .map(id => { const n = f.querySelector(`[data-testid=${id}]`); return n.tagName === 'BUTTON' ? n.textContent : n.value; }); })()",
        )
        .await;
    assert_eq!(shown, json!(["购物车挽留", "/cart", "199", "保存修改"]));
    console
        .run(
            "document.querySelector('[data-testid=rule-cart]').value = '299'; \
             document.querySelector('[data-testid=rule-campaign]').value = 'double12';",
            json!([]),
        )
        .await;
    console.click("[data-testid=rule-save]").await;
    console
        .wait_until(
            "the edit saved and the form back to adding",
            "document.querySelector('[data-testid=toast]:not([hidden])')?.textContent.includes('规则已保存') && \
             document.querySelector('[data-testid=rule-form]')?.dataset.editing === ''",
        )
        .await;
    let edited = the_rule(&app, &admin).await;
    assert_eq!(edited["id"], added["id"], "the same rule");
    assert_eq!(
        edited["conditions"],
        json!({ "page_url_contains": "/cart", "min_cart_cents": 29900, "utm_campaign": "double12" }),
        "{edited}"
    );

    // Off, then on again: the list says so, the rule is otherwise unchanged.
    let toggled_to = |label: &str, off: bool| {
        format!(
            "document.querySelector('[data-testid=rule] [data-testid=rule-toggle]')?.textContent === '{label}' && \
             [...document.querySelectorAll('[data-testid=rule] .tag')].some(t => t.textContent === '已停用') === {off}"
        )
    };
    console
        .click("[data-testid=rule] [data-testid=rule-toggle]")
        .await;
    console
        .wait_until("the rule shown off", &toggled_to("启用", true))
        .await;
    let off = the_rule(&app, &admin).await;
    assert_eq!(off["enabled"], false);
    assert_eq!(off["conditions"], edited["conditions"]);
    page_is_sound(&console, "visitors-rules", false).await;
    page_is_sound(&console, "visitors-rules", true).await;
    console.resize(DESKTOP.0, DESKTOP.1).await;
    console
        .click("[data-testid=rule] [data-testid=rule-toggle]")
        .await;
    console
        .wait_until("the rule shown on", &toggled_to("停用", false))
        .await;
    assert_eq!(the_rule(&app, &admin).await["enabled"], true);
    console.quit().await;
}
