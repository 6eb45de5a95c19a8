//! Use cases over the domain and the ports.

pub mod attachments;
pub mod bot;
pub mod chat;
pub mod events;
pub mod hub;
pub mod inbox;
pub mod knowledge;
pub mod quick_replies;
pub mod routing;
pub mod shop;
pub mod skill_groups;
pub mod staff;
pub mod visitors;
