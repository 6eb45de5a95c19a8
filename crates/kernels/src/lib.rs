//! The numeric inner loops Xiaoer writes itself rather than takes from candle.
//! They live in a crate of their own so that the `dev`/`test` profile can build
//! them optimised (see the top-level Cargo.toml) while the ~60,000 lines of the
//! server around them build at opt-level 0: a test build of the whole project
//! then takes minutes less, and the real-model tests still decode at full speed.

pub mod attention;
