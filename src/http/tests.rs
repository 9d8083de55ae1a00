//! Readiness before the broker exists (not observable from outside: start-up is too quick).

use super::*;
use actix_web::test;

fn app(
    state: Arc<HttpState>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::from(state))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics::handler))
        .route("/mqtt", web::get().to(ws::handler))
}

#[actix_web::test]
async fn readyz_is_503_while_starting_and_stopping_healthz_is_200() {
    let state = HttpState::new("memory");
    let svc = test::init_service(app(state.clone())).await;
    let get = |path: &str| test::TestRequest::get().uri(path).to_request();

    let r = test::call_service(&svc, get("/readyz")).await;
    assert_eq!(r.status(), 503);
    let body = test::read_body(r).await;
    assert_eq!(
        body,
        r#"{"listeners":"not accepting","status":"starting","store":"memory"}"#
    );
    assert_eq!(
        test::call_service(&svc, get("/healthz")).await.status(),
        200
    );
    assert_eq!(
        test::call_service(&svc, get("/metrics")).await.status(),
        503
    );
    assert_eq!(test::call_service(&svc, get("/mqtt")).await.status(), 503);

    state.set_stopping();
    let r = test::call_service(&svc, get("/readyz")).await;
    assert_eq!(r.status(), 503);
    assert!(String::from_utf8_lossy(&test::read_body(r).await).contains("stopping"));
}
