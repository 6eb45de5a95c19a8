//! Domain events: what happened, as every subscriber (live feeds, webhooks,
//! and later tickets, analytics and audit) sees it. One is written in the same
//! transaction as the change it reports (the outbox), so a committed change
//! always has its event and a rolled-back one never does.
//!
//! Events carry ids and kinds, never message text or personal data: a reader
//! that needs the words opens the sealed conversation event by `(conversation_id,
//! seq)`.

use super::conversation::ConversationState;
use super::presence::Source;
use super::routing::AlertReason;
use super::tickets::TicketState;
use serde::{Deserialize, Serialize};

/// What an event says, tagged with its public type name (`message.posted`...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventData {
    #[serde(rename = "conversation.started")]
    ConversationStarted { visitor_id: String, channel: String },
    /// A buyer, agent, bot or system message (its text is in the conversation event).
    #[serde(rename = "message.posted")]
    MessagePosted {
        sender_kind: String,
        sender_id: Option<String>,
    },
    /// An internal note between staff; buyers and channels never see it.
    #[serde(rename = "note.added")]
    NoteAdded { sender_id: Option<String> },
    /// The bot (or the buyer's button, or the API) passed the chat to people.
    #[serde(rename = "conversation.handed_off")]
    HandedOff { packet_id: Option<String> },
    #[serde(rename = "conversation.assigned")]
    Assigned { agent_id: String, by: AssignedBy },
    #[serde(rename = "conversation.transferred")]
    Transferred {
        from_agent_id: String,
        to_agent_id: String,
    },
    #[serde(rename = "conversation.resolved")]
    Resolved { agent_id: Option<String> },
    #[serde(rename = "conversation.handed_back")]
    HandedBack { agent_id: Option<String> },
    #[serde(rename = "conversation.reopened")]
    Reopened,
    #[serde(rename = "conversation.closed")]
    Closed,
    /// Any other state change (kept so no transition goes unreported).
    #[serde(rename = "conversation.state_changed")]
    StateChanged {
        from: ConversationState,
        to: ConversationState,
        agent_id: Option<String>,
    },
    /// A buyer rated one bot answer.
    #[serde(rename = "answer.rated")]
    Rated { seq: i64, helpful: bool },
    /// The visitor's details or context changed (fields named, values not).
    #[serde(rename = "visitor.updated")]
    VisitorUpdated { visitor_id: String },
    /// A ticket was opened (from a chat, by hand, or out of hours).
    #[serde(rename = "ticket.created")]
    TicketCreated {
        ticket_id: String,
        number: String,
        source: String,
    },
    /// A ticket's fields changed (named, values not).
    #[serde(rename = "ticket.updated")]
    TicketUpdated {
        ticket_id: String,
        version: i64,
        fields: Vec<String>,
        /// The automation that made the change (absent: a person or the
        /// system); automations never run on such changes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        automation: Option<String>,
    },
    #[serde(rename = "ticket.state_changed")]
    TicketStateChanged {
        ticket_id: String,
        from: TicketState,
        to: TicketState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        automation: Option<String>,
    },
    /// An internal comment or a public reply (its text stays in the ticket).
    #[serde(rename = "ticket.commented")]
    TicketCommented {
        ticket_id: String,
        visibility: String,
        /// Who wrote it: "staff" or "buyer" (absent in events written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// The SLA sweeper found a ticket near or past a target.
    #[serde(rename = "ticket.escalated")]
    TicketEscalated { ticket_id: String, level: String },
    /// A ticket had no change (edit, move or comment) for the hours an idle
    /// automation waits; the SLA sweeper found it at `version`, and that
    /// automation runs on it.
    #[serde(rename = "ticket.idle")]
    TicketIdle {
        ticket_id: String,
        automation_id: String,
        version: i64,
        idle_hours: u32,
    },
    /// An automation asked for people to be reminded of a ticket (in the
    /// console bell and/or by e-mail, through the usual reminder paths).
    #[serde(rename = "ticket.notified")]
    TicketNotified {
        ticket_id: String,
        automation: String,
        staff_ids: Vec<String>,
        bell: bool,
        email: bool,
    },
    /// The buyer rated a finished conversation (1–5 stars; tags and comment
    /// stay in the rating).
    #[serde(rename = "csat.rated")]
    CsatRated { stars: u8 },
    /// The chat's buyer paid an order after asking (询单转化): when it was
    /// placed, its amount, and which conversion windows it falls in
    /// (`domain::analytics::conversion`, decided once when it was found).
    #[serde(rename = "conversation.converted")]
    Converted {
        placed_at: i64,
        total_cents: i64,
        within_24h: bool,
        by_next_day: bool,
    },
    /// A staff member's presence changed (online, busy, away, offline); no
    /// conversation. Analytics counts online time from these.
    #[serde(rename = "agent.presence_changed")]
    PresenceChanged { agent_id: String, status: String },
    /// A skill group's queue passed one of its alert thresholds (raised once
    /// until it is back under both).
    #[serde(rename = "queue.alert_raised")]
    QueueAlertRaised {
        group_id: String,
        reason: AlertReason,
        waiting: i64,
        longest_wait_ms: Option<i64>,
    },
    /// The group's queue is back under its thresholds.
    #[serde(rename = "queue.alert_cleared")]
    QueueAlertCleared { group_id: String, waiting: i64 },
    /// A visit to the shop's pages began (the widget's first heartbeat from a
    /// tab): how it came (`domain::presence::classify`) and whether the
    /// browser was here before. No pages, no visitor: analytics counts it.
    #[serde(rename = "visit.started")]
    VisitStarted {
        visit_id: String,
        source: Source,
        returning: bool,
        /// The entry URL's utm_campaign (`domain::funnel::campaign_of`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        campaign: Option<String>,
    },
    /// A visit is over (its page fell silent for half an hour): how many pages
    /// it opened and how long it lasted, from its first page to its last
    /// heartbeat.
    #[serde(rename = "visit.ended")]
    VisitEnded {
        visit_id: String,
        source: Source,
        returning: bool,
        started_at: i64,
        pages: i64,
        dwell_ms: i64,
        /// The entry URL's utm_campaign (`domain::funnel::campaign_of`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        campaign: Option<String>,
    },
    /// A chat was opened from a visit (the visit's first chat): the visit's
    /// source and the pages it had opened before the chat.
    #[serde(rename = "conversation.attributed")]
    ConversationAttributed {
        visit_id: String,
        source: Source,
        pages_before: i64,
        /// The entry URL's utm_campaign (`domain::funnel::campaign_of`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        campaign: Option<String>,
    },
    /// What a chat is about, as the bot or an agent's product card told it:
    /// the intake intent the bot ran (or `question`: answered from the
    /// knowledge base; `human`: asked for a person first), the category of
    /// the entry the bot answered from, and the product (a cited entry's or
    /// a product card's sku). Fields not known are left out; analytics keeps
    /// the first of each (a specific intent replaces `question` or `human`).
    #[serde(rename = "conversation.classified")]
    ConversationClassified {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        intent: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        product: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignedBy {
    /// The routing engine picked the agent.
    Routing,
    /// The agent took the chat themselves.
    Claim,
}

/// Every public event type, in catalogue order (webhook filters name these).
pub const EVENT_TYPES: &[&str] = &[
    "conversation.started",
    "message.posted",
    "note.added",
    "conversation.handed_off",
    "conversation.assigned",
    "conversation.transferred",
    "conversation.resolved",
    "conversation.handed_back",
    "conversation.reopened",
    "conversation.closed",
    "conversation.state_changed",
    "answer.rated",
    "visitor.updated",
    "ticket.created",
    "ticket.updated",
    "ticket.state_changed",
    "ticket.commented",
    "ticket.escalated",
    "ticket.idle",
    "ticket.notified",
    "csat.rated",
    "conversation.converted",
    "agent.presence_changed",
    "queue.alert_raised",
    "queue.alert_cleared",
    "visit.started",
    "visit.ended",
    "conversation.attributed",
    "conversation.classified",
];

impl EventData {
    pub fn type_name(&self) -> &'static str {
        match self {
            EventData::ConversationStarted { .. } => "conversation.started",
            EventData::MessagePosted { .. } => "message.posted",
            EventData::NoteAdded { .. } => "note.added",
            EventData::HandedOff { .. } => "conversation.handed_off",
            EventData::Assigned { .. } => "conversation.assigned",
            EventData::Transferred { .. } => "conversation.transferred",
            EventData::Resolved { .. } => "conversation.resolved",
            EventData::HandedBack { .. } => "conversation.handed_back",
            EventData::Reopened => "conversation.reopened",
            EventData::Closed => "conversation.closed",
            EventData::StateChanged { .. } => "conversation.state_changed",
            EventData::Rated { .. } => "answer.rated",
            EventData::VisitorUpdated { .. } => "visitor.updated",
            EventData::TicketCreated { .. } => "ticket.created",
            EventData::TicketUpdated { .. } => "ticket.updated",
            EventData::TicketStateChanged { .. } => "ticket.state_changed",
            EventData::TicketCommented { .. } => "ticket.commented",
            EventData::TicketEscalated { .. } => "ticket.escalated",
            EventData::TicketIdle { .. } => "ticket.idle",
            EventData::TicketNotified { .. } => "ticket.notified",
            EventData::CsatRated { .. } => "csat.rated",
            EventData::Converted { .. } => "conversation.converted",
            EventData::PresenceChanged { .. } => "agent.presence_changed",
            EventData::QueueAlertRaised { .. } => "queue.alert_raised",
            EventData::QueueAlertCleared { .. } => "queue.alert_cleared",
            EventData::VisitStarted { .. } => "visit.started",
            EventData::VisitEnded { .. } => "visit.ended",
            EventData::ConversationAttributed { .. } => "conversation.attributed",
            EventData::ConversationClassified { .. } => "conversation.classified",
        }
    }

    /// The event a committed conversation state change reports.
    pub fn for_transition(
        from: ConversationState,
        from_agent: Option<&str>,
        to: ConversationState,
        to_agent: Option<&str>,
        by: AssignedBy,
    ) -> EventData {
        use ConversationState::*;
        match (from, to, from_agent, to_agent) {
            (Bot, Waiting, ..) => EventData::HandedOff { packet_id: None },
            (WithAgent, WithAgent, Some(old), Some(new)) if old != new => EventData::Transferred {
                from_agent_id: old.to_owned(),
                to_agent_id: new.to_owned(),
            },
            (_, WithAgent, _, Some(agent)) => EventData::Assigned {
                agent_id: agent.to_owned(),
                by,
            },
            (_, Resolved, ..) => EventData::Resolved {
                agent_id: from_agent.map(str::to_owned),
            },
            (WithAgent | Waiting, Bot, ..) => EventData::HandedBack {
                agent_id: from_agent.map(str::to_owned),
            },
            (Resolved, Bot, ..) => EventData::Reopened,
            (_, Closed, ..) => EventData::Closed,
            _ => EventData::StateChanged {
                from,
                to,
                agent_id: to_agent.map(str::to_owned),
            },
        }
    }

    /// One example of every type, in catalogue order (the OpenAPI document
    /// shows them).
    pub fn examples() -> Vec<EventData> {
        use ConversationState::*;
        vec![
            EventData::ConversationStarted {
                visitor_id: "vis_01J9Z8Q1".into(),
                channel: "web".into(),
            },
            EventData::for_message("message", "buyer", Some("vis_01J9Z8Q1")),
            EventData::for_message("note", "agent", Some("stf_li")),
            EventData::HandedOff {
                packet_id: Some("018f6a1e-7c2b-7d3e-9a41-5b6c7d8e9f01".into()),
            },
            EventData::for_transition(
                Waiting,
                None,
                WithAgent,
                Some("stf_li"),
                AssignedBy::Routing,
            ),
            EventData::for_transition(
                WithAgent,
                Some("stf_li"),
                WithAgent,
                Some("stf_wang"),
                AssignedBy::Claim,
            ),
            EventData::for_transition(
                WithAgent,
                Some("stf_li"),
                Resolved,
                Some("stf_li"),
                AssignedBy::Claim,
            ),
            EventData::for_transition(WithAgent, Some("stf_li"), Bot, None, AssignedBy::Claim),
            EventData::for_transition(Resolved, None, Bot, None, AssignedBy::Claim),
            EventData::for_transition(Bot, None, Closed, None, AssignedBy::Claim),
            EventData::for_transition(Closed, None, Waiting, None, AssignedBy::Claim),
            EventData::Rated {
                seq: 3,
                helpful: true,
            },
            EventData::VisitorUpdated {
                visitor_id: "vis_01J9Z8Q1".into(),
            },
            EventData::TicketCreated {
                ticket_id: "tkt_01J9Z8Q1".into(),
                number: "T20261130-0001".into(),
                source: "chat".into(),
            },
            EventData::TicketUpdated {
                ticket_id: "tkt_01J9Z8Q1".into(),
                version: 2,
                fields: vec!["department".into(), "priority".into()],
                automation: None,
            },
            EventData::TicketStateChanged {
                ticket_id: "tkt_01J9Z8Q1".into(),
                from: TicketState::Open,
                to: TicketState::Resolved,
                automation: None,
            },
            EventData::TicketCommented {
                ticket_id: "tkt_01J9Z8Q1".into(),
                visibility: "public".into(),
                by: Some("buyer".into()),
            },
            EventData::TicketEscalated {
                ticket_id: "tkt_01J9Z8Q1".into(),
                level: "breached".into(),
            },
            EventData::TicketIdle {
                ticket_id: "tkt_01J9Z8Q1".into(),
                automation_id: "tau_01J9Z8Q1".into(),
                version: 4,
                idle_hours: 72,
            },
            EventData::TicketNotified {
                ticket_id: "tkt_01J9Z8Q1".into(),
                automation: "超时提醒组长".into(),
                staff_ids: vec!["stf_li".into()],
                bell: true,
                email: false,
            },
            EventData::CsatRated { stars: 5 },
            EventData::Converted {
                placed_at: 1_796_010_000_000,
                total_cents: 39_900,
                within_24h: true,
                by_next_day: true,
            },
            EventData::PresenceChanged {
                agent_id: "stf_01J9Z8Q9".into(),
                status: "online".into(),
            },
            EventData::QueueAlertRaised {
                group_id: "grp_01J9Z8QA".into(),
                reason: AlertReason::Waiting,
                waiting: 12,
                longest_wait_ms: Some(245_000),
            },
            EventData::QueueAlertCleared {
                group_id: "grp_01J9Z8QA".into(),
                waiting: 2,
            },
            EventData::VisitStarted {
                visit_id: "vst_01J9Z8QB".into(),
                source: Source::Search,
                returning: false,
                campaign: Some("double12".into()),
            },
            EventData::VisitEnded {
                visit_id: "vst_01J9Z8QB".into(),
                source: Source::Search,
                returning: false,
                started_at: 1_796_000_000_000,
                pages: 4,
                dwell_ms: 312_000,
                campaign: Some("double12".into()),
            },
            EventData::ConversationAttributed {
                visit_id: "vst_01J9Z8QB".into(),
                source: Source::Search,
                pages_before: 3,
                campaign: Some("double12".into()),
            },
            EventData::ConversationClassified {
                intent: Some("refund".into()),
                category: Some("售后/退换货".into()),
                product: Some("SKU-1042".into()),
            },
        ]
    }

    /// The event a committed conversation message (or note) reports.
    pub fn for_message(kind: &str, sender_kind: &str, sender_id: Option<&str>) -> EventData {
        if kind == "note" {
            EventData::NoteAdded {
                sender_id: sender_id.map(str::to_owned),
            }
        } else {
            EventData::MessagePosted {
                sender_kind: sender_kind.to_owned(),
                sender_id: sender_id.map(str::to_owned),
            }
        }
    }
}

/// An event to be written to the outbox with the change it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Stable across retries: `conversation_id:seq` for conversation events, or
    /// an id the caller made once for the change.
    pub id: String,
    pub conversation_id: Option<String>,
    pub seq: Option<i64>,
    pub data: EventData,
    pub created_at: i64,
}

impl NewEvent {
    /// The event of the conversation change committed at `seq`.
    pub fn in_conversation(
        conversation_id: &str,
        seq: i64,
        data: EventData,
        created_at: i64,
    ) -> NewEvent {
        NewEvent {
            id: format!("evt_{conversation_id}_{seq}"),
            conversation_id: Some(conversation_id.to_owned()),
            seq: Some(seq),
            data,
            created_at,
        }
    }
}

/// A committed event, read back in position order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainEvent {
    /// Global, grows in commit order, without reuse (gaps are possible).
    pub position: i64,
    pub id: String,
    pub conversation_id: Option<String>,
    pub seq: Option<i64>,
    pub created_at: i64,
    pub data: EventData,
}

impl DomainEvent {
    pub fn type_name(&self) -> &'static str {
        self.data.type_name()
    }
}

/// A subscriber's filter: every event type, or a named few (unknown names are
/// refused when the filter is made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    All,
    Only(Vec<String>),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("unknown event type: {0}")]
    Unknown(String),
    #[error("name at least one event type, or \"*\" for all")]
    Empty,
}

impl EventFilter {
    pub fn parse(names: &[String]) -> Result<EventFilter, FilterError> {
        if names.is_empty() {
            return Err(FilterError::Empty);
        }
        if names.iter().any(|n| n == "*") {
            return Ok(EventFilter::All);
        }
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let name = name.trim();
            if !EVENT_TYPES.contains(&name) {
                return Err(FilterError::Unknown(name.chars().take(64).collect()));
            }
            if !out.iter().any(|n: &String| n == name) {
                out.push(name.to_owned());
            }
        }
        Ok(EventFilter::Only(out))
    }

    pub fn matches(&self, type_name: &str) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Only(names) => names.iter().any(|n| n == type_name),
        }
    }

    pub fn names(&self) -> Vec<String> {
        match self {
            EventFilter::All => vec!["*".to_owned()],
            EventFilter::Only(names) => names.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConversationState::*;

    #[test]
    fn every_event_type_is_in_the_catalogue_and_round_trips_through_json() {
        let samples = EventData::examples();
        let names: Vec<&str> = samples.iter().map(EventData::type_name).collect();
        assert_eq!(
            names, EVENT_TYPES,
            "one sample per type, in catalogue order"
        );
        for data in samples {
            let json = serde_json::to_string(&data).unwrap();
            assert!(
                json.contains(&format!("\"type\":\"{}\"", data.type_name())),
                "{json}"
            );
            let back: EventData = serde_json::from_str(&json).unwrap();
            assert_eq!(back, data);
        }
    }

    #[test]
    fn transitions_are_named_by_what_they_mean() {
        assert_eq!(
            EventData::for_transition(Bot, None, Waiting, None, AssignedBy::Routing).type_name(),
            "conversation.handed_off"
        );
        assert_eq!(
            EventData::for_transition(Bot, None, WithAgent, Some("a"), AssignedBy::Claim),
            EventData::Assigned {
                agent_id: "a".into(),
                by: AssignedBy::Claim
            }
        );
        // The same agent keeping the chat is no transfer.
        assert_eq!(
            EventData::for_transition(
                WithAgent,
                Some("a"),
                WithAgent,
                Some("a"),
                AssignedBy::Claim
            )
            .type_name(),
            "conversation.assigned"
        );
    }

    #[test]
    fn filters_refuse_unknown_types_and_empty_lists() {
        assert_eq!(
            EventFilter::parse(&["message.posted".into(), "message.sent".into()]),
            Err(FilterError::Unknown("message.sent".into()))
        );
        assert_eq!(EventFilter::parse(&[]), Err(FilterError::Empty));
        let f = EventFilter::parse(&["message.posted".into(), "message.posted".into()]).unwrap();
        assert_eq!(f.names(), vec!["message.posted".to_string()]);
        assert!(f.matches("message.posted") && !f.matches("answer.rated"));
        assert!(
            EventFilter::parse(&["*".into()])
                .unwrap()
                .matches("answer.rated")
        );
    }
}
