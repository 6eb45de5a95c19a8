//! One buyer message through the pipeline: triggers, probing, recommendations,
//! answer-then-offer, intake and order tools, then the knowledge base. Each
//! step returns an [`Action`]: `Continue` passes the message on, anything else
//! ends the search, and [`BotService::execute`] carries it out.

use super::action::{self, Action, HandOff, OfferEntries, Reply};
use super::session::BotSession;
use super::{BotError, BotService};
use crate::domain::analytics::Topic;
use crate::domain::bot_messages::Msg;
use crate::domain::conversation::{ConversationId, ConversationState};
use crate::domain::handoff::HandoffReason;
use crate::domain::intake::MessageFacts;
use crate::domain::lang::Lang;
use crate::domain::message::{AnswerSource, Citation, MessageBody};
use crate::services::chat::{BuyerMessage, ConversationView};
use crate::services::visitors::VisitorProfile;

/// Everything one turn works with.
pub struct Turn {
    pub conversation: ConversationView,
    pub id: ConversationId,
    pub session: BotSession,
    pub facts: MessageFacts,
    pub lang: Lang,
    pub profile: VisitorProfile,
}

impl Turn {
    pub fn buyer_account(&self) -> Option<&str> {
        self.profile.shop_account_id.as_deref()
    }
}

fn facts_of(body: &MessageBody) -> MessageFacts {
    match body {
        MessageBody::Text { text } => MessageFacts {
            text: text.as_str().to_owned(),
            image: None,
        },
        MessageBody::Image {
            attachment_id,
            caption,
        } => MessageFacts {
            text: caption
                .as_ref()
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
            image: Some(attachment_id.as_str().to_owned()),
        },
        MessageBody::File { name, .. } => MessageFacts {
            text: name.clone(),
            image: None,
        },
        MessageBody::System { .. }
        | MessageBody::BotAnswer { .. }
        | MessageBody::ProductCard { .. }
        | MessageBody::OrderCard { .. }
        | MessageBody::CouponCard { .. }
        | MessageBody::Voice { .. } => MessageFacts::default(),
    }
}

impl BotService {
    pub(super) async fn on_message(&self, message: BuyerMessage) -> Result<(), BotError> {
        let conversation = self.chat.conversation(&message.conversation_id).await?;
        if conversation.state != ConversationState::Bot {
            return Ok(()); // a person owns the chat: the bot stays silent
        }
        let facts = facts_of(&message.body);
        let voice = matches!(message.body, MessageBody::Voice { .. });
        if facts.text.trim().is_empty() && facts.image.is_none() && !voice {
            return Ok(());
        }
        // The buyer sees that the bot is working until its reply is committed
        // (a model answer can take seconds before its first word).
        let _typing = self.typing_while_working(&conversation);
        let mut session = self.sessions.session(&conversation.id).await?;
        if let Some(lang) = Lang::of_message(&facts.text) {
            session.lang = lang;
        } else if session.buyer_messages.is_empty() {
            session.lang = Lang::detect(&facts.text);
        }
        if !facts.text.trim().is_empty() {
            session.said(&facts.text);
        }
        let profile = self.visitors.profile(&message.visitor_id).await?;
        let mut turn = Turn {
            id: message.conversation_id.clone(),
            lang: session.lang,
            conversation,
            session,
            facts,
            profile,
        };
        let decided = if voice {
            // The bot cannot listen (no speech recognition here): it says so
            // and asks for words, or a person, who can play the recording.
            Ok(Action::Reply(Reply::notice(
                self.words(Msg::VoiceReceived, turn.lang),
            )))
        } else {
            self.decide(&mut turn).await
        };
        let outcome = match decided {
            Ok(action) => self.execute(&mut turn, action).await,
            Err(error) => Err(error),
        };
        let now = self.clock.now_ms();
        self.sessions
            .save_session(turn.id.as_str(), &turn.session, now)
            .await?;
        outcome
    }

    /// The steps in order, until one decides.
    async fn decide(&self, turn: &mut Turn) -> Result<Action, BotError> {
        let text = turn.facts.text.clone();
        let offered = std::mem::take(&mut turn.session.suggestions);
        let first = action::first_look(
            &text,
            &mut turn.session,
            &offered,
            self.prompts.messages(),
            self.config.unhelpful_limit,
        );
        if !first.is_continue() {
            return Ok(first);
        }
        let recommended = self.offer_recommendations(turn).await?;
        if !recommended.is_continue() {
            return Ok(recommended);
        }
        let offered_intent = turn.session.offered_intent.take();
        self.take_up_offer(turn, offered_intent);
        let answered = self.answer_then_offer(turn).await?;
        if !answered.is_continue() {
            return Ok(answered);
        }
        let intake = self.intake_step(turn).await?;
        if !intake.is_continue() {
            return Ok(intake);
        }
        if text.trim().is_empty() {
            let got_it = self.words(Msg::PictureReceived, turn.lang);
            return Ok(Action::Reply(Reply::notice(got_it)));
        }
        Ok(self.answer_from_knowledge(turn).await)
    }

    /// Carries out what a step decided, and what that leads to in turn (a
    /// streamed answer's outcome, the hand-off an unhelpful streak ends in).
    pub(super) async fn execute(&self, turn: &mut Turn, action: Action) -> Result<(), BotError> {
        let mut next = Some(action);
        while let Some(action) = next.take() {
            next = match action {
                Action::Continue => None,
                Action::Reply(reply) => self.reply(turn, reply).await?,
                Action::Stream(generation) => Some(self.stream(turn, generation).await?),
                Action::AskSlot { text, .. } => self.reply(turn, Reply::notice(text)).await?,
                Action::HandOff(handoff) => {
                    self.hand_over(turn, handoff).await?;
                    None
                }
                Action::OfferEntries(offer) => self.offer_entries(turn, offer).await?,
            };
        }
        Ok(())
    }

    /// Sends a reply and its cards; a hand-off follows when the reply ends an
    /// unhelpful streak.
    async fn reply(&self, turn: &mut Turn, reply: Reply) -> Result<Option<Action>, BotError> {
        let limit_reached = reply.helped.is_some_and(|helped| {
            turn.session
                .unhelpful
                .record(helped, self.config.unhelpful_limit)
        });
        self.send_answer(
            turn,
            reply.text,
            reply.citations.clone(),
            reply.source,
            reply.stream_id,
        )
        .await?;
        for citation in &reply.citations {
            self.note_answered(&citation.entry_id).await;
        }
        self.send_cards(turn, reply.cards).await?;
        Ok(limit_reached.then(|| Action::HandOff(HandOff::because(HandoffReason::UnhelpfulTurns))))
    }

    /// The don't-know reply with the closest entries to pick by number.
    async fn offer_entries(
        &self,
        turn: &mut Turn,
        offer: OfferEntries,
    ) -> Result<Option<Action>, BotError> {
        let text = action::offer_text(&offer.hits, self.prompts.messages(), turn.lang);
        turn.session.suggestions = offer.hits;
        let limit_reached = turn
            .session
            .unhelpful
            .record(false, self.config.unhelpful_limit);
        self.send_answer(
            turn,
            text,
            Vec::new(),
            AnswerSource::Generated,
            offer.stream_id,
        )
        .await?;
        if offer.unanswered {
            self.log_unanswered(turn, HandoffReason::LowConfidence)
                .await;
        }
        Ok(limit_reached.then(|| Action::HandOff(HandOff::because(HandoffReason::UnhelpfulTurns))))
    }

    async fn hand_over(&self, turn: &mut Turn, handoff: HandOff) -> Result<(), BotError> {
        if let Some(notice) = handoff.notice {
            self.say(turn, &notice).await?;
        }
        if handoff.unanswered {
            self.log_unanswered(turn, handoff.reason).await;
        }
        self.hand_off(turn, handoff.reason).await
    }

    /// Product cards (the first one offered is what the chat is about, if
    /// nothing was before) and order cards, after the words that introduce them.
    async fn send_cards(&self, turn: &mut Turn, cards: Vec<MessageBody>) -> Result<(), BotError> {
        for (i, card) in cards.into_iter().enumerate() {
            let product = match &card {
                MessageBody::ProductCard { card } if i == 0 => Some(card.sku.clone()),
                _ => None,
            };
            let ack = self.chat.send_bot(&turn.id, card).await?;
            if let Some(sku) = product {
                let topic = Topic {
                    product: Some(sku),
                    ..Default::default()
                };
                self.tell_topic(turn, &ack.seq.to_string(), topic).await;
            }
        }
        Ok(())
    }

    /// One of the bot's own messages (`prompts/messages.toml`) without placeholders.
    pub(super) fn words(&self, msg: Msg, lang: Lang) -> String {
        self.prompts.messages().text(msg, lang).to_owned()
    }

    /// A bot message without citations (questions, tool answers, notices).
    pub(super) async fn say(&self, turn: &mut Turn, text: &str) -> Result<(), BotError> {
        self.send_answer(
            turn,
            text.to_owned(),
            Vec::new(),
            AnswerSource::Generated,
            None,
        )
        .await
    }

    pub(super) async fn send_answer(
        &self,
        turn: &mut Turn,
        text: String,
        citations: Vec<Citation>,
        source: AnswerSource,
        stream_id: Option<String>,
    ) -> Result<(), BotError> {
        turn.session.answered(&text);
        let about = self.topic_of(turn, &citations);
        let body = MessageBody::BotAnswer {
            text,
            citations,
            source,
            stream_id,
            buttons: Vec::new(),
        };
        let ack = self.chat.send_bot(&turn.id, body).await?;
        self.tell_topic(turn, &ack.seq.to_string(), about).await;
        Ok(())
    }

    /// What an answer shows the chat is about: the intake the bot runs (or
    /// `question` when it answers from the knowledge base), and the category
    /// and first product of the first entry it cites.
    fn topic_of(&self, turn: &Turn, citations: &[Citation]) -> Topic {
        let cited = citations.first().and_then(|c| {
            turn.session
                .retrieved
                .iter()
                .find(|r| r.entry_id == c.entry_id)
        });
        let intent = match &turn.session.intake {
            Some(intake) => Some(intake.intent.clone()),
            None => (!citations.is_empty()).then(|| "question".to_owned()),
        };
        Topic {
            intent,
            category: cited.map(|r| r.category.clone()),
            product: cited.and_then(|r| r.products.first().cloned()),
        }
    }

    /// Tells analytics what the chat is about, if that is news to the
    /// session (`at` names the message or packet that showed it).
    pub(super) async fn tell_topic(&self, turn: &mut Turn, at: &str, topic: Topic) {
        if let Some(news) = turn.session.told.take(&topic) {
            self.topics.tell(turn.id.as_str(), at, news).await;
        }
    }
}
