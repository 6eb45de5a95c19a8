//! Analytics metric definitions, implemented exactly once (docs/metrics.md says
//! the same in words). A conversation's events fold into its [`Facts`]; the
//! facts give its [`contribution`] to the daily rollups (plain counters and
//! sums); a report adds contributions up and [`Totals::metric`] turns them into
//! the published numbers. Percentiles come from the facts rows themselves.

use super::events::EventData;
use super::funnel;
use super::presence::Source;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const DAY_MS: i64 = 86_400_000;
/// A resolved chat the buyer reopens within this long was not really solved.
pub const REOPEN_WINDOW_MS: i64 = DAY_MS;
/// At most this many bot answers before the hand-off: a direct hand-off.
pub const DIRECT_MAX_BOT_TURNS: i64 = 3;
/// A bot hand-off without a packet reason, or the buyer's button.
pub const BUYER_REQUEST: &str = "buyer_request";
/// An order placed this long after the buyer's first message converts the
/// chat (询单转化, 24 h).
pub const CONVERSION_WINDOW_MS: i64 = DAY_MS;

/// Which conversion windows an order falls in, measured from the buyer's first
/// message of the chat: within 24 h, and by the end of the next shop-local day
/// (a first message at 23:00 counts an order until the day after tomorrow
/// starts). The second window always holds the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversionWindows {
    pub within_24h: bool,
    pub by_next_day: bool,
}

/// The windows an order placed at `placed_at` falls in for a buyer who first
/// wrote at `first_buyer_at`; None when it falls in none (placed before the
/// question, or too late). Defined here once; the sweeper decides with it and
/// the event keeps the verdict.
pub fn conversion(
    first_buyer_at: i64,
    placed_at: i64,
    utc_offset_minutes: i32,
) -> Option<ConversionWindows> {
    if placed_at < first_buyer_at {
        return None;
    }
    let windows = ConversionWindows {
        within_24h: placed_at - first_buyer_at <= CONVERSION_WINDOW_MS,
        by_next_day: placed_at < conversion_deadline(first_buyer_at, utc_offset_minutes),
    };
    windows.by_next_day.then_some(windows)
}

/// When the later window closes: the start of the second shop-local day after
/// the one the buyer first wrote on (UTC ms).
pub fn conversion_deadline(first_buyer_at: i64, utc_offset_minutes: i32) -> i64 {
    let offset = i64::from(utc_offset_minutes) * 60_000;
    let local_day_start = (first_buyer_at + offset).div_euclid(DAY_MS) * DAY_MS;
    local_day_start + 2 * DAY_MS - offset
}

/// Where a conversation stands, as analytics needs to know it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Bot,
    Waiting,
    WithAgent,
    Resolved,
    Closed,
}

/// Everything analytics keeps about one conversation, folded from its events.
/// Fields added later read as their defaults from rows written before them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Facts {
    pub channel: String,
    pub started_at: i64,
    /// The shop-local day the conversation started (its rollup day).
    pub day: String,
    pub buyer_messages: i64,
    pub bot_messages: i64,
    pub agent_messages: i64,
    /// Bot answers to a buyer's message before the first hand-off (the
    /// welcome message answers nobody and does not count).
    pub bot_turns: i64,
    pub handed_off_at: Option<i64>,
    pub bot_turns_before_handoff: i64,
    pub handoff_reason: Option<String>,
    pub first_assigned_at: Option<i64>,
    /// The agent who had the chat last (a conversation counts once, for them).
    pub agent_id: Option<String>,
    pub first_response_at: Option<i64>,
    pub response_ms_sum: i64,
    pub responses: i64,
    /// The first resolve by an agent.
    pub resolved_at: Option<i64>,
    pub last_resolved_at: Option<i64>,
    pub reopened_within_24h: bool,
    /// Left the queue (closed or handed back) before any agent took it.
    pub left_queue_at: Option<i64>,
    pub transfers: i64,
    pub csat: Option<i64>,
    /// The last vote on each rated bot answer (by its seq).
    pub answer_votes: BTreeMap<i64, bool>,
    pub phase: Phase,
    /// The oldest buyer message no agent has answered yet.
    pub pending_since: Option<i64>,
    /// When the current agent got the chat.
    pub assigned_at: Option<i64>,
    /// A buyer message the bot has not answered yet (before the hand-off).
    pub buyer_awaits_bot: bool,
    /// The buyer's first message (the question a conversion counts from).
    pub first_buyer_at: Option<i64>,
    /// The order that converted the chat, once found: its amount and windows.
    pub converted_cents: Option<i64>,
    pub converted_within_24h: bool,
    pub converted_by_next_day: bool,
    /// The holder's chat is in their chats-held count (domain::agent_time).
    /// False in facts written before that count existed: such a chat starts
    /// counting at its next event, and its end takes nothing off.
    pub load_counted: bool,
    /// How the buyer came, when the chat was opened from a visit of the shop's
    /// pages (`domain::funnel`), and the pages that visit opened before it.
    pub source: Option<Source>,
    pub pages_before_chat: i64,
    /// That visit's campaign (`domain::funnel::campaign_of`), if it had one.
    pub campaign: Option<String>,
    /// The shop-local hour (0–23) it started; None in facts written before
    /// the hourly rollups (a rebuild fills it).
    pub start_hour: Option<u32>,
    /// What the chat was about (`conversation.classified`).
    pub topic: Topic,
}

impl Facts {
    /// Folds one event in. `handoff_reason` is the packet's reason for a bot
    /// hand-off (None: the buyer asked, by button or API).
    pub fn apply(&mut self, at: i64, data: &EventData, handoff_reason: Option<&str>, day: &str) {
        if self.day.is_empty() {
            self.day = day.to_owned();
            self.started_at = at;
        }
        match data {
            EventData::ConversationStarted { channel, .. } => {
                self.channel = channel.clone();
                self.started_at = at;
                self.day = day.to_owned();
            }
            EventData::MessagePosted { sender_kind, .. } => self.message(at, sender_kind),
            EventData::HandedOff { .. } => {
                if self.handed_off_at.is_none() {
                    self.handed_off_at = Some(at);
                    self.bot_turns_before_handoff = self.bot_turns;
                    self.handoff_reason = Some(handoff_reason.unwrap_or(BUYER_REQUEST).to_owned());
                }
                self.phase = Phase::Waiting;
            }
            EventData::Assigned { agent_id, .. } => self.assign(at, agent_id),
            EventData::Transferred { to_agent_id, .. } => {
                self.transfers += 1;
                self.assign(at, to_agent_id);
            }
            EventData::Resolved { agent_id } => {
                if agent_id.is_some() && self.resolved_at.is_none() {
                    self.resolved_at = Some(at);
                }
                self.last_resolved_at = Some(at);
                self.phase = Phase::Resolved;
            }
            EventData::Reopened => {
                if self
                    .last_resolved_at
                    .is_some_and(|r| at - r <= REOPEN_WINDOW_MS)
                {
                    self.reopened_within_24h = true;
                }
                self.phase = Phase::Bot;
            }
            EventData::HandedBack { .. } => {
                self.leave_queue(at);
                self.phase = Phase::Bot;
            }
            EventData::Closed => {
                self.leave_queue(at);
                self.phase = Phase::Closed;
            }
            EventData::StateChanged { to, .. } => {
                use super::conversation::ConversationState as S;
                self.phase = match to {
                    S::Bot => Phase::Bot,
                    S::Waiting => Phase::Waiting,
                    S::WithAgent => Phase::WithAgent,
                    S::Resolved => Phase::Resolved,
                    S::Closed => Phase::Closed,
                };
            }
            EventData::Rated { seq, helpful } => {
                self.answer_votes.insert(*seq, *helpful);
            }
            EventData::CsatRated { stars, .. } => {
                self.csat.get_or_insert(i64::from(*stars));
            }
            EventData::ConversationAttributed {
                source,
                pages_before,
                campaign,
                ..
            } if self.source.is_none() => {
                self.source = Some(*source);
                self.pages_before_chat = *pages_before;
                self.campaign = campaign.clone();
            }
            EventData::ConversationClassified {
                intent,
                category,
                product,
            } => {
                self.topic.take(&Topic {
                    intent: intent.clone(),
                    category: category.clone(),
                    product: product.clone(),
                });
            }
            // One order converts a chat; a second report changes nothing.
            EventData::Converted {
                total_cents,
                within_24h,
                by_next_day,
                ..
            } if self.converted_cents.is_none() => {
                self.converted_cents = Some(*total_cents);
                self.converted_within_24h = *within_24h;
                self.converted_by_next_day = *by_next_day;
            }
            _ => {}
        }
    }

    fn message(&mut self, at: i64, sender_kind: &str) {
        match sender_kind {
            "buyer" => {
                self.buyer_messages += 1;
                self.first_buyer_at.get_or_insert(at);
                match self.phase {
                    Phase::Bot if self.handed_off_at.is_none() => self.buyer_awaits_bot = true,
                    Phase::Waiting | Phase::WithAgent => {
                        self.pending_since.get_or_insert(at);
                    }
                    _ => {}
                }
            }
            "bot" => {
                self.bot_messages += 1;
                if self.buyer_awaits_bot && self.handed_off_at.is_none() {
                    self.bot_turns += 1;
                    self.buyer_awaits_bot = false;
                }
            }
            "agent" => {
                self.agent_messages += 1;
                if self.phase != Phase::WithAgent {
                    return;
                }
                if let Some(assigned) = self.first_assigned_at
                    && self.first_response_at.is_none()
                {
                    self.first_response_at = Some(at.max(assigned));
                }
                if let Some(since) = self.pending_since.take() {
                    let from = since.max(self.assigned_at.unwrap_or(since));
                    self.response_ms_sum += (at - from).max(0);
                    self.responses += 1;
                }
            }
            _ => {}
        }
    }

    fn assign(&mut self, at: i64, agent_id: &str) {
        if self.first_assigned_at.is_none() {
            self.first_assigned_at = Some(at);
        }
        self.agent_id = Some(agent_id.to_owned());
        self.assigned_at = Some(at);
        self.phase = Phase::WithAgent;
    }

    fn leave_queue(&mut self, at: i64) {
        if self.phase == Phase::Waiting && self.first_assigned_at.is_none() {
            self.left_queue_at.get_or_insert(at);
        }
    }

    /// First hand-off to first assignment, for chats an agent took.
    pub fn queue_wait_ms(&self) -> Option<i64> {
        Some(self.first_assigned_at? - self.handed_off_at?)
    }

    pub fn abandoned(&self) -> bool {
        self.handed_off_at.is_some()
            && self.first_assigned_at.is_none()
            && self.left_queue_at.is_some()
    }

    /// The agent holding the chat now (it counts in their concurrency).
    pub fn holder(&self) -> Option<&str> {
        match self.phase {
            Phase::WithAgent => self.agent_id.as_deref(),
            _ => None,
        }
    }

    /// Handed off or not, did a person ever own it? (CSAT: bot versus human.)
    pub fn human(&self) -> bool {
        self.first_assigned_at.is_some()
    }
}

/// The rollup row a conversation counts in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub day: String,
    pub channel: String,
    /// Empty for chats no agent took.
    pub agent_id: String,
    /// How the buyer came ([`source_key`]); empty for a chat not opened from
    /// a visit of the shop's pages.
    pub source: String,
}

/// The rollup key and filter value of a source: its name, or empty for none.
pub fn source_key(source: Option<Source>) -> String {
    source.map(|s| s.as_str().to_owned()).unwrap_or_default()
}

/// The `source` filter of a report: a source's name, or "none" for the chats
/// not opened from a visit; the value kept in the rollups.
pub fn parse_source_filter(raw: &str) -> Result<String, ReportInputError> {
    match raw.trim() {
        "none" => Ok(String::new()),
        other => Source::parse(other)
            .map(|s| s.as_str().to_owned())
            .ok_or(ReportInputError::BadSource),
    }
}

/// What one conversation adds to its rollup row: counter name → amount.
pub type Contribution = BTreeMap<String, i64>;

/// The counters a conversation adds to the daily rollups. Every published
/// number is a ratio or a sum of these (see [`Totals::metric`]).
pub fn contribution(f: &Facts) -> (RollupKey, Contribution) {
    let key = RollupKey {
        day: f.day.clone(),
        channel: f.channel.clone(),
        agent_id: f.agent_id.clone().unwrap_or_default(),
        source: source_key(f.source),
    };
    let mut c = Contribution::new();
    let mut add = |name: &str, v: i64| {
        if v != 0 {
            *c.entry(name.to_owned()).or_default() += v;
        }
    };
    // Writing or asking for a person: either way the buyer wanted service.
    let engaged = f.buyer_messages > 0 || f.handed_off_at.is_some();
    add("conversations", 1);
    add("engaged", i64::from(engaged));
    add("messages_buyer", f.buyer_messages);
    add("messages_bot", f.bot_messages);
    add("messages_agent", f.agent_messages);
    add(
        "self_service",
        i64::from(engaged && f.handed_off_at.is_none() && !f.reopened_within_24h),
    );
    if f.handed_off_at.is_some() {
        add("handed_off", 1);
        let direct = f.bot_turns_before_handoff <= DIRECT_MAX_BOT_TURNS;
        add("handoff_direct", i64::from(direct));
        add("handoff_consulted", i64::from(!direct));
        let reason = f.handoff_reason.as_deref().unwrap_or(BUYER_REQUEST);
        add(&format!("handoff_reason:{reason}"), 1);
    }
    if let Some(wait) = f.queue_wait_ms() {
        add("assigned", 1);
        add("queue_wait_ms", wait);
    }
    if f.abandoned() {
        add("abandoned", 1);
        add(
            "abandoned_wait_ms",
            f.left_queue_at.unwrap_or(0) - f.handed_off_at.unwrap_or(0),
        );
    }
    if let (Some(first), Some(assigned)) = (f.first_response_at, f.first_assigned_at) {
        add("first_responses", 1);
        add("first_response_ms", first - assigned);
    }
    add("responses", f.responses);
    add("response_ms", f.response_ms_sum);
    if let (Some(resolved), Some(assigned)) = (f.resolved_at, f.first_assigned_at) {
        add("resolved", 1);
        add("handle_ms", resolved - assigned);
        add("reopened", i64::from(f.reopened_within_24h));
    }
    add("transferred", i64::from(f.transfers > 0));
    add("transfers", f.transfers);
    if let Some(stars) = f.csat {
        let side = if f.human() { "human" } else { "bot" };
        for prefix in ["csat", &format!("csat_{side}")] {
            add(&format!("{prefix}_count"), 1);
            add(&format!("{prefix}_sum"), stars);
            add(&format!("{prefix}_satisfied"), i64::from(stars >= 4));
        }
    }
    // 询单: the buyer asked something (a hand-off alone is no question).
    let inquired = f.buyer_messages > 0;
    add("inquiries", i64::from(inquired));
    if inquired && f.converted_cents.is_some() {
        add("converted_24h", i64::from(f.converted_within_24h));
        add("converted_next_day", i64::from(f.converted_by_next_day));
        add("converted_cents", f.converted_cents.unwrap_or(0));
    }
    if let Some(source) = f.source {
        let ordered = f.converted_cents.is_some() && f.converted_within_24h;
        for (name, v) in funnel::chat_counters(source, f.pages_before_chat, inquired, ordered) {
            add(&name, v);
        }
        if let Some(campaign) = &f.campaign {
            for (name, v) in funnel::campaign_chat_counters(campaign, inquired, ordered) {
                add(&name, v);
            }
        }
    }
    let helpful = f.answer_votes.values().filter(|h| **h).count() as i64;
    add("answers_helpful", helpful);
    add("answers_unhelpful", f.answer_votes.len() as i64 - helpful);
    (key, c)
}

/// One published metric: its key, whether knowledge managers see it, and how
/// it is made from the counters.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    pub key: &'static str,
    pub kb: bool,
    pub formula: Formula,
}

impl MetricDef {
    /// The counters it is made of (none for a queue-wait percentile).
    fn counters(&self) -> Vec<&'static str> {
        match self.formula {
            Formula::Count(c) => vec![c],
            Formula::Ratio(a, b) => vec![a, b],
            Formula::SumRatio(list, den) => list.iter().copied().chain([den]).collect(),
            Formula::QueueWait(_) => vec![],
        }
    }

    /// Whether it is made of agent time (presence and chats held) rather
    /// than of conversation counters.
    pub fn agent_time(&self) -> bool {
        self.counters()
            .iter()
            .any(|c| super::agent_time::COUNTERS.contains(c))
    }

    /// Whether it can be reported by intent, category or product: made of
    /// conversation counters the topic rollups keep (not agent time, not a
    /// queue-wait percentile).
    pub fn by_topic(&self) -> bool {
        let counters = self.counters();
        !counters.is_empty()
            && !self.agent_time()
            && counters.iter().all(|c| c.is_empty() || is_topic_counter(c))
    }

    /// Whether it can be reported by hour of the day: made of the hourly
    /// counters alone ([`HOURLY_COUNTERS`]).
    pub fn by_hour(&self) -> bool {
        let counters = self.counters();
        !counters.is_empty() && counters.iter().all(|c| HOURLY_COUNTERS.contains(c))
    }
}

/// The intents the bot tells when no intake ran: the buyer asked something
/// the knowledge base answered, or asked for a person first. An intake
/// intent told later replaces them.
pub const GENERIC_INTENTS: [&str; 2] = ["question", "human"];

/// What a chat is about: the intent (an intake intent's name, or one of
/// [`GENERIC_INTENTS`]), the knowledge-base category path and the product's
/// sku; None while not known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Topic {
    pub intent: Option<String>,
    pub category: Option<String>,
    pub product: Option<String>,
}

/// The longest intent, category or product kept (a longer one is cut).
pub const TOPIC_MAX_CHARS: usize = 100;

impl Topic {
    /// Takes in what `told` adds, by the one rule analytics and the bot both
    /// keep: the first of each, except that an intake intent replaces a
    /// generic one. Values are trimmed, without control characters and at
    /// most [`TOPIC_MAX_CHARS`]; an empty one tells nothing. Returns what
    /// changed (None: nothing).
    pub fn take(&mut self, told: &Topic) -> Option<Topic> {
        let mut news = Topic::default();
        let generic = |i: &str| GENERIC_INTENTS.contains(&i);
        if let Some(intent) = topic_value(told.intent.as_deref())
            && self
                .intent
                .as_deref()
                .is_none_or(|now| generic(now) && !generic(&intent))
        {
            self.intent = Some(intent.clone());
            news.intent = Some(intent);
        }
        let others = [
            (&mut self.category, &told.category, &mut news.category),
            (&mut self.product, &told.product, &mut news.product),
        ];
        for (kept, told, new) in others {
            if kept.is_none()
                && let Some(value) = topic_value(told.as_deref())
            {
                *kept = Some(value.clone());
                *new = Some(value);
            }
        }
        (news != Topic::default()).then_some(news)
    }
}

fn topic_value(raw: Option<&str>) -> Option<String> {
    let value: String = raw?
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(TOPIC_MAX_CHARS)
        .collect();
    (!value.is_empty()).then_some(value)
}

/// The three things a chat is about that reports group by (the topic
/// rollups, `analytics_topics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TopicKind {
    Intent,
    Category,
    Product,
}

impl TopicKind {
    pub const ALL: [TopicKind; 3] = [TopicKind::Intent, TopicKind::Category, TopicKind::Product];

    /// The value kept in the rollups' `kind` column (and the dimension's name).
    pub fn as_str(self) -> &'static str {
        match self {
            TopicKind::Intent => "intent",
            TopicKind::Category => "category",
            TopicKind::Product => "product",
        }
    }

    fn of(self, t: &Topic) -> Option<&str> {
        match self {
            TopicKind::Intent => t.intent.as_deref(),
            TopicKind::Category => t.category.as_deref(),
            TopicKind::Product => t.product.as_deref(),
        }
    }
}

/// Whether a counter is kept in the topic rollups: every conversation
/// counter but the funnel's, the campaigns' and the hand-off reasons' (named
/// `name:value`), which no report by topic reads.
pub fn is_topic_counter(counter: &str) -> bool {
    !counter.contains(':')
}

/// One conversation's share of the topic rollups, which are shop-wide: its
/// day, a kind, its topic of that kind (empty while not known, so that each
/// kind adds up to every conversation) and its [`is_topic_counter`] counters.
pub type TopicContribution = (String, TopicKind, String, Contribution);

/// What a conversation adds to the topic rollups, one share per kind.
pub fn topic_contribution(f: &Facts) -> Vec<TopicContribution> {
    let (key, counters) = contribution(f);
    let kept: Contribution = counters
        .into_iter()
        .filter(|(c, _)| is_topic_counter(c))
        .collect();
    TopicKind::ALL
        .iter()
        .map(|kind| {
            let topic = kind.of(&f.topic).unwrap_or_default().to_owned();
            (key.day.clone(), *kind, topic, kept.clone())
        })
        .collect()
}

/// The counters also kept per shop-local hour the conversation started (the
/// hourly rollups): enough for when chats arrive and how many go to people.
pub const HOURLY_COUNTERS: [&str; 3] = ["conversations", "engaged", "handed_off"];

/// The shop-local hour of the day (0–23) of a moment.
pub fn local_hour(at_ms: i64, utc_offset_minutes: i32) -> u32 {
    let local = at_ms + i64::from(utc_offset_minutes) * 60_000;
    (local.rem_euclid(DAY_MS) / 3_600_000) as u32
}

/// What a conversation adds to the hourly rollups: its row (the source
/// left empty) with the hour as "00".."23", and its [`HOURLY_COUNTERS`];
/// None for facts written before the hour was kept.
pub fn hourly_contribution(f: &Facts) -> Option<(RollupKey, String, Contribution)> {
    let hour = f.start_hour?;
    let (mut key, counters) = contribution(f);
    key.source = String::new();
    let kept = counters
        .into_iter()
        .filter(|(c, _)| HOURLY_COUNTERS.contains(&c.as_str()))
        .collect();
    Some((key, format!("{hour:02}"), kept))
}

#[derive(Debug, Clone, Copy)]
pub enum Formula {
    /// A counter as it is.
    Count(&'static str),
    /// numerator / denominator (null when the denominator is 0).
    Ratio(&'static str, &'static str),
    /// The sum of the first `numerator` counters over `denominator`.
    SumRatio(&'static [&'static str], &'static str),
    /// A percentile of the queue waits (from the facts rows).
    QueueWait(u8),
}

const fn m(key: &'static str, kb: bool, formula: Formula) -> MetricDef {
    MetricDef { key, kb, formula }
}

use Formula::{Count, QueueWait, Ratio, SumRatio};

/// Every metric a report can show, in display order.
pub const METRICS: &[MetricDef] = &[
    m("conversations", true, Count("conversations")),
    m("engaged", true, Count("engaged")),
    m(
        "messages",
        false,
        SumRatio(&["messages_buyer", "messages_bot", "messages_agent"], ""),
    ),
    m("messages_buyer", false, Count("messages_buyer")),
    m("messages_bot", true, Count("messages_bot")),
    m("messages_agent", false, Count("messages_agent")),
    m("self_service_rate", true, Ratio("self_service", "engaged")),
    m("handoffs", true, Count("handed_off")),
    m("handoff_rate", true, Ratio("handed_off", "engaged")),
    m("handoff_direct", true, Count("handoff_direct")),
    m("handoff_consulted", true, Count("handoff_consulted")),
    m(
        "handoff_direct_rate",
        true,
        Ratio("handoff_direct", "engaged"),
    ),
    m(
        "handoff_consulted_rate",
        true,
        Ratio("handoff_consulted", "engaged"),
    ),
    m("assigned", false, Count("assigned")),
    m(
        "queue_wait_avg_ms",
        false,
        Ratio("queue_wait_ms", "assigned"),
    ),
    m("queue_wait_p50_ms", false, QueueWait(50)),
    m("queue_wait_p90_ms", false, QueueWait(90)),
    m("abandoned", false, Count("abandoned")),
    m("abandonment_rate", false, Ratio("abandoned", "handed_off")),
    m(
        "first_response_avg_ms",
        false,
        Ratio("first_response_ms", "first_responses"),
    ),
    m("response_avg_ms", false, Ratio("response_ms", "responses")),
    m("handle_avg_ms", false, Ratio("handle_ms", "resolved")),
    m("resolved", false, Count("resolved")),
    m("resolution_rate", false, Ratio("resolved", "assigned")),
    m("transferred", false, Count("transferred")),
    m("transfer_rate", false, Ratio("transferred", "assigned")),
    m("reopened", false, Count("reopened")),
    m("reopen_rate", false, Ratio("reopened", "resolved")),
    m("csat_count", true, Count("csat_count")),
    m("csat_avg", true, Ratio("csat_sum", "csat_count")),
    m(
        "csat_satisfaction_rate",
        true,
        Ratio("csat_satisfied", "csat_count"),
    ),
    m(
        "csat_human_avg",
        false,
        Ratio("csat_human_sum", "csat_human_count"),
    ),
    m(
        "csat_bot_avg",
        true,
        Ratio("csat_bot_sum", "csat_bot_count"),
    ),
    m(
        "answer_helpful_rate",
        true,
        SumRatio(&["answers_helpful"], "answers_rated"),
    ),
    m("inquiries", false, Count("inquiries")),
    m("converted_24h", false, Count("converted_24h")),
    m(
        "conversion_rate_24h",
        false,
        Ratio("converted_24h", "inquiries"),
    ),
    m("converted_next_day", false, Count("converted_next_day")),
    m(
        "conversion_rate_next_day",
        false,
        Ratio("converted_next_day", "inquiries"),
    ),
    m("converted_amount_cents", false, Count("converted_cents")),
    // Agent time (domain::agent_time): not per channel.
    m("online_time_ms", false, Count("online_ms")),
    m("away_time_ms", false, Count("away_ms")),
    m(
        "avg_concurrency",
        false,
        Ratio("held_online_ms", "online_ms"),
    ),
    m("peak_concurrency", false, Count("peak_chats")),
    m(
        "load_rate",
        false,
        Ratio("held_online_ms", "capacity_online_ms"),
    ),
];

pub fn metric_def(key: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|d| d.key == key)
}

/// Summed counters of some rollup rows, plus the queue waits behind them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub counters: BTreeMap<String, i64>,
    /// Sorted queue waits of the assigned chats (for percentiles).
    pub queue_waits: Vec<i64>,
}

impl Totals {
    pub fn add(&mut self, counter: &str, value: i64) {
        let total = self.counters.entry(counter.to_owned()).or_default();
        if super::agent_time::is_peak(counter) {
            *total = (*total).max(value);
        } else {
            *total += value;
        }
    }

    pub fn get(&self, counter: &str) -> i64 {
        match counter {
            "answers_rated" => self.get("answers_helpful") + self.get("answers_unhelpful"),
            _ => self.counters.get(counter).copied().unwrap_or(0),
        }
    }

    /// The metric's value; None where it is undefined (nothing to divide by).
    pub fn metric(&self, def: &MetricDef) -> Option<f64> {
        let ratio = |num: i64, den: &str| {
            let den = self.get(den);
            (den != 0).then(|| num as f64 / den as f64)
        };
        match def.formula {
            Count(c) => Some(self.get(c) as f64),
            Ratio(num, den) => ratio(self.get(num), den),
            SumRatio(nums, "") => Some(nums.iter().map(|n| self.get(n)).sum::<i64>() as f64),
            SumRatio(nums, den) => ratio(nums.iter().map(|n| self.get(n)).sum(), den),
            QueueWait(p) => percentile(&self.queue_waits, p).map(|v| v as f64),
        }
    }

    /// Hand-off reasons with their counts.
    pub fn handoff_reasons(&self) -> BTreeMap<String, i64> {
        self.counters
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("handoff_reason:")?.to_owned(), *v)))
            .filter(|(_, v)| *v != 0)
            .collect()
    }
}

/// Nearest-rank percentile of sorted values: the smallest value with at
/// least p% of the values at or below it.
pub fn percentile(sorted: &[i64], p: u8) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (usize::from(p) * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// The shop-local day of `at_ms`, "YYYY-MM-DD".
pub fn local_day(at_ms: i64, utc_offset_minutes: i32) -> String {
    let local = at_ms + i64::from(utc_offset_minutes) * 60_000;
    let days = local.div_euclid(DAY_MS);
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    (epoch + chrono::Days::new(days as u64)).to_string()
}

/// A report period, parsed at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
    Month,
}

/// A closed range of shop-local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportInputError {
    #[error("dates are YYYY-MM-DD")]
    BadDate,
    #[error("the range ends before it starts or spans more than 366 days")]
    BadRange,
    #[error("unknown metric {0}")]
    UnknownMetric(String),
    #[error(
        "group by day, week, month, hour, agent, channel, group, source, intent, category or product"
    )]
    BadDimension,
    #[error("source is search, ads, recommendation, referral, direct or none")]
    BadSource,
    #[error("by hour: only conversations, engaged, handoffs and handoff_rate, and no source")]
    NotByHour,
    #[error(
        "by intent, category or product: shop-wide, with a day, week or month at most; no queue-wait percentile or agent time, no filter"
    )]
    NotByTopic,
    #[error("stars are 1 to 5; at most 5 tags of 20 characters; a comment of 500")]
    BadRating,
}

pub fn parse_day(s: &str) -> Result<NaiveDate, ReportInputError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| ReportInputError::BadDate)
}

impl DayRange {
    pub fn parse(from: &str, to: &str) -> Result<DayRange, ReportInputError> {
        let (from, to) = (parse_day(from)?, parse_day(to)?);
        if to < from || (to - from).num_days() > 366 {
            return Err(ReportInputError::BadRange);
        }
        Ok(DayRange { from, to })
    }

    /// The day, ISO week (Monday first) or calendar month that holds `date`.
    pub fn period(period: Period, date: NaiveDate) -> DayRange {
        match period {
            Period::Day => DayRange {
                from: date,
                to: date,
            },
            Period::Week => {
                let from =
                    date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday()));
                DayRange {
                    from,
                    to: from + chrono::Days::new(6),
                }
            }
            Period::Month => {
                let from = date.with_day(1).expect("day 1");
                let next = if from.month() == 12 {
                    NaiveDate::from_ymd_opt(from.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(from.year(), from.month() + 1, 1)
                }
                .expect("valid month");
                DayRange {
                    from,
                    to: next - chrono::Days::new(1),
                }
            }
        }
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.from.iter_days().take_while(|d| *d <= self.to)
    }
}

/// How a custom report groups its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Day,
    Week,
    Month,
    Agent,
    Channel,
    Group,
    /// How the buyer came: search, ads, ... ("none": not from a visit).
    Source,
    /// The shop-local hour of the day a conversation started, "00".."23",
    /// over every day of the range (when chats arrive).
    Hour,
    /// What the chat was about ([`TopicKind`]); "none" while not known.
    Intent,
    Category,
    Product,
}

impl Dimension {
    pub fn parse(s: &str) -> Result<Dimension, ReportInputError> {
        Ok(match s {
            "day" => Dimension::Day,
            "week" => Dimension::Week,
            "month" => Dimension::Month,
            "agent" => Dimension::Agent,
            "channel" => Dimension::Channel,
            "group" => Dimension::Group,
            "source" => Dimension::Source,
            "hour" => Dimension::Hour,
            "intent" => Dimension::Intent,
            "category" => Dimension::Category,
            "product" => Dimension::Product,
            _ => return Err(ReportInputError::BadDimension),
        })
    }

    /// `by` of a report: one dimension, or two separated by a comma ("agent,day":
    /// a row per agent and day). Two different ones, at most one of them time.
    pub fn parse_pair(s: &str) -> Result<(Dimension, Option<Dimension>), ReportInputError> {
        let mut parts = s.split(',').map(str::trim);
        let first = Dimension::parse(parts.next().unwrap_or(""))?;
        let Some(second) = parts.next() else {
            return Ok((first, None));
        };
        let second = Dimension::parse(second)?;
        let clash = first == second
            || (first.is_time() && second.is_time())
            || (first.topic().is_some() && second.topic().is_some());
        if clash || parts.next().is_some() {
            return Err(ReportInputError::BadDimension);
        }
        Ok((first, Some(second)))
    }

    pub fn is_time(self) -> bool {
        matches!(
            self,
            Dimension::Day | Dimension::Week | Dimension::Month | Dimension::Hour
        )
    }

    /// The topic a dimension groups by, if it is one (a report reads at most one).
    pub fn topic(self) -> Option<TopicKind> {
        match self {
            Dimension::Intent => Some(TopicKind::Intent),
            Dimension::Category => Some(TopicKind::Category),
            Dimension::Product => Some(TopicKind::Product),
            _ => None,
        }
    }

    /// The name used in `by=` and in export headers.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Day => "day",
            Dimension::Week => "week",
            Dimension::Month => "month",
            Dimension::Agent => "agent",
            Dimension::Channel => "channel",
            Dimension::Group => "group",
            Dimension::Source => "source",
            Dimension::Hour => "hour",
            Dimension::Intent => "intent",
            Dimension::Category => "category",
            Dimension::Product => "product",
        }
    }

    /// The time bucket of a day (for the time dimensions).
    pub fn bucket(self, day: &str) -> String {
        let Ok(date) = parse_day(day) else {
            return day.to_owned();
        };
        match self {
            Dimension::Week => DayRange::period(Period::Week, date).from.to_string(),
            Dimension::Month => day[..7].to_owned(),
            _ => day.to_owned(),
        }
    }
}

/// A list of metric keys, every one known.
pub fn parse_metrics(list: &str) -> Result<Vec<&'static MetricDef>, ReportInputError> {
    let mut out: Vec<&'static MetricDef> = Vec::new();
    for key in list.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        let def = metric_def(key)
            .ok_or_else(|| ReportInputError::UnknownMetric(key.chars().take(40).collect()))?;
        if !out.iter().any(|d| d.key == def.key) {
            out.push(def);
        }
    }
    if out.is_empty() {
        return Err(ReportInputError::UnknownMetric(String::new()));
    }
    Ok(out)
}

/// A buyer's satisfaction rating of a finished conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsatRating {
    pub stars: u8,
    pub tags: Vec<String>,
    pub comment: Option<String>,
}

impl CsatRating {
    pub fn parse(
        stars: i64,
        tags: Vec<String>,
        comment: Option<String>,
    ) -> Result<CsatRating, ReportInputError> {
        let stars = u8::try_from(stars)
            .ok()
            .filter(|s| (1..=5).contains(s))
            .ok_or(ReportInputError::BadRating)?;
        let tags: Vec<String> = tags.into_iter().map(|t| t.trim().to_owned()).collect();
        if tags.len() > 5 || tags.iter().any(|t| t.is_empty() || t.chars().count() > 20) {
            return Err(ReportInputError::BadRating);
        }
        let comment = comment
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        if comment.as_ref().is_some_and(|c| c.chars().count() > 500) {
            return Err(ReportInputError::BadRating);
        }
        Ok(CsatRating {
            stars,
            tags,
            comment,
        })
    }
}

#[cfg(test)]
#[path = "analytics_tests.rs"]
mod tests;
