//! Quality inspection (质检) rules: a rubric's check items add or deduct
//! points from a base and the score is clamped to 0–100; a sampling plan picks
//! resolved conversations for review, the same ones for the same seed (a hash
//! of seed and conversation id, never a random generator), so a plan can be
//! replayed and tested.

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};

pub const MAX_ITEMS: usize = 30;
pub const MAX_LABEL_CHARS: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QualityInputError {
    #[error("a rubric needs 1 to 30 check items with distinct keys (a-z, 0-9, _)")]
    BadItems,
    #[error("a check item needs a label of 1 to 80 characters and 1 to 100 points")]
    BadItem,
    #[error("the base score must be 0 to 100")]
    BadBase,
    #[error("every check item needs a score between 0 and its points")]
    BadScores,
    #[error("a sampling rule is out of range (percent 1-100, per agent 1-1000, stars 1-4)")]
    BadRule,
}

/// Whether meeting a check item earns points or costs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Add,
    Deduct,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckItem {
    pub key: String,
    pub label: String,
    pub kind: ItemKind,
    /// The most this item adds or deducts.
    pub points: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rubric {
    /// The score before any item (100 for a deduct-only rubric, 0 for add-only).
    pub base: u32,
    pub items: Vec<CheckItem>,
}

impl Rubric {
    pub fn parse(base: u32, items: Vec<CheckItem>) -> Result<Rubric, QualityInputError> {
        if base > 100 {
            return Err(QualityInputError::BadBase);
        }
        if items.is_empty() || items.len() > MAX_ITEMS {
            return Err(QualityInputError::BadItems);
        }
        let mut keys = HashSet::new();
        for item in &items {
            let key_ok = !item.key.is_empty()
                && item.key.len() <= 40
                && item
                    .key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !key_ok || !keys.insert(item.key.as_str()) {
                return Err(QualityInputError::BadItems);
            }
            let label = item.label.trim().chars().count();
            if label == 0 || label > MAX_LABEL_CHARS || !(1..=100).contains(&item.points) {
                return Err(QualityInputError::BadItem);
            }
        }
        Ok(Rubric { base, items })
    }

    /// Checks a reviewer's (or the model's) points per item: every item scored,
    /// none unknown, each within 0..=its points.
    pub fn check_scores(&self, scores: &BTreeMap<String, u32>) -> Result<(), QualityInputError> {
        let complete = scores.len() == self.items.len()
            && self
                .items
                .iter()
                .all(|i| scores.get(&i.key).is_some_and(|s| *s <= i.points));
        if complete {
            Ok(())
        } else {
            Err(QualityInputError::BadScores)
        }
    }

    /// base + what add items earned − what deduct items cost, within 0..=100.
    pub fn total(&self, scores: &BTreeMap<String, u32>) -> u32 {
        let mut total = i64::from(self.base);
        for item in &self.items {
            let points = i64::from(scores.get(&item.key).copied().unwrap_or(0).min(item.points));
            match item.kind {
                ItemKind::Add => total += points,
                ItemKind::Deduct => total -= points,
            }
        }
        u32::try_from(total.clamp(0, 100)).unwrap_or(0)
    }
}

/// One rule of a sampling plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SampleRule {
    /// About this percentage of all resolved conversations.
    RandomPercent { percent: u32 },
    /// Up to this many per agent.
    PerAgent { count: u32 },
    /// Every conversation rated at or below this many stars.
    LowCsat { max_stars: u32 },
    /// Every conversation that was transferred or escalated.
    Escalated,
    /// Every conversation whose CSAT tags or hand-off reason name a complaint.
    Complaint,
}

impl SampleRule {
    pub fn check(&self) -> Result<(), QualityInputError> {
        let ok = match self {
            SampleRule::RandomPercent { percent } => (1..=100).contains(percent),
            SampleRule::PerAgent { count } => (1..=1000).contains(count),
            SampleRule::LowCsat { max_stars } => (1..=4).contains(max_stars),
            SampleRule::Escalated | SampleRule::Complaint => true,
        };
        if ok {
            Ok(())
        } else {
            Err(QualityInputError::BadRule)
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            SampleRule::RandomPercent { .. } => "random_percent",
            SampleRule::PerAgent { .. } => "per_agent",
            SampleRule::LowCsat { .. } => "low_csat",
            SampleRule::Escalated => "escalated",
            SampleRule::Complaint => "complaint",
        }
    }
}

/// A resolved conversation a plan may pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub conversation_id: String,
    pub agent_id: String,
    pub stars: Option<u32>,
    pub escalated: bool,
    pub complaint: bool,
}

/// The candidates a plan picks, each with the first rule that picked it, in
/// candidate order. Deterministic for a seed.
pub fn sample<'a>(
    rules: &[SampleRule],
    seed: u64,
    candidates: &'a [Candidate],
) -> Vec<(&'a Candidate, &'static str)> {
    let mut picked: BTreeMap<usize, &'static str> = BTreeMap::new();
    for rule in rules {
        for i in picks(rule, seed, candidates) {
            picked.entry(i).or_insert(rule.name());
        }
    }
    picked
        .into_iter()
        .map(|(i, why)| (&candidates[i], why))
        .collect()
}

fn picks(rule: &SampleRule, seed: u64, candidates: &[Candidate]) -> Vec<usize> {
    let all = candidates.iter().enumerate();
    match rule {
        SampleRule::RandomPercent { percent } => all
            .filter(|(_, c)| draw(seed, &c.conversation_id) % 100 < u64::from(*percent))
            .map(|(i, _)| i)
            .collect(),
        SampleRule::PerAgent { count } => {
            let mut by_agent: BTreeMap<&str, Vec<(u64, usize)>> = BTreeMap::new();
            for (i, c) in all.filter(|(_, c)| !c.agent_id.is_empty()) {
                by_agent
                    .entry(c.agent_id.as_str())
                    .or_default()
                    .push((draw(seed, &c.conversation_id), i));
            }
            by_agent
                .into_values()
                .flat_map(|mut v| {
                    v.sort_unstable();
                    v.into_iter()
                        .take(usize::try_from(*count).unwrap_or(usize::MAX))
                        .map(|(_, i)| i)
                })
                .collect()
        }
        SampleRule::LowCsat { max_stars } => all
            .filter(|(_, c)| c.stars.is_some_and(|s| s <= *max_stars))
            .map(|(i, _)| i)
            .collect(),
        SampleRule::Escalated => all.filter(|(_, c)| c.escalated).map(|(i, _)| i).collect(),
        SampleRule::Complaint => all.filter(|(_, c)| c.complaint).map(|(i, _)| i).collect(),
    }
}

/// A number from the seed and the conversation id, the same every time.
fn draw(seed: u64, conversation_id: &str) -> u64 {
    let mut hash = Sha256::new();
    hash.update(seed.to_be_bytes());
    hash.update(conversation_id.as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Words in a CSAT tag that make the rating a complaint; a hand-off for a
/// sensitive message (complaint, legal threat) counts too.
const COMPLAINT_TAGS: &[&str] = &["投诉", "没解决", "complain", "not solved"];

pub fn is_complaint(tags: &[String], handoff_reason: Option<&str>) -> bool {
    handoff_reason == Some("sensitive")
        || tags.iter().any(|t| {
            let t = t.to_lowercase();
            COMPLAINT_TAGS.iter().any(|w| t.contains(w))
        })
}

/// How the model's draft reads for one check item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftVerdict {
    /// It holds (for a deduct item: the fault happened), shown by a line the agent said.
    Met,
    /// It does not hold.
    NotMet,
    /// The model said it holds but pointed to no line of the agent's that
    /// shows it (none, one the agent does not have, or one that, asked of
    /// alone, does not show it): not counted, so no agent loses points to an
    /// accusation without evidence.
    Unquoted,
    /// The model's answer could not be read: not counted.
    Unreadable,
}

/// The model's draft for one check item, which the reviewer confirms or overrides.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DraftItem {
    pub key: String,
    pub verdict: DraftVerdict,
    /// The points the draft gives the item: all of them when met, else none.
    pub points: u32,
    /// The agent's line, word for word from the transcript, that the model pointed to.
    pub evidence: Option<String>,
}

impl DraftItem {
    pub fn met(&self) -> bool {
        self.verdict == DraftVerdict::Met
    }
}

/// The model's answer to one check item: whether it holds and, when it does,
/// the number of the agent's line it points to as evidence ("是，客服[2]").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemAnswer {
    pub holds: bool,
    pub line: Option<usize>,
}

/// Reads the model's answer: "是" / "成立" / yes, or "否" / "不成立" / no,
/// first; then the first number, the agent's line. None when it starts with
/// neither (the model talked about something else).
pub fn parse_verdict(output: &str) -> Option<ItemAnswer> {
    let line = output.trim().lines().next().unwrap_or("").trim();
    let line = ["答：", "答:", "回答：", "回答:", "Answer:"]
        .iter()
        .find_map(|p| line.strip_prefix(p))
        .unwrap_or(line)
        .trim_start_matches(|c: char| c.is_whitespace() || "\"“「'*".contains(c));
    let lower = line.to_lowercase();
    let holds = if ["否", "不", "no"].iter().any(|w| lower.starts_with(w)) {
        false
    } else if ["是", "成立", "yes"].iter().any(|w| lower.starts_with(w)) {
        true
    } else {
        return None;
    };
    Some(ItemAnswer {
        holds,
        line: parse_line(line),
    })
}

/// The first number in the model's answer: the agent's line it points to.
pub fn parse_line(answer: &str) -> Option<usize> {
    let digits: String = answer
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The draft of one item from the model's answer (None: unreadable). Met
/// only with a line of the agent's as evidence.
pub fn draft_item(
    item: &CheckItem,
    answer: Option<ItemAnswer>,
    agent_lines: &[String],
) -> DraftItem {
    let (verdict, evidence) = match answer {
        None => (DraftVerdict::Unreadable, None),
        Some(ItemAnswer { holds: false, .. }) => (DraftVerdict::NotMet, None),
        Some(ItemAnswer { line, .. }) => {
            match line.and_then(|n| agent_lines.get(n.checked_sub(1)?)) {
                Some(said) => (DraftVerdict::Met, Some(said.clone())),
                None => (DraftVerdict::Unquoted, None),
            }
        }
    };
    DraftItem {
        key: item.key.clone(),
        points: if verdict == DraftVerdict::Met {
            item.points
        } else {
            0
        },
        verdict,
        evidence,
    }
}

/// How drafts agree with a human's labels on one check item, over a set of
/// chats (each pair: the draft says it holds, the human says it holds).
/// `accuracy` is the share of chats where both say the same; `kappa` is
/// Cohen's kappa, (accuracy − chance) / (1 − chance), where chance is the
/// agreement expected from each side's own rate of "holds" alone; None when
/// chance is 1 (both sides say the same thing of every chat).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Agreement {
    pub chats: usize,
    pub agree: usize,
    pub draft_holds: usize,
    pub human_holds: usize,
    pub accuracy: f64,
    pub kappa: Option<f64>,
}

pub fn agreement(pairs: &[(bool, bool)]) -> Agreement {
    let chats = pairs.len();
    let agree = pairs.iter().filter(|(d, h)| d == h).count();
    let draft_holds = pairs.iter().filter(|(d, _)| *d).count();
    let human_holds = pairs.iter().filter(|(_, h)| *h).count();
    let n = chats.max(1) as f64;
    let accuracy = agree as f64 / n;
    let (pd, ph) = (draft_holds as f64 / n, human_holds as f64 / n);
    let chance = pd * ph + (1.0 - pd) * (1.0 - ph);
    let kappa = (chats > 0 && chance < 1.0).then(|| (accuracy - chance) / (1.0 - chance));
    Agreement {
        chats,
        agree,
        draft_holds,
        human_holds,
        accuracy,
        kappa,
    }
}

/// How long into the shop's day a daily plan waits before it samples the
/// day before, so the evening's chats have been resolved.
pub const DAILY_GRACE_MS: i64 = 3_600_000;

/// The shop-local day (YYYY-MM-DD) a daily plan samples at `now_ms`: the day
/// before, once the shop's clock is `DAILY_GRACE_MS` into today (before
/// that, the day before yesterday, which the previous day's run sampled).
pub fn daily_sample_day(now_ms: i64, utc_offset_minutes: i32) -> String {
    crate::domain::analytics::local_day(now_ms - DAILY_GRACE_MS - 86_400_000, utc_offset_minutes)
}

/// A score written by a reviewer or a settlement: the scores by check item
/// (JSON), their total, who and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QaScoreWrite<'a> {
    pub scores: &'a str,
    pub total: i64,
    pub by: &'a str,
    pub at: i64,
}

#[cfg(test)]
mod tests {
    use super::daily_sample_day;

    /// Beijing (UTC+8): 2026-12-01 00:30 local is 2026-11-30 16:30 UTC.
    #[test]
    fn a_daily_plan_samples_the_day_before_once_an_hour_into_today() {
        let utc_16_30 = 1_796_056_200_000; // 2026-11-30T16:30:00Z
        assert_eq!(daily_sample_day(utc_16_30, 480), "2026-11-29");
        let utc_17_00 = utc_16_30 + 30 * 60_000; // 01:00 in Beijing
        assert_eq!(daily_sample_day(utc_17_00, 480), "2026-11-30");
        // The same instant in UTC is 17:00 on the 30th: the 29th.
        assert_eq!(daily_sample_day(utc_17_00, 0), "2026-11-29");
    }

    use super::*;

    fn item(key: &str, kind: ItemKind, points: u32) -> CheckItem {
        CheckItem {
            key: key.into(),
            label: key.into(),
            kind,
            points,
        }
    }

    fn rubric() -> Rubric {
        Rubric::parse(
            90,
            vec![
                item("greeting", ItemKind::Add, 10),
                item("rude", ItemKind::Deduct, 50),
                item("wrong_policy", ItemKind::Deduct, 60),
            ],
        )
        .unwrap()
    }

    fn scores(list: &[(&str, u32)]) -> BTreeMap<String, u32> {
        list.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn items_add_and_deduct_and_the_score_stays_within_0_to_100() {
        let r = rubric();
        assert_eq!(
            r.total(&scores(&[
                ("greeting", 10),
                ("rude", 0),
                ("wrong_policy", 0)
            ])),
            100
        );
        assert_eq!(
            r.total(&scores(&[
                ("greeting", 5),
                ("rude", 20),
                ("wrong_policy", 0)
            ])),
            75
        );
        assert_eq!(
            r.total(&scores(&[
                ("greeting", 0),
                ("rude", 50),
                ("wrong_policy", 60)
            ])),
            0
        );
        let bonus = Rubric::parse(100, vec![item("greeting", ItemKind::Add, 10)]).unwrap();
        assert_eq!(bonus.total(&scores(&[("greeting", 10)])), 100);
    }

    #[test]
    fn scores_must_cover_every_item_within_its_points() {
        let r = rubric();
        assert!(
            r.check_scores(&scores(&[
                ("greeting", 10),
                ("rude", 0),
                ("wrong_policy", 0)
            ]))
            .is_ok()
        );
        assert_eq!(
            r.check_scores(&scores(&[
                ("greeting", 11),
                ("rude", 0),
                ("wrong_policy", 0)
            ])),
            Err(QualityInputError::BadScores)
        );
        assert_eq!(
            r.check_scores(&scores(&[("greeting", 1), ("rude", 0)])),
            Err(QualityInputError::BadScores)
        );
    }

    #[test]
    fn a_rubric_refuses_duplicate_keys_zero_points_and_a_base_over_100() {
        let dup = vec![item("a", ItemKind::Add, 1), item("a", ItemKind::Add, 1)];
        assert_eq!(Rubric::parse(50, dup), Err(QualityInputError::BadItems));
        assert_eq!(
            Rubric::parse(50, vec![item("a", ItemKind::Add, 0)]),
            Err(QualityInputError::BadItem)
        );
        assert_eq!(
            Rubric::parse(101, vec![item("a", ItemKind::Add, 1)]),
            Err(QualityInputError::BadBase)
        );
        assert_eq!(Rubric::parse(50, vec![]), Err(QualityInputError::BadItems));
    }

    fn candidates() -> Vec<Candidate> {
        (0..200)
            .map(|i| Candidate {
                conversation_id: format!("conv_{i:03}"),
                agent_id: ["li", "wang", ""][i % 3].into(),
                stars: (i % 5 == 0).then_some(u32::try_from(i % 4).unwrap() + 1),
                escalated: i % 17 == 0,
                complaint: i == 42,
            })
            .collect()
    }

    #[test]
    fn sampling_is_the_same_for_a_seed_and_takes_about_the_percentage() {
        let c = candidates();
        let plan = [SampleRule::RandomPercent { percent: 10 }];
        let a = sample(&plan, 7, &c);
        assert_eq!(a, sample(&plan, 7, &c));
        assert_ne!(a, sample(&plan, 8, &c));
        assert!((8..=35).contains(&a.len()), "{}", a.len());
        assert!(a.iter().all(|(_, why)| *why == "random_percent"));
    }

    #[test]
    fn the_all_rules_take_every_match_and_per_agent_takes_n_each() {
        let c = candidates();
        let low = sample(&[SampleRule::LowCsat { max_stars: 2 }], 1, &c);
        let want = c.iter().filter(|c| c.stars.is_some_and(|s| s <= 2)).count();
        assert_eq!(low.len(), want);
        let esc = sample(&[SampleRule::Escalated], 1, &c);
        assert_eq!(esc.len(), c.iter().filter(|c| c.escalated).count());
        let complaint = sample(&[SampleRule::Complaint], 1, &c);
        assert_eq!(complaint[0].0.conversation_id, "conv_042");
        let per = sample(&[SampleRule::PerAgent { count: 3 }], 1, &c);
        assert_eq!(per.len(), 6, "3 for li, 3 for wang, none unassigned");
        // A conversation two rules pick is listed once, with the first rule.
        let both = sample(&[SampleRule::Complaint, SampleRule::Escalated], 1, &c);
        assert_eq!(both.len(), esc.len() + usize::from(42 % 17 != 0));
    }

    #[test]
    fn the_models_answer_reads_as_a_verdict_and_the_agents_line() {
        let answer = |holds, line| Some(ItemAnswer { holds, line });
        assert_eq!(
            parse_verdict("是，客服[2]\n多余的话"),
            answer(true, Some(2))
        );
        assert_eq!(parse_verdict(" 答：否"), answer(false, None));
        assert_eq!(parse_verdict("不成立"), answer(false, None));
        assert_eq!(parse_verdict("成立"), answer(true, None));
        assert_eq!(parse_verdict("“是” 客服[10]"), answer(true, Some(10)));
        assert_eq!(parse_verdict("Yes, agent [1]"), answer(true, Some(1)));
        assert_eq!(parse_verdict("客服很礼貌"), None);
        let rude = item("rude", ItemKind::Deduct, 50);
        let agent = vec!["您好".to_owned(), "你烦不烦啊".to_owned()];
        let met = draft_item(&rude, parse_verdict("是，客服[2]"), &agent);
        assert_eq!((met.verdict, met.points), (DraftVerdict::Met, 50));
        assert_eq!(met.evidence.as_deref(), Some("你烦不烦啊"));
        // No line, or one the agent does not have: not counted.
        for said in ["是", "是，客服[3]", "是，客服[0]"] {
            let unquoted = draft_item(&rude, parse_verdict(said), &agent);
            assert_eq!(
                (unquoted.verdict, unquoted.points),
                (DraftVerdict::Unquoted, 0),
                "{said}"
            );
        }
        let unread = draft_item(&rude, parse_verdict("嗯"), &agent);
        assert_eq!(
            (unread.verdict, unread.points),
            (DraftVerdict::Unreadable, 0)
        );
        let not_met = draft_item(&rude, parse_verdict("否"), &agent);
        assert_eq!(
            (not_met.verdict, not_met.points, not_met.evidence),
            (DraftVerdict::NotMet, 0, None)
        );
    }

    #[test]
    fn agreement_and_kappa_match_a_hand_computed_fixture() {
        // (draft, human) over ten chats: both yes 3, both no 5, one each way.
        let (t, f) = (true, false);
        let pairs = [
            (t, t),
            (t, f),
            (f, f),
            (f, f),
            (t, t),
            (f, t),
            (f, f),
            (f, f),
            (t, t),
            (f, f),
        ];
        let a = agreement(&pairs);
        assert_eq!(
            (a.chats, a.agree, a.draft_holds, a.human_holds),
            (10, 8, 4, 4)
        );
        assert!((a.accuracy - 0.8).abs() < 1e-12);
        // chance = 0.4 × 0.4 + 0.6 × 0.6 = 0.52; kappa = (0.8 − 0.52) / 0.48 = 7/12.
        assert!((a.kappa.unwrap() - 7.0 / 12.0).abs() < 1e-12);
        // Both always say no: chance is 1 and kappa is undefined.
        assert_eq!(agreement(&[(f, f), (f, f)]).kappa, None);
        assert_eq!(agreement(&[]).chats, 0);
    }
}
