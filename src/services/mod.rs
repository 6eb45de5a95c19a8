//! Use cases over the domain and the ports.

pub mod analytics;
pub mod attachments;
pub mod audit;
pub mod bell;
pub mod blocks;
pub mod bot;
pub mod catalogue; // product cards
pub mod challenge;
pub mod channels;
pub mod chat;
pub mod conversations;
pub mod coupons; // coupon cards and claims (issue 18)
pub mod events;
pub mod followups;
pub mod history;
pub mod hub;
pub mod inbox;
pub mod keys; // data key rotation and background re-sealing
pub mod knowledge;
pub mod live;
pub mod orders;
pub mod portrait; // the buyer profile beside a chat (issue 18)
pub mod presence; // who is on the shop now, invitations
pub mod privacy;
pub mod quality; // 质检 (issue 17)
pub mod quick_replies;
pub mod recommend; // item-to-item product recommendations
pub mod routing;
pub mod shop;
pub mod skill_groups;
pub mod staff;
pub mod subscribers;
pub mod ticket_admin;
pub mod ticket_automations;
pub mod ticket_board;
pub mod ticket_buyer;
pub mod ticket_events;
pub mod ticket_mail;
pub mod ticket_merge;
pub mod ticket_routing;
pub mod ticket_views;
pub mod tickets;
pub mod totp;
pub mod unanswered;
pub mod visitors;
pub mod webhooks;
