//! Sans-IO MQTT codec (placeholder: being written).
pub mod packet;
pub use packet::*;
