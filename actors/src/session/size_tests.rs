//! Memory per idle connection (docs/PERFORMANCE.md): every connected client has a Session
//! actor, whose whole state lives in one allocation, the task actix spawns for it (the
//! context future plus ~120 bytes of tokio's task header). mimalloc serves that from size
//! classes 768, 896, 1024, ...: a field that pushes the future past 768 bytes costs every
//! session 128 bytes, so it should go out of line (like `Rare`) or be paid for knowingly.

use super::Session;
use actix::dev::ContextFut;
use actix::Context;

#[test]
fn the_session_actor_task_stays_in_the_896_byte_class() {
    let future = std::mem::size_of::<ContextFut<Session, Context<Session>>>();
    assert!(
        future <= 768,
        "the Session actor's future grew to {future} bytes"
    );
    // The task is the supervised future (supervision.rs), which must add nothing to it.
    let task = std::mem::size_of::<crate::supervision::Supervise<Session>>();
    assert_eq!(task, future, "Supervise adds {} bytes", task - future);
}
