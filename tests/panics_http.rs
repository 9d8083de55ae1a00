//! What a panic in an actix-web handler does to the HTTP side (/metrics, the admin API, MQTT
//! over WebSocket), checked on actix-web itself, as the broker runs it (one worker, so the
//! second request is served by the thread whose handler panicked): the request's connection
//! task ends (the client gets no response, the socket closes), tokio catches the panic there,
//! and the worker thread, its other connections and the server go on. A WebSocket's MQTT side
//! is a Connection actor, supervised like any other (tests/panics/).

mod common;

use actix_web::{web, App, HttpResponse, HttpServer};
use std::net::TcpListener;

#[test]
fn a_panicking_http_handler_ends_its_request_alone() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let server = HttpServer::new(|| {
                App::new()
                    .route(
                        "/boom",
                        web::get().to(|| async {
                            if true {
                                panic!("injected panic in an HTTP handler");
                            }
                            HttpResponse::Ok().finish()
                        }),
                    )
                    .route(
                        "/ok",
                        web::get().to(|| async { HttpResponse::Ok().body("ok") }),
                    )
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
            tx.send(server.handle()).unwrap();
            server.await.unwrap();
        })
    });
    let handle = rx.recv().unwrap();

    let boom = std::panic::catch_unwind(|| common::http::get(addr, "/boom"));
    assert!(
        boom.is_err(),
        "no HTTP response to the request that panicked"
    );
    for _ in 0..3 {
        let ok = common::http::get(addr, "/ok");
        assert_eq!(
            (ok.status, ok.body.as_str()),
            (200, "ok"),
            "the server goes on"
        );
    }

    actix_rt::System::new().block_on(handle.stop(true));
    server.join().unwrap();
}
