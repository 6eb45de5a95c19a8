//! Answers from the knowledge base: a confident curated entry goes out as written,
//! without the model; otherwise the LLM writes an answer grounded on the retrieved
//! entries, streamed to the buyer as it is written, checked as it grows, and
//! committed with the entries it cited.

use super::action::{self, Action, Generation, HandOff, OfferEntries, Reply};
use super::grounding::Unsupported;
use super::guard::{self, Allowed};
use super::pipeline::Turn;
use super::prompts::{PromptEntry, dont_know};
use super::{BotError, BotService};
use crate::domain::bot_messages::Msg;
use crate::domain::handoff::HandoffReason;
use crate::domain::lang::Lang;
use crate::domain::message::{AnswerSource, Citation};
use crate::ports::{
    ChatMessage, ChatRole, GenerationEvent, GenerationParams, KbDecision, KbHit, KbVerdict,
    Sampling,
};

/// Characters held back from the live stream, so a forbidden phrase is caught
/// before its end reaches the buyer.
const HOLDBACK_CHARS: usize = 10;

/// Questions of one message answered each by its own entry; a message of
/// more is taken as one question.
const MAX_QUESTIONS: usize = 3;

impl BotService {
    /// The last step: what the knowledge base's verdict on the question comes to.
    pub(super) async fn answer_from_knowledge(&self, turn: &mut Turn) -> Action {
        let question = turn.facts.text.clone();
        let mut verdict = match self.ports.knowledge.decide(&question).await {
            Ok(verdict) => self.for_member(turn, verdict).await,
            Err(error) => {
                tracing::warn!(%error, "knowledge base failed; handing off");
                return Action::HandOff(HandOff::because(HandoffReason::BotUnavailable));
            }
        };
        turn.session.retrieved(&verdict.hits);
        let lang = turn.lang;
        let covers_alone = |hit: &KbHit| {
            self.grounding()
                .covers(&question, &[spoken_of(hit).as_str()], lang)
        };
        let alone = verdict.decision == KbDecision::Curated
            && verdict.hits.first().is_some_and(covers_alone);
        if let Some(lapsed) = &verdict.out_of_window {
            let about =
                self.grounding()
                    .covers(&question, &[spoken_of(&lapsed.hit).as_str()], turn.lang);
            // What is on instead, when today's best entry of the same kind
            // answers the question too ("这个月有满减吗" in December).
            let instead = verdict
                .hits
                .first()
                .filter(|best| alone && best.category == lapsed.hit.category);
            let messages = self.prompts.messages();
            let said = action::on_out_of_window(lapsed, about, instead, messages, turn.lang);
            if !said.is_continue() {
                return said;
            }
        }
        if !alone && let Some(answers) = self.answer_each(turn, &question).await {
            return action::answer_each(&answers, None);
        }
        if !alone && action::speaking_of_it_first(&mut verdict, covers_alone) {
            tracing::debug!("the runner-up speaks of what was asked; it goes first");
        }
        let covered = self.grounding().covers(
            &question,
            &grounding_evidence(&verdict.hits).as_refs(),
            turn.lang,
        );
        action::on_verdict(&verdict, covered, self.ports.llm.is_some())
    }

    /// A message that asks several questions ("能开发票吗 还有退货运费谁出"), when
    /// no one entry answers it whole: each question's curated answer, if each
    /// has its own entry, confident enough to answer from, that alone speaks
    /// of everything it asks. Otherwise the message is taken as one question.
    pub(super) async fn answer_each(&self, turn: &mut Turn, message: &str) -> Option<Vec<KbHit>> {
        let questions = action::questions_in(message);
        if !(2..=MAX_QUESTIONS).contains(&questions.len()) {
            return None;
        }
        let mut answers: Vec<KbHit> = Vec::new();
        for question in &questions {
            let verdict = match self.ports.knowledge.decide(question).await {
                Ok(verdict) => self.for_member(turn, verdict).await,
                Err(error) => {
                    tracing::warn!(%error, "knowledge base failed on part of a message");
                    return None;
                }
            };
            // The standard a late model's stand-in is held to: answered (not
            // handed off), by the best entry alone.
            if verdict.decision == KbDecision::HandOff || verdict.out_of_window.is_some() {
                return None;
            }
            let best = verdict.hits.into_iter().next()?;
            let answers_it =
                self.grounding()
                    .covers(question, &[spoken_of(&best).as_str()], turn.lang);
            if !answers_it || answers.iter().any(|a| a.entry_id == best.entry_id) {
                return None;
            }
            answers.push(best);
        }
        turn.session.retrieved(&answers);
        Some(answers)
    }

    /// The verdict as this buyer sees it: an entry's answer for the buyer's
    /// member level in place of its answer for everyone, before the grounding
    /// check, the model or the buyer see any of it. Only a signed-in buyer has
    /// a level (the shop says which); if the shop cannot say, everyone's answer.
    pub(super) async fn for_member(&self, turn: &Turn, mut verdict: KbVerdict) -> KbVerdict {
        if verdict.hits.iter().all(|h| h.member_answers.is_empty()) {
            return verdict;
        }
        let level = match turn.buyer_account() {
            Some(account) => match self.ports.commerce.member_level(account).await {
                Ok(level) => level,
                Err(error) => {
                    tracing::warn!(%error, "member level unknown; everyone's answer");
                    None
                }
            },
            None => None,
        };
        verdict.hits = verdict
            .hits
            .into_iter()
            .map(|hit| hit.for_level(level.as_deref()))
            .collect();
        verdict
    }

    pub(super) async fn note_answered(&self, entry_id: &str) {
        if let Err(error) = self.ports.knowledge.record_answered(entry_id).await {
            tracing::warn!(%error, "could not record an answered entry");
        }
    }

    fn allowed(turn: &Turn) -> Allowed {
        let mut order_numbers = turn.session.own_orders.clone();
        order_numbers.extend(
            crate::domain::commerce::OrderNumber::find_in(&turn.facts.text)
                .iter()
                .map(|o| o.as_str().to_owned()),
        );
        Allowed {
            order_numbers,
            phones: turn.profile.phone.iter().cloned().collect(),
        }
    }

    /// Carries out [`Action::Stream`]: the model writes the answer, streamed
    /// to the buyer as it grows (a tail held back), stopped at a forbidden
    /// phrase or an invented number, and checked against its entries before
    /// it is committed. What it comes to is the next action: the answer, the
    /// closest entries (not grounded, or past the budget), the curated answer
    /// (the model busy or out of budget) or a hand-off (the model refused).
    pub(super) async fn stream(
        &self,
        turn: &mut Turn,
        generation: Generation,
    ) -> Result<Action, BotError> {
        let hits = generation.hits;
        let Some(llm) = self.ports.llm.clone() else {
            return Ok(Action::HandOff(HandOff::because(
                HandoffReason::BotUnavailable,
            )));
        };
        // Numbers must come from what the entries say, not from their wordings.
        let said = Evidence(
            hits.iter()
                .map(|h| format!("{}\n{}", h.title, h.answer))
                .collect(),
        );
        let entries: Vec<PromptEntry> = hits
            .iter()
            .map(|h| PromptEntry {
                title: h.title.clone(),
                answer: h.answer.clone(),
            })
            .collect();
        let shop_name = self.shop.current().await.shop_name.clone();
        let system = self.prompts.system_for(turn.lang, &shop_name)?;
        let user = self
            .prompts
            .grounded(&entries, &turn.facts.text, turn.lang)?;
        let params = GenerationParams {
            max_tokens: self.config.max_answer_tokens,
            sampling: Sampling::Greedy,
            stop: Vec::new(),
        };
        let messages = vec![
            ChatMessage::new(ChatRole::System, system.clone()),
            ChatMessage::new(ChatRole::User, user),
        ];
        let allowed = Self::allowed(turn);
        let rules = leak_source(&system, turn.lang);
        let budget = self.config.answer_budget;
        let now = self.clock.now_ms();
        if !turn.session.llm_usage.allows(self.config.token_budget, now) {
            tracing::info!(
                "the conversation spent its model token budget; answering without the model"
            );
            return Ok(self.without_the_model(turn, &hits, &rules, &allowed));
        }
        let asked_at = tokio::time::Instant::now();
        let mut stream = match llm.generate(messages, params).await {
            Ok(stream) => stream,
            Err(crate::ports::ModelError::Overloaded) => {
                // A full queue would keep the buyer waiting past the budget.
                tracing::info!("the model is busy; answering without it");
                return Ok(self.without_the_model(turn, &hits, &rules, &allowed));
            }
            Err(error) => {
                tracing::warn!(%error, "the model refused the answer; handing off");
                return Ok(Action::HandOff(HandOff::because(
                    HandoffReason::BotUnavailable,
                )));
            }
        };
        let stream_id = uuid::Uuid::new_v4().to_string();
        let mut raw = String::new();
        let mut sent = 0usize; // characters of the clean text already streamed
        let mut violation = None;
        let mut invented = None;
        let mut late = false;
        let mut pieces = 0u64;
        loop {
            let deadline = asked_at
                + if raw.is_empty() {
                    budget.first_token
                } else {
                    budget.total
                };
            let event = match tokio::time::timeout_at(deadline, stream.recv()).await {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(_) => {
                    late = true;
                    break; // dropping the stream cancels the generation, queued or running
                }
            };
            match event {
                Ok(GenerationEvent::Token(piece)) => {
                    pieces += 1;
                    raw.push_str(&piece);
                }
                Ok(GenerationEvent::Done(_)) => break,
                Err(error) => {
                    tracing::warn!(%error, "generation failed mid-answer");
                    break;
                }
            }
            let clean = strip_citation_marks(&raw);
            violation = guard::check(&clean, &rules, &allowed);
            if violation.is_some() {
                break; // dropping the stream stops the model
            }
            invented =
                self.grounding()
                    .invented_number_so_far(&clean, &turn.facts.text, &said.as_refs());
            if invented.is_some() {
                break; // an invented price or period: no need to hear the rest
            }
            let ready = clean.chars().count().saturating_sub(HOLDBACK_CHARS);
            if ready > sent {
                let delta: String = clean.chars().skip(sent).take(ready - sent).collect();
                sent = ready;
                self.chat
                    .stream_delta(&turn.conversation, &stream_id, delta);
            }
        }
        drop(stream);
        // Roughly a token per piece and per character the buyer wrote.
        let spent = pieces + turn.facts.text.chars().count() as u64;
        turn.session.llm_usage.spend(now, spent);
        if late && sent == 0 {
            tracing::info!("no answer within the first-token budget; answering without the model");
            return Ok(self.without_the_model(turn, &hits, &rules, &allowed));
        }
        let clean = strip_citation_marks(&raw).trim().to_owned();
        let mut unknown = late || clean.is_empty() || says_dont_know(&clean) || invented.is_some();
        if invented.is_some() {
            tracing::info!("generated answer invented a number; stopped early");
        }
        if late {
            tracing::info!("generated answer past its total budget; offering the closest entries");
        }
        if let Some(v) = violation {
            tracing::warn!(violation = ?v, "generated answer withheld");
            return Ok(Action::Reply(Reply {
                helped: Some(!unknown),
                stream_id: Some(stream_id),
                ..Reply::notice(self.words(Msg::Withheld, turn.lang))
            }));
        }
        let mut supported = Vec::new();
        if !unknown {
            let refs: Vec<&KbHit> = hits.iter().collect();
            match self.supporting_entries(&clean, &raw, &turn.facts.text, &refs, turn.lang) {
                Ok(citations) => supported = citations,
                Err(why) => {
                    // Never sent as an answer: the streamed pieces are replaced
                    // by the don't-know offer committed under the same stream id.
                    tracing::info!(reason = ?why, "generated answer not grounded in its entries");
                    unknown = true;
                }
            }
        }
        if unknown {
            // Not a dead end: the entries the question came closest to, to pick by number.
            return Ok(Action::OfferEntries(OfferEntries {
                hits,
                unanswered: !late,
                stream_id: Some(stream_id),
            }));
        }
        // The checks passed: the held-back tail goes out before the commit.
        let tail: String = strip_citation_marks(&raw).chars().skip(sent).collect();
        if !tail.trim().is_empty() {
            self.chat.stream_delta(&turn.conversation, &stream_id, tail);
        }
        Ok(Action::Reply(Reply {
            text: clean,
            citations: supported,
            source: AnswerSource::Generated,
            helped: Some(true),
            cards: Vec::new(),
            stream_id: Some(stream_id),
        }))
    }
}

impl BotService {
    /// When the model cannot answer in time: the best entry's curated answer
    /// if that entry alone speaks of everything the question asks about (the
    /// grounding check that lets a curated match through, on the best entry
    /// with its wordings: "一单买了两件只退一件 钱咋算" gets the partial-refund
    /// entry), else the closest entries to pick by number ("寄美国大概要多久"
    /// against the delivery-time entry that names no country). Only the best:
    /// the runner-up that alone covered "what colours does the t-shirt come
    /// in" was the exchange entry, a non-answer with a citation. The entry's
    /// words go out only if they pass the same output guard as a model's
    /// answer (an entry can carry injected text too).
    fn without_the_model(
        &self,
        turn: &Turn,
        hits: &[KbHit],
        rules: &str,
        allowed: &Allowed,
    ) -> Action {
        if let Some(best) = hits.first()
            && guard::check(&best.answer, rules, allowed).is_none()
            && self
                .grounding()
                .covers(&turn.facts.text, &[spoken_of(best).as_str()], turn.lang)
        {
            return Action::Reply(Reply::curated(best, None));
        }
        Action::offer(hits.to_vec(), false)
    }

    /// The entries a generated answer stands on: the ones it cites when they
    /// support it, else all it was given when together they do (the model
    /// cited the wrong one). An answer neither supports is not grounded.
    fn supporting_entries(
        &self,
        clean: &str,
        raw: &str,
        question: &str,
        hits: &[&KbHit],
        lang: Lang,
    ) -> Result<Vec<Citation>, Unsupported> {
        let content = |h: &KbHit| format!("{}\n{}", h.title, h.answer);
        let citations = cited(raw, hits);
        let cited_texts: Vec<String> = hits
            .iter()
            .filter(|h| citations.iter().any(|c| c.entry_id == h.entry_id))
            .map(|h| content(h))
            .collect();
        let cited_refs: Vec<&str> = cited_texts.iter().map(String::as_str).collect();
        let wordings: Vec<&str> = hits
            .iter()
            .flat_map(|h| h.wordings.iter().map(String::as_str))
            .collect();
        let grounding = self.grounding();
        let first = grounding.check_with(clean, question, &cited_refs, &wordings, lang);
        if first.is_ok() || citations.len() >= hits.len() {
            return first.map(|()| citations);
        }
        let all: Vec<String> = hits.iter().map(|h| content(h)).collect();
        let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
        grounding.check_with(clean, question, &all_refs, &wordings, lang)?;
        Ok(hits
            .iter()
            .map(|h| Citation {
                entry_id: h.entry_id.clone(),
                title: h.title.clone(),
            })
            .collect())
    }
}

/// The text of the entries a question is held to: title, answer and other
/// wordings of the best `action::GROUNDING_ENTRIES` hits.
struct Evidence(Vec<String>);

impl Evidence {
    fn as_refs(&self) -> Vec<&str> {
        self.0.iter().map(String::as_str).collect()
    }
}

fn grounding_evidence(hits: &[KbHit]) -> Evidence {
    Evidence(
        hits.iter()
            .take(action::GROUNDING_ENTRIES)
            .map(spoken_of)
            .collect(),
    )
}

/// What an entry speaks of: its title, answer and other wordings.
fn spoken_of(hit: &KbHit) -> String {
    format!("{}\n{}\n{}", hit.title, hit.answer, hit.wordings.join("\n"))
}

/// Which of `count` suggestions a reply picks: "2", "２", "2.", "第二个", "no. 2"...
pub fn picked_suggestion(text: &str, count: usize) -> Option<usize> {
    let t = text
        .trim()
        .trim_end_matches(['.', '。', '、', ')', '）', '!', '！'])
        .to_lowercase();
    let t = t.trim();
    let core = t
        .strip_prefix("第")
        .map(|r| r.trim_end_matches(['个', '条', '项']))
        .or_else(|| t.strip_prefix("no."))
        .or_else(|| t.strip_prefix('#'))
        .unwrap_or(t)
        .trim();
    let n = match core {
        "一" => 1,
        "二" | "两" => 2,
        "三" => 3,
        "四" => 4,
        "五" => 5,
        digits => {
            let ascii: String = digits
                .chars()
                .map(|c| match c {
                    '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
                    c => c,
                })
                .collect();
            ascii.parse::<usize>().ok()?
        }
    };
    (1..=count).contains(&n).then(|| n - 1)
}

/// The part of the system prompt the answer must not repeat: all of it but the
/// don't-know sentence it tells the model to say word for word.
fn leak_source(system: &str, lang: Lang) -> String {
    system.replace(dont_know(lang), "")
}

fn says_dont_know(text: &str) -> bool {
    let lower = text.to_lowercase();
    [
        "无法回答",
        "不知道",
        "don't know",
        "do not know",
        "cannot answer",
        "can't answer",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

/// Removes "[1]" / "【2】" citation marks (the answer lists its citations apart).
pub fn strip_citation_marks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if matches!(chars[i], '[' | '【') {
            let digits = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            let close = chars.get(i + 1 + digits);
            if digits > 0 && matches!(close, Some(']') | Some('】')) {
                i += digits + 2;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The entries the answer cites by number; the best hit when it cites none.
fn cited(raw: &str, hits: &[&KbHit]) -> Vec<Citation> {
    let mut picked: Vec<usize> = Vec::new();
    let chars: Vec<char> = raw.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if matches!(c, '[' | '【') {
            let digits: String = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            if let Ok(n) = digits.parse::<usize>()
                && (1..=hits.len()).contains(&n)
                && !picked.contains(&(n - 1))
            {
                picked.push(n - 1);
            }
        }
    }
    if picked.is_empty() && !hits.is_empty() {
        picked.push(0);
    }
    picked
        .into_iter()
        .map(|i| Citation {
            entry_id: hits[i].entry_id.clone(),
            title: hits[i].title.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citation_marks_are_removed_and_collected() {
        assert_eq!(
            strip_citation_marks("48小时内发货[1]，包邮【2】。[x]"),
            "48小时内发货，包邮。[x]"
        );
        let hit = |id: &str| KbHit {
            entry_id: id.into(),
            title: id.into(),
            answer: String::new(),
            score: 0.9,
            classifier: 0.0,
            wordings: Vec::new(),
            member_answers: Vec::new(),
            category: String::new(),
            products: Vec::new(),
        };
        let (a, b) = (hit("a"), hit("b"));
        let cites = cited("text [2] and [1] and [2] and [9]", &[&a, &b]);
        let ids: Vec<&str> = cites.iter().map(|c| c.entry_id.as_str()).collect();
        assert_eq!(ids, ["b", "a"]);
        assert_eq!(cited("no marks", &[&a, &b])[0].entry_id, "a");
    }

    #[test]
    fn a_reply_picks_a_suggestion_by_its_number() {
        for (text, pick) in [
            ("1", Some(0)),
            (" 2 ", Some(1)),
            ("２", Some(1)),
            ("2.", Some(1)),
            ("第二个", Some(1)),
            ("第1条", Some(0)),
            ("No. 2", Some(1)),
            ("3", None),
            ("0", None),
            ("12", None),
            ("1个月前买的", None),
            ("第二天", None),
            ("", None),
        ] {
            assert_eq!(picked_suggestion(text, 2), pick, "{text:?}");
        }
    }

    #[test]
    fn the_sanctioned_dont_know_is_not_a_prompt_leak_but_the_rules_still_are() {
        let prompts = super::super::prompts::Prompts::load("店小二示例店").unwrap();
        for lang in [Lang::En, Lang::Zh] {
            let system = prompts.system(lang).unwrap();
            let rules = leak_source(&system, lang);
            let allowed = guard::Allowed::default();
            assert_eq!(guard::check(dont_know(lang), &rules, &allowed), None);
            assert!(says_dont_know(dont_know(lang)));
            // A long stretch of the rules themselves is still caught.
            let stretch: String = system.chars().skip(10).take(60).collect();
            assert_eq!(
                guard::check(&stretch, &rules, &allowed),
                Some(guard::Violation::PromptLeak),
                "{lang:?}"
            );
        }
    }
}
