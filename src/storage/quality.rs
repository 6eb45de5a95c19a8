//! Quality inspection (质检): schemes, sampling plans and reviews. State moves
//! are conditional updates, so two reviewers (or a double click) cannot both
//! appeal or settle the same review.

use super::{Store, StoreError, on_pool};
use crate::domain::quality::QaScoreWrite;
use crate::ports::repositories::{
    QaCandidateRecord, QaPlanRecord, QaRecords, QaReviewRecord, QaSchemeRecord, RepoError,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QaSchemeRow {
    pub id: String,
    pub name: String,
    /// JSON of `domain::quality::Rubric`.
    pub rubric: String,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QaPlanRow {
    pub id: String,
    pub name: String,
    pub scheme_id: String,
    /// JSON list of `domain::quality::SampleRule`.
    pub rules: String,
    pub seed: i64,
    pub created_by: String,
    pub created_at: i64,
    /// Runs by itself each day over the day before.
    pub daily: bool,
    /// The last shop-local day it sampled by itself.
    pub daily_ran_day: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QaReviewRow {
    pub id: String,
    pub conversation_id: String,
    pub scheme_id: String,
    pub plan_id: String,
    pub agent_id: String,
    pub day: String,
    pub reason: String,
    pub status: String,
    pub scores: Option<String>,
    pub total: Option<i64>,
    pub comment_sealed: Option<Vec<u8>>,
    pub reviewer_id: Option<String>,
    pub scored_at: Option<i64>,
    pub appeal_sealed: Option<Vec<u8>>,
    pub appealed_at: Option<i64>,
    pub outcome: Option<String>,
    pub settled_by: Option<String>,
    pub settled_at: Option<i64>,
    pub created_at: i64,
}

/// A resolved, human-handled conversation a plan may pick: (id, agent, day,
/// facts JSON, CSAT stars, CSAT tags JSON).
pub type QaCandidateRow = (String, String, String, String, Option<i64>, Option<String>);

const REVIEW_COLUMNS: &str = "id, conversation_id, scheme_id, plan_id, agent_id, day, reason, status, \
    scores, total, comment_sealed, reviewer_id, scored_at, appeal_sealed, appealed_at, outcome, \
    settled_by, settled_at, created_at";

impl Store {
    pub async fn insert_qa_scheme(&self, row: &QaSchemeRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO qa_schemes (id, name, rubric, created_by, created_at) VALUES ($1, $2, $3, $4, $5)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(&row.name).bind(&row.rubric).bind(&row.created_by).bind(row.created_at)
            .execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)
    }

    pub async fn qa_schemes(&self) -> Result<Vec<QaSchemeRow>, StoreError> {
        let sql = "SELECT id, name, rubric, created_by, created_at FROM qa_schemes ORDER BY created_at, id";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, QaSchemeRow>(sql).fetch_all(pool).await?))
    }

    pub async fn qa_scheme(&self, id: &str) -> Result<QaSchemeRow, StoreError> {
        let sql = "SELECT id, name, rubric, created_by, created_at FROM qa_schemes WHERE id = $1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, QaSchemeRow>(sql).bind(id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    pub async fn insert_qa_plan(&self, row: &QaPlanRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO qa_plans (id, name, scheme_id, rules, seed, created_by, created_at, daily) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(&row.name).bind(&row.scheme_id).bind(&row.rules).bind(row.seed)
            .bind(&row.created_by).bind(row.created_at).bind(row.daily)
            .execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)
    }

    pub async fn qa_plans(&self) -> Result<Vec<QaPlanRow>, StoreError> {
        let sql = "SELECT id, name, scheme_id, rules, seed, created_by, created_at, daily, daily_ran_day \
                   FROM qa_plans ORDER BY created_at, id";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, QaPlanRow>(sql).fetch_all(pool).await?))
    }

    pub async fn qa_plan(&self, id: &str) -> Result<QaPlanRow, StoreError> {
        let sql = "SELECT id, name, scheme_id, rules, seed, created_by, created_at, daily, daily_ran_day \
                   FROM qa_plans WHERE id = $1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, QaPlanRow>(sql).bind(id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    /// Turns a plan's daily run on or off.
    pub async fn set_qa_plan_daily(&self, id: &str, daily: bool) -> Result<(), StoreError> {
        let sql = "UPDATE qa_plans SET daily = $2 WHERE id = $1";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(id).bind(daily)
            .execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Records that a daily plan sampled `day` (never moving back).
    pub async fn mark_qa_plan_ran(&self, id: &str, day: &str) -> Result<(), StoreError> {
        let sql = "UPDATE qa_plans SET daily_ran_day = $2 \
                   WHERE id = $1 AND (daily_ran_day IS NULL OR daily_ran_day < $2)";
        on_pool!(self, pool => sqlx::query(sql).bind(id).bind(day).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Resolved conversations an agent handled, started on the days `from..=to`.
    pub async fn qa_candidates(
        &self,
        from: &str,
        to: &str,
    ) -> Result<Vec<QaCandidateRow>, StoreError> {
        let sql = "SELECT f.conversation_id, f.agent_id, f.day, f.facts, CAST(c.stars AS BIGINT), c.tags \
                   FROM analytics_facts f LEFT JOIN csat_ratings c ON c.conversation_id = f.conversation_id \
                   WHERE f.day >= $1 AND f.day <= $2 AND f.agent_id <> '' ORDER BY f.conversation_id";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(from).bind(to).fetch_all(pool).await?))
    }

    /// Queues a review; false when the conversation is already queued for this scheme.
    pub async fn insert_qa_review(&self, row: &QaReviewRow) -> Result<bool, StoreError> {
        let sql = "INSERT INTO qa_reviews (id, conversation_id, scheme_id, plan_id, agent_id, day, reason, status, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (conversation_id, scheme_id) DO NOTHING";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(&row.conversation_id).bind(&row.scheme_id).bind(&row.plan_id)
            .bind(&row.agent_id).bind(&row.day).bind(&row.reason).bind(&row.status).bind(row.created_at)
            .execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    pub async fn qa_review(&self, id: &str) -> Result<QaReviewRow, StoreError> {
        let sql = format!("SELECT {REVIEW_COLUMNS} FROM qa_reviews WHERE id = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, QaReviewRow>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    /// Reviews newest first: one agent's, or everyone's (the service narrows
    /// a supervisor's to their groups).
    pub async fn qa_reviews(
        &self,
        agent_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<QaReviewRow>, StoreError> {
        let sql = format!(
            "SELECT {REVIEW_COLUMNS} FROM qa_reviews WHERE ($1 = '' OR agent_id = $1) \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, QaReviewRow>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(agent_id.unwrap_or("")).bind(limit).fetch_all(pool).await?),
        )
    }

    /// Scores a pending (or re-scores a scored, not yet appealed) review.
    pub async fn score_qa_review(
        &self,
        id: &str,
        score: &QaScoreWrite<'_>,
        comment_sealed: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE qa_reviews SET status = 'scored', scores = $2, total = $3, comment_sealed = $4, \
                   reviewer_id = $5, scored_at = $6 WHERE id = $1 AND status IN ('pending', 'scored')";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(score.scores).bind(score.total).bind(comment_sealed).bind(score.by).bind(score.at)
            .execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// The agent's one appeal of a scored review.
    pub async fn appeal_qa_review(
        &self,
        id: &str,
        reason_sealed: &[u8],
        at: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE qa_reviews SET status = 'appealed', appeal_sealed = $2, appealed_at = $3 \
                   WHERE id = $1 AND status = 'scored' AND appealed_at IS NULL";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(reason_sealed).bind(at).execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// Settles an appeal: the score upheld, or revised to `score`.
    pub async fn settle_qa_review(
        &self,
        id: &str,
        outcome: &str,
        score: &QaScoreWrite<'_>,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE qa_reviews SET status = 'settled', outcome = $2, scores = $3, total = $4, \
                   settled_by = $5, settled_at = $6 WHERE id = $1 AND status = 'appealed'";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(outcome).bind(score.scores).bind(score.total).bind(score.by).bind(score.at)
            .execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// (agent, sum of totals, reviews scored) of conversations on the days `from..=to`.
    pub async fn qa_totals(
        &self,
        from: &str,
        to: &str,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let sql = "SELECT agent_id, CAST(SUM(total) AS BIGINT), COUNT(*) FROM qa_reviews \
                   WHERE total IS NOT NULL AND day >= $1 AND day <= $2 GROUP BY agent_id ORDER BY agent_id";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(from).bind(to).fetch_all(pool).await?))
    }
}

impl From<QaSchemeRow> for QaSchemeRecord {
    fn from(row: QaSchemeRow) -> Self {
        QaSchemeRecord {
            id: row.id,
            name: row.name,
            rubric: row.rubric,
            created_by: row.created_by,
            created_at: row.created_at,
        }
    }
}

impl From<&QaSchemeRecord> for QaSchemeRow {
    fn from(scheme: &QaSchemeRecord) -> Self {
        QaSchemeRow {
            id: scheme.id.clone(),
            name: scheme.name.clone(),
            rubric: scheme.rubric.clone(),
            created_by: scheme.created_by.clone(),
            created_at: scheme.created_at,
        }
    }
}

impl From<QaPlanRow> for QaPlanRecord {
    fn from(row: QaPlanRow) -> Self {
        QaPlanRecord {
            id: row.id,
            name: row.name,
            scheme_id: row.scheme_id,
            rules: row.rules,
            seed: row.seed,
            created_by: row.created_by,
            created_at: row.created_at,
            daily: row.daily,
            daily_ran_day: row.daily_ran_day,
        }
    }
}

impl From<&QaPlanRecord> for QaPlanRow {
    fn from(plan: &QaPlanRecord) -> Self {
        QaPlanRow {
            id: plan.id.clone(),
            name: plan.name.clone(),
            scheme_id: plan.scheme_id.clone(),
            rules: plan.rules.clone(),
            seed: plan.seed,
            created_by: plan.created_by.clone(),
            created_at: plan.created_at,
            daily: plan.daily,
            daily_ran_day: plan.daily_ran_day.clone(),
        }
    }
}

impl From<QaReviewRow> for QaReviewRecord {
    fn from(row: QaReviewRow) -> Self {
        QaReviewRecord {
            id: row.id,
            conversation_id: row.conversation_id,
            scheme_id: row.scheme_id,
            plan_id: row.plan_id,
            agent_id: row.agent_id,
            day: row.day,
            reason: row.reason,
            status: row.status,
            scores: row.scores,
            total: row.total,
            comment_sealed: row.comment_sealed,
            reviewer_id: row.reviewer_id,
            scored_at: row.scored_at,
            appeal_sealed: row.appeal_sealed,
            appealed_at: row.appealed_at,
            outcome: row.outcome,
            settled_by: row.settled_by,
            settled_at: row.settled_at,
            created_at: row.created_at,
        }
    }
}

impl From<&QaReviewRecord> for QaReviewRow {
    fn from(review: &QaReviewRecord) -> Self {
        QaReviewRow {
            id: review.id.clone(),
            conversation_id: review.conversation_id.clone(),
            scheme_id: review.scheme_id.clone(),
            plan_id: review.plan_id.clone(),
            agent_id: review.agent_id.clone(),
            day: review.day.clone(),
            reason: review.reason.clone(),
            status: review.status.clone(),
            scores: review.scores.clone(),
            total: review.total,
            comment_sealed: review.comment_sealed.clone(),
            reviewer_id: review.reviewer_id.clone(),
            scored_at: review.scored_at,
            appeal_sealed: review.appeal_sealed.clone(),
            appealed_at: review.appealed_at,
            outcome: review.outcome.clone(),
            settled_by: review.settled_by.clone(),
            settled_at: review.settled_at,
            created_at: review.created_at,
        }
    }
}

#[async_trait::async_trait]
impl QaRecords for Store {
    async fn insert_scheme(&self, scheme: &QaSchemeRecord) -> Result<(), RepoError> {
        Ok(self.insert_qa_scheme(&scheme.into()).await?)
    }

    async fn schemes(&self) -> Result<Vec<QaSchemeRecord>, RepoError> {
        Ok(self
            .qa_schemes()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn scheme(&self, id: &str) -> Result<QaSchemeRecord, RepoError> {
        Ok(self.qa_scheme(id).await?.into())
    }

    async fn insert_plan(&self, plan: &QaPlanRecord) -> Result<(), RepoError> {
        Ok(self.insert_qa_plan(&plan.into()).await?)
    }

    async fn plans(&self) -> Result<Vec<QaPlanRecord>, RepoError> {
        Ok(self.qa_plans().await?.into_iter().map(Into::into).collect())
    }

    async fn plan(&self, id: &str) -> Result<QaPlanRecord, RepoError> {
        Ok(self.qa_plan(id).await?.into())
    }

    async fn set_daily(&self, id: &str, daily: bool) -> Result<(), RepoError> {
        Ok(self.set_qa_plan_daily(id, daily).await?)
    }

    async fn mark_ran(&self, id: &str, day: &str) -> Result<(), RepoError> {
        Ok(self.mark_qa_plan_ran(id, day).await?)
    }

    async fn candidates(&self, from: &str, to: &str) -> Result<Vec<QaCandidateRecord>, RepoError> {
        let rows = self.qa_candidates(from, to).await?;
        Ok(rows
            .into_iter()
            .map(
                |(conversation_id, agent_id, day, facts, stars, tags)| QaCandidateRecord {
                    conversation_id,
                    agent_id,
                    day,
                    facts,
                    stars,
                    tags,
                },
            )
            .collect())
    }

    async fn queue_review(&self, review: &QaReviewRecord) -> Result<bool, RepoError> {
        Ok(self.insert_qa_review(&review.into()).await?)
    }

    async fn review(&self, id: &str) -> Result<QaReviewRecord, RepoError> {
        Ok(self.qa_review(id).await?.into())
    }

    async fn reviews(
        &self,
        agent_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<QaReviewRecord>, RepoError> {
        let rows = self.qa_reviews(agent_id, limit).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn score(
        &self,
        id: &str,
        score: &QaScoreWrite<'_>,
        comment_sealed: Option<&[u8]>,
    ) -> Result<bool, RepoError> {
        Ok(self.score_qa_review(id, score, comment_sealed).await?)
    }

    async fn appeal(&self, id: &str, reason_sealed: &[u8], at: i64) -> Result<bool, RepoError> {
        Ok(self.appeal_qa_review(id, reason_sealed, at).await?)
    }

    async fn settle(
        &self,
        id: &str,
        outcome: &str,
        score: &QaScoreWrite<'_>,
    ) -> Result<bool, RepoError> {
        Ok(self.settle_qa_review(id, outcome, score).await?)
    }

    async fn group_members(&self) -> Result<Vec<(String, String)>, RepoError> {
        let memberships = self.group_memberships().await?;
        Ok(memberships
            .into_iter()
            .map(|(group, _, agent)| (group, agent))
            .collect())
    }
}

/// What a draft's sealed items are bound to: their review.
pub fn qa_draft_aad(review_id: &str) -> String {
    format!("qa_draft:{review_id}")
}

/// The `QaDrafts` repository: drafts sealed with the data key, bound to their review.
pub struct SealedQaDrafts {
    store: Store,
    cipher: crate::crypto::Cipher,
}

impl SealedQaDrafts {
    pub fn new(store: Store, cipher: crate::crypto::Cipher) -> Self {
        SealedQaDrafts { store, cipher }
    }
}

type DraftRow = (String, Option<Vec<u8>>, Option<i64>, i64);

#[async_trait::async_trait]
impl crate::ports::repositories::QaDrafts for SealedQaDrafts {
    async fn take(
        &self,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<crate::ports::repositories::DraftJob>, crate::ports::repositories::RepoError>
    {
        use crate::ports::repositories::{DraftJob, RepoError};
        let store = &self.store;
        let queue = "INSERT INTO qa_drafts (review_id, status, failures, next_at, updated_at) \
                     SELECT r.id, 'waiting', 0, 0, $1 FROM qa_reviews r WHERE r.status = 'pending' \
                     AND NOT EXISTS (SELECT 1 FROM qa_drafts d WHERE d.review_id = r.id) \
                     ON CONFLICT (review_id) DO NOTHING";
        on_pool!(store, pool => sqlx::query(queue).bind(now).execute(pool).await.map(|_| ()).map_err(StoreError::from)?);
        // The condition again in the outer WHERE: of two nodes that picked the
        // same review, the second finds it leased and takes nothing.
        let lease = "UPDATE qa_drafts SET next_at = $2, updated_at = $1 WHERE review_id = \
                     (SELECT d.review_id FROM qa_drafts d JOIN qa_reviews r ON r.id = d.review_id \
                      WHERE d.status = 'waiting' AND d.next_at <= $1 AND r.status = 'pending' \
                      ORDER BY d.next_at, d.review_id LIMIT 1) \
                     AND status = 'waiting' AND next_at <= $1 RETURNING review_id, failures";
        let taken: Option<(String, i64)> = on_pool!(store, pool => sqlx::query_as(lease)
            .bind(now).bind(lease_until).fetch_optional(pool).await.map_err(StoreError::from)?);
        let Some((review_id, failures)) = taken else {
            return Ok(None);
        };
        let what = "SELECT r.conversation_id, s.rubric FROM qa_reviews r \
                    JOIN qa_schemes s ON s.id = r.scheme_id WHERE r.id = $1";
        let (conversation_id, rubric): (String, String) = on_pool!(store, pool => sqlx::query_as(what)
            .bind(&review_id).fetch_one(pool).await.map_err(StoreError::from)?);
        let rubric = serde_json::from_str(&rubric)
            .map_err(|e| RepoError::Corrupt(format!("rubric of review {review_id}: {e}")))?;
        Ok(Some(DraftJob {
            review_id,
            conversation_id,
            rubric,
            failures: u32::try_from(failures).unwrap_or(u32::MAX),
        }))
    }

    async fn finish(
        &self,
        review_id: &str,
        items: &[crate::domain::quality::DraftItem],
        total: u32,
        now: i64,
    ) -> Result<(), crate::ports::repositories::RepoError> {
        let plain = serde_json::to_vec(items).expect("draft items serialise");
        let sealed = self.cipher.seal(&plain, qa_draft_aad(review_id).as_bytes());
        let sql = "UPDATE qa_drafts SET status = 'ready', items_sealed = $2, total = $3, \
                   next_at = $4, updated_at = $4 WHERE review_id = $1";
        let store = &self.store;
        on_pool!(store, pool => sqlx::query(sql).bind(review_id).bind(&sealed).bind(i64::from(total))
            .bind(now).execute(pool).await.map(|_| ()).map_err(StoreError::from)?);
        Ok(())
    }

    async fn release(
        &self,
        review_id: &str,
        status: crate::ports::repositories::DraftStatus,
        failures: u32,
        retry_at: i64,
        now: i64,
    ) -> Result<(), crate::ports::repositories::RepoError> {
        use crate::ports::repositories::DraftStatus;
        let status = match status {
            DraftStatus::Waiting => "waiting",
            DraftStatus::Ready => "ready",
            DraftStatus::Failed => "failed",
        };
        let sql = "UPDATE qa_drafts SET status = $2, failures = $3, next_at = $4, updated_at = $5 \
                   WHERE review_id = $1";
        let store = &self.store;
        on_pool!(store, pool => sqlx::query(sql).bind(review_id).bind(status).bind(i64::from(failures))
            .bind(retry_at).bind(now).execute(pool).await.map(|_| ()).map_err(StoreError::from)?);
        Ok(())
    }

    async fn draft(
        &self,
        review_id: &str,
    ) -> Result<
        Option<crate::ports::repositories::StoredDraft>,
        crate::ports::repositories::RepoError,
    > {
        use crate::ports::repositories::{DraftStatus, RepoError, StoredDraft};
        let sql =
            "SELECT status, items_sealed, total, updated_at FROM qa_drafts WHERE review_id = $1";
        let store = &self.store;
        let row: Option<DraftRow> = on_pool!(store, pool => sqlx::query_as(sql)
            .bind(review_id).fetch_optional(pool).await.map_err(StoreError::from)?);
        let Some((status, sealed, total, updated_at)) = row else {
            return Ok(None);
        };
        let status = match status.as_str() {
            "waiting" => DraftStatus::Waiting,
            "ready" => DraftStatus::Ready,
            "failed" => DraftStatus::Failed,
            other => return Err(RepoError::Corrupt(format!("draft status {other:?}"))),
        };
        let items = match sealed {
            Some(sealed) => {
                let plain = self
                    .cipher
                    .open(&sealed, qa_draft_aad(review_id).as_bytes())
                    .map_err(|e| RepoError::Corrupt(format!("draft of review {review_id}: {e}")))?;
                serde_json::from_slice(&plain)
                    .map_err(|e| RepoError::Corrupt(format!("draft of review {review_id}: {e}")))?
            }
            None => Vec::new(),
        };
        Ok(Some(StoredDraft {
            status,
            items,
            total: total.and_then(|t| u32::try_from(t).ok()),
            updated_at,
        }))
    }

    async fn request(
        &self,
        review_id: &str,
        now: i64,
    ) -> Result<(), crate::ports::repositories::RepoError> {
        let sql = "UPDATE qa_drafts SET status = 'waiting', failures = 0, next_at = 0, updated_at = $2 \
                   WHERE review_id = $1 AND status <> 'waiting'";
        let store = &self.store;
        on_pool!(store, pool => sqlx::query(sql).bind(review_id).bind(now)
            .execute(pool).await.map(|_| ()).map_err(StoreError::from)?);
        Ok(())
    }
}
