//! A buyer who asks for a suggestion or an alternative ("有没有类似的",
//! "这个码没货了") gets the products recommended for them (item-to-item from
//! what they looked at, have in the cart and bought) as product cards.

use super::action::{Action, Reply};
use super::pipeline::Turn;
use super::{BotError, BotService};
use crate::domain::message::MessageBody;
use crate::domain::recommend::asks_for_suggestion;

/// Product cards the bot shows at most.
const CARDS: usize = 3;

impl BotService {
    /// Product cards after a few words, when the message asks for them and
    /// there is something to offer; else the turn goes on.
    pub(super) async fn offer_recommendations(&self, turn: &mut Turn) -> Result<Action, BotError> {
        let Some(recommender) = &self.ports.recommender else {
            return Ok(Action::Continue);
        };
        if !asks_for_suggestion(&turn.facts.text) {
            return Ok(Action::Continue);
        }
        let products = match recommender.for_visitor(&turn.conversation.visitor_id).await {
            Ok(products) => products,
            Err(error) => {
                tracing::warn!(%error, "no recommendations for the bot");
                return Ok(Action::Continue);
            }
        };
        if products.is_empty() {
            return Ok(Action::Continue);
        }
        let intro = self.words(crate::domain::bot_messages::Msg::RecommendIntro, turn.lang);
        Ok(Action::Reply(Reply {
            cards: products
                .into_iter()
                .take(CARDS)
                .map(|card| MessageBody::ProductCard { card })
                .collect(),
            ..Reply::notice(intro)
        }))
    }
}
