//! spawn_app(): a real server on port 0 with a fresh database. The backend comes
//! from XIAOER_TEST_BACKEND (sqlite, the default, or postgres with
//! TEST_DATABASE_URL pointing at a server where databases may be created).

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use xiaoer::config::Settings;
use xiaoer::domain::staff::Role;
use xiaoer::http::AppState;
use xiaoer::services::staff::NewStaff;
use xiaoer::startup::{Adapters, Application};

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub const PASSWORD: &str = "correct horse battery staple";

pub fn backend_is_postgres() -> bool {
    std::env::var("XIAOER_TEST_BACKEND")
        .map(|b| b == "postgres")
        .unwrap_or(false)
}

/// A fresh, empty PostgreSQL database for one test.
pub async fn fresh_postgres_database() -> String {
    use sqlx::Connection;
    let admin = std::env::var("TEST_DATABASE_URL")
        .expect("XIAOER_TEST_BACKEND=postgres needs TEST_DATABASE_URL");
    let name = format!("xiaoer_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{name}")
}

/// The shop's identity secret on test servers (tests sign buyers' identities with it).
pub const IDENTITY_SECRET: &str = "test-identity-secret-0123456789abcdef";

/// The Qdrant server the suite's knowledge index runs against, when
/// XIAOER_TEST_INDEX=qdrant (scripts/test.sh starts one and sets
/// XIAOER_TEST_QDRANT_URL); otherwise every test app embeds its own index.
pub fn test_qdrant_url() -> Option<String> {
    let remote = std::env::var("XIAOER_TEST_INDEX").is_ok_and(|i| i == "qdrant");
    remote.then(|| {
        std::env::var("XIAOER_TEST_QDRANT_URL")
            .expect("XIAOER_TEST_INDEX=qdrant needs XIAOER_TEST_QDRANT_URL")
    })
}

/// Settings for a test server: its own data dir, port 0, a fresh database, and
/// its own collection when the index is a Qdrant server.
pub async fn test_settings(data_dir: &std::path::Path) -> Settings {
    let mut settings = Settings::for_data_dir(data_dir);
    settings.identity_secret = Some(xiaoer::config::Secret::new(IDENTITY_SECRET.into()));
    // The real-model tests check what the model says, on machines as loaded as a
    // CI runner: its answer budget must not cut them short. The budget's own
    // fallbacks are tested with the scripted model (bot_scripted::).
    settings.answer_budget = xiaoer::services::bot::AnswerBudget {
        first_token: std::time::Duration::from_secs(120),
        total: std::time::Duration::from_secs(240),
    };
    if backend_is_postgres() {
        settings.database_url = Some(xiaoer::config::Secret::new(fresh_postgres_database().await));
    }
    if let Some(url) = test_qdrant_url() {
        settings.qdrant_url = Some(url);
        settings.qdrant_collection = format!("xiaoer_test_{}", uuid::Uuid::new_v4().simple());
    }
    settings
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub state: AppState,
    pub data_dir: PathBuf,
    pub settings: Settings,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(dir.path()).await;
    spawn_with(dir, settings, Adapters::default()).await
}

pub async fn spawn_with(dir: tempfile::TempDir, settings: Settings, adapters: Adapters) -> TestApp {
    let clock = std::sync::Arc::new(xiaoer::ports::SystemClock);
    spawn_with_clock(dir, settings, adapters, clock).await
}

/// A server on the test's clock (tests that script times set it).
pub async fn spawn_with_clock(
    dir: tempfile::TempDir,
    settings: Settings,
    adapters: Adapters,
    clock: std::sync::Arc<dyn xiaoer::ports::Clock>,
) -> TestApp {
    let adapters = with_shared_e5(&settings, adapters);
    // A restart right after `stop` may find the previous server's background
    // tasks still letting go of the embedded index: wait for it, a while.
    let mut tries = 0;
    let app = loop {
        match Application::build_with_clock(settings.clone(), adapters.clone(), clock.clone()).await
        {
            Ok(app) => break app,
            Err(e)
                if tries < 50 && format!("{e:#}").contains("in use by another xiaoer process") =>
            {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("app builds: {e:?}"),
        }
    };
    let addr = app.local_addr();
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        client: xiaoer::net::client(),
        state,
        data_dir: dir.path().to_owned(),
        settings,
        _dir: dir,
        stop: Some(stop),
        server: Some(server),
    }
}

/// The models a test server would load from `models/`, with the process's
/// shared e5 behind the memo (`embed_memo`) instead of a copy of its own: a
/// test that brings no models and names the shipped files. The LLM is still
/// the server's own (loaded per test, as `xiaoer serve` does), when the bot is on.
fn with_shared_e5(settings: &Settings, adapters: Adapters) -> Adapters {
    let shipped = Settings::for_data_dir(&settings.data_dir);
    if adapters.models.is_some()
        || settings.embed_model != shipped.embed_model
        || settings.llm_model != shipped.llm_model
        || settings.llm_tokenizer != shipped.llm_tokenizer
    {
        return adapters;
    }
    let llm: std::sync::Arc<dyn xiaoer::ports::ChatModel> = if settings.bot {
        xiaoer::startup::Models::load(settings)
            .expect("the models load (run `xiaoer models fetch`)")
            .llm
    } else {
        // Not used: a server without the bot runs no LLM.
        std::sync::Arc::new(xiaoer::llm::scripted::ScriptedChatModel::always(
            xiaoer::llm::scripted::Scripted::Overloaded,
        ))
    };
    Adapters {
        models: Some(xiaoer::startup::Models {
            llm,
            embedder: crate::embed_memo::shared_e5(),
        }),
        ..adapters
    }
}

pub struct Buyer {
    pub conversation_id: String,
    pub visitor_id: String,
    pub token: String,
}

pub struct StaffLogin {
    pub id: String,
    pub token: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) -> tempfile::TempDir {
        drop(self.stop.take());
        self.server.take().unwrap().await.unwrap().unwrap();
        std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap())
    }

    pub async fn start_conversation(&self) -> Buyer {
        let res = self
            .client
            .post(self.url("/api/v1/conversations"))
            .json(&json!({ "nickname": "小明" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        Buyer {
            conversation_id: body["conversation"]["id"].as_str().unwrap().to_owned(),
            visitor_id: body["visitor_id"].as_str().unwrap().to_owned(),
            token: body["visitor_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A chat of the shop account `account`, signed in through the shop's page.
    pub async fn signed_in_buyer(&self, account: &str) -> Buyer {
        let res = self
            .client
            .post(self.url("/api/v1/conversations"))
            .json(&json!({ "identity": self.signed_identity(account), "nickname": "小明" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        Buyer {
            conversation_id: body["conversation"]["id"].as_str().unwrap().to_owned(),
            visitor_id: body["visitor_id"].as_str().unwrap().to_owned(),
            token: body["visitor_token"].as_str().unwrap().to_owned(),
        }
    }

    /// What the shop's page sends for a signed-in buyer: the account signed with
    /// this server's identity secret, valid for ten minutes.
    pub fn signed_identity(&self, account: &str) -> Value {
        let secret = self
            .settings
            .identity_secret
            .as_ref()
            .expect("identity secret");
        let expires_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            + 600;
        let signed = xiaoer::domain::visitor::SignedIdentity::sign(
            account,
            expires_at,
            secret.expose().as_bytes(),
        );
        serde_json::to_value(signed).unwrap()
    }

    pub async fn buyer_post(&self, buyer: &Buyer, suffix: &str, body: Value) -> reqwest::Response {
        let path = format!("/api/v1/conversations/{}{suffix}", buyer.conversation_id);
        self.client
            .post(self.url(&path))
            .bearer_auth(&buyer.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn buyer_send(
        &self,
        buyer: &Buyer,
        client_msg_id: &str,
        text: &str,
    ) -> reqwest::Response {
        self.buyer_post(
            buyer,
            "/messages",
            json!({ "client_msg_id": client_msg_id, "body": { "type": "text", "text": text } }),
        )
        .await
    }

    pub async fn buyer_events(&self, buyer: &Buyer, after: i64) -> Vec<Value> {
        let path = format!(
            "/api/v1/conversations/{}/events?after={after}&limit=500",
            buyer.conversation_id
        );
        let res = self
            .client
            .get(self.url(&path))
            .bearer_auth(&buyer.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// Creates a staff account directly through the service and signs in over HTTP.
    pub async fn staff(&self, username: &str, role: Role) -> StaffLogin {
        self.staff_with_capacity(username, role, 5).await
    }

    /// An agent who takes chats: signed in, set online, with this many chats at most.
    pub async fn online_agent(&self, username: &str, max_chats: i64) -> StaffLogin {
        let agent = self
            .staff_with_capacity(username, Role::Agent, max_chats)
            .await;
        self.set_presence(&agent, "online").await;
        agent
    }

    pub async fn set_presence(&self, staff: &StaffLogin, status: &str) {
        let res = self
            .staff_send(
                reqwest::Method::PUT,
                staff,
                "/api/v1/staff/presence",
                json!({ "status": status }),
            )
            .await;
        assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    }

    pub async fn staff_send(
        &self,
        method: reqwest::Method,
        staff: &StaffLogin,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&staff.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// The staff live feed WebSocket, after its `ready` frame.
    pub async fn staff_socket(&self, staff: &StaffLogin) -> Ws {
        let url = self.ws_url(&format!("/api/v1/staff/ws?access_token={}", staff.token));
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        assert_eq!(next_json(&mut ws).await["type"], "ready");
        ws
    }

    /// The conversation as its buyer sees it.
    pub async fn buyer_conversation(&self, buyer: &Buyer) -> Value {
        let path = format!("/api/v1/conversations/{}", buyer.conversation_id);
        let res = self
            .client
            .get(self.url(&path))
            .bearer_auth(&buyer.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub async fn staff_with_capacity(
        &self,
        username: &str,
        role: Role,
        max_chats: i64,
    ) -> StaffLogin {
        let new = NewStaff::parse(username, PASSWORD, None, role, Some(max_chats)).unwrap();
        let user = self.state.staff.add_user(new).await.unwrap();
        let res = self
            .client
            .post(self.url("/api/v1/staff/login"))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        StaffLogin {
            id: user.id,
            token: body["token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn staff_post(
        &self,
        staff: &StaffLogin,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&staff.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn staff_get(&self, staff: &StaffLogin, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(&staff.token)
            .send()
            .await
            .unwrap()
    }

    /// Uploads `bytes` declared as `content_type` into the chat as its buyer.
    pub async fn upload_as(
        &self,
        conversation_id: &str,
        token: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        let path = format!("/api/v1/conversations/{conversation_id}/attachments");
        self.client
            .post(self.url(&path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    /// A buyer asks for a human and `agent` takes the chat.
    pub async fn hand_to_agent(&self, buyer: &Buyer, agent: &StaffLogin) {
        assert_eq!(
            self.buyer_post(buyer, "/handoff", json!({})).await.status(),
            200
        );
        let claim = format!(
            "/api/v1/staff/conversations/{}/claim",
            buyer.conversation_id
        );
        let res = self.staff_post(agent, &claim, json!({})).await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }

    pub async fn buyer_socket(&self, buyer: &Buyer, after: i64) -> Ws {
        let url = self.ws_url(&format!(
            "/api/v1/conversations/{}/ws?after={after}&access_token={}",
            buyer.conversation_id, buyer.token
        ));
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        ws
    }
}

/// Next JSON text frame, skipping pings; panics after 10 s.
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s");
        match msg.expect("socket open").expect("frame ok") {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Frames until one of type `kind`; returns it.
pub async fn next_of_type(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let frame = next_json(ws).await;
        if frame["type"] == kind {
            return frame;
        }
    }
}

pub async fn ws_send(ws: &mut Ws, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

/// Runs one statement on the test's database as someone with direct access
/// (outside the server); the number of rows it touched.
pub async fn raw_sql(app: &TestApp, sql: &str) -> Result<u64, sqlx::Error> {
    raw_sql_at(&app.settings, &app.data_dir, sql).await
}

/// `raw_sql` on the database of a server's settings and data dir (also while
/// that server is stopped).
pub async fn raw_sql_at(
    settings: &Settings,
    data_dir: &std::path::Path,
    sql: &str,
) -> Result<u64, sqlx::Error> {
    use sqlx::Connection;
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if backend_is_postgres() {
        let url = settings.database_url.as_ref().unwrap().expose().clone();
        let mut conn = sqlx::PgConnection::connect(&url).await?;
        Ok(sqlx::query(sql).execute(&mut conn).await?.rows_affected())
    } else {
        let path = data_dir.join("xiaoer.db");
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?;
        let done = sqlx::query(sql).execute(&mut conn).await?.rows_affected();
        conn.close().await?;
        Ok(done)
    }
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no code>")
}

/// Today's date in Beijing (the shop's time zone in the tests), `YYYY-MM-DD`.
pub fn today_in_beijing() -> String {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let days = (now_ms + 8 * 3_600_000).div_euclid(86_400_000);
    (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// A silent mono 16-bit PCM WAV recording of `ms` milliseconds at 8 kHz (a
/// voice message's attachment).
pub fn wav(ms: u32) -> Vec<u8> {
    let data = ms * 8 * 2;
    let mut out = Vec::with_capacity(44 + data as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16000u32.to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    out.resize(44 + data as usize, 0);
    out
}
