//! The numeric inner loops Xiaoer writes itself rather than takes from candle.
//! They live in a crate of their own so that the `dev`/`test` profile builds
//! them at opt-level 3 whatever the level of the server around them (see the
//! top-level Cargo.toml).

pub mod attention;
