//! Courtier's broker core.
pub mod codec;
pub mod config;
