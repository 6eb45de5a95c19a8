use crate::helpers::{Buyer, TestApp, error_code, spawn_app, wav};
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89";

/// Uploads `PNG` as the buyer: the conversation's attachments path and the 201 body.
pub(crate) async fn upload_png(app: &TestApp, buyer: &Buyer) -> (String, Value) {
    let upload = format!(
        "/api/v1/conversations/{}/attachments",
        buyer.conversation_id
    );
    let res = app
        .client
        .post(app.url(&upload))
        .bearer_auth(&buyer.token)
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    (upload, res.json().await.unwrap())
}

#[tokio::test]
async fn an_image_is_uploaded_sent_and_served_only_to_participants() {
    let app = spawn_app().await;
    let agent = app.staff("agent-a", Role::Agent).await;
    let buyer = app.start_conversation().await;
    let stranger = app.start_conversation().await;
    let (upload, stored) = upload_png(&app, &buyer).await;
    let id = stored["attachment_id"].as_str().unwrap().to_owned();
    assert_eq!(stored["size"], PNG.len());

    let msg = json!({ "client_msg_id": "img-1", "body": { "type": "image", "attachment_id": id, "caption": "破损的包装" } });
    assert_eq!(app.buyer_post(&buyer, "/messages", msg).await.status(), 201);

    let own = app
        .client
        .get(app.url(&format!("{upload}/{id}")))
        .bearer_auth(&buyer.token)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(own.headers()["content-type"], "image/png");
    assert_eq!(own.headers()["x-content-type-options"], "nosniff");
    assert_eq!(own.bytes().await.unwrap().as_ref(), PNG);

    let other = app
        .client
        .get(app.url(&format!("{upload}/{id}")))
        .bearer_auth(&stranger.token)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let elsewhere = format!(
        "/api/v1/conversations/{}/attachments/{id}",
        stranger.conversation_id
    );
    let other = app
        .client
        .get(app.url(&elsewhere))
        .bearer_auth(&stranger.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        404,
        "an attachment is only served in the conversation it was shared in"
    );

    app.hand_to_agent(&buyer, &agent).await;
    let staff_path = format!(
        "/api/v1/staff/conversations/{}/attachments/{id}",
        buyer.conversation_id
    );
    let res = app.staff_get(&agent, &staff_path).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);
}

#[tokio::test]
async fn uploads_of_the_wrong_type_size_or_content_are_refused() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    let upload = app.url(&format!(
        "/api/v1/conversations/{}/attachments",
        buyer.conversation_id
    ));
    let post = |ct: &'static str, body: Vec<u8>| {
        app.client
            .post(&upload)
            .bearer_auth(&buyer.token)
            .header("content-type", ct)
            .body(body)
            .send()
    };

    let html = post("text/html", b"<script>alert(1)</script>".to_vec())
        .await
        .unwrap();
    assert_eq!(html.status(), 415);
    let fake = post("image/png", b"<script>alert(1)</script>".to_vec())
        .await
        .unwrap();
    assert_eq!(fake.status(), 400);
    assert_eq!(error_code(&fake.json().await.unwrap()), "content_mismatch");
    let empty = post("image/png", Vec::new()).await.unwrap();
    assert_eq!(empty.status(), 400);
    let mut huge = PNG.to_vec();
    huge.resize(app.settings.max_upload_bytes + 10_000, 0);
    let big = post("image/png", huge).await.unwrap();
    assert_eq!(big.status(), 413);
    assert_eq!(error_code(&big.json().await.unwrap()), "payload_too_large");
    let files = walk(&app.data_dir.join("attachments"));
    assert!(files.is_empty(), "nothing was stored: {files:?}");
}

#[tokio::test]
async fn a_message_cannot_point_at_an_attachment_from_elsewhere() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    let msg = json!({ "client_msg_id": "img-x", "body": { "type": "image", "attachment_id": "ab".repeat(32) } });
    let res = app.buyer_post(&buyer, "/messages", msg).await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "attachment_not_found"
    );
    assert!(app.buyer_events(&buyer, 0).await.is_empty());
}

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                vec![e.path()]
            }
        })
        .collect()
}

/// Nodes of a cluster share the database, not a disk: on PostgreSQL an attachment
/// uploaded through one node is served by another with its own data dir, and the
/// bytes in the database are sealed, not the picture.
#[tokio::test]
async fn on_postgres_an_attachment_uploaded_on_one_node_is_served_by_another() {
    if !crate::helpers::backend_is_postgres() {
        eprintln!("SKIPPED: attachments are shared through PostgreSQL (SQLite is one node)");
        return;
    }
    let key = "7f".repeat(32);
    let dir_a = tempfile::tempdir().unwrap();
    let mut settings = crate::helpers::test_settings(dir_a.path()).await;
    settings.encryption_key = Some(xiaoer::config::Secret::new(key));
    let a = crate::helpers::spawn_with(dir_a, settings.clone(), Default::default()).await;
    let dir_b = tempfile::tempdir().unwrap();
    settings.data_dir = dir_b.path().to_owned();
    settings.index_dir = dir_b.path().join("index");
    let b = crate::helpers::spawn_with(dir_b, settings, Default::default()).await;

    let buyer = a.start_conversation().await;
    let (upload, stored) = upload_png(&a, &buyer).await;
    let id = stored["attachment_id"].as_str().unwrap().to_owned();
    let served = b
        .client
        .get(b.url(&format!("{upload}/{id}")))
        .bearer_auth(&buyer.token)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);

    let url = a.settings.database_url.as_ref().unwrap().expose().clone();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let (sealed,): (Vec<u8>,) = sqlx::query_as("SELECT sealed FROM attachment_blobs WHERE id = $1")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        !sealed.windows(8).any(|w| w == &PNG[..8]),
        "the stored bytes are sealed, not the picture"
    );
    assert!(
        !a.data_dir.join("attachments").exists(),
        "no file on node A's disk"
    );
}

#[tokio::test]
async fn a_voice_message_is_a_recording_of_this_chat_with_its_length() {
    let app = spawn_app().await;
    let agent = app.staff("agent-a", Role::Agent).await;
    let buyer = app.start_conversation().await;
    app.hand_to_agent(&buyer, &agent).await;
    let recording = wav(1200);
    let res = app
        .upload_as(
            &buyer.conversation_id,
            &buyer.token,
            "audio/wav",
            recording.clone(),
        )
        .await;
    assert_eq!(res.status(), 201);
    let stored: Value = res.json().await.unwrap();
    let id = stored["attachment_id"].as_str().unwrap().to_owned();

    let msg = json!({ "client_msg_id": "v-1", "body": { "type": "voice", "attachment_id": id, "duration_ms": 1200 } });
    assert_eq!(app.buyer_post(&buyer, "/messages", msg).await.status(), 201);
    // The agent gets it with its length and can play it.
    let path = format!(
        "/api/v1/staff/conversations/{}/events",
        buyer.conversation_id
    );
    let events: Vec<Value> = app.staff_get(&agent, &path).await.json().await.unwrap();
    let voice = events
        .iter()
        .find(|e| e["body"]["type"] == "voice")
        .expect("the voice message");
    assert_eq!(voice["body"]["duration_ms"], 1200);
    assert_eq!(voice["body"]["attachment_id"], id.as_str());
    let played = app
        .staff_get(
            &agent,
            &format!(
                "/api/v1/staff/conversations/{}/attachments/{id}",
                buyer.conversation_id
            ),
        )
        .await;
    assert_eq!(played.status(), 200);
    assert_eq!(played.headers()["content-type"], "audio/wav");
    assert_eq!(played.bytes().await.unwrap().as_ref(), recording.as_slice());

    // Only a recording can be a voice message, of one second to one minute.
    let before = app.buyer_events(&buyer, 0).await.len();
    let (_, png) = upload_png(&app, &buyer).await;
    let png = png["attachment_id"].as_str().unwrap();
    for (body, code) in [
        (
            json!({ "type": "voice", "attachment_id": png, "duration_ms": 1000 }),
            "not_audio",
        ),
        (
            json!({ "type": "voice", "attachment_id": id, "duration_ms": 0 }),
            "bad_duration",
        ),
        (
            json!({ "type": "voice", "attachment_id": id, "duration_ms": 60_001 }),
            "bad_duration",
        ),
        (
            json!({ "type": "voice", "attachment_id": id }),
            "invalid_fields",
        ),
    ] {
        let res = app
            .buyer_post(
                &buyer,
                "/messages",
                json!({ "client_msg_id": "v-bad", "body": body.clone() }),
            )
            .await;
        assert_eq!(res.status(), 400, "{body}");
        let error: Value = res.json().await.unwrap();
        assert_eq!(error_code(&error), code, "{body}");
    }
    assert_eq!(
        app.buyer_events(&buyer, 0).await.len(),
        before,
        "nothing stored"
    );
    // A "recording" that is not one is refused at upload.
    let res = app
        .upload_as(
            &buyer.conversation_id,
            &buyer.token,
            "audio/webm",
            recording,
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(&res.json().await.unwrap()), "content_mismatch");
    let res = app
        .upload_as(
            &buyer.conversation_id,
            &buyer.token,
            "audio/ogg",
            b"<html>".to_vec(),
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_recording_of_a_type_not_allowed_or_over_the_size_limit_is_refused_and_not_stored() {
    let app = spawn_app().await;
    let admin = app.staff("admin-audio", Role::Admin).await;
    let buyer = app.start_conversation().await;
    let before = app.buyer_events(&buyer, 0).await.len();
    let upload = |content_type: &'static str, bytes: Vec<u8>| {
        app.upload_as(&buyer.conversation_id, &buyer.token, content_type, bytes)
    };

    let mut aiff = b"FORM\x00\x00\x10\x00AIFFCOMM".to_vec();
    aiff.resize(4096, 0);
    let res = upload("audio/x-aiff", aiff).await;
    assert_eq!(res.status(), 415);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "unsupported_media_type"
    );

    // One byte over the limit is refused by the attachment service, far over it
    // by the body limit: both say so the same way.
    for over in [1, 10_000] {
        let mut long = wav(1000);
        long.resize(app.settings.max_upload_bytes + over, 0);
        let res = upload("audio/wav", long).await;
        assert_eq!(res.status(), 413, "{over} bytes over the limit");
        assert_eq!(
            error_code(&res.json().await.unwrap()),
            "payload_too_large",
            "{over} bytes over the limit"
        );
    }

    assert_eq!(
        app.buyer_events(&buyer, 0).await.len(),
        before,
        "no message in the chat"
    );
    let record = crate::data_protection::export(&app, &admin, &buyer.visitor_id).await;
    assert_eq!(
        record["attachments"].as_array().unwrap().len(),
        0,
        "no attachment recorded: {}",
        record["attachments"]
    );
    let files = walk(&app.data_dir.join("attachments"));
    assert!(files.is_empty(), "no file stored: {files:?}");
}
