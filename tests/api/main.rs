//! The conformance suite: every test runs through the real HTTP/WebSocket API on
//! the backend chosen by XIAOER_TEST_BACKEND (scripts/test.sh runs it on both).

mod attachments;
mod attacks;
mod bot;
mod bot_support;
mod cli;
mod cluster;
mod crash;
mod hardening;
mod helpers;
mod identity;
mod index;
mod knowledge;
mod messages;
mod nodes;
mod ops;
mod privacy;
mod routing;
mod staff;
mod websocket;
