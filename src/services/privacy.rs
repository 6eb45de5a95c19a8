//! Data protection (PIPL): export everything stored about one buyer, erase a
//! buyer, and keep messages and attachments only as long as the shop's
//! retention policy says.

use crate::crypto::{Cipher, Token};
use crate::domain::bot_session::UnansweredQuestion;
use crate::domain::message::{MessageBody, MessageText};
use crate::domain::presence::VisitRecord;
use crate::domain::privacy::{After, ErasedBodies, ExportAttachment, ProtectionPolicy, first_page};
use crate::domain::tickets::{Comment, Ticket};
use crate::ports::Clock;
use crate::ports::repositories::{
    BuyerData, BuyerRecords, DataProtection, RepoError, SealedValues, TicketRecords,
};
use crate::services::attachments::AttachmentService;
use crate::services::chat::ChatService;
use crate::services::events::EventPayload;
use crate::services::staff::AccessChange;
use crate::services::visitors::VisitorService;
use futures::SinkExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

/// What an erased or purged message or note reads afterwards.
pub const ERASED_TEXT: &str = "[已删除 · erased]";
const DAY_MS: i64 = 24 * 3600 * 1000;
/// Conversations purged per transaction.
const PURGE_BATCH: i64 = 200;
/// The longest retention an admin may set (ten years).
const MAX_RETENTION_DAYS: i64 = 3650;

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error("no such buyer")]
    NotFound,
    #[error("say which buyer: a visitor id or a shop account id")]
    NoQuery,
    #[error("retention must be between 1 and {MAX_RETENTION_DAYS} days, or none")]
    BadRetention,
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Records(RepoError),
}

impl From<RepoError> for PrivacyError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => PrivacyError::NotFound,
            other => PrivacyError::Records(other),
        }
    }
}

/// A buyer as the privacy page lists them: no personal data, only what tells
/// them apart.
#[derive(Debug, Clone, Serialize)]
pub struct BuyerSummary {
    pub visitor_id: String,
    pub created_at: i64,
    pub conversations: usize,
}

/// The admin settings of data protection, as the API reads and writes them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectionSettings {
    /// Messages and attachments older than this many days are purged; null: kept.
    pub retention_days: Option<i64>,
    /// Every new conversation must first solve a proof-of-work challenge.
    #[serde(default)]
    pub challenge_all: bool,
}

impl ProtectionSettings {
    fn parse(self) -> Result<ProtectionPolicy, PrivacyError> {
        if let Some(days) = self.retention_days
            && !(1..=MAX_RETENTION_DAYS).contains(&days)
        {
            return Err(PrivacyError::BadRetention);
        }
        Ok(ProtectionPolicy {
            retention_days: self.retention_days,
            challenge_all: self.challenge_all,
        })
    }
}

/// What one purge run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PurgeReport {
    pub conversations: usize,
    pub attachments: usize,
}

pub struct PrivacyService {
    buyers: Arc<dyn BuyerData>,
    protection: Arc<dyn DataProtection>,
    /// The tags staff set on a buyer's shop account, for the export.
    profiles: Arc<dyn BuyerRecords>,
    /// The public replies on a buyer's tickets, for the export.
    tickets: Arc<dyn TicketRecords>,
    cipher: Cipher,
    clock: Arc<dyn Clock>,
    chat: Arc<ChatService>,
    visitors: Arc<VisitorService>,
    attachments: Arc<AttachmentService>,
    /// Open sockets hear an erasure here and close.
    access: tokio::sync::broadcast::Sender<AccessChange>,
    /// Rotation of the data key (re-sealing after `xiaoer keys rotate`).
    pub keys: Arc<crate::services::keys::KeyRotation>,
}

impl PrivacyService {
    pub fn new<R>(
        records: Arc<R>,
        cipher: Cipher,
        clock: Arc<dyn Clock>,
        chat: Arc<ChatService>,
        visitors: Arc<VisitorService>,
        attachments: Arc<AttachmentService>,
        access: tokio::sync::broadcast::Sender<AccessChange>,
    ) -> Self
    where
        R: BuyerData + DataProtection + BuyerRecords + TicketRecords + SealedValues + 'static,
    {
        let keys = Arc::new(crate::services::keys::KeyRotation::new(
            records.clone(),
            cipher.clone(),
            clock.clone(),
            attachments.clone(),
        ));
        Self {
            buyers: records.clone(),
            protection: records.clone(),
            profiles: records.clone(),
            tickets: records,
            cipher,
            clock,
            chat,
            visitors,
            attachments,
            access,
            keys,
        }
    }

    /// Buyers by visitor id or by shop account id (found by its blind index).
    pub async fn find(
        &self,
        visitor_id: Option<&str>,
        account: Option<&str>,
    ) -> Result<Vec<BuyerSummary>, PrivacyError> {
        let ids = match (visitor_id, account) {
            (Some(id), _) => vec![id.trim().to_owned()],
            (None, Some(account)) => self.buyers.of_account(account.trim()).await?,
            (None, None) => return Err(PrivacyError::NoQuery),
        };
        let mut found = Vec::new();
        for id in ids {
            match self.buyers.first_seen(&id).await {
                Ok(created_at) => found.push(BuyerSummary {
                    conversations: self.buyers.conversation_ids(&id).await?.len(),
                    visitor_id: id,
                    created_at,
                }),
                Err(RepoError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(found)
    }

    /// Everything stored about a buyer as one JSON document, read and sent page
    /// by page (conversations, each one's messages and notes in pages of
    /// [`EXPORT_PAGE`], unanswered questions, attachments, tickets with their
    /// public replies, visits) through a small channel, so memory stays
    /// bounded however long the history. An unknown buyer is refused before
    /// anything is sent; a failure midway ends the download unfinished.
    pub async fn export(
        self: &Arc<Self>,
        visitor_id: &str,
    ) -> Result<futures::channel::mpsc::Receiver<ExportPiece>, PrivacyError> {
        let created_at = self.buyers.first_seen(visitor_id).await?;
        let profile = self
            .visitors
            .profile(visitor_id)
            .await
            .map_err(|e| PrivacyError::Corrupt(e.to_string()))?;
        // The tags staff set on the buyer's shop account (at most 20): what
        // they say of the buyer and when, not who wrote them.
        let hand_tags: Vec<serde_json::Value> = match &profile.shop_account_id {
            Some(account) => self
                .profiles
                .hand_tags(account)
                .await?
                .into_iter()
                .map(|t| json!({ "tag": t.tag, "created_at": t.at }))
                .collect(),
            None => Vec::new(),
        };
        let head = format!(
            "{{\"exported_at\":{},\"visitor\":{},\"hand_tags\":{},\"created_at\":{},\"conversations\":[",
            self.clock.now_ms(),
            json!(profile),
            json!(hand_tags),
            created_at
        );
        let (tx, rx) = futures::channel::mpsc::channel(2);
        let this = self.clone();
        let visitor_id = visitor_id.to_owned();
        tokio::spawn(async move {
            let mut out = ExportWriter { tx };
            let written = match out.put(head).await {
                Ok(()) => this.write_export(&visitor_id, &mut out).await,
                Err(stop) => Err(stop),
            };
            if let Err(ExportStop::Failed(error)) = written {
                tracing::warn!(%error, "a buyer export failed midway");
                let _ = out.tx.send(Err(error)).await;
            }
        });
        Ok(rx)
    }

    async fn write_export(
        &self,
        visitor_id: &str,
        out: &mut ExportWriter,
    ) -> Result<(), ExportStop> {
        let mut after = first_page();
        let mut conversations = Comma::default();
        loop {
            let page = self
                .buyers
                .conversations_page(visitor_id, &after, EXPORT_PAGE)
                .await?;
            for conversation in &page {
                let head = json!({
                    "id": conversation.id,
                    "channel": conversation.channel,
                    "state": conversation.state,
                    "created_at": conversation.created_at,
                    "updated_at": conversation.updated_at,
                })
                .to_string();
                // The object without its closing brace, then its messages.
                let open = &head[..head.len() - 1];
                out.put(format!("{}{open},\"messages\":[", conversations.next()))
                    .await?;
                self.write_messages(&conversation.id, out).await?;
                out.put("]}".to_owned()).await?;
            }
            match page.last() {
                Some(last) if page.len() as i64 == EXPORT_PAGE => {
                    after = (last.created_at, last.id.clone());
                }
                _ => break,
            }
        }
        out.put("],\"unanswered_questions\":[".to_owned()).await?;
        let buyers = &*self.buyers;
        let tickets = &*self.tickets;
        write_list(
            out,
            |after| async move { buyers.unanswered_page(visitor_id, &after, EXPORT_PAGE).await },
            |u: &UnansweredQuestion| (u.created_at, u.id.clone()),
            |u| Ok(json!({"conversation_id": u.conversation_id, "question": u.question, "reason": u.reason, "created_at": u.created_at})),
        )
        .await?;
        out.put("],\"attachments\":[".to_owned()).await?;
        write_list(
            out,
            |after| async move { buyers.attachments_page(visitor_id, &after, EXPORT_PAGE).await },
            |(id, _, _, conversation, at): &ExportAttachment| (*at, format!("{id}\0{conversation}")),
            |(id, content_type, size, conversation, _)| Ok(json!({"id": id, "content_type": content_type, "size": size, "conversation_id": conversation})),
        )
        .await?;
        out.put("],\"tickets\":[".to_owned()).await?;
        write_list(
            out,
            |after| async move {
                let page = buyers.tickets_page(visitor_id, &after, EXPORT_PAGE).await?;
                let mut with_replies = Vec::with_capacity(page.len());
                for ticket in page {
                    let replies = tickets.comments(&ticket.id, true).await?;
                    with_replies.push((ticket, replies));
                }
                Ok(with_replies)
            },
            |(t, _): &(Ticket, Vec<Comment>)| (t.created_at, t.id.clone()),
            |(t, replies)| {
                let replies: Vec<_> = replies
                    .iter()
                    .map(|c| {
                        json!({"author": c.author_kind, "body": c.body, "created_at": c.created_at,
                                   "attachments": c.attachments})
                    })
                    .collect();
                Ok(
                    json!({"number": t.number, "title": t.title, "description": t.description,
                       "order_number": t.order_number, "custom_fields": t.custom_fields,
                       "status_text": t.status_text, "state": t.state.as_str(),
                       "created_at": t.created_at, "public_replies": replies}),
                )
            },
        )
        .await?;
        out.put("],\"visits\":[".to_owned()).await?;
        write_list(
            out,
            |after| async move { buyers.visits_page(visitor_id, &after, EXPORT_PAGE).await },
            |v: &VisitRecord| (v.started_at, v.id.clone()),
            |visit| {
                let state: serde_json::Value = serde_json::from_str(&visit.state)
                    .map_err(|e| PrivacyError::Corrupt(e.to_string()))?;
                Ok(json!({"id": visit.id, "started_at": visit.started_at, "last_seen_at": visit.last_seen_at, "returning": visit.is_returning, "browsing": state}))
            },
        )
        .await?;
        out.put("]}".to_owned()).await
    }

    /// One conversation's messages and notes, a page per piece.
    async fn write_messages(
        &self,
        conversation_id: &str,
        out: &mut ExportWriter,
    ) -> Result<(), ExportStop> {
        let mut after_seq = 0;
        let mut messages = Comma::default();
        loop {
            let page = self
                .buyers
                .events_page(conversation_id, after_seq, EXPORT_PAGE)
                .await?;
            let full = page.len() as i64 == EXPORT_PAGE;
            let mut piece = String::new();
            for row in page {
                after_seq = row.seq;
                let event = self
                    .chat
                    .open_event(row)
                    .map_err(|e| PrivacyError::Corrupt(e.to_string()))?;
                piece.push_str(messages.next());
                piece.push_str(&json!(event).to_string());
            }
            if !piece.is_empty() {
                out.put(piece).await?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Erases a buyer: personal data and every message and note body of their
    /// conversations, their attachments from the database and the data dir.
    /// Conversations stay (anonymous) for statistics; their token stops working.
    pub async fn erase(&self, visitor_id: &str) -> Result<(), PrivacyError> {
        let conversations = self.buyers.conversation_ids(visitor_id).await?;
        let bodies: Vec<ErasedBodies> = conversations.iter().map(|c| self.erased(c)).collect();
        let token = Token::generate("erased_");
        let orphans = self
            .buyers
            .erase(visitor_id, &bodies, &token.hash, self.clock.now_ms())
            .await?;
        self.attachments.remove_stored(&orphans).await;
        // No socket on this node wakes otherwise: nobody may be listening.
        let _ = self
            .access
            .send(AccessChange::VisitorErased(Arc::from(visitor_id)));
        Ok(())
    }

    /// The replacement bodies of one conversation (sealed to it like any body).
    fn erased(&self, conversation_id: &str) -> ErasedBodies {
        let text = MessageText::parse(ERASED_TEXT).expect("the erased text is a valid message");
        let message = EventPayload::Message {
            body: MessageBody::Text { text: text.clone() },
        };
        let note = EventPayload::Note { text };
        let seal = |payload: &EventPayload| {
            let plain = serde_json::to_vec(payload).expect("event payload serialises");
            self.cipher.seal(&plain, conversation_id.as_bytes())
        };
        ErasedBodies {
            conversation_id: conversation_id.to_owned(),
            message: seal(&message),
            note: seal(&note),
        }
    }

    pub async fn settings(&self) -> Result<ProtectionSettings, PrivacyError> {
        let policy = self.protection.policy().await?;
        Ok(ProtectionSettings {
            retention_days: policy.retention_days,
            challenge_all: policy.challenge_all,
        })
    }

    pub async fn put_settings(
        &self,
        input: ProtectionSettings,
        by: &str,
    ) -> Result<ProtectionSettings, PrivacyError> {
        let policy = input.parse()?;
        self.protection
            .put_policy(&policy, by, self.clock.now_ms())
            .await?;
        self.settings().await
    }

    /// Replaces message and note bodies older than the retention period and
    /// drops attachments uploaded before it. Nothing to do without a policy.
    pub async fn purge(&self) -> Result<PurgeReport, PrivacyError> {
        let Some(days) = self.protection.policy().await?.retention_days else {
            return Ok(PurgeReport::default());
        };
        let before = self.clock.now_ms() - days * DAY_MS;
        let mut report = PurgeReport::default();
        loop {
            let batch = self.protection.to_purge(before, PURGE_BATCH).await?;
            let bodies: Vec<ErasedBodies> = batch.iter().map(|c| self.erased(c)).collect();
            let dropped = self.protection.purge(&bodies, before).await?;
            report.conversations += batch.len();
            report.attachments += dropped.len();
            self.attachments.remove_stored(&dropped).await;
            if (batch.len() as i64) < PURGE_BATCH {
                return Ok(report);
            }
        }
    }

    /// Drops the rate-limit windows that no longer count and the sign-in
    /// failures past their forgetting (kept by `http::limits` for the cluster).
    pub async fn purge_limits(&self) -> Result<u64, PrivacyError> {
        Ok(self
            .protection
            .forget_rate_state(self.clock.now_ms())
            .await?)
    }

    /// Runs the purge (and that of forgotten limits) every `every` until
    /// shutdown; failures are logged.
    pub async fn run_purger(
        self: Arc<Self>,
        every: std::time::Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            match self.purge().await {
                Ok(report) if report.conversations + report.attachments > 0 => tracing::info!(
                    conversations = report.conversations,
                    attachments = report.attachments,
                    "retention purge"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "retention purge failed"),
            }
            if let Err(error) = self.purge_limits().await {
                tracing::warn!(%error, "purge of old rate-limit windows failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Rows read per page of a buyer's export.
pub const EXPORT_PAGE: i64 = 300;

/// A piece of a buyer's export, or why it stopped.
pub type ExportPiece = Result<String, PrivacyError>;

/// Where an export's pieces go: a channel of a few pieces, which the download
/// drains (so the reader waits for a slow client instead of piling up pages).
struct ExportWriter {
    tx: futures::channel::mpsc::Sender<ExportPiece>,
}

enum ExportStop {
    /// The client went away: nothing more to send.
    Gone,
    Failed(PrivacyError),
}

impl From<RepoError> for ExportStop {
    fn from(e: RepoError) -> Self {
        ExportStop::Failed(e.into())
    }
}

impl From<PrivacyError> for ExportStop {
    fn from(e: PrivacyError) -> Self {
        ExportStop::Failed(e)
    }
}

impl ExportWriter {
    async fn put(&mut self, piece: String) -> Result<(), ExportStop> {
        self.tx.send(Ok(piece)).await.map_err(|_| ExportStop::Gone)
    }
}

/// The separator before each item of a JSON array: none before the first.
#[derive(Default)]
struct Comma {
    started: bool,
}

impl Comma {
    fn next(&mut self) -> &'static str {
        if std::mem::replace(&mut self.started, true) {
            ","
        } else {
            ""
        }
    }
}

/// Writes a list page by page: `fetch` reads the page after a position, `key`
/// gives an item's position, `item` its JSON; one piece per page.
async fn write_list<T, Fut>(
    out: &mut ExportWriter,
    fetch: impl Fn(After) -> Fut,
    key: impl Fn(&T) -> After,
    item: impl Fn(&T) -> Result<serde_json::Value, PrivacyError>,
) -> Result<(), ExportStop>
where
    Fut: Future<Output = Result<Vec<T>, RepoError>>,
{
    let mut after = first_page();
    let mut comma = Comma::default();
    loop {
        let page = fetch(after).await?;
        let mut piece = String::new();
        for row in &page {
            piece.push_str(comma.next());
            piece.push_str(&item(row)?.to_string());
        }
        if !piece.is_empty() {
            out.put(piece).await?;
        }
        match page.last() {
            Some(last) if page.len() as i64 == EXPORT_PAGE => after = key(last),
            _ => return Ok(()),
        }
    }
}
