//! Ticket automations (admins): rules "when EVENT and CONDITIONS then
//! ACTIONS" that a cluster subscriber runs on committed ticket events, in
//! rule order. At least once and idempotent by event id: what one rule does
//! for one event (the ticket change, its history line, its events, the
//! webhook delivery, the reminder event) is written in one transaction with
//! the (event, rule) run record, so a redelivered event, on any node, finds
//! the record and applies nothing twice.
//!
//! Loop guard: the events of an automation's change name the automation and
//! fire no automation (see domain::ticket_automations).

use crate::domain::events::{DomainEvent, EventData, NewEvent};
use crate::domain::ticket_automations::{
    Actions, Automation, AutomationInput, AutomationRun, Conditions, Fired, MAX_IDLE_HOURS,
    QueuedDelivery, StateStep, Trigger, idle_event_id, state_step, triggers_of,
};
use crate::domain::tickets::{self as t, Author, HistoryEntry, Ticket, TicketWrite};
use crate::ports::repositories::RepoError;
use crate::services::subscribers::Subscriber;
use crate::services::tickets::{TicketError, TicketService, move_state, refresh_due};
use serde_json::json;
use std::sync::Arc;

/// At most this many rules, keywords per rule and people to notify.
pub const MAX_AUTOMATIONS: usize = 100;
const MAX_KEYWORDS: usize = 20;
const MAX_NOTIFIED: usize = 20;
/// Tries when someone else changes the ticket while a rule is applied.
const TRIES: usize = 5;
/// Idle tickets one sweep tells one rule of (the longest idle first; the
/// next sweep goes on).
const IDLE_PAGE: i64 = 500;

impl TicketService {
    pub async fn automations(&self) -> Result<Vec<Automation>, TicketError> {
        Ok(self.rules.rules().await?)
    }

    /// Adds a rule after the others; anything invalid stores nothing.
    pub async fn create_automation(
        &self,
        by: &str,
        input: AutomationInput,
    ) -> Result<Automation, TicketError> {
        let rule = self.check_automation(input).await?;
        if self.rules.rules().await?.len() >= MAX_AUTOMATIONS {
            return Err(TicketError::TooManyAutomations(MAX_AUTOMATIONS));
        }
        let id = format!("tau_{}", uuid::Uuid::now_v7().simple());
        Ok(self
            .rules
            .insert_rule(&id, &rule, by, self.clock.now_ms())
            .await?)
    }

    /// Replaces a rule (turning it on or off included), keeping its place.
    pub async fn update_automation(
        &self,
        id: &str,
        input: AutomationInput,
    ) -> Result<Automation, TicketError> {
        let rule = self.check_automation(input).await?;
        match self.rules.update_rule(id, &rule, self.clock.now_ms()).await {
            Err(RepoError::NotFound) => Err(TicketError::AutomationNotFound),
            other => Ok(other?),
        }
    }

    /// Sets the order the rules run in: `ids` names every rule once (a rule
    /// added or deleted meanwhile makes it stale: refused, nothing changed).
    pub async fn reorder_automations(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<Automation>, TicketError> {
        match self.rules.reorder_rules(&ids).await? {
            true => self.automations().await,
            false => Err(TicketError::BadAutomationOrder),
        }
    }

    pub async fn delete_automation(&self, id: &str) -> Result<(), TicketError> {
        match self.rules.delete_rule(id).await {
            Err(RepoError::NotFound) => Err(TicketError::AutomationNotFound),
            other => Ok(other?),
        }
    }

    async fn check_automation(
        &self,
        input: AutomationInput,
    ) -> Result<AutomationInput, TicketError> {
        let name = t::parse_name(&input.name)?;
        let when = self.check_conditions(input.event, input.when).await?;
        let mut then = input.then;
        then.assignee_id = t::parse_short(then.assignee_id.as_deref())?;
        then.department_id = t::parse_short(then.department_id.as_deref())?;
        then.webhook_endpoint_id = t::parse_short(then.webhook_endpoint_id.as_deref())?;
        then.tags = t::parse_tags(&then.tags)?;
        if then.is_empty() {
            return Err(TicketError::BadAutomation);
        }
        self.check_assignee(then.assignee_id.as_deref()).await?;
        self.check_department(then.department_id.as_deref()).await?;
        if let Some(id) = &then.webhook_endpoint_id
            && !self.rules.endpoint_exists(id).await?
        {
            return Err(TicketError::UnknownWebhookEndpoint);
        }
        if let Some(notify) = &mut then.notify {
            notify.staff_ids.sort();
            notify.staff_ids.dedup();
            if !notify.is_useful() || notify.staff_ids.len() > MAX_NOTIFIED {
                return Err(TicketError::BadAutomation);
            }
            for id in &notify.staff_ids {
                self.check_assignee(Some(id.as_str())).await?;
            }
        }
        Ok(AutomationInput {
            name,
            enabled: input.enabled,
            event: input.event,
            when,
            then,
        })
    }

    async fn check_conditions(
        &self,
        event: Trigger,
        when: Conditions,
    ) -> Result<Conditions, TicketError> {
        if when.to_state.is_some() && event != Trigger::StateChanged {
            return Err(TicketError::BadAutomation);
        }
        let idle_ok = match (event, when.idle_hours) {
            (Trigger::Idle, Some(hours)) => (1..=MAX_IDLE_HOURS).contains(&hours),
            (Trigger::Idle, None) | (_, Some(_)) => false,
            (_, None) => true,
        };
        if !idle_ok {
            return Err(TicketError::BadAutomation);
        }
        let mut keywords = Vec::new();
        for k in &when.keywords {
            let k = t::parse_short(Some(k))?.ok_or(TicketError::BadAutomation)?;
            if !keywords.contains(&k) {
                keywords.push(k);
            }
        }
        if keywords.len() > MAX_KEYWORDS {
            return Err(TicketError::BadAutomation);
        }
        if let Some(key) = &when.type_key {
            self.required_fields(key).await?;
        }
        let department_id = t::parse_short(when.department_id.as_deref())?;
        self.check_department(department_id.as_deref()).await?;
        Ok(Conditions {
            category: t::parse_short(when.category.as_deref())?,
            tags: t::parse_tags(&when.tags)?,
            department_id,
            keywords,
            ..when
        })
    }

    /// Runs the enabled rules on `event`, in order; each sees the ticket as
    /// the rules before it left it. A rule runs only on events that happened
    /// after it was made.
    pub async fn run_automations(&self, event: &DomainEvent) -> Result<(), TicketError> {
        let fired = triggers_of(&event.data);
        if fired.is_empty() {
            return Ok(());
        }
        let rules = self.rules.rules().await?;
        for f in &fired {
            for rule in &rules {
                let r = &rule.rule;
                // An idle event is for the one rule whose hours passed.
                let for_rule = f.idle.as_ref().is_none_or(|i| i.rule_id == rule.id);
                if r.enabled
                    && r.event == f.trigger
                    && for_rule
                    && rule.created_at <= event.created_at
                {
                    self.run_rule(rule, f, event).await?;
                }
            }
        }
        Ok(())
    }

    async fn run_rule(
        &self,
        rule: &Automation,
        fired: &Fired,
        event: &DomainEvent,
    ) -> Result<(), TicketError> {
        for _ in 0..TRIES {
            if self.rules.ran(&event.id, &rule.id).await? {
                return Ok(());
            }
            let Some(ticket) = self.tickets.ticket(&fired.ticket_id).await? else {
                return Ok(());
            };
            if !rule.rule.when.hold(&ticket, fired) {
                return Ok(());
            }
            // Changed since the sweep found it idle: not idle any more.
            if fired
                .idle
                .as_ref()
                .is_some_and(|i| i.version != ticket.version)
            {
                return Ok(());
            }
            let expected = ticket.version;
            let (ticket, write, run) = self.plan_rule(rule, ticket, event).await?;
            if self
                .tickets
                .save_run(&ticket, expected, &write, &run)
                .await?
            {
                return Ok(());
            }
        }
        Err(TicketError::Stale(0))
    }

    /// What `rule` does to `ticket` for `event`: the changed ticket, its
    /// history line and events, and the run record with its delivery.
    async fn plan_rule(
        &self,
        rule: &Automation,
        mut ticket: Ticket,
        event: &DomainEvent,
    ) -> Result<(Ticket, TicketWrite, AutomationRun), TicketError> {
        let now = self.clock.now_ms();
        let name = &rule.rule.name;
        let then = &rule.rule.then;
        let before = ticket.clone();
        let fields = then.apply_fields(&mut ticket);
        let calendar = self.calendar().await?;
        if fields.contains(&"priority") {
            ticket.sla.targets = self.targets(&ticket.type_key, ticket.priority).await?;
        }
        refresh_due(&mut ticket, &calendar);
        let step = state_step(ticket.state, then.state);
        if let StateStep::Move(to) = step {
            move_state(&mut ticket, to, &calendar, now);
        }
        let changed = !fields.is_empty() || matches!(step, StateStep::Move(_));
        if changed {
            ticket.version += 1;
            ticket.updated_at = now;
        }
        let mut events = Vec::new();
        let id = |suffix: &str| format!("evt_{}_{}{suffix}", ticket.id, ticket.version);
        if !fields.is_empty() {
            events.push(new_event(
                id(""),
                EventData::TicketUpdated {
                    ticket_id: ticket.id.clone(),
                    version: ticket.version,
                    fields: fields.iter().map(|f| (*f).to_owned()).collect(),
                    automation: Some(name.clone()),
                },
                now,
            ));
        }
        if let StateStep::Move(to) = step {
            events.push(new_event(
                id("_state"),
                EventData::TicketStateChanged {
                    ticket_id: ticket.id.clone(),
                    from: before.state,
                    to,
                    automation: Some(name.clone()),
                },
                now,
            ));
        }
        let notified = self.notified(then, &ticket).await?;
        if let (Some(notify), false) = (&then.notify, notified.is_empty()) {
            events.push(new_event(
                format!("{}_{}_notify", event.id, rule.id),
                EventData::TicketNotified {
                    ticket_id: ticket.id.clone(),
                    automation: name.clone(),
                    staff_ids: notified.clone(),
                    bell: notify.bell,
                    email: notify.email,
                },
                now,
            ));
        }
        let deliveries = self.delivery(then, event, now).await?;
        let mut detail = json!({ "rule": name, "event": event.type_name() });
        if !fields.is_empty() {
            detail["fields"] = json!(fields);
            detail["changes"] = changes(&before, &ticket, &fields);
        }
        match step {
            StateStep::Move(to) => {
                detail["from"] = json!(before.state);
                detail["to"] = json!(to);
            }
            StateStep::Refused(to) => {
                tracing::info!(rule = %rule.id, ticket = %ticket.id, "automation's state change refused");
                detail["refused"] = json!({ "from": before.state, "to": to });
            }
            StateStep::Stay => {}
        }
        if !notified.is_empty() {
            detail["notified"] = json!(notified);
        }
        if let Some(d) = deliveries.first() {
            detail["webhook"] = json!(d.endpoint_id);
        }
        let acted = changed
            || matches!(step, StateStep::Refused(_))
            || !notified.is_empty()
            || !deliveries.is_empty();
        let history = if acted {
            vec![HistoryEntry::new(
                "automation",
                &Author::Automation(rule.id.clone()),
                detail,
                now,
            )]
        } else {
            Vec::new()
        };
        let run = AutomationRun {
            event_id: event.id.clone(),
            rule_id: rule.id.clone(),
            ticket_id: ticket.id.clone(),
            ran_at: now,
            deliveries,
        };
        let write = TicketWrite {
            history,
            comment: None,
            events,
        };
        Ok((ticket, write, run))
    }

    /// Tells each enabled idle rule of the tickets (not closed) that had no
    /// change for its hours: a `ticket.idle` event each, once per ticket
    /// version, which the automations subscriber runs that rule on. The
    /// rule's state, type, priority and department narrow the search; its
    /// other conditions are checked when it runs. Returns the events written.
    pub async fn sweep_idle(&self, now: i64) -> Result<usize, TicketError> {
        let mut told = 0;
        for rule in self.rules.rules().await? {
            let r = &rule.rule;
            let (true, Trigger::Idle, Some(hours)) = (r.enabled, r.event, r.when.idle_hours) else {
                continue;
            };
            let before = now - i64::from(hours) * 3_600_000;
            let idle = self
                .tickets
                .idle(&rule.id, &r.when, before, IDLE_PAGE)
                .await?;
            for (ticket_id, version) in idle {
                let event = new_event(
                    idle_event_id(&rule.id, &ticket_id, version),
                    EventData::TicketIdle {
                        ticket_id,
                        automation_id: rule.id.clone(),
                        version,
                        idle_hours: hours,
                    },
                    now,
                );
                // False: another node's sweep wrote it first.
                if self.events.append_once(&event).await? {
                    told += 1;
                }
            }
        }
        Ok(told)
    }

    /// The people a rule's reminder goes to, for `ticket` as it now is.
    async fn notified(&self, then: &Actions, ticket: &Ticket) -> Result<Vec<String>, TicketError> {
        let Some(notify) = &then.notify else {
            return Ok(Vec::new());
        };
        let mut out = notify.staff_ids.clone();
        if notify.assignee {
            out.extend(ticket.assignee_id.clone());
        }
        if notify.department_lead
            && let Some(department) = &ticket.department_id
        {
            out.extend(
                self.setup
                    .department(department)
                    .await?
                    .and_then(|d| d.lead_id),
            );
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The delivery of `event` to the rule's webhook endpoint (none when the
    /// endpoint was deleted since).
    async fn delivery(
        &self,
        then: &Actions,
        event: &DomainEvent,
        now: i64,
    ) -> Result<Vec<QueuedDelivery>, TicketError> {
        let Some(endpoint_id) = &then.webhook_endpoint_id else {
            return Ok(Vec::new());
        };
        if !self.rules.endpoint_exists(endpoint_id).await? {
            return Ok(Vec::new());
        }
        Ok(vec![QueuedDelivery {
            id: format!("dl_{}", uuid::Uuid::now_v7().simple()),
            endpoint_id: endpoint_id.clone(),
            event_id: event.id.clone(),
            position: event.position,
            conversation_id: event.conversation_id.clone(),
            next_attempt_at: now,
            created_at: now,
        }])
    }
}

fn new_event(id: String, data: EventData, now: i64) -> NewEvent {
    NewEvent {
        id,
        conversation_id: None,
        seq: None,
        data,
        created_at: now,
    }
}

/// The new values of the changed fields, for the history (no personal data:
/// ids, a priority, tags).
fn changes(before: &Ticket, after: &Ticket, fields: &[&str]) -> serde_json::Value {
    let mut out = json!({});
    for field in fields {
        out[*field] = match *field {
            "assignee" => json!(after.assignee_id),
            "department" => json!(after.department_id),
            "priority" => json!(after.priority),
            "tags" => json!(
                after
                    .tags
                    .iter()
                    .filter(|t| !before.tags.contains(t))
                    .collect::<Vec<_>>()
            ),
            _ => continue,
        };
    }
    out
}

/// The cluster subscriber that runs automations.
pub struct TicketAutomations(pub Arc<TicketService>);

#[async_trait::async_trait]
impl Subscriber for TicketAutomations {
    fn name(&self) -> &'static str {
        "ticket_automations"
    }

    async fn handle(&self, event: &DomainEvent) -> Result<(), String> {
        self.0
            .run_automations(event)
            .await
            .map_err(|e| e.to_string())
    }
}
