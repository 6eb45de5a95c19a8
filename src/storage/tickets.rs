//! Tickets, their history and comments, departments, types with SLA policies
//! and business-calendar days. Every ticket change writes its history line and
//! its outbox event in the same transaction, and is guarded by the version the
//! caller read (a stale write changes nothing).

use super::outbox::write_events;
use super::{AutomationRun, Store, StoreError, TicketFilter, TicketWrite, on_pool};
use crate::domain::events::{EventData, NewEvent};
use crate::domain::sla::{Escalation, SlaTargets, TicketSla};
use crate::domain::tickets::{
    Comment, HistoryEntry, Priority, Ticket, TicketSource, TicketState, Visibility,
};
use crate::ports::repositories::{DepartmentRecord, RepoError, TicketTypeRecord};
use std::collections::BTreeMap;

pub(super) const COLUMNS: &str = "id, number, type_key, category, priority, department_id, assignee_id, \
    visitor_id, conversation_id, order_number, title, description, custom_fields, tags, state, \
    status_text, source, version, sla_first_response_ms, sla_resolution_ms, sla_elapsed_ms, \
    sla_running_since, first_responded_at, escalation, first_response_due_at, resolution_due_at, \
    created_by, created_at, updated_at, resolved_at, sealed_text";

#[derive(sqlx::FromRow)]
pub(super) struct TicketRow {
    id: String,
    number: String,
    type_key: String,
    category: Option<String>,
    priority: String,
    department_id: Option<String>,
    assignee_id: Option<String>,
    visitor_id: Option<String>,
    conversation_id: Option<String>,
    order_number: Option<String>,
    title: String,
    description: String,
    custom_fields: String,
    tags: String,
    state: String,
    status_text: Option<String>,
    source: String,
    version: i64,
    sla_first_response_ms: i64,
    sla_resolution_ms: i64,
    sla_elapsed_ms: i64,
    sla_running_since: Option<i64>,
    first_responded_at: Option<i64>,
    escalation: String,
    first_response_due_at: Option<i64>,
    resolution_due_at: Option<i64>,
    created_by: Option<String>,
    created_at: i64,
    updated_at: i64,
    resolved_at: Option<i64>,
    /// The ticket's words (`SealedText`); NULL in a row an older version wrote
    /// in clear and not yet sealed (the clear columns hold them then).
    sealed_text: Option<Vec<u8>>,
}

/// What a ticket row seals: everything a buyer or agent wrote into it.
#[derive(serde::Serialize, serde::Deserialize)]
struct SealedText {
    title: String,
    description: String,
    order_number: Option<String>,
    custom_fields: BTreeMap<String, String>,
    status_text: Option<String>,
}

pub(super) fn ticket_aad(id: &str) -> String {
    format!("ticket:{id}")
}

/// A history line's detail is bound to its ticket and kind
/// (`"<ticket id>:<kind>"`; the row's own id is only known after the insert).
pub(super) fn history_aad(ticket_and_kind: &str) -> String {
    format!("ticket_event:{ticket_and_kind}")
}

pub(super) fn comment_aad(id: &str) -> String {
    format!("ticket_comment:{id}")
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(
        format!("unreadable ticket column {what}").into(),
    ))
}

impl TryFrom<TicketRow> for Ticket {
    type Error = StoreError;

    fn try_from(r: TicketRow) -> Result<Ticket, StoreError> {
        Ok(Ticket {
            priority: Priority::parse(&r.priority).ok_or_else(|| corrupt("priority"))?,
            state: TicketState::parse(&r.state).ok_or_else(|| corrupt("state"))?,
            source: TicketSource::parse(&r.source).ok_or_else(|| corrupt("source"))?,
            custom_fields: serde_json::from_str(&r.custom_fields)
                .map_err(|_| corrupt("custom_fields"))?,
            tags: serde_json::from_str(&r.tags).map_err(|_| corrupt("tags"))?,
            sla: TicketSla {
                targets: SlaTargets {
                    first_response_ms: r.sla_first_response_ms,
                    resolution_ms: r.sla_resolution_ms,
                },
                elapsed_ms: r.sla_elapsed_ms,
                running_since: r.sla_running_since,
                first_responded_at: r.first_responded_at,
                escalation: Escalation::parse(&r.escalation)
                    .ok_or_else(|| corrupt("escalation"))?,
            },
            id: r.id,
            number: r.number,
            type_key: r.type_key,
            category: r.category,
            department_id: r.department_id,
            assignee_id: r.assignee_id,
            visitor_id: r.visitor_id,
            conversation_id: r.conversation_id,
            order_number: r.order_number,
            title: r.title,
            description: r.description,
            status_text: r.status_text,
            version: r.version,
            first_response_due_at: r.first_response_due_at,
            resolution_due_at: r.resolution_due_at,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            resolved_at: r.resolved_at,
        })
    }
}

impl Store {
    /// Seals a ticket's words, bound to the ticket.
    pub(super) fn seal_ticket_text(&self, t: &Ticket) -> Vec<u8> {
        let text = SealedText {
            title: t.title.clone(),
            description: t.description.clone(),
            order_number: t.order_number.clone(),
            custom_fields: t.custom_fields.clone(),
            status_text: t.status_text.clone(),
        };
        self.sealer().seal_text(&json(&text), &ticket_aad(&t.id))
    }

    /// A stored ticket with its words opened.
    pub(super) fn open_ticket(&self, mut row: TicketRow) -> Result<Ticket, StoreError> {
        let sealed = row.sealed_text.take();
        let mut ticket = Ticket::try_from(row)?;
        if let Some(sealed) = sealed {
            let text = self
                .sealer()
                .open_text(&sealed, &ticket_aad(&ticket.id))
                .map_err(|_| StoreError::Sealed)?;
            let text: SealedText =
                serde_json::from_str(&text).map_err(|_| corrupt("sealed_text"))?;
            ticket.title = text.title;
            ticket.description = text.description;
            ticket.order_number = text.order_number;
            ticket.custom_fields = text.custom_fields;
            ticket.status_text = text.status_text;
        }
        Ok(ticket)
    }

    pub(super) fn open_tickets(&self, rows: Vec<TicketRow>) -> Result<Vec<Ticket>, StoreError> {
        rows.into_iter().map(|r| self.open_ticket(r)).collect()
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("ticket fields serialise")
}

const INSERT_RUN: &str = "INSERT INTO ticket_automation_runs (event_id, rule_id, ticket_id, ran_at) \
    VALUES ($1, $2, $3, $4) ON CONFLICT (event_id, rule_id) DO NOTHING";

/// Once per endpoint and event, like the queue's own deliveries.
const INSERT_DELIVERY: &str = "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, position, \
    conversation_id, status, attempts, next_attempt_at, created_at) \
    VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7) ON CONFLICT (endpoint_id, event_id) DO NOTHING";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DepartmentRow {
    pub id: String,
    pub name: String,
    pub lead_id: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketTypeRow {
    pub key: String,
    pub name: String,
    /// JSON array of field names.
    pub required_fields: String,
    pub created_at: i64,
}

const INSERT_TICKET: &str = "INSERT INTO tickets (id, number, type_key, category, priority, \
    department_id, assignee_id, visitor_id, conversation_id, order_number, title, description, \
    custom_fields, tags, state, status_text, source, version, sla_first_response_ms, \
    sla_resolution_ms, sla_elapsed_ms, sla_running_since, first_responded_at, escalation, \
    first_response_due_at, resolution_due_at, created_by, created_at, updated_at, resolved_at, \
    sealed_text) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
    $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31)";

const UPDATE_TICKET: &str = "UPDATE tickets SET type_key = $3, category = $4, priority = $5, \
    department_id = $6, assignee_id = $7, order_number = $8, title = $9, description = $10, \
    custom_fields = $11, tags = $12, state = $13, status_text = $14, version = $15, \
    sla_elapsed_ms = $16, sla_running_since = $17, first_responded_at = $18, escalation = $19, \
    first_response_due_at = $20, resolution_due_at = $21, updated_at = $22, resolved_at = $23, \
    sealed_text = $24 WHERE id = $1 AND version = $2";

const COUNT_TODAY: &str = "INSERT INTO ticket_counters (day, last) VALUES ($1, 1) \
    ON CONFLICT (day) DO UPDATE SET last = ticket_counters.last + 1 RETURNING last";

const INSERT_HISTORY: &str = "INSERT INTO ticket_events \
    (ticket_id, kind, author_kind, author_id, detail, created_at, sealed_detail) \
    VALUES ($1, $2, $3, $4, '{}', $5, $6)";

const INSERT_COMMENT_FILE: &str = "INSERT INTO ticket_attachments \
    (ticket_id, attachment_id, comment_id, public, added_by, created_at, position) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// The photos of the chat a ticket comes from, where the chat holds them.
const INSERT_CHAT_FILE: &str = "INSERT INTO ticket_attachments \
    (ticket_id, attachment_id, comment_id, public, added_by, created_at) \
    SELECT $1, l.attachment_id, '', TRUE, 'chat', $2 FROM attachment_links l \
    WHERE l.attachment_id = $3 AND l.conversation_id = $4 \
    ON CONFLICT (ticket_id, attachment_id, comment_id) DO NOTHING";

const INSERT_COMMENT: &str = "INSERT INTO ticket_comments \
    (id, ticket_id, visibility, author_kind, author_id, body, created_at, sealed_body) \
    VALUES ($1, $2, $3, $4, $5, '', $6, $7)";

/// Binds a ticket's columns in `INSERT_TICKET` order: its words only sealed
/// (`$store.seal_ticket_text`), their clear columns empty.
macro_rules! bind_new_ticket {
    ($store:expr, $q:expr, $t:expr) => {
        $q.bind(&$t.id)
            .bind(&$t.number)
            .bind(&$t.type_key)
            .bind(&$t.category)
            .bind($t.priority.as_str())
            .bind(&$t.department_id)
            .bind(&$t.assignee_id)
            .bind(&$t.visitor_id)
            .bind(&$t.conversation_id)
            .bind(None::<String>)
            .bind("")
            .bind("")
            .bind("{}")
            .bind(json(&$t.tags))
            .bind($t.state.as_str())
            .bind(None::<String>)
            .bind($t.source.as_str())
            .bind($t.version)
            .bind($t.sla.targets.first_response_ms)
            .bind($t.sla.targets.resolution_ms)
            .bind($t.sla.elapsed_ms)
            .bind($t.sla.running_since)
            .bind($t.sla.first_responded_at)
            .bind($t.sla.escalation.as_str())
            .bind($t.first_response_due_at)
            .bind($t.resolution_due_at)
            .bind(&$t.created_by)
            .bind($t.created_at)
            .bind($t.updated_at)
            .bind($t.resolved_at)
            .bind($store.seal_ticket_text($t))
    };
}

/// Writes the history lines and the comment of a change in `$tx`, the
/// comment's body sealed.
macro_rules! write_extras {
    ($store:expr, $tx:expr, $ticket_id:expr, $write:expr) => {{
        for h in &$write.history {
            sqlx::query(INSERT_HISTORY)
                .bind($ticket_id)
                .bind(&h.kind)
                .bind(&h.author_kind)
                .bind(&h.author_id)
                .bind(h.created_at)
                .bind($store.sealer().seal_text(
                    &h.detail.to_string(),
                    &history_aad(&format!("{}:{}", $ticket_id, h.kind)),
                ))
                .execute(&mut *$tx)
                .await?;
        }
        if let Some(c) = &$write.comment {
            sqlx::query(INSERT_COMMENT)
                .bind(&c.id)
                .bind($ticket_id)
                .bind(c.visibility.as_str())
                .bind(&c.author_kind)
                .bind(&c.author_id)
                .bind(c.created_at)
                .bind($store.sealer().seal_text(&c.body, &comment_aad(&c.id)))
                .execute(&mut *$tx)
                .await?;
            let added_by = match &c.author_id {
                Some(id) => format!("{}:{id}", c.author_kind),
                None => c.author_kind.clone(),
            };
            for (position, file) in c.attachments.iter().enumerate() {
                sqlx::query(INSERT_COMMENT_FILE)
                    .bind($ticket_id)
                    .bind(&file.id)
                    .bind(&c.id)
                    .bind(c.visibility == Visibility::Public)
                    .bind(&added_by)
                    .bind(c.created_at)
                    .bind(position as i32)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    }};
}

impl Store {
    /// Inserts `ticket` under the next number of `local_day` (which replaces
    /// `ticket.number`) with its history and its `ticket.created` event.
    pub async fn create_ticket(
        &self,
        ticket: &mut Ticket,
        local_day: &str,
        history: &HistoryEntry,
        chat_files: &[String],
    ) -> Result<(), StoreError> {
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            let (n,): (i64,) = sqlx::query_as(COUNT_TODAY).bind(local_day).fetch_one(&mut *tx).await?;
            ticket.number = crate::domain::tickets::ticket_number(local_day, n);
            bind_new_ticket!(self, sqlx::query(INSERT_TICKET), ticket)
                .execute(&mut *tx).await.map_err(StoreError::from_insert)?;
            let write = TicketWrite { history: vec![history.clone()], ..TicketWrite::default() };
            write_extras!(self, tx, &ticket.id, write);
            if let Some(conversation_id) = &ticket.conversation_id {
                for file in chat_files {
                    sqlx::query(INSERT_CHAT_FILE)
                        .bind(&ticket.id).bind(ticket.created_at).bind(file).bind(conversation_id)
                        .execute(&mut *tx).await?;
                }
            }
            let created = NewEvent {
                id: format!("evt_{}_1", ticket.id),
                conversation_id: None,
                seq: None,
                data: EventData::TicketCreated {
                    ticket_id: ticket.id.clone(),
                    number: ticket.number.clone(),
                    source: ticket.source.as_str().to_owned(),
                },
                created_at: ticket.created_at,
            };
            write_events!(backend, tx, &[created]);
            tx.commit().await?;
        });
        self.events_committed();
        Ok(())
    }

    /// Saves `ticket` if the stored one still has `expected_version`, with the
    /// change's history, comment and events. False: someone changed it first.
    pub async fn save_ticket(
        &self,
        ticket: &Ticket,
        expected_version: i64,
        write: &TicketWrite,
    ) -> Result<bool, StoreError> {
        self.save_tickets(&[(ticket, expected_version, write)])
            .await
    }

    /// Saves several tickets in one transaction (a merge changes two): all or
    /// none, each guarded by the version its caller read.
    pub async fn save_tickets(
        &self,
        changes: &[(&Ticket, i64, &TicketWrite)],
    ) -> Result<bool, StoreError> {
        self.save_tickets_with(changes, None).await
    }

    /// What one automation did for one event, saved with its run record in
    /// one transaction: false when someone changed the ticket first or the
    /// run is recorded already (a redelivered event), and nothing is written.
    pub async fn save_automation_run(
        &self,
        ticket: &Ticket,
        expected_version: i64,
        write: &TicketWrite,
        run: &AutomationRun,
    ) -> Result<bool, StoreError> {
        self.save_tickets_with(&[(ticket, expected_version, write)], Some(run))
            .await
    }

    async fn save_tickets_with(
        &self,
        changes: &[(&Ticket, i64, &TicketWrite)],
        run: Option<&AutomationRun>,
    ) -> Result<bool, StoreError> {
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            for &(t, expected_version, write) in changes {
                let changed = sqlx::query(UPDATE_TICKET)
                    .bind(&t.id).bind(expected_version).bind(&t.type_key).bind(&t.category)
                    .bind(t.priority.as_str()).bind(&t.department_id).bind(&t.assignee_id)
                    .bind(None::<String>).bind("").bind("")
                    .bind("{}").bind(json(&t.tags)).bind(t.state.as_str())
                    .bind(None::<String>).bind(t.version).bind(t.sla.elapsed_ms)
                    .bind(t.sla.running_since).bind(t.sla.first_responded_at)
                    .bind(t.sla.escalation.as_str()).bind(t.first_response_due_at)
                    .bind(t.resolution_due_at).bind(t.updated_at).bind(t.resolved_at)
                    .bind(self.seal_ticket_text(t))
                    .execute(&mut *tx).await?.rows_affected();
                if changed != 1 {
                    return Ok(false);
                }
                write_extras!(self, tx, &t.id, write);
                write_events!(backend, tx, &write.events);
            }
            if let Some(run) = run {
                let claimed = sqlx::query(INSERT_RUN)
                    .bind(&run.event_id).bind(&run.rule_id).bind(&run.ticket_id).bind(run.ran_at)
                    .execute(&mut *tx).await?.rows_affected();
                if claimed != 1 {
                    return Ok(false);
                }
                for d in &run.deliveries {
                    sqlx::query(INSERT_DELIVERY)
                        .bind(&d.id).bind(&d.endpoint_id).bind(&d.event_id).bind(d.position)
                        .bind(&d.conversation_id).bind(d.next_attempt_at).bind(d.created_at)
                        .execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
        });
        if changes.iter().any(|(_, _, w)| !w.events.is_empty()) {
            self.events_committed();
        }
        Ok(true)
    }

    /// Writes generated tickets in one transaction, without history or
    /// events (`xiaoer bench tickets` seeds its data set with it).
    pub async fn seed_tickets(&self, tickets: &[Ticket]) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            for ticket in tickets {
                bind_new_ticket!(self, sqlx::query(INSERT_TICKET), ticket)
                    .execute(&mut *tx).await.map_err(StoreError::from_insert)?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn ticket_by_number(&self, number: &str) -> Result<Option<Ticket>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tickets WHERE number = $1");
        let row: Option<TicketRow> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(number).fetch_optional(pool).await?);
        row.map(|r| self.open_ticket(r)).transpose()
    }

    /// Staff following `ticket_id`, by id.
    pub async fn ticket_watchers(&self, ticket_id: &str) -> Result<Vec<String>, StoreError> {
        let sql =
            "SELECT staff_id FROM ticket_watchers WHERE ticket_id = $1 ORDER BY added_at, staff_id";
        let rows: Vec<(String,)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(ticket_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    pub async fn add_ticket_watcher(
        &self,
        ticket_id: &str,
        staff_id: &str,
        by: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO ticket_watchers (ticket_id, staff_id, added_by, added_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (ticket_id, staff_id) DO NOTHING";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(ticket_id).bind(staff_id).bind(by).bind(now)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn remove_ticket_watcher(
        &self,
        ticket_id: &str,
        staff_id: &str,
    ) -> Result<(), StoreError> {
        let sql = "DELETE FROM ticket_watchers WHERE ticket_id = $1 AND staff_id = $2";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(ticket_id).bind(staff_id)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tickets WHERE id = $1");
        let row: Option<TicketRow> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id).fetch_optional(pool).await?);
        row.map(|r| self.open_ticket(r)).transpose()
    }

    /// Tickets matching `filter`, most recently changed first.
    pub async fn list_tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError> {
        let (filter_sql, binds) = filter_sql(filter, &[]);
        let sql = format!(
            "SELECT {COLUMNS} FROM tickets {filter_sql} ORDER BY updated_at DESC, id DESC LIMIT {}",
            filter.limit.clamp(1, 500)
        );
        let rows: Vec<TicketRow> = on_pool!(self, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for b in &binds {
                q = q.bind(b);
            }
            q.fetch_all(pool).await?
        });
        self.open_tickets(rows)
    }
}

/// The WHERE clause of `filter` (with `extra` conditions ANDed) and its
/// text binds, numbered from $1.
pub(super) fn filter_sql(filter: &TicketFilter, extra: &[&str]) -> (String, Vec<String>) {
    let mut clauses: Vec<String> = extra.iter().map(|c| (*c).to_owned()).collect();
    let mut binds: Vec<String> = Vec::new();
    let mut bind = |value: &str| {
        binds.push(value.to_owned());
        format!("${}", binds.len())
    };
    if !filter.states.is_empty() {
        let names: Vec<String> = filter.states.iter().map(|s| bind(s.as_str())).collect();
        clauses.push(format!("state IN ({})", names.join(", ")));
    }
    let exact = [
        ("department_id", filter.department_id.as_deref()),
        ("assignee_id", filter.assignee_id.as_deref()),
        ("priority", filter.priority.map(Priority::as_str)),
        ("type_key", filter.type_key.as_deref()),
        ("visitor_id", filter.visitor_id.as_deref()),
        ("conversation_id", filter.conversation_id.as_deref()),
    ];
    for (column, value) in exact {
        if let Some(value) = value {
            clauses.push(format!("{column} = {}", bind(value)));
        }
    }
    if let Some((me, departments)) = &filter.visible_to {
        // Written as a CASE, not an OR: an OR sends SQLite through both
        // indexes and sorts every match (an agent of a busy department sees
        // tens of thousands), where walking the newest first stops at the
        // page's end (and the board scans its covering index once).
        let mut any = format!("CASE WHEN assignee_id = {} THEN 1", bind(me));
        if !departments.is_empty() {
            let ids: Vec<String> = departments.iter().map(|d| bind(d)).collect();
            any.push_str(&format!(
                " WHEN department_id IN ({}) THEN 1",
                ids.join(", ")
            ));
        }
        clauses.push(format!("({any} ELSE 0 END) = 1"));
    }
    if let Some((updated_at, id)) = &filter.before {
        let (at, id) = (bind(&updated_at.to_string()), bind(id));
        clauses.push(format!(
                "(updated_at < CAST({at} AS BIGINT) OR (updated_at = CAST({at} AS BIGINT) AND id < {id}))"
            ));
    }
    let filter_sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (filter_sql, binds)
}

impl Store {
    /// Tickets whose SLA clock runs, in id order after `after` (the sweeper pages).
    pub async fn tickets_with_running_sla(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<Ticket>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM tickets WHERE sla_running_since IS NOT NULL AND id > $1 \
             ORDER BY id LIMIT $2"
        );
        let rows: Vec<TicketRow> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(after).bind(limit).fetch_all(pool).await?);
        self.open_tickets(rows)
    }

    pub async fn ticket_history(&self, id: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        type HistoryRow = (String, String, Option<String>, String, Option<Vec<u8>>, i64);
        let sql = "SELECT kind, author_kind, author_id, detail, sealed_detail, created_at \
                   FROM ticket_events WHERE ticket_id = $1 ORDER BY id";
        let rows: Vec<HistoryRow> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_all(pool).await?);
        rows.into_iter()
            .map(
                |(kind, author_kind, author_id, detail, sealed, created_at)| {
                    // A line an older version wrote in clear, not yet sealed.
                    let detail = match sealed {
                        Some(sealed) => self
                            .sealer()
                            .open_text(&sealed, &history_aad(&format!("{id}:{kind}")))
                            .map_err(|_| StoreError::Sealed)?,
                        None => detail,
                    };
                    Ok(HistoryEntry {
                        detail: serde_json::from_str(&detail).unwrap_or_default(),
                        kind,
                        author_kind,
                        author_id,
                        created_at,
                    })
                },
            )
            .collect()
    }

    pub async fn ticket_comments(
        &self,
        id: &str,
        public_only: bool,
    ) -> Result<Vec<Comment>, StoreError> {
        type CommentRow = (
            String,
            String,
            String,
            Option<String>,
            String,
            Option<Vec<u8>>,
            i64,
        );
        let sql = "SELECT id, visibility, author_kind, author_id, body, sealed_body, created_at \
                   FROM ticket_comments WHERE ticket_id = $1 AND (visibility = 'public' OR $2) \
                   ORDER BY created_at, id";
        let rows: Vec<CommentRow> = on_pool!(self, pool =>
            sqlx::query_as(sql).bind(id).bind(!public_only).fetch_all(pool).await?);
        let mut files = if rows.is_empty() {
            Default::default()
        } else {
            self.comment_files(id).await?
        };
        rows.into_iter()
            .map(
                |(id, visibility, author_kind, author_id, body, sealed, created_at)| {
                    // A comment an older version wrote in clear, not yet sealed.
                    let body = match sealed {
                        Some(sealed) => self
                            .sealer()
                            .open_text(&sealed, &comment_aad(&id))
                            .map_err(|_| StoreError::Sealed)?,
                        None => body,
                    };
                    Ok(Comment {
                        visibility: Visibility::parse(&visibility).unwrap_or(Visibility::Internal),
                        attachments: files.remove(&id).unwrap_or_default(),
                        id,
                        author_kind,
                        author_id,
                        body,
                        created_at,
                    })
                },
            )
            .collect()
    }

    pub async fn insert_department(&self, row: &DepartmentRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO ticket_departments (id, name, lead_id, created_at) VALUES ($1, $2, $3, $4)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(&row.name).bind(&row.lead_id).bind(row.created_at)
            .execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    pub async fn departments(&self) -> Result<Vec<DepartmentRow>, StoreError> {
        let sql = "SELECT id, name, lead_id, created_at FROM ticket_departments ORDER BY name";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    pub async fn department(&self, id: &str) -> Result<Option<DepartmentRow>, StoreError> {
        let sql = "SELECT id, name, lead_id, created_at FROM ticket_departments WHERE id = $1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?))
    }

    /// (department id, staff id) for every membership.
    pub async fn department_members(&self) -> Result<Vec<(String, String)>, StoreError> {
        let sql = "SELECT department_id, staff_id FROM ticket_department_members \
                   ORDER BY department_id, staff_id";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    pub async fn departments_of(&self, staff_id: &str) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT department_id FROM ticket_department_members WHERE staff_id = $1";
        let rows: Vec<(String,)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(staff_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(d,)| d).collect())
    }

    pub async fn add_department_member(
        &self,
        department_id: &str,
        staff_id: &str,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO ticket_department_members (department_id, staff_id) VALUES ($1, $2) \
                   ON CONFLICT (department_id, staff_id) DO NOTHING";
        on_pool!(self, pool => sqlx::query(sql).bind(department_id).bind(staff_id)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Inserts a type with its SLA policies (priority, first response and
    /// resolution minutes).
    pub async fn insert_ticket_type(
        &self,
        row: &TicketTypeRow,
        policies: &[(Priority, i64, i64)],
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO ticket_types (key, name, required_fields, created_at) VALUES ($1, $2, $3, $4)";
        let policy = "INSERT INTO ticket_sla_policies \
            (type_key, priority, first_response_minutes, resolution_minutes) VALUES ($1, $2, $3, $4)";
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            sqlx::query(sql).bind(&row.key).bind(&row.name).bind(&row.required_fields)
                .bind(row.created_at).execute(&mut *tx).await.map_err(StoreError::from_insert)?;
            for (priority, first, resolution) in policies {
                sqlx::query(policy).bind(&row.key).bind(priority.as_str()).bind(first)
                    .bind(resolution).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn ticket_types(&self) -> Result<Vec<TicketTypeRow>, StoreError> {
        let sql = "SELECT key, name, required_fields, created_at FROM ticket_types ORDER BY key";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    pub async fn ticket_type(&self, key: &str) -> Result<Option<TicketTypeRow>, StoreError> {
        let sql = "SELECT key, name, required_fields, created_at FROM ticket_types WHERE key = $1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(key).fetch_optional(pool).await?))
    }

    /// Every policy as (type key, priority, first response minutes, resolution minutes).
    pub async fn sla_policies(&self) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
        let sql = "SELECT type_key, priority, first_response_minutes, resolution_minutes \
                   FROM ticket_sla_policies ORDER BY type_key, priority";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    /// The (first response, resolution) minutes of a type and priority.
    pub async fn sla_policy(
        &self,
        type_key: &str,
        priority: Priority,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let sql = "SELECT first_response_minutes, resolution_minutes FROM ticket_sla_policies \
                   WHERE type_key = $1 AND priority = $2";
        Ok(on_pool!(self, pool => sqlx::query_as(sql)
            .bind(type_key).bind(priority.as_str()).fetch_optional(pool).await?))
    }

    /// (day, kind) of every holiday and make-up working day.
    pub async fn business_days(&self) -> Result<Vec<(String, String)>, StoreError> {
        let sql = "SELECT day, kind FROM business_days ORDER BY day";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    /// Replaces every calendar day with `days` (day, kind).
    pub async fn put_business_days(&self, days: &[(String, String)]) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            sqlx::query("DELETE FROM business_days").execute(&mut *tx).await?;
            for (day, kind) in days {
                sqlx::query("INSERT INTO business_days (day, kind) VALUES ($1, $2)")
                    .bind(day).bind(kind).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::TicketRecords for Store {
    async fn create(
        &self,
        ticket: &mut Ticket,
        local_day: &str,
        history: &HistoryEntry,
        chat_files: &[String],
    ) -> Result<(), RepoError> {
        Ok(self
            .create_ticket(ticket, local_day, history, chat_files)
            .await?)
    }

    async fn save(
        &self,
        ticket: &Ticket,
        expected_version: i64,
        write: &TicketWrite,
    ) -> Result<bool, RepoError> {
        Ok(self.save_ticket(ticket, expected_version, write).await?)
    }

    async fn save_all(&self, changes: &[(&Ticket, i64, &TicketWrite)]) -> Result<bool, RepoError> {
        Ok(self.save_tickets(changes).await?)
    }

    async fn save_run(
        &self,
        ticket: &Ticket,
        expected_version: i64,
        write: &TicketWrite,
        run: &AutomationRun,
    ) -> Result<bool, RepoError> {
        Ok(self
            .save_automation_run(ticket, expected_version, write, run)
            .await?)
    }

    async fn ticket(&self, id: &str) -> Result<Option<Ticket>, RepoError> {
        Ok(Store::ticket(self, id).await?)
    }

    async fn by_number(&self, number: &str) -> Result<Option<Ticket>, RepoError> {
        Ok(self.ticket_by_number(number).await?)
    }

    async fn list(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, RepoError> {
        Ok(self.list_tickets(filter).await?)
    }

    async fn running_sla(&self, after: &str, limit: i64) -> Result<Vec<Ticket>, RepoError> {
        Ok(self.tickets_with_running_sla(after, limit).await?)
    }

    async fn due(
        &self,
        filter: &TicketFilter,
        from: Option<i64>,
        until: i64,
        limit: i64,
    ) -> Result<Vec<Ticket>, RepoError> {
        Ok(self.tickets_due(filter, from, until, limit).await?)
    }

    async fn idle(
        &self,
        rule_id: &str,
        when: &crate::domain::ticket_automations::Conditions,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(String, i64)>, RepoError> {
        Ok(self.idle_tickets(rule_id, when, before, limit).await?)
    }

    async fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, RepoError> {
        Ok(self.ticket_history(id).await?)
    }

    async fn comments(&self, id: &str, public_only: bool) -> Result<Vec<Comment>, RepoError> {
        Ok(self.ticket_comments(id, public_only).await?)
    }

    async fn watchers(&self, id: &str) -> Result<Vec<String>, RepoError> {
        Ok(self.ticket_watchers(id).await?)
    }

    async fn add_watcher(
        &self,
        id: &str,
        staff_id: &str,
        by: &str,
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(self.add_ticket_watcher(id, staff_id, by, now).await?)
    }

    async fn remove_watcher(&self, id: &str, staff_id: &str) -> Result<(), RepoError> {
        Ok(self.remove_ticket_watcher(id, staff_id).await?)
    }

    async fn board(
        &self,
        filter: &TicketFilter,
    ) -> Result<crate::domain::tickets::BoardCounts, RepoError> {
        Ok(self.ticket_board(filter).await?)
    }

    async fn ageing(
        &self,
        filter: &TicketFilter,
        now: i64,
        bounds: &[i64],
    ) -> Result<Vec<(i64, i64)>, RepoError> {
        Ok(self.ticket_ageing(filter, now, bounds).await?)
    }
}

impl From<DepartmentRow> for DepartmentRecord {
    fn from(row: DepartmentRow) -> Self {
        DepartmentRecord {
            id: row.id,
            name: row.name,
            lead_id: row.lead_id,
            created_at: row.created_at,
        }
    }
}

impl From<TicketTypeRow> for TicketTypeRecord {
    fn from(row: TicketTypeRow) -> Self {
        TicketTypeRecord {
            required_fields: serde_json::from_str(&row.required_fields).unwrap_or_default(),
            key: row.key,
            name: row.name,
            created_at: row.created_at,
        }
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::TicketSetup for Store {
    async fn insert_department(&self, department: &DepartmentRecord) -> Result<(), RepoError> {
        let row = DepartmentRow {
            id: department.id.clone(),
            name: department.name.clone(),
            lead_id: department.lead_id.clone(),
            created_at: department.created_at,
        };
        Ok(Store::insert_department(self, &row).await?)
    }

    async fn departments(&self) -> Result<Vec<DepartmentRecord>, RepoError> {
        Ok(Store::departments(self)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn department(&self, id: &str) -> Result<Option<DepartmentRecord>, RepoError> {
        Ok(Store::department(self, id).await?.map(Into::into))
    }

    async fn department_members(&self) -> Result<Vec<(String, String)>, RepoError> {
        Ok(Store::department_members(self).await?)
    }

    async fn departments_of(&self, staff_id: &str) -> Result<Vec<String>, RepoError> {
        Ok(Store::departments_of(self, staff_id).await?)
    }

    async fn add_department_member(
        &self,
        department_id: &str,
        staff_id: &str,
    ) -> Result<(), RepoError> {
        Ok(Store::add_department_member(self, department_id, staff_id).await?)
    }

    async fn insert_type(
        &self,
        ticket_type: &TicketTypeRecord,
        policies: &[(Priority, i64, i64)],
    ) -> Result<(), RepoError> {
        let row = TicketTypeRow {
            key: ticket_type.key.clone(),
            name: ticket_type.name.clone(),
            required_fields: json(&ticket_type.required_fields),
            created_at: ticket_type.created_at,
        };
        Ok(self.insert_ticket_type(&row, policies).await?)
    }

    async fn types(&self) -> Result<Vec<TicketTypeRecord>, RepoError> {
        Ok(self
            .ticket_types()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn ticket_type(&self, key: &str) -> Result<Option<TicketTypeRecord>, RepoError> {
        Ok(Store::ticket_type(self, key).await?.map(Into::into))
    }

    async fn sla_policies(&self) -> Result<Vec<(String, String, i64, i64)>, RepoError> {
        Ok(Store::sla_policies(self).await?)
    }

    async fn sla_policy(
        &self,
        type_key: &str,
        priority: Priority,
    ) -> Result<Option<(i64, i64)>, RepoError> {
        Ok(Store::sla_policy(self, type_key, priority).await?)
    }

    async fn business_days(&self) -> Result<Vec<(String, String)>, RepoError> {
        Ok(Store::business_days(self).await?)
    }

    async fn put_business_days(&self, days: &[(String, String)]) -> Result<(), RepoError> {
        Ok(Store::put_business_days(self, days).await?)
    }

    async fn reopen_days(&self) -> Result<Option<i64>, RepoError> {
        Ok(self.ticket_reopen_days().await?)
    }

    async fn put_reopen_days(&self, days: i64, by: &str, now: i64) -> Result<(), RepoError> {
        Ok(self.put_ticket_reopen_days(days, by, now).await?)
    }

    async fn routing_rules(
        &self,
    ) -> Result<Option<crate::domain::tickets::RoutingRules>, RepoError> {
        Ok(self.ticket_routing_rules().await?)
    }

    async fn put_routing_rules(
        &self,
        rules: &crate::domain::tickets::RoutingRules,
        by: &str,
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(self.put_ticket_routing_rules(rules, by, now).await?)
    }
}
