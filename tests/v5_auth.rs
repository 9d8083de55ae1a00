//! MQTT 5.0 enhanced authentication (§4.12, AUTH §3.15) end to end with raw packets: the
//! SCRAM-SHA-512 exchange against a password file written by the real mosquitto_passwd
//! (tests/fixtures/mosquitto_passwd), re-authentication, and the reason codes of every way it
//! can go wrong. The client side of SCRAM is computed here from the password with the RustCrypto
//! crates, independently of the broker's code.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::v5::*;
use common::*;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha512};
use std::net::SocketAddr;
use std::time::Duration;

const FIXTURE: &str = "tests/fixtures/mosquitto_passwd/passwd";
const SCRAM: &str = "SCRAM-SHA-512";
const CLOSE: Duration = Duration::from_secs(5);

/// A broker in process with the fixture password file and `auth_methods`.
struct Broker {
    server: Option<courtier::ServerThread>,
    _dir: tempfile::TempDir,
}

impl Broker {
    fn addr(&self) -> SocketAddr {
        self.server.as_ref().unwrap().mqtt_addr
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
    }
}

fn broker_with(methods: &[&str], connect_timeout_secs: u64) -> Broker {
    broker_acl(methods, connect_timeout_secs, None)
}

fn broker_acl(methods: &[&str], connect_timeout_secs: u64, acl: Option<&str>) -> Broker {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("passwd");
    std::fs::copy(FIXTURE, &pw).unwrap();
    let mut s = courtier::config::Settings::defaults();
    s.listener.port = 0;
    s.http.enabled = false;
    s.security.allow_anonymous = false;
    s.security.password_file = pw;
    s.security.auth_methods = methods.iter().map(|m| m.to_string()).collect();
    s.broker.connect_timeout_secs = connect_timeout_secs;
    if let Some(rules) = acl {
        let path = dir.path().join("acl");
        std::fs::write(&path, rules).unwrap();
        s.security.acl_file = path;
    }
    let store = std::sync::Arc::new(courtier_storage::MemoryStore::new());
    let server = courtier::ServerThread::spawn(s, store).expect("broker starts");
    Broker {
        server: Some(server),
        _dir: dir,
    }
}

fn broker() -> Broker {
    broker_with(&[SCRAM], 10)
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha512>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// The client side of SCRAM-SHA-512 (RFC 5802).
struct ScramClient {
    password: String,
    bare: String,
    server_first: String,
    auth_message: String,
    salted: Vec<u8>,
}

impl ScramClient {
    fn new(user: &str, password: &str) -> ScramClient {
        let nonce = format!("cn{}", unique("").replace(['-', '_'], ""));
        ScramClient {
            password: password.into(),
            bare: format!("n={user},r={nonce}"),
            server_first: String::new(),
            auth_message: String::new(),
            salted: Vec::new(),
        }
    }
    fn first(&self) -> Vec<u8> {
        format!("n,,{}", self.bare).into_bytes()
    }
    fn last(&mut self, server_first: &[u8]) -> Vec<u8> {
        self.server_first = String::from_utf8(server_first.to_vec()).unwrap();
        let mut a = self.server_first.split(',');
        let nonce = a.next().unwrap().strip_prefix("r=").unwrap().to_owned();
        assert!(nonce.starts_with(&self.bare[self.bare.find("r=").unwrap() + 2..]));
        let salt = STANDARD.decode(&a.next().unwrap()[2..]).unwrap();
        let i: u32 = a.next().unwrap()[2..].parse().unwrap();
        let mut salted = [0u8; 64];
        pbkdf2::pbkdf2_hmac::<Sha512>(self.password.as_bytes(), &salt, i, &mut salted);
        self.salted = salted.to_vec();
        let client_key = hmac(&salted, b"Client Key");
        let without_proof = format!("c=biws,r={nonce}");
        self.auth_message = format!("{},{},{without_proof}", self.bare, self.server_first);
        let sig = hmac(&Sha512::digest(&client_key), self.auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(sig).map(|(a, b)| a ^ b).collect();
        format!("{without_proof},p={}", STANDARD.encode(proof)).into_bytes()
    }
    /// Whether the server-final-message proves the server knows the user's keys.
    fn server_proven(&self, server_final: &[u8]) -> bool {
        let server_key = hmac(&self.salted, b"Server Key");
        let v = hmac(&server_key, self.auth_message.as_bytes());
        server_final == format!("v={}", STANDARD.encode(v)).as_bytes()
    }
}

fn auth5(reason: u8, method: &str, data: Option<&[u8]>) -> Vec<u8> {
    let mut ps = vec![P::Str(prop::AUTHENTICATION_METHOD, method.into())];
    if let Some(d) = data {
        ps.push(P::Bin(0x16, d.to_vec()));
    }
    let mut body = vec![reason];
    body.extend(props(&ps));
    packet(0xF0, &body)
}

/// An AUTH as received: (reason, method, data).
fn parse_auth((first, body): RawPacket) -> (u8, String, Option<Vec<u8>>) {
    assert_eq!(first, 0xF0, "expected AUTH, got {first:#04x} {body:?}");
    let (ps, _) = parse_props(&body[1..]);
    let method = match find(&ps, prop::AUTHENTICATION_METHOD) {
        Some(P::Str(_, m)) => m.clone(),
        other => panic!("AUTH without its method [MQTT-4.12.0-5]: {other:?}"),
    };
    let data = match find(&ps, 0x16) {
        Some(P::Bin(_, d)) => Some(d.clone()),
        _ => None,
    };
    (body[0], method, data)
}

type RawPacket = (u8, Vec<u8>);

fn scram_connect(client_id: &str, data: Option<Vec<u8>>) -> Vec<u8> {
    let mut c = Connect5::new(client_id).prop(P::Str(prop::AUTHENTICATION_METHOD, SCRAM.into()));
    if let Some(d) = data {
        c = c.prop(P::Bin(0x16, d));
    }
    c.to_bytes()
}

/// CONNECT with SCRAM and the client-first-message, the server-first in AUTH 0x18, the
/// client-final in AUTH 0x18: the CONNACK that answers it.
fn scram_login(addr: SocketAddr, user: &str, password: &str) -> (RawClient, ConnAck5, ScramClient) {
    let mut cl = RawClient::connect(addr);
    let mut scram = ScramClient::new(user, password);
    cl.send(&scram_connect(&unique("scram"), Some(scram.first())));
    let (reason, method, data) = parse_auth(cl.read_packet());
    assert_eq!((reason, method.as_str()), (0x18, SCRAM));
    let last = scram.last(&data.expect("server-first-message"));
    cl.send(&auth5(0x18, SCRAM, Some(&last)));
    let (first, body) = cl.read_packet();
    (cl, ConnAck5::parse(first, &body), scram)
}

fn connack_auth(ack: &ConnAck5) -> (Option<String>, Option<Vec<u8>>) {
    let method = match find(&ack.props, prop::AUTHENTICATION_METHOD) {
        Some(P::Str(_, m)) => Some(m.clone()),
        _ => None,
    };
    let data = match find(&ack.props, 0x16) {
        Some(P::Bin(_, d)) => Some(d.clone()),
        _ => None,
    };
    (method, data)
}

#[test]
fn scram_login_with_a_mosquitto_passwd_entry_succeeds_and_proves_the_server() {
    let b = broker();
    let (mut cl, ack, scram) = scram_login(b.addr(), "alice", "alice-secret");
    assert_eq!(ack.reason, 0x00);
    let (method, data) = connack_auth(&ack);
    // [MQTT-4.12.0-5]: the CONNACK names the method; its data is the server-final-message.
    assert_eq!(method.as_deref(), Some(SCRAM));
    assert!(
        scram.server_proven(&data.unwrap()),
        "server signature wrong"
    );
    cl.send(&pingreq());
    cl.expect_hex("d0 00");
}

#[test]
fn scram_with_a_wrong_password_gets_connack_0x87() {
    let b = broker();
    let (mut cl, ack, _) = scram_login(b.addr(), "alice", "not-her-password");
    assert_eq!(ack.reason, 0x87);
    assert_eq!(connack_auth(&ack), (None, None));
    cl.expect_closed(CLOSE);
    // Unknown users and $6$ entries fail the same way, at the same step.
    let (_, ack, _) = scram_login(b.addr(), "nobody", "x");
    assert_eq!(ack.reason, 0x87);
    let (_, ack, _) = scram_login(b.addr(), "carol", "carol6");
    assert_eq!(ack.reason, 0x87);
}

#[test]
fn mqtt_4_12_0_1_an_unknown_or_unconfigured_method_gets_connack_0x8c() {
    let b = broker();
    let c = Connect5::new(&unique("m")).prop(P::Str(prop::AUTHENTICATION_METHOD, "X-1".into()));
    let mut cl = RawClient::connect(b.addr());
    cl.send(&c.to_bytes());
    let (first, body) = cl.read_packet();
    assert_eq!(ConnAck5::parse(first, &body).reason, 0x8C);
    cl.expect_closed(CLOSE);
    // SCRAM is off unless auth_methods names it.
    let off = broker_with(&[], 10);
    let mut cl = RawClient::connect(off.addr());
    cl.send(&scram_connect(
        &unique("off"),
        Some(b"n,,n=alice,r=x".to_vec()),
    ));
    let (first, body) = cl.read_packet();
    assert_eq!(ConnAck5::parse(first, &body).reason, 0x8C);
}

#[test]
fn without_first_data_the_server_asks_first() {
    let b = broker();
    let mut cl = RawClient::connect(b.addr());
    cl.send(&scram_connect(&unique("sf"), None));
    assert_eq!(parse_auth(cl.read_packet()), (0x18, SCRAM.into(), None));
    let mut scram = ScramClient::new("bob", "b0b pass");
    cl.send(&auth5(0x18, SCRAM, Some(&scram.first())));
    let (_, _, server_first) = parse_auth(cl.read_packet());
    cl.send(&auth5(
        0x18,
        SCRAM,
        Some(&scram.last(&server_first.unwrap())),
    ));
    let (first, body) = cl.read_packet();
    assert_eq!(ConnAck5::parse(first, &body).reason, 0);
}

#[test]
fn mqtt_4_12_1_1_reauthentication_succeeds_with_auth_0x00() {
    let b = broker();
    let (mut cl, ack, _) = scram_login(b.addr(), "alice", "alice-secret");
    assert_eq!(ack.reason, 0);
    let mut again = ScramClient::new("alice", "alice-secret");
    cl.send(&auth5(0x19, SCRAM, Some(&again.first())));
    let (reason, _, server_first) = parse_auth(cl.read_packet());
    assert_eq!(reason, 0x18);
    cl.send(&auth5(
        0x18,
        SCRAM,
        Some(&again.last(&server_first.unwrap())),
    ));
    let (reason, method, data) = parse_auth(cl.read_packet());
    assert_eq!((reason, method.as_str()), (0x00, SCRAM));
    assert!(again.server_proven(&data.unwrap()));
    cl.send(&pingreq());
    cl.expect_hex("d0 00");
}

#[test]
fn mqtt_4_12_1_2_failed_reauthentication_disconnects_0x87() {
    let b = broker();
    let (mut cl, _, _) = scram_login(b.addr(), "alice", "alice-secret");
    let mut again = ScramClient::new("alice", "wrong");
    cl.send(&auth5(0x19, SCRAM, Some(&again.first())));
    let (_, _, server_first) = parse_auth(cl.read_packet());
    cl.send(&auth5(
        0x18,
        SCRAM,
        Some(&again.last(&server_first.unwrap())),
    ));
    let got = cl.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(parse_disconnect(got[0].0, &got[0].1).0, 0x87);
}

#[test]
fn mqtt_4_12_0_7_auth_from_a_client_without_a_method_disconnects_0x82() {
    let b = broker();
    let mut c = Connect5::new(&unique("plain"));
    c.username = Some("alice".into());
    c.password = Some(b"alice-secret".to_vec());
    let mut cl = RawClient::connect(b.addr());
    cl.send(&c.to_bytes());
    let (first, body) = cl.read_packet();
    assert_eq!(ConnAck5::parse(first, &body).reason, 0);
    cl.send(&auth5(0x19, SCRAM, Some(b"n,,n=alice,r=x")));
    let got = cl.expect_closed_after_packets(CLOSE);
    assert_eq!(parse_disconnect(got[0].0, &got[0].1).0, 0x82);
}

#[test]
fn mqtt_4_12_1_1_reauthentication_with_another_method_disconnects_0x82() {
    let b = broker();
    let (mut cl, _, _) = scram_login(b.addr(), "alice", "alice-secret");
    cl.send(&auth5(0x19, "SCRAM-SHA-256", Some(b"n,,n=alice,r=x")));
    let got = cl.expect_closed_after_packets(CLOSE);
    assert_eq!(parse_disconnect(got[0].0, &got[0].1).0, 0x82);
}

#[test]
fn mqtt_3_1_2_30_a_publish_before_connack_during_the_exchange_closes() {
    let b = broker();
    let mut cl = RawClient::connect(b.addr());
    let scram = ScramClient::new("alice", "alice-secret");
    cl.send(&scram_connect(&unique("early"), Some(scram.first())));
    let _ = parse_auth(cl.read_packet());
    cl.send(&publish5("t", b"x", 0, false, 0, &[]));
    // Not attached yet: no DISCONNECT, the connection just closes.
    assert!(cl.expect_closed_after_packets(CLOSE).is_empty());
}

#[test]
fn an_exchange_that_does_not_finish_ends_at_the_connect_deadline() {
    let b = broker_with(&[SCRAM], 1);
    let mut cl = RawClient::connect(b.addr());
    let scram = ScramClient::new("alice", "alice-secret");
    cl.send(&scram_connect(&unique("slow"), Some(scram.first())));
    let _ = parse_auth(cl.read_packet());
    // No CONNACK ever: closed within connect_timeout (1 s, swept about once a second).
    assert!(cl
        .expect_closed_after_packets(Duration::from_secs(4))
        .is_empty());
}

#[test]
fn the_scram_user_is_who_acl_rules_see_and_3_1_1_clients_log_in_as_before() {
    let b = broker_acl(&[SCRAM], 10, Some("user alice\ntopic readwrite home/#\n"));
    let (mut cl, ack, _) = scram_login(b.addr(), "alice", "alice-secret");
    assert_eq!(ack.reason, 0);
    cl.send(&subscribe5(1, &[("home/#", 1), ("garden/#", 1)], &[]));
    let (first, body) = cl.read_packet();
    assert_eq!(Ack5::parse(first, &body).reasons, vec![1, 0x87]);
    // A 3.1.1 client knows nothing of AUTH: user name and password work as they did.
    let mut c = Connect::v311(&unique("old"));
    c.username = Some("alice".into());
    c.password = Some(b"alice-secret".to_vec());
    let mut old = RawClient::connect(b.addr());
    old.send(&c.to_bytes());
    old.expect(&connack(false, 0));
}
