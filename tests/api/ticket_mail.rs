//! Ticket reminders by e-mail through a real SMTP server (PyPI's aiosmtpd, in
//! a Python process): the message it received is read back (recipient,
//! subject, the link to the ticket in the console).

use crate::helpers::{StaffLogin, TestApp, error_code, spawn_app};
use crate::tickets::{chrono_now, logistics_ticket};
use crate::webhooks::python;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use xiaoer::domain::staff::Role;

pub(crate) struct SmtpServer {
    _child: Child,
    pub(crate) port: u16,
    out: PathBuf,
}

impl SmtpServer {
    pub(crate) async fn start(dir: &Path) -> SmtpServer {
        let out = dir.join(format!("mail-{}.jsonl", uuid::Uuid::new_v4().simple()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_receiver.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python runs the SMTP server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the SMTP server starts (is PyPI's aiosmtpd installed? scripts/test.sh sets XIAOER_TEST_PYTHON)")
            .unwrap()
            .expect("the SMTP server prints its port");
        let port = line
            .strip_prefix("listening on ")
            .expect("port line")
            .parse()
            .unwrap();
        SmtpServer {
            _child: child,
            port,
            out,
        }
    }

    pub(crate) fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub(crate) async fn wait_for(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.received();
            if done(&got) {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; received {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl TestApp {
    pub(crate) async fn use_smtp(&self, admin: &StaffLogin, port: u16) {
        let res = self
            .staff_put(
                admin,
                "/api/v1/admin/smtp",
                json!({ "host": "127.0.0.1", "port": port, "tls": "none",
                        "username": null, "from_address": "店小二 <kefu@shop.example>" }),
            )
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }

    pub(crate) async fn mail_me(&self, staff: &StaffLogin, prefs: Value) {
        let res = self
            .staff_put(staff, "/api/v1/staff/me/notifications", prefs)
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
}

fn to(mail: &Value) -> &str {
    mail["rcpt_tos"][0].as_str().unwrap()
}

#[tokio::test]
async fn a_ticket_given_to_an_agent_emails_them_a_link_once() {
    let app = spawn_app().await;
    let smtp = SmtpServer::start(&app.data_dir).await;
    let agent = app.staff("agent-mail", Role::Agent).await;
    let (admin, department) = app.ticket_desk(&agent).await;
    app.use_smtp(&admin, smtp.port).await;
    app.mail_me(&agent, json!({ "email": "li@shop.example" }))
        .await;

    let mut body = logistics_ticket(&department);
    body["assignee_id"] = json!(agent.id);
    let res = app.staff_post(&admin, "/api/v1/staff/tickets", body).await;
    assert_eq!(res.status(), 201);
    let ticket: Value = res.json().await.unwrap();
    let (id, number) = (
        ticket["id"].as_str().unwrap(),
        ticket["number"].as_str().unwrap(),
    );
    let mails = smtp
        .wait_for("the assignment mail", |m| !m.is_empty())
        .await;
    let mail = &mails[0];
    assert_eq!(to(mail), "li@shop.example");
    assert_eq!(mail["mail_from"], "kefu@shop.example");
    let subject = mail["subject"].as_str().unwrap();
    assert!(
        subject.contains(number) && subject.contains("工单已分配给您"),
        "{subject}"
    );
    let link = format!("http://{}/console/#/tickets/{id}", app.addr);
    assert!(mail["body"].as_str().unwrap().contains(&link), "{mail}");

    // The event delivered again (at least once) sends nothing twice.
    let events = app.state.store.outbox_after(0, 10_000).await.unwrap();
    let created = events
        .iter()
        .find(|e| e.type_name() == "ticket.created")
        .unwrap();
    // Once the subscriber has recorded its send (the mail reaches the server
    // just before): redelivered earlier, the event would race the first send.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !app
        .state
        .store
        .mail_was_sent(&created.id, &agent.id)
        .await
        .unwrap()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the send was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.state.ticket_mail.on_event(created).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 1, "one mail per event and recipient");
}

#[tokio::test]
async fn an_sla_escalation_emails_the_supervisor_and_respects_who_turned_it_off() {
    let app = spawn_app().await;
    let smtp = SmtpServer::start(&app.data_dir).await;
    let agent = app.staff("agent-esc", Role::Agent).await;
    let supervisor = app.staff("super-esc", Role::Supervisor).await;
    let (admin, department) = app.ticket_desk(&agent).await;
    app.use_smtp(&admin, smtp.port).await;
    app.mail_me(
        &agent,
        json!({ "email": "agent@shop.example", "email_on": { "sla_escalation": false } }),
    )
    .await;
    app.mail_me(&supervisor, json!({ "email": "boss@shop.example" }))
        .await;
    let mut body = logistics_ticket(&department);
    body["assignee_id"] = json!(agent.id);
    let res = app.staff_post(&agent, "/api/v1/staff/tickets", body).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A colleague from elsewhere watches it: they hear of it too.
    let watcher = app.staff("watcher-esc", Role::Agent).await;
    app.mail_me(&watcher, json!({ "email": "watch@shop.example" }))
        .await;
    let res = app
        .staff_put(
            &agent,
            &format!("/api/v1/staff/tickets/{id}/watchers/{}", watcher.id),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // The ticket stays with its creator: no assignment mail to oneself.
    let report = app
        .state
        .tickets
        .sweep(chrono_now() + 3 * 86_400_000)
        .await
        .unwrap();
    assert_eq!(report.escalated, 1);
    smtp.wait_for("the escalation mails", |m| m.len() >= 2)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut mails = smtp.received();
    mails.sort_by_key(|m| to(m).to_owned());
    let recipients: Vec<&str> = mails.iter().map(to).collect();
    assert_eq!(
        recipients,
        ["boss@shop.example", "watch@shop.example"],
        "the supervisor and the watcher; not the agent, who turned escalations off"
    );
    assert!(
        mails[0]["subject"]
            .as_str()
            .unwrap()
            .contains("工单超时升级")
    );
    assert!(
        mails[0]["body"]
            .as_str()
            .unwrap()
            .contains(&format!("/console/#/tickets/{id}"))
    );
}

#[tokio::test]
async fn smtp_settings_and_preferences_refuse_bad_input_and_hide_the_password() {
    let app = spawn_app().await;
    let admin = app.staff("admin-smtp", Role::Admin).await;
    let agent = app.staff("agent-smtp", Role::Agent).await;
    let good = json!({ "host": "smtp.shop.example", "port": 465, "tls": "tls",
                       "username": "kefu@shop.example", "password": "s3cret-app-pw",
                       "from_address": "kefu@shop.example" });
    let res = app
        .staff_put(&admin, "/api/v1/admin/smtp", good.clone())
        .await;
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["password_set"], true);
    assert!(!view.to_string().contains("s3cret-app-pw"));

    for (field, value) in [
        ("port", json!(0)),
        ("host", json!("smtp shop")),
        ("from_address", json!("nobody")),
    ] {
        let mut bad = good.clone();
        bad[field] = value;
        let res = app.staff_put(&admin, "/api/v1/admin/smtp", bad).await;
        assert_eq!(res.status(), 400, "{field}");
        assert_eq!(
            error_code(&res.json().await.unwrap()),
            "invalid_smtp_settings"
        );
    }
    let mut bad_tls = good.clone();
    bad_tls["tls"] = json!("ssl3");
    let res = app.staff_put(&admin, "/api/v1/admin/smtp", bad_tls).await;
    assert_eq!(res.status(), 400);
    let res = app
        .staff_put(&agent, "/api/v1/admin/smtp", good.clone())
        .await;
    assert_eq!(res.status(), 403);

    // A password left out stays; nothing above changed what is stored.
    let mut keep = good.clone();
    keep.as_object_mut().unwrap().remove("password");
    keep["port"] = json!(587);
    keep["tls"] = json!("starttls");
    let res = app.staff_put(&admin, "/api/v1/admin/smtp", keep).await;
    assert_eq!(res.json::<Value>().await.unwrap()["password_set"], true);
    let view: Value = app
        .staff_get(&admin, "/api/v1/admin/smtp")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (view["port"].as_i64(), view["tls"].as_str()),
        (Some(587), Some("starttls"))
    );
    let (_, password) = app.state.store.smtp_settings().await.unwrap().unwrap();
    assert_eq!(password.as_deref(), Some("s3cret-app-pw"));

    let res = app
        .staff_put(
            &agent,
            "/api/v1/staff/me/notifications",
            json!({ "email": "li at shop" }),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(&res.json().await.unwrap()), "invalid_email");
    let prefs: Value = app
        .staff_get(&agent, "/api/v1/staff/me/notifications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(prefs["email"], Value::Null, "nothing stored");
    assert_eq!(prefs["email_on"]["assigned"], true);
}

#[tokio::test]
async fn the_daily_digest_lists_my_overdue_tickets_once_a_day() {
    let app = spawn_app().await;
    let smtp = SmtpServer::start(&app.data_dir).await;
    let agent = app.staff("agent-digest", Role::Agent).await;
    let (admin, department) = app.ticket_desk(&agent).await;
    app.use_smtp(&admin, smtp.port).await;
    app.mail_me(
        &agent,
        json!({ "email": "li@shop.example", "email_on": { "assigned": false } }),
    )
    .await;
    let mut numbers = Vec::new();
    for _ in 0..2 {
        let mut body = logistics_ticket(&department);
        body["assignee_id"] = json!(agent.id);
        let res = app.staff_post(&admin, "/api/v1/staff/tickets", body).await;
        assert_eq!(res.status(), 201);
        numbers.push(
            res.json::<Value>().await.unwrap()["number"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let later = chrono_now() + 30 * 86_400_000;
    let sent = app
        .state
        .ticket_mail
        .send_digest(later, "2026-12-31")
        .await
        .unwrap();
    assert_eq!(sent, 1);
    let mails = smtp.wait_for("the digest", |m| !m.is_empty()).await;
    assert_eq!(to(&mails[0]), "li@shop.example");
    assert!(
        mails[0]["subject"]
            .as_str()
            .unwrap()
            .contains("2 overdue tickets")
    );
    let body = mails[0]["body"].as_str().unwrap();
    assert!(numbers.iter().all(|n| body.contains(n.as_str())), "{body}");
    assert!(body.contains("/console/#/tickets/"));
    let again = app
        .state
        .ticket_mail
        .send_digest(later, "2026-12-31")
        .await
        .unwrap();
    assert_eq!(again, 0, "once a day");
}
