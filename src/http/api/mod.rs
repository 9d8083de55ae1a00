//! The admin API under `/api/v1`, JSON over the `[http]` listener. Each resource is its own
//! module; [`configure`] mounts them all.

pub mod traces;

use actix_web::web;

/// Mount every API resource on an app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    traces::routes(cfg);
}
