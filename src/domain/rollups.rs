//! What the analytics subscriber keeps and what reports read back, in domain
//! terms: a conversation's facts as kept, the counter changes that move the
//! daily, hourly and topic rollups, and the rollup and queue-wait rows a
//! report adds up (`domain::analytics` defines what the counters mean).

use super::analytics::TopicKind;

/// One conversation's facts as kept, with the columns reports and the
/// conversion sweeper look them up by.
#[derive(Debug, Clone)]
pub struct FactsRecord {
    pub conversation_id: String,
    pub day: String,
    pub channel: String,
    pub agent_id: String,
    /// How the buyer came (`domain::presence::Source`); '' when not from a visit.
    pub source: String,
    pub queue_wait_ms: Option<i64>,
    pub last_position: i64,
    /// The buyer's first message (conversion counts from it), kept in a column
    /// so the sweeper finds recent questions by index.
    pub first_buyer_at: Option<i64>,
    /// JSON of `domain::analytics::Facts`.
    pub facts: String,
}

/// The write that moves one conversation's facts forward: the new facts, and
/// the counter and load changes that come with them, measured from the facts
/// kept at `read_position`.
#[derive(Debug, Clone)]
pub struct FactsSave {
    /// The last position of the kept facts the changes start from (None: no
    /// facts were kept); the write is refused if they moved since.
    pub read_position: Option<i64>,
    pub facts: FactsRecord,
    pub rollups: Vec<RollupDelta>,
    pub hourly: Vec<HourDelta>,
    pub topics: Vec<TopicDelta>,
    pub loads: Vec<super::agent_time::LoadChange>,
}

/// A change to one rollup counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupDelta {
    pub day: String,
    pub channel: String,
    pub agent_id: String,
    pub source: String,
    pub counter: String,
    pub delta: i64,
}

/// A change to one counter of the hourly rollups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourDelta {
    pub day: String,
    pub channel: String,
    pub agent_id: String,
    /// The shop-local hour the conversation started, "00".."23".
    pub hour: String,
    pub counter: String,
    pub delta: i64,
}

/// A change to one counter of the topic rollups (shop-wide, per day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDelta {
    pub day: String,
    /// `TopicKind::as_str`: intent, category or product.
    pub kind: &'static str,
    /// The chat's intent, category or product; '' while not known.
    pub topic: String,
    pub counter: String,
    pub delta: i64,
}

/// A rollup counter as read back: (day, channel, agent, split, counter, value),
/// where the split is what the rollups read keep apart beyond day, channel and
/// agent: the source, the hour, the topic of one kind, or empty.
pub type RollupRow = (String, String, String, String, String, i64);

/// A conversation's queue wait as read back: (day, channel, agent, source, wait).
pub type WaitRow = (String, String, String, String, i64);

/// A conversation of the export as read back: (id, day, channel, agent ('' for
/// none), JSON of `domain::analytics::Facts`).
pub type FactsLine = (String, String, String, String, String);

/// Which columns of the rollups a report keeps apart; the others are summed
/// over where they are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RollupGrouping {
    pub day: bool,
    pub channel: bool,
    pub agent: bool,
    pub source: bool,
    /// Read the hourly rollups, the hour kept apart (a report by hour).
    pub hour: bool,
    /// Read the topic rollups of this kind, the topic kept apart (a report by
    /// intent, category or product).
    pub topic: Option<TopicKind>,
}
