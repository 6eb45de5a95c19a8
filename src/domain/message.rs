//! Message bodies and the identifiers clients attach to them, parsed once at the edge.

use super::attachment::AttachmentId;
use serde::{Deserialize, Serialize};

/// Longest text message, in characters (not bytes: Chinese text is 3 bytes a character).
pub const MAX_TEXT_CHARS: usize = 5_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("message text is empty")]
    EmptyText,
    #[error("message text is longer than {MAX_TEXT_CHARS} characters")]
    TextTooLong,
    #[error("message text contains control characters")]
    ControlCharacters,
    #[error("client_msg_id must be 1 to 64 characters of letters, digits, '-', '_', ':' or '.'")]
    BadClientMsgId,
    #[error("attachment id is not valid")]
    BadAttachmentId,
    #[error("file name must be 1 to 255 characters without path separators")]
    BadFileName,
    #[error("a voice message lasts 1 ms to {MAX_VOICE_MS} ms")]
    BadDuration,
}

/// The longest voice message, as on the big chat apps: one minute.
pub const MAX_VOICE_MS: i64 = 60_000;

/// Text a person typed: non-empty, bounded, emoji welcome, no control characters
/// other than line breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, MessageError> {
        if raw.trim().is_empty() {
            return Err(MessageError::EmptyText);
        }
        if raw.chars().count() > MAX_TEXT_CHARS {
            return Err(MessageError::TextTooLong);
        }
        if raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(MessageError::ControlCharacters);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id a client gives a message so that a retry is recognised as the same message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientMsgId(String);

impl ClientMsgId {
    pub fn parse(raw: &str) -> Result<Self, MessageError> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(MessageError::BadClientMsgId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a client may send, before validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RawMessageBody {
    Text {
        text: String,
    },
    Image {
        attachment_id: String,
        caption: Option<String>,
    },
    File {
        attachment_id: String,
        name: String,
    },
    Voice {
        attachment_id: String,
        duration_ms: i64,
    },
}

/// A validated message body, as stored and as delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MessageBody {
    Text {
        text: MessageText,
    },
    Image {
        attachment_id: AttachmentId,
        caption: Option<MessageText>,
    },
    File {
        attachment_id: AttachmentId,
        name: String,
    },
    /// A recording (an audio attachment of the same conversation) and how long
    /// it plays, as the recording client measured it.
    Voice {
        attachment_id: AttachmentId,
        duration_ms: i64,
    },
    /// Written by the server: state changes, assignments, notes.
    System {
        text: String,
    },
    /// Written by the bot: a curated or generated answer and the entries it used.
    BotAnswer {
        text: String,
        citations: Vec<Citation>,
        source: AnswerSource,
        /// The live stream this message commits (clients replace that bubble).
        stream_id: Option<String>,
        /// Quick-reply buttons of a menu or guidance message: a tap sends the
        /// button's text as the buyer's own message.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        buttons: Vec<String>,
    },
    /// A product of the shop's catalogue, as it was when sent (written by the
    /// server from the catalogue: clients name a sku, never the card's content).
    ProductCard {
        card: super::catalogue::ProductCard,
    },
    /// One of the buyer's own orders (status, items, tracking), written by the
    /// server from the shop's data: clients name an order number, never the
    /// card's content, and only an order on the chat's buyer's account.
    OrderCard {
        card: Box<super::commerce::OrderCard>,
    },
    /// A coupon of the shop offered by the chat's agent, as it was when sent;
    /// the buyer claims it from the card (the shop decides).
    CouponCard {
        card: Box<super::coupon::CouponCard>,
    },
}

/// A knowledge-base entry an answer was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    pub entry_id: String,
    pub title: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerSource {
    /// A curated entry's answer, sent as written.
    Curated,
    /// Written by the LLM from retrieved entries (or by the bot's own tools and intake).
    Generated,
}

impl MessageBody {
    pub fn parse(raw: RawMessageBody) -> Result<Self, MessageError> {
        Ok(match raw {
            RawMessageBody::Text { text } => MessageBody::Text {
                text: MessageText::parse(&text)?,
            },
            RawMessageBody::Image {
                attachment_id,
                caption,
            } => MessageBody::Image {
                attachment_id: AttachmentId::parse(&attachment_id)
                    .ok_or(MessageError::BadAttachmentId)?,
                caption: caption.as_deref().map(MessageText::parse).transpose()?,
            },
            RawMessageBody::File {
                attachment_id,
                name,
            } => MessageBody::File {
                attachment_id: AttachmentId::parse(&attachment_id)
                    .ok_or(MessageError::BadAttachmentId)?,
                name: parse_file_name(&name)?,
            },
            RawMessageBody::Voice {
                attachment_id,
                duration_ms,
            } => MessageBody::Voice {
                attachment_id: AttachmentId::parse(&attachment_id)
                    .ok_or(MessageError::BadAttachmentId)?,
                duration_ms: (1..=MAX_VOICE_MS)
                    .contains(&duration_ms)
                    .then_some(duration_ms)
                    .ok_or(MessageError::BadDuration)?,
            },
        })
    }

    /// The attachment this message points at, which must belong to the same conversation.
    pub fn attachment(&self) -> Option<&AttachmentId> {
        match self {
            MessageBody::Image { attachment_id, .. }
            | MessageBody::File { attachment_id, .. }
            | MessageBody::Voice { attachment_id, .. } => Some(attachment_id),
            MessageBody::Text { .. }
            | MessageBody::System { .. }
            | MessageBody::BotAnswer { .. }
            | MessageBody::ProductCard { .. }
            | MessageBody::OrderCard { .. }
            | MessageBody::CouponCard { .. } => None,
        }
    }
}

fn parse_file_name(raw: &str) -> Result<String, MessageError> {
    let bad = raw.is_empty()
        || raw.chars().count() > 255
        || raw.contains(['/', '\\'])
        || raw.chars().any(char::is_control);
    if bad {
        Err(MessageError::BadFileName)
    } else {
        Ok(raw.to_owned())
    }
}

/// Who wrote an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sender {
    Buyer { id: String },
    Agent { id: String },
    Bot,
    System,
}

impl Sender {
    pub fn kind(&self) -> &'static str {
        match self {
            Sender::Buyer { .. } => "buyer",
            Sender::Agent { .. } => "agent",
            Sender::Bot => "bot",
            Sender::System => "system",
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Sender::Buyer { id } | Sender::Agent { id } => Some(id),
            Sender::Bot | Sender::System => None,
        }
    }

    pub fn from_parts(kind: &str, id: Option<String>) -> Option<Self> {
        match (kind, id) {
            ("buyer", Some(id)) => Some(Sender::Buyer { id }),
            ("agent", Some(id)) => Some(Sender::Agent { id }),
            ("bot", _) => Some(Sender::Bot),
            ("system", _) => Some(Sender::System),
            _ => None,
        }
    }
}

impl MessageBody {
    /// The message as a line of a transcript a person or the model reads
    /// (images, files, voice and cards as a short tag); None for system notices.
    pub fn transcript_text(self) -> Option<String> {
        match self {
            MessageBody::Text { text } => Some(text.as_str().to_owned()),
            MessageBody::Image { caption, .. } => {
                Some(caption.map_or_else(|| "[图片]".to_owned(), |c| c.as_str().to_owned()))
            }
            MessageBody::File { name, .. } => Some(format!("[文件] {name}")),
            MessageBody::Voice { duration_ms, .. } => {
                Some(format!("[语音] {} 秒", (duration_ms + 999) / 1000))
            }
            MessageBody::BotAnswer { text, .. } => Some(text),
            MessageBody::ProductCard { card } => Some(format!("[商品] {}", card.title)),
            MessageBody::OrderCard { card } => Some(card.summary()),
            MessageBody::CouponCard { card } => Some(card.summary()),
            MessageBody::System { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_text_with_emoji_is_accepted() {
        let t = MessageText::parse("你好，我的订单还没到 😢").unwrap();
        assert_eq!(t.as_str(), "你好，我的订单还没到 😢");
    }

    #[test]
    fn blank_text_is_rejected() {
        assert_eq!(MessageText::parse("  \n "), Err(MessageError::EmptyText));
    }

    #[test]
    fn length_is_counted_in_characters_not_bytes() {
        let max = "好".repeat(MAX_TEXT_CHARS);
        assert!(MessageText::parse(&max).is_ok());
        assert_eq!(
            MessageText::parse(&format!("{max}好")),
            Err(MessageError::TextTooLong)
        );
    }

    #[test]
    fn control_characters_are_rejected_but_newlines_kept() {
        assert!(MessageText::parse("line one\nline two").is_ok());
        assert_eq!(
            MessageText::parse("bell\u{7}"),
            Err(MessageError::ControlCharacters)
        );
    }

    #[test]
    fn client_msg_ids_are_short_and_plain() {
        assert!(ClientMsgId::parse("c-1700000000.42:abc_DEF").is_ok());
        assert!(ClientMsgId::parse("").is_err());
        assert!(ClientMsgId::parse(&"a".repeat(65)).is_err());
        assert!(ClientMsgId::parse("有中文").is_err());
    }

    #[test]
    fn file_names_cannot_carry_paths() {
        let raw = RawMessageBody::File {
            attachment_id: "a".repeat(64),
            name: "../etc/passwd".into(),
        };
        assert_eq!(MessageBody::parse(raw), Err(MessageError::BadFileName));
    }
}
