//! Offline evaluation through the product's own code paths.

pub mod bot; // buyer messages through the real API, judged against their expected entries
pub mod faq; // FAQ match and hand-off metrics on ../shared/eval sets
pub mod qa; // quality-inspection drafts against human labels
pub mod recommend; // hit-rate@10 of item-to-item against popularity on the generated demo logs
pub mod wordings; // what suggested wordings do for entries with few, on ../shared/eval sets
