//! The connection attached to a session: its outbox, replies in order, receive quota, and
//! the rarer per-connection parts (Will, user name, packet size limit) kept out of line.

use super::answer::Reply;
use super::outbound;
use super::receive;
use super::replies::ReplyOrder;
use crate::codec::LastWill;
use crate::connection::{Connection, HeldCredits, Outbox};
use actix::WeakAddr;

/// The connection currently attached.
pub(super) struct Link {
    pub(super) conn_id: u64,
    pub(super) conn: WeakAddr<Connection>,
    pub(super) writer: Outbox,
    /// The Will and the user name: boxed, because most clients have neither and every byte
    /// of the session counts for idle connections (size_tests.rs).
    pub(super) extra: Option<Box<LinkExtra>>,
    /// Replies to this connection's packets, in order of receipt.
    pub(super) replies: ReplyOrder<Reply>,
    /// Credits of replies queued and not yet in the outbox (at most one per queued
    /// control packet; see answer.rs).
    pub(super) held: HeldCredits,
    /// A reply closed the connection: later packets of it are ignored.
    pub(super) closing: bool,
    /// 5.0: QoS 1/2 PUBLISHes of this connection not acknowledged yet (receive.rs).
    pub(super) quota: receive::ReceiveQuota,
}

/// The rarer parts of the attached connection, out of line (see `Link::extra`); made only
/// when one of them differs from its default.
#[derive(Default)]
pub(super) struct LinkExtra {
    pub(super) will: Option<LastWill>,
    /// The authenticated user name, for authorization checks (auth.rs).
    pub(super) username: Option<bytestring::ByteString>,
    /// 5.0: the largest packet the client accepts [MQTT-3.1.2-24].
    pub(super) max_packet_size: Option<std::num::NonZeroU32>,
    /// The client's address, for denial lines (given only with an ACL in force).
    pub(super) peer: Option<std::sync::Arc<str>>,
    /// The last Receive check's answer (outbound.rs), kept with an ACL in force only.
    pub(super) last_read: std::cell::RefCell<outbound::LastRead>,
}

impl LinkExtra {
    pub(super) fn is_default(&self) -> bool {
        self.will.is_none()
            && self.username.is_none()
            && self.max_packet_size.is_none()
            && self.peer.is_none()
    }
}

impl Link {
    pub(super) fn max_packet_size(&self) -> Option<u32> {
        self.extra
            .as_ref()
            .and_then(|e| e.max_packet_size.map(|m| m.get()))
    }

    pub(super) fn username(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.username.as_deref())
    }

    pub(super) fn peer(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.peer.as_deref())
    }

    /// Takes the Will out of the link (to publish it, or not).
    pub(super) fn take_will(&mut self) -> Option<LastWill> {
        self.extra.as_mut().and_then(|e| e.will.take())
    }
}
