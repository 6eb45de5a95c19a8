use crate::attachments::walk;
use crate::helpers::{backend_is_postgres, spawn_app};
use serde_json::json;
use xiaoer::domain::staff::Role;

const NAME: &str = "欧阳娜娜";
const PHONE: &str = "13912345678";
const ADDRESS: &str = "浙江省杭州市西湖区文三路 478 号";
const SECRET_TEXT: &str = "我的身份证号是 330106199001011234";

/// Every byte the database and the data dir hold: on SQLite every file of the
/// data dir (database, WAL, attachments, index, demo store); on PostgreSQL every
/// table's rows as text, plus the data dir.
pub(crate) async fn raw_database_bytes(app: &crate::helpers::TestApp) -> Vec<u8> {
    let mut out = Vec::new();
    for file in walk(&app.data_dir) {
        out.extend(std::fs::read(&file).unwrap_or_default());
    }
    if backend_is_postgres() {
        use sqlx::Connection;
        let url = app.settings.database_url.as_ref().unwrap().expose().clone();
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for (table,) in tables {
            let sql = format!("SELECT t::text FROM \"{table}\" t");
            let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut conn)
                .await
                .unwrap();
            for (row,) in rows {
                out.extend_from_slice(row.as_bytes());
            }
        }
    }
    out
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

    // The chat's own agent gets the data back, decrypted, on asking.
    let agent = app.staff("agent-a", Role::Agent).await;
    app.hand_to_agent(&buyer, &agent).await;
    let revealed: serde_json::Value = reveal(&app, &agent, &buyer.conversation_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(revealed["phone"], PHONE);
    assert_eq!(revealed["address"], ADDRESS);

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

async fn reveal(
    app: &crate::helpers::TestApp,
    staff: &crate::helpers::StaffLogin,
    conversation_id: &str,
) -> reqwest::Response {
    let path = format!("/api/v1/staff/conversations/{conversation_id}/reveal");
    app.staff_post(staff, &path, json!({})).await
}

/// ASVS 5.0 14.2.6 (only the minimum sensitive data is returned) and 16.3.1-3
/// (access to sensitive data recorded): staff see a buyer's name, phone and
/// address masked (139****5678); only the agent serving the chat may reveal
/// them, and each reveal is in the audit log without the values themselves.
#[tokio::test]
async fn asvs_14_2_6_staff_see_masked_pii_and_only_the_chats_own_agent_reveals_it_audited() {
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
    let agent = app.staff("agent-mask", Role::Agent).await;
    let supervisor = app.staff("lead-mask", Role::Supervisor).await;
    let km = app.staff("km-mask", Role::KnowledgeManager).await;
    let admin = app.staff("admin-mask", Role::Admin).await;
    app.hand_to_agent(&buyer, &agent).await;

    let detail_path = format!("/api/v1/staff/conversations/{}", buyer.conversation_id);
    for staff in [&agent, &supervisor] {
        let detail: serde_json::Value = app
            .staff_get(staff, &detail_path)
            .await
            .json()
            .await
            .unwrap();
        let visitor = &detail["visitor"];
        assert_eq!(visitor["phone"], "139****5678", "{detail}");
        assert_eq!(visitor["address"], "浙江省杭州市西湖区****", "{detail}");
        assert_eq!(visitor["real_name"], "欧***", "{detail}");
        assert_eq!(visitor["pii_masked"], true);
        let text = detail.to_string();
        assert!(!text.contains(PHONE) && !text.contains("文三路") && !text.contains(NAME));
    }
    // Seeing every chat is not serving this one; knowledge managers never may.
    let res = reveal(&app, &supervisor, &buyer.conversation_id).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        crate::helpers::error_code(&res.json().await.unwrap()),
        "reveal_not_your_chat"
    );
    assert_eq!(
        reveal(&app, &km, &buyer.conversation_id).await.status(),
        403
    );

    let res = reveal(&app, &agent, &buyer.conversation_id).await;
    assert_eq!(res.status(), 200);
    let revealed: serde_json::Value = res.json().await.unwrap();
    assert_eq!(revealed["phone"], PHONE);
    assert_eq!(revealed["address"], ADDRESS);
    assert_eq!(revealed["real_name"], NAME);
    assert_eq!(revealed["pii_masked"], false);

    let log: serde_json::Value = app
        .staff_get(&admin, "/api/v1/admin/audit?action=pii_revealed")
        .await
        .json()
        .await
        .unwrap();
    let records = log["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "one successful reveal: {log}");
    assert_eq!(records[0]["actor_id"], agent.id.as_str());
    assert!(
        records[0]["target"]
            .as_str()
            .unwrap()
            .contains(&buyer.conversation_id)
    );
    assert!(!log.to_string().contains(PHONE) && !log.to_string().contains(NAME));
}

/// ASVS 5.0 14.2.6 for knowledge managers: questions the bot could not answer
/// reach them without the buyer's name, phone, ID number or street address,
/// spaced phone numbers included.
#[tokio::test]
async fn asvs_14_2_6_knowledge_managers_never_see_buyer_pii_in_unanswered_questions() {
    use crate::bot_scripted::{replying, spawn_scripted};
    let app = spawn_scripted(replying("摘要"), Default::default()).await;
    let km = app.staff("km-pii", Role::KnowledgeManager).await;
    let buyer = app.shopper("demo_buyer_1").await;
    let res = app
        .client
        .put(app.url("/api/v1/visitor/profile"))
        .bearer_auth(&buyer.token)
        .json(&json!({ "real_name": NAME }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let question = format!(
        "我是{NAME}，电话 139 1234 5678，身份证 33010619900101123X，今天天气怎么样，会影响寄到{ADDRESS}吗"
    );
    let seq = app.say(&buyer, &question).await;
    app.bot_replies(&buyer, seq).await;

    let body: serde_json::Value = app
        .staff_get(&km, "/api/v1/kb/unanswered")
        .await
        .json()
        .await
        .unwrap();
    let text = body.to_string();
    assert!(text.contains("天气"), "the question was logged: {body}");
    for secret in [NAME, "5678", "330106", "文三路", "478"] {
        assert!(
            !text.contains(secret),
            "{secret} shown to a knowledge manager: {body}"
        );
    }
}

/// ASVS 5.0 13.3.2 (least privilege on secrets): the key file is owner-only
/// (0600) and the data dir holding it, the database and attachments is not
/// readable by other users, even if it was created world-readable.
#[cfg(unix)]
#[tokio::test]
async fn asvs_13_3_2_the_key_file_and_the_data_dir_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&app.data_dir.join("secret.key")), 0o600);
    assert_eq!(
        mode(&app.data_dir) & 0o077,
        0,
        "data dir {:o}",
        mode(&app.data_dir)
    );
    // A data dir and key file left world-readable are tightened at start.
    let dir = app.stop().await;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let key = dir.path().join("secret.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    xiaoer::crypto::Cipher::load(None, dir.path()).unwrap();
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(dir.path()) & 0o077, 0);
}
