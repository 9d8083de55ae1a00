//! TLS listeners (issue #14): `[[listeners]]` with certificates made at test time, rumqttc and
//! raw rustls clients, client certificates, minimum versions, WSS, and clients that do not
//! speak TLS at all. Each test runs the real binary, whose log names every listener.

mod common;

use common::process::BIN;
use common::tls::{self as certs, logged_addr, metric, rt, tls_connect, wait_log, Setup};
use common::{connack, connect};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn rumqttc_publishes_and_subscribes_over_tls() {
    let s = Setup::new();
    let (b, addrs) = s.start(&s.tls_listener(""), 1);
    assert!(b.startup_log.iter().all(|l| !l.contains("ERROR")));
    rt().block_on(async {
        use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
        let mut opts = MqttOptions::new("tls-rumqttc", "localhost", addrs[0].port());
        let config = certs::client_config(&s.ca, None, false);
        opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
        let (client, mut events) = AsyncClient::new(opts, 10);
        client.subscribe("tls/t", QoS::AtLeastOnce).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match events.poll().await.expect("TLS connection") {
                    Event::Incoming(Packet::SubAck(_)) => {
                        client
                            .publish("tls/t", QoS::AtLeastOnce, false, "over tls")
                            .await
                            .unwrap();
                    }
                    Event::Incoming(Packet::Publish(p)) => return p.payload,
                    _ => {}
                }
            }
        })
        .await
        .expect("the message came back over TLS");
        assert_eq!(&got[..], b"over tls");
    });
    let mut seen = b.drain_log();
    wait_log(
        &b,
        &mut seen,
        &["client connected", "transport=tls", "tls-rumqttc"],
    );
}

#[test]
fn required_client_certificates_are_checked_and_name_the_user() {
    let s = Setup::new();
    let conf = s.tls_listener(&format!(
        "cafile = {:?}\nrequire_certificate = true\nuse_identity_as_username = true",
        s.path("ca.pem")
    ));
    let (b, addrs) = s.start(&conf, 1);
    let rt = rt();
    // No certificate, and one from another CA: the handshake fails, the client gets nothing.
    let none = rt.block_on(tls_connect(addrs[0], &s.ca, None, false));
    assert!(none.is_err(), "refused without a certificate: {none:?}");
    let stranger = s.other_ca.client("mallory");
    let foreign = rt.block_on(tls_connect(addrs[0], &s.ca, Some(&stranger), false));
    assert!(
        foreign.is_err(),
        "refused with another CA's certificate: {foreign:?}"
    );
    let mut seen = b.drain_log();
    wait_log(&b, &mut seen, &["TLS handshake from 127.0.0.1:", "failed"]);
    // The right CA: accepted, and the certificate's CN is the user name, whatever CONNECT says.
    let alice = s.ca.client("alice");
    let ok = rt.block_on(tls_connect(addrs[0], &s.ca, Some(&alice), false));
    assert_eq!(ok.unwrap(), connack(false, 0));
    let line = wait_log(&b, &mut seen, &["client connected", "tls-raw"]);
    assert!(line.contains("username=\"alice\""), "{line}");
    assert!(line.contains("transport=tls"), "{line}");
    assert_eq!(metric(&b, "courtier_tls_handshake_failures_total"), 2.0);
}

#[test]
fn tls_version_13_refuses_a_tls_12_client() {
    let s = Setup::new();
    let conf = s.tls_listener("tls_version = \"tlsv1.3\"") + &s.tls_listener("");
    let (b, addrs) = s.start(&conf, 2);
    let rt = rt();
    let old = rt.block_on(tls_connect(addrs[0], &s.ca, None, true));
    assert!(old.is_err(), "TLS 1.2 refused: {old:?}");
    let new = rt.block_on(tls_connect(addrs[0], &s.ca, None, false));
    assert_eq!(new.unwrap(), connack(false, 0));
    // The default minimum is 1.2.
    let default = rt.block_on(tls_connect(addrs[1], &s.ca, None, true));
    assert_eq!(default.unwrap(), connack(false, 0));
    let mut seen = b.drain_log();
    wait_log(&b, &mut seen, &["TLS handshake from", "failed"]);
}

#[test]
fn rsa_and_ed25519_server_keys_work() {
    let s = Setup::new();
    let mut conf = String::new();
    for (name, alg) in [
        ("rsa", &rcgen::PKCS_RSA_SHA256),
        ("ed25519", &rcgen::PKCS_ED25519),
    ] {
        let leaf = s.ca.server(alg);
        let cert = certs::write(s.dir.path(), &format!("{name}.pem"), &leaf.cert_pem);
        let key = certs::write(s.dir.path(), &format!("{name}.key"), &leaf.key_pem);
        conf += &format!(
            "[[listeners]]\nport = 0\nbind = \"127.0.0.1\"\ncertfile = {cert:?}\nkeyfile = {key:?}\n"
        );
    }
    let (_b, addrs) = s.start(&conf, 2);
    for addr in addrs {
        let answer = rt().block_on(tls_connect(addr, &s.ca, None, false));
        assert_eq!(answer.unwrap(), connack(false, 0), "{addr}");
    }
}

#[test]
fn plaintext_and_silent_clients_on_a_tls_port_harm_no_one() {
    let s = Setup::new();
    let conf = format!(
        "[broker]\nconnect_timeout_secs = 2\n\n{}",
        s.tls_listener("")
    );
    let (b, addrs) = s.start(&conf, 1);
    let rt = rt();
    let _silent = rt.block_on(async {
        // A silent peer holds a handshake open: others connect meanwhile.
        let silent = tokio::net::TcpStream::connect(addrs[0]).await.unwrap();
        // Plain MQTT on the TLS port: the connection is closed, nothing is answered.
        let mut plain = tokio::net::TcpStream::connect(addrs[0]).await.unwrap();
        plain.write_all(&connect("plain", true)).await.unwrap();
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), plain.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(n)) if n == 0 || buf[0] != 0x20) || matches!(read, Ok(Err(_))),
            "closed without a CONNACK: {read:?}"
        );
        let ok = tls_connect(addrs[0], &s.ca, None, false).await;
        assert_eq!(ok.unwrap(), connack(false, 0));
        silent
    });
    let mut seen = b.drain_log();
    let line = wait_log(&b, &mut seen, &["TLS handshake from 127.0.0.1:", "failed"]);
    assert!(
        !line.contains("within"),
        "the plain client fails first: {line}"
    );
    // The silent one runs out of time (connect_timeout).
    wait_log(&b, &mut seen, &["TLS handshake from", "connect_timeout"]);
    assert_eq!(metric(&b, "courtier_tls_handshake_failures_total"), 2.0);
}

#[test]
fn wss_listener_takes_the_subject_as_user_name() {
    let s = Setup::new();
    let conf = s.tls_listener(&format!(
        "protocol = \"websockets\"\ncafile = {:?}\nrequire_certificate = true\nuse_subject_as_username = true",
        s.path("ca.pem")
    ));
    // A plain MQTT listener too: the process helper waits for the first MQTT listener's line.
    let conf = conf + "[[listeners]]\nport = 0\nbind = \"127.0.0.1\"\n";
    let (b, _) = s.start(&conf, 1);
    let wss = logged_addr(&b, "MQTT over WebSocket");
    let line = b
        .startup_log
        .iter()
        .find(|l| l.contains("listening for MQTT over WebSocket"))
        .unwrap();
    assert!(line.contains("(wss"), "{line}");
    let bob = s.ca.client("bob");
    rt().block_on(async {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
        let mut req = format!("wss://localhost:{}/mqtt", wss.port())
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("sec-websocket-protocol", "mqtt".parse().unwrap());
        let connector =
            tokio_tungstenite::Connector::Rustls(certs::client_config(&s.ca, Some(&bob), false));
        let (mut ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(req, None, false, Some(connector))
                .await
                .expect("WSS handshake");
        ws.send(Message::binary(connect("wss-bob", true)))
            .await
            .unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(answer.into_data().to_vec(), connack(false, 0));
    });
    let mut seen = b.drain_log();
    let line = wait_log(&b, &mut seen, &["client connected", "wss-bob"]);
    assert!(line.contains("transport=wss"), "{line}");
    // As `openssl x509 -subject -nameopt RFC2253` prints it (and Mosquitto takes it).
    assert!(
        line.contains("username=\"O=Courtier Tests,CN=bob\""),
        "{line}"
    );
}

#[test]
fn a_bad_key_file_stops_start_up_naming_the_key_and_file() {
    let s = Setup::new();
    certs::write(s.dir.path(), "server.key", "not a key\n");
    certs::write(
        &s.dir.path().join("conf"),
        "10-test.toml",
        &s.tls_listener(""),
    );
    let out = std::process::Command::new(BIN)
        .args([
            "--config-dir",
            &s.path("conf"),
            "--data-dir",
            &s.path("data"),
        ])
        .env("COURTIER__HTTP__ENABLED", "false")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listeners[0].keyfile"), "{err}");
    assert!(err.contains(&s.path("server.key")), "{err}");
}

#[test]
fn listener_tables_are_checked_when_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let load = |text: &str| {
        std::fs::write(dir.path().join("10-l.toml"), text).unwrap();
        courtier::config::load(&courtier::config::ConfigSources {
            config_dir: Some(dir.path().to_owned()),
            env: vec![],
        })
    };
    let cases = [
        ("[[listeners]]\nbind = \"::\"\n", "listeners[0].port"),
        ("[[listeners]]\nport = 1\nprotcol = \"mqtt\"\n", "listeners[0].protocol"),
        ("[[listeners]]\nport = 1\ncertfile = \"c.pem\"\n", "listeners[0].keyfile"),
        (
            "[[listeners]]\nport = 1\ncertfile = \"c\"\nkeyfile = \"k\"\nuse_identity_as_username = true\n",
            "listeners[0].use_identity_as_username",
        ),
        ("[[listeners]]\nport = 1\nrequire_certificate = true\n", "listeners[0].require_certificate"),
        ("[[listeners]]\nport = 1\ntls_version = \"tlsv1.1\"\n", "listeners[0].tls_version"),
        ("[[listeners]]\nport = 1\n[[listeners]]\nport = 1\n", "listeners[1].port"),
    ];
    for (text, key) in cases {
        let err = load(text).expect_err(text).to_string();
        assert!(
            err.contains(key) && err.contains("10-l.toml"),
            "{text}: {err}"
        );
    }
    let ok = load("[[listeners]]\nport = 8883\ncertfile = \"c\"\nkeyfile = \"k\"\n").unwrap();
    assert_eq!(ok.listeners[0].transport(), "tls");
    assert_eq!(ok.listeners[0].bind, "0.0.0.0");
    // The effective settings print the tables, and read back the same.
    assert!(ok.to_toml().contains("[[listeners]]"));
    let again = load(&ok.to_toml()).unwrap();
    assert_eq!(again.listeners, ok.listeners);
}

#[test]
fn a_listener_has_its_own_max_connections() {
    let s = Setup::new();
    let conf = "[[listeners]]\nport = 0\nbind = \"127.0.0.1\"\nmax_connections = 1\n\n\
                [[listeners]]\nport = 0\nbind = \"127.0.0.1\"\n";
    let (b, addrs) = s.start(conf, 2);
    let mut first = common::RawClient::connected(addrs[0], "limited-1");
    // The second is closed at once; the other listener still accepts.
    let mut second = std::net::TcpStream::connect(addrs[0]).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    use std::io::{Read, Write};
    let _ = second.write_all(&connect("limited-2", true));
    let mut buf = [0u8; 4];
    assert!(matches!(second.read(&mut buf), Ok(0) | Err(_)), "closed");
    let _other = common::RawClient::connected(addrs[1], "unlimited");
    let mut seen = b.drain_log();
    wait_log(
        &b,
        &mut seen,
        &["dropped: this listener's max_connections reached"],
    );
    // Once the first leaves, its place is free again.
    first.send(&common::disconnect());
    drop(first);
    std::thread::sleep(Duration::from_millis(300));
    let _again = common::RawClient::connected(addrs[0], "limited-3");
}

/// Mosquitto's own clients (OpenSSL) against the rustls listener, when they are installed.
#[test]
fn mosquitto_clients_publish_and_subscribe_over_tls() {
    use std::process::{Command, Stdio};
    if Command::new("mosquitto_pub")
        .arg("--help")
        .output()
        .is_err()
    {
        eprintln!("mosquitto_pub not installed: skipped");
        return;
    }
    let s = Setup::new();
    let conf = s.tls_listener(&format!("cafile = {:?}", s.path("ca.pem")));
    let (b, addrs) = s.start(&conf, 1);
    let alice = s.ca.client("alice");
    certs::write(s.dir.path(), "alice.pem", &alice.cert_pem);
    certs::write(s.dir.path(), "alice.key", &alice.key_pem);
    let port = addrs[0].port().to_string();
    let (ca, cert, key) = (s.path("ca.pem"), s.path("alice.pem"), s.path("alice.key"));
    let common = [
        "-h",
        "localhost",
        "-p",
        &port,
        "--cafile",
        &ca,
        "-t",
        "interop/tls",
    ];
    // The subscriber shows a client certificate (optional on this listener), the publisher not.
    let sub = Command::new("mosquitto_sub")
        .args(common)
        .args(["--cert", &cert, "--key", &key, "-C", "1", "-W", "10"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = b.drain_log();
    wait_log(&b, &mut seen, &["client connected", "transport=tls"]);
    let published = Command::new("mosquitto_pub")
        .args(common)
        .args(["-m", "hello over tls", "-q", "1"])
        .status()
        .unwrap();
    assert!(published.success());
    let out = sub.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello over tls\n");
}
