//! Pure types and rules. Nothing here knows about HTTP, SQL or models.

pub mod attachment;
pub mod conversation;
pub mod knowledge;
pub mod message;
pub mod routing;
pub mod staff;
pub mod visitor;
