//! One buyer message through the pipeline: triggers, probing, intake and order
//! tools, then the knowledge base. Each step either answers (and ends the turn)
//! or passes the message on.

use super::session::BotSession;
use super::{BotError, BotService, guard};
use crate::domain::analytics::Topic;
use crate::domain::bot_messages::Msg;
use crate::domain::conversation::{ConversationId, ConversationState};
use crate::domain::handoff::{self, HandoffReason};
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
        let outcome = if voice {
            // The bot cannot listen (no speech recognition here): it says so
            // and asks for words, or a person, who can play the recording.
            let text = self.words(Msg::VoiceReceived, turn.lang);
            self.say(&mut turn, &text).await
        } else {
            self.run_pipeline(&mut turn).await
        };
        let now = self.clock.now_ms();
        self.sessions
            .save_session(turn.id.as_str(), &turn.session, now)
            .await?;
        outcome
    }

    async fn run_pipeline(&self, turn: &mut Turn) -> Result<(), BotError> {
        let text = turn.facts.text.clone();
        if let Some(trigger) = handoff::trigger(&text) {
            return self.hand_off(turn, trigger.reason()).await;
        }
        if handoff::says_unhelpful(&text) && !turn.session.bot_answers.is_empty() {
            if turn
                .session
                .unhelpful
                .record(false, self.config.unhelpful_limit)
            {
                return self.hand_off(turn, HandoffReason::UnhelpfulTurns).await;
            }
            let sorry = self.words(Msg::UnhelpfulSorry, turn.lang);
            return self.say(turn, &sorry).await;
        }
        if guard::probes_instructions(&text) {
            let refusal = self.words(Msg::OutOfScope, turn.lang);
            return self.say(turn, &refusal).await;
        }
        let offered = std::mem::take(&mut turn.session.suggestions);
        if let Some(i) = super::answer::picked_suggestion(&text, offered.len()) {
            return self.curated(turn, &offered[i]).await;
        }
        if self.offer_recommendations(turn).await? {
            return Ok(());
        }
        let offered_intent = turn.session.offered_intent.take();
        self.take_up_offer(turn, offered_intent);
        if self.answer_then_offer(turn).await? {
            return Ok(());
        }
        if self.intake_step(turn).await? {
            return Ok(());
        }
        if text.trim().is_empty() {
            let got_it = self.words(Msg::PictureReceived, turn.lang);
            return self.say(turn, &got_it).await;
        }
        self.answer_from_knowledge(turn).await
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
