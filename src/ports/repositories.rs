//! Repositories per aggregate, in domain terms: what a service reads and writes
//! of its own aggregate, never a storage row, a SQL type or a column name. The
//! adapters live in storage/ (one `impl` per trait for `Store`, on SQLite and
//! PostgreSQL alike); tests of a service's logic may put a fake behind one.

use crate::domain::audit::{AuditFilter, AuditRecord};
use crate::domain::bot_session::BotSession;
use crate::domain::chat_log::{
    AppendOutcome, ChatGlance, ClaimOutcome, ConversationScope, ConversationView, EventWrite,
    Handover, ReplySlot, StoredEvent,
};
use crate::domain::conversation::ConversationState;
use crate::domain::knowledge::{EntryContent, EntryStatus};
use crate::domain::quality::{DraftItem, QaScoreWrite, Rubric};
use async_trait::async_trait;
use serde::Serialize;

/// Why a repository call failed, as a service needs to tell it apart.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("not found")]
    NotFound,
    /// A guarded write found the aggregate changed since it was read.
    #[error("changed concurrently")]
    Conflict,
    #[error("already exists")]
    AlreadyExists,
    /// A stored value does not read back (a bad row, a sealed value that does
    /// not open): an operator's problem, never the caller's.
    #[error("a stored value is unreadable: {0}")]
    Corrupt(String),
    /// The database failed or is unreachable.
    #[error("storage failed: {0}")]
    Failed(String),
}

// ---- conversations and their events (the chat service) ---------------------

/// Conversations and their sealed events, as the chat service reads them.
#[async_trait]
pub trait ConversationRecords: Send + Sync {
    /// A new conversation in `state`, with its ConversationStarted event.
    async fn insert_conversation(
        &self,
        id: &str,
        visitor_id: &str,
        channel: &str,
        state: ConversationState,
        now: i64,
    ) -> Result<(), RepoError>;
    /// `NotFound` for an unknown id; `Corrupt` for an unreadable state.
    async fn conversation(&self, id: &str) -> Result<ConversationView, RepoError>;
    async fn conversations(
        &self,
        scope: &ConversationScope,
        limit: i64,
    ) -> Result<Vec<ConversationView>, RepoError>;
    /// Events after `after`, oldest first, at most `limit`.
    async fn events_after(
        &self,
        conversation_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, RepoError>;
    /// `NotFound` when the event is gone (an erased buyer).
    async fn event_at(&self, conversation_id: &str, seq: i64) -> Result<StoredEvent, RepoError>;
    /// The events at these (conversation, seq) keys, in no set order; a key
    /// whose event is gone has none.
    async fn events_at(&self, keys: &[(&str, i64)]) -> Result<Vec<StoredEvent>, RepoError>;
    /// Records that `reader` has read up to `seq`; returns the reader's mark.
    async fn mark_read(
        &self,
        conversation_id: &str,
        reader: &str,
        seq: i64,
        now: i64,
    ) -> Result<i64, RepoError>;
    /// The buyer's name, the last message and `reader`'s unread count.
    async fn chat_glance(
        &self,
        conversation_id: &str,
        visitor_id: &str,
        reader: &str,
    ) -> Result<ChatGlance, RepoError>;
    /// The API channel the conversation came through, if any.
    async fn channel_name_of(&self, conversation_id: &str) -> Result<Option<String>, RepoError>;
    /// Counts one agent reply against an API channel's reply window.
    async fn take_reply_slot(
        &self,
        conversation_id: &str,
        now: i64,
    ) -> Result<ReplySlot, RepoError>;
    /// A chat goes to an agent by hand, under the lock automatic assignment
    /// takes, so that the two never overfill an agent.
    async fn claim_within_capacity(
        &self,
        handover: &Handover<'_>,
    ) -> Result<ClaimOutcome, RepoError>;
}

/// Why a queued event write did not commit.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The conversation's guard refused the write: this is its state now.
    #[error("refused in state {state}")]
    Refused { state: String },
    #[error(transparent)]
    Records(#[from] RepoError),
}

/// The group commit: event writes are queued, committed in batches and
/// acknowledged once durable. `P` is what is published after the commit.
#[async_trait]
pub trait EventCommits<P: Send + 'static>: Send + Sync {
    async fn submit(&self, write: EventWrite, payload: P) -> Result<AppendOutcome, CommitError>;
}

// ---- the audit log ----------------------------------------------------------

/// The append-only, hash-chained audit log (`domain::audit`).
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends one record chained to the last (appends never interleave,
    /// across nodes too); returns its sequence number.
    async fn append(
        &self,
        at: i64,
        actor: Option<&str>,
        action: &str,
        target: &str,
    ) -> Result<i64, RepoError>;
    /// Records matching the filter, newest first.
    async fn search(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, RepoError>;
    /// Up to `limit` records after sequence number `after`, oldest first.
    async fn page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, RepoError>;
    /// The last sequence number and its hash.
    async fn head(&self) -> Result<(i64, String), RepoError>;
}

// ---- knowledge entries ------------------------------------------------------

/// How often an entry was used, counted by the bot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EntryUsage {
    pub retrieved: i64,
    pub answered: i64,
    pub helpful: i64,
    pub unhelpful: i64,
}

/// Which usage count a bot event adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageCounter {
    Retrieved,
    Answered,
    Helpful,
    Unhelpful,
}

/// An entry's head: its newest version, with its status and usage.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    pub id: String,
    pub status: EntryStatus,
    pub version: i64,
    pub content: EntryContent,
    pub content_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: String,
    pub usage: EntryUsage,
}

/// What an import compares against: an entry's head without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryHead {
    pub id: String,
    pub content_hash: String,
    pub version: i64,
    pub status: EntryStatus,
}

/// One past (or the current) version of an entry.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    pub version: i64,
    pub content: EntryContent,
    pub author: String,
    pub note: String,
    pub created_at: i64,
}

/// One entry written by an import or an edit: the new head, and (unless only
/// the status changes) a new version. Guarded by the version it replaces:
/// `version - 1` for a content change, `version` for a status change.
#[derive(Debug, Clone)]
pub struct EntryWrite {
    pub id: String,
    pub status: EntryStatus,
    pub version: i64,
    pub content: EntryContent,
    pub author: String,
    pub note: String,
    pub now: i64,
    pub status_only: bool,
}

/// A page of entries, newest change first.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    pub status: Option<EntryStatus>,
    /// The category and everything under it.
    pub category: Option<String>,
    /// Part of the standard question, or the whole id.
    pub text: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// A cheap fingerprint of the whole knowledge base: it changes with every
/// create, edit, publish, unpublish and archive (so nodes sharing a database
/// notice each other's changes).
pub type KbRevision = (i64, i64, i64);

/// The knowledge base's entries, categories, usage counts, and the marks of
/// what the vector index durably holds.
#[async_trait]
pub trait KnowledgeEntries: Send + Sync {
    async fn categories(&self) -> Result<Vec<String>, RepoError>;
    async fn add_categories(&self, paths: &[String], now: i64) -> Result<(), RepoError>;
    async fn entry(&self, id: &str) -> Result<StoredEntry, RepoError>;
    async fn heads(&self) -> Result<Vec<EntryHead>, RepoError>;
    /// Every entry in `status`, by id. An entry whose stored content does not
    /// read back is left out (and logged), so one bad row cannot stop the
    /// index or the classifier from being rebuilt.
    async fn with_status(&self, status: EntryStatus) -> Result<Vec<StoredEntry>, RepoError>;
    /// A page of entries and how many match in all.
    async fn list(&self, filter: &EntryFilter) -> Result<(Vec<StoredEntry>, i64), RepoError>;
    /// All writes land, or none does (`Conflict` when a guard fails).
    async fn write(&self, writes: &[EntryWrite]) -> Result<(), RepoError>;
    /// Newest first.
    async fn versions(&self, id: &str) -> Result<Vec<StoredVersion>, RepoError>;
    async fn version(&self, id: &str, version: i64) -> Result<StoredVersion, RepoError>;
    async fn count_usage(&self, ids: &[String], counter: UsageCounter) -> Result<(), RepoError>;
    async fn revision(&self) -> Result<KbRevision, RepoError>;
    /// Entries the index durably holds, with the content hash of their points.
    async fn index_marks(&self) -> Result<Vec<(String, String)>, RepoError>;
    async fn mark_indexed(&self, marks: &[(String, String)], now: i64) -> Result<(), RepoError>;
    async fn unmark_indexed(&self, ids: &[String]) -> Result<(), RepoError>;
    /// Forgets every mark (before the index is cleared for a rebuild).
    async fn clear_index_marks(&self) -> Result<(), RepoError>;
}

// ---- bot sessions -----------------------------------------------------------

/// What the bot remembers per conversation between buyer messages. The adapter
/// seals it at rest (it holds order numbers and what the buyer said).
#[async_trait]
pub trait BotSessions: Send + Sync {
    /// The conversation's session; a new one when the bot has not talked there.
    async fn session(&self, conversation_id: &str) -> Result<BotSession, RepoError>;
    async fn save_session(
        &self,
        conversation_id: &str,
        session: &BotSession,
        now: i64,
    ) -> Result<(), RepoError>;
}

// ---- quick replies ----------------------------------------------------------

/// A canned answer as kept: an agent's own, or shared (no owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredQuickReply {
    pub id: String,
    /// None: shared with every agent.
    pub owner_id: Option<String>,
    pub category: String,
    pub shortcut: String,
    pub text: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Agents' quick replies. An owner's shortcuts are unique (`AlreadyExists`).
#[async_trait]
pub trait QuickReplyRepository: Send + Sync {
    /// The agent's own replies and the shared ones, by category then shortcut.
    async fn for_agent(&self, agent_id: &str) -> Result<Vec<StoredQuickReply>, RepoError>;
    async fn get(&self, id: &str) -> Result<StoredQuickReply, RepoError>;
    async fn insert(&self, reply: &StoredQuickReply) -> Result<(), RepoError>;
    /// Category, shortcut, text and time of change; `NotFound` when it is gone.
    async fn update(&self, reply: &StoredQuickReply) -> Result<(), RepoError>;
    async fn delete(&self, id: &str) -> Result<(), RepoError>;
}

// ---- blocklists -------------------------------------------------------------

/// A block as kept: a visitor (by an agent, or muted by the flood check) or a
/// network (by an admin). Admins see it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredBlock {
    pub id: String,
    /// `visitor` or `network`.
    pub kind: String,
    /// The visitor id, or the network (`203.0.113.0/24`).
    pub value: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: i64,
    /// None: until lifted.
    pub expires_at: Option<i64>,
}

#[async_trait]
pub trait BlockRepository: Send + Sync {
    async fn insert(&self, block: &StoredBlock) -> Result<(), RepoError>;
    /// Blocks in force at `now`, newest first.
    async fn active(&self, now: i64) -> Result<Vec<StoredBlock>, RepoError>;
    async fn delete(&self, id: &str) -> Result<(), RepoError>;
}

// ---- shop settings ----------------------------------------------------------

/// The shop's settings as kept (one per shop), before they are parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredShopSettings {
    pub shop_name: String,
    /// `09:00-22:00`, or none for any hour.
    pub service_hours: Option<String>,
    pub utc_offset_minutes: i32,
    /// Days off, `YYYY-MM-DD` in the shop's time zone.
    pub holidays: Vec<String>,
    pub updated_by: Option<String>,
    pub updated_at: i64,
}

#[async_trait]
pub trait ShopSettingsRepository: Send + Sync {
    async fn get(&self) -> Result<Option<StoredShopSettings>, RepoError>;
    /// Writes them; with `only_if_missing` existing ones are kept (first-run seeding).
    async fn put(
        &self,
        settings: &StoredShopSettings,
        only_if_missing: bool,
    ) -> Result<(), RepoError>;
}

// ---- spent proof-of-work challenges -----------------------------------------

/// The proof-of-work challenges already redeemed, so that none is used twice
/// on any node.
#[async_trait]
pub trait SpentChallenges: Send + Sync {
    /// Records a used challenge by its signature; `AlreadyExists` when it was
    /// used before. Those expired before `now` may be forgotten (they no
    /// longer verify).
    async fn spend(&self, signature: &str, expires_at: i64, now: i64) -> Result<(), RepoError>;
}

// ---- quality-inspection drafts ----------------------------------------------

/// A review waiting for the model's draft, taken by one node for a while.
#[derive(Debug, Clone)]
pub struct DraftJob {
    pub review_id: String,
    pub conversation_id: String,
    pub rubric: Rubric,
    /// Tries that failed so far.
    pub failures: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftStatus {
    /// Not made yet (or being made).
    Waiting,
    Ready,
    /// The model failed on it every time it tried.
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredDraft {
    pub status: DraftStatus,
    /// Per check item, in the rubric's order (empty until ready).
    pub items: Vec<DraftItem>,
    /// The score the draft adds up to.
    pub total: Option<u32>,
    pub updated_at: i64,
}

/// The model's draft scores of reviews: sealed at rest (they quote the chat)
/// and leased to one node at a time while made.
#[async_trait]
pub trait QaDrafts: Send + Sync {
    /// Takes the oldest unscored review waiting for its draft (queueing those
    /// that have none yet), leased to the caller until `lease_until`.
    async fn take(&self, now: i64, lease_until: i64) -> Result<Option<DraftJob>, RepoError>;
    async fn finish(
        &self,
        review_id: &str,
        items: &[DraftItem],
        total: u32,
        now: i64,
    ) -> Result<(), RepoError>;
    /// Back to waiting from `retry_at` (or given up: `Failed`), with the
    /// failures counted so far.
    async fn release(
        &self,
        review_id: &str,
        status: DraftStatus,
        failures: u32,
        retry_at: i64,
        now: i64,
    ) -> Result<(), RepoError>;
    async fn draft(&self, review_id: &str) -> Result<Option<StoredDraft>, RepoError>;
    /// Asks for the draft again (after a failure): waiting from now, failures forgotten.
    async fn request(&self, review_id: &str, now: i64) -> Result<(), RepoError>;
}

// ---- quality inspection -------------------------------------------------------

/// A rubric scheme as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QaSchemeRecord {
    pub id: String,
    pub name: String,
    /// JSON of `domain::quality::Rubric`, as the quality service wrote it.
    pub rubric: String,
    pub created_by: String,
    pub created_at: i64,
}

/// A sampling plan as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QaPlanRecord {
    pub id: String,
    pub name: String,
    pub scheme_id: String,
    /// JSON list of `domain::quality::SampleRule`, as the quality service wrote it.
    pub rules: String,
    pub seed: i64,
    pub created_by: String,
    pub created_at: i64,
    /// Runs by itself each day over the day before.
    pub daily: bool,
    /// The last shop-local day it sampled by itself.
    pub daily_ran_day: Option<String>,
}

/// A review as kept: `pending`, `scored`, `appealed` or `settled`, with the
/// reviewer's comment and the agent's appeal reason sealed by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QaReviewRecord {
    pub id: String,
    pub conversation_id: String,
    pub scheme_id: String,
    pub plan_id: String,
    pub agent_id: String,
    pub day: String,
    pub reason: String,
    pub status: String,
    /// JSON of the scores by check item.
    pub scores: Option<String>,
    pub total: Option<i64>,
    pub comment_sealed: Option<Vec<u8>>,
    pub reviewer_id: Option<String>,
    pub scored_at: Option<i64>,
    pub appeal_sealed: Option<Vec<u8>>,
    pub appealed_at: Option<i64>,
    pub outcome: Option<String>,
    pub settled_by: Option<String>,
    pub settled_at: Option<i64>,
    pub created_at: i64,
}

/// A human-handled conversation a plan may pick, with its analytics facts
/// and CSAT rating as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QaCandidateRecord {
    pub conversation_id: String,
    pub agent_id: String,
    pub day: String,
    /// JSON of `domain::analytics::Facts`.
    pub facts: String,
    pub stars: Option<i64>,
    /// JSON list of the CSAT tags.
    pub tags: Option<String>,
}

/// Quality inspection's schemes, sampling plans and reviews. A review moves
/// only from the state the step needs (false: it is not there, and nothing
/// was written), so two reviewers or a double click cannot both take a step.
#[async_trait]
pub trait QaRecords: Send + Sync {
    async fn insert_scheme(&self, scheme: &QaSchemeRecord) -> Result<(), RepoError>;
    /// Oldest first.
    async fn schemes(&self) -> Result<Vec<QaSchemeRecord>, RepoError>;
    /// `NotFound` for an unknown scheme.
    async fn scheme(&self, id: &str) -> Result<QaSchemeRecord, RepoError>;
    async fn insert_plan(&self, plan: &QaPlanRecord) -> Result<(), RepoError>;
    /// Oldest first.
    async fn plans(&self) -> Result<Vec<QaPlanRecord>, RepoError>;
    /// `NotFound` for an unknown plan.
    async fn plan(&self, id: &str) -> Result<QaPlanRecord, RepoError>;
    /// Turns a plan's daily run on or off; `NotFound` for an unknown plan.
    async fn set_daily(&self, id: &str, daily: bool) -> Result<(), RepoError>;
    /// Records that a daily plan sampled `day` (never moving back).
    async fn mark_ran(&self, id: &str, day: &str) -> Result<(), RepoError>;
    /// Conversations an agent handled, started on the days `from..=to`.
    async fn candidates(&self, from: &str, to: &str) -> Result<Vec<QaCandidateRecord>, RepoError>;
    /// Queues a pending review; false when the conversation is queued for
    /// this scheme already.
    async fn queue_review(&self, review: &QaReviewRecord) -> Result<bool, RepoError>;
    /// `NotFound` for an unknown review.
    async fn review(&self, id: &str) -> Result<QaReviewRecord, RepoError>;
    /// Newest first: one agent's, or everyone's.
    async fn reviews(
        &self,
        agent_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<QaReviewRecord>, RepoError>;
    /// Scores a pending review (or re-scores a scored one not yet appealed).
    async fn score(
        &self,
        id: &str,
        score: &QaScoreWrite<'_>,
        comment_sealed: Option<&[u8]>,
    ) -> Result<bool, RepoError>;
    /// The agent's one appeal of a scored review.
    async fn appeal(&self, id: &str, reason_sealed: &[u8], at: i64) -> Result<bool, RepoError>;
    /// Settles an appeal (`upheld` or `revised`) with the score it ends with.
    async fn settle(
        &self,
        id: &str,
        outcome: &str,
        score: &QaScoreWrite<'_>,
    ) -> Result<bool, RepoError>;
    /// (skill group, agent) of every group member: a supervisor reviews the
    /// agents of their own groups.
    async fn group_members(&self) -> Result<Vec<(String, String)>, RepoError>;
}

// ---- visits and invitations -----------------------------------------------------

use crate::domain::presence::{EndingVisit, VisitRecord};

/// Shoppers' visits of the shop's pages: their state sealed at rest, opened
/// here. A visit ends once, across nodes.
#[async_trait]
pub trait VisitRecords: Send + Sync {
    /// The visit whose page holds the key of this hash.
    async fn by_key(&self, key_hash: &[u8]) -> Result<Option<VisitRecord>, RepoError>;
    /// `NotFound` for an unknown visit.
    async fn visit(&self, id: &str) -> Result<VisitRecord, RepoError>;
    /// Whether this browser had a visit that started at or before `before`.
    async fn browser_seen(&self, browser_id: &str, before: i64) -> Result<bool, RepoError>;
    /// Writes a new visit, reached by the key of this hash, with its event.
    async fn begin(
        &self,
        visit: &VisitRecord,
        key_hash: &[u8],
        started: &crate::domain::events::NewEvent,
    ) -> Result<(), RepoError>;
    /// Makes the chat the visit's (and the visit the visitor's) with its
    /// event; false when the visit has a chat or another visitor already.
    async fn attribute(
        &self,
        visit_id: &str,
        visitor_id: &str,
        conversation_id: &str,
        attributed: &crate::domain::events::NewEvent,
    ) -> Result<bool, RepoError>;
    /// Visits not ended and silent since before `before`, longest silent first.
    async fn silent(&self, before: i64, limit: i64) -> Result<Vec<EndingVisit>, RepoError>;
    /// Ends the visit with its event; false when it had ended already.
    async fn end(
        &self,
        id: &str,
        ended: &crate::domain::events::NewEvent,
    ) -> Result<bool, RepoError>;
    /// Marks the visit seen at `now`, with its new state (JSON) when it changed.
    async fn touch(&self, id: &str, now: i64, state: Option<&str>) -> Result<(), RepoError>;
    /// Marks many visits seen, each at its time, in one write.
    async fn touch_all(&self, seen: &[(String, i64)]) -> Result<(), RepoError>;
    async fn link_to_visitor(&self, visit_id: &str, visitor_id: &str) -> Result<(), RepoError>;
    /// The visit the chat was opened from.
    async fn of_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Option<VisitRecord>, RepoError>;
    /// Visits seen since `since`, the latest seen first, at most `limit`.
    async fn seen_since(&self, since: i64, limit: i64) -> Result<Vec<VisitRecord>, RepoError>;
    /// Whether visit changes are announced to other nodes (PostgreSQL with
    /// the fan-out on).
    fn fans_out(&self) -> bool;
    /// Tells the other nodes these visits changed.
    async fn announce(&self, visit_ids: &[String]) -> Result<(), RepoError>;
    /// The visits other nodes announce as changed; None without the fan-out.
    async fn foreign_changes(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::Receiver<String>>, RepoError>;
}

/// An invitation rule as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInvitationRule {
    pub id: String,
    pub priority: i64,
    pub enabled: bool,
    /// JSON of `domain::invitation::InvitationRule`.
    pub rule: String,
    pub created_at: i64,
}

/// An invitation to chat as kept: `pending` until the page shows it, then
/// `shown`, `accepted` or `declined`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInvitation {
    pub id: String,
    pub visit_id: String,
    pub browser_id: String,
    /// None: an agent sent it from the visitor list.
    pub rule_id: Option<String>,
    pub agent_id: Option<String>,
    pub greeting: String,
    pub status: String,
    pub conversation_id: Option<String>,
    pub created_at: i64,
}

/// What one rule's invitations achieved: shown, accepted, and accepted
/// ones whose chat turned into a paid order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationTally {
    /// None: the invitations agents sent themselves from the visitor list.
    pub rule_id: Option<String>,
    pub shown: i64,
    pub accepted: i64,
    pub converted: i64,
}

/// Proactive invitations to chat and the rules that send them.
#[async_trait]
pub trait InvitationRecords: Send + Sync {
    async fn insert_rule(
        &self,
        rule: &StoredInvitationRule,
        name: &str,
        created_by: &str,
    ) -> Result<(), RepoError>;
    /// In the order they are tried.
    async fn rules(&self) -> Result<Vec<StoredInvitationRule>, RepoError>;
    /// Returns when the rule was created; `NotFound` for an unknown rule.
    async fn update_rule(
        &self,
        id: &str,
        name: &str,
        enabled: bool,
        priority: i64,
        rule: &str,
    ) -> Result<i64, RepoError>;
    /// `NotFound` for an unknown rule.
    async fn delete_rule(&self, id: &str) -> Result<(), RepoError>;
    /// Per rule, and for the agents' own invitations.
    async fn tallies(&self) -> Result<Vec<InvitationTally>, RepoError>;
    async fn insert_invitation(&self, invitation: &StoredInvitation) -> Result<(), RepoError>;
    /// `NotFound` for an unknown invitation.
    async fn invitation(&self, id: &str) -> Result<StoredInvitation, RepoError>;
    /// The newest invitation of the visit not yet delivered to its page.
    async fn pending(&self, visit_id: &str) -> Result<Option<StoredInvitation>, RepoError>;
    /// How many of the visit's invitations are shown or waiting, not answered.
    async fn open_count(&self, visit_id: &str) -> Result<i64, RepoError>;
    async fn mark_shown(&self, id: &str, now: i64) -> Result<(), RepoError>;
    /// Accepts or declines an invitation still open; `Conflict` when it was
    /// answered already.
    async fn answer(
        &self,
        id: &str,
        status: &str,
        conversation_id: Option<&str>,
        now: i64,
    ) -> Result<(), RepoError>;
    /// Invitations of a rule to this visit, and to this browser since `since`.
    async fn of_rule(
        &self,
        rule_id: &str,
        visit_id: &str,
        browser_id: &str,
        since: i64,
    ) -> Result<(i64, i64), RepoError>;
}

// ---- conversions (询单转化) -------------------------------------------------

/// A chat whose signed-in buyer asked something and that no order has
/// converted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inquiry {
    pub conversation_id: String,
    /// The buyer's shop account (opened at the storage edge).
    pub account: String,
    /// The buyer's first message in the chat.
    pub first_buyer_at: i64,
}

/// The questions that may still turn into an order, and the orders that did.
#[async_trait]
pub trait Conversions: Send + Sync {
    /// Unconverted chats whose buyer first wrote at or after `since` and is
    /// signed in with a shop account, oldest question first, at most `limit`.
    async fn open_inquiries(&self, since: i64, limit: i64) -> Result<Vec<Inquiry>, RepoError>;
    /// Records, once, that an order converted the chat, with its event in the
    /// same transaction. False when the chat was converted already.
    async fn record(
        &self,
        conversation_id: &str,
        placed_at: i64,
        total_cents: i64,
        event: &crate::domain::events::NewEvent,
    ) -> Result<bool, RepoError>;
}

// ---- queue alerts (排队提醒) -------------------------------------------------

/// A skill group's queue as the alert sweeper sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedQueue {
    pub group_id: String,
    pub group_name: String,
    pub thresholds: crate::domain::routing::AlertThresholds,
    /// When the standing alert was raised (None: none stands).
    pub alert_since: Option<i64>,
    /// When each chat waiting in it was first handed off.
    pub waiting_since: Vec<i64>,
}

/// The queues that have alert thresholds, and their alerts.
#[async_trait]
pub trait WatchedQueues: Send + Sync {
    /// Every group with thresholds or a standing alert, with its queue.
    async fn watched(&self) -> Result<Vec<WatchedQueue>, RepoError>;
    /// Raises (`since` Some) or clears (None) a group's alert with its event in
    /// the same transaction; false when another node did it first.
    async fn set_alert(
        &self,
        group_id: &str,
        since: Option<i64>,
        event: &crate::domain::events::NewEvent,
    ) -> Result<bool, RepoError>;
    /// A group's name (None: no such group).
    async fn group_name(&self, group_id: &str) -> Result<Option<String>, RepoError>;
}

// ---- saved reports (我的报表) -------------------------------------------------

/// A saved custom report as stored: its id, what it asks for, when saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    pub id: String,
    pub spec: crate::domain::saved_report::ReportSpec,
    pub created_at: i64,
}

/// Each staff member's saved custom reports; nobody reads another's.
#[async_trait]
pub trait SavedReports: Send + Sync {
    /// The owner's saved reports, newest first.
    async fn list(&self, owner_id: &str) -> Result<Vec<StoredReport>, RepoError>;
    /// Saves the report unless the owner has `max` already (`Conflict`).
    async fn insert(
        &self,
        owner_id: &str,
        report: &StoredReport,
        max: usize,
    ) -> Result<(), RepoError>;
    /// `NotFound` when the owner has no such report.
    async fn delete(&self, owner_id: &str, id: &str) -> Result<(), RepoError>;
    /// Every report with a schedule, with its owner's id.
    async fn scheduled(&self) -> Result<Vec<(String, StoredReport)>, RepoError>;
}

// ---- the event log ------------------------------------------------------------

/// The outbox of committed events, for events that report no other change.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Writes one event unless one with its id exists already: false then.
    async fn append_once(&self, event: &crate::domain::events::NewEvent)
    -> Result<bool, RepoError>;
}

// ---- what the bot keeps -------------------------------------------------------

/// What the bot keeps beside its conversations: hand-off packets (sealed by
/// the bot), buyers' ratings of its answers, the questions it could not
/// answer, and the shop's welcome texts and menus.
#[async_trait]
pub trait BotRecords: Send + Sync {
    async fn insert_packet(
        &self,
        id: &str,
        conversation_id: &str,
        reason: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<(), RepoError>;
    async fn update_packet(&self, id: &str, sealed: &[u8], now: i64) -> Result<(), RepoError>;
    /// The sealed packet of the conversation's latest hand-off.
    async fn latest_packet(&self, conversation_id: &str) -> Result<Option<Vec<u8>>, RepoError>;
    /// A buyer's vote on the bot answer at `seq` (the last vote counts).
    async fn rate_answer(
        &self,
        conversation_id: &str,
        seq: i64,
        helpful: bool,
        entry_ids_json: &str,
        now: i64,
    ) -> Result<(), RepoError>;
    async fn log_unanswered(
        &self,
        question: &crate::domain::bot_session::UnansweredQuestion,
    ) -> Result<(), RepoError>;
    /// Logged since `since`, newest first, at most `limit`.
    async fn unanswered(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<crate::domain::bot_session::UnansweredQuestion>, RepoError>;
    async fn welcome_texts(&self) -> Result<Vec<crate::domain::welcome::WelcomeText>, RepoError>;
    async fn put_welcome_text(
        &self,
        text: &crate::domain::welcome::WelcomeText,
    ) -> Result<(), RepoError>;
    /// True when there was one to delete.
    async fn delete_welcome_text(&self, scenario: &str, lang: &str) -> Result<bool, RepoError>;
    /// The menu's buttons (JSON) in a language, when the shop set them.
    async fn bot_menu(&self, lang: &str) -> Result<Option<String>, RepoError>;
    async fn put_bot_menu(
        &self,
        lang: &str,
        buttons: &str,
        by: &str,
        now: i64,
    ) -> Result<(), RepoError>;
    /// True when there was one to delete.
    async fn delete_bot_menu(&self, lang: &str) -> Result<bool, RepoError>;
}

// ---- suggested wordings -------------------------------------------------------

/// The local model's proposed wordings of entries with few
/// (`domain::wording`), and which version of each entry it was asked about.
#[async_trait]
pub trait WordingSuggestions: Send + Sync {
    /// Stores an entry's new proposals as pending (a text proposed for the
    /// entry before, in any status, is skipped) and marks `version` of the
    /// entry asked. How many were new.
    async fn propose(
        &self,
        entry_id: &str,
        version: i64,
        proposals: &[crate::domain::wording::WordingSuggestion],
        now: i64,
    ) -> Result<usize, RepoError>;
    /// The version of each entry the model was last asked about, by entry id.
    async fn asked(&self) -> Result<std::collections::HashMap<String, i64>, RepoError>;
    /// In `status` (every status when `None`), oldest first, at most `limit`.
    async fn suggestions(
        &self,
        status: Option<crate::domain::wording::SuggestionStatus>,
        limit: i64,
    ) -> Result<Vec<crate::domain::wording::WordingSuggestion>, RepoError>;
    async fn suggestion(
        &self,
        id: &str,
    ) -> Result<Option<crate::domain::wording::WordingSuggestion>, RepoError>;
    /// Decides a pending suggestion; false when it is no longer pending
    /// (someone decided it meanwhile).
    async fn decide(
        &self,
        id: &str,
        status: crate::domain::wording::SuggestionStatus,
        by: &str,
        now: i64,
    ) -> Result<bool, RepoError>;
}

// ---- shopping history ---------------------------------------------------------

/// What a buyer's page last reported, and the shop account they signed in with.
#[derive(Debug, Clone, Default)]
pub struct BuyerContext {
    pub context: Option<crate::domain::visitor::VisitorContext>,
    pub shop_account_id: Option<String>,
}

/// What recommendations learn from and start with: the shop's visits (their
/// pages and carts) and a buyer's own visits and reported context. A visit or
/// a context that does not read back is left out, as if it were not there.
#[async_trait]
pub trait ShoppingHistory: Send + Sync {
    /// A buyer's latest visits, newest first.
    async fn visits_of(
        &self,
        visitor_id: &str,
        limit: i64,
    ) -> Result<Vec<crate::domain::presence::VisitState>, RepoError>;
    /// The shop's visits seen since `since`, newest first, at most `limit`.
    async fn visits_since(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<crate::domain::presence::VisitState>, RepoError>;
    /// `NotFound` for an unknown buyer.
    async fn buyer_context(&self, visitor_id: &str) -> Result<BuyerContext, RepoError>;
}

/// What the shop's service knows of one buyer, for the buyer profile: the
/// history of their chats, tickets and ratings, the VIP mark, and the tags
/// staff set by hand on their shop account (sealed at rest, found by a blind
/// index of the account).
#[async_trait]
pub trait BuyerRecords: Send + Sync {
    /// The visitor's chats, tickets and ratings; ratings of `low_stars` or
    /// fewer since `since` counted apart; the latest chats other than
    /// `current` and the latest tickets listed.
    async fn service_history(
        &self,
        visitor_id: &str,
        current: &str,
        since: i64,
        low_stars: i64,
    ) -> Result<crate::domain::portrait::ServiceHistory, RepoError>;
    /// Whether the buyer of the conversation is marked VIP.
    async fn is_vip(&self, conversation_id: &str) -> Result<bool, RepoError>;
    /// The account's hand tags, oldest first.
    async fn hand_tags(
        &self,
        account: &str,
    ) -> Result<Vec<crate::domain::portrait::HandTagView>, RepoError>;
    /// Adds a tag; one already there stays as it was.
    async fn add_hand_tag(
        &self,
        account: &str,
        tag: &str,
        by: &str,
        at: i64,
    ) -> Result<(), RepoError>;
    /// True when the tag was there.
    async fn remove_hand_tag(&self, account: &str, tag: &str) -> Result<bool, RepoError>;
}

/// A saved view of the ticket list as stored: its filters as the JSON the
/// ticket service wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedView {
    pub id: String,
    pub staff_id: String,
    pub name: String,
    pub filters: String,
    pub created_at: i64,
}

/// Each person's saved views of the ticket list.
#[async_trait]
pub trait SavedViews: Send + Sync {
    /// Saves the view unless its person already has `max` (then false);
    /// `AlreadyExists` when they have one of that name.
    async fn insert_view(&self, view: &SavedView, max: i64) -> Result<bool, RepoError>;
    /// The person's views, by name.
    async fn views_of(&self, staff_id: &str) -> Result<Vec<SavedView>, RepoError>;
    /// `NotFound` unless the person has a view of that id.
    async fn delete_view(&self, staff_id: &str, id: &str) -> Result<(), RepoError>;
}

/// A staff member's two-step sign-in as stored: the secret (sealed at rest),
/// whether sign-in asks for a code yet, and the last step a code was taken for.
#[derive(Debug, Clone, PartialEq)]
pub struct TotpSecret {
    pub secret: Vec<u8>,
    /// False while set up but not yet confirmed with a code.
    pub enabled: bool,
    pub last_step: i64,
}

/// Staff members' two-step sign-in secrets. A code's step is taken at most
/// once, across nodes: the store compares and sets it.
#[async_trait]
pub trait TwoStepSecrets: Send + Sync {
    async fn secret_of(&self, staff_id: &str) -> Result<Option<TotpSecret>, RepoError>;
    /// A new secret, not yet asked for; false while two-step sign-in is on.
    async fn set_up(&self, staff_id: &str, secret: &[u8]) -> Result<bool, RepoError>;
    /// Takes `step` when it is later than the last one taken (and turns
    /// sign-in codes on when `enable`); false when it was taken already.
    async fn take_step(&self, staff_id: &str, step: i64, enable: bool) -> Result<bool, RepoError>;
    /// Off, and the secret forgotten; `NotFound` for an unknown person.
    async fn clear(&self, staff_id: &str) -> Result<(), RepoError>;
}

// ---- tickets ---------------------------------------------------------------

use crate::domain::ticket_automations::{Automation, AutomationInput, AutomationRun, Conditions};
use crate::domain::ticket_mail::{NotificationPrefs, PasswordChange, SmtpSettings};
use crate::domain::tickets::{
    BoardCounts, Comment, HistoryEntry, Priority, Ticket, TicketFilter, TicketWrite,
};

/// Tickets with their history, comments and watchers. Every write is guarded
/// by the version the caller read (false: someone changed the ticket first,
/// and nothing was written) and writes its history and events with it.
#[async_trait]
pub trait TicketRecords: Send + Sync {
    /// Numbers the ticket (per shop day) and writes it with its first
    /// history line, linking the chat's files named in `chat_files`.
    async fn create(
        &self,
        ticket: &mut Ticket,
        local_day: &str,
        history: &HistoryEntry,
        chat_files: &[String],
    ) -> Result<(), RepoError>;
    async fn save(
        &self,
        ticket: &Ticket,
        expected_version: i64,
        write: &TicketWrite,
    ) -> Result<bool, RepoError>;
    /// All or none: false when any of them changed first.
    async fn save_all(&self, changes: &[(&Ticket, i64, &TicketWrite)]) -> Result<bool, RepoError>;
    /// The change an automation made, with its run (once per event and rule,
    /// ever): false when the ticket changed first or the run is recorded.
    async fn save_run(
        &self,
        ticket: &Ticket,
        expected_version: i64,
        write: &TicketWrite,
        run: &AutomationRun,
    ) -> Result<bool, RepoError>;
    async fn ticket(&self, id: &str) -> Result<Option<Ticket>, RepoError>;
    async fn by_number(&self, number: &str) -> Result<Option<Ticket>, RepoError>;
    async fn list(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, RepoError>;
    /// Tickets whose SLA clock runs, by id after `after`.
    async fn running_sla(&self, after: &str, limit: i64) -> Result<Vec<Ticket>, RepoError>;
    /// Active tickets within the filter due from `from` (or overdue) until `until`.
    async fn due(
        &self,
        filter: &TicketFilter,
        from: Option<i64>,
        until: i64,
        limit: i64,
    ) -> Result<Vec<Ticket>, RepoError>;
    /// Tickets that match `when` and have not changed since `before`, with
    /// their versions, which the rule has not run for yet.
    async fn idle(
        &self,
        rule_id: &str,
        when: &Conditions,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(String, i64)>, RepoError>;
    async fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, RepoError>;
    async fn comments(&self, id: &str, public_only: bool) -> Result<Vec<Comment>, RepoError>;
    async fn watchers(&self, id: &str) -> Result<Vec<String>, RepoError>;
    async fn add_watcher(
        &self,
        id: &str,
        staff_id: &str,
        by: &str,
        now: i64,
    ) -> Result<(), RepoError>;
    async fn remove_watcher(&self, id: &str, staff_id: &str) -> Result<(), RepoError>;
    async fn board(&self, filter: &TicketFilter) -> Result<BoardCounts, RepoError>;
    /// How many active tickets are older than each bound.
    async fn ageing(
        &self,
        filter: &TicketFilter,
        now: i64,
        bounds: &[i64],
    ) -> Result<Vec<(i64, i64)>, RepoError>;
}

/// A department as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DepartmentRecord {
    pub id: String,
    pub name: String,
    pub lead_id: Option<String>,
    pub created_at: i64,
}

/// A ticket type as stored (its SLA policies apart).
#[derive(Debug, Clone, PartialEq)]
pub struct TicketTypeRecord {
    pub key: String,
    pub name: String,
    pub required_fields: Vec<String>,
    pub created_at: i64,
}

/// How the shop's tickets are set up: departments and their members, types
/// with SLA policies, the business calendar, reopening and routing rules.
/// Names are unique: a second department or type of one is `AlreadyExists`.
#[async_trait]
pub trait TicketSetup: Send + Sync {
    async fn insert_department(&self, department: &DepartmentRecord) -> Result<(), RepoError>;
    async fn departments(&self) -> Result<Vec<DepartmentRecord>, RepoError>;
    async fn department(&self, id: &str) -> Result<Option<DepartmentRecord>, RepoError>;
    /// (department, staff member) pairs.
    async fn department_members(&self) -> Result<Vec<(String, String)>, RepoError>;
    async fn departments_of(&self, staff_id: &str) -> Result<Vec<String>, RepoError>;
    async fn add_department_member(
        &self,
        department_id: &str,
        staff_id: &str,
    ) -> Result<(), RepoError>;
    /// The type with its (priority, first response, resolution minutes) policies.
    async fn insert_type(
        &self,
        ticket_type: &TicketTypeRecord,
        policies: &[(Priority, i64, i64)],
    ) -> Result<(), RepoError>;
    async fn types(&self) -> Result<Vec<TicketTypeRecord>, RepoError>;
    async fn ticket_type(&self, key: &str) -> Result<Option<TicketTypeRecord>, RepoError>;
    /// (type, priority, first response ms, resolution ms) of every type.
    async fn sla_policies(&self) -> Result<Vec<(String, String, i64, i64)>, RepoError>;
    /// (first response ms, resolution ms) of one type and priority.
    async fn sla_policy(
        &self,
        type_key: &str,
        priority: Priority,
    ) -> Result<Option<(i64, i64)>, RepoError>;
    /// (day, "holiday" or "workday") pairs.
    async fn business_days(&self) -> Result<Vec<(String, String)>, RepoError>;
    async fn put_business_days(&self, days: &[(String, String)]) -> Result<(), RepoError>;
    async fn reopen_days(&self) -> Result<Option<i64>, RepoError>;
    async fn put_reopen_days(&self, days: i64, by: &str, now: i64) -> Result<(), RepoError>;
    async fn routing_rules(
        &self,
    ) -> Result<Option<crate::domain::tickets::RoutingRules>, RepoError>;
    async fn put_routing_rules(
        &self,
        rules: &crate::domain::tickets::RoutingRules,
        by: &str,
        now: i64,
    ) -> Result<(), RepoError>;
}

/// The shop's ticket automations, in the order they run, and which ran for
/// which event.
#[async_trait]
pub trait AutomationRules: Send + Sync {
    async fn rules(&self) -> Result<Vec<Automation>, RepoError>;
    async fn insert_rule(
        &self,
        id: &str,
        rule: &AutomationInput,
        by: &str,
        now: i64,
    ) -> Result<Automation, RepoError>;
    /// `NotFound` for an unknown rule.
    async fn update_rule(
        &self,
        id: &str,
        rule: &AutomationInput,
        now: i64,
    ) -> Result<Automation, RepoError>;
    /// False unless `ids` names every rule once.
    async fn reorder_rules(&self, ids: &[String]) -> Result<bool, RepoError>;
    /// `NotFound` for an unknown rule.
    async fn delete_rule(&self, id: &str) -> Result<(), RepoError>;
    async fn ran(&self, event_id: &str, rule_id: &str) -> Result<bool, RepoError>;
    /// Whether a webhook endpoint of that id is registered.
    async fn endpoint_exists(&self, id: &str) -> Result<bool, RepoError>;
}

/// E-mail reminders: the SMTP settings (the password opened), each person's
/// notification preferences, and which mails went out (once per event and
/// recipient).
#[async_trait]
pub trait MailRecords: Send + Sync {
    async fn smtp_settings(&self) -> Result<Option<(SmtpSettings, Option<String>)>, RepoError>;
    async fn put_smtp_settings(
        &self,
        settings: &SmtpSettings,
        password: PasswordChange<'_>,
        by: &str,
        now: i64,
    ) -> Result<(), RepoError>;
    async fn prefs(&self, staff_id: &str) -> Result<NotificationPrefs, RepoError>;
    async fn put_prefs(
        &self,
        staff_id: &str,
        prefs: &NotificationPrefs,
        now: i64,
    ) -> Result<(), RepoError>;
    async fn mail_was_sent(&self, event_id: &str, recipient_id: &str) -> Result<bool, RepoError>;
    async fn record_mail_sent(
        &self,
        event_id: &str,
        recipient_id: &str,
        now: i64,
    ) -> Result<(), RepoError>;
}

/// One reminder in a person's console bell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BellItem {
    pub id: String,
    pub kind: String,
    pub ticket_id: String,
    pub ticket_number: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

/// A reminder to ring.
#[derive(Debug, Clone)]
pub struct NewBell<'a> {
    pub staff_id: &'a str,
    pub event_id: &'a str,
    pub kind: &'a str,
    pub ticket_id: &'a str,
    pub ticket_number: &'a str,
    pub created_at: i64,
}

/// Each person's in-app reminders, written once per (event, person) and
/// marked read by their owner only.
#[async_trait]
pub trait BellRecords: Send + Sync {
    /// False when this (event, person) has one already.
    async fn ring(&self, bell: &NewBell<'_>) -> Result<bool, RepoError>;
    /// The newest `limit`, and how many of all are unread.
    async fn bell(&self, staff_id: &str, limit: i64) -> Result<(Vec<BellItem>, i64), RepoError>;
    /// False unless the person has an unread reminder of that id.
    async fn mark_read(&self, staff_id: &str, id: &str, now: i64) -> Result<bool, RepoError>;
    async fn mark_all_read(&self, staff_id: &str, now: i64) -> Result<u64, RepoError>;
}

// ---- who works here ------------------------------------------------------------

/// A staff member as other services need to know them.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: String,
    pub display_name: String,
    pub role: String,
    pub disabled: bool,
}

#[async_trait]
pub trait StaffDirectory: Send + Sync {
    /// `NotFound` for an unknown id.
    async fn person(&self, id: &str) -> Result<Person, RepoError>;
    async fn people(&self) -> Result<Vec<Person>, RepoError>;
}

// ---- the committed-event stream -------------------------------------------------

/// How long a node holds a subscriber's lease without renewing it.
pub const LEASE_MS: i64 = 15_000;

/// The outbox read in position order, and each cluster subscriber's durable
/// cursor under a lease one node holds at a time.
#[async_trait]
pub trait EventStream: Send + Sync {
    /// The newest event's position (0: none yet).
    async fn head(&self) -> Result<i64, RepoError>;
    /// Up to `limit` events after `position`, in order.
    async fn after(
        &self,
        position: i64,
        limit: i64,
    ) -> Result<Vec<crate::domain::events::DomainEvent>, RepoError>;
    /// Changes whenever events are committed (here or, on PostgreSQL, on
    /// another node).
    fn watch(&self) -> tokio::sync::watch::Receiver<u64>;
    /// The cursor's position when this node holds (or now takes) the lease;
    /// none while another node holds it. A new cursor starts at `start`.
    async fn take_lease(
        &self,
        name: &str,
        node: &str,
        start: i64,
        now: i64,
    ) -> Result<Option<i64>, RepoError>;
    /// Saves the position and renews the lease; false when it was lost.
    async fn advance(
        &self,
        name: &str,
        node: &str,
        position: i64,
        now: i64,
    ) -> Result<bool, RepoError>;
    async fn release(&self, name: &str, node: &str) -> Result<(), RepoError>;
}

// ---- outbound webhooks -------------------------------------------------------------

/// A registered webhook endpoint; its signing key is sealed by the service.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub description: String,
    /// Event type names (`["*"]` for all).
    pub event_types: Vec<String>,
    pub sealed_secret: Vec<u8>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Only events after this position are sent to it.
    pub since_position: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One event's delivery to one endpoint, as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub position: i64,
    pub conversation_id: Option<String>,
    /// pending, delivered or failed.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone)]
pub enum AttemptResult {
    Delivered {
        status: i32,
        at: i64,
    },
    /// Try again at `next_attempt_at` (or give up: `give_up`).
    Failed {
        status: Option<i32>,
        error: String,
        next_attempt_at: i64,
        give_up: bool,
    },
}

/// Webhook endpoints and their delivery log. A delivery is queued once per
/// (endpoint, event).
#[async_trait]
pub trait WebhookRecords: Send + Sync {
    async fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), RepoError>;
    async fn endpoints(&self) -> Result<Vec<Endpoint>, RepoError>;
    /// `NotFound` for an unknown endpoint.
    async fn endpoint(&self, id: &str) -> Result<Endpoint, RepoError>;
    /// On (forgetting why it was off) or off with a reason; `NotFound` for an
    /// unknown endpoint.
    async fn set_endpoint_enabled(
        &self,
        id: &str,
        enabled: bool,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), RepoError>;
    /// The endpoint and its log; `NotFound` for an unknown endpoint.
    async fn delete_endpoint(&self, id: &str) -> Result<(), RepoError>;
    async fn queue(
        &self,
        deliveries: &[crate::domain::ticket_automations::QueuedDelivery],
    ) -> Result<(), RepoError>;
    /// The endpoint's due pending deliveries, oldest first, one per conversation.
    async fn pending(&self, endpoint_id: &str, limit: i64) -> Result<Vec<Delivery>, RepoError>;
    /// The log, newest first, optionally of one status.
    async fn deliveries(
        &self,
        endpoint_id: &str,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Delivery>, RepoError>;
    async fn record_attempt(
        &self,
        delivery_id: &str,
        result: &AttemptResult,
    ) -> Result<(), RepoError>;
    /// Sends a delivery again; `NotFound` unless the endpoint has it.
    async fn replay(&self, endpoint_id: &str, delivery_id: &str, now: i64)
    -> Result<(), RepoError>;
}

// ---- visitors -----------------------------------------------------------------

/// A buyer as the store keeps them. The account and nickname read back plain;
/// the personal data stays sealed for the visitor service to open.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVisitor {
    pub id: String,
    pub shop_account_id: Option<String>,
    pub nickname: Option<String>,
    /// `domain::visitor::BuyerPii` as JSON, sealed by the service with the
    /// visitor id as associated data.
    pub sealed_pii: Option<Vec<u8>>,
    /// What the buyer's page last reported, as the JSON the service wrote.
    pub context: Option<String>,
}

/// Buyers as visitors: found by the hash of their token, never by the token.
/// A change to a buyer's identity or personal data is told in the event log.
#[async_trait]
pub trait VisitorRecords: Send + Sync {
    async fn add_visitor(
        &self,
        id: &str,
        token_hash: &[u8],
        shop_account_id: Option<&str>,
        nickname: Option<&str>,
        now: i64,
    ) -> Result<(), RepoError>;
    /// `NotFound` for a token no visitor holds.
    async fn visitor_of_token(&self, token_hash: &[u8]) -> Result<StoredVisitor, RepoError>;
    async fn visitor_by_id(&self, id: &str) -> Result<StoredVisitor, RepoError>;
    /// Sets the account and nickname given, keeps those not given.
    async fn set_identity(
        &self,
        id: &str,
        shop_account_id: Option<&str>,
        nickname: Option<&str>,
        now: i64,
    ) -> Result<(), RepoError>;
    async fn set_sealed_pii(&self, id: &str, sealed: &[u8], now: i64) -> Result<(), RepoError>;
    /// `NotFound` for an unknown visitor.
    async fn set_context(&self, id: &str, context_json: &str, now: i64) -> Result<(), RepoError>;
}

// ---- sealed values ------------------------------------------------------------

/// What one pass over one sealed place (a column, the attachment files) found.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ColumnPass {
    pub table: String,
    pub column: String,
    /// Values read.
    pub scanned: u64,
    /// Values under an older key: re-sealed (or, in a dry run, that would be).
    pub older_key: u64,
    /// Values no key of the ring opens (tampered, or sealed with a retired key).
    pub unreadable: u64,
}

/// Every value the database keeps sealed, for re-sealing under the ring's
/// current key after a rotation (`crypto::Cipher`). A value written meanwhile
/// is never overwritten.
#[async_trait]
pub trait SealedValues: Send + Sync {
    /// One pass over every sealed column, one figure each, in a fixed order:
    /// values under an older key are re-sealed (only counted when `dry_run`).
    async fn reseal_all(&self, dry_run: bool) -> Result<Vec<ColumnPass>, RepoError>;
}

// ---- the history index --------------------------------------------------------

/// A conversation as a list shows it: a history search's hits, a buyer's export.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundConversation {
    pub id: String,
    pub visitor_id: String,
    pub channel: String,
    pub state: String,
    pub agent_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The history search's blind index: term hashes per conversation
/// (`domain::history`), searched together with the conversations' own
/// agent, buyer and dates. Adding a term twice changes nothing.
#[async_trait]
pub trait HistoryIndex: Send + Sync {
    /// Adds each conversation's terms, all in one write.
    async fn add_terms(
        &self,
        entries: &[(&str, &[crate::domain::history::TermHash])],
    ) -> Result<(), RepoError>;
    /// Conversations matching every term and filter, newest first.
    async fn search(
        &self,
        filter: &crate::domain::history::HistoryFilter,
    ) -> Result<Vec<FoundConversation>, RepoError>;
    /// The ids of a visitor's latest conversations, newest first.
    async fn conversations_of_visitor(
        &self,
        visitor_id: &str,
        limit: i64,
    ) -> Result<Vec<String>, RepoError>;
    /// How many conversations hold the term, counted up to `cap`.
    async fn postings(
        &self,
        term: &crate::domain::history::TermHash,
        cap: i64,
    ) -> Result<i64, RepoError>;
}

// ---- skill groups -------------------------------------------------------------

/// A skill group as stored, without its members and queue.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredGroup {
    pub id: String,
    pub name: String,
    pub strategy: crate::domain::routing::Strategy,
    pub is_default: bool,
    pub overflow_group_id: Option<String>,
    pub overflow_after_ms: Option<i64>,
    pub created_at: i64,
    pub alert_waiting: Option<i64>,
    pub alert_wait_ms: Option<i64>,
    /// When the group's queue alert was raised (None: no alert stands).
    pub alert_since: Option<i64>,
}

/// An agent in a group: their level and weight, and the chats the group gave them.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMember {
    pub agent_id: String,
    pub level: i64,
    pub weight: i64,
    pub assigned: i64,
}

/// An agent's presence, load and capacity.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentLoad {
    pub agent_id: String,
    pub display_name: String,
    pub status: String,
    pub active: i64,
    pub max_chats: i64,
}

/// An open chat's times, for the supervisor board.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenChatTimes {
    pub conversation_id: String,
    pub state: String,
    pub agent_id: Option<String>,
    pub group_id: Option<String>,
    pub queued_since: Option<i64>,
    pub last_buyer_at: Option<i64>,
    pub last_agent_at: Option<i64>,
    /// The buyer message the agent last answered, and the agent's first answer to it.
    pub answered_buyer_at: Option<i64>,
    pub reply_at: Option<i64>,
}

/// Routing as admins configure it (skill groups, their members, routing
/// rules) and what the supervisor board reads of queues, agents and chats.
#[async_trait]
pub trait SkillGroupRecords: Send + Sync {
    /// Every group, by name.
    async fn groups(&self) -> Result<Vec<StoredGroup>, RepoError>;
    async fn group(&self, id: &str) -> Result<StoredGroup, RepoError>;
    /// `AlreadyExists` when a group has the name.
    async fn add_group(&self, group: &StoredGroup) -> Result<(), RepoError>;
    /// Changes strategy, overflow and alert thresholds; the name, the default
    /// flag and a standing alert stay.
    async fn update_group(&self, group: &StoredGroup) -> Result<(), RepoError>;
    /// The group's members, by agent id.
    async fn members(&self, group_id: &str) -> Result<Vec<GroupMember>, RepoError>;
    /// Adds the agent to the group or changes their level and weight.
    async fn set_member(
        &self,
        group_id: &str,
        agent_id: &str,
        level: i64,
        weight: i64,
    ) -> Result<(), RepoError>;
    /// `NotFound` unless the agent was in the group.
    async fn remove_member(&self, group_id: &str, agent_id: &str) -> Result<(), RepoError>;
    async fn add_rule(
        &self,
        rule: &crate::domain::routing::RouteRule,
        now: i64,
    ) -> Result<(), RepoError>;
    async fn delete_rule(&self, id: &str) -> Result<(), RepoError>;
    /// When each chat in the group's queue first waited, in serving order.
    async fn queue_waits(&self, group_id: &str, limit: i64) -> Result<Vec<i64>, RepoError>;
    async fn agent_loads(&self) -> Result<Vec<AgentLoad>, RepoError>;
    async fn open_chats(&self, limit: i64) -> Result<Vec<OpenChatTimes>, RepoError>;
    /// `NotFound` for an unknown staff member.
    async fn staff_exists(&self, staff_id: &str) -> Result<(), RepoError>;
}

// ---- API channels -------------------------------------------------------------

/// An API channel: its key kept only as a hash, and how many agent replies
/// it allows after each user message, within what window.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiChannel {
    pub id: String,
    pub name: String,
    pub key_hash: Vec<u8>,
    pub reply_limit: i32,
    pub reply_window_ms: i64,
    /// The admin's staff id.
    pub created_by: String,
    pub created_at: i64,
}

/// An app's user on a channel: found by a hash of their external id, which
/// is kept sealed (with the channel id as associated data) for webhooks.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelUser {
    pub channel_id: String,
    pub external_hash: Vec<u8>,
    pub sealed_external: Vec<u8>,
    pub visitor_id: String,
    /// Their current conversation.
    pub conversation_id: String,
    pub last_inbound_at: i64,
}

/// API channels and the users who wrote on them.
#[async_trait]
pub trait ChannelRecords: Send + Sync {
    async fn add_channel(&self, channel: &ApiChannel) -> Result<(), RepoError>;
    /// Every channel, oldest first.
    async fn all_channels(&self) -> Result<Vec<ApiChannel>, RepoError>;
    /// `NotFound` for a key no channel holds.
    async fn channel_of_key(&self, key_hash: &[u8]) -> Result<ApiChannel, RepoError>;
    /// The channel and its users; `NotFound` for an unknown channel.
    async fn remove_channel(&self, id: &str) -> Result<(), RepoError>;
    async fn user_of_hash(
        &self,
        channel_id: &str,
        external_hash: &[u8],
    ) -> Result<Option<ChannelUser>, RepoError>;
    /// The user a conversation is the current one of, on any channel.
    async fn user_of_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Option<ChannelUser>, RepoError>;
    /// Records the user's message time and current conversation: the reply
    /// window starts again.
    async fn save_user(&self, user: &ChannelUser) -> Result<(), RepoError>;
}

// ---- attachments --------------------------------------------------------------

/// Attachments as recorded: what each is and where it was shared (a
/// conversation, a ticket). Stored once by content; on PostgreSQL the sealed
/// bytes go with the record, elsewhere the service keeps them in files.
#[async_trait]
pub trait AttachmentRecords: Send + Sync {
    /// Whether the sealed bytes are kept here (so every node of a cluster
    /// serves them) rather than in the service's files.
    fn keeps_bytes(&self) -> bool;
    /// Records the attachment and links it to its owner; both idempotent.
    /// `sealed`: the bytes, when `keeps_bytes`.
    async fn link(
        &self,
        id: &str,
        content_type: &str,
        size: i64,
        owner: crate::domain::attachment::AttachmentOwner<'_>,
        now: i64,
        sealed: Option<&[u8]>,
    ) -> Result<(), RepoError>;
    /// The sealed bytes, when `keeps_bytes`.
    async fn sealed_bytes(&self, id: &str) -> Result<Vec<u8>, RepoError>;
    /// The content type; `NotFound` unless it was shared in the conversation.
    async fn type_in_conversation(
        &self,
        id: &str,
        conversation_id: &str,
    ) -> Result<String, RepoError>;
    /// The content type and size; `NotFound` unless shared in the conversation.
    async fn type_and_size_in_conversation(
        &self,
        id: &str,
        conversation_id: &str,
    ) -> Result<(String, i64), RepoError>;
    /// The content type; `NotFound` unless it is on the ticket (and public,
    /// for `public_only`).
    async fn type_on_ticket(
        &self,
        id: &str,
        ticket_id: &str,
        public_only: bool,
    ) -> Result<String, RepoError>;
    /// Every file on the ticket once; `public_only`: those its buyer may see.
    async fn files_of_ticket(
        &self,
        ticket_id: &str,
        public_only: bool,
    ) -> Result<Vec<crate::domain::tickets::TicketFile>, RepoError>;
}

// ---- staff accounts and sessions ----------------------------------------------------

/// A staff account as stored (the password as its argon2 hash).
#[derive(Debug, Clone, PartialEq)]
pub struct StaffAccount {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub password_hash: String,
    pub max_chats: i64,
    pub disabled: bool,
    pub created_at: i64,
    /// Set by a password reset: the next sign-in must choose a new one.
    pub must_change_password: bool,
    pub totp_enabled: bool,
}

/// Staff accounts and their sign-in sessions (kept by token hash only).
/// Usernames are unique: a second account of one is `AlreadyExists`.
#[async_trait]
pub trait StaffAccounts: Send + Sync {
    async fn insert(&self, account: &StaffAccount) -> Result<(), RepoError>;
    /// `NotFound` for an unknown id.
    async fn account(&self, id: &str) -> Result<StaffAccount, RepoError>;
    /// `NotFound` for an unknown name.
    async fn by_username(&self, username: &str) -> Result<StaffAccount, RepoError>;
    async fn accounts(&self) -> Result<Vec<StaffAccount>, RepoError>;
    /// Name, role, capacity and status; `NotFound` for an unknown id.
    async fn update(&self, account: &StaffAccount) -> Result<(), RepoError>;
    async fn count(&self) -> Result<i64, RepoError>;
    async fn count_active_admins(&self) -> Result<i64, RepoError>;
    async fn set_password(
        &self,
        id: &str,
        password_hash: &str,
        must_change: bool,
    ) -> Result<(), RepoError>;
    /// Puts an agent in the default skill group (level 0, weight 100), if
    /// there is one.
    async fn join_default_group(&self, agent_id: &str) -> Result<(), RepoError>;
    async fn insert_session(
        &self,
        token_hash: &[u8],
        user_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), RepoError>;
    /// (account id, expiry) of a session; `NotFound` for an unknown one.
    async fn session(&self, token_hash: &[u8]) -> Result<(String, i64), RepoError>;
    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), RepoError>;
    /// Ends the account's sessions but `keep`; the ended ones' token hashes.
    async fn end_sessions_of(
        &self,
        id: &str,
        keep: Option<&[u8]>,
    ) -> Result<Vec<Vec<u8>>, RepoError>;
}

// ---- routing's queues ------------------------------------------------------------------

/// A routing rule as stored (its match kind as written).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRule {
    pub id: String,
    pub match_kind: String,
    pub pattern: String,
    pub group_id: String,
    pub priority: i64,
}

/// What deciding an assignment sees once the queue head and the agents are
/// locked: the head, the group, and its online members with room.
pub type Decide<'a> = &'a (
        dyn Fn(
    &crate::domain::routing::Head,
    &crate::domain::routing::GroupSnapshot,
    &[crate::domain::routing::Candidate],
) -> Option<crate::domain::routing::AssignPlan>
            + Sync
    );

/// The groups' queues, agents' presence, and the assignment transaction: the
/// head of a queue, the agent and the hand-over in one transaction, so nodes
/// sharing a database never give a chat twice or fill an agent past capacity.
#[async_trait]
pub trait RoutingQueue: Send + Sync {
    /// Whether the conversation's buyer is marked VIP.
    async fn is_vip(&self, conversation_id: &str) -> Result<bool, RepoError>;
    /// `NotFound` for an unknown buyer.
    async fn set_visitor_vip(&self, visitor_id: &str, vip: bool) -> Result<(), RepoError>;
    async fn default_group_id(&self) -> Result<Option<String>, RepoError>;
    async fn rules(&self) -> Result<Vec<StoredRule>, RepoError>;
    /// Puts the chat in the group's queue (or moves it there), overflowing at
    /// `overflow_at`.
    async fn enqueue(
        &self,
        entry: &crate::domain::routing::QueueEntry,
        overflow_at: Option<i64>,
    ) -> Result<(), RepoError>;
    /// The group's queue in serving order.
    async fn queue_of(
        &self,
        group_id: &str,
        limit: i64,
    ) -> Result<Vec<crate::domain::routing::QueueEntry>, RepoError>;
    /// `NotFound` unless the chat waits in a queue.
    async fn queue_entry(
        &self,
        conversation_id: &str,
    ) -> Result<crate::domain::routing::QueueEntry, RepoError>;
    async fn dequeue(&self, conversation_id: &str) -> Result<(), RepoError>;
    async fn recent_mean_wait(&self, group_id: &str) -> Result<Option<i64>, RepoError>;
    async fn online_members(&self, group_id: &str) -> Result<i64, RepoError>;
    async fn set_presence(&self, agent_id: &str, status: &str, now: i64) -> Result<(), RepoError>;
    async fn groups_of(&self, agent_id: &str) -> Result<Vec<String>, RepoError>;
    /// Waiting chats in no queue for longer than `older_than` join the default group's.
    async fn requeue_orphans(&self, default_group: &str, older_than: i64)
    -> Result<u64, RepoError>;
    /// Moves chats past their overflow time; the groups they moved to.
    async fn overflow_due(&self, now: i64) -> Result<Vec<String>, RepoError>;
    /// Groups with someone waiting.
    async fn busy_groups(&self) -> Result<Vec<String>, RepoError>;
    async fn assign_next(
        &self,
        group_id: &str,
        now: i64,
        decide: Decide<'_>,
    ) -> Result<crate::domain::routing::AssignOutcome, RepoError>;
}

// ---- analytics ------------------------------------------------------------------

use crate::domain::agent_time::AgentTimeRows;
use crate::domain::rollups::{
    FactsLine, FactsRecord, FactsSave, RollupDelta, RollupGrouping, RollupRow, WaitRow,
};

/// What the analytics subscriber keeps (each conversation's facts, each
/// visit's tally, the rollups they move, agents' presence and load) and what
/// the reports read back, with the few facts of other aggregates a report
/// names or scopes by. Writes guarded by position: false (nothing written)
/// when the kept facts or tally already include an event at or after it.
#[async_trait]
pub trait AnalyticsRecords: Send + Sync {
    async fn facts_of(&self, conversation_id: &str) -> Result<Option<FactsRecord>, RepoError>;
    /// Writes conversations' new facts, moving their rollup counters and
    /// recording their load changes, all in one transaction; a conversation
    /// whose kept facts are as new or newer is left as it is, counters too.
    async fn save_facts(&self, saves: &[FactsSave], now: i64) -> Result<(), RepoError>;
    /// A visit's tally: (last position folded, JSON of `domain::funnel::VisitTally`).
    async fn visit_tally(&self, visit_id: &str) -> Result<Option<(i64, String)>, RepoError>;
    /// Writes a visit's new tally and moves its rollup counters, in one transaction.
    async fn save_visit_tally(
        &self,
        visit_id: &str,
        position: i64,
        tally: &str,
        deltas: &[RollupDelta],
    ) -> Result<bool, RepoError>;
    /// Keeps a presence change under its event's position (a second delivery
    /// adds nothing).
    async fn keep_presence(
        &self,
        position: i64,
        agent_id: &str,
        status: &str,
        at: i64,
    ) -> Result<(), RepoError>;
    /// Empties facts and rollups and puts the subscriber's cursor at
    /// `position` (a rebuild then replays the events up to it).
    async fn reset_rollups(&self, subscriber: &str, position: i64) -> Result<(), RepoError>;
    /// Rollup counters of the days `from..=to`, added up over the columns `by`
    /// leaves out (those come back empty), of one channel and one source ('':
    /// chats not opened from a visit) when named.
    async fn rollup_sums(
        &self,
        (from, to): (&str, &str),
        by: RollupGrouping,
        (channel, source): (Option<&str>, Option<&str>),
    ) -> Result<Vec<RollupRow>, RepoError>;
    /// The queue waits of the chats started on `from..=to` that an agent took.
    async fn queue_wait_rows(&self, from: &str, to: &str) -> Result<Vec<WaitRow>, RepoError>;
    /// Conversations started on `from..=to` after `after` (day, id) in that
    /// order, at most `limit`, narrowed by channel, agent and source when named.
    async fn facts_page(
        &self,
        (from, to): (&str, &str),
        after: (&str, &str),
        (channel, agent_id, source): (Option<&str>, Option<&str>, Option<&str>),
        limit: i64,
    ) -> Result<Vec<FactsLine>, RepoError>;
    /// Presence and chats held around `[from, to)`; `from_day` is the
    /// shop-local day that starts at `from`.
    async fn agent_time(
        &self,
        from: i64,
        to: i64,
        from_day: &str,
    ) -> Result<AgentTimeRows, RepoError>;
    /// Every staff member's chat limit (the load's denominator).
    async fn chat_limits(&self) -> Result<Vec<(String, i64)>, RepoError>;
    /// (id, display name) of every staff account.
    async fn staff_names(&self) -> Result<Vec<(String, String)>, RepoError>;
    /// (group id, group name, agent id) of every skill group membership.
    async fn group_memberships(&self) -> Result<Vec<(String, String, String)>, RepoError>;
    /// (agent, sum of totals, reviews scored) of the quality reviews of
    /// conversations on the days `from..=to`.
    async fn qa_totals(&self, from: &str, to: &str) -> Result<Vec<(String, i64, i64)>, RepoError>;
    /// The reason written in a hand-off packet.
    async fn handoff_reason(&self, packet_id: &str) -> Result<Option<String>, RepoError>;
}

/// Buyers' ratings (CSAT) of their finished conversations: one each.
#[async_trait]
pub trait CsatRatings: Send + Sync {
    async fn is_rated(&self, conversation_id: &str) -> Result<bool, RepoError>;
    /// Keeps a rating with its event; `AlreadyExists` when the conversation
    /// has one.
    async fn rate(
        &self,
        conversation_id: &str,
        stars: u8,
        tags_json: &str,
        comment: Option<&str>,
        rated: &crate::domain::events::NewEvent,
    ) -> Result<(), RepoError>;
}

// ---- data protection (privacy) ----

/// Everything stored about one buyer, as data protection finds, exports and
/// erases it. The export reads page by page (keyset positions of
/// `domain::privacy`), so a long history is never held at once; sealed values
/// come back opened, but message and note bodies stay sealed for the chat
/// service to open.
#[async_trait]
pub trait BuyerData: Send + Sync {
    /// The visitors bound to a shop account (found by its blind index), not erased.
    async fn of_account(&self, account: &str) -> Result<Vec<String>, RepoError>;
    /// When the buyer was first seen; `NotFound` for an unknown visitor.
    async fn first_seen(&self, visitor_id: &str) -> Result<i64, RepoError>;
    /// The ids of all the buyer's conversations.
    async fn conversation_ids(&self, visitor_id: &str) -> Result<Vec<String>, RepoError>;
    /// The buyer's conversations after `after`, by creation time then id.
    async fn conversations_page(
        &self,
        visitor_id: &str,
        after: &crate::domain::privacy::After,
        limit: i64,
    ) -> Result<Vec<FoundConversation>, RepoError>;
    /// A conversation's messages and notes with `seq > after_seq`, in order.
    async fn events_page(
        &self,
        conversation_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, RepoError>;
    /// The buyer's unanswered questions after `after`.
    async fn unanswered_page(
        &self,
        visitor_id: &str,
        after: &crate::domain::privacy::After,
        limit: i64,
    ) -> Result<Vec<crate::domain::bot_session::UnansweredQuestion>, RepoError>;
    /// The attachments of the buyer's conversations after `after` (upload
    /// time, then attachment id and conversation id joined by a NUL).
    async fn attachments_page(
        &self,
        visitor_id: &str,
        after: &crate::domain::privacy::After,
        limit: i64,
    ) -> Result<Vec<crate::domain::privacy::ExportAttachment>, RepoError>;
    /// The buyer's tickets after `after`.
    async fn tickets_page(
        &self,
        visitor_id: &str,
        after: &crate::domain::privacy::After,
        limit: i64,
    ) -> Result<Vec<crate::domain::tickets::Ticket>, RepoError>;
    /// The shop visits linked to the buyer after `after`.
    async fn visits_page(
        &self,
        visitor_id: &str,
        after: &crate::domain::privacy::After,
        limit: i64,
    ) -> Result<Vec<crate::domain::presence::VisitRecord>, RepoError>;
    /// Erases a buyer in one write: their personal data and token, the bodies
    /// of their conversations (replaced by `bodies`), what the bot and staff
    /// kept of them, their visits and ticket texts and the attachments only
    /// they linked. Conversations stay, anonymous, for statistics. Returns the
    /// attachment ids whose files the caller removes; `NotFound` for an
    /// unknown visitor.
    async fn erase(
        &self,
        visitor_id: &str,
        bodies: &[crate::domain::privacy::ErasedBodies],
        new_token_hash: &[u8],
        now: i64,
    ) -> Result<Vec<String>, RepoError>;
}

/// The shop's data-protection policy and the purges it orders: bodies and
/// attachments past the retention period, and rate-limit state past its use.
#[async_trait]
pub trait DataProtection: Send + Sync {
    /// The policy kept; the default (keep everything) before one is set.
    async fn policy(&self) -> Result<crate::domain::privacy::ProtectionPolicy, RepoError>;
    async fn put_policy(
        &self,
        policy: &crate::domain::privacy::ProtectionPolicy,
        by: &str,
        now: i64,
    ) -> Result<(), RepoError>;
    /// Conversations with message or note bodies older than `before` not yet
    /// purged (at most `limit`).
    async fn to_purge(&self, before: i64, limit: i64) -> Result<Vec<String>, RepoError>;
    /// Replaces the bodies older than `before` in these conversations and drops
    /// attachments uploaded before it, in one write; returns the attachment ids dropped.
    async fn purge(
        &self,
        bodies: &[crate::domain::privacy::ErasedBodies],
        before: i64,
    ) -> Result<Vec<String>, RepoError>;
    /// Drops rate-limit windows that no longer count and sign-in failures past
    /// their forgetting; returns the rows dropped.
    async fn forget_rate_state(&self, now: i64) -> Result<u64, RepoError>;
}
