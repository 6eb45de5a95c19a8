//! The proof-of-work challenge before a new conversation (ALTCHA).

use super::AppState;
use super::error::ApiError;
use axum::Json;
use axum::extract::State;
use std::net::IpAddr;

/// A new signed challenge for the widget to solve.
pub async fn create(State(state): State<AppState>) -> Json<altcha::Challenge> {
    Json(state.challenges.create())
}

/// Lets a new conversation through, or asks for (and spends) a solved
/// challenge: always while an admin requires it, else once this client is
/// past the soft limit.
pub async fn gate(
    state: &AppState,
    ip: Option<IpAddr>,
    solution: Option<&str>,
) -> Result<(), ApiError> {
    let required =
        state.privacy.settings().await?.challenge_all || state.limits.past_soft_limit(ip).await?;
    if required {
        state.challenges.redeem(solution).await?;
    }
    Ok(())
}
