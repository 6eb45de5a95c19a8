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

/// The password of the staff accounts the benchmarks create on their throwaway servers.
const PASSWORD: &str = "bench password 123";
