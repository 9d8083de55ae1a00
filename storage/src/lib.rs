//! Courtier's persistence layer.
