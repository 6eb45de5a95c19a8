//! What the bot remembers about one conversation between buyer messages
//! (`domain::bot_session`), kept through the `BotSessions` repository, which
//! stores it sealed (it holds order numbers and what the buyer said).

pub use crate::domain::bot_session::{BotSession, RetrievedEntry};
