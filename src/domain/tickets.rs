//! Tickets (工单): the state machine, priorities, numbers and the input a
//! ticket is made of, parsed once at the edge. Pure: no SQL, no HTTP.

use crate::domain::events::NewEvent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a ticket is in its life. Pending and on hold pause the SLA clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    New,
    Open,
    /// Waiting for the buyer or a third party (a carrier, a supplier).
    Pending,
    OnHold,
    Resolved,
    /// Final: a closed ticket never moves again (a new problem is a new ticket).
    Closed,
}

impl TicketState {
    pub const ALL: [TicketState; 6] = [
        TicketState::New,
        TicketState::Open,
        TicketState::Pending,
        TicketState::OnHold,
        TicketState::Resolved,
        TicketState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::New => "new",
            TicketState::Open => "open",
            TicketState::Pending => "pending",
            TicketState::OnHold => "on_hold",
            TicketState::Resolved => "resolved",
            TicketState::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Option<TicketState> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// The allowed moves. Resolved may only reopen or close; closed is final;
    /// nothing goes back to new.
    pub fn can_go_to(self, to: TicketState) -> bool {
        use TicketState::*;
        match (self, to) {
            (a, b) if a == b => false,
            (_, New) => false,
            (Closed, _) => false,
            (Resolved, Open | Closed) => true,
            (Resolved, _) => false,
            (New | Open | Pending | OnHold, _) => true,
        }
    }

    /// The SLA clock does not run while the ticket waits on someone else.
    pub fn pauses_clock(self) -> bool {
        matches!(self, TicketState::Pending | TicketState::OnHold)
    }

    /// Resolved or closed: no SLA target applies any more.
    pub fn is_done(self) -> bool {
        matches!(self, TicketState::Resolved | TicketState::Closed)
    }

    /// What the buyer reads when staff have not written their own status text.
    pub fn default_status_text(self, zh: bool) -> &'static str {
        let (cn, en) = match self {
            TicketState::New => ("已受理", "Received"),
            TicketState::Open | TicketState::OnHold => ("处理中", "In progress"),
            TicketState::Pending => ("等待回复", "Waiting for a reply"),
            TicketState::Resolved => ("已解决", "Resolved"),
            TicketState::Closed => ("已关闭", "Closed"),
        };
        if zh { cn } else { en }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    pub fn parse(raw: &str) -> Option<Priority> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// Targets (first response, resolution) in business minutes when a type has
    /// no policy of its own for this priority.
    pub fn default_targets_minutes(self) -> (i64, i64) {
        match self {
            Priority::Low => (8 * 60, 5 * 9 * 60),
            Priority::Normal => (4 * 60, 3 * 9 * 60),
            Priority::High => (60, 9 * 60),
            Priority::Urgent => (30, 4 * 60),
        }
    }
}

/// How a ticket came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketSource {
    /// An agent turned a chat into a ticket.
    Chat,
    /// Typed in by staff.
    Manual,
    /// The buyer left a message while nobody was on duty.
    OutOfHours,
    /// An app channel opened it for its user (POST /api/v1/channel/tickets).
    Api,
}

impl TicketSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketSource::Chat => "chat",
            TicketSource::Manual => "manual",
            TicketSource::OutOfHours => "out_of_hours",
            TicketSource::Api => "api",
        }
    }

    pub fn parse(raw: &str) -> Option<TicketSource> {
        [Self::Chat, Self::Manual, Self::OutOfHours, Self::Api]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// Internal comments stay among staff; public replies reach the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Internal,
    Public,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Internal => "internal",
            Visibility::Public => "public",
        }
    }

    pub fn parse(raw: &str) -> Option<Visibility> {
        match raw {
            "internal" => Some(Visibility::Internal),
            "public" => Some(Visibility::Public),
            _ => None,
        }
    }
}

/// `T20261130-0001`: the shop's local date and the day's running count.
pub fn ticket_number(local_day: &str, n: i64) -> String {
    format!("T{}-{n:04}", local_day.replace('-', ""))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketInputError {
    #[error("title must be 1 to 200 characters without control characters")]
    BadTitle,
    #[error("description must be at most 10000 characters")]
    BadDescription,
    #[error("at most 10 tags of 1 to 32 characters each")]
    BadTags,
    #[error(
        "custom fields must be at most 30 names (1 to 64 characters) with texts of at most 1000"
    )]
    BadCustomFields,
    #[error("category, order number and status text must be at most 100 characters")]
    BadShortText,
    #[error("comment must be 1 to 10000 characters")]
    BadComment,
    #[error("a ticket type key is 1 to 32 lower-case letters, digits or '_'")]
    BadTypeKey,
    #[error("a name must be 1 to 64 characters")]
    BadName,
    #[error("SLA targets must be 1 minute to 1 year")]
    BadSlaTarget,
    #[error("calendar days must be distinct dates like 2026-10-01 (at most 800)")]
    BadCalendarDay,
    #[error("unknown ticket state in the filter")]
    BadStateFilter,
    #[error("at most 6 files go with one comment or reply")]
    TooManyFiles,
}

fn clean(raw: &str, min: usize, max: usize, multiline: bool) -> Option<String> {
    let text = raw.trim();
    let n = text.chars().count();
    let bad_char = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\t'));
    ((min..=max).contains(&n) && !text.chars().any(bad_char)).then(|| text.to_owned())
}

pub fn parse_title(raw: &str) -> Result<String, TicketInputError> {
    clean(raw, 1, 200, false).ok_or(TicketInputError::BadTitle)
}

pub fn parse_description(raw: &str) -> Result<String, TicketInputError> {
    clean(raw, 0, 10_000, true).ok_or(TicketInputError::BadDescription)
}

pub fn parse_comment(raw: &str) -> Result<String, TicketInputError> {
    clean(raw, 1, 10_000, true).ok_or(TicketInputError::BadComment)
}

pub fn parse_name(raw: &str) -> Result<String, TicketInputError> {
    clean(raw, 1, 64, false).ok_or(TicketInputError::BadName)
}

/// Category, order number, status text: short single-line texts (empty: none).
pub fn parse_short(raw: Option<&str>) -> Result<Option<String>, TicketInputError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => clean(text, 1, 100, false)
            .map(Some)
            .ok_or(TicketInputError::BadShortText),
    }
}

pub fn parse_tags(raw: &[String]) -> Result<Vec<String>, TicketInputError> {
    let mut tags = Vec::new();
    for tag in raw {
        let tag = clean(tag, 1, 32, false).ok_or(TicketInputError::BadTags)?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > 10 {
        return Err(TicketInputError::BadTags);
    }
    Ok(tags)
}

pub fn parse_custom_fields(
    raw: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, TicketInputError> {
    if raw.len() > 30 {
        return Err(TicketInputError::BadCustomFields);
    }
    raw.iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| {
            let key = clean(k, 1, 64, false).ok_or(TicketInputError::BadCustomFields)?;
            let value = clean(v, 1, 1000, true).ok_or(TicketInputError::BadCustomFields)?;
            Ok((key, value))
        })
        .collect()
}

pub fn parse_type_key(raw: &str) -> Result<String, TicketInputError> {
    let ok = (1..=32).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    ok.then(|| raw.to_owned())
        .ok_or(TicketInputError::BadTypeKey)
}

/// The first required field a ticket's type names that the ticket lacks.
pub fn missing_field<'a>(
    required: &'a [String],
    fields: &BTreeMap<String, String>,
) -> Option<&'a str> {
    required
        .iter()
        .find(|name| !fields.contains_key(name.as_str()))
        .map(String::as_str)
}

/// A ticket as the services see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ticket {
    pub id: String,
    pub number: String,
    pub type_key: String,
    pub category: Option<String>,
    pub priority: Priority,
    pub department_id: Option<String>,
    pub assignee_id: Option<String>,
    /// The buyer who asked, and the chat and order it is about.
    pub visitor_id: Option<String>,
    pub conversation_id: Option<String>,
    pub order_number: Option<String>,
    pub title: String,
    pub description: String,
    pub custom_fields: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub state: TicketState,
    /// Staff's own words for the buyer; None: the state's default text.
    pub status_text: Option<String>,
    pub source: TicketSource,
    pub version: i64,
    pub sla: crate::domain::sla::TicketSla,
    pub first_response_due_at: Option<i64>,
    pub resolution_due_at: Option<i64>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
}

/// Who changed a ticket, for its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Author {
    Staff(String),
    Buyer(String),
    System,
    /// An automation (its id; the history line names the rule).
    Automation(String),
}

impl Author {
    pub fn kind(&self) -> &'static str {
        match self {
            Author::Staff(_) => "staff",
            Author::Buyer(_) => "buyer",
            Author::System => "system",
            Author::Automation(_) => "automation",
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Author::Staff(id) | Author::Buyer(id) | Author::Automation(id) => Some(id),
            Author::System => None,
        }
    }
}

/// One line of a ticket's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// created | updated | state_changed | commented | escalated
    pub kind: String,
    pub author_kind: String,
    pub author_id: Option<String>,
    pub detail: serde_json::Value,
    pub created_at: i64,
}

impl HistoryEntry {
    pub fn new(kind: &str, author: &Author, detail: serde_json::Value, at: i64) -> HistoryEntry {
        HistoryEntry {
            kind: kind.to_owned(),
            author_kind: author.kind().to_owned(),
            author_id: author.id().map(str::to_owned),
            detail,
            created_at: at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    pub id: String,
    pub visibility: Visibility,
    pub author_kind: String,
    pub author_id: Option<String>,
    pub body: String,
    pub created_at: i64,
    /// The files sent with it (photos, PDFs...), in the order they were sent.
    pub attachments: Vec<TicketFile>,
}

/// A file on a ticket: the chat's photos, a buyer's or an agent's upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketFile {
    pub id: String,
    pub content_type: String,
    pub size: i64,
    /// The buyer may be served it (their own uploads, the chat's photos and
    /// files sent with a public reply).
    pub public: bool,
}

/// At most this many files go with one comment or reply.
pub const MAX_COMMENT_FILES: usize = 6;

/// A comment needs words or a file; files alone ("here is the photo") are a reply.
pub fn parse_comment_with_files(raw: &str, files: usize) -> Result<String, TicketInputError> {
    if files > MAX_COMMENT_FILES {
        return Err(TicketInputError::TooManyFiles);
    }
    if files > 0 && raw.trim().is_empty() {
        return Ok(String::new());
    }
    parse_comment(raw)
}

/// A list query; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub states: Vec<TicketState>,
    pub department_id: Option<String>,
    pub assignee_id: Option<String>,
    pub priority: Option<Priority>,
    pub type_key: Option<String>,
    pub visitor_id: Option<String>,
    pub conversation_id: Option<String>,
    /// Staff who may see only these departments' tickets and their own.
    pub visible_to: Option<(String, Vec<String>)>,
    /// Keyset paging: only tickets after this (updated_at, id) in list order.
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

/// What one ticket change writes besides the ticket row.
#[derive(Debug, Clone, Default)]
pub struct TicketWrite {
    pub history: Vec<HistoryEntry>,
    pub comment: Option<Comment>,
    pub events: Vec<NewEvent>,
}

/// The ticket board's counts within one view of the tickets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoardCounts {
    pub by_state: Vec<(String, i64)>,
    pub by_department: Vec<(Option<String>, i64)>,
    pub by_priority: Vec<(String, i64)>,
    pub by_assignee: Vec<(Option<String>, i64)>,
    /// Resolved or closed tickets, and those of them within the resolution target.
    pub done: i64,
    pub done_in_time: i64,
}

// ---- ticket routing rules (admins): an ordered list; the first rule whose
// conditions all hold routes a new ticket.

/// What a new ticket must have for a rule to apply; every condition given
/// must hold (none given: the rule takes every ticket).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Any of these words in the title or description (case-insensitive).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
}

/// What a matching rule does to the new ticket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleActions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    pub name: String,
    #[serde(default)]
    pub when: RuleConditions,
    pub then: RuleActions,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRules {
    pub rules: Vec<RoutingRule>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketState::*;

    #[test]
    fn closed_is_final_and_resolved_only_reopens_or_closes() {
        assert!(!Closed.can_go_to(Pending));
        assert!(!Closed.can_go_to(Open));
        assert!(Resolved.can_go_to(Open));
        assert!(Resolved.can_go_to(Closed));
        assert!(!Resolved.can_go_to(Pending));
        assert!(New.can_go_to(Open) && Open.can_go_to(Pending) && Pending.can_go_to(Resolved));
        assert!(!Open.can_go_to(New) && !Open.can_go_to(Open));
        for s in TicketState::ALL {
            assert_eq!(TicketState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn only_waiting_states_pause_the_clock() {
        let paused: Vec<_> = TicketState::ALL
            .into_iter()
            .filter(|s| s.pauses_clock())
            .collect();
        assert_eq!(paused, vec![Pending, OnHold]);
    }

    #[test]
    fn numbers_name_the_shops_day_and_the_count() {
        assert_eq!(ticket_number("2026-11-30", 1), "T20261130-0001");
        assert_eq!(ticket_number("2026-11-30", 12345), "T20261130-12345");
    }

    #[test]
    fn inputs_are_parsed_once() {
        assert_eq!(parse_title("  包裹丢失 ").unwrap(), "包裹丢失");
        assert!(parse_title("").is_err());
        assert!(parse_title("a\u{7}b").is_err());
        assert_eq!(
            parse_tags(&["物流".into(), "物流".into()]).unwrap(),
            vec!["物流"]
        );
        assert!(parse_type_key("Logistics").is_err());
        let mut fields = BTreeMap::new();
        fields.insert("tracking_number".to_owned(), " SF123 ".to_owned());
        fields.insert("note".to_owned(), "  ".to_owned());
        let fields = parse_custom_fields(&fields).unwrap();
        assert_eq!(fields.len(), 1);
        let required = vec!["tracking_number".to_owned(), "carrier".to_owned()];
        assert_eq!(missing_field(&required, &fields), Some("carrier"));
    }
}
