//! Ticket automations (admins): "when EVENT and CONDITIONS then ACTIONS",
//! run on ticket events after they are committed. Pure: which events fire
//! which trigger, whether a ticket meets a rule's conditions, and what a
//! rule's field actions change. No SQL, no HTTP.
//!
//! Loop guard: a change an automation made carries the automation's name in
//! its event, and such events fire no trigger, so automations never run on
//! automations' changes (one level deep, by design).

use super::events::EventData;
use super::tickets::{Priority, Ticket, TicketState};
use serde::{Deserialize, Serialize};

/// The ticket events an automation can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    TicketCreated,
    /// Optionally to one state (`when.to_state`).
    StateChanged,
    BuyerReplied,
    SlaWarning,
    SlaBreached,
    PriorityChanged,
    /// Given to a person (on creation or later).
    Assigned,
    /// Nothing changed on the ticket (no edit, move or comment) for the
    /// rule's `when.idle_hours`; the SLA sweeper looks. Closed tickets never.
    Idle,
}

/// Idle rules wait 1 hour to 90 days.
pub const MAX_IDLE_HOURS: u32 = 90 * 24;

/// One trigger an event fired, on one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub ticket_id: String,
    pub trigger: Trigger,
    /// The state a state change went to.
    pub to: Option<TicketState>,
    /// An idle event is for one rule, and for the ticket as it was then (a
    /// change since means it is no longer idle).
    pub idle: Option<IdleFor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleFor {
    pub rule_id: String,
    pub version: i64,
}

/// The outbox id of the idle event of `rule_id` for a ticket at `version`:
/// one per rule and version, so a sweep that finds it again writes nothing.
pub fn idle_event_id(rule_id: &str, ticket_id: &str, version: i64) -> String {
    format!("evt_idle_{rule_id}_{ticket_id}_{version}")
}

/// The triggers `data` fires; none for changes an automation made.
pub fn triggers_of(data: &EventData) -> Vec<Fired> {
    let fired = |id: &str, trigger, to| Fired {
        ticket_id: id.to_owned(),
        trigger,
        to,
        idle: None,
    };
    match data {
        EventData::TicketCreated { ticket_id, .. } => {
            vec![fired(ticket_id, Trigger::TicketCreated, None)]
        }
        EventData::TicketStateChanged {
            ticket_id,
            to,
            automation: None,
            ..
        } => vec![fired(ticket_id, Trigger::StateChanged, Some(*to))],
        EventData::TicketCommented {
            ticket_id,
            by: Some(by),
            ..
        } if by == "buyer" => vec![fired(ticket_id, Trigger::BuyerReplied, None)],
        EventData::TicketEscalated { ticket_id, level } => match level.as_str() {
            "warning" => vec![fired(ticket_id, Trigger::SlaWarning, None)],
            "breached" => vec![fired(ticket_id, Trigger::SlaBreached, None)],
            _ => Vec::new(),
        },
        EventData::TicketIdle {
            ticket_id,
            automation_id,
            version,
            ..
        } => vec![Fired {
            idle: Some(IdleFor {
                rule_id: automation_id.clone(),
                version: *version,
            }),
            ..fired(ticket_id, Trigger::Idle, None)
        }],
        EventData::TicketUpdated {
            ticket_id,
            fields,
            automation: None,
            ..
        } => {
            let mut out = Vec::new();
            if fields.iter().any(|f| f == "priority") {
                out.push(fired(ticket_id, Trigger::PriorityChanged, None));
            }
            if fields.iter().any(|f| f == "assignee") {
                out.push(fired(ticket_id, Trigger::Assigned, None));
            }
            out
        }
        _ => Vec::new(),
    }
}

/// What the ticket must be like when the event is handled; every condition
/// given must hold (none given: every ticket).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Only with `state_changed`: the state the ticket moved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_state: Option<TicketState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TicketState>,
    /// The ticket has every one of these tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Any of these words in the title or description (case-insensitive).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Nobody has the ticket.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unassigned: bool,
    /// Only with `idle`, and required there: hours without a change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_hours: Option<u32>,
}

impl Conditions {
    pub fn hold(&self, ticket: &Ticket, fired: &Fired) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        let category_ok = self.category.as_ref().is_none_or(|c| {
            ticket
                .category
                .as_deref()
                .is_some_and(|have| have.eq_ignore_ascii_case(c))
        });
        let text = format!("{}\n{}", ticket.title, ticket.description).to_lowercase();
        self.to_state.is_none_or(|s| fired.to == Some(s))
            && self.type_key.as_ref().is_none_or(|k| *k == ticket.type_key)
            && category_ok
            && self.priority.is_none_or(|p| p == ticket.priority)
            && same(&self.department_id, &ticket.department_id)
            && self.state.is_none_or(|s| s == ticket.state)
            && self.tags.iter().all(|t| ticket.tags.contains(t))
            && (self.keywords.is_empty()
                || self
                    .keywords
                    .iter()
                    .any(|k| text.contains(&k.to_lowercase())))
            && (!self.unassigned || ticket.assignee_id.is_none())
    }
}

/// Who an automation's reminder goes to, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// In the console bell (each person's in-app preference still counts).
    #[serde(default)]
    pub bell: bool,
    /// By e-mail to each person's address, through the shop's SMTP server.
    #[serde(default)]
    pub email: bool,
    #[serde(default)]
    pub assignee: bool,
    #[serde(default)]
    pub department_lead: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub staff_ids: Vec<String>,
}

impl Notify {
    /// A reminder that goes nowhere or to nobody does nothing.
    pub fn is_useful(&self) -> bool {
        (self.bell || self.email)
            && (self.assignee || self.department_lead || !self.staff_ids.is_empty())
    }
}

/// What a rule does; at least one action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Through the state machine: a move it refuses is skipped and noted in
    /// the ticket's history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TicketState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Notify>,
    /// One of the admin's webhook endpoints: the event that fired the rule
    /// is delivered to it, signed, through the delivery queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_endpoint_id: Option<String>,
}

impl Actions {
    pub fn is_empty(&self) -> bool {
        self.assignee_id.is_none()
            && self.department_id.is_none()
            && self.priority.is_none()
            && self.state.is_none()
            && self.tags.is_empty()
            && self.notify.is_none()
            && self.webhook_endpoint_id.is_none()
    }

    /// Applies the field actions (assignee, department, priority, tags) to
    /// `ticket`; the fields that changed, in the names `ticket.updated` uses.
    pub fn apply_fields(&self, ticket: &mut Ticket) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if let Some(id) = &self.assignee_id
            && ticket.assignee_id.as_ref() != Some(id)
        {
            ticket.assignee_id = Some(id.clone());
            fields.push("assignee");
        }
        if let Some(id) = &self.department_id
            && ticket.department_id.as_ref() != Some(id)
        {
            ticket.department_id = Some(id.clone());
            fields.push("department");
        }
        if let Some(priority) = self.priority
            && priority != ticket.priority
        {
            ticket.priority = priority;
            fields.push("priority");
        }
        let before = ticket.tags.len();
        for tag in &self.tags {
            if !ticket.tags.contains(tag) && ticket.tags.len() < 10 {
                ticket.tags.push(tag.clone());
            }
        }
        if ticket.tags.len() != before {
            fields.push("tags");
        }
        fields
    }
}

/// What the state action does to a ticket in state `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateStep {
    /// No state action, or the ticket is there already.
    Stay,
    Move(TicketState),
    /// The state machine does not allow it.
    Refused(TicketState),
}

pub fn state_step(from: TicketState, to: Option<TicketState>) -> StateStep {
    match to {
        None => StateStep::Stay,
        Some(to) if to == from => StateStep::Stay,
        Some(to) if from.can_go_to(to) => StateStep::Move(to),
        Some(to) => StateStep::Refused(to),
    }
}

/// A rule as the admin writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomationInput {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub event: Trigger,
    #[serde(default)]
    pub when: Conditions,
    pub then: Actions,
}

fn yes() -> bool {
    true
}

/// A stored rule. Rules run in `position` order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Automation {
    pub id: String,
    pub position: i64,
    #[serde(flatten)]
    pub rule: AutomationInput,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One automation's run for one event (at most one per pair, ever), and the
/// webhook deliveries it queues.
#[derive(Debug, Clone)]
pub struct AutomationRun {
    pub event_id: String,
    pub rule_id: String,
    pub ticket_id: String,
    pub ran_at: i64,
    pub deliveries: Vec<QueuedDelivery>,
}

/// A webhook delivery an automation queues, sent like the queue's own.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedDelivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub position: i64,
    pub conversation_id: Option<String>,
    pub next_attempt_at: i64,
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_idle_event_fires_only_its_rule_for_the_ticket_as_it_was() {
        let fired = triggers_of(&EventData::TicketIdle {
            ticket_id: "tkt_1".into(),
            automation_id: "tau_9".into(),
            version: 4,
            idle_hours: 72,
        });
        let want = Fired {
            ticket_id: "tkt_1".into(),
            trigger: Trigger::Idle,
            to: None,
            idle: Some(IdleFor {
                rule_id: "tau_9".into(),
                version: 4,
            }),
        };
        assert_eq!(fired, vec![want]);
        // The id the storage's search of written idle events spells out too.
        assert_eq!(idle_event_id("tau_9", "tkt_1", 4), "evt_idle_tau_9_tkt_1_4");
    }

    use super::*;
    use crate::domain::sla::{SlaTargets, TicketSla};
    use crate::domain::tickets::TicketSource;

    fn ticket() -> Ticket {
        Ticket {
            id: "tkt_1".into(),
            number: "T20261130-0001".into(),
            type_key: "general".into(),
            category: Some("Refund".into()),
            priority: Priority::Normal,
            department_id: Some("dep_a".into()),
            assignee_id: None,
            visitor_id: None,
            conversation_id: None,
            order_number: None,
            title: "快递三天没动".into(),
            description: "Where is my PARCEL".into(),
            custom_fields: Default::default(),
            tags: vec!["物流".into(), "vip".into()],
            state: TicketState::Open,
            status_text: None,
            source: TicketSource::Manual,
            version: 1,
            sla: TicketSla::start(SlaTargets::from_minutes(60, 600), 0),
            first_response_due_at: None,
            resolution_due_at: None,
            created_by: None,
            created_at: 0,
            updated_at: 0,
            resolved_at: None,
        }
    }

    fn fired(trigger: Trigger, to: Option<TicketState>) -> Fired {
        Fired {
            idle: None,
            ticket_id: "tkt_1".into(),
            trigger,
            to,
        }
    }

    #[test]
    fn every_condition_given_must_hold() {
        let t = ticket();
        let created = fired(Trigger::TicketCreated, None);
        assert!(Conditions::default().hold(&t, &created));
        let all = Conditions {
            type_key: Some("general".into()),
            category: Some("refund".into()),
            priority: Some(Priority::Normal),
            department_id: Some("dep_a".into()),
            state: Some(TicketState::Open),
            tags: vec!["vip".into()],
            keywords: vec!["parcel".into(), "退款".into()],
            unassigned: true,
            ..Conditions::default()
        };
        assert!(all.hold(&t, &created));
        let fails = [
            Conditions {
                priority: Some(Priority::High),
                ..all.clone()
            },
            Conditions {
                department_id: Some("dep_b".into()),
                ..all.clone()
            },
            Conditions {
                tags: vec!["vip".into(), "退款".into()],
                ..all.clone()
            },
            Conditions {
                keywords: vec!["发票".into()],
                ..all.clone()
            },
            Conditions {
                state: Some(TicketState::Pending),
                ..all.clone()
            },
            Conditions {
                category: Some("物流".into()),
                ..all.clone()
            },
        ];
        for c in fails {
            assert!(!c.hold(&t, &created), "{c:?}");
        }
        let mut mine = t.clone();
        mine.assignee_id = Some("stf_li".into());
        assert!(!all.hold(&mine, &created), "unassigned only");
    }

    #[test]
    fn to_state_matches_the_state_the_change_went_to() {
        let c = Conditions {
            to_state: Some(TicketState::Pending),
            ..Conditions::default()
        };
        let t = ticket();
        assert!(c.hold(
            &t,
            &fired(Trigger::StateChanged, Some(TicketState::Pending))
        ));
        assert!(!c.hold(
            &t,
            &fired(Trigger::StateChanged, Some(TicketState::Resolved))
        ));
    }

    #[test]
    fn automations_changes_fire_no_trigger() {
        let by_person = EventData::TicketUpdated {
            ticket_id: "tkt_1".into(),
            version: 2,
            fields: vec!["priority".into(), "assignee".into()],
            automation: None,
        };
        let triggers: Vec<Trigger> = triggers_of(&by_person).iter().map(|f| f.trigger).collect();
        assert_eq!(triggers, vec![Trigger::PriorityChanged, Trigger::Assigned]);
        let by_rule = EventData::TicketUpdated {
            ticket_id: "tkt_1".into(),
            version: 3,
            fields: vec!["priority".into()],
            automation: Some("加急".into()),
        };
        assert!(triggers_of(&by_rule).is_empty());
        let moved = EventData::TicketStateChanged {
            ticket_id: "tkt_1".into(),
            from: TicketState::Open,
            to: TicketState::Pending,
            automation: Some("加急".into()),
        };
        assert!(triggers_of(&moved).is_empty());
        let staff_reply = EventData::TicketCommented {
            ticket_id: "tkt_1".into(),
            visibility: "public".into(),
            by: Some("staff".into()),
        };
        assert!(triggers_of(&staff_reply).is_empty());
        let breach = EventData::TicketEscalated {
            ticket_id: "tkt_1".into(),
            level: "breached".into(),
        };
        assert_eq!(triggers_of(&breach)[0].trigger, Trigger::SlaBreached);
    }

    #[test]
    fn field_actions_name_only_what_changed_and_states_follow_the_machine() {
        let mut t = ticket();
        let then = Actions {
            priority: Some(Priority::Normal),
            department_id: Some("dep_b".into()),
            tags: vec!["vip".into(), "加急".into()],
            ..Actions::default()
        };
        assert_eq!(then.apply_fields(&mut t), vec!["department", "tags"]);
        assert_eq!(t.tags, vec!["物流", "vip", "加急"]);
        assert!(
            then.apply_fields(&mut t).is_empty(),
            "a second run changes nothing"
        );
        use TicketState::*;
        assert_eq!(state_step(Open, Some(Pending)), StateStep::Move(Pending));
        assert_eq!(state_step(Open, Some(Open)), StateStep::Stay);
        assert_eq!(state_step(Closed, Some(Open)), StateStep::Refused(Open));
        assert_eq!(
            state_step(Resolved, Some(Pending)),
            StateStep::Refused(Pending)
        );
        assert!(Actions::default().is_empty());
        assert!(
            !Notify {
                bell: true,
                ..Notify::default()
            }
            .is_useful()
        );
    }
}
