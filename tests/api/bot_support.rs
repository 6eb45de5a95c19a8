//! A test server with the bot on: the real models (loaded once per test process
//! and shared), the demo store, and a knowledge base given by the test.

use crate::helpers::{TestApp, spawn_with, test_settings};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use xiaoer::ports::{KbDecision, KbHit, KbVerdict, KnowledgeBase, KnowledgeError};
use xiaoer::startup::{Adapters, Models};

/// How long a bot turn may take on a loaded 2-core machine with the real LLM.
pub const BOT_TURN: Duration = Duration::from_secs(240);

/// Qwen2.5 1.5B and multilingual-e5 (behind the shared memo, `embed_memo`),
/// loaded once for every test in this binary.
pub fn shared_models() -> Models {
    static LLM: OnceLock<Arc<dyn xiaoer::ports::ChatModel>> = OnceLock::new();
    let llm = LLM
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let mut settings = xiaoer::config::Settings::for_data_dir(dir.path());
            let models = crate::embed_memo::models_dir();
            settings.llm_model = models
                .join(xiaoer::llm::fetch::QWEN_GGUF)
                .display()
                .to_string();
            settings.llm_tokenizer = models
                .join(xiaoer::llm::fetch::QWEN_TOKENIZER)
                .display()
                .to_string();
            settings.embed_model = models
                .join(xiaoer::llm::fetch::E5_MODEL)
                .display()
                .to_string();
            Models::load(&settings)
                .expect("models load (run `xiaoer models fetch`)")
                .llm
        })
        .clone();
    Models {
        llm,
        embedder: crate::embed_memo::shared_e5(),
    }
}

/// One entry of the test knowledge base: found when any key occurs in the question.
#[derive(Clone)]
pub struct Entry {
    pub id: &'static str,
    pub title: &'static str,
    pub answer: &'static str,
    pub keys: &'static [&'static str],
    /// Curated entries are sent as written; others ground a generated answer.
    pub curated: bool,
    /// The entry's category path and products ("" and none: not given).
    pub category: &'static str,
    pub products: &'static [&'static str],
}

/// A knowledge base whose verdicts the test decides (the real one replaces it
/// once the knowledge-base branch is merged). Records feedback and drafts.
#[derive(Default)]
pub struct FixedKnowledge {
    pub entries: Vec<Entry>,
    pub feedback: Mutex<Vec<(String, bool)>>,
    pub drafts: Mutex<Vec<(String, String, String)>>,
}

#[async_trait::async_trait]
impl KnowledgeBase for FixedKnowledge {
    async fn decide(&self, query: &str) -> Result<KbVerdict, KnowledgeError> {
        let q = query.to_lowercase();
        let hits: Vec<(bool, KbHit)> = self
            .entries
            .iter()
            .filter(|e| e.keys.iter().any(|k| q.contains(k)))
            .map(|e| {
                let hit = KbHit {
                    entry_id: e.id.into(),
                    title: e.title.into(),
                    answer: e.answer.into(),
                    score: if e.curated { 0.93 } else { 0.71 },
                    classifier: 0.0,
                    wordings: Vec::new(),
                    member_answers: Vec::new(),
                    category: e.category.into(),
                    products: e.products.iter().map(|p| (*p).to_owned()).collect(),
                };
                (e.curated, hit)
            })
            .collect();
        let decision = match hits.first() {
            Some((true, _)) => KbDecision::Curated,
            Some((false, _)) => KbDecision::Grounded,
            None => KbDecision::HandOff,
        };
        let confidence = hits.first().map(|(_, h)| h.score).unwrap_or(0.1);
        Ok(KbVerdict {
            decision,
            confidence,
            hits: hits.into_iter().map(|(_, h)| h).collect(),
            out_of_window: None,
        })
    }

    async fn record_answered(&self, _entry_id: &str) -> Result<(), KnowledgeError> {
        Ok(())
    }

    async fn record_feedback(&self, entry_id: &str, helpful: bool) -> Result<(), KnowledgeError> {
        self.feedback
            .lock()
            .unwrap()
            .push((entry_id.into(), helpful));
        Ok(())
    }

    async fn create_draft(
        &self,
        question: &str,
        answer: &str,
        author: &str,
    ) -> Result<String, KnowledgeError> {
        let mut drafts = self.drafts.lock().unwrap();
        drafts.push((question.into(), answer.into(), author.into()));
        Ok(format!("draft-{}", drafts.len()))
    }
}

pub fn shop_entries() -> Vec<Entry> {
    vec![
        Entry {
            id: "faq-shipping-time",
            title: "发货时间 / When do you ship",
            answer: "付款后48小时内发货，节假日顺延。We ship within 48 hours of payment.",
            keys: &[
                "什么时候发货",
                "多久发货",
                "when do you ship",
                "how soon do you ship",
            ],
            curated: true,
            category: "",
            products: &[],
        },
        Entry {
            id: "faq-invoice",
            title: "发票 / Invoices",
            answer: "本店支持开具电子普通发票，下单时在备注中填写抬头和税号即可，发货后3天内发送到您的邮箱。",
            keys: &["发票", "invoice"],
            curated: false,
            category: "",
            products: &[],
        },
    ]
}

pub async fn spawn_bot_app(knowledge: Arc<FixedKnowledge>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.bot = true;
    let adapters = Adapters {
        models: Some(shared_models()),
        knowledge: Some(knowledge),
        commerce: None,
    };
    spawn_with(dir, settings, adapters).await
}

/// The bot with the real knowledge base: the demo shop's folder ingested at start.
pub async fn spawn_shop_bot_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.bot = true;
    settings.knowledge_dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/knowledge"));
    let adapters = Adapters {
        models: Some(shared_models()),
        knowledge: None,
        commerce: None,
    };
    spawn_with(dir, settings, adapters).await
}

pub struct Shopper {
    pub conversation_id: String,
    pub token: String,
}

impl TestApp {
    /// A signed-in demo-store buyer starts a conversation.
    pub async fn shopper(&self, account: &str) -> Shopper {
        let res = self
            .client
            .post(self.url("/api/v1/conversations"))
            .json(&json!({ "identity": self.signed_identity(account), "nickname": "小明" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        Shopper {
            conversation_id: body["conversation"]["id"].as_str().unwrap().into(),
            token: body["visitor_token"].as_str().unwrap().into(),
        }
    }

    pub async fn shopper_events(&self, s: &Shopper) -> Vec<Value> {
        let path = format!(
            "/api/v1/conversations/{}/events?limit=500",
            s.conversation_id
        );
        let res = self
            .client
            .get(self.url(&path))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub async fn shopper_state(&self, s: &Shopper) -> String {
        let path = format!("/api/v1/conversations/{}", s.conversation_id);
        let res = self
            .client
            .get(self.url(&path))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        body["state"].as_str().unwrap().into()
    }

    /// Sends a text and returns its seq.
    pub async fn say(&self, s: &Shopper, text: &str) -> i64 {
        let path = format!("/api/v1/conversations/{}/messages", s.conversation_id);
        let res = self
            .client
            .post(self.url(&path))
            .bearer_auth(&s.token)
            .json(&json!({ "client_msg_id": uuid::Uuid::new_v4().to_string(), "body": { "type": "text", "text": text } }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let ack: Value = res.json().await.unwrap();
        ack["seq"].as_i64().unwrap()
    }

    /// Waits until the bot's turn after `seq` is over and returns what it said:
    /// its messages while it keeps the chat, or the hand-off notice (a system
    /// message after the chat left the bot).
    pub async fn bot_replies(&self, s: &Shopper, seq: i64) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let state = self.shopper_state(s).await;
            let events = self.shopper_events(s).await;
            let after: Vec<Value> = events
                .iter()
                .filter(|e| e["seq"].as_i64() > Some(seq))
                .cloned()
                .collect();
            let said: Vec<Value> = after
                .iter()
                .filter(|e| e["sender"]["kind"] == "bot" || e["body"]["type"] == "system")
                .cloned()
                .collect();
            // A turn is over once the bot said something in words: a card
            // (product, order) follows its words, never stands for them.
            let done = if state == "bot" {
                said.iter().any(|e| {
                    e["sender"]["kind"] == "bot"
                        && !e["body"]["type"]
                            .as_str()
                            .is_some_and(|t| t.ends_with("_card"))
                })
            } else {
                said.iter().any(|e| e["body"]["type"] == "system")
            };
            if done {
                return said;
            }
            assert!(
                started.elapsed() < BOT_TURN,
                "no bot reply after seq {seq}: {after:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The next JSON frame within `within` (model answers on a busy machine are slow).
pub async fn frame_within(ws: &mut crate::helpers::Ws, within: Duration) -> Value {
    loop {
        let msg = tokio::time::timeout(within, futures::StreamExt::next(ws))
            .await
            .expect("a frame in time");
        match msg.expect("socket open").expect("frame ok") {
            tokio_tungstenite::tungstenite::Message::Text(text) => {
                return serde_json::from_str(&text).unwrap();
            }
            _ => continue,
        }
    }
}

pub fn text_of(event: &Value) -> &str {
    event["body"]["text"].as_str().unwrap_or("")
}

pub fn all_text(events: &[Value]) -> String {
    events.iter().map(text_of).collect::<Vec<_>>().join("\n")
}
