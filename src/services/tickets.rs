//! Tickets: creation (by hand, from a chat prefilled with the hand-off packet),
//! edits guarded by the version the editor read, transitions through the state
//! machine, comments, the buyer's view, and the SLA sweeper. Who may see a
//! ticket: its assignee, its department's members, supervisors and admins.

use crate::domain::conversation::ConversationId;
use crate::domain::events::{EventData, NewEvent};
use crate::domain::sla::{BusinessCalendar, Responder, SlaTargets, TicketSla};
use crate::domain::staff::Permission;
use crate::domain::tickets::{
    self as t, Author, Comment, HistoryEntry, Priority, Ticket, TicketFilter, TicketInputError,
    TicketSource, TicketState, TicketWrite, Visibility,
};
use crate::ports::Clock;
use crate::ports::repositories::{
    AutomationRules, EventLog, RepoError, SavedViews, StaffDirectory, TicketRecords, TicketSetup,
};
use crate::services::bot::BotService;
use crate::services::chat::{Actor, ChatError, ChatService};
use crate::services::shop::ShopService;
use crate::services::staff::StaffUser;
use crate::services::visitors::Visitor;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    #[error(transparent)]
    Invalid(#[from] TicketInputError),
    #[error("unknown ticket type")]
    UnknownType,
    #[error("unknown department")]
    UnknownDepartment,
    #[error("unknown assignee")]
    UnknownAssignee,
    #[error("custom field {0} is required for this ticket type")]
    MissingField(String),
    #[error("a {} ticket cannot become {}", .from.as_str(), .to.as_str())]
    Transition { from: TicketState, to: TicketState },
    #[error("the ticket changed after version {0}; reload it and try again")]
    Stale(i64),
    #[error("ticket not found")]
    NotFound,
    #[error("this ticket belongs to another department")]
    Forbidden,
    #[error("a department or type with this name already exists")]
    NameTaken,
    #[error("this ticket is closed; please open a new one for a new question")]
    ClosedForReplies,
    #[error("this ticket was resolved more than {0} days ago; please open a new one")]
    ReplyWindowClosed(i64),
    #[error("reopen_days must be between 0 and 90")]
    BadReopenDays,
    #[error(
        "a routing rule needs a name and at least one action (at most 100 rules, 20 keywords each)"
    )]
    BadRoutingRule,
    #[error(
        "an automation needs a name (1 to 64 characters), an event and at least one action; \
         to_state only goes with the state_changed event; a notification needs bell or email \
         and someone to tell; at most 20 keywords"
    )]
    BadAutomation,
    #[error("at most {0} automations; delete one first")]
    TooManyAutomations(usize),
    #[error("unknown webhook endpoint")]
    UnknownWebhookEndpoint,
    #[error("no automation with this id")]
    AutomationNotFound,
    #[error("the order must name every automation exactly once (reload: one was added or deleted)")]
    BadAutomationOrder,
    #[error("a ticket cannot be merged into itself")]
    MergeIntoSelf,
    #[error("no saved view with this id among yours")]
    ViewNotFound,
    #[error("you already have a view with this name")]
    ViewNameTaken,
    #[error("at most {0} saved views per person; delete one first")]
    TooManyViews(i64),
    #[error("the ticket to merge into is closed")]
    MergeIntoClosed,
    #[error("no ticket with that id or number to merge into")]
    MergeTargetNotFound,
    #[error("a file sent with a comment must first be uploaded to this ticket")]
    UnknownAttachment,
    #[error(transparent)]
    Attachment(#[from] crate::services::attachments::AttachmentError),
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error("hand-off packet unreadable: {0}")]
    Packet(String),
    #[error(transparent)]
    Records(#[from] RepoError),
}

/// A ticket typed in by staff.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTicketInput {
    #[serde(default = "general")]
    pub type_key: String,
    pub title: Option<String>,
    #[serde(default)]
    pub description: String,
    pub category: Option<String>,
    #[serde(default = "normal")]
    pub priority: Priority,
    pub department_id: Option<String>,
    pub assignee_id: Option<String>,
    pub order_number: Option<String>,
    #[serde(default)]
    pub custom_fields: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

fn general() -> String {
    "general".into()
}

fn normal() -> Priority {
    Priority::Normal
}

/// A change to a ticket's fields; absent fields stay as they are, an empty
/// department or assignee clears it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketPatch {
    pub expected_version: i64,
    pub type_key: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub priority: Option<Priority>,
    pub department_id: Option<String>,
    pub assignee_id: Option<String>,
    pub order_number: Option<String>,
    pub custom_fields: Option<BTreeMap<String, String>>,
    pub tags: Option<Vec<String>>,
    pub status_text: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionInput {
    pub to: TicketState,
    pub expected_version: i64,
    /// Written to the history (a transfer or resolution note).
    pub note: Option<String>,
    /// What the buyer reads from now on (empty: the state's default).
    pub status_text: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentInput {
    pub visibility: Visibility,
    /// May be empty when files go with it.
    #[serde(default)]
    pub body: String,
    /// Files uploaded to this ticket first (POST .../attachments), at most 6.
    #[serde(default)]
    pub attachments: Vec<String>,
}

/// A ticket with its history and comments, for staff.
#[derive(Debug, Clone, Serialize)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: Ticket,
    pub status_text_shown: String,
    pub history: Vec<HistoryEntry>,
    pub comments: Vec<Comment>,
    /// Every file on the ticket: the chat's photos, uploads, files of comments.
    pub attachments: Vec<t::TicketFile>,
    /// Staff ids following the ticket (they get its reminders).
    pub watchers: Vec<String>,
}

/// What the buyer sees of a ticket: never the internal state or comments.
#[derive(Debug, Clone, Serialize)]
pub struct BuyerTicket {
    pub id: String,
    pub number: String,
    pub title: String,
    pub status_text: String,
    pub done: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub replies: Vec<BuyerReply>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuyerReply {
    pub from_staff: bool,
    pub body: String,
    pub created_at: i64,
    /// The files sent with it (the buyer downloads them from
    /// /api/v1/buyer/tickets/{id}/attachments/{attachment_id}).
    pub attachments: Vec<t::TicketFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated states.
    pub state: Option<String>,
    pub department_id: Option<String>,
    pub assignee_id: Option<String>,
    pub priority: Option<Priority>,
    #[serde(rename = "type")]
    pub type_key: Option<String>,
    pub conversation_id: Option<String>,
    pub limit: Option<i64>,
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct SweepReport {
    pub tickets: usize,
    pub escalated: usize,
    pub elapsed_ms: u128,
}

const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(30);
const SWEEP_PAGE: i64 = 1000;

pub struct TicketService {
    pub(crate) tickets: Arc<dyn TicketRecords>,
    /// Departments, types, SLA policies, the calendar, routing and reopening.
    pub(crate) setup: Arc<dyn TicketSetup>,
    pub(crate) rules: Arc<dyn AutomationRules>,
    pub(crate) people: Arc<dyn StaffDirectory>,
    /// Events that change no ticket (an automation's notice).
    pub(crate) events: Arc<dyn EventLog>,
    /// Each person's saved views of the list (`ticket_views`).
    pub(crate) saved_views: Arc<dyn SavedViews>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) shop: Arc<ShopService>,
    pub(crate) chat: Arc<ChatService>,
    bot: Arc<BotService>,
    pub(crate) attachments: Arc<crate::services::attachments::AttachmentService>,
    /// Set: the background sweeper skips its ticks.
    sweeper_paused: std::sync::atomic::AtomicBool,
}

impl TicketService {
    /// `records` keeps the tickets and everything around them (one database).
    pub fn new<R>(
        records: Arc<R>,
        clock: Arc<dyn Clock>,
        shop: Arc<ShopService>,
        chat: Arc<ChatService>,
        bot: Arc<BotService>,
        attachments: Arc<crate::services::attachments::AttachmentService>,
    ) -> TicketService
    where
        R: TicketRecords
            + TicketSetup
            + AutomationRules
            + StaffDirectory
            + EventLog
            + SavedViews
            + 'static,
    {
        TicketService {
            tickets: records.clone(),
            setup: records.clone(),
            rules: records.clone(),
            people: records.clone(),
            events: records.clone(),
            saved_views: records,
            clock,
            shop,
            chat,
            bot,
            attachments,
            sweeper_paused: Default::default(),
        }
    }

    /// Stops the background sweeper from sweeping (`xiaoer bench tickets`
    /// times its own sweep over every freshly seeded open ticket).
    pub fn pause_sweeper(&self) {
        self.sweeper_paused
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The business calendar: the shop's hours and time zone, its holidays, and
    /// the calendar days entered for tickets (holidays and make-up days).
    pub async fn calendar(&self) -> Result<BusinessCalendar, TicketError> {
        let shop = self.shop.current().await;
        let (open_minute, close_minute) = shop
            .service_hours
            .map_or((9 * 60, 18 * 60), |h| (h.open, h.close));
        let parse = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
        let mut holidays: BTreeSet<NaiveDate> =
            shop.holidays.iter().filter_map(|d| parse(d)).collect();
        let mut makeup_days = BTreeSet::new();
        for (day, kind) in self.setup.business_days().await? {
            let Some(date) = parse(&day) else { continue };
            if kind == "workday" {
                makeup_days.insert(date);
            } else {
                holidays.insert(date);
            }
        }
        Ok(BusinessCalendar {
            utc_offset_minutes: shop.utc_offset_minutes,
            open_minute,
            close_minute,
            holidays,
            makeup_days,
        })
    }

    pub(crate) async fn targets(
        &self,
        type_key: &str,
        priority: Priority,
    ) -> Result<SlaTargets, TicketError> {
        let (first, resolution) = self
            .setup
            .sla_policy(type_key, priority)
            .await?
            .unwrap_or_else(|| priority.default_targets_minutes());
        Ok(SlaTargets::from_minutes(first, resolution))
    }

    pub(crate) async fn required_fields(&self, type_key: &str) -> Result<Vec<String>, TicketError> {
        let found = self
            .setup
            .ticket_type(type_key)
            .await?
            .ok_or(TicketError::UnknownType)?;
        Ok(found.required_fields)
    }

    pub(crate) async fn check_department(&self, id: Option<&str>) -> Result<(), TicketError> {
        match id {
            Some(id) if self.setup.department(id).await?.is_none() => {
                Err(TicketError::UnknownDepartment)
            }
            _ => Ok(()),
        }
    }

    pub(crate) async fn check_assignee(&self, id: Option<&str>) -> Result<(), TicketError> {
        match id {
            Some(id) => match self.people.person(id).await {
                Ok(_) => Ok(()),
                Err(RepoError::NotFound) => Err(TicketError::UnknownAssignee),
                Err(e) => Err(e.into()),
            },
            None => Ok(()),
        }
    }

    /// Creates a ticket typed in by staff.
    #[tracing::instrument(skip_all, err)]
    pub async fn create(
        &self,
        staff: &StaffUser,
        input: NewTicketInput,
    ) -> Result<Ticket, TicketError> {
        let title = input.title.clone().unwrap_or_default();
        self.open_ticket(
            new_ticket_id(),
            input,
            &title,
            Origin::default(),
            TicketSource::Manual,
            Author::Staff(staff.id.clone()),
        )
        .await
    }

    /// One click in the chat: a ticket prefilled from the hand-off packet (its
    /// summary, the order number and every intake slot, photos included), with
    /// what the agent typed winning over the packet.
    #[tracing::instrument(skip_all, err)]
    pub async fn create_from_chat(
        &self,
        staff: &StaffUser,
        conversation: &ConversationId,
        mut input: NewTicketInput,
    ) -> Result<Ticket, TicketError> {
        let chat = self.chat.visible(Actor::Staff(staff), conversation).await?;
        let packet = self
            .bot
            .handoff_packet(staff, conversation)
            .await
            .map_err(|e| TicketError::Packet(e.to_string()))?;
        let mut title = input.title.clone().unwrap_or_default();
        let mut files = Vec::new();
        if let Some(packet) = packet {
            // The intake's photos: slot values naming a file of this chat
            // (the store links only those the chat really holds).
            files.extend(
                packet
                    .slots
                    .values()
                    .filter(|v| crate::domain::attachment::AttachmentId::parse(v).is_some())
                    .cloned(),
            );
            for (slot, value) in &packet.slots {
                input
                    .custom_fields
                    .entry(slot.clone())
                    .or_insert_with(|| value.clone());
            }
            if input.order_number.is_none() {
                input.order_number = packet
                    .slots
                    .iter()
                    .find(|(k, _)| k.contains("order"))
                    .map(|(_, v)| v.clone());
            }
            if input.description.trim().is_empty() {
                input.description = packet.summary.clone();
            }
            if input.category.is_none() {
                input.category = packet.category.clone();
            }
            if title.trim().is_empty() {
                // The summary runs over several lines; a title is one.
                title = packet
                    .summary
                    .split(|c: char| c.is_control())
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(60)
                    .collect();
            }
        }
        if title.trim().is_empty() {
            title = format!("会话 {}", &chat.id[..8.min(chat.id.len())]);
        }
        // A ticket nobody owns is nobody's: unless it goes to a department or
        // another person, it stays with the agent who made it.
        if input.assignee_id.is_none() && input.department_id.is_none() {
            input.assignee_id = Some(staff.id.clone());
        }
        self.open_ticket(
            new_ticket_id(),
            input,
            &title,
            Origin {
                visitor_id: Some(chat.visitor_id),
                conversation_id: Some(chat.id),
                files,
            },
            TicketSource::Chat,
            Author::Staff(staff.id.clone()),
        )
        .await
    }

    /// An app channel's ticket for its user (`visitor_id`, in their current
    /// chat `conversation_id`): a title, and what the app sends of the rest.
    pub async fn open_for_app(
        &self,
        visitor_id: String,
        conversation_id: String,
        title: &str,
        mut input: NewTicketInput,
    ) -> Result<Ticket, TicketError> {
        if input.type_key.is_empty() {
            input.type_key = general();
        }
        self.open_ticket(
            new_ticket_id(),
            input,
            title,
            Origin {
                visitor_id: Some(visitor_id.clone()),
                conversation_id: Some(conversation_id),
                files: Vec::new(),
            },
            TicketSource::Api,
            Author::Buyer(visitor_id),
        )
        .await
    }

    /// Out of hours: the buyer's message in chat `conversation_id` becomes a
    /// ticket with the id the caller made once (a retry finds it exists).
    pub(crate) async fn open_for_buyer(
        &self,
        ticket_id: String,
        visitor_id: String,
        conversation_id: String,
        message: &str,
        photo: Option<String>,
    ) -> Result<Ticket, TicketError> {
        let description = t::parse_comment(message)?;
        let title: String = description
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect();
        self.open_ticket(
            ticket_id,
            NewTicketInput {
                type_key: general(),
                description,
                ..NewTicketInput::default()
            },
            &title,
            Origin {
                visitor_id: Some(visitor_id.clone()),
                conversation_id: Some(conversation_id),
                files: photo.into_iter().collect(),
            },
            TicketSource::OutOfHours,
            Author::Buyer(visitor_id),
        )
        .await
    }

    async fn open_ticket(
        &self,
        id: String,
        mut input: NewTicketInput,
        title: &str,
        origin: Origin,
        source: TicketSource,
        author: Author,
    ) -> Result<Ticket, TicketError> {
        let Origin {
            visitor_id,
            conversation_id,
            files,
        } = origin;
        let rules = self.routing_rules().await?;
        let routed_by = crate::services::ticket_routing::route(&rules, &mut input, title);
        let title = t::parse_title(title)?;
        let description = t::parse_description(&input.description)?;
        let custom_fields = t::parse_custom_fields(&input.custom_fields)?;
        let tags = t::parse_tags(&input.tags)?;
        let category = t::parse_short(input.category.as_deref())?;
        let order_number = t::parse_short(input.order_number.as_deref())?;
        let department_id = nonempty(input.department_id);
        let assignee_id = nonempty(input.assignee_id);
        let required = self.required_fields(&input.type_key).await?;
        if let Some(name) = t::missing_field(&required, &custom_fields) {
            return Err(TicketError::MissingField(name.to_owned()));
        }
        self.check_department(department_id.as_deref()).await?;
        self.check_assignee(assignee_id.as_deref()).await?;
        let now = self.clock.now_ms();
        let calendar = self.calendar().await?;
        let targets = self.targets(&input.type_key, input.priority).await?;
        let mut ticket = Ticket {
            id,
            number: String::new(),
            type_key: input.type_key,
            category,
            priority: input.priority,
            department_id,
            assignee_id,
            visitor_id,
            conversation_id,
            order_number,
            title,
            description,
            custom_fields,
            tags,
            state: TicketState::New,
            status_text: None,
            source,
            version: 1,
            sla: TicketSla::start(targets, now),
            first_response_due_at: None,
            resolution_due_at: None,
            created_by: author.id().map(str::to_owned),
            created_at: now,
            updated_at: now,
            resolved_at: None,
        };
        refresh_due(&mut ticket, &calendar);
        let mut detail = json!({ "source": source.as_str() });
        if let Some(rule) = routed_by {
            detail["routing_rule"] = json!(rule);
        }
        let history = HistoryEntry::new("created", &author, detail, now);
        let local_day = self.shop.current().await.local_day(now);
        self.tickets
            .create(&mut ticket, &local_day, &history, &files)
            .await?;
        Ok(ticket)
    }

    /// The ticket if `staff` may see it.
    pub(crate) async fn visible(&self, staff: &StaffUser, id: &str) -> Result<Ticket, TicketError> {
        let ticket = self
            .tickets
            .ticket(id)
            .await?
            .ok_or(TicketError::NotFound)?;
        if staff.can(Permission::ViewAllTickets) || ticket.assignee_id.as_deref() == Some(&staff.id)
        {
            return Ok(ticket);
        }
        let mine = self.setup.departments_of(&staff.id).await?;
        match &ticket.department_id {
            Some(d) if mine.contains(d) => Ok(ticket),
            _ if self.tickets.watchers(&ticket.id).await?.contains(&staff.id) => Ok(ticket),
            _ => Err(TicketError::Forbidden),
        }
    }

    pub async fn detail(&self, staff: &StaffUser, id: &str) -> Result<TicketDetail, TicketError> {
        let ticket = self.visible(staff, id).await?;
        Ok(TicketDetail {
            status_text_shown: shown_status(&ticket, true),
            history: self.tickets.history(id).await?,
            comments: self.tickets.comments(id, false).await?,
            attachments: self.attachments.ticket_files(id, false).await?,
            watchers: self.tickets.watchers(id).await?,
            ticket,
        })
    }

    pub async fn list(
        &self,
        staff: &StaffUser,
        query: ListQuery,
    ) -> Result<Vec<Ticket>, TicketError> {
        let filter = self.filter_for(staff, query).await?;
        Ok(self.tickets.list(&filter).await?)
    }

    /// The list query as a store filter, narrowed to what `staff` may see.
    pub(crate) async fn filter_for(
        &self,
        staff: &StaffUser,
        query: ListQuery,
    ) -> Result<TicketFilter, TicketError> {
        let mut states = Vec::new();
        for name in query.state.iter().flat_map(|s| s.split(',')) {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            states.push(TicketState::parse(name).ok_or(TicketInputError::BadStateFilter)?);
        }
        let visible_to = if staff.can(Permission::ViewAllTickets) {
            None
        } else {
            Some((
                staff.id.clone(),
                self.setup.departments_of(&staff.id).await?,
            ))
        };
        Ok(TicketFilter {
            states,
            department_id: query.department_id,
            assignee_id: query.assignee_id,
            priority: query.priority,
            type_key: query.type_key,
            visitor_id: None,
            conversation_id: query.conversation_id,
            visible_to,
            before: None,
            limit: query.limit.unwrap_or(100),
        })
    }

    /// Applies `patch` if nobody changed the ticket since `expected_version`.
    #[tracing::instrument(skip_all, err)]
    pub async fn update(
        &self,
        staff: &StaffUser,
        id: &str,
        patch: TicketPatch,
    ) -> Result<Ticket, TicketError> {
        let mut ticket = self.visible(staff, id).await?;
        let expected = patch.expected_version;
        if ticket.version != expected {
            return Err(TicketError::Stale(expected));
        }
        let mut fields = Vec::new();
        let mut retarget = false;
        if let Some(key) = patch.type_key
            && key != ticket.type_key
        {
            self.required_fields(&key).await?;
            ticket.type_key = key;
            fields.push("type");
            retarget = true;
        }
        if let Some(title) = patch.title {
            ticket.title = t::parse_title(&title)?;
            fields.push("title");
        }
        if let Some(description) = patch.description {
            ticket.description = t::parse_description(&description)?;
            fields.push("description");
        }
        if let Some(category) = patch.category {
            ticket.category = t::parse_short(Some(&category))?;
            fields.push("category");
        }
        if let Some(priority) = patch.priority
            && priority != ticket.priority
        {
            ticket.priority = priority;
            fields.push("priority");
            retarget = true;
        }
        if let Some(department) = patch.department_id {
            let department = nonempty(Some(department));
            self.check_department(department.as_deref()).await?;
            ticket.department_id = department;
            fields.push("department");
        }
        if let Some(assignee) = patch.assignee_id {
            let assignee = nonempty(Some(assignee));
            self.check_assignee(assignee.as_deref()).await?;
            ticket.assignee_id = assignee;
            fields.push("assignee");
        }
        if let Some(order) = patch.order_number {
            ticket.order_number = t::parse_short(Some(&order))?;
            fields.push("order_number");
        }
        if let Some(custom) = patch.custom_fields {
            ticket.custom_fields = t::parse_custom_fields(&custom)?;
            fields.push("custom_fields");
        }
        if let Some(tags) = patch.tags {
            ticket.tags = t::parse_tags(&tags)?;
            fields.push("tags");
        }
        if let Some(text) = patch.status_text {
            ticket.status_text = t::parse_short(Some(&text))?;
            fields.push("status_text");
        }
        let required = self.required_fields(&ticket.type_key).await?;
        if let Some(name) = t::missing_field(&required, &ticket.custom_fields) {
            return Err(TicketError::MissingField(name.to_owned()));
        }
        if retarget {
            ticket.sla.targets = self.targets(&ticket.type_key, ticket.priority).await?;
        }
        let now = self.clock.now_ms();
        let calendar = self.calendar().await?;
        refresh_due(&mut ticket, &calendar);
        let fields: Vec<String> = fields.into_iter().map(str::to_owned).collect();
        let author = Author::Staff(staff.id.clone());
        let history = HistoryEntry::new("updated", &author, json!({ "fields": fields }), now);
        let event = EventData::TicketUpdated {
            ticket_id: ticket.id.clone(),
            version: expected + 1,
            fields,
            automation: None,
        };
        self.save(ticket, expected, history, None, event, now).await
    }

    /// Moves the ticket through the state machine; the SLA clock pauses in
    /// pending and on hold, stops when resolved and runs again on reopening.
    #[tracing::instrument(skip_all, err)]
    pub async fn transition(
        &self,
        staff: &StaffUser,
        id: &str,
        input: TransitionInput,
    ) -> Result<Ticket, TicketError> {
        let mut ticket = self.visible(staff, id).await?;
        let expected = input.expected_version;
        if ticket.version != expected {
            return Err(TicketError::Stale(expected));
        }
        let (from, to) = (ticket.state, input.to);
        if !from.can_go_to(to) {
            return Err(TicketError::Transition { from, to });
        }
        let note = input.note.as_deref().map(t::parse_comment).transpose()?;
        if let Some(text) = input.status_text {
            ticket.status_text = t::parse_short(Some(&text))?;
        }
        let now = self.clock.now_ms();
        let calendar = self.calendar().await?;
        move_state(&mut ticket, to, &calendar, now);
        let author = Author::Staff(staff.id.clone());
        let history = HistoryEntry::new(
            "state_changed",
            &author,
            json!({ "from": from, "to": to, "note": note }),
            now,
        );
        let event = EventData::TicketStateChanged {
            ticket_id: ticket.id.clone(),
            from,
            to,
            automation: None,
        };
        self.save(ticket, expected, history, None, event, now).await
    }

    /// An internal comment or a public reply; a person's first public reply
    /// satisfies the first-response target.
    #[tracing::instrument(skip_all, err)]
    pub async fn comment(
        &self,
        staff: &StaffUser,
        id: &str,
        input: CommentInput,
    ) -> Result<Comment, TicketError> {
        let mut ticket = self.visible(staff, id).await?;
        let expected = ticket.version;
        let body = t::parse_comment_with_files(&input.body, input.attachments.len())?;
        let attachments = self.comment_files(id, &input.attachments, false).await?;
        let now = self.clock.now_ms();
        let calendar = self.calendar().await?;
        if input.visibility == Visibility::Public {
            ticket.sla.on_reply(&calendar, Responder::Human, now);
            refresh_due(&mut ticket, &calendar);
        }
        let comment = Comment {
            id: format!("tcm_{}", uuid::Uuid::now_v7().simple()),
            visibility: input.visibility,
            author_kind: "staff".into(),
            author_id: Some(staff.id.clone()),
            body,
            created_at: now,
            attachments,
        };
        let author = Author::Staff(staff.id.clone());
        let history = HistoryEntry::new(
            "commented",
            &author,
            json!({ "visibility": input.visibility, "comment_id": comment.id,
                    "files": comment.attachments.len() }),
            now,
        );
        let event = EventData::TicketCommented {
            ticket_id: ticket.id.clone(),
            visibility: input.visibility.as_str().to_owned(),
            by: Some("staff".into()),
        };
        self.save(ticket, expected, history, Some(comment.clone()), event, now)
            .await?;
        Ok(comment)
    }

    async fn save(
        &self,
        mut ticket: Ticket,
        expected: i64,
        history: HistoryEntry,
        comment: Option<Comment>,
        event: EventData,
        now: i64,
    ) -> Result<Ticket, TicketError> {
        ticket.version = expected + 1;
        ticket.updated_at = now;
        let write = TicketWrite {
            history: vec![history],
            comment,
            events: vec![NewEvent {
                id: format!("evt_{}_{}", ticket.id, ticket.version),
                conversation_id: None,
                seq: None,
                data: event,
                created_at: now,
            }],
        };
        if self.tickets.save(&ticket, expected, &write).await? {
            Ok(ticket)
        } else {
            Err(TicketError::Stale(expected))
        }
    }

    /// The buyer's own tickets with their status text and public replies.
    pub async fn for_buyer(
        &self,
        visitor: &Visitor,
        zh: bool,
    ) -> Result<Vec<BuyerTicket>, TicketError> {
        let filter = TicketFilter {
            visitor_id: Some(visitor.id.clone()),
            limit: 50,
            ..TicketFilter::default()
        };
        let mut out = Vec::new();
        for ticket in self.tickets.list(&filter).await? {
            let replies = self
                .tickets
                .comments(&ticket.id, true)
                .await?
                .into_iter()
                .map(|c| BuyerReply {
                    from_staff: c.author_kind != "buyer",
                    body: c.body,
                    created_at: c.created_at,
                    attachments: c.attachments,
                })
                .collect();
            out.push(BuyerTicket {
                status_text: shown_status(&ticket, zh),
                done: ticket.state.is_done(),
                id: ticket.id,
                number: ticket.number,
                title: ticket.title,
                created_at: ticket.created_at,
                updated_at: ticket.updated_at,
                replies,
            });
        }
        Ok(out)
    }

    /// One pass over every ticket whose clock runs: new warnings, breaches and
    /// escalations are written to the ticket's history and the event stream.
    /// The version is kept, so a sweep never makes an editor's save stale.
    pub async fn sweep(&self, now: i64) -> Result<SweepReport, TicketError> {
        let started = std::time::Instant::now();
        let calendar = self.calendar().await?;
        let mut report = SweepReport::default();
        let mut after = String::new();
        loop {
            let page = self.tickets.running_sla(&after, SWEEP_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            report.tickets += page.len();
            let mut escalations = Vec::new();
            for mut ticket in page {
                let Some(escalated) = ticket.sla.sweep(&calendar, now) else {
                    continue;
                };
                let level = escalated.level.as_str();
                let write = TicketWrite {
                    history: vec![HistoryEntry::new(
                        "escalated",
                        &Author::System,
                        json!({ "level": level }),
                        now,
                    )],
                    comment: None,
                    events: vec![NewEvent {
                        id: format!("evt_{}_{}_{level}", ticket.id, ticket.version),
                        conversation_id: None,
                        seq: None,
                        data: EventData::TicketEscalated {
                            ticket_id: ticket.id.clone(),
                            level: level.to_owned(),
                        },
                        created_at: now,
                    }],
                };
                escalations.push((ticket, write));
            }
            report.escalated += self.save_escalations(&escalations).await?;
        }
        report.elapsed_ms = started.elapsed().as_millis();
        Ok(report)
    }

    /// Writes a page's escalations in one transaction; when someone changed
    /// one of those tickets meanwhile (all or none is written), one at a
    /// time, skipping the changed ones (the next sweep sees them again).
    async fn save_escalations(
        &self,
        escalations: &[(Ticket, TicketWrite)],
    ) -> Result<usize, TicketError> {
        let all: Vec<_> = escalations.iter().map(|(t, w)| (t, t.version, w)).collect();
        if all.is_empty() || self.tickets.save_all(&all).await? {
            return Ok(all.len());
        }
        let mut saved = 0;
        for (ticket, write) in escalations {
            if self.tickets.save(ticket, ticket.version, write).await? {
                saved += 1;
            }
        }
        Ok(saved)
    }

    /// Sweeps every [`SWEEP_EVERY`] until `stop` turns true.
    pub async fn run_sweeper(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(SWEEP_EVERY) => {}
                _ = stop.changed() => return,
            }
            if self
                .sweeper_paused
                .load(std::sync::atomic::Ordering::SeqCst)
            {
                continue;
            }
            match self.sweep(self.clock.now_ms()).await {
                Ok(report) if report.escalated > 0 => {
                    tracing::info!(escalated = report.escalated, "ticket SLA sweep");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "ticket SLA sweep failed"),
            }
            match self.sweep_idle(self.clock.now_ms()).await {
                Ok(0) => {}
                Ok(told) => tracing::info!(told, "idle tickets told to their automations"),
                Err(error) => tracing::warn!(%error, "idle ticket sweep failed"),
            }
        }
    }
}

/// Where a ticket comes from: the buyer and the chat it is about, and the
/// chat's photos it carries.
#[derive(Debug, Default)]
struct Origin {
    visitor_id: Option<String>,
    conversation_id: Option<String>,
    files: Vec<String>,
}

fn new_ticket_id() -> String {
    format!("tkt_{}", uuid::Uuid::now_v7().simple())
}

fn nonempty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn shown_status(ticket: &Ticket, zh: bool) -> String {
    ticket
        .status_text
        .clone()
        .unwrap_or_else(|| ticket.state.default_status_text(zh).to_owned())
}

/// Puts `ticket` in state `to` (a move the machine allows): the SLA clock
/// pauses in pending and on hold, stops when resolved and runs again on
/// reopening.
pub(crate) fn move_state(
    ticket: &mut Ticket,
    to: TicketState,
    calendar: &BusinessCalendar,
    now: i64,
) {
    ticket.state = to;
    if to.pauses_clock() || to.is_done() {
        ticket.sla.pause(calendar, now);
    } else {
        ticket.sla.resume(now);
    }
    ticket.resolved_at = match to {
        TicketState::Resolved => Some(now),
        TicketState::Closed => ticket.resolved_at.or(Some(now)),
        _ => None,
    };
    refresh_due(ticket, calendar);
}

/// Due times follow the clock: none while paused or once done.
pub(crate) fn refresh_due(ticket: &mut Ticket, calendar: &BusinessCalendar) {
    if ticket.state.is_done() {
        ticket.first_response_due_at = None;
        ticket.resolution_due_at = None;
        return;
    }
    ticket.first_response_due_at = ticket.sla.first_response_due(calendar);
    ticket.resolution_due_at = ticket.sla.resolution_due(calendar);
}
