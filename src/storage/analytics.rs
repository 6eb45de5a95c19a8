//! Analytics tables: per-conversation facts, daily rollups, CSAT ratings.

use super::outbox::write_events;
use super::{Store, StoreError, on_pool};
pub use crate::domain::agent_time::{AgentTimeRows, LoadChange};
use crate::domain::events::NewEvent;
use crate::domain::rollups::{FactsLine, FactsSave};
pub use crate::domain::rollups::{
    FactsRecord as FactsRow, HourDelta, RollupDelta, RollupGrouping, RollupRow, TopicDelta, WaitRow,
};
use crate::ports::repositories::{AnalyticsRecords, CsatRatings, RepoError};

// The facts, deltas and rows are domain types (`domain::rollups`,
// `domain::agent_time`). A `RollupRow`'s split is the source
// (`analytics_daily_source`), the hour (`analytics_hourly`), the topic of one
// kind (`analytics_topics`) or empty (`analytics_daily`).

/// A topic rollup counter of a seeded data set: (day, kind, topic, counter, value).
pub type TopicRow = (String, &'static str, String, String, i64);

impl RollupGrouping {
    /// The query: only fixed column names go into the text, the values are bound.
    /// A report by or of a source reads the rollups kept apart by source
    /// (`analytics_daily_source`); every other one the smaller `analytics_daily`.
    fn sql(self, one_channel: bool, one_source: bool) -> String {
        if self.topic.is_some() {
            return self.topic_sql();
        }
        let table = match (self.hour, self.source || one_source) {
            (true, _) => "analytics_hourly",
            (false, true) => "analytics_daily_source",
            (false, false) => "analytics_daily",
        };
        let kept = [
            (self.day, "day"),
            (self.channel, "channel"),
            (self.agent, "agent_id"),
            (
                self.source || self.hour,
                if self.hour { "hour" } else { "source" },
            ),
        ];
        let columns: Vec<&str> = kept
            .iter()
            .map(|&(keep, name)| if keep { name } else { "CAST('' AS TEXT)" })
            .collect();
        // In the order of the covering indexes (day, agent_id, counter, channel,
        // migration 0032; day, source, agent_id, counter, channel, migration
        // 0042), so that a report by day and agent streams its groups.
        let group: Vec<&str> = [
            (self.day, "day"),
            (self.source, "source"),
            (self.hour, "hour"),
            (self.agent, "agent_id"),
            (true, "counter"),
            (self.channel, "channel"),
        ]
        .iter()
        .filter(|(keep, _)| *keep)
        .map(|&(_, name)| name)
        .collect();
        let group = group.join(", ");
        let channel = if one_channel { " AND channel = $3" } else { "" };
        let source = match (one_channel, one_source) {
            (_, false) => "",
            (true, true) => " AND source = $4",
            (false, true) => " AND source = $3",
        };
        format!(
            "SELECT {}, counter, CAST(SUM(value) AS BIGINT) FROM {table} \
             WHERE day >= $1 AND day <= $2 AND value <> 0{channel}{source} GROUP BY {group} ORDER BY {group}",
            columns.join(", ")
        )
    }

    /// The topic rollups of one kind (bound third), the topic as the split:
    /// shop-wide, so no channel or agent (a report by topic has neither).
    fn topic_sql(self) -> String {
        let (day, group) = match self.day {
            true => ("day", "day, topic, counter"),
            false => ("CAST('' AS TEXT)", "topic, counter"),
        };
        format!(
            "SELECT {day}, CAST('' AS TEXT), CAST('' AS TEXT), topic, counter, CAST(SUM(value) AS BIGINT) \
             FROM analytics_topics WHERE kind = $3 AND day >= $1 AND day <= $2 AND value <> 0 \
             GROUP BY {group} ORDER BY {group}"
        )
    }
}

/// Moves one rollup counter by a delta.
const ROLLUP_ADD: &str = "INSERT INTO analytics_daily (day, channel, agent_id, counter, value) \
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (day, channel, agent_id, counter) \
    DO UPDATE SET value = analytics_daily.value + excluded.value";

/// Moves one counter of the hourly rollups.
const HOURLY_ADD: &str = "INSERT INTO analytics_hourly (day, channel, agent_id, hour, counter, value) \
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (day, channel, agent_id, hour, counter) \
    DO UPDATE SET value = analytics_hourly.value + excluded.value";

/// Moves one counter of the topic rollups.
const TOPIC_ADD: &str = "INSERT INTO analytics_topics (day, kind, topic, counter, value) \
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, day, topic, counter) \
    DO UPDATE SET value = analytics_topics.value + excluded.value";

/// Moves the same counter of the rollups kept apart by source.
const ROLLUP_SOURCE_ADD: &str = "INSERT INTO analytics_daily_source \
    (day, channel, agent_id, source, counter, value) VALUES ($1, $2, $3, $4, $5, $6) \
    ON CONFLICT (day, channel, agent_id, source, counter) \
    DO UPDATE SET value = analytics_daily_source.value + excluded.value";

type FactsTuple = (
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    i64,
    Option<i64>,
    String,
);

/// Conversations whose facts one analytics transaction writes.
const SAVES_PER_TRANSACTION: usize = 16;

impl Store {
    pub async fn analytics_facts(
        &self,
        conversation_id: &str,
    ) -> Result<Option<FactsRow>, StoreError> {
        let sql = "SELECT conversation_id, day, channel, agent_id, source, queue_wait_ms, last_position, \
                   first_buyer_at, facts FROM analytics_facts WHERE conversation_id = $1";
        let row: Option<FactsTuple> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(conversation_id).fetch_optional(pool).await?);
        Ok(row.map(
            |(
                conversation_id,
                day,
                channel,
                agent_id,
                source,
                queue_wait_ms,
                last_position,
                first_buyer_at,
                facts,
            )| FactsRow {
                conversation_id,
                day,
                channel,
                agent_id,
                source,
                queue_wait_ms,
                last_position,
                first_buyer_at,
                facts,
            },
        ))
    }

    /// Writes conversations' new facts and moves their rollup counters, each
    /// with its counters in one transaction; `Refused` (nothing written) when a conversation's kept
    /// facts are no longer those its changes were measured from.
    pub async fn save_analytics(&self, saves: &[FactsSave], now: i64) -> Result<(), StoreError> {
        // A few conversations per transaction: on SQLite a long write would
        // hold the chat's commits behind it. Each conversation's write is
        // guarded on its own, so a retry after a later chunk failed skips
        // the conversations an earlier chunk moved.
        for chunk in saves.chunks(SAVES_PER_TRANSACTION) {
            self.save_analytics_chunk(chunk, now).await?;
        }
        Ok(())
    }

    async fn save_analytics_chunk(&self, saves: &[FactsSave], now: i64) -> Result<(), StoreError> {
        let facts = "INSERT INTO analytics_facts \
            (conversation_id, day, channel, agent_id, queue_wait_ms, last_position, facts, updated_at, first_buyer_at, \
            source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
            ON CONFLICT (conversation_id) DO UPDATE SET day = excluded.day, channel = excluded.channel, \
            agent_id = excluded.agent_id, source = excluded.source, queue_wait_ms = excluded.queue_wait_ms, \
            last_position = excluded.last_position, facts = excluded.facts, updated_at = excluded.updated_at, \
            first_buyer_at = excluded.first_buyer_at \
            WHERE analytics_facts.last_position = $11";
        let load = "INSERT INTO analytics_load (position, agent_id, delta, at) VALUES ($1, $2, $3, $4) \
            ON CONFLICT (position, agent_id) DO NOTHING";
        let load_daily = "INSERT INTO analytics_load_daily (day, agent_id, net) VALUES ($1, $2, $3) \
            ON CONFLICT (day, agent_id) DO UPDATE SET net = analytics_load_daily.net + excluded.net";
        self.yield_to_commits().await;
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            for save in saves {
                let row = &save.facts;
                let written = sqlx::query(facts)
                    .bind(&row.conversation_id).bind(&row.day).bind(&row.channel).bind(&row.agent_id)
                    .bind(row.queue_wait_ms).bind(row.last_position).bind(&row.facts).bind(now)
                    .bind(row.first_buyer_at).bind(&row.source).bind(save.read_position)
                    .execute(&mut *tx).await?.rows_affected();
                if written == 0 {
                    // Folded meanwhile (another node held the subscriber too):
                    // nothing is written, and the caller folds again from
                    // the facts kept now.
                    tx.rollback().await?;
                    return Err(StoreError::Refused { state: "analytics facts moved".into(), agent_id: None });
                }
                for d in save.rollups.iter().filter(|d| d.delta != 0) {
                    sqlx::query(ROLLUP_ADD)
                        .bind(&d.day).bind(&d.channel).bind(&d.agent_id).bind(&d.counter).bind(d.delta)
                        .execute(&mut *tx).await?;
                    sqlx::query(ROLLUP_SOURCE_ADD)
                        .bind(&d.day).bind(&d.channel).bind(&d.agent_id).bind(&d.source)
                        .bind(&d.counter).bind(d.delta)
                        .execute(&mut *tx).await?;
                }
                for d in save.hourly.iter().filter(|d| d.delta != 0) {
                    sqlx::query(HOURLY_ADD)
                        .bind(&d.day).bind(&d.channel).bind(&d.agent_id).bind(&d.hour)
                        .bind(&d.counter).bind(d.delta)
                        .execute(&mut *tx).await?;
                }
                for d in save.topics.iter().filter(|d| d.delta != 0) {
                    sqlx::query(TOPIC_ADD)
                        .bind(&d.day).bind(d.kind).bind(&d.topic).bind(&d.counter).bind(d.delta)
                        .execute(&mut *tx).await?;
                }
                for l in &save.loads {
                    let added = sqlx::query(load)
                        .bind(l.position).bind(&l.agent_id).bind(l.delta).bind(l.at)
                        .execute(&mut *tx).await?.rows_affected();
                    if added > 0 {
                        sqlx::query(load_daily)
                            .bind(&l.day).bind(&l.agent_id).bind(l.delta)
                            .execute(&mut *tx).await?;
                    }
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// A visit's tally as stored: (last position folded, JSON of
    /// `domain::funnel::VisitTally`).
    pub async fn analytics_visit(
        &self,
        visit_id: &str,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let sql = "SELECT last_position, tally FROM analytics_visits WHERE visit_id = $1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(visit_id).fetch_optional(pool).await?))
    }

    /// Writes a visit's new tally and moves its rollup counters, in one
    /// transaction; false (nothing written) when the stored tally already
    /// includes an event at or after `position`.
    pub async fn save_visit_analytics(
        &self,
        visit_id: &str,
        position: i64,
        tally: &str,
        deltas: &[RollupDelta],
    ) -> Result<bool, StoreError> {
        let upsert = "INSERT INTO analytics_visits (visit_id, last_position, tally) VALUES ($1, $2, $3) \
            ON CONFLICT (visit_id) DO UPDATE SET last_position = excluded.last_position, tally = excluded.tally \
            WHERE analytics_visits.last_position < excluded.last_position";
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            let written = sqlx::query(upsert).bind(visit_id).bind(position).bind(tally)
                .execute(&mut *tx).await?.rows_affected();
            if written == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            for d in deltas.iter().filter(|d| d.delta != 0) {
                sqlx::query(ROLLUP_ADD)
                    .bind(&d.day).bind(&d.channel).bind(&d.agent_id).bind(&d.counter).bind(d.delta)
                    .execute(&mut *tx).await?;
                sqlx::query(ROLLUP_SOURCE_ADD)
                    .bind(&d.day).bind(&d.channel).bind(&d.agent_id).bind(&d.source)
                    .bind(&d.counter).bind(d.delta)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Rollup counters of the days `from..=to` (shop-local "YYYY-MM-DD").
    pub async fn analytics_rollups(
        &self,
        from: &str,
        to: &str,
    ) -> Result<Vec<RollupRow>, StoreError> {
        let sql = "SELECT day, channel, agent_id, source, counter, value FROM analytics_daily_source \
                   WHERE day >= $1 AND day <= $2 AND value <> 0 \
                   ORDER BY day, channel, agent_id, source, counter";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(from).bind(to).fetch_all(pool).await?))
    }

    /// Rollup counters of the days `from..=to`, added up in the database over
    /// the columns `by` leaves out (those come back empty), and of one channel
    /// when `channel` names one, of one source when `source` does ('' for
    /// chats not opened from a visit). A report by agent over 90 days reads a
    /// row per agent and counter, not one per agent, day, channel and counter.
    pub async fn analytics_sums(
        &self,
        from: &str,
        to: &str,
        by: RollupGrouping,
        (channel, source): (Option<&str>, Option<&str>),
    ) -> Result<Vec<RollupRow>, StoreError> {
        let sql = by.sql(channel.is_some(), source.is_some());
        Ok(on_pool!(self, pool => {
            // Safe: the text holds fixed column names only (see `RollupGrouping::sql`).
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(from).bind(to);
            if let Some(kind) = by.topic {
                query = query.bind(kind.as_str());
            } else {
                if let Some(channel) = channel {
                    query = query.bind(channel);
                }
                if let Some(source) = source {
                    query = query.bind(source);
                }
            }
            query.fetch_all(pool).await?
        }))
    }

    /// Keeps a presence change under its event's position (a second delivery
    /// adds nothing).
    pub async fn record_presence(
        &self,
        position: i64,
        agent_id: &str,
        status: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO analytics_presence (position, agent_id, status, at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (position) DO NOTHING";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(position).bind(agent_id).bind(status).bind(at).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Presence and chats held around `[from, to)`; `from_day` is the
    /// shop-local day that starts at `from`.
    pub async fn agent_time_rows(
        &self,
        from: i64,
        to: i64,
        from_day: &str,
    ) -> Result<AgentTimeRows, StoreError> {
        let before = "SELECT agent_id, status FROM (SELECT agent_id, status, ROW_NUMBER() OVER \
            (PARTITION BY agent_id ORDER BY at DESC, position DESC) AS n FROM analytics_presence WHERE at < $1) \
            AS last WHERE n = 1";
        let statuses = "SELECT agent_id, at, status FROM analytics_presence WHERE at >= $1 AND at < $2 \
            ORDER BY at, position";
        let chats_before = "SELECT agent_id, CAST(SUM(net) AS BIGINT) FROM analytics_load_daily \
            WHERE day < $1 GROUP BY agent_id";
        let loads = "SELECT agent_id, at, CAST(delta AS BIGINT) FROM analytics_load WHERE at >= $1 AND at < $2 \
            ORDER BY at, position";
        Ok(on_pool!(self, pool => AgentTimeRows {
            statuses_before: sqlx::query_as(before).bind(from).fetch_all(pool).await?,
            statuses: sqlx::query_as(statuses).bind(from).bind(to).fetch_all(pool).await?,
            chats_before: sqlx::query_as(chats_before).bind(from_day).fetch_all(pool).await?,
            loads: sqlx::query_as(loads).bind(from).bind(to).fetch_all(pool).await?,
        }))
    }

    /// Every staff member's chat limit (the load's denominator).
    pub async fn chat_limits(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let sql = "SELECT id, CAST(max_chats AS BIGINT) FROM staff_users";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    /// Conversations started on `from..=to` after `after` (day, id) in that
    /// order, at most `limit`: id, day, channel, agent ('' for none) and the
    /// facts (JSON). A channel or agent narrows them.
    pub async fn analytics_facts_page(
        &self,
        (from, to): (&str, &str),
        after: (&str, &str),
        (channel, agent_id, source): (Option<&str>, Option<&str>, Option<&str>),
        limit: i64,
    ) -> Result<Vec<(String, String, String, String, String)>, StoreError> {
        let sql = "SELECT conversation_id, day, channel, agent_id, facts FROM analytics_facts \
                   WHERE day >= $1 AND day <= $2 AND (day, conversation_id) > ($3, $4) \
                   AND ($5 IS NULL OR channel = $5) AND ($6 IS NULL OR agent_id = $6) \
                   AND ($8 IS NULL OR source = $8) \
                   ORDER BY day, conversation_id LIMIT $7";
        Ok(on_pool!(self, pool => sqlx::query_as(sql)
            .bind(from).bind(to).bind(after.0).bind(after.1).bind(channel).bind(agent_id).bind(limit)
            .bind(source)
            .fetch_all(pool).await?))
    }

    /// The queue waits of the chats an agent took, for percentiles.
    pub async fn analytics_queue_waits(
        &self,
        from: &str,
        to: &str,
    ) -> Result<Vec<WaitRow>, StoreError> {
        let sql = "SELECT day, channel, agent_id, source, queue_wait_ms FROM analytics_facts \
                   WHERE day >= $1 AND day <= $2 AND queue_wait_ms IS NOT NULL";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(from).bind(to).fetch_all(pool).await?))
    }

    /// The reason written in a hand-off packet.
    pub async fn packet_reason(&self, packet_id: &str) -> Result<Option<String>, StoreError> {
        let sql = "SELECT reason FROM handoff_packets WHERE id = $1";
        let row: Option<(String,)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(packet_id).fetch_optional(pool).await?);
        Ok(row.map(|r| r.0))
    }

    /// (group id, group name, agent id) of every membership.
    pub async fn group_memberships(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let sql = "SELECT g.id, g.name, m.agent_id FROM group_members m \
                   JOIN skill_groups g ON g.id = m.group_id ORDER BY g.name, m.agent_id";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    /// (id, display name) of every staff account.
    pub async fn staff_names(&self) -> Result<Vec<(String, String)>, StoreError> {
        let sql = "SELECT id, display_name FROM staff_users ORDER BY display_name";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    /// Saves a CSAT rating with its event; `AlreadyExists` when the
    /// conversation has one.
    pub async fn insert_csat(
        &self,
        conversation_id: &str,
        stars: u8,
        tags_json: &str,
        comment: Option<&str>,
        event: &NewEvent,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO csat_ratings (conversation_id, stars, tags, comment, created_at) \
                   VALUES ($1, $2, $3, $4, $5)";
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            sqlx::query(sql)
                .bind(conversation_id).bind(i32::from(stars)).bind(tags_json).bind(comment)
                .bind(event.created_at)
                .execute(&mut *tx).await.map_err(StoreError::from_insert)?;
            write_events!(backend, tx, std::slice::from_ref(event));
            tx.commit().await?;
            self.events_committed();
        });
        Ok(())
    }

    pub async fn has_csat(&self, conversation_id: &str) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM csat_ratings WHERE conversation_id = $1";
        let (n,): (i64,) = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(conversation_id).fetch_one(pool).await?);
        Ok(n > 0)
    }

    /// Empties facts and rollups and puts the analytics cursor at `position`
    /// (a rebuild then replays the outbox up to it).
    pub async fn reset_analytics(&self, subscriber: &str, position: i64) -> Result<(), StoreError> {
        let cursor = "INSERT INTO subscribers (name, position, lease_node, lease_until, updated_at) \
                      VALUES ($1, $2, NULL, 0, 0) ON CONFLICT (name) DO UPDATE SET position = excluded.position";
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            // The conversions stay: their events are in the outbox and fold again.
            sqlx::query("DELETE FROM analytics_facts").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM analytics_daily").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM analytics_daily_source").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM analytics_hourly").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM analytics_topics").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM analytics_presence").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM analytics_load").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM analytics_load_daily").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM analytics_visits").execute(&mut *tx).await?;
            sqlx::query(cursor).bind(subscriber).bind(position).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }
}

/// One outbox row of a benchmark data set, with its position drawn by the caller.
pub type SeedOutboxRow = (i64, crate::domain::events::NewEvent);

impl Store {
    /// Writes generated outbox events and the facts rows the analytics
    /// subscriber would have left for them, in one transaction (the analytics
    /// benchmark's data set; the server's own writes go through the commit
    /// queue). Positions are the caller's (it draws them above the head).
    pub async fn seed_analytics(
        &self,
        events: &[SeedOutboxRow],
        facts: &[FactsRow],
        now: i64,
    ) -> Result<(), StoreError> {
        const ROWS: usize = 1000;
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            for chunk in events.chunks(ROWS) {
                let mut sql = sqlx::QueryBuilder::new(
                    "INSERT INTO outbox (position, event_id, kind, conversation_id, seq, payload, created_at) ",
                );
                sql.push_values(chunk, |mut b, (position, e)| {
                    b.push_bind(*position)
                        .push_bind(&e.id)
                        .push_bind(e.data.type_name())
                        .push_bind(&e.conversation_id)
                        .push_bind(e.seq)
                        .push_bind(super::outbox::payload(&e.data))
                        .push_bind(e.created_at);
                });
                sql.build().execute(&mut *tx).await?;
            }
            for chunk in facts.chunks(ROWS) {
                let mut sql = sqlx::QueryBuilder::new(
                    "INSERT INTO analytics_facts (conversation_id, day, channel, agent_id, queue_wait_ms, \
                     last_position, facts, updated_at, first_buyer_at, source) ",
                );
                sql.push_values(chunk, |mut b, r| {
                    b.push_bind(&r.conversation_id)
                        .push_bind(&r.day)
                        .push_bind(&r.channel)
                        .push_bind(&r.agent_id)
                        .push_bind(r.queue_wait_ms)
                        .push_bind(r.last_position)
                        .push_bind(&r.facts)
                        .push_bind(now)
                        .push_bind(r.first_buyer_at)
                        .push_bind(&r.source);
                });
                sql.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Writes the rollups of a seeded data set (`rows` split by source,
    /// `hourly` by hour, `topics` by topic), then moves every subscriber's cursor to `head` (the
    /// seeded events count as handled) and, on PostgreSQL, the outbox sequence
    /// past it.
    pub async fn seed_rollups(
        &self,
        rows: &[RollupRow],
        hourly: &[RollupRow],
        topics: &[TopicRow],
        head: i64,
    ) -> Result<(), StoreError> {
        const ROWS: usize = 2000;
        let backend = self.backend();
        // The rollups without the source: the same rows added up over it.
        let mut summed: std::collections::BTreeMap<(&str, &str, &str, &str), i64> =
            std::collections::BTreeMap::new();
        for r in rows {
            *summed.entry((&r.0, &r.1, &r.2, &r.4)).or_default() += r.5;
        }
        let summed: Vec<_> = summed.into_iter().collect();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            for chunk in summed.chunks(ROWS) {
                let mut sql = sqlx::QueryBuilder::new(
                    "INSERT INTO analytics_daily (day, channel, agent_id, counter, value) ",
                );
                sql.push_values(chunk, |mut b, ((day, channel, agent, counter), value)| {
                    b.push_bind(*day)
                        .push_bind(*channel)
                        .push_bind(*agent)
                        .push_bind(*counter)
                        .push_bind(*value);
                });
                sql.build().execute(&mut *tx).await?;
            }
            let split = [
                ("INSERT INTO analytics_daily_source (day, channel, agent_id, source, counter, value) ", rows),
                ("INSERT INTO analytics_hourly (day, channel, agent_id, hour, counter, value) ", hourly),
            ];
            for chunk in split.iter().flat_map(|(sql, rows)| rows.chunks(ROWS).map(move |c| (*sql, c))) {
                let (sql, chunk) = chunk;
                let mut sql = sqlx::QueryBuilder::new(sql);
                sql.push_values(chunk, |mut b, r| {
                    b.push_bind(&r.0)
                        .push_bind(&r.1)
                        .push_bind(&r.2)
                        .push_bind(&r.3)
                        .push_bind(&r.4)
                        .push_bind(r.5);
                });
                sql.build().execute(&mut *tx).await?;
            }
            for chunk in topics.chunks(ROWS) {
                let mut sql = sqlx::QueryBuilder::new(
                    "INSERT INTO analytics_topics (day, kind, topic, counter, value) ",
                );
                sql.push_values(chunk, |mut b, r| {
                    b.push_bind(&r.0)
                        .push_bind(r.1)
                        .push_bind(&r.2)
                        .push_bind(&r.3)
                        .push_bind(r.4);
                });
                sql.build().execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE subscribers SET position = $1 WHERE position < $1")
                .bind(head).execute(&mut *tx).await?;
            if matches!(backend, super::Backend::Postgres) {
                sqlx::query("SELECT setval(pg_get_serial_sequence('outbox', 'position'), $1)")
                    .bind(head).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

#[async_trait::async_trait]
impl AnalyticsRecords for Store {
    async fn facts_of(&self, conversation_id: &str) -> Result<Option<FactsRow>, RepoError> {
        Ok(self.analytics_facts(conversation_id).await?)
    }

    async fn save_facts(&self, saves: &[FactsSave], now: i64) -> Result<(), RepoError> {
        Ok(self.save_analytics(saves, now).await?)
    }

    async fn visit_tally(&self, visit_id: &str) -> Result<Option<(i64, String)>, RepoError> {
        Ok(self.analytics_visit(visit_id).await?)
    }

    async fn save_visit_tally(
        &self,
        visit_id: &str,
        position: i64,
        tally: &str,
        deltas: &[RollupDelta],
    ) -> Result<bool, RepoError> {
        Ok(self
            .save_visit_analytics(visit_id, position, tally, deltas)
            .await?)
    }

    async fn keep_presence(
        &self,
        position: i64,
        agent_id: &str,
        status: &str,
        at: i64,
    ) -> Result<(), RepoError> {
        Ok(self.record_presence(position, agent_id, status, at).await?)
    }

    async fn reset_rollups(&self, subscriber: &str, position: i64) -> Result<(), RepoError> {
        Ok(self.reset_analytics(subscriber, position).await?)
    }

    async fn rollup_sums(
        &self,
        (from, to): (&str, &str),
        by: RollupGrouping,
        narrowed: (Option<&str>, Option<&str>),
    ) -> Result<Vec<RollupRow>, RepoError> {
        Ok(self.analytics_sums(from, to, by, narrowed).await?)
    }

    async fn queue_wait_rows(&self, from: &str, to: &str) -> Result<Vec<WaitRow>, RepoError> {
        Ok(self.analytics_queue_waits(from, to).await?)
    }

    async fn facts_page(
        &self,
        range: (&str, &str),
        after: (&str, &str),
        narrowed: (Option<&str>, Option<&str>, Option<&str>),
        limit: i64,
    ) -> Result<Vec<FactsLine>, RepoError> {
        Ok(self
            .analytics_facts_page(range, after, narrowed, limit)
            .await?)
    }

    async fn agent_time(
        &self,
        from: i64,
        to: i64,
        from_day: &str,
    ) -> Result<AgentTimeRows, RepoError> {
        Ok(self.agent_time_rows(from, to, from_day).await?)
    }

    async fn chat_limits(&self) -> Result<Vec<(String, i64)>, RepoError> {
        Ok(Store::chat_limits(self).await?)
    }

    async fn staff_names(&self) -> Result<Vec<(String, String)>, RepoError> {
        Ok(Store::staff_names(self).await?)
    }

    async fn group_memberships(&self) -> Result<Vec<(String, String, String)>, RepoError> {
        Ok(Store::group_memberships(self).await?)
    }

    async fn qa_totals(&self, from: &str, to: &str) -> Result<Vec<(String, i64, i64)>, RepoError> {
        Ok(Store::qa_totals(self, from, to).await?)
    }

    async fn handoff_reason(&self, packet_id: &str) -> Result<Option<String>, RepoError> {
        Ok(self.packet_reason(packet_id).await?)
    }
}

#[async_trait::async_trait]
impl CsatRatings for Store {
    async fn is_rated(&self, conversation_id: &str) -> Result<bool, RepoError> {
        Ok(self.has_csat(conversation_id).await?)
    }

    async fn rate(
        &self,
        conversation_id: &str,
        stars: u8,
        tags_json: &str,
        comment: Option<&str>,
        rated: &NewEvent,
    ) -> Result<(), RepoError> {
        Ok(self
            .insert_csat(conversation_id, stars, tags_json, comment, rated)
            .await?)
    }
}

type InquiryTuple = (String, i64, String, Option<Vec<u8>>);

#[async_trait::async_trait]
impl crate::ports::repositories::Conversions for Store {
    async fn open_inquiries(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<crate::ports::repositories::Inquiry>, crate::ports::repositories::RepoError>
    {
        let sql = "SELECT f.conversation_id, f.first_buyer_at, c.visitor_id, v.sealed_account \
                   FROM analytics_facts f JOIN conversations c ON c.id = f.conversation_id \
                   JOIN visitors v ON v.id = c.visitor_id \
                   WHERE f.first_buyer_at >= $1 AND v.sealed_account IS NOT NULL \
                   AND NOT EXISTS (SELECT 1 FROM conversions x WHERE x.conversation_id = f.conversation_id) \
                   ORDER BY f.first_buyer_at LIMIT $2";
        let rows: Vec<InquiryTuple> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(since).bind(limit).fetch_all(pool).await.map_err(StoreError::from)?);
        let mut out = Vec::with_capacity(rows.len());
        for (conversation_id, first_buyer_at, visitor_id, sealed) in rows {
            let aad = super::privacy::visitor_aad(&visitor_id, "account");
            if let Some(account) = self.open_opt(sealed.as_deref(), &aad)? {
                out.push(crate::ports::repositories::Inquiry {
                    conversation_id,
                    account,
                    first_buyer_at,
                });
            }
        }
        Ok(out)
    }

    async fn record(
        &self,
        conversation_id: &str,
        placed_at: i64,
        total_cents: i64,
        event: &NewEvent,
    ) -> Result<bool, crate::ports::repositories::RepoError> {
        let sql = "INSERT INTO conversions (conversation_id, placed_at, total_cents, created_at) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (conversation_id) DO NOTHING";
        let backend = self.backend();
        let recorded: Result<bool, StoreError> = async {
            Ok(on_pool!(self, pool => {
                let mut tx = pool.begin_with(self.begin_write()).await?;
                let written = sqlx::query(sql)
                    .bind(conversation_id).bind(placed_at).bind(total_cents).bind(event.created_at)
                    .execute(&mut *tx).await?.rows_affected();
                if written == 0 {
                    tx.rollback().await?;
                    false
                } else {
                    write_events!(backend, tx, std::slice::from_ref(event));
                    tx.commit().await?;
                    true
                }
            }))
        }
        .await;
        Ok(recorded?)
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::SavedReports for Store {
    async fn list(
        &self,
        owner_id: &str,
    ) -> Result<Vec<crate::ports::repositories::StoredReport>, crate::ports::repositories::RepoError>
    {
        let sql = "SELECT id, spec, created_at FROM saved_reports WHERE owner_id = $1 \
                   ORDER BY created_at DESC, id DESC";
        let rows: Vec<(String, String, i64)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(owner_id).fetch_all(pool).await.map_err(StoreError::from)?);
        rows.into_iter()
            .map(|(id, spec, created_at)| {
                let spec = serde_json::from_str(&spec).map_err(|e| {
                    crate::ports::repositories::RepoError::Corrupt(format!(
                        "saved report {id}: {e}"
                    ))
                })?;
                Ok(crate::ports::repositories::StoredReport {
                    id,
                    spec,
                    created_at,
                })
            })
            .collect()
    }

    async fn insert(
        &self,
        owner_id: &str,
        report: &crate::ports::repositories::StoredReport,
        max: usize,
    ) -> Result<(), crate::ports::repositories::RepoError> {
        let spec = serde_json::to_string(&report.spec).expect("a spec serialises");
        let inserted: Result<bool, StoreError> = async {
            Ok(on_pool!(self, pool => {
                let mut tx = pool.begin_with(self.begin_write()).await?;
                let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM saved_reports WHERE owner_id = $1")
                    .bind(owner_id).fetch_one(&mut *tx).await?;
                if count >= max as i64 {
                    tx.rollback().await?;
                    false
                } else {
                    sqlx::query("INSERT INTO saved_reports (id, owner_id, spec, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(&report.id).bind(owner_id).bind(&spec).bind(report.created_at)
                        .execute(&mut *tx).await?;
                    tx.commit().await?;
                    true
                }
            }))
        }
        .await;
        if inserted? {
            Ok(())
        } else {
            Err(crate::ports::repositories::RepoError::Conflict)
        }
    }

    async fn delete(
        &self,
        owner_id: &str,
        id: &str,
    ) -> Result<(), crate::ports::repositories::RepoError> {
        let sql = "DELETE FROM saved_reports WHERE id = $1 AND owner_id = $2";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(id).bind(owner_id)
            .execute(pool).await.map_err(StoreError::from)?.rows_affected());
        if done == 0 {
            Err(crate::ports::repositories::RepoError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn scheduled(
        &self,
    ) -> Result<
        Vec<(String, crate::ports::repositories::StoredReport)>,
        crate::ports::repositories::RepoError,
    > {
        // Few rows (50 per person at most): the schedule is read from the spec.
        let sql =
            "SELECT owner_id, id, spec, created_at FROM saved_reports ORDER BY created_at, id";
        let rows: Vec<(String, String, String, i64)> = on_pool!(self, pool => sqlx::query_as(sql)
            .fetch_all(pool).await.map_err(StoreError::from)?);
        let mut out = Vec::new();
        for (owner, id, spec, created_at) in rows {
            let spec: crate::domain::saved_report::ReportSpec = serde_json::from_str(&spec)
                .map_err(|e| {
                    crate::ports::repositories::RepoError::Corrupt(format!(
                        "saved report {id}: {e}"
                    ))
                })?;
            if spec.schedule.is_some() {
                out.push((
                    owner,
                    crate::ports::repositories::StoredReport {
                        id,
                        spec,
                        created_at,
                    },
                ));
            }
        }
        Ok(out)
    }
}
