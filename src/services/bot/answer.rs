//! Answers from the knowledge base: a confident curated entry goes out as written,
//! without the model; otherwise the LLM writes an answer grounded on the retrieved
//! entries, streamed to the buyer as it is written, checked as it grows, and
//! committed with the entries it cited.

use super::grounding::Unsupported;
use super::guard::{self, Allowed};
use super::pipeline::Turn;
use super::prompts::{PromptEntry, dont_know};
use super::{BotError, BotService};
use crate::domain::bot_messages::{Messages, Msg};
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
/// Entries given to the model.
const GROUNDING_ENTRIES: usize = 2;

impl BotService {
    pub(super) async fn answer_from_knowledge(&self, turn: &mut Turn) -> Result<(), BotError> {
        let question = turn.facts.text.clone();
        let verdict = match self.ports.knowledge.decide(&question).await {
            Ok(verdict) => self.for_member(turn, verdict).await,
            Err(error) => {
                tracing::warn!(%error, "knowledge base failed; handing off");
                return self.hand_off(turn, HandoffReason::BotUnavailable).await;
            }
        };
        turn.session.retrieved(&verdict.hits);
        match (verdict.decision, verdict.hits.first()) {
            // A curated match whose entries do not speak of what is asked
            // ("充电宝能给ipad充电不" matching the power bank's charging entry)
            // is not sent as it stands: it would be a non-answer with a
            // citation. The grounded path offers the closest entries instead.
            (KbDecision::Curated, Some(_))
                if !self.grounding().covers(
                    &question,
                    &grounding_evidence(&verdict.hits).as_refs(),
                    turn.lang,
                ) =>
            {
                self.grounded(turn, &verdict).await
            }
            (KbDecision::Curated, Some(best)) => self.curated(turn, best).await,
            (KbDecision::Grounded, Some(_)) => self.grounded(turn, &verdict).await,
            (KbDecision::HandOff, _) | (_, None) => {
                self.log_unanswered(turn, HandoffReason::LowConfidence)
                    .await;
                self.hand_off(turn, HandoffReason::LowConfidence).await
            }
        }
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

    pub(super) async fn curated(&self, turn: &mut Turn, hit: &KbHit) -> Result<(), BotError> {
        self.curated_with(turn, hit, None).await
    }

    /// The curated answer, with `then` (an offer of what the bot can do next) after it.
    pub(super) async fn curated_with(
        &self,
        turn: &mut Turn,
        hit: &KbHit,
        then: Option<&str>,
    ) -> Result<(), BotError> {
        let text = match then {
            Some(then) => format!("{}\n{then}", hit.answer.trim_end()),
            None => hit.answer.clone(),
        };
        let citation = Citation {
            entry_id: hit.entry_id.clone(),
            title: hit.title.clone(),
        };
        turn.session
            .unhelpful
            .record(true, self.config.unhelpful_limit);
        self.send_answer(turn, text, vec![citation], AnswerSource::Curated, None)
            .await?;
        self.note_answered(&hit.entry_id).await;
        Ok(())
    }

    async fn note_answered(&self, entry_id: &str) {
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

    async fn grounded(&self, turn: &mut Turn, verdict: &KbVerdict) -> Result<(), BotError> {
        let Some(llm) = self.ports.llm.clone() else {
            return self.hand_off(turn, HandoffReason::BotUnavailable).await;
        };
        let hits: Vec<&KbHit> = verdict.hits.iter().take(GROUNDING_ENTRIES).collect();
        let evidence = grounding_evidence(&verdict.hits);
        let evidence = evidence.as_refs();
        // Numbers must come from what the entries say, not from their wordings.
        let said = Evidence(
            hits.iter()
                .map(|h| format!("{}\n{}", h.title, h.answer))
                .collect(),
        );
        if !self
            .grounding()
            .covers(&turn.facts.text, &evidence, turn.lang)
        {
            // Nothing the model could say from these entries would answer it.
            return self.offer_closest(turn, &hits, true).await;
        }
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
            return self.without_the_model(turn, &hits, &rules, &allowed).await;
        }
        let asked_at = tokio::time::Instant::now();
        let mut stream = match llm.generate(messages, params).await {
            Ok(stream) => stream,
            Err(crate::ports::ModelError::Overloaded) => {
                // A full queue would keep the buyer waiting past the budget.
                tracing::info!("the model is busy; answering without it");
                return self.without_the_model(turn, &hits, &rules, &allowed).await;
            }
            Err(error) => {
                tracing::warn!(%error, "the model refused the answer; handing off");
                return self.hand_off(turn, HandoffReason::BotUnavailable).await;
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
            return self.without_the_model(turn, &hits, &rules, &allowed).await;
        }
        let clean = strip_citation_marks(&raw).trim().to_owned();
        let mut unknown = late || clean.is_empty() || says_dont_know(&clean) || invented.is_some();
        if invented.is_some() {
            tracing::info!("generated answer invented a number; stopped early");
        }
        if late {
            tracing::info!("generated answer past its total budget; offering the closest entries");
        }
        let mut supported = Vec::new();
        if violation.is_none() && !unknown {
            match self.supporting_entries(&clean, &raw, &turn.facts.text, &hits, turn.lang) {
                Ok(citations) => supported = citations,
                Err(why) => {
                    // Never sent as an answer: the streamed pieces are replaced
                    // by the don't-know offer committed under the same stream id.
                    tracing::info!(reason = ?why, "generated answer not grounded in its entries");
                    unknown = true;
                }
            }
        }
        let (text, citations) = if let Some(v) = violation {
            tracing::warn!(violation = ?v, "generated answer withheld");
            (self.words(Msg::Withheld, turn.lang), Vec::new())
        } else if unknown {
            // Not a dead end: the entries the question came closest to, to pick by number.
            turn.session.suggestions = hits.iter().map(|h| (*h).clone()).collect();
            (suggestion_reply(turn, self.prompts.messages()), Vec::new())
        } else {
            // The checks passed: the held-back tail goes out before the commit.
            let tail: String = strip_citation_marks(&raw).chars().skip(sent).collect();
            if !tail.trim().is_empty() {
                self.chat.stream_delta(&turn.conversation, &stream_id, tail);
            }
            (clean, supported)
        };
        let limit_reached = turn
            .session
            .unhelpful
            .record(!unknown, self.config.unhelpful_limit);
        self.send_answer(
            turn,
            text,
            citations.clone(),
            AnswerSource::Generated,
            Some(stream_id),
        )
        .await?;
        for c in &citations {
            self.note_answered(&c.entry_id).await;
        }
        if unknown && !late {
            self.log_unanswered(turn, HandoffReason::LowConfidence)
                .await;
        }
        if limit_reached {
            return self.hand_off(turn, HandoffReason::UnhelpfulTurns).await;
        }
        Ok(())
    }
}

impl BotService {
    /// When the model cannot answer in time: the best entry's curated answer
    /// if it names everything the question does, else the closest entries to
    /// pick by number.
    /// The entry's words go out only if they pass the same output guard as a
    /// model's answer (an entry can carry injected text too).
    async fn without_the_model(
        &self,
        turn: &mut Turn,
        hits: &[&KbHit],
        rules: &str,
        allowed: &Allowed,
    ) -> Result<(), BotError> {
        if let Some(best) = hits.first()
            && guard::check(&best.answer, rules, allowed).is_none()
            && self.grounding().names_all_of(
                &turn.facts.text,
                &format!("{}\n{}", best.title, best.answer),
            )
        {
            return self.curated(turn, best).await;
        }
        self.offer_closest(turn, hits, false).await
    }

    /// The don't-know reply with the closest entries to pick by number, without
    /// the model; `unanswered`: the knowledge base lacks the answer (logged for
    /// knowledge managers), rather than the model being busy.
    async fn offer_closest(
        &self,
        turn: &mut Turn,
        hits: &[&KbHit],
        unanswered: bool,
    ) -> Result<(), BotError> {
        turn.session.suggestions = hits.iter().map(|h| (*h).clone()).collect();
        let text = suggestion_reply(turn, self.prompts.messages());
        let limit_reached = turn
            .session
            .unhelpful
            .record(false, self.config.unhelpful_limit);
        self.send_answer(turn, text, Vec::new(), AnswerSource::Generated, None)
            .await?;
        if unanswered {
            self.log_unanswered(turn, HandoffReason::LowConfidence)
                .await;
        }
        if limit_reached {
            return self.hand_off(turn, HandoffReason::UnhelpfulTurns).await;
        }
        Ok(())
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
/// wordings of the best `GROUNDING_ENTRIES` hits.
struct Evidence(Vec<String>);

impl Evidence {
    fn as_refs(&self) -> Vec<&str> {
        self.0.iter().map(String::as_str).collect()
    }
}

fn grounding_evidence(hits: &[KbHit]) -> Evidence {
    Evidence(hits.iter().take(GROUNDING_ENTRIES).map(spoken_of).collect())
}

/// What an entry speaks of: its title, answer and other wordings.
fn spoken_of(hit: &KbHit) -> String {
    format!("{}\n{}\n{}", hit.title, hit.answer, hit.wordings.join("\n"))
}

fn dont_know_reply(turn: &Turn, words: &Messages) -> String {
    let offer = words.text(Msg::AskAnotherWay, turn.lang);
    Messages::join(turn.lang, dont_know(turn.lang), offer)
}

/// The don't-know reply with the session's suggestions as a numbered list.
fn suggestion_reply(turn: &Turn, words: &Messages) -> String {
    let suggestions = &turn.session.suggestions;
    if suggestions.is_empty() {
        return dont_know_reply(turn, words);
    }
    let list: Vec<String> = suggestions
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {}", i + 1, s.title))
        .collect();
    let ask = words.text(Msg::DidYouMean, turn.lang);
    let how = words.text(Msg::PickANumber, turn.lang);
    let head = Messages::join(turn.lang, dont_know(turn.lang), ask);
    format!("{head}\n{}\n{how}", list.join("\n"))
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
