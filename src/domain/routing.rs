//! Routing rules as pure functions: which skill group a chat goes to, and which
//! agent of the group gets it. Storage feeds these functions inside the
//! transaction that makes the assignment, so the choice and the write are one step.

use super::conversation::UnknownValue;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::str::FromStr;

/// How a group picks among its online agents with free capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Least loaded relative to capacity (3 of 10 beats 1 of 2).
    Saturation,
    /// Each agent in turn (by id), skipping the full ones.
    RoundRobin,
    /// Highest level first; within a level, the least saturated.
    Priority,
    /// Chats shared out in proportion to weights (200 vs 500 gets 2:5).
    Weighted,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::Saturation,
        Strategy::RoundRobin,
        Strategy::Priority,
        Strategy::Weighted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Saturation => "saturation",
            Strategy::RoundRobin => "round_robin",
            Strategy::Priority => "priority",
            Strategy::Weighted => "weighted",
        }
    }
}

impl FromStr for Strategy {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

/// An agent's availability. Only `Online` agents receive new chats; `Busy` and
/// `Away` keep the chats they have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Busy,
    Away,
    Offline,
}

impl Presence {
    pub const ALL: [Presence; 4] = [
        Presence::Online,
        Presence::Busy,
        Presence::Away,
        Presence::Offline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Busy => "busy",
            Presence::Away => "away",
            Presence::Offline => "offline",
        }
    }
}

impl FromStr for Presence {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Presence::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

/// An online member of a group, as the strategies see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub agent_id: String,
    /// Chats the agent has open now.
    pub active: i64,
    pub capacity: i64,
    pub level: i64,
    pub weight: i64,
    /// Chats this group has given the agent so far.
    pub assigned: i64,
    pub last_assigned_at: i64,
}

impl Candidate {
    fn has_room(&self) -> bool {
        self.active < self.capacity
    }

    /// active/capacity compared exactly, without floats.
    fn cmp_saturation(&self, other: &Candidate) -> Ordering {
        (self.active * other.capacity).cmp(&(other.active * self.capacity))
    }

    /// assigned/weight compared exactly: who is furthest behind their share.
    fn cmp_share(&self, other: &Candidate) -> Ordering {
        (self.assigned * other.weight.max(1)).cmp(&(other.assigned * self.weight.max(1)))
    }

    /// Ties go to whoever waited longest for a chat, then by id (deterministic).
    fn cmp_idle(&self, other: &Candidate) -> Ordering {
        self.last_assigned_at
            .cmp(&other.last_assigned_at)
            .then_with(|| self.agent_id.cmp(&other.agent_id))
    }
}

/// The agent who gets the next chat, or None when every candidate is full.
/// `last_agent` is the group's round-robin cursor.
pub fn pick<'a>(
    strategy: Strategy,
    candidates: &'a [Candidate],
    last_agent: Option<&str>,
) -> Option<&'a Candidate> {
    let open = candidates.iter().filter(|c| c.has_room());
    match strategy {
        Strategy::Saturation => open.min_by(|a, b| a.cmp_saturation(b).then_with(|| a.cmp_idle(b))),
        Strategy::Priority => open.min_by(|a, b| {
            b.level
                .cmp(&a.level)
                .then_with(|| a.cmp_saturation(b))
                .then_with(|| a.cmp_idle(b))
        }),
        Strategy::Weighted => open.min_by(|a, b| {
            a.cmp_share(b)
                .then_with(|| b.weight.cmp(&a.weight))
                .then_with(|| a.cmp_idle(b))
        }),
        Strategy::RoundRobin => {
            let mut ring: Vec<&Candidate> = open.collect();
            ring.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
            let after = last_agent.unwrap_or("");
            ring.iter()
                .find(|c| c.agent_id.as_str() > after)
                .or_else(|| ring.first())
                .copied()
        }
    }
}

/// What a routing rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The bot's intent, exactly ("refund").
    Intent,
    /// A product category, exactly ("electronics").
    Category,
    /// The page the chat started on: the pattern is a substring of the URL.
    EntryPage,
}

impl MatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Intent => "intent",
            MatchKind::Category => "category",
            MatchKind::EntryPage => "entry_page",
        }
    }
}

impl FromStr for MatchKind {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [MatchKind::Intent, MatchKind::Category, MatchKind::EntryPage]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteRule {
    pub id: String,
    pub kind: MatchKind,
    pub pattern: String,
    pub group_id: String,
    /// Higher wins when several rules match.
    pub priority: i64,
}

/// What is known about a chat when it is handed to people.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteHints {
    pub intent: Option<String>,
    pub category: Option<String>,
    pub entry_page: Option<String>,
    #[serde(default)]
    pub vip: bool,
}

impl RouteRule {
    fn matches(&self, hints: &RouteHints) -> bool {
        let same = |v: &Option<String>| {
            v.as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case(&self.pattern))
        };
        match self.kind {
            MatchKind::Intent => same(&hints.intent),
            MatchKind::Category => same(&hints.category),
            MatchKind::EntryPage => hints
                .entry_page
                .as_deref()
                .is_some_and(|page| page.contains(self.pattern.as_str())),
        }
    }
}

/// The group of the best matching rule: highest priority, then intent before
/// category before entry page (the more specific signal), then the oldest rule.
pub fn route<'a>(rules: &'a [RouteRule], hints: &RouteHints) -> Option<&'a str> {
    let specificity = |k: MatchKind| match k {
        MatchKind::Intent => 0,
        MatchKind::Category => 1,
        MatchKind::EntryPage => 2,
    };
    rules
        .iter()
        .filter(|r| r.matches(hints))
        .min_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then_with(|| specificity(a.kind).cmp(&specificity(b.kind)))
                .then_with(|| a.id.cmp(&b.id))
        })
        .map(|r| r.group_id.as_str())
}

/// Expected wait for the chat at `position` (1 = next): the recent average wait
/// per place in the queue, or a conservative default when nothing is known yet.
pub fn expected_wait_ms(position: i64, recent_mean_wait_ms: Option<i64>, online: i64) -> i64 {
    const DEFAULT_PER_PLACE_MS: i64 = 60_000;
    let per_place = recent_mean_wait_ms
        .filter(|w| *w > 0)
        .unwrap_or(DEFAULT_PER_PLACE_MS);
    let lanes = online.max(1);
    // Agents serve in parallel: places ahead are shared out among them.
    ((position - 1) / lanes + 1) * per_place
}

/// When a group's queue calls for a supervisor (the live board's alerts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertThresholds {
    /// At least this many chats waiting in the group.
    pub waiting: Option<i64>,
    /// A chat waiting at least this long (ms, since its first hand-off).
    pub wait_ms: Option<i64>,
}

/// Why a queue alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertReason {
    /// Too many chats waiting.
    Waiting,
    /// A chat has waited too long.
    Wait,
}

impl AlertThresholds {
    /// Checks an admin's thresholds: 1–1000 chats, 10 s–24 h (either may be absent).
    pub fn parse(waiting: Option<i64>, wait_ms: Option<i64>) -> Result<Self, &'static str> {
        if waiting.is_some_and(|n| !(1..=1000).contains(&n)) {
            return Err("alert_waiting must be 1 to 1000 chats");
        }
        if wait_ms.is_some_and(|ms| !(10_000..=86_400_000).contains(&ms)) {
            return Err("alert_wait_ms must be 10 s to 24 h");
        }
        Ok(Self { waiting, wait_ms })
    }

    /// Why the queue needs a supervisor now, if it does: the count first, then
    /// the longest wait. At a threshold counts as past it.
    pub fn check(&self, waiting: i64, longest_wait_ms: Option<i64>) -> Option<AlertReason> {
        if self.waiting.is_some_and(|n| waiting >= n) {
            return Some(AlertReason::Waiting);
        }
        match (self.wait_ms, longest_wait_ms) {
            (Some(limit), Some(wait)) if wait >= limit => Some(AlertReason::Wait),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuickReplyError {
    #[error("shortcut must be '/' followed by 1 to 32 letters, digits, '-' or '_'")]
    BadShortcut,
    #[error("unknown variable {{{0}}}; known: {{buyer_name}}, {{order_no}}, {{agent_name}}")]
    UnknownVariable(String),
    #[error("reply text must be 1 to 2000 characters")]
    BadText,
    #[error("category must be 1 to 32 characters")]
    BadCategory,
}

pub const TEMPLATE_VARIABLES: [&str; 3] = ["buyer_name", "order_no", "agent_name"];

/// A quick reply's shortcut, as typed in the reply box: "/refund".
pub fn parse_shortcut(raw: &str) -> Result<String, QuickReplyError> {
    let name = raw.strip_prefix('/').ok_or(QuickReplyError::BadShortcut)?;
    let ok = (1..=32).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(raw.to_lowercase())
    } else {
        Err(QuickReplyError::BadShortcut)
    }
}

/// Reply text whose `{variables}` are all known ones.
pub fn parse_template(raw: &str) -> Result<String, QuickReplyError> {
    let n = raw.trim().chars().count();
    if !(1..=2000).contains(&n) {
        return Err(QuickReplyError::BadText);
    }
    for variable in variables(raw) {
        if !TEMPLATE_VARIABLES.contains(&variable) {
            return Err(QuickReplyError::UnknownVariable(variable.to_owned()));
        }
    }
    Ok(raw.trim().to_owned())
}

pub fn parse_category(raw: &str) -> Result<String, QuickReplyError> {
    let n = raw.trim().chars().count();
    if (1..=32).contains(&n) {
        Ok(raw.trim().to_owned())
    } else {
        Err(QuickReplyError::BadCategory)
    }
}

fn variables(text: &str) -> impl Iterator<Item = &str> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .filter(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// Fills `{variables}`; an unknown value leaves the placeholder for the agent to edit.
pub fn render_template(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.split_once('}') {
            Some((name, tail)) if TEMPLATE_VARIABLES.contains(&name) => {
                match value(name) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[open..open + name.len() + 2]),
                }
                rest = tail;
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What the caller decides once the locks are held.
pub struct AssignPlan {
    pub agent_id: String,
    /// The sealed `state_changed` event body.
    pub sealed_body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignOutcome {
    /// Nobody waits in the group.
    Empty,
    /// Every online member is full (or none is online).
    NoAgent,
    /// The head entry was stale (the chat was claimed or left the queue): removed.
    Stale,
    Assigned(Assigned),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    pub conversation_id: String,
    pub agent_id: String,
    pub seq: i64,
    pub waited_ms: i64,
}

/// The queue head as the decision sees it.
pub struct Head {
    pub conversation_id: String,
    pub first_enqueued_at: i64,
}

pub struct GroupSnapshot {
    pub strategy: String,
    pub rr_last_agent: Option<String>,
}

/// A chat waiting in a group's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub conversation_id: String,
    pub group_id: String,
    pub vip: bool,
    /// When the chat first joined any queue (its wait counts from here).
    pub first_enqueued_at: i64,
    /// When it joined this group's queue.
    pub group_since: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_alerts_stand_at_and_past_their_thresholds_and_bad_ones_are_refused() {
        let t = AlertThresholds::parse(Some(3), Some(120_000)).unwrap();
        assert_eq!(t.check(2, Some(119_999)), None);
        assert_eq!(t.check(3, None), Some(AlertReason::Waiting));
        assert_eq!(t.check(5, Some(600_000)), Some(AlertReason::Waiting));
        assert_eq!(t.check(1, Some(120_000)), Some(AlertReason::Wait));
        assert_eq!(t.check(0, None), None);
        let none = AlertThresholds::parse(None, None).unwrap();
        assert_eq!(none.check(1_000, Some(86_400_000)), None);
        let only_wait = AlertThresholds::parse(None, Some(10_000)).unwrap();
        assert_eq!(only_wait.check(999, Some(9_999)), None);
        assert_eq!(only_wait.check(1, Some(10_000)), Some(AlertReason::Wait));
        for (waiting, wait) in [
            (Some(0), None),
            (Some(1001), None),
            (None, Some(9_999)),
            (None, Some(86_400_001)),
        ] {
            assert!(
                AlertThresholds::parse(waiting, wait).is_err(),
                "{waiting:?} {wait:?}"
            );
        }
    }

    fn agent(id: &str, active: i64, capacity: i64) -> Candidate {
        Candidate {
            agent_id: id.into(),
            active,
            capacity,
            level: 0,
            weight: 100,
            assigned: 0,
            last_assigned_at: 0,
        }
    }

    #[test]
    fn saturation_picks_the_least_loaded_relative_to_capacity() {
        let agents = [agent("a", 1, 2), agent("b", 3, 10), agent("c", 2, 2)];
        assert_eq!(
            pick(Strategy::Saturation, &agents, None).unwrap().agent_id,
            "b"
        );
    }

    #[test]
    fn nobody_gets_a_chat_beyond_capacity() {
        let agents = [agent("a", 2, 2), agent("b", 5, 5)];
        for s in Strategy::ALL {
            assert!(pick(s, &agents, None).is_none(), "{s:?}");
        }
    }

    #[test]
    fn round_robin_takes_turns_and_skips_full_agents() {
        let agents = [agent("a", 0, 2), agent("b", 2, 2), agent("c", 0, 2)];
        let rr = |last| {
            pick(Strategy::RoundRobin, &agents, last)
                .unwrap()
                .agent_id
                .clone()
        };
        assert_eq!(rr(None), "a");
        assert_eq!(rr(Some("a")), "c");
        assert_eq!(rr(Some("c")), "a");
    }

    #[test]
    fn priority_serves_the_higher_level_first_until_full() {
        let mut senior = agent("s", 0, 1);
        senior.level = 2;
        let junior = agent("j", 0, 5);
        let agents = [junior.clone(), senior.clone()];
        assert_eq!(
            pick(Strategy::Priority, &agents, None).unwrap().agent_id,
            "s"
        );
        senior.active = 1;
        let agents = [junior, senior];
        assert_eq!(
            pick(Strategy::Priority, &agents, None).unwrap().agent_id,
            "j"
        );
    }

    #[test]
    fn weights_share_chats_in_proportion() {
        let mut agents = [agent("a", 0, 1000), agent("b", 0, 1000)];
        agents[0].weight = 200;
        agents[1].weight = 500;
        for _ in 0..700 {
            let id = pick(Strategy::Weighted, &agents, None)
                .unwrap()
                .agent_id
                .clone();
            let who = agents.iter_mut().find(|c| c.agent_id == id).unwrap();
            who.assigned += 1;
        }
        assert_eq!((agents[0].assigned, agents[1].assigned), (200, 500));
    }

    #[test]
    fn ties_go_to_the_agent_idle_longest() {
        let mut a = agent("a", 0, 2);
        a.last_assigned_at = 50;
        let b = agent("b", 0, 2);
        assert_eq!(
            pick(Strategy::Saturation, &[a, b], None).unwrap().agent_id,
            "b"
        );
    }

    fn rule(id: &str, kind: MatchKind, pattern: &str, group: &str, priority: i64) -> RouteRule {
        RouteRule {
            id: id.into(),
            kind,
            pattern: pattern.into(),
            group_id: group.into(),
            priority,
        }
    }

    #[test]
    fn intent_beats_category_beats_entry_page_unless_priority_says_otherwise() {
        let rules = [
            rule("1", MatchKind::EntryPage, "/item/", "presales", 0),
            rule("2", MatchKind::Category, "phones", "phones", 0),
            rule("3", MatchKind::Intent, "refund", "aftersales", 0),
        ];
        let hints = RouteHints {
            intent: Some("refund".into()),
            category: Some("phones".into()),
            entry_page: Some("https://shop.example/item/42".into()),
            vip: false,
        };
        assert_eq!(route(&rules, &hints), Some("aftersales"));
        let hints = RouteHints {
            intent: None,
            ..hints
        };
        assert_eq!(route(&rules, &hints), Some("phones"));
        let mut boosted = rules.to_vec();
        boosted[0].priority = 5;
        assert_eq!(route(&boosted, &hints), Some("presales"));
        assert_eq!(route(&rules, &RouteHints::default()), None);
    }

    #[test]
    fn expected_wait_grows_with_position_and_shrinks_with_agents() {
        assert_eq!(expected_wait_ms(1, Some(30_000), 1), 30_000);
        assert_eq!(expected_wait_ms(3, Some(30_000), 1), 90_000);
        assert_eq!(expected_wait_ms(3, Some(30_000), 3), 30_000);
        assert_eq!(expected_wait_ms(1, None, 0), 60_000);
    }

    #[test]
    fn templates_accept_only_known_variables_and_render_them() {
        assert!(parse_template("您好 {buyer_name}，订单 {order_no} 已退款").is_ok());
        assert_eq!(
            parse_template("hi {nme}"),
            Err(QuickReplyError::UnknownVariable("nme".into()))
        );
        let text = "您好 {buyer_name}，订单 {order_no} {x}";
        let out = render_template(text, |v| (v == "buyer_name").then(|| "小明".into()));
        assert_eq!(out, "您好 小明，订单 {order_no} {x}");
    }

    #[test]
    fn shortcuts_start_with_a_slash() {
        assert_eq!(parse_shortcut("/Refund").unwrap(), "/refund");
        assert_eq!(parse_shortcut("/退款").unwrap(), "/退款");
        assert!(parse_shortcut("refund").is_err());
        assert!(parse_shortcut("/").is_err());
        assert!(parse_shortcut("/a b").is_err());
    }
}
