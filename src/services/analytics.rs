//! Analytics: the subscriber that folds conversation events into facts and
//! daily rollups, the rebuild, CSAT ratings, and the reports (scoped to what
//! the caller may see). Metric definitions live in domain::analytics only.

use crate::domain::agent_time::{self, LoadChange, Timeline};
use crate::domain::analytics::{
    BUYER_REQUEST, Contribution, CsatRating, DayRange, Dimension, Facts, Formula, METRICS,
    MetricDef, Period, ReportInputError, RollupKey, TopicContribution, TopicKind, Totals,
    contribution, hourly_contribution, local_day, local_hour, parse_day, topic_contribution,
};
use crate::domain::catalogue::Sku;
use crate::domain::conversation::{ConversationId, ConversationState};
use crate::domain::events::{DomainEvent, EventData, NewEvent};
use crate::domain::funnel::{self, CampaignRow, FunnelDay, FunnelRow, VisitTally};
use crate::domain::rollups::{
    FactsRecord, FactsSave, HourDelta, RollupDelta, RollupGrouping, RollupRow, TopicDelta, WaitRow,
};
use crate::domain::staff::Role;
use crate::ports::repositories::{AnalyticsRecords, CsatRatings, EventStream, RepoError};
use crate::ports::{Clock, Commerce};
use crate::services::chat::{Actor, ChatError, ChatService};
use crate::services::shop::ShopService;
use crate::services::staff::StaffUser;
use crate::services::subscribers::Subscriber;
use crate::services::visitors::Visitor;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// The subscriber's cursor name (never change it).
pub const SUBSCRIBER: &str = "analytics";

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error(transparent)]
    Invalid(#[from] ReportInputError),
    #[error("this conversation is not finished, or was rated already")]
    NotRatable,
    #[error("you may not see these numbers")]
    Forbidden,
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error("store: {0}")]
    Records(#[from] RepoError),
    #[error("unreadable facts: {0}")]
    Facts(#[from] serde_json::Error),
}

/// What a caller may see: everything, some agents' rows, or the knowledge numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    All,
    Agents {
        agents: HashSet<String>,
        /// Chats no agent took (bot-only, abandoned): supervisors see them.
        unassigned: bool,
    },
    Knowledge,
}

impl Scope {
    fn admits(&self, agent_id: &str) -> bool {
        match self {
            Scope::All | Scope::Knowledge => true,
            Scope::Agents { agents, unassigned } => {
                agents.contains(agent_id) || (*unassigned && agent_id.is_empty())
            }
        }
    }

    fn metrics(&self) -> Vec<&'static MetricDef> {
        METRICS
            .iter()
            .filter(|d| *self != Scope::Knowledge || d.kb)
            .collect()
    }
}

/// Filters of a report, already parsed.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub channel: Option<String>,
    pub agent_id: Option<String>,
    pub group_id: Option<String>,
    /// A source's name, or empty for the chats not opened from a visit
    /// (`domain::analytics::parse_source_filter`).
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub key: String,
    pub label: String,
    /// The second dimension's key and label, in a report by two.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub then_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub then_label: Option<String>,
    pub values: BTreeMap<&'static str, Option<f64>>,
}

impl Row {
    pub fn new(key: String, label: String, values: BTreeMap<&'static str, Option<f64>>) -> Self {
        Self {
            key,
            label,
            then_key: None,
            then_label: None,
            values,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub dimension: Dimension,
    /// The second dimension (agent × day: `dimension` agent, `then` day).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub then: Option<Dimension>,
    pub metrics: Vec<&'static str>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub period: Period,
    pub from: String,
    pub to: String,
    pub scope: &'static str,
    pub totals: BTreeMap<&'static str, Option<f64>>,
    pub handoff_reasons: BTreeMap<String, i64>,
    pub agents: Vec<Row>,
    pub days: Vec<Row>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CsatState {
    pub can_rate: bool,
    pub rated: bool,
}

pub struct AnalyticsService {
    records: Arc<dyn AnalyticsRecords>,
    ratings: Arc<dyn CsatRatings>,
    clock: Arc<dyn Clock>,
    rollups: Rollups,
    chat: Arc<ChatService>,
    /// The shop's catalogue, for the titles of a report's products.
    commerce: Option<Arc<dyn Commerce>>,
}

/// A report by product names at most this many products by their title
/// (one catalogue look-up each); the others by their sku.
const TITLED_PRODUCTS: usize = 500;

/// The visitor funnel of a range (`domain::funnel`).
pub struct FunnelReport {
    /// A line per source, then the total.
    pub rows: Vec<FunnelRow>,
    /// The most visited campaigns.
    pub campaigns: Vec<CampaignRow>,
    /// Every day of the range, every source together.
    pub days: Vec<FunnelDay>,
}

/// Folds events into facts and rollups (the subscriber's work, and the
/// rebuild's, which needs no chat service).
pub struct Rollups {
    records: Arc<dyn AnalyticsRecords>,
    /// The outbox a rebuild replays.
    events: Arc<dyn EventStream>,
    clock: Arc<dyn Clock>,
    shop: Arc<ShopService>,
}

/// The rollup counters of the rows a report reads, with their queue waits.
struct Selected {
    rows: Vec<RollupRow>,
    waits: Vec<WaitRow>,
}

impl AnalyticsService {
    pub fn new<R>(
        records: Arc<R>,
        clock: Arc<dyn Clock>,
        shop: Arc<ShopService>,
        chat: Arc<ChatService>,
    ) -> AnalyticsService
    where
        R: AnalyticsRecords + CsatRatings + EventStream + 'static,
    {
        AnalyticsService {
            rollups: Rollups::new(records.clone(), clock.clone(), shop),
            ratings: records.clone(),
            records,
            clock,
            chat,
            commerce: None,
        }
    }

    /// Names a report's products by their titles in the shop's catalogue.
    pub fn with_catalogue(mut self, commerce: Arc<dyn Commerce>) -> Self {
        self.commerce = Some(commerce);
        self
    }

    /// A product's title in the catalogue, or its sku (a product gone from
    /// the catalogue, or a catalogue that did not answer).
    async fn product_label(&self, sku: &str) -> String {
        let (Some(commerce), Ok(parsed)) = (&self.commerce, Sku::parse(sku)) else {
            return sku.to_owned();
        };
        match commerce.product(&parsed).await {
            Ok(Some(product)) => product.title,
            Ok(None) => sku.to_owned(),
            Err(error) => {
                tracing::warn!(%error, "no product title for a report");
                sku.to_owned()
            }
        }
    }

    pub async fn fold(&self, event: &DomainEvent) -> Result<(), AnalyticsError> {
        self.rollups.fold(event).await
    }

    pub async fn fold_batch(&self, events: &[DomainEvent]) -> Result<(), AnalyticsError> {
        self.rollups.fold_batch(events).await
    }

    /// Whether the buyer may rate this conversation now (finished, not rated).
    pub async fn csat_state(
        &self,
        visitor: &Visitor,
        id: &ConversationId,
    ) -> Result<CsatState, AnalyticsError> {
        let view = self.chat.visible(Actor::Buyer(visitor), id).await?;
        let rated = self.ratings.is_rated(id.as_str()).await?;
        let finished = matches!(
            view.state,
            ConversationState::Resolved | ConversationState::Closed
        );
        Ok(CsatState {
            can_rate: finished && !rated,
            rated,
        })
    }

    /// The buyer's one rating of a finished conversation.
    pub async fn rate(
        &self,
        visitor: &Visitor,
        id: &ConversationId,
        rating: CsatRating,
    ) -> Result<(), AnalyticsError> {
        if !self.csat_state(visitor, id).await?.can_rate {
            return Err(AnalyticsError::NotRatable);
        }
        let event = NewEvent {
            id: format!("evt_csat_{}", id.as_str()),
            conversation_id: Some(id.as_str().to_owned()),
            seq: None,
            data: EventData::CsatRated {
                stars: rating.stars,
            },
            created_at: self.clock.now_ms(),
        };
        let tags = serde_json::to_string(&rating.tags)?;
        match self
            .ratings
            .rate(
                id.as_str(),
                rating.stars,
                &tags,
                rating.comment.as_deref(),
                &event,
            )
            .await
        {
            Err(RepoError::AlreadyExists) => Err(AnalyticsError::NotRatable),
            other => Ok(other?),
        }
    }

    /// The standard report of the day, week or month that holds `date`
    /// (today in the shop's time zone when None).
    pub async fn summary(
        &self,
        staff: &StaffUser,
        period: Period,
        date: Option<chrono::NaiveDate>,
        filters: Filters,
    ) -> Result<Summary, AnalyticsError> {
        let date = match date {
            Some(date) => date,
            None => {
                let offset = self.rollups.shop.current().await.utc_offset_minutes;
                parse_day(&local_day(self.clock.now_ms(), offset))?
            }
        };
        let range = DayRange::period(period, date);
        let scope = self.scope(staff, &filters).await?;
        let metrics = scope.metrics();
        let by = RollupGrouping {
            day: true,
            channel: filters.channel.is_some(),
            agent: true,
            source: filters.source.is_some(),
            ..RollupGrouping::default()
        };
        let selected = self.select(&range, &scope, &filters, by, &metrics).await?;
        let totals = totals_of(&selected, |_| true);
        let names: HashMap<String, String> =
            self.records.staff_names().await?.into_iter().collect();
        let mut agents: Vec<&str> = selected
            .rows
            .iter()
            .map(|r| r.2.as_str())
            .filter(|a| !a.is_empty() && scope != Scope::Knowledge)
            .collect();
        agents.sort();
        agents.dedup();
        let qa = self.qa_scores(&range).await?;
        let by_agent = grouped_totals(&selected, |row| vec![row.agent.to_owned()]);
        let by_day = grouped_totals(&selected, |row| vec![row.day.to_owned()]);
        let agents = agents
            .into_iter()
            .map(|agent| {
                let mut row_values =
                    values(&by_agent.get(agent).cloned().unwrap_or_default(), &metrics);
                row_values.insert("qa_score", qa.get(agent).copied());
                let label = names
                    .get(agent)
                    .cloned()
                    .unwrap_or_else(|| agent.to_owned());
                Row::new(agent.to_owned(), label, row_values)
            })
            .collect();
        let days = range
            .days()
            .map(|d| d.to_string())
            .map(|day| {
                let values = values(&by_day.get(&day).cloned().unwrap_or_default(), &metrics);
                Row::new(day.clone(), day, values)
            })
            .collect();
        Ok(Summary {
            period,
            from: range.from.to_string(),
            to: range.to.to_string(),
            scope: scope_name(staff.role),
            handoff_reasons: totals.handoff_reasons(),
            totals: values(&totals, &metrics),
            agents,
            days,
        })
    }

    /// Each agent's average quality-inspection (质检) score over the scored
    /// reviews of conversations started in the range.
    async fn qa_scores(&self, range: &DayRange) -> Result<HashMap<String, f64>, AnalyticsError> {
        let totals = self
            .records
            .qa_totals(&range.from.to_string(), &range.to.to_string())
            .await?;
        Ok(totals
            .into_iter()
            .filter(|(_, _, n)| *n > 0)
            .map(|(agent, sum, n)| (agent, sum as f64 / n as f64))
            .collect())
    }

    /// A custom report: the metrics asked for, grouped by one dimension or by
    /// two (a row per pair that has data, ordered by the first then the second).
    pub async fn report(
        &self,
        staff: &StaffUser,
        range: DayRange,
        metrics: Vec<&'static MetricDef>,
        (dimension, then): (Dimension, Option<Dimension>),
        filters: Filters,
    ) -> Result<Report, AnalyticsError> {
        let scope = self.scope(staff, &filters).await?;
        if scope == Scope::Knowledge && metrics.iter().any(|m| !m.kb) {
            return Err(AnalyticsError::Forbidden);
        }
        let about_people = |d: Dimension| matches!(d, Dimension::Agent | Dimension::Group);
        if scope == Scope::Knowledge && (about_people(dimension) || then.is_some_and(about_people))
        {
            return Err(AnalyticsError::Forbidden);
        }
        let uses = |wanted: &[Dimension]| {
            wanted.contains(&dimension) || then.is_some_and(|d| wanted.contains(&d))
        };
        // Only the hourly counters are kept per hour, and not per source.
        let by_hour = uses(&[Dimension::Hour]);
        if by_hour
            && (!metrics.iter().all(|m| m.by_hour())
                || uses(&[Dimension::Source])
                || filters.source.is_some())
        {
            return Err(AnalyticsError::Invalid(ReportInputError::NotByHour));
        }
        // The topic rollups keep the conversation counters of one kind per
        // day, shop-wide (`domain::analytics::topic_contribution`): for the
        // callers who see the whole shop, by day, week or month at most.
        let topic = dimension.topic().or(then.and_then(Dimension::topic));
        if topic.is_some() {
            if matches!(scope, Scope::Agents { .. }) {
                return Err(AnalyticsError::Forbidden);
            }
            let shop_wide = |d: Dimension| {
                d.topic().is_some()
                    || matches!(d, Dimension::Day | Dimension::Week | Dimension::Month)
            };
            let filtered = filters.channel.is_some()
                || filters.agent_id.is_some()
                || filters.group_id.is_some()
                || filters.source.is_some();
            if !metrics.iter().all(|m| m.by_topic())
                || !shop_wide(dimension)
                || !then.is_none_or(shop_wide)
                || filtered
            {
                return Err(AnalyticsError::Invalid(ReportInputError::NotByTopic));
            }
        }
        // Only the columns a key or a filter needs are kept apart; the database
        // adds up the rest.
        let by = RollupGrouping {
            day: uses(&[Dimension::Day, Dimension::Week, Dimension::Month]),
            channel: uses(&[Dimension::Channel]) || filters.channel.is_some(),
            agent: uses(&[Dimension::Agent, Dimension::Group])
                || matches!(scope, Scope::Agents { .. })
                || filters.agent_id.is_some()
                || filters.group_id.is_some(),
            source: uses(&[Dimension::Source]) || filters.source.is_some(),
            hour: by_hour,
            topic,
        };
        let selected = self.select(&range, &scope, &filters, by, &metrics).await?;
        let first = Keying::new(self.dimension_keys(&selected, dimension).await?, dimension);
        let second = match then {
            Some(d) => Some(Keying::new(self.dimension_keys(&selected, d).await?, d)),
            None => None,
        };
        let mut grouped = grouped_totals(&selected, |row| {
            let firsts = first.keys_of(row);
            match &second {
                None => firsts,
                Some(second) => {
                    let seconds = second.keys_of(row);
                    firsts
                        .iter()
                        .flat_map(|a| seconds.iter().map(move |b| pair_key(a, b)))
                        .collect()
                }
            }
        });
        let mut rows = Vec::new();
        for (key, (label, _)) in &first.keys {
            let Some(second) = &second else {
                let values = values(&grouped.remove(key).unwrap_or_default(), &metrics);
                rows.push(Row::new(key.clone(), label.clone(), values));
                continue;
            };
            for (then_key, (then_label, _)) in &second.keys {
                // Only the pairs with data: a year of agents × days is mostly empty.
                let Some(totals) = grouped.remove(&pair_key(key, then_key)) else {
                    continue;
                };
                let mut row = Row::new(key.clone(), label.clone(), values(&totals, &metrics));
                row.then_key = Some(then_key.clone());
                row.then_label = Some(then_label.clone());
                rows.push(row);
            }
        }
        Ok(Report {
            from: range.from.to_string(),
            to: range.to.to_string(),
            dimension,
            then,
            metrics: metrics.iter().map(|m| m.key).collect(),
            rows,
        })
    }

    /// Row keys of a dimension with their labels (and, for agents and groups,
    /// the agent ids each row adds up).
    async fn dimension_keys(
        &self,
        selected: &Selected,
        dimension: Dimension,
    ) -> Result<BTreeMap<String, (String, HashSet<String>)>, AnalyticsError> {
        let mut keys: BTreeMap<String, (String, HashSet<String>)> = BTreeMap::new();
        match dimension {
            Dimension::Day | Dimension::Week | Dimension::Month | Dimension::Channel => {
                for r in &selected.rows {
                    let key = match dimension {
                        Dimension::Channel => r.1.clone(),
                        _ => dimension.bucket(&r.0),
                    };
                    keys.entry(key.clone()).or_insert((key, HashSet::new()));
                }
            }
            Dimension::Hour => {
                for r in &selected.rows {
                    keys.entry(r.3.clone())
                        .or_insert((format!("{}:00", r.3), HashSet::new()));
                }
            }
            Dimension::Intent | Dimension::Category | Dimension::Product => {
                // The console names the intents in the reader's language; a
                // category is the shop's own path; a product has its title.
                for r in &selected.rows {
                    let key = topic_row_key(&r.3);
                    keys.entry(key.to_owned())
                        .or_insert((key.to_owned(), HashSet::new()));
                }
                if dimension == Dimension::Product {
                    for (key, (label, _)) in keys.iter_mut().take(TITLED_PRODUCTS) {
                        if key != "none" {
                            *label = self.product_label(key).await;
                        }
                    }
                }
            }
            Dimension::Source => {
                // A source with visits but no chat has no conversation row.
                for r in selected
                    .rows
                    .iter()
                    .filter(|r| !funnel::is_visit_counter(&r.4))
                {
                    let key = source_row_key(&r.3);
                    // The console names the sources in the reader's language.
                    keys.entry(key.to_owned())
                        .or_insert((key.to_owned(), HashSet::new()));
                }
            }
            Dimension::Agent => {
                let names: HashMap<String, String> =
                    self.records.staff_names().await?.into_iter().collect();
                for r in &selected.rows {
                    let label = match names.get(&r.2) {
                        Some(name) => name.clone(),
                        None if r.2.is_empty() => "-".to_owned(),
                        None => r.2.clone(),
                    };
                    keys.entry(r.2.clone())
                        .or_insert((label, HashSet::from([r.2.clone()])));
                }
            }
            Dimension::Group => {
                let present: HashSet<&str> = selected.rows.iter().map(|r| r.2.as_str()).collect();
                for (group, name, agent) in self.records.group_memberships().await? {
                    if present.contains(agent.as_str()) {
                        keys.entry(group)
                            .or_insert((name, HashSet::new()))
                            .1
                            .insert(agent);
                    }
                }
            }
        }
        Ok(keys)
    }

    /// Who may see what. An agent sees only their own numbers; a supervisor
    /// the agents of their skill groups (and chats no agent took); an admin
    /// everything; a knowledge manager the knowledge-base numbers. A filter
    /// naming an agent outside the scope is refused, not silently emptied.
    /// The visitor funnel of the range's days (`domain::funnel`): a line per
    /// source, then the total. Admins only: the shop's traffic and sales are
    /// no team's own numbers.
    /// With it, the range day by day (every source together), for the chart.
    pub async fn funnel(
        &self,
        staff: &StaffUser,
        range: &DayRange,
    ) -> Result<FunnelReport, AnalyticsError> {
        if staff.role != Role::Admin {
            return Err(AnalyticsError::Forbidden);
        }
        let (from, to) = (range.from.to_string(), range.to.to_string());
        let by_day = RollupGrouping {
            day: true,
            ..RollupGrouping::default()
        };
        let mut sums: BTreeMap<String, i64> = BTreeMap::new();
        let mut days: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        for (day, _, _, _, counter, value) in self
            .records
            .rollup_sums((&from, &to), by_day, (None, None))
            .await?
        {
            if funnel::is_funnel_counter(&counter) {
                *sums.entry(counter.clone()).or_default() += value;
                *days.entry(day).or_default().entry(counter).or_default() += value;
            }
        }
        let every_day = range.days().map(|d| d.to_string());
        Ok(FunnelReport {
            rows: funnel::funnel(&sums),
            campaigns: funnel::campaigns(&sums),
            days: funnel::by_day(every_day, &days),
        })
    }

    async fn scope(&self, staff: &StaffUser, filters: &Filters) -> Result<Scope, AnalyticsError> {
        let scope = match staff.role {
            Role::Admin => Scope::All,
            Role::KnowledgeManager => Scope::Knowledge,
            Role::Agent => Scope::Agents {
                agents: HashSet::from([staff.id.clone()]),
                unassigned: false,
            },
            Role::Supervisor => {
                let memberships = self.records.group_memberships().await?;
                let mine: HashSet<&str> = memberships
                    .iter()
                    .filter(|(_, _, a)| *a == staff.id)
                    .map(|(g, _, _)| g.as_str())
                    .collect();
                let mut agents: HashSet<String> = memberships
                    .iter()
                    .filter(|(g, _, _)| mine.contains(g.as_str()))
                    .map(|(_, _, a)| a.clone())
                    .collect();
                agents.insert(staff.id.clone());
                Scope::Agents {
                    agents,
                    unassigned: true,
                }
            }
        };
        if let Some(agent) = &filters.agent_id
            && (scope == Scope::Knowledge || !scope.admits(agent))
        {
            return Err(AnalyticsError::Forbidden);
        }
        Ok(scope)
    }

    /// The agents of the group a filter names (None: no group filter).
    async fn group_members(
        &self,
        filters: &Filters,
    ) -> Result<Option<HashSet<String>>, AnalyticsError> {
        let Some(g) = &filters.group_id else {
            return Ok(None);
        };
        Ok(Some(
            self.records
                .group_memberships()
                .await?
                .into_iter()
                .filter(|(id, _, _)| id == g)
                .map(|(_, _, a)| a)
                .collect(),
        ))
    }

    /// The rollups (summed over the columns `by` leaves out) and, when a
    /// metric needs them, the queue waits that the scope and filters admit.
    /// Every column a filter or the scope looks at must be kept in `by`.
    async fn select(
        &self,
        range: &DayRange,
        scope: &Scope,
        filters: &Filters,
        by: RollupGrouping,
        metrics: &[&'static MetricDef],
    ) -> Result<Selected, AnalyticsError> {
        let (from, to) = (range.from.to_string(), range.to.to_string());
        let group = self.group_members(filters).await?;
        let keep = |channel: &str, agent: &str, source: &str| {
            scope.admits(agent)
                && filters.channel.as_deref().is_none_or(|c| c == channel)
                && filters.source.as_deref().is_none_or(|s| s == source)
                && filters.agent_id.as_deref().is_none_or(|a| a == agent)
                && group.as_ref().is_none_or(|g| g.contains(agent))
        };
        let mut rows: Vec<RollupRow> = self
            .records
            .rollup_sums(
                (&from, &to),
                by,
                (filters.channel.as_deref(), filters.source.as_deref()),
            )
            .await?
            .into_iter()
            .filter(|r| keep(&r.1, &r.2, &r.3))
            .collect();
        // Agent time belongs to no channel, source or topic: a report by or
        // of one has none.
        if metrics.iter().any(|m| m.agent_time()) && !by.channel && !by.source && by.topic.is_none()
        {
            rows.extend(
                self.agent_time(range, by, |agent| keep("", agent, ""))
                    .await?,
            );
        }
        let waits = match needs_waits(metrics) {
            true => self
                .records
                .queue_wait_rows(&from, &to)
                .await?
                .into_iter()
                .filter(|w| keep(&w.1, &w.2, &w.3))
                .collect(),
            false => Vec::new(),
        };
        Ok(Selected { rows, waits })
    }

    /// Agent time counters (domain::agent_time) of the agents `admit` lets
    /// through, per day and agent as `by` keeps them apart, as rollup rows of
    /// no channel. The range ends now at the latest.
    async fn agent_time(
        &self,
        range: &DayRange,
        by: RollupGrouping,
        admit: impl Fn(&str) -> bool,
    ) -> Result<Vec<RollupRow>, AnalyticsError> {
        let offset = self.rollups.shop.current().await.utc_offset_minutes;
        let from = agent_time::day_start_ms(range.from, offset);
        let after = range.to.succ_opt().unwrap_or(range.to);
        let to = agent_time::day_start_ms(after, offset).min(self.clock.now_ms());
        if to <= from {
            return Ok(Vec::new());
        }
        let found = self
            .records
            .agent_time(from, to, &range.from.to_string())
            .await?;
        let mut timelines: BTreeMap<String, Timeline> = BTreeMap::new();
        for (agent, status) in found.statuses_before {
            timelines.entry(agent).or_default().status_at_start = status;
        }
        for (agent, chats) in found.chats_before {
            timelines.entry(agent).or_default().chats_at_start = chats;
        }
        for (agent, at, status) in found.statuses {
            timelines
                .entry(agent)
                .or_default()
                .statuses
                .push((at, status));
        }
        for (agent, at, delta) in found.loads {
            timelines.entry(agent).or_default().loads.push((at, delta));
        }
        let limits: HashMap<String, i64> = self.records.chat_limits().await?.into_iter().collect();
        let mut totals: BTreeMap<(String, String, &'static str), i64> = BTreeMap::new();
        for (agent, mut timeline) in timelines.into_iter().filter(|(a, _)| admit(a)) {
            if timeline.status_at_start.is_empty() {
                timeline.status_at_start = "offline".to_owned();
            }
            let limit = limits.get(&agent).copied().unwrap_or(0);
            for (day, time) in agent_time::agent_days(&timeline, from, to, offset) {
                let day = if by.day { day } else { String::new() };
                let agent = if by.agent {
                    agent.clone()
                } else {
                    String::new()
                };
                for (counter, value) in time.counters(limit) {
                    let total = totals
                        .entry((day.clone(), agent.clone(), counter))
                        .or_default();
                    *total = match agent_time::is_peak(counter) {
                        true => (*total).max(value),
                        false => *total + value,
                    };
                }
            }
        }
        Ok(totals
            .into_iter()
            .filter(|(_, v)| *v != 0)
            .map(|((day, agent, counter), value)| {
                (
                    day,
                    String::new(),
                    agent,
                    String::new(),
                    counter.to_owned(),
                    value,
                )
            })
            .collect())
    }
}

impl Rollups {
    pub fn new<R>(records: Arc<R>, clock: Arc<dyn Clock>, shop: Arc<ShopService>) -> Rollups
    where
        R: AnalyticsRecords + EventStream + 'static,
    {
        Rollups {
            events: records.clone(),
            records,
            clock,
            shop,
        }
    }

    /// Folds one event into its conversation's facts and moves the rollups by
    /// the difference. Idempotent: an event at or before the facts' last
    /// position changes nothing.
    pub async fn fold(&self, event: &DomainEvent) -> Result<(), AnalyticsError> {
        self.fold_batch(std::slice::from_ref(event)).await
    }

    /// Folds a run of events (in position order) as `fold` does one by one,
    /// with one read of each conversation's facts and one write for all of
    /// them: each conversation's facts move through its events in memory, and
    /// the rollups by the difference between its first and last state (the
    /// per-event differences add up to it). Presence and visit events are
    /// written as they come.
    pub async fn fold_batch(&self, events: &[DomainEvent]) -> Result<(), AnalyticsError> {
        let mut folding: Vec<Folding> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut offset = None;
        for event in events {
            if let EventData::PresenceChanged { agent_id, status } = &event.data {
                self.records
                    .keep_presence(event.position, agent_id, status, event.created_at)
                    .await?;
                continue;
            }
            if let EventData::VisitStarted { visit_id, .. }
            | EventData::VisitEnded { visit_id, .. } = &event.data
            {
                self.fold_visit(event, visit_id).await?;
                continue;
            }
            let Some(conversation_id) = event.conversation_id.as_deref() else {
                continue;
            };
            if !counts(&event.data) {
                continue;
            }
            let at = match index.get(conversation_id) {
                Some(at) => *at,
                None => {
                    let stored = self.records.facts_of(conversation_id).await?;
                    folding.push(Folding::from_stored(conversation_id, stored)?);
                    index.insert(conversation_id.to_owned(), folding.len() - 1);
                    folding.len() - 1
                }
            };
            let conversation = &mut folding[at];
            if event.position <= conversation.last_position {
                continue;
            }
            let reason = match &event.data {
                EventData::HandedOff {
                    packet_id: Some(id),
                } => self.records.handoff_reason(id).await?,
                _ => None,
            };
            let offset = match offset {
                Some(offset) => offset,
                None => *offset.insert(self.shop.current().await.utc_offset_minutes),
            };
            conversation.apply(event, reason.as_deref(), offset);
        }
        let saves = folding
            .into_iter()
            .filter_map(Folding::into_save)
            .collect::<Result<Vec<_>, _>>()?;
        if !saves.is_empty() {
            self.records.save_facts(&saves, self.clock.now_ms()).await?;
        }
        Ok(())
    }

    /// Folds a visit event into the visit's tally and moves the funnel's
    /// rollup counters (on the day the visit started) by the difference;
    /// idempotent like `fold`.
    async fn fold_visit(&self, event: &DomainEvent, visit_id: &str) -> Result<(), AnalyticsError> {
        let stored = self.records.visit_tally(visit_id).await?;
        if stored
            .as_ref()
            .is_some_and(|(position, _)| event.position <= *position)
        {
            return Ok(());
        }
        let mut tally: VisitTally = match &stored {
            Some((_, json)) => serde_json::from_str(json)?,
            None => VisitTally::default(),
        };
        let before = stored.is_some().then(|| tally.contribution());
        let started_at = match &event.data {
            EventData::VisitEnded { started_at, .. } => *started_at,
            _ => event.created_at,
        };
        let offset = self.shop.current().await.utc_offset_minutes;
        tally.apply(&event.data, &local_day(started_at, offset));
        let after = tally.contribution();
        self.records
            .save_visit_tally(
                visit_id,
                event.position,
                &serde_json::to_string(&tally)?,
                &deltas(before, after),
            )
            .await?;
        Ok(())
    }

    /// Rebuilds every fact and rollup from the outbox. Returns the events read.
    pub async fn rebuild(&self) -> Result<usize, AnalyticsError> {
        let head = self.events.head().await?;
        self.records.reset_rollups(SUBSCRIBER, head).await?;
        let (mut position, mut read) = (0, 0);
        while position < head {
            let batch = self.events.after(position, 512).await?;
            let Some(last) = batch.last().map(|e| e.position) else {
                break;
            };
            let upto: Vec<DomainEvent> = batch.into_iter().filter(|e| e.position <= head).collect();
            self.fold_batch(&upto).await?;
            read += upto.len();
            position = last;
        }
        Ok(read)
    }
}

fn scope_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "all",
        Role::Supervisor => "groups",
        Role::Agent => "own",
        Role::KnowledgeManager => "knowledge",
    }
}

/// The events analytics folds (notes, visitor and ticket events are not its
/// business; a conversion is).
/// One conversation's facts while a run of events folds into them.
struct Folding {
    conversation_id: String,
    /// The last position of the facts as kept (None: none were).
    read_position: Option<i64>,
    /// The last event folded (stored or in this run).
    last_position: i64,
    facts: Facts,
    /// The contributions as stored, before the run.
    before: Option<(RollupKey, Contribution)>,
    hourly_before: Option<(RollupKey, String, Contribution)>,
    topics_before: Vec<TopicContribution>,
    loads: Vec<LoadChange>,
    /// Whether an event of the run was folded.
    moved: bool,
}

impl Folding {
    fn from_stored(
        conversation_id: &str,
        stored: Option<FactsRecord>,
    ) -> Result<Folding, AnalyticsError> {
        let facts: Facts = match &stored {
            Some(row) => serde_json::from_str(&row.facts)?,
            None => Facts::default(),
        };
        let present = stored.is_some();
        Ok(Folding {
            conversation_id: conversation_id.to_owned(),
            read_position: stored.as_ref().map(|r| r.last_position),
            last_position: stored.as_ref().map_or(i64::MIN, |r| r.last_position),
            before: present.then(|| contribution(&facts)),
            hourly_before: present.then(|| hourly_contribution(&facts)).flatten(),
            topics_before: if present {
                topic_contribution(&facts)
            } else {
                Vec::new()
            },
            facts,
            loads: Vec::new(),
            moved: false,
        })
    }

    /// Folds one later event of this conversation.
    fn apply(&mut self, event: &DomainEvent, reason: Option<&str>, offset: i32) {
        let facts = &mut self.facts;
        let held_before = facts
            .holder()
            .filter(|_| facts.load_counted)
            .map(str::to_owned);
        let day = local_day(event.created_at, offset);
        facts.apply(event.created_at, &event.data, reason, &day);
        if facts.start_hour.is_none() || matches!(event.data, EventData::ConversationStarted { .. })
        {
            facts.start_hour = Some(local_hour(facts.started_at, offset));
        }
        self.loads.extend(
            load_changes(held_before.as_deref(), facts.holder())
                .into_iter()
                .map(|(agent_id, delta)| LoadChange {
                    position: event.position,
                    agent_id,
                    delta,
                    at: event.created_at,
                    day: day.clone(),
                }),
        );
        facts.load_counted = facts.holder().is_some();
        self.last_position = event.position;
        self.moved = true;
    }

    /// The write that takes the stored facts and rollups to where the run
    /// left them; none when no event of the run was folded.
    fn into_save(self) -> Option<Result<FactsSave, AnalyticsError>> {
        if !self.moved {
            return None;
        }
        let after = contribution(&self.facts);
        let hourly = hour_deltas(self.hourly_before, hourly_contribution(&self.facts));
        let topics = topic_deltas(self.topics_before, topic_contribution(&self.facts));
        let json = match serde_json::to_string(&self.facts) {
            Ok(json) => json,
            Err(error) => return Some(Err(error.into())),
        };
        let facts = FactsRecord {
            conversation_id: self.conversation_id,
            day: after.0.day.clone(),
            channel: after.0.channel.clone(),
            agent_id: after.0.agent_id.clone(),
            source: after.0.source.clone(),
            queue_wait_ms: self.facts.queue_wait_ms(),
            last_position: self.last_position,
            first_buyer_at: self.facts.first_buyer_at,
            facts: json,
        };
        Some(Ok(FactsSave {
            read_position: self.read_position,
            facts,
            rollups: deltas(self.before, after),
            hourly,
            topics,
            loads: self.loads,
        }))
    }
}

fn counts(data: &EventData) -> bool {
    !matches!(
        data,
        EventData::NoteAdded { .. }
            | EventData::VisitorUpdated { .. }
            | EventData::TicketCreated { .. }
            | EventData::TicketUpdated { .. }
            | EventData::TicketStateChanged { .. }
            | EventData::TicketCommented { .. }
            | EventData::TicketEscalated { .. }
            | EventData::TicketNotified { .. }
    )
}

/// Who stops and who starts holding a chat when its holder goes from
/// `before` to `after`: -1 and +1 (nothing when it stays with the same agent).
fn load_changes(before: Option<&str>, after: Option<&str>) -> Vec<(String, i64)> {
    if before == after {
        return Vec::new();
    }
    before
        .map(|a| (a.to_owned(), -1))
        .into_iter()
        .chain(after.map(|a| (a.to_owned(), 1)))
        .collect()
}

/// The counter changes that take a conversation from `before` to `after`.
fn deltas(
    before: Option<(RollupKey, Contribution)>,
    after: (RollupKey, Contribution),
) -> Vec<RollupDelta> {
    let mut out: BTreeMap<(RollupKey, String), i64> = BTreeMap::new();
    if let Some((key, counters)) = before {
        for (counter, v) in counters {
            *out.entry((key.clone(), counter)).or_default() -= v;
        }
    }
    let (key, counters) = after;
    for (counter, v) in counters {
        *out.entry((key.clone(), counter)).or_default() += v;
    }
    out.into_iter()
        .filter(|(_, d)| *d != 0)
        .map(|((key, counter), delta)| RollupDelta {
            day: key.day,
            channel: key.channel,
            agent_id: key.agent_id,
            source: key.source,
            counter,
            delta,
        })
        .collect()
}

/// The hourly counter changes that take a conversation from `before` to
/// `after` (either may be missing: facts from before the hour was kept).
fn hour_deltas(
    before: Option<(RollupKey, String, Contribution)>,
    after: Option<(RollupKey, String, Contribution)>,
) -> Vec<HourDelta> {
    let mut out: BTreeMap<(RollupKey, String, String), i64> = BTreeMap::new();
    for (sign, side) in [(-1, before), (1, after)] {
        let Some((key, hour, counters)) = side else {
            continue;
        };
        for (counter, v) in counters {
            *out.entry((key.clone(), hour.clone(), counter)).or_default() += sign * v;
        }
    }
    out.into_iter()
        .filter(|(_, d)| *d != 0)
        .map(|((key, hour, counter), delta)| HourDelta {
            day: key.day,
            channel: key.channel,
            agent_id: key.agent_id,
            hour,
            counter,
            delta,
        })
        .collect()
}

/// The topic counter changes that take a conversation from `before` to
/// `after` (`before` empty: a new conversation).
fn topic_deltas(before: Vec<TopicContribution>, after: Vec<TopicContribution>) -> Vec<TopicDelta> {
    let mut out: BTreeMap<(String, TopicKind, String, String), i64> = BTreeMap::new();
    for (sign, side) in [(-1, before), (1, after)] {
        for (day, kind, topic, counters) in side {
            for (counter, v) in counters {
                *out.entry((day.clone(), kind, topic.clone(), counter))
                    .or_default() += sign * v;
            }
        }
    }
    out.into_iter()
        .filter(|(_, d)| *d != 0)
        .map(|((day, kind, topic, counter), delta)| TopicDelta {
            day,
            kind: kind.as_str(),
            topic,
            counter,
            delta,
        })
        .collect()
}

fn totals_of(selected: &Selected, keep: impl Fn(&RollupRow) -> bool) -> Totals {
    let mut totals = Totals::default();
    for row in selected.rows.iter().filter(|r| keep(r)) {
        totals.add(&row.4, row.5);
    }
    totals.queue_waits = selected
        .waits
        .iter()
        .filter(|(day, channel, agent, source, _)| {
            keep(&(
                day.clone(),
                channel.clone(),
                agent.clone(),
                source.clone(),
                String::new(),
                0,
            ))
        })
        .map(|w| w.4)
        .collect();
    totals.queue_waits.sort_unstable();
    totals
}

/// The row keys of one dimension and how a rollup row maps to them.
struct Keying {
    dimension: Dimension,
    keys: BTreeMap<String, (String, HashSet<String>)>,
    /// For agents and groups: the keys each agent id counts under.
    of_agent: HashMap<String, Vec<String>>,
}

impl Keying {
    fn new(keys: BTreeMap<String, (String, HashSet<String>)>, dimension: Dimension) -> Self {
        let mut of_agent: HashMap<String, Vec<String>> = HashMap::new();
        for (key, (_, agents)) in &keys {
            for agent in agents {
                of_agent.entry(agent.clone()).or_default().push(key.clone());
            }
        }
        Self {
            dimension,
            keys,
            of_agent,
        }
    }

    fn keys_of(&self, row: &RowKey) -> Vec<String> {
        match self.dimension {
            Dimension::Day | Dimension::Week | Dimension::Month => {
                vec![self.dimension.bucket(row.day)]
            }
            Dimension::Channel => vec![row.channel.to_owned()],
            Dimension::Source => vec![source_row_key(row.split).to_owned()],
            Dimension::Hour => vec![row.split.to_owned()],
            Dimension::Intent | Dimension::Category | Dimension::Product => {
                vec![topic_row_key(row.split).to_owned()]
            }
            Dimension::Agent | Dimension::Group => {
                self.of_agent.get(row.agent).cloned().unwrap_or_default()
            }
        }
    }
}

/// The columns of a rollup or queue-wait row a report key is made from.
struct RowKey<'a> {
    day: &'a str,
    channel: &'a str,
    agent: &'a str,
    /// The source or the hour, as the rollups read keep apart ([`RollupRow`]).
    split: &'a str,
}

/// A report row's key for a source as the rollups keep it ("none" for '').
fn source_row_key(source: &str) -> &str {
    if source.is_empty() { "none" } else { source }
}

/// A report row's key for an intent, category or product ("none" for '':
/// not known). No intent, category path or sku is named "none".
fn topic_row_key(topic: &str) -> &str {
    if topic.is_empty() { "none" } else { topic }
}

/// One key for a pair of dimension keys (the unit separator never occurs in
/// ids, days or channel names).
fn pair_key(first: &str, second: &str) -> String {
    format!("{first}\u{1f}{second}")
}

/// Adds the selected rows up per report key in one pass (a report reads a
/// year of rollups: no pass over all of them per key). A row may count under
/// several keys (an agent in several groups) or none.
fn grouped_totals(
    selected: &Selected,
    keys_of: impl Fn(&RowKey) -> Vec<String>,
) -> HashMap<String, Totals> {
    let mut out: HashMap<String, Totals> = HashMap::new();
    for (day, channel, agent, split, counter, value) in &selected.rows {
        let row = RowKey {
            day,
            channel,
            agent,
            split,
        };
        for key in keys_of(&row) {
            out.entry(key).or_default().add(counter, *value);
        }
    }
    for (day, channel, agent, source, wait) in &selected.waits {
        let row = RowKey {
            day,
            channel,
            agent,
            split: source,
        };
        for key in keys_of(&row) {
            out.entry(key).or_default().queue_waits.push(*wait);
        }
    }
    for totals in out.values_mut() {
        totals.queue_waits.sort_unstable();
    }
    out
}

/// Whether any of the metrics is a queue-wait percentile (read from the facts
/// rows, one per conversation, rather than from the rollups).
fn needs_waits(metrics: &[&'static MetricDef]) -> bool {
    metrics
        .iter()
        .any(|m| matches!(m.formula, Formula::QueueWait(_)))
}

fn values(totals: &Totals, metrics: &[&'static MetricDef]) -> BTreeMap<&'static str, Option<f64>> {
    metrics.iter().map(|m| (m.key, totals.metric(m))).collect()
}

/// The columns of the conversation export after its own (conversation, day,
/// channel, agent, start, hand-off reason): (column, counter of the
/// conversation's [`contribution`], the count it needs). Its rows therefore
/// add up to the reports exactly. A duration or rating is left empty when the
/// count it belongs to is zero (never taken, never answered, not resolved,
/// not rated).
const DRILL_COLUMNS: &[(&str, &str, Option<&str>)] = &[
    ("engaged", "engaged", None),
    ("messages_buyer", "messages_buyer", None),
    ("messages_bot", "messages_bot", None),
    ("messages_agent", "messages_agent", None),
    ("self_service", "self_service", None),
    ("handed_off", "handed_off", None),
    ("handoff_direct", "handoff_direct", None),
    ("queue_wait_ms", "queue_wait_ms", Some("assigned")),
    ("abandoned", "abandoned", None),
    (
        "first_response_ms",
        "first_response_ms",
        Some("first_responses"),
    ),
    ("responses", "responses", None),
    ("response_ms", "response_ms", None),
    ("resolved", "resolved", None),
    ("handle_ms", "handle_ms", Some("resolved")),
    ("reopened", "reopened", None),
    ("transfers", "transfers", None),
    ("csat", "csat_sum", Some("csat_count")),
    ("inquiry", "inquiries", None),
    ("converted_24h", "converted_24h", None),
    ("converted_next_day", "converted_next_day", None),
    ("converted_cents", "converted_cents", None),
    ("answers_helpful", "answers_helpful", None),
    ("answers_unhelpful", "answers_unhelpful", None),
];

/// Conversations read from the database at a time by the export.
const DRILL_PAGE: i64 = 1000;

/// The conversation export (drill-down), page by page so that a year of
/// chats streams with flat memory: what the caller may see of the
/// conversations started on a range of days, one CSV line each.
pub struct DrillDown {
    records: Arc<dyn AnalyticsRecords>,
    scope: Scope,
    group: Option<HashSet<String>>,
    names: HashMap<String, String>,
    from: String,
    to: String,
    filters: Filters,
    after: (String, String),
    utc_offset_minutes: i32,
    header_sent: bool,
    done: bool,
}

impl AnalyticsService {
    /// The conversation export of `range` for `staff`: an agent their own
    /// chats, a supervisor their groups' and the unassigned, an admin all; a
    /// knowledge manager none (it names people).
    pub async fn drill_down(
        &self,
        staff: &StaffUser,
        range: &DayRange,
        filters: Filters,
    ) -> Result<DrillDown, AnalyticsError> {
        let scope = self.scope(staff, &filters).await?;
        if scope == Scope::Knowledge {
            return Err(AnalyticsError::Forbidden);
        }
        let group = self.group_members(&filters).await?;
        Ok(DrillDown {
            records: self.records.clone(),
            scope,
            group,
            names: self.records.staff_names().await?.into_iter().collect(),
            from: range.from.to_string(),
            to: range.to.to_string(),
            filters,
            after: (String::new(), String::new()),
            utc_offset_minutes: self.rollups.shop.current().await.utc_offset_minutes,
            header_sent: false,
            done: false,
        })
    }
}

impl DrillDown {
    /// The next CSV lines (the header first, each line ending in CRLF);
    /// empty once every conversation was read.
    pub async fn next_lines(&mut self) -> Result<String, AnalyticsError> {
        let mut out = String::new();
        if !self.header_sent {
            self.header_sent = true;
            let columns: Vec<&str> = DRILL_COLUMNS.iter().map(|c| c.0).collect();
            out.push_str(&format!(
                "conversation_id,day,channel,agent_id,agent,started_at,handoff_reason,intent,category,product,{}\r\n",
                columns.join(",")
            ));
        }
        while !self.done && out.is_empty() {
            let page = self
                .records
                .facts_page(
                    (&self.from, &self.to),
                    (&self.after.0, &self.after.1),
                    (
                        self.filters.channel.as_deref(),
                        self.filters.agent_id.as_deref(),
                        self.filters.source.as_deref(),
                    ),
                    DRILL_PAGE,
                )
                .await?;
            self.done = (page.len() as i64) < DRILL_PAGE;
            if let Some((id, day, ..)) = page.last() {
                self.after = (day.clone(), id.clone());
            }
            for (id, day, channel, agent, facts) in page {
                let in_group = self.group.as_ref().is_none_or(|g| g.contains(&agent));
                if !self.scope.admits(&agent) || !in_group {
                    continue;
                }
                let facts: Facts = serde_json::from_str(&facts)?;
                out.push_str(&self.line(&id, &day, &channel, &agent, &facts));
            }
        }
        Ok(out)
    }

    fn line(&self, id: &str, day: &str, channel: &str, agent: &str, facts: &Facts) -> String {
        let (_, counters) = contribution(facts);
        let get = |name: &str| counters.get(name).copied().unwrap_or(0);
        let cells: Vec<String> = DRILL_COLUMNS
            .iter()
            .map(|(_, counter, needs)| match needs {
                Some(count) if get(count) == 0 => String::new(),
                _ => get(counter).to_string(),
            })
            .collect();
        let local = facts.started_at + i64::from(self.utc_offset_minutes) * 60_000;
        let started = chrono::DateTime::from_timestamp_millis(local)
            .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let name = self.names.get(agent).map_or(agent, String::as_str);
        let reason = match facts.handed_off_at {
            Some(_) => facts.handoff_reason.as_deref().unwrap_or(BUYER_REQUEST),
            None => "",
        };
        let topic = |t: &Option<String>| csv_cell(t.as_deref().unwrap_or_default());
        format!(
            "{},{},{},{},{},{started},{},{},{},{},{}\r\n",
            csv_cell(id),
            csv_cell(day),
            csv_cell(channel),
            csv_cell(agent),
            csv_cell(name),
            csv_cell(reason),
            topic(&facts.topic.intent),
            topic(&facts.topic.category),
            topic(&facts.topic.product),
            cells.join(",")
        )
    }
}

/// Feeds the event stream into the analytics facts and rollups.
/// A report as CSV lines (each ending in CRLF): the header, then a row per
/// key (the HTTP export streams them; the scheduled mail attaches them).
pub fn csv_lines(report: Report) -> impl Iterator<Item = String> {
    // A report by two dimensions adds the second's key and label columns.
    let then = report
        .then
        .map(|d| format!("{},{}_label,", d.name(), d.name()))
        .unwrap_or_default();
    let header_line = std::iter::once(format!(
        "{},label,{then}{}\r\n",
        report.dimension.name(),
        report.metrics.join(",")
    ));
    let metrics = report.metrics.clone();
    let lines = report.rows.into_iter().map(move |row| {
        let cells: Vec<String> = metrics
            .iter()
            .map(|m| {
                row.values
                    .get(m)
                    .copied()
                    .flatten()
                    .map_or(String::new(), csv_number)
            })
            .collect();
        let then = match (&row.then_key, &row.then_label) {
            (Some(key), Some(label)) => format!("{},{},", csv_cell(key), csv_cell(label)),
            _ => String::new(),
        };
        format!(
            "{},{},{then}{}\r\n",
            csv_cell(&row.key),
            csv_cell(&row.label),
            cells.join(",")
        )
    });
    header_line.chain(lines)
}

pub fn csv_number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{v:.4}")
    }
}

/// Quotes a cell when needed; a leading =, +, - or @ is defused so a
/// spreadsheet never runs it as a formula.
pub fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) && s.len() > 1 {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub struct AnalyticsFeed(pub Arc<AnalyticsService>);

#[async_trait::async_trait]
impl Subscriber for AnalyticsFeed {
    fn name(&self) -> &'static str {
        SUBSCRIBER
    }

    async fn handle(&self, event: &DomainEvent) -> Result<(), String> {
        self.0.fold(event).await.map_err(|e| e.to_string())
    }

    /// One write for a whole read of events; on failure the whole read is
    /// folded again (folding is idempotent by position).
    async fn handle_batch(&self, events: &[DomainEvent]) -> Result<(), (usize, String)> {
        self.0
            .fold_batch(events)
            .await
            .map_err(|e| (0, e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_conversation_moves_its_counters_between_rollup_rows() {
        let key = |agent: &str| RollupKey {
            day: "2026-11-30".into(),
            channel: "web".into(),
            agent_id: agent.into(),
            source: String::new(),
        };
        let before = (
            key(""),
            Contribution::from([("conversations".into(), 1), ("handed_off".into(), 1)]),
        );
        let after = (
            key("a"),
            Contribution::from([("conversations".into(), 1), ("handed_off".into(), 1)]),
        );
        let d = deltas(Some(before), after);
        assert_eq!(d.len(), 4);
        assert!(d.iter().any(|d| d.agent_id.is_empty() && d.delta == -1));
        assert!(d.iter().any(|d| d.agent_id == "a" && d.delta == 1));
        // The same contribution again changes nothing.
        let same = (key("a"), Contribution::from([("conversations".into(), 1)]));
        assert!(deltas(Some(same.clone()), same).is_empty());
    }
}
