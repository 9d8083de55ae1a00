//! `GET /dashboard`: one page of plain HTML, CSS and JavaScript compiled into the binary,
//! nothing fetched from elsewhere; it reads the admin API and /metrics of the same listener.

use actix_web::HttpResponse;

const PAGE: &str = include_str!("dashboard.html");

pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'unsafe-inline'",
        ))
        .body(PAGE)
}
