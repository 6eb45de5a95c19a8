//! The conformance suite: every test runs through the real HTTP/WebSocket API on
//! the backend chosen by XIAOER_TEST_BACKEND (scripts/test.sh runs it on both).

mod abuse;
mod admin;
mod analytics;
mod attachments;
mod attacks;
mod audit;
mod bot;
mod bot_scripted;
mod bot_support;
mod channels;
mod cli;
mod cluster;
mod crash;
mod data_protection;
mod hardening;
mod headers;
mod helpers;
mod history;
mod identity;
mod index;
mod knowledge;
mod messages;
mod nodes;
mod ops;
mod privacy;
mod recommend;
mod routing;
mod sessions;
mod staff;
mod tickets;
mod visitors;
mod webhooks;
mod websocket;
