//! Proof of work before a new conversation (ALTCHA v2, the `altcha` crate): a
//! client past the soft limit, or every client while an admin has turned the
//! challenge on, first solves a signed challenge. A solution is accepted once:
//! its signature is stored until the challenge expires.

use crate::crypto::Cipher;
use crate::ports::Clock;
use crate::ports::repositories::{RepoError, SpentChallenges};
use altcha::{Challenge, CreateChallengeOptions, Payload, VerifySolutionOptions};
use base64::Engine;
use rand::Rng;
use std::sync::Arc;

/// PBKDF2 iterations per try, and the range of tries the solution lies in: on a
/// phone's browser about a second, for a farm of a thousand conversations a
/// thousand such seconds.
const COST: u32 = 1_000;
const COUNTERS: std::ops::RangeInclusive<u32> = 1_000..=2_000;
/// How long a challenge may be solved and submitted.
const VALID_SECS: i64 = 600;

#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    #[error("solve the challenge first (GET /api/v1/challenge)")]
    Required,
    #[error("the challenge solution is malformed, expired or wrong")]
    Failed,
    #[error("this challenge was already used; solve a new one")]
    Replayed,
    #[error(transparent)]
    Store(#[from] RepoError),
}

pub struct ChallengeService {
    store: Arc<dyn SpentChallenges>,
    clock: Arc<dyn Clock>,
    /// Signs challenges (and, in deterministic mode, their keys); derived from
    /// the data key, so every node of a cluster accepts every node's challenges.
    secret: String,
    key_secret: String,
}

impl ChallengeService {
    pub fn new(store: Arc<dyn SpentChallenges>, cipher: &Cipher, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            secret: hex::encode(cipher.blind_index("altcha", "challenge signature")),
            key_secret: hex::encode(cipher.blind_index("altcha", "key signature")),
        }
    }

    /// A new signed challenge, valid for ten minutes.
    pub fn create(&self) -> Challenge {
        let expires_at = self.clock.now_ms().div_euclid(1000) + VALID_SECS;
        altcha::create_challenge(CreateChallengeOptions {
            algorithm: "PBKDF2/SHA-256".into(),
            cost: COST,
            counter: Some(rand::thread_rng().gen_range(COUNTERS)),
            expires_at: Some(expires_at),
            hmac_signature_secret: Some(self.secret.clone()),
            hmac_key_signature_secret: Some(self.key_secret.clone()),
            ..Default::default()
        })
        .expect("PBKDF2/SHA-256 challenges with a counter are always created")
    }

    /// Checks a solution (the widget's base64 JSON payload) and spends it.
    pub async fn redeem(&self, payload: Option<&str>) -> Result<(), ChallengeError> {
        let payload = payload.ok_or(ChallengeError::Required)?;
        let json = base64::engine::general_purpose::STANDARD
            .decode(payload.trim())
            .map_err(|_| ChallengeError::Failed)?;
        let payload: Payload = serde_json::from_slice(&json).map_err(|_| ChallengeError::Failed)?;
        let mut options =
            VerifySolutionOptions::new(&payload.challenge, &payload.solution, self.secret.clone());
        options.hmac_key_signature_secret = Some(self.key_secret.clone());
        let verified = altcha::verify_solution(options)
            .map(|r| r.verified)
            .unwrap_or(false);
        let (true, Some(signature), Some(expires_at)) = (
            verified,
            payload.challenge.signature.as_deref(),
            payload.challenge.parameters.expires_at,
        ) else {
            return Err(ChallengeError::Failed);
        };
        let now_ms = self.clock.now_ms();
        match self.store.spend(signature, expires_at * 1000, now_ms).await {
            Ok(()) => Ok(()),
            Err(RepoError::AlreadyExists) => Err(ChallengeError::Replayed),
            Err(e) => Err(e.into()),
        }
    }
}
