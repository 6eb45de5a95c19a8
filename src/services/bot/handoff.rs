//! The hand-off, in one place: tell the buyer, store the packet an agent needs
//! (so nobody asks the buyer again), move the chat to the waiting queue, say
//! where the buyer stands, then replace the rule-made summary with the LLM's.

use super::hours::rfc3339;
use super::pipeline::Turn;
use super::prompts::TranscriptLine;
use super::session::RetrievedEntry;
use super::{BotError, BotService};
use crate::domain::bot_messages::{Messages, Msg};
use crate::domain::conversation::ConversationId;
use crate::domain::handoff::HandoffReason;
use crate::ports::{ChatMessage, ChatRole, GenerationEvent, GenerationParams, Sampling};
use crate::services::chat::ConversationView;
use crate::services::conversations::HandoffBy;
use crate::services::visitors::Visitor;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the agent sees when they take the chat (GET .../handoff).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandoffPacket {
    pub reason: HandoffReason,
    pub summary: String,
    /// "rules" until the LLM's summary replaces it, then "llm".
    pub summary_source: String,
    pub intent: Option<String>,
    pub category: Option<String>,
    pub slots: BTreeMap<String, String>,
    pub retrieved: Vec<RetrievedEntry>,
    pub bot_answers: Vec<String>,
    pub buyer_messages: Vec<String>,
    /// Profile, browsing context and recent orders.
    pub visitor: serde_json::Value,
    pub created_at: String,
}

/// How long the buyer's request for a person waits for a bot turn in flight.
const SETTLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(3);

/// What the bot says as it hands over, by why. No "right away" or "please
/// hold": whether anyone is online, the place and the wait are the live
/// queue status's to say.
fn handing_over(reason: HandoffReason) -> Msg {
    match reason {
        HandoffReason::Sensitive => Msg::HandoffSensitive,
        HandoffReason::IntakeComplete => Msg::HandoffIntakeComplete,
        HandoffReason::LowConfidence
        | HandoffReason::UnhelpfulTurns
        | HandoffReason::IntakeGaveUp => Msg::HandoffNeedsAPerson,
        HandoffReason::BuyerRequest | HandoffReason::BotUnavailable => Msg::HandoffRequested,
    }
}

/// The reason in the staff's words (the summary is read, not parsed).
fn reason_zh(reason: HandoffReason) -> &'static str {
    match reason {
        HandoffReason::BuyerRequest => "买家要求转人工",
        HandoffReason::Sensitive => "敏感情况",
        HandoffReason::UnhelpfulTurns => "多次回答未解决",
        HandoffReason::LowConfidence => "机器人把握不足",
        HandoffReason::IntakeGaveUp => "信息收集未完成",
        HandoffReason::IntakeComplete => "信息已收集完毕",
        HandoffReason::BotUnavailable => "机器人暂不可用",
    }
}

fn rules_summary(turn: &Turn, reason: HandoffReason) -> String {
    let wants = turn
        .session
        .buyer_messages
        .last()
        .cloned()
        .unwrap_or_default();
    let facts: Vec<String> = turn
        .session
        .slots
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "转人工原因：{}；意图：{}；已收集：{}；买家最后说：{}",
        reason_zh(reason),
        turn.session.last_intent.as_deref().unwrap_or("-"),
        if facts.is_empty() {
            "-".into()
        } else {
            facts.join("，")
        },
        wants
    )
}

impl BotService {
    pub(super) async fn hand_off(
        &self,
        turn: &mut Turn,
        reason: HandoffReason,
    ) -> Result<(), BotError> {
        let packet = self.build_packet(turn, reason).await?;
        let packet_id = uuid::Uuid::now_v7().to_string();
        self.store_packet(&packet_id, turn.id.as_str(), &packet, true)
            .await?;
        self.tell_handoff_intent(turn, reason, &packet_id).await;
        let visitor = Visitor {
            id: turn.conversation.visitor_id.clone(),
        };
        let hints = crate::domain::routing::RouteHints {
            intent: packet.intent.clone(),
            category: packet.category.clone(),
            entry_page: turn.profile.context.current_page.clone(),
            // A member of a VIP level (the buyer profile's rule) is queued ahead.
            vip: self.vip_member(turn).await,
        };
        let notice = self.handing_over_notice(turn, reason).await;
        let by = HandoffBy::Bot { hints, notice };
        self.conversations.hand_off(&visitor, &turn.id, by).await?;
        turn.session.intake = None;
        turn.session.unhelpful = Default::default();
        self.summarise(&packet_id, turn.id.as_str(), packet).await;
        Ok(())
    }

    /// A hand-off tells the intent the bot last worked on, or `human` when the
    /// buyer asked for a person before any.
    async fn tell_handoff_intent(&self, turn: &mut Turn, reason: HandoffReason, packet_id: &str) {
        let intent = turn
            .session
            .last_intent
            .clone()
            .or_else(|| (reason == HandoffReason::BuyerRequest).then(|| "human".to_owned()));
        let topic = crate::domain::analytics::Topic {
            intent,
            ..Default::default()
        };
        self.tell_topic(turn, &format!("packet_{packet_id}"), topic)
            .await;
    }

    /// The buyer asked for a person with the widget's button (or the API) rather
    /// than in words to the bot. `conversation` has just left the bot for the
    /// queue; the agent still gets a packet with everything the bot gathered,
    /// and routing gets its intent and category. The LLM summary follows in
    /// the background so the buyer's request is not held up by it.
    pub async fn packet_on_request(
        self: &Arc<Self>,
        id: &ConversationId,
        conversation: ConversationView,
    ) -> Result<HandoffPacket, BotError> {
        // A turn still running has not saved its session; it cannot speak any
        // more (the chat has left the bot), so it ends soon.
        if !self.settle(id.as_str(), SETTLE_LIMIT).await {
            tracing::warn!(conversation = %id.as_str(), "bot turn still running; packet from the last saved session");
        }
        let session = self.sessions.session(id.as_str()).await?;
        let profile = self.visitors.profile(&conversation.visitor_id).await?;
        let mut turn = Turn {
            lang: session.lang,
            id: id.clone(),
            conversation,
            session,
            facts: Default::default(),
            profile,
        };
        let packet = self
            .build_packet(&turn, HandoffReason::BuyerRequest)
            .await?;
        let packet_id = uuid::Uuid::now_v7().to_string();
        self.store_packet(&packet_id, turn.id.as_str(), &packet, true)
            .await?;
        self.tell_handoff_intent(&mut turn, HandoffReason::BuyerRequest, &packet_id)
            .await;
        if !packet.buyer_messages.is_empty() {
            let bot = self.clone();
            let conversation_id = turn.id.as_str().to_owned();
            let draft = packet.clone();
            tokio::spawn(async move { bot.summarise(&packet_id, &conversation_id, draft).await });
        }
        Ok(packet)
    }

    /// Whether the shop's member level of the buyer is a VIP one (an order
    /// system that does not answer makes nobody a VIP).
    async fn vip_member(&self, turn: &Turn) -> bool {
        let Some(account) = turn.buyer_account() else {
            return false;
        };
        match self.ports.commerce.member_level(account).await {
            Ok(level) => crate::domain::portrait::is_vip_level(level.as_deref()),
            Err(error) => {
                tracing::warn!(%error, "member level unavailable for routing");
                false
            }
        }
    }

    async fn build_packet(
        &self,
        turn: &Turn,
        reason: HandoffReason,
    ) -> Result<HandoffPacket, BotError> {
        let recent_orders = match turn.buyer_account() {
            Some(account) => self
                .ports
                .commerce
                .recent_orders(account, 5)
                .await
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, "recent orders unavailable for the hand-off packet");
                    Vec::new()
                }),
            None => Vec::new(),
        };
        let intent = turn.session.last_intent.clone();
        Ok(HandoffPacket {
            reason,
            summary: rules_summary(turn, reason),
            summary_source: "rules".into(),
            category: intent
                .as_deref()
                .and_then(|i| self.catalog.get(i))
                .map(|i| i.category.clone()),
            intent,
            slots: turn.session.slots.clone(),
            retrieved: turn.session.retrieved.clone(),
            bot_answers: turn.session.bot_answers.clone(),
            buyer_messages: turn.session.buyer_messages.clone(),
            visitor: serde_json::json!({ "profile": turn.profile, "recent_orders": recent_orders }),
            created_at: rfc3339(self.clock.now_ms()),
        })
    }

    async fn store_packet(
        &self,
        id: &str,
        conversation_id: &str,
        packet: &HandoffPacket,
        new: bool,
    ) -> Result<(), BotError> {
        let plain = serde_json::to_vec(packet).expect("packet serialises");
        let sealed = self.cipher.seal(&plain, conversation_id.as_bytes());
        let now = self.clock.now_ms();
        if new {
            self.records
                .insert_packet(id, conversation_id, packet.reason.as_str(), &sealed, now)
                .await?;
        } else {
            self.records.update_packet(id, &sealed, now).await?;
        }
        Ok(())
    }

    /// One notice as the chat leaves the bot: that a person takes over, or, out
    /// of service hours, that the buyer can leave a message. Whether anyone is
    /// online, the place and the wait follow from the live queue status the
    /// buyer is pushed (a notice written now would go stale or contradict it).
    /// The conversation service's hand-off posts it before the chat is queued.
    async fn handing_over_notice(&self, turn: &mut Turn, reason: HandoffReason) -> String {
        let now = self.clock.now_ms();
        let shop = self.shop.current().await;
        let open = shop.is_open(now);
        let lang = turn.lang;
        let words = self.prompts.messages();
        let notice = if open {
            let queued = words.text(Msg::Queued, lang);
            Messages::join(lang, words.text(handing_over(reason), lang), queued)
        } else if shop.is_holiday(now) {
            words.text(Msg::Holiday, lang).to_owned()
        } else {
            let hours = shop.service_hours.map(|h| h.describe()).unwrap_or_default();
            words.fill(Msg::AfterHours, lang, &[("hours", &hours)])
        };
        turn.session.answered(&notice);
        notice
    }

    /// Replaces the packet's summary with the LLM's; on any failure the rule-made one stays.
    async fn summarise(&self, packet_id: &str, conversation_id: &str, mut packet: HandoffPacket) {
        let Some(llm) = self.ports.llm.clone() else {
            return;
        };
        let mut transcript: Vec<TranscriptLine> = Vec::new();
        for text in packet.buyer_messages.iter().rev().take(6).rev() {
            transcript.push(TranscriptLine {
                who: "buyer",
                text: text.clone(),
            });
        }
        for text in packet.bot_answers.iter().rev().take(3).rev() {
            transcript.push(TranscriptLine {
                who: "bot",
                text: text.clone(),
            });
        }
        let Ok(prompt) = self.prompts.summary(&transcript) else {
            return;
        };
        let params = GenerationParams {
            max_tokens: 96,
            sampling: Sampling::Greedy,
            stop: Vec::new(),
        };
        let Ok(mut stream) = llm
            .generate(vec![ChatMessage::new(ChatRole::User, prompt)], params)
            .await
        else {
            return;
        };
        let mut summary = String::new();
        while let Some(Ok(GenerationEvent::Token(piece))) = stream.recv().await {
            summary.push_str(&piece);
        }
        let summary = summary.trim();
        if summary.is_empty() {
            return;
        }
        packet.summary = format!("{summary}\n（{}）", packet.summary);
        packet.summary_source = "llm".into();
        if let Err(error) = self
            .store_packet(packet_id, conversation_id, &packet, false)
            .await
        {
            tracing::warn!(%error, "could not store the LLM summary");
        }
    }

    /// The latest hand-off packet of a conversation, for agents.
    pub async fn packet(&self, conversation_id: &str) -> Result<Option<HandoffPacket>, BotError> {
        let Some(sealed) = self.records.latest_packet(conversation_id).await? else {
            return Ok(None);
        };
        let plain = self
            .cipher
            .open(&sealed, conversation_id.as_bytes())
            .map_err(|e| BotError::Corrupt(e.to_string()))?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|e| BotError::Corrupt(e.to_string()))
    }
}
