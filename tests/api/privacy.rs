use crate::attachments::walk;
use crate::helpers::{backend_is_postgres, spawn_app};
use serde_json::json;
use xiaoer::domain::staff::Role;

const NAME: &str = "欧阳娜娜";
const PHONE: &str = "13912345678";
const ADDRESS: &str = "浙江省杭州市西湖区文三路 478 号";
const SECRET_TEXT: &str = "我的身份证号是 330106199001011234";

/// Every byte the database holds for this test, as one blob to search.
async fn raw_database_bytes(app: &crate::helpers::TestApp) -> Vec<u8> {
    if backend_is_postgres() {
        // The rows as PostgreSQL stores them: dump every table as text.
        use sqlx::Connection;
        let url = app.settings.database_url.as_ref().unwrap().expose().clone();
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let mut out = Vec::new();
        for table in [
            "visitors",
            "conversations",
            "events",
            "staff_users",
            "attachments",
            "read_markers",
        ] {
            let sql = format!("SELECT t::text FROM {table} t");
            let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut conn)
                .await
                .unwrap();
            for (row,) in rows {
                out.extend_from_slice(row.as_bytes());
            }
        }
        out
    } else {
        let mut out = Vec::new();
        for file in ["xiaoer.db", "xiaoer.db-wal"] {
            out.extend(std::fs::read(app.data_dir.join(file)).unwrap_or_default());
        }
        out
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn personal_data_and_messages_are_not_stored_in_plaintext() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    let profile = json!({ "real_name": NAME, "phone": PHONE, "address": ADDRESS });
    let res = app
        .client
        .put(app.url("/api/v1/visitor/profile"))
        .bearer_auth(&buyer.token)
        .json(&profile)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    app.buyer_send(&buyer, "pii-1", SECRET_TEXT).await;
    let upload = format!(
        "/api/v1/conversations/{}/attachments",
        buyer.conversation_id
    );
    let res = app
        .client
        .post(app.url(&upload))
        .bearer_auth(&buyer.token)
        .header("content-type", "text/plain")
        .body(format!("收件人 {NAME} {PHONE}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    // Staff who may see the chat get the data back, decrypted.
    let agent = app.staff("agent-a", Role::Agent).await;
    app.hand_to_agent(&buyer, &agent).await;
    let detail: serde_json::Value = app
        .staff_get(
            &agent,
            &format!("/api/v1/staff/conversations/{}", buyer.conversation_id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["visitor"]["phone"], PHONE);
    assert_eq!(detail["visitor"]["address"], ADDRESS);

    let raw = raw_database_bytes(&app).await;
    assert!(raw.len() > 1000, "read the real database");
    for secret in [NAME, PHONE, ADDRESS, SECRET_TEXT] {
        assert!(
            !contains(&raw, secret),
            "plaintext {secret:?} found in the database"
        );
    }
    for file in walk(&app.data_dir.join("attachments")) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !contains(&bytes, PHONE),
            "plaintext in attachment file {file:?}"
        );
    }
}

#[tokio::test]
async fn a_phone_that_is_not_a_phone_is_refused_and_the_old_profile_kept() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    let put = |body: serde_json::Value| {
        app.client
            .put(app.url("/api/v1/visitor/profile"))
            .bearer_auth(&buyer.token)
            .json(&body)
            .send()
    };
    assert_eq!(put(json!({ "phone": PHONE })).await.unwrap().status(), 204);
    assert_eq!(
        put(json!({ "phone": "<script>" })).await.unwrap().status(),
        400
    );
    let profile = app.state.visitors.profile(&buyer.visitor_id).await.unwrap();
    assert_eq!(profile.phone.as_deref(), Some(PHONE));
}
