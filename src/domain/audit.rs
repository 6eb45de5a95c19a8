//! The audit log's records and their hash chain: each record carries the hash of
//! the one before, so changing or deleting a stored record breaks the chain at
//! that record. Records name who acted, what they did and what they touched
//! (ids and route templates), never personal data such as a buyer's phone.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::str::FromStr;

use super::conversation::UnknownValue;

/// Search filters of the audit log; all optional. Newest first, `before` a
/// sequence number.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<String>,
    /// Matches targets starting with this (`kb_entry:` or one entry's id).
    pub target_prefix: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// The hash the first record chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened. Stored as its snake_case name; the console shows a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    SignIn,
    SignInFailed,
    SignOut,
    PermissionDenied,
    AccountCreated,
    AccountChanged,
    SettingsChanged,
    KbPublished,
    KbUnpublished,
    KbImported,
    Exported,
    /// A staff member asked to see a buyer's unmasked phone, address and name.
    PiiRevealed,
    /// A visitor or a network was blocked, or a block lifted.
    Blocked,
    Unblocked,
    /// An admin erased a buyer's personal data and messages (PIPL).
    BuyerErased,
    /// Messages and attachments past the retention period were purged.
    DataPurged,
    /// Staff set a tag on a buyer's account by hand, or removed one.
    BuyerTagged,
    BuyerUntagged,
}

impl AuditAction {
    pub const ALL: [AuditAction; 18] = [
        AuditAction::SignIn,
        AuditAction::SignInFailed,
        AuditAction::SignOut,
        AuditAction::PermissionDenied,
        AuditAction::AccountCreated,
        AuditAction::AccountChanged,
        AuditAction::SettingsChanged,
        AuditAction::KbPublished,
        AuditAction::KbUnpublished,
        AuditAction::KbImported,
        AuditAction::Exported,
        AuditAction::PiiRevealed,
        AuditAction::Blocked,
        AuditAction::Unblocked,
        AuditAction::BuyerErased,
        AuditAction::DataPurged,
        AuditAction::BuyerTagged,
        AuditAction::BuyerUntagged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignIn => "sign_in",
            AuditAction::SignInFailed => "sign_in_failed",
            AuditAction::SignOut => "sign_out",
            AuditAction::PermissionDenied => "permission_denied",
            AuditAction::AccountCreated => "account_created",
            AuditAction::AccountChanged => "account_changed",
            AuditAction::SettingsChanged => "settings_changed",
            AuditAction::KbPublished => "kb_published",
            AuditAction::KbUnpublished => "kb_unpublished",
            AuditAction::KbImported => "kb_imported",
            AuditAction::Exported => "exported",
            AuditAction::PiiRevealed => "pii_revealed",
            AuditAction::Blocked => "blocked",
            AuditAction::Unblocked => "unblocked",
            AuditAction::BuyerErased => "buyer_erased",
            AuditAction::DataPurged => "data_purged",
            AuditAction::BuyerTagged => "buyer_tagged",
            AuditAction::BuyerUntagged => "buyer_untagged",
        }
    }
}

impl FromStr for AuditAction {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

/// One record as stored: its place in the chain, when, who (a staff id, or none
/// for an anonymous caller), what, and what was touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub actor: Option<String>,
    pub action: String,
    pub target: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of a record's content chained to the previous record's hash.
pub fn chain_hash(
    prev_hash: &str,
    seq: i64,
    at: i64,
    actor: Option<&str>,
    action: &str,
    target: &str,
) -> String {
    let canonical = serde_json::json!([prev_hash, seq, at, actor, action, target]).to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Where the chain breaks, naming the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("record {seq} was changed (its content no longer matches its hash)")]
    Changed { seq: i64 },
    #[error("record {seq} is missing (deleted)")]
    Missing { seq: i64 },
    #[error(
        "record {first} is missing (deleted from the end; the log was written up to record {last})"
    )]
    Truncated { first: i64, last: i64 },
}

/// Checks records in sequence order against each other and against the head
/// (the last sequence number and hash written, kept beside the log).
pub fn verify(records: &[AuditRecord], head: Option<(i64, &str)>) -> Result<usize, ChainBreak> {
    let mut prev_hash = GENESIS.to_owned();
    let mut expected_seq = 1;
    for r in records {
        if r.seq != expected_seq {
            return Err(ChainBreak::Missing { seq: expected_seq });
        }
        let recomputed = chain_hash(
            &r.prev_hash,
            r.seq,
            r.at,
            r.actor.as_deref(),
            &r.action,
            &r.target,
        );
        if recomputed != r.hash {
            return Err(ChainBreak::Changed { seq: r.seq });
        }
        if r.prev_hash != prev_hash {
            // The previous record was rewritten with a fresh hash.
            return Err(ChainBreak::Changed { seq: r.seq - 1 });
        }
        prev_hash = r.hash.clone();
        expected_seq += 1;
    }
    let last = expected_seq - 1;
    match head {
        Some((seq, _)) if seq > last => Err(ChainBreak::Truncated {
            first: last + 1,
            last: seq,
        }),
        Some((seq, hash)) if seq == last && hash != prev_hash => Err(ChainBreak::Changed { seq }),
        _ => Ok(records.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let target = format!("kb_entry:{seq}");
                let hash = chain_hash(
                    &prev,
                    seq,
                    seq * 10,
                    Some("staff-1"),
                    "kb_published",
                    &target,
                );
                let record = AuditRecord {
                    seq,
                    at: seq * 10,
                    actor: Some("staff-1".into()),
                    action: "kb_published".into(),
                    target,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                record
            })
            .collect()
    }

    fn head(records: &[AuditRecord]) -> Option<(i64, &str)> {
        records.last().map(|r| (r.seq, r.hash.as_str()))
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let records = chain(5);
        assert_eq!(verify(&records, head(&records)), Ok(5));
        assert_eq!(verify(&[], None), Ok(0));
    }

    #[test]
    fn a_changed_record_is_named() {
        let mut records = chain(5);
        let h = head(&records).map(|(s, h)| (s, h.to_owned()));
        records[2].target = "kb_entry:other".into();
        let h = h.as_ref().map(|(s, h)| (*s, h.as_str()));
        assert_eq!(verify(&records, h), Err(ChainBreak::Changed { seq: 3 }));
    }

    #[test]
    fn a_rehashed_record_is_caught_by_the_next_one() {
        let mut records = chain(5);
        let h = head(&records).map(|(s, h)| (s, h.to_owned()));
        let r = &mut records[1];
        r.action = "sign_in".into();
        r.hash = chain_hash(
            &r.prev_hash,
            r.seq,
            r.at,
            r.actor.as_deref(),
            &r.action,
            &r.target,
        );
        let h = h.as_ref().map(|(s, h)| (*s, h.as_str()));
        assert_eq!(verify(&records, h), Err(ChainBreak::Changed { seq: 2 }));
    }

    #[test]
    fn a_deleted_record_is_named_in_the_middle_and_at_the_end() {
        let mut records = chain(5);
        let h = head(&records).map(|(s, h)| (s, h.to_owned()));
        let h = h.as_ref().map(|(s, h)| (*s, h.as_str()));
        records.remove(3);
        assert_eq!(verify(&records, h), Err(ChainBreak::Missing { seq: 4 }));
        let mut records = chain(5);
        records.pop();
        assert_eq!(
            verify(&records, h),
            Err(ChainBreak::Truncated { first: 5, last: 5 })
        );
    }
}
