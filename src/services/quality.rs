//! Quality inspection (质检): rubric schemes, sampling plans that queue
//! resolved conversations for review, scoring, the agent's one appeal and its
//! settlement. Reviewers (supervisors, admins) see the reviews of the agents in
//! their skill groups (admins all); an agent sees only their own scored ones.
//! Comments and appeal reasons are sealed with the data key.

use crate::crypto::Cipher;
use crate::domain::analytics::{DayRange, Facts};
use crate::domain::conversation::ConversationId;
use crate::domain::quality::{
    Candidate, DraftItem, QaScoreWrite, QualityInputError, Rubric, SampleRule, sample,
};
use crate::domain::staff::{Permission, Role};
use crate::ports::Clock;
use crate::ports::repositories::{
    DraftStatus, QaCandidateRecord, QaPlanRecord, QaRecords, QaReviewRecord, QaSchemeRecord,
    RepoError, StaffDirectory,
};
use crate::services::chat::{ChatError, ChatService};
use crate::services::events::EventPayload;
use crate::services::quality_drafts::QaDraftService;
use crate::services::staff::StaffUser;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Longest name, comment and appeal reason (characters).
const MAX_NAME: usize = 60;
const MAX_COMMENT: usize = 2000;
/// Messages of a transcript shown to a reviewer.
const TRANSCRIPT_LIMIT: i64 = 500;
const LIST_LIMIT: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    #[error(transparent)]
    Invalid(#[from] QualityInputError),
    #[error("{0}")]
    BadText(&'static str),
    #[error("no such scheme, plan or review")]
    NotFound,
    #[error("this review is not yours to see or change")]
    Forbidden,
    #[error("this review cannot take that step now (already appealed, not scored, or settled)")]
    WrongState,
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error("no local model is loaded to draft scores")]
    NoModel,
    #[error("store: {0}")]
    Records(RepoError),
    #[error("unreadable stored value: {0}")]
    Corrupt(String),
}

impl From<RepoError> for QualityError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => QualityError::NotFound,
            other => QualityError::Records(other),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SchemeView {
    pub id: String,
    pub name: String,
    pub rubric: Rubric,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    pub id: String,
    pub name: String,
    pub scheme_id: String,
    pub rules: Vec<SampleRule>,
    pub seed: i64,
    pub created_at: i64,
    /// Runs by itself each day, after the shop's night, over the day before.
    pub daily: bool,
    /// The last shop-local day it sampled by itself (YYYY-MM-DD).
    pub daily_ran_day: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// Conversations the plan picked.
    pub picked: usize,
    /// Of those, newly queued (the rest were queued for this scheme before).
    pub queued: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewView {
    pub id: String,
    pub conversation_id: String,
    pub scheme_id: String,
    pub agent_id: String,
    /// The agent's display name now (lists only).
    pub agent_name: Option<String>,
    pub day: String,
    pub reason: String,
    pub status: String,
    pub scores: Option<BTreeMap<String, u32>>,
    pub total: Option<i64>,
    pub reviewer_id: Option<String>,
    pub outcome: Option<String>,
    pub appealed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TranscriptLine {
    pub seq: i64,
    pub sender: &'static str,
    pub text: String,
    pub at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewDetail {
    #[serde(flatten)]
    pub review: ReviewView,
    pub scheme: SchemeView,
    pub comment: Option<String>,
    pub appeal_reason: Option<String>,
    pub transcript: Vec<TranscriptLine>,
    /// The local model's draft score, for reviewers (None for the reviewed
    /// agent, and without a local model).
    pub draft: Option<DraftView>,
    /// What the caller may do now.
    pub can_score: bool,
    pub can_appeal: bool,
    pub can_settle: bool,
}

/// The model's draft as a reviewer sees it: waiting until the model has had
/// a quiet moment for it, then per item its verdict, points and evidence.
#[derive(Debug, Clone, Serialize)]
pub struct DraftView {
    pub status: DraftStatus,
    pub items: Vec<DraftItem>,
    pub total: Option<u32>,
    pub updated_at: Option<i64>,
}

/// How an appeal ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Upheld,
    Revised,
}

pub struct QualityService {
    records: Arc<dyn QaRecords>,
    /// Agents' names on the review list.
    people: Arc<dyn StaffDirectory>,
    cipher: Cipher,
    clock: Arc<dyn Clock>,
    chat: Arc<ChatService>,
    drafts: Arc<QaDraftService>,
}

impl QualityService {
    pub fn new<R>(
        records: Arc<R>,
        cipher: Cipher,
        clock: Arc<dyn Clock>,
        chat: Arc<ChatService>,
        drafts: Arc<QaDraftService>,
    ) -> QualityService
    where
        R: QaRecords + StaffDirectory + 'static,
    {
        QualityService {
            people: records.clone(),
            records,
            cipher,
            clock,
            chat,
            drafts,
        }
    }

    pub async fn create_scheme(
        &self,
        staff: &StaffUser,
        name: &str,
        rubric: Rubric,
    ) -> Result<SchemeView, QualityError> {
        let row = QaSchemeRecord {
            id: format!("qas_{}", uuid::Uuid::now_v7().simple()),
            name: short_text(name, MAX_NAME, "a name needs 1 to 60 characters")?,
            rubric: to_json(&rubric)?,
            created_by: staff.id.clone(),
            created_at: self.clock.now_ms(),
        };
        self.records.insert_scheme(&row).await?;
        scheme_view(row)
    }

    pub async fn schemes(&self) -> Result<Vec<SchemeView>, QualityError> {
        let rows = self.records.schemes().await?;
        rows.into_iter().map(scheme_view).collect()
    }

    pub async fn create_plan(
        &self,
        staff: &StaffUser,
        name: &str,
        scheme_id: &str,
        rules: Vec<SampleRule>,
        seed: i64,
        daily: bool,
    ) -> Result<PlanView, QualityError> {
        if rules.is_empty() || rules.len() > 10 {
            return Err(QualityInputError::BadRule.into());
        }
        for rule in &rules {
            rule.check()?;
        }
        self.records.scheme(scheme_id).await?;
        let row = QaPlanRecord {
            id: format!("qap_{}", uuid::Uuid::now_v7().simple()),
            name: short_text(name, MAX_NAME, "a name needs 1 to 60 characters")?,
            scheme_id: scheme_id.to_owned(),
            rules: to_json(&rules)?,
            seed,
            created_by: staff.id.clone(),
            created_at: self.clock.now_ms(),
            daily,
            daily_ran_day: None,
        };
        self.records.insert_plan(&row).await?;
        plan_view(row)
    }

    pub async fn plans(&self) -> Result<Vec<PlanView>, QualityError> {
        let rows = self.records.plans().await?;
        rows.into_iter().map(plan_view).collect()
    }

    /// Turns a plan's daily run on or off.
    pub async fn set_daily(&self, plan_id: &str, daily: bool) -> Result<PlanView, QualityError> {
        self.records.set_daily(plan_id, daily).await?;
        plan_view(self.records.plan(plan_id).await?)
    }

    /// Records that a daily plan sampled `day` by itself.
    pub async fn mark_daily_ran(&self, plan_id: &str, day: &str) -> Result<(), QualityError> {
        Ok(self.records.mark_ran(plan_id, day).await?)
    }

    /// Runs a plan over the conversations started on the days of `range` and
    /// queues what it picks. Running it again picks the same conversations
    /// (the seed) and queues nothing twice.
    pub async fn run_plan(
        &self,
        plan_id: &str,
        range: &DayRange,
    ) -> Result<RunResult, QualityError> {
        let plan = plan_view(self.records.plan(plan_id).await?)?;
        let rows = self
            .records
            .candidates(&range.from.to_string(), &range.to.to_string())
            .await?;
        let mut candidates = Vec::new();
        let mut days = BTreeMap::new();
        for QaCandidateRecord {
            conversation_id: id,
            agent_id: agent,
            day,
            facts,
            stars,
            tags,
        } in rows
        {
            let facts: Facts =
                serde_json::from_str(&facts).map_err(|e| QualityError::Corrupt(e.to_string()))?;
            if facts.resolved_at.is_none() {
                continue;
            }
            let tags: Vec<String> = tags
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default();
            days.insert(id.clone(), day);
            candidates.push(Candidate {
                conversation_id: id,
                agent_id: agent,
                stars: stars.and_then(|s| u32::try_from(s).ok()),
                escalated: facts.transfers > 0,
                complaint: crate::domain::quality::is_complaint(
                    &tags,
                    facts.handoff_reason.as_deref(),
                ),
            });
        }
        let picked = sample(&plan.rules, plan.seed as u64, &candidates);
        let now = self.clock.now_ms();
        let mut queued = 0;
        for (candidate, reason) in &picked {
            let row = QaReviewRecord {
                id: format!("qar_{}", uuid::Uuid::now_v7().simple()),
                conversation_id: candidate.conversation_id.clone(),
                scheme_id: plan.scheme_id.clone(),
                plan_id: plan.id.clone(),
                agent_id: candidate.agent_id.clone(),
                day: days
                    .get(&candidate.conversation_id)
                    .cloned()
                    .unwrap_or_default(),
                reason: (*reason).to_owned(),
                status: "pending".into(),
                scores: None,
                total: None,
                comment_sealed: None,
                reviewer_id: None,
                scored_at: None,
                appeal_sealed: None,
                appealed_at: None,
                outcome: None,
                settled_by: None,
                settled_at: None,
                created_at: now,
            };
            if self.records.queue_review(&row).await? {
                queued += 1;
            }
        }
        if queued > 0 {
            self.drafts.wake();
        }
        Ok(RunResult {
            picked: picked.len(),
            queued,
        })
    }

    /// The reviews the caller may see, newest first.
    pub async fn reviews(&self, staff: &StaffUser) -> Result<Vec<ReviewView>, QualityError> {
        let own = (!staff.can(Permission::ReviewQuality)).then_some(staff.id.as_str());
        let scope = self.reviewable_agents(staff).await?;
        let rows = self.records.reviews(own, LIST_LIMIT).await?;
        let names: std::collections::HashMap<String, String> = self
            .people
            .people()
            .await?
            .into_iter()
            .map(|p| (p.id, p.display_name))
            .collect();
        rows.into_iter()
            .filter(|r| visible(staff, scope.as_ref(), r))
            .map(|r| {
                let mut view = review_view(r)?;
                view.agent_name = names.get(&view.agent_id).cloned();
                Ok(view)
            })
            .collect()
    }

    /// One review with its rubric and the decrypted transcript.
    pub async fn review(&self, staff: &StaffUser, id: &str) -> Result<ReviewDetail, QualityError> {
        let row = self.visible_review(staff, id).await?;
        let scheme = scheme_view(self.records.scheme(&row.scheme_id).await?)?;
        let conversation = ConversationId::parse(&row.conversation_id)
            .ok_or_else(|| QualityError::Corrupt("conversation id".into()))?;
        let transcript = self
            .chat
            .events(&conversation, 0, TRANSCRIPT_LIMIT)
            .await?
            .into_iter()
            .filter_map(|e| {
                let EventPayload::Message { body } = e.payload else {
                    return None;
                };
                body.transcript_text().map(|text| TranscriptLine {
                    seq: e.seq,
                    sender: e.sender.kind(),
                    text,
                    at: e.created_at,
                })
            })
            .collect();
        let comment = self.open(row.comment_sealed.as_deref(), &row.id, "comment")?;
        let appeal_reason = self.open(row.appeal_sealed.as_deref(), &row.id, "appeal")?;
        let reviewer = staff.can(Permission::ReviewQuality);
        let draft = if reviewer && self.drafts.enabled() {
            let stored = self.drafts.draft(&row.id).await.map_err(repo_error)?;
            Some(match stored {
                Some(d) => DraftView {
                    status: d.status,
                    items: d.items,
                    total: d.total,
                    updated_at: Some(d.updated_at),
                },
                // Queued at the worker's next look.
                None => DraftView {
                    status: DraftStatus::Waiting,
                    items: Vec::new(),
                    total: None,
                    updated_at: None,
                },
            })
        } else {
            None
        };
        let review = review_view(row)?;
        Ok(ReviewDetail {
            can_score: reviewer && matches!(review.status.as_str(), "pending" | "scored"),
            can_appeal: review.agent_id == staff.id
                && review.status == "scored"
                && !review.appealed,
            can_settle: reviewer && review.status == "appealed",
            review,
            scheme,
            comment,
            appeal_reason,
            transcript,
            draft,
        })
    }

    pub async fn score(
        &self,
        staff: &StaffUser,
        id: &str,
        scores: BTreeMap<String, u32>,
        comment: Option<&str>,
    ) -> Result<ReviewView, QualityError> {
        let row = self.visible_review(staff, id).await?;
        if !staff.can(Permission::ReviewQuality) {
            return Err(QualityError::Forbidden);
        }
        let rubric = scheme_view(self.records.scheme(&row.scheme_id).await?)?.rubric;
        rubric.check_scores(&scores)?;
        let comment = match comment.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => Some(self.seal(
                &short_text(c, MAX_COMMENT, "a comment is at most 2000 characters")?,
                id,
                "comment",
            )),
            None => None,
        };
        let scores_json = to_json(&scores)?;
        let write = QaScoreWrite {
            scores: &scores_json,
            total: i64::from(rubric.total(&scores)),
            by: &staff.id,
            at: self.clock.now_ms(),
        };
        if !self.records.score(id, &write, comment.as_deref()).await? {
            return Err(QualityError::WrongState);
        }
        review_view(self.records.review(id).await?)
    }

    /// A reviewer asks the model for the review's draft again (after it failed).
    pub async fn redraft(&self, staff: &StaffUser, id: &str) -> Result<(), QualityError> {
        self.visible_review(staff, id).await?;
        if !staff.can(Permission::ReviewQuality) {
            return Err(QualityError::Forbidden);
        }
        if !self.drafts.enabled() {
            return Err(QualityError::NoModel);
        }
        self.drafts.request(id).await.map_err(repo_error)
    }

    /// The agent's one appeal, with a reason.
    pub async fn appeal(
        &self,
        staff: &StaffUser,
        id: &str,
        reason: &str,
    ) -> Result<ReviewView, QualityError> {
        let row = self.visible_review(staff, id).await?;
        if row.agent_id != staff.id {
            return Err(QualityError::Forbidden);
        }
        let reason = short_text(
            reason,
            MAX_COMMENT,
            "an appeal needs a reason of 1 to 2000 characters",
        )?;
        let sealed = self.seal(&reason, id, "appeal");
        if !self
            .records
            .appeal(id, &sealed, self.clock.now_ms())
            .await?
        {
            return Err(QualityError::WrongState);
        }
        review_view(self.records.review(id).await?)
    }

    /// A reviewer settles an appeal: the score upheld, or revised to new scores.
    pub async fn settle(
        &self,
        staff: &StaffUser,
        id: &str,
        outcome: Outcome,
        scores: Option<BTreeMap<String, u32>>,
    ) -> Result<ReviewView, QualityError> {
        let row = self.visible_review(staff, id).await?;
        if !staff.can(Permission::ReviewQuality) || row.agent_id == staff.id {
            return Err(QualityError::Forbidden);
        }
        let rubric = scheme_view(self.records.scheme(&row.scheme_id).await?)?.rubric;
        let scores = match (outcome, scores) {
            (Outcome::Revised, Some(scores)) => scores,
            (Outcome::Revised, None) => return Err(QualityInputError::BadScores.into()),
            (Outcome::Upheld, _) => review_view(row)?.scores.unwrap_or_default(),
        };
        rubric.check_scores(&scores)?;
        let scores_json = to_json(&scores)?;
        let write = QaScoreWrite {
            scores: &scores_json,
            total: i64::from(rubric.total(&scores)),
            by: &staff.id,
            at: self.clock.now_ms(),
        };
        let outcome = match outcome {
            Outcome::Upheld => "upheld",
            Outcome::Revised => "revised",
        };
        if !self.records.settle(id, outcome, &write).await? {
            return Err(QualityError::WrongState);
        }
        review_view(self.records.review(id).await?)
    }

    /// None: every agent (admins); otherwise the agents of the caller's skill
    /// groups and the caller.
    async fn reviewable_agents(
        &self,
        staff: &StaffUser,
    ) -> Result<Option<HashSet<String>>, QualityError> {
        if staff.role == Role::Admin {
            return Ok(None);
        }
        let memberships = self.records.group_members().await?;
        let mine: HashSet<&str> = memberships
            .iter()
            .filter(|(_, a)| *a == staff.id)
            .map(|(g, _)| g.as_str())
            .collect();
        let mut agents: HashSet<String> = memberships
            .iter()
            .filter(|(g, _)| mine.contains(g.as_str()))
            .map(|(_, a)| a.clone())
            .collect();
        agents.insert(staff.id.clone());
        Ok(Some(agents))
    }

    async fn visible_review(
        &self,
        staff: &StaffUser,
        id: &str,
    ) -> Result<QaReviewRecord, QualityError> {
        let row = self.records.review(id).await?;
        let scope = self.reviewable_agents(staff).await?;
        if visible(staff, scope.as_ref(), &row) {
            Ok(row)
        } else {
            // Another agent's review does not exist for an agent.
            Err(QualityError::NotFound)
        }
    }

    fn seal(&self, text: &str, review_id: &str, field: &str) -> Vec<u8> {
        self.cipher
            .seal_text(text, &format!("qa_review:{review_id}:{field}"))
    }

    fn open(
        &self,
        sealed: Option<&[u8]>,
        review_id: &str,
        field: &str,
    ) -> Result<Option<String>, QualityError> {
        sealed
            .map(|s| {
                self.cipher
                    .open_text(s, &format!("qa_review:{review_id}:{field}"))
                    .map_err(|e| QualityError::Corrupt(e.to_string()))
            })
            .transpose()
    }
}

/// A reviewer sees the reviews of their scope; an agent their own once scored.
fn visible(staff: &StaffUser, scope: Option<&HashSet<String>>, row: &QaReviewRecord) -> bool {
    if staff.can(Permission::ReviewQuality) {
        scope.is_none_or(|agents| agents.contains(&row.agent_id))
    } else {
        row.agent_id == staff.id && row.status != "pending"
    }
}

fn short_text(raw: &str, max: usize, why: &'static str) -> Result<String, QualityError> {
    let text = raw.trim();
    let n = text.chars().count();
    if n == 0 || n > max {
        return Err(QualityError::BadText(why));
    }
    Ok(text.to_owned())
}

fn to_json<T: Serialize>(value: &T) -> Result<String, QualityError> {
    serde_json::to_string(value).map_err(|e| QualityError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, QualityError> {
    serde_json::from_str(raw).map_err(|e| QualityError::Corrupt(e.to_string()))
}

fn scheme_view(row: QaSchemeRecord) -> Result<SchemeView, QualityError> {
    Ok(SchemeView {
        rubric: from_json(&row.rubric)?,
        id: row.id,
        name: row.name,
        created_at: row.created_at,
    })
}

fn plan_view(row: QaPlanRecord) -> Result<PlanView, QualityError> {
    Ok(PlanView {
        rules: from_json(&row.rules)?,
        id: row.id,
        name: row.name,
        scheme_id: row.scheme_id,
        seed: row.seed,
        created_at: row.created_at,
        daily: row.daily,
        daily_ran_day: row.daily_ran_day,
    })
}

fn review_view(row: QaReviewRecord) -> Result<ReviewView, QualityError> {
    Ok(ReviewView {
        scores: row.scores.as_deref().map(from_json).transpose()?,
        appealed: row.appealed_at.is_some(),
        id: row.id,
        conversation_id: row.conversation_id,
        scheme_id: row.scheme_id,
        agent_id: row.agent_id,
        agent_name: None,
        day: row.day,
        reason: row.reason,
        status: row.status,
        total: row.total,
        reviewer_id: row.reviewer_id,
        outcome: row.outcome,
    })
}

fn repo_error(e: RepoError) -> QualityError {
    match e {
        RepoError::NotFound => QualityError::NotFound,
        other => QualityError::Corrupt(other.to_string()),
    }
}
