//! Data protection's own records: the shop's retention policy, what replaces an
//! erased conversation's bodies, and the keyset positions a buyer's export
//! pages by.

/// The shop's data-protection settings as kept (one row), the retention
/// already checked against its bounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtectionPolicy {
    /// Messages and attachments older than this many days are purged; None: kept.
    pub retention_days: Option<i64>,
    /// Every new conversation must solve a challenge (during an attack).
    pub challenge_all: bool,
}

/// What replaces an erased conversation's bodies: one sealed message body and
/// one sealed note body, bound to the conversation as every body is.
#[derive(Debug, Clone)]
pub struct ErasedBodies {
    pub conversation_id: String,
    pub message: Vec<u8>,
    pub note: Vec<u8>,
}

/// A keyset position in a list ordered by time, then id: where the next page starts.
pub type After = (i64, String);

/// The start of a keyset list.
pub fn first_page() -> After {
    (i64::MIN, String::new())
}

/// One attachment of a buyer's export: id, content type, size, conversation, uploaded at.
pub type ExportAttachment = (String, String, i64, String, i64);
