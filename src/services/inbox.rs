//! The chat lists of the console: each conversation with the buyer's name, a
//! preview of the last message and the reader's unread count.

use super::chat::{ChatError, ChatService, ConversationView};
use super::events::EventPayload;
use crate::domain::message::MessageBody;
use serde::Serialize;

/// Characters of the last message a list shows.
const PREVIEW_CHARS: usize = 60;

#[derive(Debug, Clone, Serialize)]
pub struct ChatSummary {
    #[serde(flatten)]
    pub conversation: ConversationView,
    /// The buyer's nickname, if they gave one (the console labels the rest).
    pub buyer_name: Option<String>,
    pub last_message: Option<Preview>,
    /// Buyer messages after the reader's read marker.
    pub unread: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// buyer, agent, bot or system.
    pub sender: &'static str,
    /// text, image or file (the console words the last two).
    pub kind: &'static str,
    pub text: String,
    pub at: i64,
}

impl ChatService {
    /// Each conversation as a chat list shows it to `reader_id` (a staff id).
    pub async fn summaries(
        &self,
        conversations: Vec<ConversationView>,
        reader_id: &str,
    ) -> Result<Vec<ChatSummary>, ChatError> {
        let reader = format!("agent:{reader_id}");
        let mut out = Vec::with_capacity(conversations.len());
        for conversation in conversations {
            let glance = self
                .records
                .chat_glance(&conversation.id, &conversation.visitor_id, &reader)
                .await?;
            let last_message = match glance.last_message {
                Some(row) => preview(self.open_event(row)?),
                None => None,
            };
            out.push(ChatSummary {
                conversation,
                buyer_name: glance.nickname,
                last_message,
                unread: glance.unread,
            });
        }
        Ok(out)
    }
}

fn preview(event: super::events::ChatEvent) -> Option<Preview> {
    let EventPayload::Message { body } = event.payload else {
        return None;
    };
    let (kind, text) = match body {
        MessageBody::Text { text } => ("text", text.as_str().to_owned()),
        MessageBody::Image { caption, .. } => (
            "image",
            caption.map(|c| c.as_str().to_owned()).unwrap_or_default(),
        ),
        MessageBody::File { name, .. } => ("file", name),
        MessageBody::Voice { duration_ms, .. } => {
            ("voice", format!("{}\u{2033}", (duration_ms + 999) / 1000))
        }
        MessageBody::System { text } | MessageBody::BotAnswer { text, .. } => ("text", text),
        MessageBody::ProductCard { card } => ("product_card", card.title),
        MessageBody::OrderCard { card } => ("order_card", card.order_no),
        MessageBody::CouponCard { card } => ("coupon_card", card.title),
    };
    Some(Preview {
        sender: event.sender.kind(),
        kind,
        text: text.chars().take(PREVIEW_CHARS).collect(),
        at: event.created_at,
    })
}
