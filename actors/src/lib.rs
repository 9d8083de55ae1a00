//! Courtier's broker core: everything MQTT, no HTTP, no signals, no config files.
//!
//! Map of the crate (see ARCHITECTURE.md for the message flow):
//! - [`codec`]: sans-IO MQTT codec (tokio-util Decoder/Encoder), one packet model for 3.1,
//!   3.1.1 and (later) 5.0.
//! - [`topic`]: topic names and filters, validation and matching (pure).
//! - [`message`]: the routing-level `Message` and its trace context.
//! - [`delivery`]: a routed message on its way to one subscriber; the session inbox.
//! - [`connection`]: one actor per socket; the writer task.
//! - [`session`]: one actor per client id, around the pure `SessionState`.
//! - [`auth`]: the authentication and authorization seam (who may connect, publish,
//!   subscribe, receive).
//! - [`registry`]: client id -> session; take-over; restored sessions.
//! - [`topics`]: TopicRouter and TopicSubtree actors, and the subscription trie.
//! - [`retain`]: the RetainStore actor.
//! - [`guardian`]: the supervisor and the shutdown sequence; [`supervision`]: every actor's
//!   task, which catches a panic in a handler, and what a supervised actor reports.
//! - [`sys`]: the $SYS publisher. [`metrics`]: shared counters;
//!   [`drop_summary`]: the periodic INFO line of drops per client. [`close`]: why a connection
//!   ends, the one place errors become reasons.
//! - [`sys_load`]: $SYS load averages (pure). [`process`]: RSS and heap of the process.
//! - [`admin`]: snapshots and administrative disconnects for the admin API.
//! - [`trace`]: `[trace]` message-path log lines ([`trace_filter`] which messages,
//!   [`trace_delivery`] the hops at a subscriber); [`trace_live`]: runtime traces (started over
//!   the API), [`trace_select`] what they select, [`trace_hops`] their records
//!   ([`trace_record`]), [`trace_sink`] a trace's ring and readers, [`trace_log`] the writer
//!   thread of their log lines.
//! - [`bridge`]: store-and-forward links to other brokers (`[[bridges]]`).
//! - [`broker`]: the `Broker` handle the server shell starts and feeds sockets to (and, with
//!   the test-only `fault-injection` feature, makes its actors fail or panic).

pub mod admin;
pub mod auth;
pub mod bridge;
pub mod broker;
pub mod close;
pub mod codec;
pub mod config;
pub mod connection;
pub mod delivery;
pub mod drop_summary;
pub mod guardian;
pub mod heap_release;
pub mod message;
pub mod metrics;
pub mod process;
pub mod registry;
pub mod retain;
pub mod retain_index;
pub mod session;
pub mod supervision;
pub mod sys;
pub mod sys_load;
pub mod topic;
pub mod topics;
pub mod trace;
pub mod trace_client_mask;
mod trace_clock;
pub mod trace_config;
pub mod trace_delivery;
pub mod trace_filter;
pub mod trace_hops;
pub mod trace_live;
pub mod trace_log;
pub mod trace_record;
pub mod trace_select;
pub mod trace_sink;
mod trace_slot;
mod trace_text;

pub use broker::Broker;
#[cfg(feature = "fault-injection")]
pub use broker::{FailureTarget, PanicTarget};
pub use config::{BrokerConfig, OverflowPolicy};
