//! Rotation of the data key through the real server and database: `xiaoer keys
//! rotate` (here its library call), a restart, the background re-sealing, and
//! the older key retired. Named after OWASP ASVS 5.0 11.1.1 (a key lifecycle)
//! and 11.1.2 (an inventory of what is encrypted: `storage::rekey::SEALED_COLUMNS`).

use crate::attachments::upload_png;
use crate::bot_scripted::{replying, spawn_scripted};
use crate::data_protection::{
    ACCOUNT, NICK, PAGE, QUESTION_MARK, buyer_with_sealed_data, export, raw_body,
};
use crate::helpers::{StaffLogin, TestApp, spawn_with};
use serde_json::Value;
use xiaoer::crypto::Cipher;
use xiaoer::domain::staff::Role;

/// The keys status once the server's re-sealing pass has finished.
async fn resealed(app: &TestApp, admin: &StaffLogin) -> Value {
    let mut status = Value::Null;
    for _ in 0..300 {
        status = app
            .staff_get(admin, "/api/v1/admin/data-protection/keys")
            .await
            .json()
            .await
            .unwrap();
        if status["running"] == false && status["finished_at"].is_i64() {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the re-sealing pass did not finish in 30 s: {status}");
}

const TICKET_REPLY: &str = "补发单号已登记";

/// A logistics ticket (title, order and tracking numbers) with a public reply.
async fn ticket_with_a_reply(app: &TestApp) -> String {
    let agent = app.staff("agent-keys-tk", Role::Agent).await;
    let (_admin, department) = app.ticket_desk(&agent).await;
    let res = app
        .staff_post(
            &agent,
            "/api/v1/staff/tickets",
            crate::tickets::logistics_ticket(&department),
        )
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/tickets/{id}/comments"),
            serde_json::json!({ "visibility": "public", "body": TICKET_REPLY }),
        )
        .await;
    assert_eq!(res.status(), 201);
    id
}

fn scanned(status: &Value, table: &str, column: &str) -> u64 {
    status["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["table"] == table && c["column"] == column)
        .unwrap_or_else(|| panic!("{table}.{column} in {status}"))["scanned"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn asvs_11_1_1_a_rotated_data_key_reseals_every_value_and_the_old_key_retires() {
    // Sealed values of most kinds: messages, a nickname, shop account and browsing
    // context, an unanswered question, a bot session, an attachment.
    let app = spawn_scripted(replying("摘要"), Default::default()).await;
    let (buyer, visitor_id, seq) = buyer_with_sealed_data(&app).await;
    let as_buyer = crate::helpers::Buyer {
        conversation_id: buyer.conversation_id.clone(),
        visitor_id: visitor_id.clone(),
        token: buyer.token.clone(),
    };
    upload_png(&app, &as_buyer).await;
    let ticket_id = ticket_with_a_reply(&app).await;
    let old = Cipher::load(None, &app.data_dir).unwrap();
    assert!(
        old.open(
            &raw_body(&app, &buyer.conversation_id, seq).await,
            buyer.conversation_id.as_bytes()
        )
        .is_ok()
    );
    let mut settings = app.settings.clone();
    settings.bot = false;
    let dir = app.stop().await;

    let fingerprint = xiaoer::crypto::rotate_key_file(dir.path()).unwrap();
    let app = spawn_with(dir, settings.clone(), Default::default()).await;
    let admin = app.staff("admin-keys", Role::Admin).await;
    let status = resealed(&app, &admin).await;
    assert_eq!(status["current"], fingerprint.as_str());
    assert_eq!(status["keys"].as_array().unwrap().len(), 2, "{status}");
    assert_eq!(status["remaining"], 0, "{status}");
    assert_eq!(status["unreadable"], 0, "{status}");
    for (table, column) in [
        ("events", "body"),
        ("visitors", "sealed_nickname"),
        ("visitors", "sealed_account"),
        ("visitors", "sealed_context"),
        ("unanswered_questions", "sealed_question"),
        ("unanswered_questions", "sealed_embedding"),
        ("bot_sessions", "state"),
        ("tickets", "sealed_text"),
        ("ticket_comments", "sealed_body"),
        ("ticket_events", "sealed_detail"),
    ] {
        assert!(
            scanned(&status, table, column) > 0,
            "{table}.{column}: {status}"
        );
    }
    // Only admins see it.
    let agent = app.staff("agent-keys", Role::Agent).await;
    let res = app
        .staff_get(&agent, "/api/v1/admin/data-protection/keys")
        .await;
    assert_eq!(res.status(), 403);

    // A value written after the rotation, and every old one, is under the new key.
    let res = app
        .buyer_send(&as_buyer, "after-rotation", "轮换之后的新消息")
        .await;
    assert!(res.status().is_success());
    let last: Value = res.json().await.unwrap();
    for s in 1..=last["seq"].as_i64().unwrap() {
        let body = raw_body(&app, &buyer.conversation_id, s).await;
        assert!(
            old.open(&body, buyer.conversation_id.as_bytes()).is_err(),
            "message {s} still opens with the old key"
        );
    }

    // The older key retired: everything still reads back with the new key alone.
    let dir = app.stop().await;
    assert_eq!(xiaoer::crypto::retire_old_keys(dir.path()).unwrap(), 1);
    let app = spawn_with(dir, settings, Default::default()).await;
    let admin = app.staff("admin-keys-2", Role::Admin).await;
    let status: Value = app
        .staff_get(&admin, "/api/v1/admin/data-protection/keys")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        status["keys"],
        serde_json::json!([fingerprint]),
        "nothing to re-seal"
    );
    assert!(status["started_at"].is_null(), "{status}");
    let record = export(&app, &admin, &visitor_id).await;
    assert_eq!(record["visitor"]["nickname"], NICK);
    assert_eq!(record["visitor"]["shop_account_id"], ACCOUNT);
    let ticket: Value = app
        .staff_get(&admin, &format!("/api/v1/staff/tickets/{ticket_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ticket["custom_fields"]["tracking_number"], "SF1234567890");
    assert_eq!(ticket["comments"][0]["body"], TICKET_REPLY);
    assert_eq!(record["visitor"]["context"]["current_page"], PAGE);
    let text = record["conversations"].to_string();
    assert!(text.contains(QUESTION_MARK), "{text}");
    assert!(text.contains("轮换之后的新消息"), "{text}");
    let events = app.buyer_events(&as_buyer, 0).await;
    assert!(
        Value::Array(events)
            .to_string()
            .contains("轮换之后的新消息"),
        "the buyer's history opens"
    );
}
