//! A trace ends on time, is deleted, or is refused with the reason.

use super::*;

#[test]
fn a_trace_ends_on_time_and_delete_forgets_it() {
    let (_dir, b, http) = broker();
    let id = start_trace(http, json!({"client": "c", "duration_secs": 1}));
    let sse = Sse::open(http, id);
    let started = Instant::now();
    let (name, v) = sse.next();
    assert_eq!((name.as_str(), &v["reason"]), ("end", &json!("expired")));
    assert!(started.elapsed() < Duration::from_secs(3));
    // Ended: listed as expired, records still downloadable, nothing recorded any more.
    let listed = traces(http);
    assert_eq!(listed[0]["state"], "expired");
    assert_eq!(listed[0]["remaining_secs"], 0);
    let _c = RawClient::connected(b.addr, "c");
    let after = get(http, &format!("/api/v1/traces/{id}")).body;
    assert!(after.contains("\"records\":0"), "{after}");
    let (status, _) = request(http, "GET", &format!("/api/v1/traces/{id}/stream"), None);
    assert_eq!(status, 410);
    assert_eq!(
        request(http, "DELETE", &format!("/api/v1/traces/{id}"), None).0,
        204
    );
    assert_eq!(get(http, &format!("/api/v1/traces/{id}")).status, 404);
    assert_eq!(
        request(http, "DELETE", &format!("/api/v1/traces/{id}"), None).0,
        404
    );
    assert!(traces(http).is_empty());

    // DELETE of a running trace ends its live readers.
    let id = start_trace(http, json!({"topic": "#"}));
    let sse = Sse::open(http, id);
    assert_eq!(
        request(http, "DELETE", &format!("/api/v1/traces/{id}"), None).0,
        204
    );
    let (name, v) = sse.next();
    assert_eq!((name.as_str(), &v["reason"]), ("end", &json!("stopped")));
}

#[test]
fn bad_trace_requests_say_why() {
    let (_dir, _b, http) = broker();
    for (body, needle) in [
        (json!({"client": "a", "topic": "b"}), "exactly one"),
        (json!({}), "exactly one"),
        (json!({"topic": "a/#/b"}), "invalid topic filter"),
        (json!({"client": ""}), "empty client"),
        (json!({"clientid": "a"}), "unknown field"),
        (json!({"client": "a", "duration_secs": 0}), "positive"),
        (json!({"client": 7}), "must be a string"),
    ] {
        let (status, text) = request(http, "POST", "/api/v1/traces", Some(&body));
        assert_eq!(status, 400, "{body}: {text}");
        assert!(text.contains(needle), "{body}: {text}");
    }
    assert_eq!(request(http, "GET", "/api/v1/traces/nope", None).0, 404);
    // A duration beyond the maximum is capped, not refused.
    let id = start_trace(http, json!({"client": "a", "duration_secs": 1_000_000}));
    let t: Value = serde_json::from_str(&get(http, &format!("/api/v1/traces/{id}")).body).unwrap();
    assert!(t["remaining_secs"].as_u64().unwrap() <= 3600, "{t}");
}
