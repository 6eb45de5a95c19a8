//! Files on tickets through the real API: the buyer adds a photo to their own
//! ticket and sends it with a reply; staff who may see the ticket are served
//! it, strangers and other agents are not; an agent's file stays internal
//! until it goes with a public reply; out of hours the buyer's photo in the
//! chat goes with the ticket; erasing the buyer removes the files.

use crate::helpers::{Buyer, StaffLogin, TestApp, error_code, spawn_app};
use crate::ticket_buyer::ticket_for_buyer;
use crate::tickets::buyer_waiting_out_of_hours;
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89";

/// A second image: another file (files are stored once by content).
fn other_png() -> Vec<u8> {
    let mut bytes = PNG.to_vec();
    bytes.extend_from_slice(b"second");
    bytes
}

impl TestApp {
    async fn upload_to_ticket(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    async fn get_with(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn reply_with_files(&self, buyer: &Buyer, id: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/v1/buyer/tickets/{id}/replies")))
            .bearer_auth(&buyer.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn my_tickets(&self, buyer: &Buyer) -> Value {
        self.get_with("/api/v1/buyer/tickets", &buyer.token)
            .await
            .json()
            .await
            .unwrap()
    }

    async fn staff_ticket(&self, staff: &StaffLogin, id: &str) -> Value {
        let res = self
            .staff_get(staff, &format!("/api/v1/staff/tickets/{id}"))
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

async fn code_of(res: reqwest::Response) -> String {
    let body: Value = res.json().await.unwrap_or(Value::Null);
    error_code(&body).to_owned()
}

async fn attachment_id(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json::<Value>().await.unwrap()["attachment_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_buyers_photo_goes_with_their_reply_and_only_those_who_may_see_the_ticket_get_it() {
    let app = spawn_app().await;
    let agent = app.staff("agent-files", Role::Agent).await;
    let other_agent = app.staff("agent-files-2", Role::Agent).await;
    let admin = app.staff("admin-files", Role::Admin).await;
    let (buyer, id) = ticket_for_buyer(&app, &agent).await;
    let stranger = app.start_conversation().await;
    let buyer_files = format!("/api/v1/buyer/tickets/{id}/attachments");
    let staff_files = format!("/api/v1/staff/tickets/{id}/attachments");

    // The buyer's photo, then a reply that is the photo alone.
    let photo = attachment_id(
        app.upload_to_ticket(&buyer_files, &buyer.token, "image/png", PNG.to_vec())
            .await,
    )
    .await;
    let res = app
        .reply_with_files(&buyer, &id, json!({ "body": "", "attachments": [photo] }))
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let reply: Value = res.json().await.unwrap();
    assert_eq!(reply["attachments"][0]["id"], photo.as_str());
    assert_eq!(reply["attachments"][0]["content_type"], "image/png");

    let detail = app.staff_ticket(&agent, &id).await;
    let comment = detail["comments"].as_array().unwrap().last().unwrap();
    assert_eq!(comment["author_kind"], "buyer");
    assert_eq!(comment["attachments"][0]["id"], photo.as_str());
    assert_eq!(comment["attachments"][0]["size"], PNG.len());
    assert_eq!(detail["attachments"][0]["id"], photo.as_str());
    assert_eq!(detail["attachments"][0]["public"], true);

    // Served to the ticket's staff and its buyer, as the image it is.
    let served = app
        .get_with(&format!("{staff_files}/{photo}"), &agent.token)
        .await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);
    let own = app
        .get_with(&format!("{buyer_files}/{photo}"), &buyer.token)
        .await;
    assert_eq!(own.status(), 200);
    assert_eq!(own.bytes().await.unwrap().as_ref(), PNG);

    // Not to another buyer, nor to an agent the ticket is not for.
    let res = app
        .get_with(&format!("{buyer_files}/{photo}"), &stranger.token)
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(code_of(res).await, "ticket_not_found");
    let res = app
        .upload_to_ticket(&buyer_files, &stranger.token, "image/png", other_png())
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .get_with(&format!("{staff_files}/{photo}"), &other_agent.token)
        .await;
    assert_eq!(res.status(), 403);
    // A file of the ticket is not served under another ticket's path.
    let (_, elsewhere) = ticket_for_buyer(&app, &agent).await;
    let res = app
        .get_with(
            &format!("/api/v1/staff/tickets/{elsewhere}/attachments/{photo}"),
            &agent.token,
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(code_of(res).await, "attachment_not_found");

    // The agent's file is internal: the buyer neither sees nor gets it,
    // even after an internal comment with it...
    let scan = attachment_id(
        app.upload_to_ticket(&staff_files, &agent.token, "image/png", other_png())
            .await,
    )
    .await;
    let res = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/tickets/{id}/comments"),
            json!({ "visibility": "internal", "body": "快递面单", "attachments": [scan] }),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = app
        .get_with(&format!("{buyer_files}/{scan}"), &buyer.token)
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(code_of(res).await, "attachment_not_found");
    // ...and the buyer cannot send it as theirs.
    let res = app
        .reply_with_files(
            &buyer,
            &id,
            json!({ "body": "这张?", "attachments": [scan] }),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(code_of(res).await, "unknown_attachment");
    let mine = app.my_tickets(&buyer).await;
    let replies = &mine[0]["replies"];
    assert!(
        !replies.to_string().contains(&scan),
        "internal file reached the buyer: {replies:?}"
    );

    // A public reply with it makes it the buyer's to see.
    let res = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/tickets/{id}/comments"),
            json!({ "visibility": "public", "body": "这是快递面单", "attachments": [scan] }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .get_with(&format!("{buyer_files}/{scan}"), &buyer.token)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), other_png().as_slice());
    let mine = app.my_tickets(&buyer).await;
    let last = mine[0]["replies"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["from_staff"], true);
    assert_eq!(last["attachments"][0]["id"], scan.as_str());

    // Bad input changes nothing.
    let before = app.staff_ticket(&agent, &id).await["comments"]
        .as_array()
        .unwrap()
        .len();
    let unknown = "0".repeat(64);
    let res = app
        .reply_with_files(
            &buyer,
            &id,
            json!({ "body": "看图", "attachments": [unknown] }),
        )
        .await;
    assert_eq!(code_of(res).await, "unknown_attachment");
    let res = app
        .reply_with_files(
            &buyer,
            &id,
            json!({ "body": "看图", "attachments": vec![photo.clone(); 7] }),
        )
        .await;
    assert_eq!(code_of(res).await, "too_many_attachments");
    let res = app
        .reply_with_files(&buyer, &id, json!({ "body": " ", "attachments": [] }))
        .await;
    assert_eq!(code_of(res).await, "invalid_ticket");
    let res = app
        .upload_to_ticket(
            &buyer_files,
            &buyer.token,
            "text/html",
            b"<b>x</b>".to_vec(),
        )
        .await;
    assert_eq!(res.status(), 415);
    let res = app
        .upload_to_ticket(
            &buyer_files,
            &buyer.token,
            "image/png",
            b"<script>".to_vec(),
        )
        .await;
    assert_eq!(code_of(res).await, "content_mismatch");
    let after = app.staff_ticket(&agent, &id).await;
    assert_eq!(after["comments"].as_array().unwrap().len(), before);
    assert_eq!(after["attachments"].as_array().unwrap().len(), 2);

    // A closed ticket takes no more photos.
    let version = after["version"].as_i64().unwrap();
    let res = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/tickets/{id}/transition"),
            json!({ "to": "closed", "expected_version": version }),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = app
        .upload_to_ticket(&buyer_files, &buyer.token, "image/png", PNG.to_vec())
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(code_of(res).await, "ticket_closed");

    // The buyer's export names the files of their replies; erasing the buyer
    // removes the ticket's files.
    let export: Value = app
        .staff_get(
            &admin,
            &format!("/api/v1/admin/buyers/{}/export", buyer.visitor_id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(export["tickets"].to_string().contains(&photo));
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/admin/buyers/{}", buyer.visitor_id)))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    for file in [&photo, &scan] {
        let res = app
            .get_with(&format!("{staff_files}/{file}"), &admin.token)
            .await;
        assert_eq!(res.status(), 404, "{file} survived the erasure");
    }
}

#[tokio::test]
async fn out_of_hours_the_buyers_photo_in_the_chat_goes_with_the_ticket() {
    let app = spawn_app().await;
    let admin = app.staff("admin-ooh-files", Role::Admin).await;
    let buyer = buyer_waiting_out_of_hours(&app, &admin).await;
    // A photo opens the ticket (its caption the description); a second
    // photo is the buyer's reply on it.
    let photo = send_photo(&app, &buyer, "m-1", PNG.to_vec(), "收到的杯子碎了").await;
    let id = wait_for(&app, &admin, |t| !t.is_empty()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail = app.staff_ticket(&admin, &id).await;
    assert_eq!(detail["description"], "收到的杯子碎了");
    assert_eq!(detail["attachments"][0]["id"], photo.as_str());
    assert_eq!(detail["attachments"][0]["public"], true);
    let second = send_photo(&app, &buyer, "m-2", other_png(), "碎片").await;
    let mut detail = Value::Null;
    for _ in 0..300 {
        detail = app.staff_ticket(&admin, &id).await;
        if detail["attachments"].as_array().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(detail["attachments"][1]["id"], second.as_str());
    let comment = detail["comments"].as_array().unwrap().last().unwrap();
    assert_eq!(comment["body"], "碎片");
    assert_eq!(comment["attachments"][0]["id"], second.as_str());
    // The buyer may open both from 我的工单, and sees the reply's photo there.
    for (file, bytes) in [(&photo, PNG.to_vec()), (&second, other_png())] {
        let res = app
            .get_with(
                &format!("/api/v1/buyer/tickets/{id}/attachments/{file}"),
                &buyer.token,
            )
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    let mine = app.my_tickets(&buyer).await;
    let reply = mine[0]["replies"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(reply["attachments"][0]["id"], second.as_str());
}

/// The buyer uploads an image into the chat and sends it with a caption.
async fn send_photo(
    app: &TestApp,
    buyer: &Buyer,
    msg_id: &str,
    bytes: Vec<u8>,
    caption: &str,
) -> String {
    let res = app
        .upload_as(&buyer.conversation_id, &buyer.token, "image/png", bytes)
        .await;
    let photo = attachment_id(res).await;
    let res = app
        .buyer_post(
            buyer,
            "/messages",
            json!({ "client_msg_id": msg_id, "body": { "type": "image", "attachment_id": photo, "caption": caption } }),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    photo
}

async fn wait_for(
    app: &TestApp,
    staff: &StaffLogin,
    done: impl Fn(&Vec<Value>) -> bool,
) -> Vec<Value> {
    for _ in 0..300 {
        let list: Vec<Value> = app
            .staff_get(staff, "/api/v1/staff/tickets")
            .await
            .json()
            .await
            .unwrap();
        if done(&list) {
            return list;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no ticket in time");
}
