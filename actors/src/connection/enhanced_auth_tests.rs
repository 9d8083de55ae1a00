use super::*;

const SCRAM: &str = "SCRAM-SHA-512";

fn auth(reason: ReasonCode, method: Option<&str>, data: Option<&[u8]>) -> Auth {
    Auth {
        reason,
        properties: Some(Box::new(AuthProperties {
            authentication_method: method.map(ByteString::from),
            authentication_data: data.map(Bytes::copy_from_slice),
            ..AuthProperties::default()
        })),
    }
}

fn user(name: &str) -> Identity {
    Identity {
        username: Some(name.into()),
    }
}

fn spec_id(r: Result<AuthStep, CloseReason>) -> &'static str {
    match r {
        Err(CloseReason::Protocol(id, _)) => id,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// A connection whose CONNECT exchange succeeded for "alice".
fn authenticated() -> EnhancedAuth {
    let mut a = EnhancedAuth::default();
    a.begin(SCRAM.into());
    assert!(matches!(a.on_success(user("alice"), None), Reply::Attach(i) if i == user("alice")));
    a
}

#[test]
fn auth_without_a_method_at_connect_is_a_protocol_error() {
    let mut a = EnhancedAuth::default();
    let r = a.on_auth(&auth(ReasonCode::ReAuthenticate, Some(SCRAM), None));
    assert_eq!(spec_id(r), "MQTT-4.12.0-7");
    let r = a.on_auth(&Auth::default());
    assert_eq!(spec_id(r), "MQTT-4.12.0-7");
}

#[test]
fn auth_with_another_method_or_none_is_a_protocol_error() {
    let mut a = EnhancedAuth::default();
    a.begin(SCRAM.into());
    let r = a.on_auth(&auth(
        ReasonCode::ContinueAuthentication,
        Some("OTHER"),
        None,
    ));
    assert_eq!(spec_id(r), "MQTT-4.12.0-5");
    let r = a.on_auth(&auth(ReasonCode::ContinueAuthentication, None, None));
    assert_eq!(spec_id(r), "MQTT-4.12.0-5");
    let mut a = authenticated();
    let r = a.on_auth(&auth(ReasonCode::ReAuthenticate, Some("OTHER"), None));
    assert_eq!(spec_id(r), "MQTT-4.12.0-5");
}

#[test]
fn continue_during_connect_hands_the_data_to_the_exchange() {
    let mut a = EnhancedAuth::default();
    a.begin(SCRAM.into());
    assert!(a.connecting());
    let step = a.on_auth(&auth(
        ReasonCode::ContinueAuthentication,
        Some(SCRAM),
        Some(b"x"),
    ));
    assert_eq!(
        step.unwrap(),
        AuthStep::Continue(Some(Bytes::from_static(b"x")))
    );
    // Re-authenticating before CONNACK is not allowed.
    let r = a.on_auth(&auth(ReasonCode::ReAuthenticate, Some(SCRAM), None));
    assert_eq!(spec_id(r), "MQTT-4.12.0-3");
}

#[test]
fn the_server_continues_with_auth_0x18_naming_the_method() {
    let mut a = EnhancedAuth::default();
    a.begin(SCRAM.into());
    let Reply::Send(Packet::Auth(p)) = a.on_continue(Some(Bytes::from_static(b"challenge"))) else {
        panic!("expected an AUTH")
    };
    assert_eq!(p.reason, ReasonCode::ContinueAuthentication);
    let props = p.properties.unwrap();
    assert_eq!(props.authentication_method.as_deref(), Some(SCRAM));
    assert_eq!(
        props.authentication_data.as_deref(),
        Some(&b"challenge"[..])
    );
}

#[test]
fn success_at_connect_attaches_and_the_connack_carries_method_and_data() {
    let mut a = EnhancedAuth::default();
    a.begin(SCRAM.into());
    let reply = a.on_success(user("alice"), Some(Bytes::from_static(b"v=sig")));
    assert!(matches!(reply, Reply::Attach(i) if i == user("alice")));
    assert!(!a.connecting());
    assert_eq!(a.user().map(|u| &**u), Some("alice"));
    let mut p = ConnAckProperties::default();
    a.connack_properties(&mut p);
    assert_eq!(p.authentication_method.as_deref(), Some(SCRAM));
    assert_eq!(p.authentication_data.as_deref(), Some(&b"v=sig"[..]));
}

#[test]
fn no_method_at_connect_puts_nothing_in_the_connack() {
    let mut a = EnhancedAuth::default();
    let mut p = ConnAckProperties::default();
    a.connack_properties(&mut p);
    assert_eq!(p, ConnAckProperties::default());
}

#[test]
fn failure_at_connect_refuses_with_its_code() {
    let mut a = EnhancedAuth::default();
    a.begin(SCRAM.into());
    assert!(matches!(
        a.on_failure(AuthFailure::NotAuthorized),
        Reply::Refuse(AuthFailure::NotAuthorized)
    ));
}

#[test]
fn reauthentication_success_answers_auth_success() {
    let mut a = authenticated();
    let step = a.on_auth(&auth(ReasonCode::ReAuthenticate, Some(SCRAM), Some(b"n,,")));
    assert_eq!(
        step.unwrap(),
        AuthStep::Reauthenticate(Some(Bytes::from_static(b"n,,")))
    );
    // The exchange goes on with 0x18 both ways.
    let step = a.on_auth(&auth(ReasonCode::ContinueAuthentication, Some(SCRAM), None));
    assert_eq!(step.unwrap(), AuthStep::Continue(None));
    let Reply::Send(Packet::Auth(p)) = a.on_success(user("alice"), None) else {
        panic!("expected an AUTH")
    };
    assert_eq!(p.reason, ReasonCode::Success);
    assert_eq!(
        p.properties.unwrap().authentication_method.as_deref(),
        Some(SCRAM)
    );
    // And it may be done again.
    let step = a.on_auth(&auth(ReasonCode::ReAuthenticate, Some(SCRAM), None));
    assert_eq!(step.unwrap(), AuthStep::Reauthenticate(None));
}

#[test]
fn reauthentication_failure_disconnects_not_authorized() {
    let mut a = authenticated();
    a.on_auth(&auth(ReasonCode::ReAuthenticate, Some(SCRAM), None))
        .unwrap();
    let Reply::Close(reason) = a.on_failure(AuthFailure::NotAuthorized) else {
        panic!("expected a close")
    };
    assert_eq!(reason.disconnect_code(), Some(ReasonCode::NotAuthorized));
}

#[test]
fn reauthentication_as_another_user_fails() {
    let mut a = authenticated();
    a.on_auth(&auth(ReasonCode::ReAuthenticate, Some(SCRAM), None))
        .unwrap();
    let Reply::Close(reason) = a.on_success(user("mallory"), None) else {
        panic!("expected a close")
    };
    assert_eq!(reason.disconnect_code(), Some(ReasonCode::NotAuthorized));
}

#[test]
fn continue_or_success_codes_out_of_turn_are_protocol_errors() {
    let mut a = authenticated();
    let r = a.on_auth(&auth(ReasonCode::ContinueAuthentication, Some(SCRAM), None));
    assert_eq!(spec_id(r), "MQTT-4.12.1-1");
    let r = a.on_auth(&auth(ReasonCode::Success, Some(SCRAM), None));
    assert_eq!(spec_id(r), "MQTT-4.12.1-1");
    a.on_auth(&auth(ReasonCode::ReAuthenticate, Some(SCRAM), None))
        .unwrap();
    let r = a.on_auth(&auth(ReasonCode::ReAuthenticate, Some(SCRAM), None));
    assert_eq!(spec_id(r), "MQTT-4.12.0-3");
}
