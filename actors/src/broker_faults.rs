//! Test-only (feature `fault-injection`): make an actor fail, by stopping itself or by
//! panicking in a handler, so that supervision (supervision.rs) can be exercised against a
//! running broker.

use super::Broker;
use crate::admin::FindSession;
use crate::session::fault::PanicConnection;
use crate::supervision::{InjectFailure, InjectPanic};
use crate::topics::messages::ResolveSubtree;
use crate::topics::TopicSubtree;
use actix::prelude::*;

/// A supervised singleton, or one subtree.
#[derive(Debug, Clone)]
pub enum FailureTarget {
    RetainStore,
    TopicRouter,
    SessionRegistry,
    /// The subtree of this first topic level ("#" for wildcard-first filters).
    TopicSubtree(String),
}

/// Any kind of actor that can panic.
#[derive(Debug, Clone)]
pub enum PanicTarget {
    /// The supervised singletons and subtrees.
    Supervised(FailureTarget),
    /// The $SYS publisher (when sys_interval is set).
    SysPublisher,
    /// The session of this client id.
    Session(String),
    /// The connection of this client id.
    Connection(String),
    /// The store's writer thread, while it writes its next batch.
    StoreWriter,
    /// The next tick of a keep-alive sweep (a background task).
    KeepAliveSweep,
}

impl Broker {
    /// Make a supervised singleton stop itself, so that it restarts.
    pub async fn inject_failure(&self, target: FailureTarget) {
        match target {
            FailureTarget::RetainStore => self.inner.retain.do_send(InjectFailure),
            FailureTarget::TopicRouter => self.inner.topics.do_send(InjectFailure),
            FailureTarget::SessionRegistry => self.inner.registry.do_send(InjectFailure),
            FailureTarget::TopicSubtree(key) => {
                if let Some(s) = self.subtree(key).await {
                    s.do_send(InjectFailure);
                }
            }
        }
    }

    /// Make an actor panic in a handler. Returns false if there was no such actor.
    pub async fn inject_panic(&self, target: PanicTarget) -> bool {
        match target {
            PanicTarget::Supervised(FailureTarget::RetainStore) => {
                self.inner.retain.do_send(InjectPanic)
            }
            PanicTarget::Supervised(FailureTarget::TopicRouter) => {
                self.inner.topics.do_send(InjectPanic)
            }
            PanicTarget::Supervised(FailureTarget::SessionRegistry) => {
                self.inner.registry.do_send(InjectPanic)
            }
            PanicTarget::Supervised(FailureTarget::TopicSubtree(key)) => {
                match self.subtree(key).await {
                    Some(s) => s.do_send(InjectPanic),
                    None => return false,
                }
            }
            PanicTarget::SysPublisher => match &self.inner.sys {
                Some(s) => s.do_send(InjectPanic),
                None => return false,
            },
            PanicTarget::Session(id) => match self.session(id).await {
                Some(s) => s.do_send(InjectPanic),
                None => return false,
            },
            PanicTarget::Connection(id) => match self.session(id).await {
                Some(s) => s.do_send(PanicConnection),
                None => return false,
            },
            PanicTarget::StoreWriter => self.inner.persist.inject_panic(),
            PanicTarget::KeepAliveSweep => crate::connection::inject_sweep_panic(),
        }
        true
    }

    async fn subtree(&self, key: String) -> Option<Addr<TopicSubtree>> {
        let key = key.into();
        let s = self.inner.topics.send(ResolveSubtree { key }).await.ok()?;
        Some(s.addr)
    }

    async fn session(&self, client_id: String) -> Option<Addr<crate::session::Session>> {
        let find = FindSession(client_id.into());
        self.inner.registry.send(find).await.ok().flatten()
    }
}
