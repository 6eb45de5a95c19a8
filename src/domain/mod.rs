//! Pure types and rules. Nothing here knows about HTTP, SQL or models.

pub mod agent_time;
pub mod analytics;
pub mod attachment;
pub mod audit;
pub mod block;
pub mod bot_messages; // the bot's own words to buyers (prompts/messages.toml)
pub mod bot_session; // what the bot remembers about one conversation
pub mod chat_log; // what the conversation store records (issue 12)
pub mod commerce;
pub mod conversation;
pub mod coupon; // coupons offered in a chat (issue 18)
pub mod events;
pub mod flood;
pub mod funnel; // visit → chat → order by source (issue 17)
pub mod handoff;
pub mod history;
pub mod intake;
pub mod knowledge;
pub mod lang;
pub mod llm_budget;
pub mod lockout;
pub mod message;
pub mod pii;
pub mod portrait; // the buyer profile beside a chat (issue 18)
pub mod privacy; // data protection: retention, erasure, export paging
pub mod rate_window;
pub mod rollups; // what the analytics subscriber keeps and reports read back
pub mod routing;
pub mod saved_report; // custom reports kept to run again (issue 17)
pub mod sla;
pub mod staff;
pub mod tickets;
pub mod visitor;
pub mod welcome; // which welcome message a new chat gets (issue 18)
// visitors: presence, invitation rules, product cards
pub mod catalogue;
pub mod invitation;
pub mod presence;
pub mod quality; // 质检 rules (issue 17)
// tickets: e-mail reminders
pub mod recommend;
pub mod ticket_automations; // when EVENT and CONDITIONS then ACTIONS (issue 16)
pub mod ticket_mail;
pub mod totp; // two-step sign-in codes (RFC 6238)
pub mod wording; // suggested wordings of entries with few (issue 13)
