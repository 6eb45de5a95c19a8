//! Admin, agent and supervisor pages at desktop and phone width, without the
//! bot: each walks its main task, then the page must fit (no sideways scroll),
//! offer 44 px tap targets on a phone, and show no raw codes in Chinese.

use super::{DESKTOP, PHONE, agent_logs_in, artifacts, open_widget, raw_codes_visible};
use crate::helpers::{self, StaffLogin, TestApp};
use crate::webdriver::{Browser, Driver, chromedriver_path};
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;

/// What a page must hold at any width, checked in the browser; screenshot saved.
async fn page_is_sound(browser: &Browser, name: &str, phone: bool) {
    let width = if phone { PHONE } else { DESKTOP };
    browser.resize(width.0, width.1).await;
    // Let the layout settle after the resize.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let size = if phone { "phone" } else { "desktop" };
    browser
        .screenshot(&artifacts().join(format!("{name}-{size}.png")))
        .await;
    let overflow = browser
        .run(
            "const d = document.documentElement; return d.scrollWidth - d.clientWidth;",
            json!([]),
        )
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "{name} at {size}: {overflow} px of sideways scroll"
    );
    let raw = browser
        .run(
            &format!(
                "const words = document.body.innerText.match(/\\b[a-z]{{2,}}_[a-z_]{{2,}}\\b/g) || []; \
                 const objects = document.body.innerText.includes('[object ') ? ['[object …]'] : []; \
                 return [...{}, ...words, ...objects];",
                raw_codes_visible()
            ),
            json!([]),
        )
        .await;
    assert_eq!(raw, json!([]), "{name} at {size}: raw codes on the page");
    if phone {
        let small = browser
            .run(
                "return [...document.querySelectorAll('button, a, select, input')] \
                 .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden') \
                 .filter(e => { const r = e.getBoundingClientRect(); return r.width && (r.height < 44 || r.width < 44); }) \
                 .map(e => `${e.tagName} ${e.textContent.trim().slice(0, 20)} ${Math.round(e.getBoundingClientRect().width)}x${Math.round(e.getBoundingClientRect().height)}`);",
                json!([]),
            )
            .await;
        assert_eq!(
            small,
            json!([]),
            "{name} at phone width: tap targets under 44 px"
        );
    }
}

async fn both_widths(browser: &Browser, name: &str) {
    page_is_sound(browser, name, false).await;
    page_is_sound(browser, name, true).await;
    browser.resize(DESKTOP.0, DESKTOP.1).await;
}

/// So that waiting for "saved" waits for this save, not an earlier one.
async fn clear_toast(browser: &Browser) {
    browser
        .run(
            "const t = document.querySelector('[data-testid=toast]'); t.hidden = true; t.textContent = '';",
            json!([]),
        )
        .await;
}

fn chromedriver() -> Option<String> {
    let path = chromedriver_path();
    if path.is_none() {
        assert!(
            std::env::var("XIAOER_E2E_REQUIRED").is_err(),
            "chromedriver is not installed: apt-get install chromium chromium-driver"
        );
        eprintln!("SKIPPED: chromedriver is not installed");
    }
    path
}

async fn users(app: &TestApp, admin: &StaffLogin) -> Vec<Value> {
    let list: Value = app
        .staff_get(admin, "/api/v1/staff/users")
        .await
        .json()
        .await
        .unwrap();
    list.as_array().unwrap().clone()
}

#[tokio::test]
async fn an_admin_manages_accounts_groups_welcome_messages_and_shop_settings() {
    let Some(chromedriver) = chromedriver() else {
        return;
    };
    let app = helpers::spawn_app().await;
    let admin = app.staff("admin-zhao", Role::Admin).await;
    app.staff("agent-li", Role::Agent).await;
    let driver = Driver::start(&chromedriver).await;
    let browser = driver.session(DESKTOP.0, DESKTOP.1).await;
    agent_logs_in(&browser, &app, "admin-zhao").await;
    browser.click("[data-testid=nav-admin]").await;
    browser.wait_for("[data-testid=user-agent-li]").await;

    // A new account, then its role, deactivation and a password reset.
    let name = browser.wait_for("[data-testid=new-user-name]").await;
    browser.type_into(&name, "agent-wu").await;
    let display = browser.wait_for("[data-testid=new-user-display]").await;
    browser.type_into(&display, "小吴").await;
    let password = browser.wait_for("[data-testid=new-user-password]").await;
    browser.type_into(&password, helpers::PASSWORD).await;
    browser.click("[data-testid=new-user-submit]").await;
    browser.wait_for("[data-testid=user-agent-wu]").await;
    clear_toast(&browser).await;
    browser
        .run(
            "const s = document.querySelector('[data-testid=user-role-agent-wu]'); \
             s.value = 'supervisor'; s.dispatchEvent(new Event('change'));",
            json!([]),
        )
        .await;
    browser
        .wait_until(
            "the role saved",
            "document.querySelector('[data-testid=user-role-agent-wu]')?.value === 'supervisor' && !document.querySelector('[data-testid=toast]').hidden",
        )
        .await;
    browser.click("[data-testid=user-toggle-agent-li]").await;
    browser
        .wait_until(
            "agent-li deactivated",
            "document.querySelector('[data-testid=user-agent-li]')?.classList.contains('off')",
        )
        .await;
    let temp = browser.wait_for("[data-testid=user-temp-agent-wu]").await;
    browser.type_into(&temp, "temporary password 9").await;
    browser
        .click("[data-testid=user-agent-wu] form button[type=submit]")
        .await;
    browser
        .wait_until(
            "the reset confirmed",
            "document.querySelector('[data-testid=toast]').textContent.includes('密码已重置')",
        )
        .await;
    let list = users(&app, &admin).await;
    let find = |u: &str| list.iter().find(|x| x["username"] == u).unwrap().clone();
    assert_eq!(find("agent-wu")["role"], "supervisor");
    assert_eq!(find("agent-wu")["display_name"], "小吴");
    assert_eq!(find("agent-li")["active"], false);
    both_widths(&browser, "admin-users").await;

    // Skill groups: a new group and a member.
    browser.goto(&app.url("/console/#/admin/groups")).await;
    let group = browser.wait_for("[data-testid=new-group-name]").await;
    browser.type_into(&group, "售后").await;
    browser.click("[data-testid=new-group-submit]").await;
    browser.click("[data-testid=group-add-售后]").await;
    browser
        .wait_until(
            "the member listed",
            "document.querySelector('[data-testid=group-售后] .member')",
        )
        .await;
    let tab = browser
        .run(
            "return document.querySelector('[data-testid=admin-tab-groups]').textContent;",
            json!([]),
        )
        .await;
    assert_eq!(
        tab,
        json!("技能组"),
        "the tab names all groups, not the admin's own"
    );
    both_widths(&browser, "admin-groups").await;

    // Welcome messages in both languages.
    browser.goto(&app.url("/console/#/admin/welcome")).await;
    let en = browser
        .wait_for("[data-testid=welcome-new_visitor-en]")
        .await;
    browser.type_into(&en, "Welcome to our shop!").await;
    clear_toast(&browser).await;
    browser
        .click("[data-testid=welcome-save-new_visitor-en]")
        .await;
    browser
        .wait_until(
            "saved",
            "document.querySelector('[data-testid=toast]').textContent === '已保存'",
        )
        .await;
    let welcome: Value = app
        .staff_get(&admin, "/api/v1/admin/welcome-messages")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(welcome["messages"][0]["lang"], "en");
    assert_eq!(welcome["messages"][0]["text"], "Welcome to our shop!");
    both_widths(&browser, "admin-welcome").await;

    // Shop settings: a new name, hours and a holiday, in effect at once.
    browser.goto(&app.url("/console/#/admin/shop")).await;
    let hours = browser.wait_for("[data-testid=shop-hours]").await;
    browser
        .run(
            "document.querySelector('[data-testid=shop-hours]').value = '';",
            json!([]),
        )
        .await;
    browser.type_into(&hours, "08:30-21:00").await;
    let holidays = browser.wait_for("[data-testid=shop-holidays]").await;
    browser.type_into(&holidays, "2026-10-01\n2026-10-02").await;
    clear_toast(&browser).await;
    browser.click("[data-testid=shop-save]").await;
    browser
        .wait_until(
            "saved",
            "document.querySelector('[data-testid=toast]').textContent === '已保存'",
        )
        .await;
    let shop: Value = app
        .staff_get(&admin, "/api/v1/admin/shop-settings")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shop["service_hours"], "08:30-21:00");
    assert_eq!(shop["holidays"], json!(["2026-10-01", "2026-10-02"]));
    both_widths(&browser, "admin-shop").await;

    // The knowledge pages an admin also runs.
    browser.goto(&app.url("/console/#/kb")).await;
    browser.wait_for("[data-testid=kb]").await;
    both_widths(&browser, "admin-kb").await;
    browser.goto(&app.url("/console/#/kb/edit/new")).await;
    browser.wait_for("[data-testid=kb-editor]").await;
    both_widths(&browser, "admin-kb-editor").await;
    browser.quit().await;

    // The reset account must choose a new password before anything else.
    let forced = driver.session(PHONE.0, PHONE.1).await;
    forced.goto(&app.url("/console/")).await;
    forced
        .run(
            "localStorage.setItem('xiaoer.console.lang', 'zh');",
            json!([]),
        )
        .await;
    forced.goto(&app.url("/console/?zh")).await;
    let name = forced.wait_for("[data-testid=username]").await;
    forced.type_into(&name, "agent-wu").await;
    let password = forced.wait_for("[data-testid=password]").await;
    forced.type_into(&password, "temporary password 9").await;
    forced.click("[data-testid=login-submit]").await;
    let current = forced.wait_for("[data-testid=current-password]").await;
    forced.type_into(&current, "temporary password 9").await;
    let new = forced.wait_for("[data-testid=new-password]").await;
    forced.type_into(&new, "wu's own long password").await;
    page_is_sound(&forced, "password-change", true).await;
    forced.click("[data-testid=password-submit]").await;
    forced.wait_for("[data-testid=inbox]").await;
    forced.quit().await;
}

#[tokio::test]
async fn an_agent_sees_who_wrote_what_and_a_supervisor_whispers_from_the_board() {
    let Some(chromedriver) = chromedriver() else {
        return;
    };
    let app = helpers::spawn_app().await;
    let new = xiaoer::services::staff::NewStaff::parse(
        "agent-li",
        helpers::PASSWORD,
        Some("小李"),
        Role::Agent,
        Some(5),
    )
    .unwrap();
    app.state.staff.add_user(new).await.unwrap();
    let agent = login_token(&app, "agent-li").await;
    app.staff("lead-wang", Role::Supervisor).await;
    let buyer = app.start_conversation().await;
    let profile = json!({ "real_name": "欧阳娜娜", "phone": "13912345678", "address": "浙江省杭州市西湖区文三路 478 号" });
    let res = app
        .client
        .put(app.url("/api/v1/visitor/profile"))
        .bearer_auth(&buyer.token)
        .json(&profile)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    app.hand_to_agent(&buyer, &agent).await;
    app.staff_post(
        &agent,
        &format!(
            "/api/v1/staff/conversations/{}/messages",
            buyer.conversation_id
        ),
        json!({ "client_msg_id": "a-1", "body": { "type": "text", "text": "您好，我是小李" } }),
    )
    .await;
    for i in 0..30 {
        app.buyer_send(
            &buyer,
            &format!("c-{i}"),
            &format!("第 {i} 个问题：我的快递到哪了？"),
        )
        .await;
    }

    let driver = Driver::start(&chromedriver).await;
    let browser = driver.session(DESKTOP.0, DESKTOP.1).await;
    agent_logs_in(&browser, &app, "agent-li").await;
    let link = format!(
        "[data-testid=list-mine] [data-testid=conv-{}]",
        buyer.conversation_id
    );
    browser.wait_for(&link).await;
    let item = browser
        .run(
            "const a = document.querySelector(arguments[0]); return { name: a.querySelector('[data-testid=conv-name]').textContent, preview: a.querySelector('[data-testid=conv-preview]').textContent, unread: a.querySelector('[data-testid=conv-unread]')?.textContent };",
            json!([link]),
        )
        .await;
    assert_eq!(item["name"], "小明");
    assert!(
        item["preview"].as_str().unwrap().contains("第 29 个问题"),
        "{item}"
    );
    assert_eq!(item["unread"], "30");
    both_widths(&browser, "agent-inbox").await;

    browser.click(&link).await;
    browser
        .wait_until(
            "the whole history",
            "document.querySelectorAll('ol.log li.msg.buyer').length === 30",
        )
        .await;
    let mine = browser
        .run(
            "const li = document.querySelector('ol.log li.msg.agent'); return { who: li.querySelector('[data-testid=msg-who]').textContent, time: li.querySelector('[data-testid=msg-time]').textContent };",
            json!([]),
        )
        .await;
    assert!(mine["who"].as_str().unwrap().starts_with("小李"), "{mine}");
    assert!(
        mine["time"].as_str().unwrap().contains(':'),
        "a time on every message: {mine}"
    );
    browser
        .wait_until(
            "the newest message in view",
            "(() => { const l = document.querySelector('ol.log'); return l.scrollHeight - l.scrollTop - l.clientHeight < 4; })()",
        )
        .await;
    browser
        .wait_until(
            "the chat read (the list's unread count gone)",
            &format!("!document.querySelector('{link} [data-testid=conv-unread]')"),
        )
        .await;
    both_widths(&browser, "agent-chat").await;
    // ASVS 14.2.6: the buyer's phone and address are masked until the agent
    // serving the chat presses 显示完整信息 (the server audits the reveal).
    browser.wait_for("[data-testid=visitor-phone]").await;
    let shown = browser
        .run(
            "return document.querySelector('[data-testid=visitor-info]').textContent;",
            json!([]),
        )
        .await;
    let shown = shown.as_str().unwrap();
    assert!(
        shown.contains("139****5678") && !shown.contains("13912345678"),
        "{shown}"
    );
    assert!(!shown.contains("文三路"), "{shown}");
    browser.click("[data-testid=reveal-pii]").await;
    browser
        .wait_until(
            "the full phone and address after the reveal",
            "(() => { const t = document.querySelector('[data-testid=visitor-info]').textContent; return t.includes('13912345678') && t.includes('文三路'); })()",
        )
        .await;
    browser.resize(PHONE.0, PHONE.1).await;
    browser
        .wait_until(
            "the newest message still in view on a phone",
            "(() => { const l = document.querySelector('ol.log'); return l.scrollHeight - l.scrollTop - l.clientHeight < 4; })()",
        )
        .await;
    browser.resize(DESKTOP.0, DESKTOP.1).await;
    browser.click("[data-action=logout]").await;
    browser.wait_for("[data-testid=login-form]").await;

    agent_logs_in(&browser, &app, "lead-wang").await;
    browser.goto(&app.url("/console/#/board")).await;
    let row = format!("[data-testid=board-chat-{}]", buyer.conversation_id);
    browser.wait_for(&row).await;
    both_widths(&browser, "supervisor-board").await;
    browser.resize(PHONE.0, PHONE.1).await;
    browser
        .click(&format!("{row} [data-testid=board-whisper-open]"))
        .await;
    let text = browser.wait_for("[data-testid=board-whisper-text]").await;
    browser.type_into(&text, "先核对订单号").await;
    // The board refreshes every 3 s; what is typed survives it.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    page_is_sound(&browser, "supervisor-whisper", true).await;
    browser.click("[data-testid=board-whisper-send]").await;
    browser
        .wait_until(
            "the whisper form closed",
            "document.querySelector('[data-testid=board-whisper]').hidden",
        )
        .await;
    let events: Value = app
        .staff_get(
            &agent,
            &format!(
                "/api/v1/staff/conversations/{}/events?limit=500",
                buyer.conversation_id
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    let notes: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "note")
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["text"], "先核对订单号");
    browser.quit().await;
}

/// Signs an existing account in over HTTP.
async fn login_token(app: &TestApp, username: &str) -> StaffLogin {
    let res = app
        .client
        .post(app.url("/api/v1/staff/login"))
        .json(&json!({ "username": username, "password": helpers::PASSWORD }))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    StaffLogin {
        id: body["user"]["id"].as_str().unwrap().to_owned(),
        token: body["token"].as_str().unwrap().to_owned(),
    }
}

/// Answers `confirm()` with yes, so that a test can press buttons that ask.
async fn accept_confirms(browser: &Browser) {
    browser.run("window.confirm = () => true;", json!([])).await;
}

async fn entry(app: &TestApp, staff: &StaffLogin, id: &str) -> Value {
    app.staff_get(staff, &format!("/api/v1/kb/entries/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_knowledge_manager_writes_compares_restores_tests_and_archives_an_entry() {
    let Some(chromedriver) = chromedriver() else {
        return;
    };
    let app = helpers::spawn_app().await;
    let km = app.staff("km-chen", Role::KnowledgeManager).await;
    let driver = Driver::start(&chromedriver).await;
    let browser = driver.session(DESKTOP.0, DESKTOP.1).await;
    agent_logs_in(&browser, &app, "km-chen").await;
    // The console installs as an app: its service worker is active for /console/.
    browser
        .wait_until(
            "the service worker ready",
            "document.documentElement.dataset.sw === 'ready' \
             && document.documentElement.dataset.swScope.endsWith('/console/') \
             && document.querySelector('link[rel=manifest]')",
        )
        .await;

    // A new entry in a category made on the spot; the preview follows the answer.
    browser.goto(&app.url("/console/#/kb/edit/new")).await;
    let question = browser.wait_for("[data-testid=kb-question]").await;
    browser.type_into(&question, "退货运费谁出").await;
    let answer = browser.wait_for("[data-testid=kb-answer]").await;
    browser
        .type_into(
            &answer,
            "质量问题由我们承担运费，非质量问题由买家承担。详见[退货说明](https://shop.example/returns)",
        )
        .await;
    browser
        .wait_until(
            "the preview shows the link as a link",
            "document.querySelector('[data-testid=kb-preview] a')?.textContent === '退货说明'",
        )
        .await;
    let category = browser.wait_for("[data-testid=kb-new-category]").await;
    browser.type_into(&category, "售后/退货").await;
    browser.click("[data-testid=kb-add-category]").await;
    browser
        .wait_until(
            "the new category chosen",
            "document.querySelector('[data-testid=kb-category]').value === '售后/退货'",
        )
        .await;
    browser.click("[data-testid=kb-save]").await;
    browser
        .wait_until(
            "the saved draft",
            "document.querySelector('[data-testid=kb-version]')?.textContent === '草稿 · v1'",
        )
        .await;
    let id = browser
        .run("return location.hash.split('/').pop();", json!([]))
        .await
        .as_str()
        .unwrap()
        .to_owned();
    let stored = entry(&app, &km, &id).await;
    assert_eq!(stored["category"], "售后/退货");
    browser.click("[data-testid=kb-publish]").await;
    browser
        .wait_until(
            "published",
            "document.querySelector('[data-testid=kb-version]')?.textContent.startsWith('已发布')",
        )
        .await;

    // An edit: the version label follows the save (it used to stay stale).
    browser
        .run(
            "const a = document.querySelector('[data-testid=kb-answer]'); \
             a.value = '质量问题由我们承担运费。非质量问题由买家承担，运费险可抵扣。'; \
             a.dispatchEvent(new Event('input'));",
            json!([]),
        )
        .await;
    browser.click("[data-testid=kb-save]").await;
    browser
        .wait_until(
            "version 2 shown",
            "document.querySelector('[data-testid=kb-version]')?.textContent === '已发布 · v2'",
        )
        .await;
    assert_eq!(entry(&app, &km, &id).await["version"], 2);

    // The first version against the current one, then restored as version 3.
    browser.click("[data-testid=kb-diff-1]").await;
    browser
        .wait_until(
            "the diff lists the answer's lines",
            "document.querySelector('[data-testid=kb-diff] .add')?.textContent.includes('运费险可抵扣') \
             && document.querySelector('[data-testid=kb-diff] .del')?.textContent.includes('详见')",
        )
        .await;
    both_widths(&browser, "kb-editor").await;
    accept_confirms(&browser).await;
    browser.click("[data-testid=kb-rollback-1]").await;
    browser
        .wait_until(
            "version 3 shown",
            "document.querySelector('[data-testid=kb-version]')?.textContent === '已发布 · v3'",
        )
        .await;
    let restored = entry(&app, &km, &id).await;
    assert_eq!(restored["version"], 3);
    assert!(
        restored["answer"]
            .as_str()
            .unwrap()
            .contains("[退货说明](https://shop.example/returns)"),
        "{restored}"
    );
    let v3 = browser
        .run(
            "return document.querySelector('[data-testid=kb-v-3]').textContent;",
            json!([]),
        )
        .await;
    assert!(v3.as_str().unwrap().contains("恢复自 v1"), "{v3}");

    // What the bot would do with a buyer's wording: the entry is among the hits.
    browser.click("[data-testid=kb-tab-test]").await;
    let probe = browser.wait_for("[data-testid=kb-test-q]").await;
    browser.type_into(&probe, "退货的运费是谁承担").await;
    browser.click("[data-testid=kb-test-run]").await;
    browser
        .wait_until(
            "the test lists the entry",
            "[...document.querySelectorAll('[data-testid=kb-test-result] .hit a')].some(a => a.textContent === '退货运费谁出') \
             && document.querySelector('[data-testid=kb-test-verdict]')?.textContent.length > 4",
        )
        .await;
    both_widths(&browser, "kb-test").await;

    // Archived: the bot stops using it, the list says so.
    browser
        .goto(&app.url(&format!("/console/#/kb/edit/{id}")))
        .await;
    browser.wait_for("[data-testid=kb-archive]").await;
    accept_confirms(&browser).await;
    browser.click("[data-testid=kb-archive]").await;
    browser
        .wait_until(
            "archived",
            "document.querySelector('[data-testid=kb-version]')?.textContent.startsWith('已归档')",
        )
        .await;
    assert_eq!(entry(&app, &km, &id).await["status"], "archived");
    browser.goto(&app.url("/console/#/kb")).await;
    browser
        .wait_until(
            "the list shows usage and the archived status",
            &format!(
                "document.querySelector('[data-testid=kb-row-{id}]')?.textContent.includes('已归档')"
            ),
        )
        .await;
    both_widths(&browser, "kb-entries").await;
    browser.quit().await;
}

#[tokio::test]
async fn an_agent_turns_a_chat_into_a_ticket_resolves_it_and_the_buyer_sees_it_in_the_widget() {
    let Some(chromedriver) = chromedriver() else {
        return;
    };
    let app = helpers::spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let driver = Driver::start(&chromedriver).await;
    let buyer = driver.session(DESKTOP.0, DESKTOP.1).await;
    let console = driver.session(DESKTOP.0, DESKTOP.1).await;

    // The buyer writes in the widget and asks for a person; the agent takes the chat.
    open_widget(&buyer, &app).await;
    let input = buyer.wait_for("[data-testid=input]").await;
    buyer.type_into(&input, "快递三天没动了，帮我查一下").await;
    buyer.click("[data-testid=send]").await;
    buyer.click("[data-testid=handoff]").await;
    let conversation = buyer
        .wait_until(
            "the widget's conversation",
            "JSON.parse(localStorage.getItem('xiaoer.widget.v1') || '{}').conversation_id",
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    let claim = format!("/api/v1/staff/conversations/{conversation}/claim");
    let mut claimed = 0;
    for _ in 0..100 {
        claimed = app
            .staff_post(&agent, &claim, json!({}))
            .await
            .status()
            .as_u16();
        if claimed == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(claimed, 200, "the agent takes the waiting chat");

    // One click in the chat makes the ticket; the agent answers in public and resolves it.
    agent_logs_in(&console, &app, "agent-li").await;
    console
        .goto(&app.url(&format!("/console/#/inbox/{conversation}")))
        .await;
    console.click("[data-testid=action-tk_from_chat]").await;
    console
        .wait_until(
            "the new ticket's page",
            "location.hash.startsWith('#/tickets/') && document.querySelector('[data-testid=tk-heading]')",
        )
        .await;
    let comment = console.wait_for("[data-testid=tk-comment]").await;
    console.type_into(&comment, "已联系快递，明天送达").await;
    console
        .run(
            "const v = document.querySelector('[data-testid=tk-comment-visibility]'); \
             v.value = 'public'; v.dispatchEvent(new Event('change'));",
            json!([]),
        )
        .await;
    console.click("[data-testid=tk-comment-submit]").await;
    console
        .wait_until(
            "the reply listed",
            "document.querySelector('[data-testid=tk-comments]')?.textContent.includes('已联系快递')",
        )
        .await;
    console.click("[data-testid=tk-to-resolved]").await;
    console
        .wait_until(
            "the resolve button gone",
            "!document.querySelector('[data-testid=tk-to-resolved]') && document.querySelector('[data-testid=tk-to-closed]')",
        )
        .await;
    let tickets: Value = app
        .staff_get(&agent, "/api/v1/staff/tickets")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tickets[0]["state"], "resolved", "{tickets}");
    assert_eq!(tickets[0]["conversation_id"], conversation.as_str());
    let assignee = console
        .run(
            "return document.querySelector('[data-testid=tk-assignee]').textContent;",
            json!([]),
        )
        .await;
    assert_eq!(assignee, json!("agent-li"), "the owner by name, not by id");
    both_widths(&console, "ticket-detail").await;
    console.goto(&app.url("/console/#/tickets")).await;
    console
        .wait_until(
            "the list shows it resolved",
            "document.querySelector('[data-testid=ticket-state]')?.textContent === '已解决'",
        )
        .await;
    both_widths(&console, "ticket-list").await;

    // The buyer sees the status text and the public reply under 我的工单.
    buyer.click("[data-testid=my-tickets-toggle]").await;
    buyer
        .wait_until(
            "the buyer's ticket resolved with the reply",
            "document.querySelector('[data-testid=my-ticket-status]')?.textContent === '已解决' \
             && document.querySelector('[data-testid=my-ticket-reply]')?.textContent.includes('已联系快递')",
        )
        .await;
    buyer.quit().await;
    console.quit().await;
}

/// PIPL from the admin pages, and the challenge in the widget: an admin finds
/// a buyer by shop account on 数据保护, downloads the export, erases the buyer
/// after the in-page confirmation and sets a retention period; with the
/// challenge on for everyone, the widget solves it (ALTCHA, under the widget's
/// CSP) and the buyer gets a conversation.
#[tokio::test]
async fn an_admin_exports_and_erases_a_buyer_and_the_widget_solves_a_required_challenge() {
    let Some(chromedriver) = chromedriver() else {
        return;
    };
    let app = helpers::spawn_app().await;
    let admin = app.staff("admin-qian", Role::Admin).await;
    let res = app
        .client
        .post(app.url("/api/v1/conversations"))
        .json(&json!({ "identity": app.signed_identity("tb_privacy_walk"), "nickname": "小钱" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let visitor_id = res.json::<Value>().await.unwrap()["visitor_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let driver = Driver::start(&chromedriver).await;
    let browser = driver.session(DESKTOP.0, DESKTOP.1).await;
    agent_logs_in(&browser, &app, "admin-qian").await;
    browser.goto(&app.url("/console/#/admin/privacy")).await;
    let query = browser.wait_for("[data-testid=buyer-query]").await;
    browser.type_into(&query, "tb_privacy_walk").await;
    browser.click("[data-testid=buyer-find-go]").await;
    browser
        .wait_for(&format!("[data-testid=buyer-{visitor_id}]"))
        .await;
    let status = browser
        .run(
            "return fetch(document.querySelector('[data-testid=buyer-export]').href) \
             .then(r => r.json().then(j => [r.status, j.visitor.nickname]));",
            json!([]),
        )
        .await;
    assert_eq!(status, json!([200, "小钱"]), "the export downloads");
    browser.click("[data-testid=buyer-erase]").await;
    browser.wait_for("[data-testid=erase-confirm]").await;
    both_widths(&browser, "admin-privacy").await;
    browser.click("[data-testid=erase-yes]").await;
    browser.wait_for("[data-testid=buyer-erased]").await;
    let found: Value = app
        .staff_get(&admin, "/api/v1/admin/buyers?account=tb_privacy_walk")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found, json!([]), "erased");

    let days = browser.wait_for("[data-testid=retention-days]").await;
    browser.type_into(&days, "30").await;
    browser.click("[data-testid=challenge-all]").await;
    clear_toast(&browser).await;
    browser.click("[data-testid=retention-save]").await;
    browser
        .wait_until(
            "saved",
            "document.querySelector('[data-testid=toast]').textContent === '已保存'",
        )
        .await;
    let settings: Value = app
        .staff_get(&admin, "/api/v1/admin/data-protection")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        settings,
        json!({ "retention_days": 30, "challenge_all": true })
    );
    browser.quit().await;

    let buyer = driver.session(PHONE.0, PHONE.1).await;
    open_widget(&buyer, &app).await;
    buyer.quit().await;
}
