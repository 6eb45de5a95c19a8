//! A staff socket's right to stay open. The route table checked it once, at the
//! upgrade; a socket lives for hours, so the check is repeated: at once when this
//! node hears the session or the staff member changed (logout, deactivation, new
//! role), before the next frame when the last check is older than `RECHECK`
//! (changes made on other nodes, expired sessions), and before every frame the
//! client sends. A failed check closes the socket with 4401 or 4403.
//!
//! A buyer's socket is checked too, less often (its token does not expire): at
//! once when this node erases the buyer, and every `BUYER_RECHECK` otherwise. An
//! erased buyer's token signs nobody in any more, and a blocked visitor is
//! refused, so either socket closes.

use super::super::AppState;
use super::super::extract::{Caller, bearer_token, query_token};
use super::super::routes::{Access, spec_for, staff_token};
use crate::crypto;
use crate::domain::conversation::ConversationId;
use crate::domain::staff::Permission;
use crate::services::chat::{Actor, ChatError};
use crate::services::staff::{AccessChange, StaffError, StaffUser};
use crate::services::visitors::VisitorError;
use axum::extract::ws::CloseFrame;
use axum::extract::{MatchedPath, Request};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

/// The oldest a session check may be when a frame goes out.
const RECHECK: Duration = Duration::from_secs(2);
/// The oldest a buyer socket's check may be before a frame it writes or a
/// keepalive (buyer tokens do not expire; erasure on this node is heard at once).
const BUYER_RECHECK: Duration = Duration::from_secs(20);
/// Application close codes: the session ended; the right to this content ended.
pub const CLOSE_SIGNED_OUT: u16 = 4401;
pub const CLOSE_FORBIDDEN: u16 = 4403;
/// 1011: the check itself failed (database); the client may reconnect.
const CLOSE_ERROR: u16 = 1011;

/// Why a staff socket is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    SignedOut,
    Forbidden,
    CheckFailed,
}

impl Revoked {
    pub fn close_frame(self) -> CloseFrame {
        let (code, reason) = match self {
            Revoked::SignedOut => (CLOSE_SIGNED_OUT, "session ended"),
            Revoked::Forbidden => (CLOSE_FORBIDDEN, "no longer allowed"),
            Revoked::CheckFailed => (CLOSE_ERROR, "access check failed"),
        };
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }
}

pub struct StaffGrant {
    token: String,
    token_hash: Vec<u8>,
    user: StaffUser,
    /// The permission the route table demands for this socket's route.
    needs: Permission,
    checked: Instant,
}

impl StaffGrant {
    /// The grant for the staff member the route table just let through, with the
    /// session token they presented and the permission of the matched route.
    pub fn for_request(state: &AppState, request: &Request, user: StaffUser) -> Option<StaffGrant> {
        let path = request.extensions().get::<MatchedPath>()?.as_str();
        let spec = spec_for(request.method().as_str(), path)?;
        let Access::Staff(needs) = spec.access else {
            return None;
        };
        // The token the route table authenticated (same precedence and checks).
        let token = staff_token(state, request, spec).ok()?;
        Some(StaffGrant {
            token_hash: crypto::hash_token(&token),
            token,
            user,
            needs,
            checked: Instant::now(),
        })
    }

    pub fn user(&self) -> &StaffUser {
        &self.user
    }

    /// True when a change heard on this node concerns this socket (or some were
    /// missed): the grant must be checked now.
    pub fn concerned_by(&self, change: &Result<AccessChange, RecvError>) -> bool {
        match change {
            Ok(AccessChange::SessionEnded(hash)) => **hash == *self.token_hash,
            Ok(AccessChange::StaffChanged(id)) => **id == *self.user.id,
            Ok(AccessChange::VisitorErased(_)) => false,
            Err(RecvError::Lagged(_)) => true,
            Err(RecvError::Closed) => false,
        }
    }

    /// Re-checks if the last check is stale (or `force`), refreshing the role;
    /// true when it checked now.
    pub async fn check(&mut self, state: &AppState, force: bool) -> Result<bool, Revoked> {
        if !force && self.checked.elapsed() < RECHECK {
            return Ok(false);
        }
        self.user = match state.staff.authenticate(&self.token).await {
            Ok(user) if user.can(self.needs) => user,
            Ok(_) => return Err(Revoked::Forbidden),
            Err(StaffError::Unauthenticated) => return Err(Revoked::SignedOut),
            Err(error) => {
                tracing::error!(%error, "staff socket check failed");
                return Err(Revoked::CheckFailed);
            }
        };
        self.checked = Instant::now();
        Ok(true)
    }
}

/// A buyer socket's right to stay open: the visitor token it opened with still
/// signs the same visitor in, and the visitor is not blocked.
pub struct BuyerGrant {
    token: String,
    visitor_id: String,
    checked: Instant,
    stale: bool,
}

impl BuyerGrant {
    pub fn for_request(request: &Request, visitor_id: &str) -> Option<BuyerGrant> {
        Some(BuyerGrant {
            token: bearer_token(request).or_else(|| query_token(request))?,
            visitor_id: visitor_id.to_owned(),
            checked: Instant::now(),
            stale: false,
        })
    }

    /// True when a change heard on this node concerns this buyer (or some were
    /// missed); the next check then runs whatever its age.
    pub fn concerned_by(&mut self, change: &Result<AccessChange, RecvError>) -> bool {
        let concerned = match change {
            Ok(AccessChange::VisitorErased(id)) => **id == *self.visitor_id,
            Ok(_) | Err(RecvError::Closed) => false,
            Err(RecvError::Lagged(_)) => true,
        };
        self.stale |= concerned;
        concerned
    }

    async fn check(&mut self, state: &AppState) -> Result<(), Revoked> {
        if !self.stale && self.checked.elapsed() < BUYER_RECHECK {
            return Ok(());
        }
        match state.visitors.authenticate(&self.token).await {
            Ok(visitor) if visitor.id == self.visitor_id => {}
            Ok(_) | Err(VisitorError::Unauthenticated | VisitorError::NotFound) => {
                return Err(Revoked::SignedOut);
            }
            Err(error) => {
                tracing::error!(%error, "buyer socket check failed");
                return Err(Revoked::CheckFailed);
            }
        }
        if state.blocks.check(None, Some(&self.visitor_id)).is_err() {
            return Err(Revoked::Forbidden);
        }
        self.checked = Instant::now();
        self.stale = false;
        Ok(())
    }
}

/// Who is on a conversation socket, with the grant that keeps being checked:
/// staff's, or a buyer's.
pub struct Party {
    pub caller: Caller,
    pub grant: Option<StaffGrant>,
    pub buyer: Option<BuyerGrant>,
}

impl Party {
    /// For staff: the session is still valid (checked now when `force`, else when
    /// stale) and the conversation is still theirs to see (a transfer, take-over
    /// or hand-back moves it away). For a buyer: when `force` (a keepalive, a
    /// frame they write, an erasure heard), their token still holds if its last
    /// check is stale.
    pub async fn still_allowed(
        &mut self,
        state: &AppState,
        id: &ConversationId,
        force: bool,
    ) -> Result<(), Revoked> {
        if let Some(buyer) = &mut self.buyer {
            return if force {
                buyer.check(state).await
            } else {
                Ok(())
            };
        }
        let Some(grant) = &mut self.grant else {
            return Ok(());
        };
        if !grant.check(state, force).await? {
            return Ok(());
        }
        let user = grant.user().clone();
        let allowed = match state.chat.visible(Actor::Staff(&user), id).await {
            Ok(_) => Ok(()),
            Err(ChatError::Forbidden | ChatError::NotFound) => Err(Revoked::Forbidden),
            Err(error) => {
                tracing::error!(%error, "staff socket check failed");
                Err(Revoked::CheckFailed)
            }
        };
        self.caller = Caller::Staff(user);
        allowed
    }
}

/// The next access change, or never for a socket that does not listen.
pub async fn next_change(
    changes: &mut Option<broadcast::Receiver<AccessChange>>,
) -> Result<AccessChange, RecvError> {
    match changes {
        Some(changes) => changes.recv().await,
        None => std::future::pending().await,
    }
}
