//! Courtier: the server shell around the broker core.
