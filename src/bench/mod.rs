//! Benchmarks with their own load generators (`xiaoer bench ...`).

pub mod analytics;
pub mod bot;
pub mod chat;
pub mod embed;
pub mod history;
pub mod llm;
pub mod retrieval;
pub mod routing;
pub mod tickets;
pub mod visitors;
