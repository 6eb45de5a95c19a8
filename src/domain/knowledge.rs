//! Knowledge-base content: FAQ entries and articles, parsed once at the edge.
//!
//! An entry's content is one value (`EntryContent`) so that a version is a copy of
//! it, a content hash is a hash of it, and a rollback is writing an old copy back.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MAX_QUESTION_CHARS: usize = 500;
pub const MAX_SIMILAR: usize = 1_000;
pub const MAX_ANSWER_CHARS: usize = 50_000;
pub const MAX_TAGS: usize = 32;
/// Answers by member level an entry may carry, and a level's longest name.
pub const MAX_MEMBER_ANSWERS: usize = 10;
pub const MAX_LEVEL_CHARS: usize = 32;
pub const MAX_QUERY_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KnowledgeRuleError {
    #[error(
        "entry id must be 1-100 characters without spaces, control characters, '/', '\\', '#' or '%'"
    )]
    BadEntryId,
    #[error("the standard question (or article title) must not be empty")]
    EmptyQuestion,
    #[error("a question is longer than {MAX_QUESTION_CHARS} characters")]
    QuestionTooLong,
    #[error("more than {MAX_SIMILAR} similar questions")]
    TooManySimilar,
    #[error("the answer must not be empty")]
    EmptyAnswer,
    #[error("the answer is longer than {MAX_ANSWER_CHARS} characters")]
    AnswerTooLong,
    #[error("category path must be 1-5 non-empty levels separated by '/', at most 100 characters")]
    BadCategory,
    #[error("tags and product codes must be 1-64 characters, at most {MAX_TAGS} of each")]
    BadTag,
    #[error("locale must be 'zh' or 'en'")]
    BadLocale,
    #[error("dates must be YYYY-MM-DD")]
    BadDate,
    #[error("valid_from is after valid_to")]
    EmptyValidity,
    #[error(
        "member_answers: at most {MAX_MEMBER_ANSWERS}, each a member level of 1-{MAX_LEVEL_CHARS} characters named once, with a non-empty answer"
    )]
    BadMemberAnswer,
    #[error("status must be draft, published or archived")]
    BadStatus,
    #[error("the query must not be empty")]
    EmptyQuery,
    #[error("the query is longer than {MAX_QUERY_CHARS} characters")]
    QueryTooLong,
}

/// An entry's stable identifier, chosen by the author or generated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryId(String);

impl EntryId {
    pub fn parse(raw: &str) -> Result<Self, KnowledgeRuleError> {
        // Ids come from shops' own systems (e.g. `reverted_card_payment?`); they
        // only must not break a URL path segment or a log line.
        let ok = !raw.is_empty()
            && raw.chars().count() <= 100
            && raw.chars().all(|c| {
                !c.is_whitespace() && !c.is_control() && !matches!(c, '/' | '\\' | '#' | '%')
            });
        if ok {
            Ok(EntryId(raw.to_owned()))
        } else {
            Err(KnowledgeRuleError::BadEntryId)
        }
    }

    pub fn generate() -> Self {
        EntryId(format!("kb-{}", uuid::Uuid::now_v7().simple()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A standard question with similar wordings and one curated answer.
    Faq,
    /// A longer text (policy, manual) that is chunked for retrieval.
    Article,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    Draft,
    Published,
    Archived,
}

impl EntryStatus {
    pub fn parse(raw: &str) -> Result<Self, KnowledgeRuleError> {
        match raw {
            "draft" => Ok(EntryStatus::Draft),
            "published" => Ok(EntryStatus::Published),
            "archived" => Ok(EntryStatus::Archived),
            _ => Err(KnowledgeRuleError::BadStatus),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Draft => "draft",
            EntryStatus::Published => "published",
            EntryStatus::Archived => "archived",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Locale {
    Zh,
    En,
}

impl Locale {
    /// Accepts "zh", "zh-CN", "zh_TW", "en", "en-US"...
    pub fn parse(raw: &str) -> Result<Self, KnowledgeRuleError> {
        let lang = raw
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match lang.as_str() {
            "zh" => Ok(Locale::Zh),
            "en" => Ok(Locale::En),
            _ => Err(KnowledgeRuleError::BadLocale),
        }
    }

    /// A guess from the text itself: any CJK ideograph means Chinese.
    pub fn detect(text: &str) -> Self {
        if text.chars().any(is_cjk) {
            Locale::Zh
        } else {
            Locale::En
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::Zh => "zh",
            Locale::En => "en",
        }
    }
}

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// A category path such as `售后/退货`; its ancestors are its prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CategoryPath(String);

impl CategoryPath {
    pub fn parse(raw: &str) -> Result<Self, KnowledgeRuleError> {
        let levels: Vec<&str> = raw.split('/').map(str::trim).collect();
        let ok = raw.chars().count() <= 100
            && (1..=5).contains(&levels.len())
            && levels.iter().all(|l| !l.is_empty());
        if ok {
            Ok(CategoryPath(levels.join("/")))
        } else {
            Err(KnowledgeRuleError::BadCategory)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `a`, `a/b`, `a/b/c` for `a/b/c`: what a filter on a parent category matches.
    pub fn with_ancestors(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut acc = String::new();
        for level in self.0.split('/') {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(level);
            out.push(acc.clone());
        }
        out
    }
}

/// A calendar date `YYYY-MM-DD`; ISO order equals string order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Day(String);

impl Day {
    pub fn parse(raw: &str) -> Result<Self, KnowledgeRuleError> {
        chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
            .map(|d| Day(d.format("%Y-%m-%d").to_string()))
            .map_err(|_| KnowledgeRuleError::BadDate)
    }

    pub fn from_unix_ms(ms: i64) -> Self {
        let date = chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .date_naive();
        Day(date.format("%Y-%m-%d").to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Everything a knowledge manager writes about one entry; versioned as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryContent {
    pub kind: EntryKind,
    /// The standard question of a FAQ entry, or an article's title.
    pub question: String,
    #[serde(default)]
    pub similar: Vec<String>,
    /// Rich text (Markdown: links, images) of a FAQ answer, or an article's body.
    pub answer: String,
    #[serde(default)]
    pub category: Option<CategoryPath>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub products: Vec<String>,
    pub locale: Locale,
    #[serde(default)]
    pub valid_from: Option<Day>,
    #[serde(default)]
    pub valid_to: Option<Day>,
    /// The answer for buyers of a member level, in place of `answer` (e.g.
    /// gold members return for free). Left out of the stored form when there
    /// are none, so older entries keep their content hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub member_answers: Vec<MemberAnswer>,
}

/// An entry's answer for the buyers of one member level of the shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberAnswer {
    pub level: String,
    pub answer: String,
}

/// The answer for a buyer of `level` (none: not a member, or not signed in):
/// that level's own answer when the entry has one, else the entry's answer.
/// Levels match ignoring case and surrounding spaces.
pub fn answer_for_level<'a>(
    answer: &'a str,
    member_answers: &'a [MemberAnswer],
    level: Option<&str>,
) -> &'a str {
    let Some(level) = level.map(str::trim) else {
        return answer;
    };
    member_answers
        .iter()
        .find(|m| m.level.eq_ignore_ascii_case(level))
        .map_or(answer, |m| m.answer.as_str())
}

fn parse_member_answers(raw: Vec<MemberAnswer>) -> Result<Vec<MemberAnswer>, KnowledgeRuleError> {
    if raw.len() > MAX_MEMBER_ANSWERS {
        return Err(KnowledgeRuleError::BadMemberAnswer);
    }
    let mut out: Vec<MemberAnswer> = Vec::with_capacity(raw.len());
    for m in raw {
        let level = m.level.trim();
        let ok = (1..=MAX_LEVEL_CHARS).contains(&level.chars().count())
            && !level.chars().any(char::is_control)
            && !out.iter().any(|o| o.level.eq_ignore_ascii_case(level));
        if !ok {
            return Err(KnowledgeRuleError::BadMemberAnswer);
        }
        let answer = parse_answer(&m.answer).map_err(|e| match e {
            KnowledgeRuleError::EmptyAnswer => KnowledgeRuleError::BadMemberAnswer,
            other => other,
        })?;
        out.push(MemberAnswer {
            level: level.to_owned(),
            answer,
        });
    }
    Ok(out)
}

/// Content as it arrives from the API or a file, before validation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntry {
    pub id: Option<String>,
    #[serde(default)]
    pub kind: Option<EntryKind>,
    #[serde(alias = "title")]
    pub question: Option<String>,
    /// The eval-set format: the first question is the standard one.
    #[serde(default)]
    pub questions: Vec<String>,
    #[serde(default)]
    pub similar: Vec<String>,
    #[serde(alias = "body")]
    pub answer: Option<String>,
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub products: Vec<String>,
    pub locale: Option<String>,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    pub status: Option<String>,
    #[serde(default)]
    pub member_answers: Vec<MemberAnswer>,
}

/// A validated entry from an import or a create call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub id: Option<EntryId>,
    pub content: EntryContent,
    pub status: Option<EntryStatus>,
}

impl NewEntry {
    pub fn parse(raw: RawEntry) -> Result<Self, KnowledgeRuleError> {
        let id = raw.id.as_deref().map(EntryId::parse).transpose()?;
        let mut questions = raw.questions.into_iter();
        let question = match raw.question {
            Some(q) => q,
            None => questions.next().unwrap_or_default(),
        };
        let similar: Vec<String> = questions.chain(raw.similar).collect();
        let answer = raw.answer.unwrap_or_default();
        let locale = match raw.locale.as_deref() {
            Some(l) => Locale::parse(l)?,
            None => Locale::detect(&format!("{question}{answer}")),
        };
        let content = EntryContent {
            kind: raw.kind.unwrap_or(EntryKind::Faq),
            question: clean_question(&question)?.ok_or(KnowledgeRuleError::EmptyQuestion)?,
            similar: parse_similar(similar)?,
            answer: parse_answer(&answer)?,
            category: raw
                .category
                .as_deref()
                .map(CategoryPath::parse)
                .transpose()?,
            tags: parse_labels(raw.tags)?,
            products: parse_labels(raw.products)?,
            locale,
            valid_from: raw.valid_from.as_deref().map(Day::parse).transpose()?,
            valid_to: raw.valid_to.as_deref().map(Day::parse).transpose()?,
            member_answers: parse_member_answers(raw.member_answers)?,
        };
        if let (Some(from), Some(to)) = (&content.valid_from, &content.valid_to)
            && from > to
        {
            return Err(KnowledgeRuleError::EmptyValidity);
        }
        let status = raw.status.as_deref().map(EntryStatus::parse).transpose()?;
        Ok(NewEntry {
            id,
            content,
            status,
        })
    }
}

impl EntryContent {
    /// Hash of the content: an import of unchanged content is a no-op.
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("content serialises");
        hex::encode(&Sha256::digest(&json)[..16])
    }

    /// Whether a promotion's validity window includes `today`.
    pub fn valid_on(&self, today: &Day) -> bool {
        self.valid_from.as_ref().is_none_or(|f| f <= today)
            && self.valid_to.as_ref().is_none_or(|t| today <= t)
    }
}

fn clean_question(raw: &str) -> Result<Option<String>, KnowledgeRuleError> {
    let q = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if q.is_empty() {
        return Ok(None);
    }
    if q.chars().count() > MAX_QUESTION_CHARS {
        return Err(KnowledgeRuleError::QuestionTooLong);
    }
    Ok(Some(q))
}

fn parse_similar(raw: Vec<String>) -> Result<Vec<String>, KnowledgeRuleError> {
    if raw.len() > MAX_SIMILAR {
        return Err(KnowledgeRuleError::TooManySimilar);
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for q in raw {
        if let Some(q) = clean_question(&q)?
            && !out.contains(&q)
        {
            out.push(q);
        }
    }
    Ok(out)
}

fn parse_answer(raw: &str) -> Result<String, KnowledgeRuleError> {
    let a = raw.trim();
    if a.is_empty() {
        return Err(KnowledgeRuleError::EmptyAnswer);
    }
    if a.chars().count() > MAX_ANSWER_CHARS {
        return Err(KnowledgeRuleError::AnswerTooLong);
    }
    Ok(a.to_owned())
}

fn parse_labels(raw: Vec<String>) -> Result<Vec<String>, KnowledgeRuleError> {
    if raw.len() > MAX_TAGS {
        return Err(KnowledgeRuleError::BadTag);
    }
    let mut out: Vec<String> = Vec::new();
    for t in raw {
        let t = t.trim();
        if t.is_empty() || t.chars().count() > 64 {
            return Err(KnowledgeRuleError::BadTag);
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

/// A buyer's (or agent's) search text, trimmed and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KbQuery(String);

impl KbQuery {
    pub fn parse(raw: &str) -> Result<Self, KnowledgeRuleError> {
        let q = raw.trim();
        if q.is_empty() {
            return Err(KnowledgeRuleError::EmptyQuery);
        }
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(KnowledgeRuleError::QueryTooLong);
        }
        Ok(KbQuery(q.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(level: &str, answer: &str) -> MemberAnswer {
        MemberAnswer {
            level: level.into(),
            answer: answer.into(),
        }
    }

    #[test]
    fn a_member_level_gets_its_own_answer_and_everyone_else_the_entrys() {
        let mut e = raw("包邮吗", "满99包邮");
        e.member_answers = vec![
            member(" Gold ", " 金卡会员全场包邮 "),
            member("silver", "银卡满59包邮"),
        ];
        let content = NewEntry::parse(e).unwrap().content;
        assert_eq!(
            content.member_answers[0],
            member("Gold", "金卡会员全场包邮")
        );
        let pick = |level| answer_for_level(&content.answer, &content.member_answers, level);
        assert_eq!(
            pick(Some("gold")),
            "金卡会员全场包邮",
            "case and spaces ignored"
        );
        assert_eq!(pick(Some("silver")), "银卡满59包邮");
        assert_eq!(pick(Some("regular")), "满99包邮");
        assert_eq!(pick(None), "满99包邮");
        // No member answers: the stored form (and its hash) is as before.
        let plain = NewEntry::parse(raw("包邮吗", "满99包邮")).unwrap().content;
        assert!(
            !serde_json::to_string(&plain)
                .unwrap()
                .contains("member_answers")
        );
    }

    #[test]
    fn bad_member_answers_are_refused() {
        for answers in [
            vec![member("gold", "  ")],
            vec![member("", "x")],
            vec![member(&"l".repeat(33), "x")],
            vec![member("gold", "a"), member("GOLD", "b")],
            (0..11).map(|i| member(&format!("l{i}"), "a")).collect(),
        ] {
            let mut e = raw("包邮吗", "满99包邮");
            e.member_answers = answers.clone();
            assert_eq!(
                NewEntry::parse(e).unwrap_err(),
                KnowledgeRuleError::BadMemberAnswer,
                "{answers:?}"
            );
        }
    }

    fn raw(question: &str, answer: &str) -> RawEntry {
        RawEntry {
            question: Some(question.into()),
            answer: Some(answer.into()),
            ..RawEntry::default()
        }
    }

    #[test]
    fn eval_format_takes_first_question_as_standard() {
        let e = NewEntry::parse(RawEntry {
            id: Some("card_arrival".into()),
            questions: vec!["Where is my card?".into(), "card not here".into()],
            answer: Some("It takes 3 days.".into()),
            ..RawEntry::default()
        })
        .unwrap();
        assert_eq!(e.content.question, "Where is my card?");
        assert_eq!(e.content.similar, vec!["card not here".to_string()]);
        assert_eq!(e.content.locale, Locale::En);
    }

    #[test]
    fn locale_is_detected_from_chinese_text() {
        let e = NewEntry::parse(raw("可以退货吗", "可以")).unwrap();
        assert_eq!(e.content.locale, Locale::Zh);
    }

    #[test]
    fn bad_fields_are_refused_with_their_reason() {
        assert_eq!(
            NewEntry::parse(raw("  ", "a")).unwrap_err(),
            KnowledgeRuleError::EmptyQuestion
        );
        assert_eq!(
            NewEntry::parse(raw("q", " ")).unwrap_err(),
            KnowledgeRuleError::EmptyAnswer
        );
        let mut r = raw("q", "a");
        r.category = Some("售后//退货".into());
        assert_eq!(
            NewEntry::parse(r).unwrap_err(),
            KnowledgeRuleError::BadCategory
        );
        let mut r = raw("q", "a");
        r.valid_from = Some("2026-12-01".into());
        r.valid_to = Some("2026-11-01".into());
        assert_eq!(
            NewEntry::parse(r).unwrap_err(),
            KnowledgeRuleError::EmptyValidity
        );
        let mut r = raw("q", "a");
        r.id = Some("has space".into());
        assert_eq!(
            NewEntry::parse(r).unwrap_err(),
            KnowledgeRuleError::BadEntryId
        );
    }

    #[test]
    fn ids_from_shop_systems_are_kept_unless_they_break_a_path() {
        assert!(EntryId::parse("reverted_card_payment?").is_ok());
        assert!(EntryId::parse("退货-7天").is_ok());
        for bad in ["a/b", "a b", "50%", "", "a#b"] {
            assert_eq!(
                EntryId::parse(bad).unwrap_err(),
                KnowledgeRuleError::BadEntryId,
                "{bad}"
            );
        }
    }

    #[test]
    fn category_ancestors_are_its_prefixes() {
        let c = CategoryPath::parse("售后 / 退货/七天").unwrap();
        assert_eq!(c.as_str(), "售后/退货/七天");
        assert_eq!(
            c.with_ancestors(),
            vec!["售后", "售后/退货", "售后/退货/七天"]
        );
    }

    #[test]
    fn validity_window_is_inclusive() {
        let mut r = raw("双11满减", "满300减50");
        r.valid_from = Some("2026-11-01".into());
        r.valid_to = Some("2026-11-11".into());
        let e = NewEntry::parse(r).unwrap().content;
        assert!(e.valid_on(&Day::parse("2026-11-11").unwrap()));
        assert!(!e.valid_on(&Day::parse("2026-11-12").unwrap()));
        assert!(!e.valid_on(&Day::parse("2026-10-31").unwrap()));
    }

    #[test]
    fn content_hash_changes_with_content_only() {
        let a = NewEntry::parse(raw("q", "a")).unwrap().content;
        let b = NewEntry::parse(raw("q", "a")).unwrap().content;
        let c = NewEntry::parse(raw("q", "b")).unwrap().content;
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
    }

    #[test]
    fn queries_are_bounded() {
        assert_eq!(
            KbQuery::parse(" ").unwrap_err(),
            KnowledgeRuleError::EmptyQuery
        );
        assert_eq!(
            KbQuery::parse(&"退".repeat(MAX_QUERY_CHARS + 1)).unwrap_err(),
            KnowledgeRuleError::QueryTooLong
        );
    }
}

/// An entry the knowledge base found for a question, as the bot uses it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KbHit {
    pub entry_id: String,
    pub title: String,
    pub answer: String,
    pub score: f32,
    /// The classifier's probability that the question is this entry's (0
    /// without a classifier).
    #[serde(default)]
    pub classifier: f32,
    /// The entry's other wordings of its question and its tags and products:
    /// what a knowledge manager said the entry is about ("到广州大概多久" for
    /// the delivery-time entry), which its answer need not name.
    #[serde(default)]
    pub wordings: Vec<String>,
    /// The entry's answers by member level (`answer` is everyone else's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub member_answers: Vec<MemberAnswer>,
    /// The entry's category path and products: what a chat it answers is
    /// about (analytics' category and product dimensions).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub category: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
}

impl KbHit {
    /// The hit as a buyer of `level` sees it: that level's answer in place of
    /// the entry's, when it has one.
    pub fn for_level(mut self, level: Option<&str>) -> KbHit {
        let answer = answer_for_level(&self.answer, &self.member_answers, level).to_owned();
        self.answer = answer;
        self
    }
}
