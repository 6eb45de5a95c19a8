//! The assignment transaction: take the head of a group's queue, choose an agent
//! and hand the chat over, all in one transaction, so several server processes
//! on one database never give a chat twice, lose one, or fill an agent past
//! capacity.
//!
//! PostgreSQL: the queue head is taken with `FOR UPDATE SKIP LOCKED` (two
//! assigners take different chats), then the presence rows of the group's online
//! agents are locked in id order (assigners that share agents take turns, so
//! load counts are exact), and the conversation row is changed compare-and-set.
//! SQLite: `BEGIN IMMEDIATE` serialises writers outright.

use super::outbox::write_events;
use super::routing::QUEUE_ORDER;
use super::{Backend, Store, StoreError, on_pool};
use crate::domain::conversation::ConversationState;
use crate::domain::events::{AssignedBy, EventData, NewEvent};
use crate::domain::routing::{AssignOutcome, AssignPlan, Assigned, Candidate, GroupSnapshot, Head};

/// PostgreSQL may still pick one of two lock-waiting transactions as a deadlock
/// victim (or SQLite report busy); the transaction rolled back whole, so it is
/// simply tried again.
const LOCK_RETRIES: u32 = 5;

fn is_lock_conflict(error: &StoreError) -> bool {
    match error {
        StoreError::Database(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40P01" | "40001" | "5" | "517"))
        }
        _ => false,
    }
}

type Decide<'a> = &'a (dyn Fn(&Head, &GroupSnapshot, &[Candidate]) -> Option<AssignPlan> + Sync);

struct Sql {
    head: String,
    lock_presence: &'static str,
}

impl Store {
    fn assign_sql(&self) -> Sql {
        let head = format!(
            "SELECT conversation_id, first_enqueued_at FROM queue_entries WHERE group_id = $1 \
             ORDER BY {QUEUE_ORDER} LIMIT 1"
        );
        match self.backend() {
            Backend::Postgres => Sql {
                head: format!("{head} FOR UPDATE SKIP LOCKED"),
                lock_presence: "SELECT p.agent_id FROM agent_presence p \
                    JOIN group_members m ON m.agent_id = p.agent_id \
                    WHERE m.group_id = $1 AND p.status = 'online' ORDER BY p.agent_id FOR UPDATE OF p",
            },
            Backend::Sqlite => Sql {
                head,
                lock_presence: "SELECT p.agent_id FROM agent_presence p \
                    JOIN group_members m ON m.agent_id = p.agent_id \
                    WHERE m.group_id = $1 AND p.status = 'online' ORDER BY p.agent_id",
            },
        }
    }

    /// Assigns the head of `group_id`'s queue to the agent `decide` chooses.
    pub async fn assign_next(
        &self,
        group_id: &str,
        now: i64,
        decide: Decide<'_>,
    ) -> Result<AssignOutcome, StoreError> {
        let mut attempt = 0;
        loop {
            match self.assign_once(group_id, now, decide).await {
                Err(e) if is_lock_conflict(&e) && attempt < LOCK_RETRIES => attempt += 1,
                other => return other,
            }
        }
    }

    async fn assign_once(
        &self,
        group_id: &str,
        now: i64,
        decide: Decide<'_>,
    ) -> Result<AssignOutcome, StoreError> {
        const GROUP: &str = "SELECT strategy, rr_last_agent FROM skill_groups WHERE id = $1";
        const CANDIDATES: &str = "SELECT m.agent_id, m.level, m.weight, m.assigned, p.last_assigned_at, u.max_chats, \
            (SELECT COUNT(*) FROM conversations c WHERE c.agent_id = m.agent_id AND c.state = 'with_agent') AS active \
            FROM group_members m JOIN agent_presence p ON p.agent_id = m.agent_id \
            JOIN staff_users u ON u.id = m.agent_id \
            WHERE m.group_id = $1 AND p.status = 'online' AND NOT u.disabled ORDER BY m.agent_id";
        const HAND_OVER: &str = "UPDATE conversations SET last_seq = last_seq + 1, updated_at = $2, \
            state = 'with_agent', agent_id = $3 WHERE id = $1 AND state = 'waiting' RETURNING last_seq";
        const EVENT: &str = "INSERT INTO events \
            (conversation_id, seq, kind, sender_kind, sender_id, client_msg_id, body, created_at) \
            VALUES ($1, $2, 'state_changed', 'system', NULL, NULL, $3, $4)";
        const DEQUEUE: &str = "DELETE FROM queue_entries WHERE conversation_id = $1";
        const COUNT_MEMBER: &str = "UPDATE group_members SET assigned = assigned + 1 WHERE group_id = $1 AND agent_id = $2";
        const TOUCH_AGENT: &str =
            "UPDATE agent_presence SET last_assigned_at = $2 WHERE agent_id = $1";
        const CURSOR: &str = "UPDATE skill_groups SET rr_last_agent = $2 WHERE id = $1";
        const LOG: &str = "INSERT INTO assignments (conversation_id, group_id, agent_id, waited_ms, assigned_at) \
            VALUES ($1, $2, $3, $4, $5)";

        let sql = self.assign_sql();
        let backend = self.backend();
        let (notify, node) = (self.notify_commits(), self.node());
        let begin = match self.backend() {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let head: Option<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.head.clone()))
                .bind(group_id).fetch_optional(&mut *tx).await?;
            let Some((conversation_id, first_enqueued_at)) = head else {
                return Ok(AssignOutcome::Empty);
            };
            let group: Option<(String, Option<String>)> =
                sqlx::query_as(GROUP).bind(group_id).fetch_optional(&mut *tx).await?;
            let Some((strategy, rr_last_agent)) = group else {
                return Ok(AssignOutcome::Empty);
            };
            sqlx::query(sql.lock_presence).bind(group_id).fetch_all(&mut *tx).await?;
            let rows: Vec<(String, i64, i64, i64, i64, i64, i64)> =
                sqlx::query_as(CANDIDATES).bind(group_id).fetch_all(&mut *tx).await?;
            let candidates: Vec<Candidate> = rows.into_iter().map(|r| Candidate {
                agent_id: r.0, level: r.1, weight: r.2, assigned: r.3, last_assigned_at: r.4,
                capacity: r.5, active: r.6,
            }).collect();
            let head = Head { conversation_id, first_enqueued_at };
            let snapshot = GroupSnapshot { strategy, rr_last_agent };
            let Some(plan) = decide(&head, &snapshot, &candidates) else {
                return Ok(AssignOutcome::NoAgent);
            };
            let seq: Option<(i64,)> = sqlx::query_as(HAND_OVER)
                .bind(&head.conversation_id).bind(now).bind(&plan.agent_id)
                .fetch_optional(&mut *tx).await?;
            sqlx::query(DEQUEUE).bind(&head.conversation_id).execute(&mut *tx).await?;
            let Some((seq,)) = seq else {
                tx.commit().await?;
                return Ok(AssignOutcome::Stale);
            };
            sqlx::query(EVENT).bind(&head.conversation_id).bind(seq).bind(&plan.sealed_body).bind(now)
                .execute(&mut *tx).await?;
            if notify {
                // Other nodes' sockets learn of the hand-over when (and only if) it commits.
                for payload in super::fanout::payloads(node, std::iter::once((head.conversation_id.as_str(), seq))) {
                    sqlx::query(super::fanout::NOTIFY_SQL).bind(super::fanout::CHANNEL).bind(payload)
                        .execute(&mut *tx).await?;
                }
            }
            sqlx::query(COUNT_MEMBER).bind(group_id).bind(&plan.agent_id).execute(&mut *tx).await?;
            sqlx::query(TOUCH_AGENT).bind(&plan.agent_id).bind(now).execute(&mut *tx).await?;
            sqlx::query(CURSOR).bind(group_id).bind(&plan.agent_id).execute(&mut *tx).await?;
            let waited_ms = (now - head.first_enqueued_at).max(0);
            sqlx::query(LOG).bind(&head.conversation_id).bind(group_id).bind(&plan.agent_id)
                .bind(waited_ms).bind(now).execute(&mut *tx).await?;
            let assigned = EventData::Assigned { agent_id: plan.agent_id.clone(), by: AssignedBy::Routing };
            let event = NewEvent::in_conversation(&head.conversation_id, seq, assigned, now);
            write_events!(backend, tx, std::slice::from_ref(&event));
            tx.commit().await?;
            self.events_committed();
            Ok(AssignOutcome::Assigned(Assigned {
                conversation_id: head.conversation_id, agent_id: plan.agent_id, seq, waited_ms,
            }))
        })
    }

    /// Moves entries whose overflow time has come to their group's overflow group;
    /// returns the groups that received chats.
    pub async fn overflow_due(&self, now: i64) -> Result<Vec<String>, StoreError> {
        let due = "SELECT q.conversation_id, g.overflow_group_id FROM queue_entries q \
            JOIN skill_groups g ON g.id = q.group_id \
            WHERE q.overflow_at IS NOT NULL AND q.overflow_at <= $1 AND g.overflow_group_id IS NOT NULL";
        let due = match self.backend() {
            Backend::Postgres => format!("{due} FOR UPDATE OF q SKIP LOCKED"),
            Backend::Sqlite => due.to_owned(),
        };
        let next_overflow =
            "SELECT overflow_group_id, overflow_after_ms FROM skill_groups WHERE id = $1";
        let moved = "UPDATE queue_entries SET group_id = $2, group_since = $3, overflow_at = $4 \
            WHERE conversation_id = $1";
        let begin = match self.backend() {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(due.clone()))
                .bind(now).fetch_all(&mut *tx).await?;
            let mut targets: Vec<String> = Vec::new();
            for (conversation_id, target) in rows {
                let (further, after): (Option<String>, Option<i64>) =
                    sqlx::query_as(next_overflow).bind(&target).fetch_one(&mut *tx).await?;
                let overflow_at = further.and(after).map(|ms| now + ms);
                sqlx::query(moved).bind(&conversation_id).bind(&target).bind(now).bind(overflow_at)
                    .execute(&mut *tx).await?;
                if !targets.contains(&target) {
                    targets.push(target);
                }
            }
            tx.commit().await?;
            Ok(targets)
        })
    }
}

pub use crate::domain::chat_log::{ClaimOutcome, Handover};

impl Store {
    /// A chat goes to an agent by hand. Under the same presence-row lock as
    /// automatic assignment, so hand-overs and assignments racing for one agent
    /// on several processes cannot together pass the agent's capacity.
    pub async fn claim_within_capacity(
        &self,
        handover: &Handover<'_>,
    ) -> Result<ClaimOutcome, StoreError> {
        let mut attempt = 0;
        loop {
            match self.claim_once(handover).await {
                Err(e) if is_lock_conflict(&e) && attempt < LOCK_RETRIES => attempt += 1,
                other => return other,
            }
        }
    }

    async fn claim_once(&self, handover: &Handover<'_>) -> Result<ClaimOutcome, StoreError> {
        let Handover {
            conversation_id,
            from_state,
            from_agent,
            agent_id,
            sender_id,
            now,
            sealed_body,
        } = *handover;
        const ENSURE_PRESENCE: &str = "INSERT INTO agent_presence (agent_id, status, last_assigned_at, updated_at) \
            VALUES ($1, 'offline', 0, $2) ON CONFLICT (agent_id) DO NOTHING";
        const LOAD: &str = "SELECT u.max_chats, (SELECT COUNT(*) FROM conversations c \
            WHERE c.agent_id = u.id AND c.state = 'with_agent') FROM staff_users u WHERE u.id = $1";
        const HAND_OVER: &str = "UPDATE conversations SET last_seq = last_seq + 1, updated_at = $2, \
            state = 'with_agent', agent_id = $3 WHERE id = $1 AND state = $4 AND COALESCE(agent_id, '') = $5 \
            RETURNING last_seq";
        const EVENT: &str = "INSERT INTO events \
            (conversation_id, seq, kind, sender_kind, sender_id, client_msg_id, body, created_at) \
            VALUES ($1, $2, 'state_changed', 'agent', $3, NULL, $4, $5)";
        const DEQUEUE: &str = "DELETE FROM queue_entries WHERE conversation_id = $1";
        // Locks in the order automatic assignment takes them (queue entry, then
        // presence, then conversation), so the two do not deadlock.
        let (begin, entry, lock) = match self.backend() {
            Backend::Sqlite => (
                "BEGIN IMMEDIATE",
                "SELECT conversation_id FROM queue_entries WHERE conversation_id = $1",
                "SELECT agent_id FROM agent_presence WHERE agent_id = $1",
            ),
            Backend::Postgres => (
                "BEGIN",
                "SELECT conversation_id FROM queue_entries WHERE conversation_id = $1 FOR UPDATE",
                "SELECT agent_id FROM agent_presence WHERE agent_id = $1 FOR UPDATE",
            ),
        };
        let backend = self.backend();
        let (notify, node) = (self.notify_commits(), self.node());
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            sqlx::query(entry).bind(conversation_id).fetch_optional(&mut *tx).await?;
            sqlx::query(ENSURE_PRESENCE).bind(agent_id).bind(now).execute(&mut *tx).await?;
            sqlx::query(lock).bind(agent_id).fetch_one(&mut *tx).await?;
            let (max_chats, active): (i64, i64) =
                sqlx::query_as(LOAD).bind(agent_id).fetch_one(&mut *tx).await?;
            if active >= max_chats {
                return Ok(ClaimOutcome::AtCapacity);
            }
            let seq: Option<(i64,)> = sqlx::query_as(HAND_OVER)
                .bind(conversation_id).bind(now).bind(agent_id).bind(from_state).bind(from_agent.unwrap_or(""))
                .fetch_optional(&mut *tx).await?;
            let Some((seq,)) = seq else {
                return Ok(ClaimOutcome::NotWaiting);
            };
            sqlx::query(EVENT).bind(conversation_id).bind(seq).bind(sender_id).bind(sealed_body).bind(now)
                .execute(&mut *tx).await?;
            if notify {
                for payload in super::fanout::payloads(node, std::iter::once((conversation_id, seq))) {
                    sqlx::query(super::fanout::NOTIFY_SQL).bind(super::fanout::CHANNEL).bind(payload)
                        .execute(&mut *tx).await?;
                }
            }
            sqlx::query(DEQUEUE).bind(conversation_id).execute(&mut *tx).await?;
            let from = from_state.parse().unwrap_or(ConversationState::Waiting);
            let data = EventData::for_transition(
                from, from_agent, ConversationState::WithAgent, Some(agent_id), AssignedBy::Claim,
            );
            let event = NewEvent::in_conversation(conversation_id, seq, data, now);
            write_events!(backend, tx, std::slice::from_ref(&event));
            tx.commit().await?;
            self.events_committed();
            Ok(ClaimOutcome::Claimed { seq })
        })
    }
}
