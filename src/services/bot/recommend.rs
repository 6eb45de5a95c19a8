//! A buyer who asks for a suggestion or an alternative ("有没有类似的",
//! "这个码没货了") gets the products recommended for them (item-to-item from
//! what they looked at, have in the cart and bought) as product cards.

use super::pipeline::Turn;
use super::{BotError, BotService};
use crate::domain::message::MessageBody;
use crate::domain::recommend::asks_for_suggestion;

/// Product cards the bot shows at most.
const CARDS: usize = 3;

impl BotService {
    /// True when the bot offered products; false when the message does not ask
    /// for them or there is nothing to offer (the turn then goes on).
    pub(super) async fn offer_recommendations(&self, turn: &mut Turn) -> Result<bool, BotError> {
        let Some(recommender) = &self.ports.recommender else {
            return Ok(false);
        };
        if !asks_for_suggestion(&turn.facts.text) {
            return Ok(false);
        }
        let products = match recommender.for_visitor(&turn.conversation.visitor_id).await {
            Ok(products) => products,
            Err(error) => {
                tracing::warn!(%error, "no recommendations for the bot");
                return Ok(false);
            }
        };
        if products.is_empty() {
            return Ok(false);
        }
        let intro = self.words(crate::domain::bot_messages::Msg::RecommendIntro, turn.lang);
        self.say(turn, &intro).await?;
        for (i, card) in products.into_iter().take(CARDS).enumerate() {
            let sku = card.sku.clone();
            let ack = self
                .chat
                .send_bot(&turn.id, MessageBody::ProductCard { card })
                .await?;
            if i == 0 {
                // The first product offered is what the chat is about, if
                // nothing was before.
                let topic = crate::domain::analytics::Topic {
                    product: Some(sku),
                    ..Default::default()
                };
                self.tell_topic(turn, &ack.seq.to_string(), topic).await;
            }
        }
        Ok(true)
    }
}
