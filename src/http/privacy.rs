//! Personal data by need: staff see a buyer's phone, address and name masked
//! (138****1234); the agent whose chat it is may reveal them, and the route
//! table records every reveal in the audit log.

use super::AppState;
use super::error::ApiError;
use super::extract::VisibleChat;
use crate::domain::pii;
use crate::services::bot::handoff::HandoffPacket;
use crate::services::staff::StaffUser;
use crate::services::visitors::VisitorProfile;
use axum::extract::State;
use axum::{Extension, Json};
use serde_json::Value;

/// The buyer's profile unmasked, for the agent serving the chat only.
pub async fn reveal(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    VisibleChat { conversation, .. }: VisibleChat,
) -> Result<Json<VisitorProfile>, ApiError> {
    if conversation.agent_id.as_deref() != Some(staff.id.as_str()) {
        return Err(ApiError::Refused {
            code: "reveal_not_your_chat",
            message: "only the agent serving this chat may see the buyer's personal data".into(),
        });
    }
    Ok(Json(
        state.visitors.profile(&conversation.visitor_id).await?,
    ))
}

/// Turns a stored value into what staff see before a reveal.
type Mask = fn(&str) -> String;

/// The hand-off packet carries the buyer's profile as the bot saw it: staff get
/// it masked like the conversation's own profile.
pub fn mask_packet(mut packet: HandoffPacket) -> HandoffPacket {
    if let Some(Value::Object(profile)) = packet.visitor.get_mut("profile") {
        let masks: [(&str, Mask); 3] = [
            ("real_name", pii::mask_name),
            ("phone", pii::mask_phone),
            ("address", pii::mask_address),
        ];
        for (field, mask) in masks {
            if let Some(Value::String(value)) = profile.get_mut(field) {
                *value = mask(value);
            }
        }
        profile.insert("pii_masked".into(), Value::Bool(true));
    }
    packet
}
