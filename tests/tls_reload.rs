//! TLS certificates and clients' CAs reloaded on SIGHUP (new handshakes on MQTT and WSS
//! listeners get the new certificate or CA, open connections stay, a file that does not parse
//! keeps the old one), and
//! failed WSS handshakes logged with the peer's address and counted like the MQTT ones.

mod common;

use common::tls::{self as certs, logged_addr, metric, rt, wait_log, Setup};
use rustls::pki_types::CertificateDer;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The certificate a new TLS handshake with `addr` is shown.
async fn served_cert(addr: SocketAddr, s: &Setup) -> CertificateDer<'static> {
    let tls = certs::connect(addr, certs::client_config(&s.ca, None, false))
        .await
        .expect("TLS handshake");
    tls.get_ref().1.peer_certificates().unwrap()[0].clone()
}

fn hup(b: &common::process::BrokerProcess) {
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &b.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn sighup_reloads_certificates_for_new_handshakes_and_keeps_open_connections() {
    let s = Setup::new();
    let wss = s.tls_listener("protocol = \"websockets\"");
    let (b, addrs) = s.start(&(s.tls_listener("") + &wss), 1);
    let wss = logged_addr(&b, "MQTT over WebSocket");
    let rt = rt();
    let first = rt.block_on(served_cert(addrs[0], &s));
    // A client connected with the old certificate.
    let mut open = rt.block_on(async {
        let mut tls = certs::connect(addrs[0], certs::client_config(&s.ca, None, false))
            .await
            .unwrap();
        tls.write_all(&common::connect("stays", true))
            .await
            .unwrap();
        let mut connack = [0u8; 4];
        tls.read_exact(&mut connack).await.unwrap();
        assert_eq!(connack, [0x20, 2, 0, 0]);
        tls
    });

    // Renewed: a new key and certificate in the same files (as certbot does).
    let renewed = s.ca.server(&rcgen::PKCS_ECDSA_P384_SHA384);
    certs::write(s.dir.path(), "server.pem", &renewed.cert_pem);
    certs::write(s.dir.path(), "server.key", &renewed.key_pem);
    hup(&b);
    let mut seen = b.drain_log();
    wait_log(&b, &mut seen, &["TLS certificate reloaded", "listeners[1]"]);
    let (mqtt_now, wss_now) =
        rt.block_on(async { (served_cert(addrs[0], &s).await, served_cert(wss, &s).await) });
    assert_ne!(mqtt_now, first);
    assert_eq!(
        mqtt_now, renewed.der,
        "MQTT listener: the renewed certificate"
    );
    assert_eq!(
        wss_now, renewed.der,
        "WSS listener: the renewed certificate"
    );

    // A certificate file that does not parse: logged with listener, file and reason; the
    // renewed certificate stays in use.
    certs::write(s.dir.path(), "server.pem", "not a certificate\n");
    hup(&b);
    let line = wait_log(
        &b,
        &mut seen,
        &["old certificate stays in use", "listeners[0].certfile"],
    );
    assert!(line.contains("server.pem"), "{line}");
    assert_eq!(rt.block_on(served_cert(addrs[0], &s)), renewed.der);

    // The first client was never dropped.
    rt.block_on(async {
        open.write_all(&[0xC0, 0]).await.unwrap();
        let mut pong = [0u8; 2];
        open.read_exact(&mut pong).await.unwrap();
        assert_eq!(pong, [0xD0, 0]);
    });
}

#[test]
fn a_failed_wss_handshake_is_logged_with_the_peer_and_counted() {
    let s = Setup::new();
    let conf = s.tls_listener(&format!(
        "protocol = \"websockets\"\ncafile = {:?}\nrequire_certificate = true",
        s.path("ca.pem")
    ));
    // A plain MQTT listener too: the process helper waits for the first MQTT listener's line.
    let conf = conf + "[[listeners]]\nport = 0\nbind = \"127.0.0.1\"\n";
    let (b, _) = s.start(&conf, 1);
    let wss = logged_addr(&b, "MQTT over WebSocket");
    let rt = rt();
    // No client certificate: refused in the handshake.
    let local = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(wss).await.unwrap();
        let local = tcp.local_addr().unwrap();
        let connector = tokio_rustls::TlsConnector::from(certs::client_config(&s.ca, None, false));
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        if let Ok(mut tls) = connector.connect(name, tcp).await {
            // TLS 1.3: the client learns of the refusal at its first read.
            let _ = tls.write_all(b"GET /mqtt HTTP/1.1\r\n\r\n").await;
            let mut buf = [0u8; 16];
            let read = tls.read(&mut buf).await;
            assert!(
                !matches!(read, Ok(n) if n > 0),
                "no answer without a certificate"
            );
        }
        local
    });
    // Plain HTTP on the WSS port.
    rt.block_on(async {
        let mut tcp = tokio::net::TcpStream::connect(wss).await.unwrap();
        tcp.write_all(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    });
    let mut seen = b.drain_log();
    let line = wait_log(
        &b,
        &mut seen,
        &["TLS handshake from", "(wss)", &local.to_string()],
    );
    assert!(line.contains("certificate"), "the reason: {line}");
    wait_log(
        &b,
        &mut seen,
        &["TLS handshake from", "(wss)", "corrupt message"],
    );
    assert_eq!(metric(&b, "courtier_tls_handshake_failures_total"), 2.0);
}

/// Whether a client with `leaf` as its certificate gets CONNACK 0 on `addr` (TLS 1.3: a
/// refused certificate shows at the client's first read).
async fn admitted(addr: SocketAddr, s: &Setup, leaf: &certs::Leaf) -> bool {
    let Ok(mut tls) = certs::connect(addr, certs::client_config(&s.ca, Some(leaf), false)).await
    else {
        return false;
    };
    if tls
        .write_all(&common::connect(&common::unique("ca"), true))
        .await
        .is_err()
    {
        return false;
    }
    let mut connack = [0u8; 4];
    let read = tokio::time::timeout(Duration::from_secs(5), tls.read_exact(&mut connack)).await;
    matches!(read, Ok(Ok(_))) && connack == [0x20, 2, 0, 0]
}

#[test]
fn sighup_reloads_the_clients_ca() {
    let s = Setup::new();
    let conf = s.tls_listener(&format!(
        "cafile = {:?}\nrequire_certificate = true",
        s.path("ca.pem")
    ));
    let (b, addrs) = s.start(&conf, 1);
    let rt = rt();
    let old_client = s.ca.client("old-device");
    let new_client = s.other_ca.client("new-device");
    assert!(rt.block_on(admitted(addrs[0], &s, &old_client)));
    assert!(
        !rt.block_on(admitted(addrs[0], &s, &new_client)),
        "signed by a CA not in cafile yet"
    );

    // The devices' CA is replaced.
    certs::write(s.dir.path(), "ca.pem", &s.other_ca.pem);
    hup(&b);
    let mut seen = b.drain_log();
    wait_log(&b, &mut seen, &["TLS clients' CA reloaded", "listeners[0]"]);
    assert!(
        rt.block_on(admitted(addrs[0], &s, &new_client)),
        "the new CA"
    );
    assert!(
        !rt.block_on(admitted(addrs[0], &s, &old_client)),
        "the old CA is gone"
    );

    // A CA file that does not parse: logged with listener, file and reason; the CA stays.
    certs::write(s.dir.path(), "ca.pem", "not a certificate\n");
    hup(&b);
    let line = wait_log(
        &b,
        &mut seen,
        &["old clients' CA stays in use", "listeners[0].cafile"],
    );
    assert!(line.contains("ca.pem"), "{line}");
    assert!(rt.block_on(admitted(addrs[0], &s, &new_client)));
}
