//! Use cases over the domain and the ports.

pub mod attachments;
pub mod audit;
pub mod bot;
pub mod chat;
pub mod events;
pub mod hub;
pub mod knowledge;
pub mod quick_replies;
pub mod routing;
pub mod skill_groups;
pub mod staff;
pub mod visitors;
