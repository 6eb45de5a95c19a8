//! Who is on the shop now. The widget on the shop's pages sends a heartbeat
//! (page, referrer, cart) every few seconds; each heartbeat keeps its visit
//! online, may trigger an invitation rule, and hands the page any invitation
//! waiting for it (from a rule or from an agent). Agents list, filter and sort
//! the online visits and are told of changes as they happen, on every node
//! (PostgreSQL: a change is announced to the other nodes, batched every 100 ms).

use super::staff::StaffUser;
use super::visitors::VisitorService;
use crate::crypto::{self, Token};
use crate::domain::catalogue::Sku;
use crate::domain::events::{EventData, NewEvent};
use crate::domain::funnel;
use crate::domain::invitation::{InvitationRule, RuleAction, RuleError};
use crate::domain::presence::{
    BadBrowserId, BrowserId, HEARTBEAT_EVERY_MS, Heartbeat, ONLINE_FOR_MS, Source, Tag, Utm,
    VisitFacts, VisitFilter, VisitRecord, VisitSort, VisitState,
};
use crate::domain::visitor::{CartItem, SignedIdentity, VisitorInputError};
use crate::ports::repositories::{
    InvitationRecords, InvitationTally, RepoError, StaffDirectory, StoredInvitation,
    StoredInvitationRule, VisitRecords,
};
use crate::ports::{Clock, Commerce};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

pub const VISIT_KEY_PREFIX: &str = "vk_";
/// A visit whose page was silent this long is over; the next heartbeat starts a new one.
const VISIT_GAP_MS: i64 = 30 * 60 * 1000;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// How long this node trusts its copy of the rules.
const RULES_FRESH_MS: i64 = 5_000;
const MAX_LISTED: i64 = 5_000;
const MAX_GREETING_CHARS: usize = 500;
/// Heartbeats that change nothing but the time are written together, at most
/// this long after the first of them: one commit for hundreds of pages.
const TOUCH_BATCH: Duration = Duration::from_millis(250);
/// How often silent visits are looked for and ended.
const END_SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Changed visits are announced to the other nodes together, at most this long
/// after the first of them.
const ANNOUNCE_BATCH: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum PresenceError {
    #[error(transparent)]
    BrowserId(#[from] BadBrowserId),
    #[error(transparent)]
    Input(#[from] VisitorInputError),
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("action.agent_id names no staff member")]
    UnknownAgent,
    #[error("greeting must be 1 to 500 characters without control characters")]
    BadGreeting,
    #[error("no such visit")]
    VisitNotFound,
    #[error("the visitor has left the shop")]
    VisitGone,
    #[error("no such invitation for this visit")]
    InvitationNotFound,
    #[error("the invitation was already answered")]
    InvitationAnswered,
    #[error("no such invitation rule")]
    RuleNotFound,
    #[error("stored visit data could not be read: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Records(#[from] RepoError),
}

/// A heartbeat as the handler parsed it.
pub struct Beat {
    pub visit_key: Option<String>,
    pub browser_id: BrowserId,
    pub heartbeat: Heartbeat,
    pub identity: Option<SignedIdentity>,
}

/// What the page is told after a heartbeat.
#[derive(Debug, Serialize)]
pub struct BeatReply {
    pub visit_id: String,
    /// Only when a visit starts: the page keeps it for the tab's session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visit_key: Option<String>,
    pub invitation: Option<Offer>,
    pub next_in_ms: i64,
}

/// An invitation as the shop page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Offer {
    pub id: String,
    pub greeting: String,
    /// bot or agent
    pub from: &'static str,
    pub agent_name: Option<String>,
}

/// One online visit as agents see it.
#[derive(Debug, Clone, Serialize)]
pub struct OnlineVisit {
    pub id: String,
    pub visitor_id: Option<String>,
    pub returning: bool,
    pub started_at: i64,
    pub last_seen_at: i64,
    pub current_page: Option<String>,
    pub current_title: Option<String>,
    /// When the visitor opened the current page.
    pub page_since: i64,
    pub dwell_ms: i64,
    pub pages: usize,
    pub source: Source,
    pub utm: Utm,
    pub entry_url: String,
    pub referrer: Option<String>,
    pub cart: Vec<CartItem>,
    pub cart_cents: i64,
    pub cart_items: i64,
    pub member_level: Option<String>,
    /// Marked by the shop, or a VIP member level.
    pub vip: bool,
    pub tags: Vec<Tag>,
}

/// A change an agent's visitor list should show (pushed live).
#[derive(Debug, Clone, Serialize)]
pub struct VisitChange {
    pub visit_id: String,
}

/// An accepted invitation: what the new chat starts with.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub invitation_id: String,
    pub visit_id: String,
    pub greeting: String,
    /// The agent the chat starts with; None: the bot greets.
    pub agent_id: Option<String>,
    /// The product the visitor was looking at, if the page names one.
    pub product: Option<Sku>,
}

/// The visit a chat was opened from, as the agent beside the chat sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ChatVisit {
    pub source: Source,
    pub utm: Utm,
    pub referrer: Option<String>,
    pub returning: bool,
    pub started_at: i64,
    /// Oldest first (the newest 50), each with the time on it.
    pub pages: Vec<PathPage>,
    /// Pages opened up to the chat's start.
    pub pages_before_chat: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PathPage {
    pub url: String,
    pub title: Option<String>,
    pub at: i64,
    pub dwell_ms: i64,
}

/// What invitations achieved: how many the visitors saw and took, and how
/// many of the chats they started turned into a paid order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InvitationCounts {
    pub shown: i64,
    pub accepted: i64,
    pub converted: i64,
}

impl From<&InvitationTally> for InvitationCounts {
    fn from(row: &InvitationTally) -> Self {
        InvitationCounts {
            shown: row.shown,
            accepted: row.accepted,
            converted: row.converted,
        }
    }
}

/// A stored rule with what it achieved.
#[derive(Debug, Serialize)]
pub struct RuleView {
    pub id: String,
    pub created_at: i64,
    #[serde(flatten)]
    pub rule: InvitationRule,
    pub shown: i64,
    pub accepted: i64,
    /// Accepted invitations whose chat turned into a paid order.
    pub converted: i64,
}

type Rules = Arc<Vec<(String, InvitationRule)>>;

pub struct PresenceService {
    visits: Arc<dyn VisitRecords>,
    invitations: Arc<dyn InvitationRecords>,
    /// The agent named on an invitation.
    people: Arc<dyn StaffDirectory>,
    clock: Arc<dyn Clock>,
    visitors: Arc<VisitorService>,
    commerce: Arc<dyn Commerce>,
    changes: broadcast::Sender<VisitChange>,
    rules: Mutex<Option<(i64, Rules)>>,
    /// Visits seen since the last batch write: visit id -> last seen.
    touches: Arc<Mutex<HashMap<String, i64>>>,
    /// Changed visits not yet announced to the other nodes.
    unannounced: Arc<Mutex<std::collections::HashSet<String>>>,
}

impl PresenceService {
    /// `records` keeps the visits, invitations and staff (one database).
    pub fn new<R>(
        records: Arc<R>,
        clock: Arc<dyn Clock>,
        visitors: Arc<VisitorService>,
        commerce: Arc<dyn Commerce>,
    ) -> Self
    where
        R: VisitRecords + InvitationRecords + StaffDirectory + 'static,
    {
        Self {
            visits: records.clone(),
            invitations: records.clone(),
            people: records,
            clock,
            visitors,
            commerce,
            changes: broadcast::channel(4096).0,
            rules: Mutex::new(None),
            touches: Arc::default(),
            unannounced: Arc::default(),
        }
    }

    /// Tells this node's agents of the visits other nodes changed, until
    /// `stop` (PostgreSQL with the fan-out on; nothing to do on one node).
    pub async fn run_fanout(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut foreign = match self.visits.foreign_changes().await {
            Ok(Some(foreign)) => foreign,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "visit changes of other nodes not followed");
                return;
            }
        };
        loop {
            tokio::select! {
                visit_id = foreign.recv() => match visit_id {
                    Some(visit_id) => {
                        let _ = self.changes.send(VisitChange { visit_id });
                    }
                    None => return,
                },
                _ = stop.changed() => return,
            }
        }
    }

    /// Ends silent visits every minute until `stop` (every node runs it; a
    /// visit ends once, `VisitRecords::end`).
    pub async fn run_sweeper(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(END_SWEEP_EVERY) => {}
                _ = stop.changed() => return,
            }
            match self.end_visits().await {
                Ok(0) => {}
                Ok(ended) => tracing::debug!(ended, "visits ended"),
                Err(error) => tracing::warn!(%error, "ending silent visits failed"),
            }
        }
    }

    pub fn changes(&self) -> broadcast::Receiver<VisitChange> {
        self.changes.subscribe()
    }

    /// The page says it is still there: the visit is kept (or started), rules
    /// are tried, and a waiting invitation is handed over (once).
    pub async fn heartbeat(&self, beat: Beat) -> Result<BeatReply, PresenceError> {
        let now = self.clock.now_ms();
        let known = match &beat.visit_key {
            Some(key) => self
                .visits
                .by_key(&crypto::hash_token(key))
                .await?
                .filter(|v| v.last_seen_at >= now - VISIT_GAP_MS),
            None => None,
        };
        let (row, state, visit_key) = match known {
            Some(row) => {
                let mut state = parse_state(&row)?;
                let mut changed = state.apply(&beat.heartbeat, now);
                changed |= self.sign_in(&mut state, beat.identity.as_ref()).await;
                if changed {
                    self.visits
                        .touch(&row.id, now, Some(&to_json(&state)))
                        .await?;
                    self.changed(&row.id);
                } else {
                    self.touch_later(&row.id, now);
                }
                (row, state, None)
            }
            None => {
                let (row, state, key) = self.begin(&beat, now).await?;
                self.changed(&row.id);
                (row, state, Some(key))
            }
        };
        let facts = VisitFacts::of(&state, row.is_returning, row.vip, now);
        self.try_rules(&row, facts).await?;
        let invitation = self.deliver(&row.id, now).await?;
        Ok(BeatReply {
            visit_id: row.id,
            visit_key,
            invitation,
            next_in_ms: HEARTBEAT_EVERY_MS,
        })
    }

    async fn begin(
        &self,
        beat: &Beat,
        now: i64,
    ) -> Result<(VisitRecord, VisitState, String), PresenceError> {
        let mut state = VisitState::begin(&beat.heartbeat, now);
        self.sign_in(&mut state, beat.identity.as_ref()).await;
        let browser = beat.browser_id.as_str();
        let returning = self.visits.browser_seen(browser, now).await?;
        let key = Token::generate(VISIT_KEY_PREFIX);
        let row = VisitRecord {
            id: uuid::Uuid::now_v7().to_string(),
            browser_id: browser.to_owned(),
            visitor_id: None,
            is_returning: returning,
            started_at: now,
            last_seen_at: now,
            state: to_json(&state),
            vip: false,
        };
        let started = NewEvent {
            id: format!("evt_visit_started_{}", row.id),
            conversation_id: None,
            seq: None,
            data: EventData::VisitStarted {
                visit_id: row.id.clone(),
                source: state.source,
                returning,
                campaign: funnel::campaign_of(state.utm.campaign.as_deref()),
            },
            created_at: now,
        };
        self.visits.begin(&row, &key.hash, &started).await?;
        Ok((row, state, key.value))
    }

    /// A chat was opened on a shop page whose widget holds this visit key: the
    /// chat is the visit's (its first; `conversation.attributed` carries the
    /// visit's source and pages so far to analytics) and the visit is the
    /// chat's visitor's. Best effort, as the chat is open already: an unknown
    /// or finished visit, one with a chat already, or another visitor's visit
    /// is left as it is. Returns whether the chat was attributed.
    pub async fn attribute(
        &self,
        visit_key: &str,
        visitor_id: &str,
        conversation_id: &str,
    ) -> Result<bool, PresenceError> {
        let now = self.clock.now_ms();
        let Some(visit) = self
            .visits
            .by_key(&crypto::hash_token(visit_key))
            .await?
            .filter(|v| v.last_seen_at >= now - VISIT_GAP_MS)
        else {
            return Ok(false);
        };
        let state = parse_state(&visit)?;
        let event = NewEvent {
            id: format!("evt_attributed_{conversation_id}"),
            conversation_id: Some(conversation_id.to_owned()),
            seq: None,
            data: EventData::ConversationAttributed {
                visit_id: visit.id.clone(),
                source: state.source,
                pages_before: state.pages.len() as i64,
                campaign: funnel::campaign_of(state.utm.campaign.as_deref()),
            },
            created_at: now,
        };
        let linked = self
            .visits
            .attribute(&visit.id, visitor_id, conversation_id, &event)
            .await?;
        if linked {
            self.changed(&visit.id);
        }
        Ok(linked)
    }

    /// The visit the chat was opened from (None: none named, or erased), for
    /// staff who may see the chat.
    pub async fn chat_visit(
        &self,
        conversation_id: &str,
        chat_started_at: i64,
    ) -> Result<Option<ChatVisit>, PresenceError> {
        let Some(row) = self.visits.of_conversation(conversation_id).await? else {
            return Ok(None);
        };
        let state = parse_state(&row)?;
        let pages: Vec<PathPage> = state
            .path(row.last_seen_at)
            .into_iter()
            .map(|(page, dwell_ms)| PathPage {
                url: page.url.clone(),
                title: page.title.clone(),
                at: page.at,
                dwell_ms,
            })
            .collect();
        let pages_before_chat = pages.iter().filter(|p| p.at <= chat_started_at).count();
        Ok(Some(ChatVisit {
            source: state.source,
            utm: state.utm,
            referrer: state.referrer,
            returning: row.is_returning,
            started_at: row.started_at,
            pages,
            pages_before_chat,
        }))
    }

    /// Ends the visits whose page fell silent half an hour ago or more (the
    /// next heartbeat with their key starts a new visit), each with its
    /// `visit.ended` event: pages opened (the newest 50 are kept) and the time
    /// from its first page to its last heartbeat. Another node ending one
    /// first is no error. Returns the visits this call ended.
    pub async fn end_visits(&self) -> Result<usize, PresenceError> {
        let before = self.clock.now_ms() - VISIT_GAP_MS;
        let mut ended = 0;
        loop {
            let batch = self.visits.silent(before, 200).await?;
            for visit in &batch {
                let state: Option<VisitState> = visit
                    .state
                    .as_deref()
                    .and_then(|s| serde_json::from_str(s).ok());
                let (source, pages, campaign) = match &state {
                    Some(s) => (
                        s.source,
                        s.pages.len() as i64,
                        funnel::campaign_of(s.utm.campaign.as_deref()),
                    ),
                    None => (Source::Direct, 0, None),
                };
                let event = NewEvent {
                    id: format!("evt_visit_ended_{}", visit.id),
                    conversation_id: None,
                    seq: None,
                    data: EventData::VisitEnded {
                        visit_id: visit.id.clone(),
                        source,
                        returning: visit.is_returning,
                        started_at: visit.started_at,
                        pages,
                        dwell_ms: (visit.last_seen_at - visit.started_at).max(0),
                        campaign,
                    },
                    created_at: visit.last_seen_at,
                };
                if self.visits.end(&visit.id, &event).await? {
                    ended += 1;
                }
            }
            if batch.len() < 200 {
                return Ok(ended);
            }
        }
    }

    /// The shop vouched for the buyer: their account and member level. A
    /// signature that does not check leaves the visit anonymous.
    async fn sign_in(&self, state: &mut VisitState, identity: Option<&SignedIdentity>) -> bool {
        let Some(account) = identity.and_then(|i| self.visitors.verify(i).ok()) else {
            return false;
        };
        if state.account.as_deref() == Some(account.as_str()) {
            return false;
        }
        state.member_level = self
            .commerce
            .member_level(account.as_str())
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "member level unavailable");
                None
            });
        state.account = Some(account.as_str().to_owned());
        true
    }

    /// A heartbeat that changed nothing but the time: written with the others
    /// of the next quarter second in one transaction (a page change is
    /// written at once, as the agents' list must show it).
    fn touch_later(&self, visit_id: &str, now: i64) {
        let first = {
            let mut pending = self.touches.lock().expect("touches lock");
            let first = pending.is_empty();
            pending.insert(visit_id.to_owned(), now);
            first
        };
        if !first {
            return;
        }
        let (visits, touches) = (self.visits.clone(), self.touches.clone());
        tokio::spawn(async move {
            tokio::time::sleep(TOUCH_BATCH).await;
            let seen: Vec<(String, i64)> =
                std::mem::take(&mut *touches.lock().expect("touches lock"))
                    .into_iter()
                    .collect();
            if let Err(error) = visits.touch_all(&seen).await {
                tracing::warn!(%error, visits = seen.len(), "visits not marked seen");
            }
        });
    }

    fn changed(&self, visit_id: &str) {
        let _ = self.changes.send(VisitChange {
            visit_id: visit_id.to_owned(),
        });
        if !self.visits.fans_out() {
            return;
        }
        let first = {
            let mut pending = self.unannounced.lock().expect("unannounced lock");
            pending.insert(visit_id.to_owned());
            pending.len() == 1
        };
        if !first {
            return;
        }
        let (visits, pending) = (self.visits.clone(), self.unannounced.clone());
        tokio::spawn(async move {
            tokio::time::sleep(ANNOUNCE_BATCH).await;
            let ids: Vec<String> = std::mem::take(&mut *pending.lock().expect("unannounced lock"))
                .into_iter()
                .collect();
            if let Err(error) = visits.announce(&ids).await {
                tracing::warn!(%error, visits = ids.len(), "visit changes not announced");
            }
        });
    }

    /// The first rule that matches and whose caps allow it invites the visitor,
    /// unless an invitation is already open.
    async fn try_rules(
        &self,
        row: &VisitRecord,
        facts: VisitFacts<'_>,
    ) -> Result<(), PresenceError> {
        let rules = self.rules().await?;
        let candidates: Vec<_> = rules
            .iter()
            .filter(|(_, rule)| rule.enabled && rule.matches(facts))
            .collect();
        if candidates.is_empty() || self.invitations.open_count(&row.id).await? > 0 {
            return Ok(());
        }
        for (id, rule) in candidates {
            let (this_visit, today) = self
                .invitations
                .of_rule(id, &row.id, &row.browser_id, facts.now - DAY_MS)
                .await?;
            let capped = (rule.caps.once_per_session && this_visit > 0)
                || rule.caps.per_day.is_some_and(|n| today >= n);
            if capped {
                continue;
            }
            let invitation = StoredInvitation {
                id: uuid::Uuid::now_v7().to_string(),
                visit_id: row.id.clone(),
                browser_id: row.browser_id.clone(),
                rule_id: Some(id.clone()),
                agent_id: rule.action.agent_id().map(str::to_owned),
                greeting: rule.action.greeting().to_owned(),
                status: "pending".into(),
                conversation_id: None,
                created_at: facts.now,
            };
            self.invitations.insert_invitation(&invitation).await?;
            return Ok(());
        }
        Ok(())
    }

    async fn deliver(&self, visit_id: &str, now: i64) -> Result<Option<Offer>, PresenceError> {
        let Some(invitation) = self.invitations.pending(visit_id).await? else {
            return Ok(None);
        };
        self.invitations.mark_shown(&invitation.id, now).await?;
        let agent_name = match &invitation.agent_id {
            Some(agent) => match self.people.person(agent).await {
                Ok(staff) => Some(staff.display_name),
                Err(RepoError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        Ok(Some(Offer {
            id: invitation.id,
            greeting: invitation.greeting,
            from: if invitation.agent_id.is_some() {
                "agent"
            } else {
                "bot"
            },
            agent_name,
        }))
    }

    /// The online visits that pass the filter, sorted.
    pub async fn online(
        &self,
        filter: &VisitFilter,
        sort: VisitSort,
        limit: i64,
    ) -> Result<Vec<OnlineVisit>, PresenceError> {
        let now = self.clock.now_ms();
        let rows = self
            .visits
            .seen_since(now - ONLINE_FOR_MS, MAX_LISTED)
            .await?;
        let mut visits = Vec::with_capacity(rows.len());
        for row in rows {
            let state = parse_state(&row)?;
            let facts = VisitFacts::of(&state, row.is_returning, row.vip, now);
            if filter.admits(facts) {
                visits.push(online_visit(&row, facts));
            }
        }
        sort_visits(&mut visits, sort);
        visits.truncate(limit.clamp(1, MAX_LISTED) as usize);
        Ok(visits)
    }

    /// An agent invites a visitor who is on the shop now; the page shows the
    /// greeting at its next heartbeat.
    pub async fn invite(
        &self,
        staff: &StaffUser,
        visit_id: &str,
        greeting: Option<&str>,
    ) -> Result<Offer, PresenceError> {
        let now = self.clock.now_ms();
        let visit = match self.visits.visit(visit_id).await {
            Ok(visit) => visit,
            Err(RepoError::NotFound) => return Err(PresenceError::VisitNotFound),
            Err(e) => return Err(e.into()),
        };
        if visit.last_seen_at < now - ONLINE_FOR_MS {
            return Err(PresenceError::VisitGone);
        }
        let greeting = match greeting {
            Some(text) => parse_greeting(text)?,
            None => format!("您好，我是客服{}，有什么可以帮您的吗？", staff.display_name),
        };
        let invitation = StoredInvitation {
            id: uuid::Uuid::now_v7().to_string(),
            visit_id: visit.id,
            browser_id: visit.browser_id,
            rule_id: None,
            agent_id: Some(staff.id.clone()),
            greeting: greeting.clone(),
            status: "pending".into(),
            conversation_id: None,
            created_at: now,
        };
        self.invitations.insert_invitation(&invitation).await?;
        Ok(Offer {
            id: invitation.id,
            greeting,
            from: "agent",
            agent_name: Some(staff.display_name.clone()),
        })
    }

    /// The invitation the visit's page offered, if it is still open.
    pub async fn open_invitation(
        &self,
        visit_key: &str,
        invitation_id: &str,
    ) -> Result<Accepted, PresenceError> {
        let visit = self
            .visits
            .by_key(&crypto::hash_token(visit_key))
            .await?
            .ok_or(PresenceError::InvitationNotFound)?;
        let invitation = match self.invitations.invitation(invitation_id).await {
            Ok(i) if i.visit_id == visit.id => i,
            Ok(_) | Err(RepoError::NotFound) => return Err(PresenceError::InvitationNotFound),
            Err(e) => return Err(e.into()),
        };
        if !matches!(invitation.status.as_str(), "pending" | "shown") {
            return Err(PresenceError::InvitationAnswered);
        }
        let state = parse_state(&visit)?;
        Ok(Accepted {
            invitation_id: invitation.id,
            visit_id: visit.id,
            greeting: invitation.greeting,
            agent_id: invitation.agent_id,
            product: state.current().and_then(|p| Sku::of_page(&p.url)),
        })
    }

    /// The visitor took the invitation: the chat it started is recorded and the
    /// visit is linked to the visitor.
    pub async fn accepted(
        &self,
        accepted: &Accepted,
        visitor_id: &str,
        conversation_id: &str,
    ) -> Result<(), PresenceError> {
        let now = self.clock.now_ms();
        self.answer(
            &accepted.invitation_id,
            "accepted",
            Some(conversation_id),
            now,
        )
        .await?;
        self.visits
            .link_to_visitor(&accepted.visit_id, visitor_id)
            .await?;
        self.changed(&accepted.visit_id);
        Ok(())
    }

    /// The visitor closed the invitation.
    pub async fn decline(&self, visit_key: &str, invitation_id: &str) -> Result<(), PresenceError> {
        let open = self.open_invitation(visit_key, invitation_id).await?;
        self.answer(&open.invitation_id, "declined", None, self.clock.now_ms())
            .await
    }

    async fn answer(
        &self,
        id: &str,
        status: &str,
        conversation_id: Option<&str>,
        now: i64,
    ) -> Result<(), PresenceError> {
        match self
            .invitations
            .answer(id, status, conversation_id, now)
            .await
        {
            Err(RepoError::Conflict) => Err(PresenceError::InvitationAnswered),
            other => Ok(other?),
        }
    }

    /// An admin adds a rule (parsed at the edge; an agent action must name staff).
    pub async fn add_rule(
        &self,
        staff: &StaffUser,
        rule: InvitationRule,
    ) -> Result<RuleView, PresenceError> {
        self.check_agent(&rule).await?;
        let row = StoredInvitationRule {
            id: uuid::Uuid::now_v7().to_string(),
            priority: rule.priority,
            enabled: rule.enabled,
            rule: serde_json::to_string(&rule).expect("a rule serialises"),
            created_at: self.clock.now_ms(),
        };
        self.invitations
            .insert_rule(&row, &rule.name, &staff.id)
            .await?;
        *self.rules.lock().expect("rules lock") = None;
        Ok(RuleView {
            id: row.id,
            created_at: row.created_at,
            rule,
            shown: 0,
            accepted: 0,
            converted: 0,
        })
    }

    /// An admin edits a rule, or switches it on or off (the whole rule is
    /// sent, as when it was added); what it achieved so far stays counted.
    pub async fn update_rule(
        &self,
        id: &str,
        rule: InvitationRule,
    ) -> Result<RuleView, PresenceError> {
        self.check_agent(&rule).await?;
        let json = serde_json::to_string(&rule).expect("a rule serialises");
        let updated = self
            .invitations
            .update_rule(id, &rule.name, rule.enabled, rule.priority, &json)
            .await;
        let created_at = match updated {
            Err(RepoError::NotFound) => return Err(PresenceError::RuleNotFound),
            other => other?,
        };
        *self.rules.lock().expect("rules lock") = None;
        let counts = self.invitations.tallies().await?;
        let count = counts.iter().find(|c| c.rule_id.as_deref() == Some(id));
        Ok(RuleView {
            id: id.to_owned(),
            created_at,
            rule,
            shown: count.map_or(0, |c| c.shown),
            accepted: count.map_or(0, |c| c.accepted),
            converted: count.map_or(0, |c| c.converted),
        })
    }

    /// An agent's greeting must name an existing staff account.
    async fn check_agent(&self, rule: &InvitationRule) -> Result<(), PresenceError> {
        let RuleAction::Agent { agent_id, .. } = &rule.action else {
            return Ok(());
        };
        match self.people.person(agent_id).await {
            Ok(_) => Ok(()),
            Err(RepoError::NotFound) => Err(PresenceError::UnknownAgent),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn rule_views(&self) -> Result<Vec<RuleView>, PresenceError> {
        let counts = self.invitations.tallies().await?;
        let rows = self.invitations.rules().await?;
        rows.into_iter()
            .map(|row| {
                let count = counts
                    .iter()
                    .find(|c| c.rule_id.as_deref() == Some(row.id.as_str()));
                Ok(RuleView {
                    rule: parse_rule(&row)?,
                    shown: count.map_or(0, |c| c.shown),
                    accepted: count.map_or(0, |c| c.accepted),
                    converted: count.map_or(0, |c| c.converted),
                    id: row.id,
                    created_at: row.created_at,
                })
            })
            .collect()
    }

    /// The invitations agents sent themselves from the visitor list, counted
    /// as a rule's are.
    pub async fn agent_invitation_counts(&self) -> Result<InvitationCounts, PresenceError> {
        let counts = self.invitations.tallies().await?;
        Ok(counts
            .iter()
            .find(|c| c.rule_id.is_none())
            .map(InvitationCounts::from)
            .unwrap_or_default())
    }

    pub async fn delete_rule(&self, id: &str) -> Result<(), PresenceError> {
        match self.invitations.delete_rule(id).await {
            Err(RepoError::NotFound) => return Err(PresenceError::RuleNotFound),
            other => other?,
        }
        *self.rules.lock().expect("rules lock") = None;
        Ok(())
    }

    async fn rules(&self) -> Result<Rules, PresenceError> {
        let now = self.clock.now_ms();
        if let Some((at, rules)) = self.rules.lock().expect("rules lock").as_ref()
            && now - at < RULES_FRESH_MS
        {
            return Ok(rules.clone());
        }
        let rows = self.invitations.rules().await?;
        let rules: Rules = Arc::new(
            rows.iter()
                .map(|row| Ok((row.id.clone(), parse_rule(row)?)))
                .collect::<Result<_, PresenceError>>()?,
        );
        *self.rules.lock().expect("rules lock") = Some((now, rules.clone()));
        Ok(rules)
    }
}

fn parse_greeting(text: &str) -> Result<String, PresenceError> {
    let ok = !text.trim().is_empty()
        && text.chars().count() <= MAX_GREETING_CHARS
        && !text.chars().any(|c| c.is_control() && c != '\n');
    if ok {
        Ok(text.trim().to_owned())
    } else {
        Err(PresenceError::BadGreeting)
    }
}

fn parse_state(row: &VisitRecord) -> Result<VisitState, PresenceError> {
    serde_json::from_str(&row.state).map_err(|e| PresenceError::Corrupt(e.to_string()))
}

fn parse_rule(row: &StoredInvitationRule) -> Result<InvitationRule, PresenceError> {
    serde_json::from_str(&row.rule).map_err(|e| PresenceError::Corrupt(e.to_string()))
}

fn to_json(state: &VisitState) -> String {
    serde_json::to_string(state).expect("a visit serialises")
}

fn online_visit(row: &VisitRecord, facts: VisitFacts<'_>) -> OnlineVisit {
    let s = facts.state;
    let current = s.current();
    OnlineVisit {
        id: row.id.clone(),
        visitor_id: row.visitor_id.clone(),
        returning: row.is_returning,
        started_at: row.started_at,
        last_seen_at: row.last_seen_at,
        current_page: current.map(|p| p.url.clone()),
        current_title: current.and_then(|p| p.title.clone()),
        page_since: current.map_or(row.started_at, |p| p.at),
        dwell_ms: s.dwell_ms(facts.now),
        pages: s.pages.len(),
        source: s.source,
        utm: s.utm.clone(),
        entry_url: s.entry_url.clone(),
        referrer: s.referrer.clone(),
        cart: s.cart.clone(),
        cart_cents: s.cart_cents(),
        cart_items: s.cart_items(),
        member_level: s.member_level.clone(),
        vip: facts.vip,
        tags: facts.tags(),
    }
}

fn sort_visits(visits: &mut [OnlineVisit], sort: VisitSort) {
    use std::cmp::Reverse;
    // Ties go to the earlier arrival (visit ids sort by creation time).
    match sort {
        VisitSort::LastSeen => visits.sort_by_key(|v| (Reverse(v.last_seen_at), v.id.clone())),
        VisitSort::Dwell => visits.sort_by_key(|v| (Reverse(v.dwell_ms), v.id.clone())),
        VisitSort::CartValue => visits.sort_by_key(|v| (Reverse(v.cart_cents), v.id.clone())),
        VisitSort::Pages => visits.sort_by_key(|v| (Reverse(v.pages), v.id.clone())),
        VisitSort::Arrived => visits.sort_by_key(|v| (v.started_at, v.id.clone())),
    }
}
