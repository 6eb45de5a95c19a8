//! Offline evaluation through the product's own code paths.

pub mod faq; // FAQ match and hand-off metrics on ../shared/eval sets
