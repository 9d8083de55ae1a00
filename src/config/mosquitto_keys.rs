//! The mosquitto.conf keys by what Courtier does with them (noted, refused, bridge), and the
//! value parsers that report the line of a bad value.

use super::super::mosquitto::Directive;
use super::super::{listeners, ConfigError, Kind};

/// The Mosquitto keys a bridge uses; none is supported until Courtier has bridges.
pub(super) const BRIDGE_KEYS: &[&str] = &[
    "connection",
    "address",
    "addresses",
    "topic",
    "cleansession",
    "clientid",
    "keepalive_interval",
    "idle_timeout",
    "local_clientid",
    "local_password",
    "local_username",
    "notifications",
    "notifications_local_only",
    "notification_topic",
    "remote_clientid",
    "remote_password",
    "remote_username",
    "restart_timeout",
    "round_robin",
    "start_type",
    "threshold",
    "try_private",
];

/// Keys whose absence of effect no client can see: accepted with a note saying why.
pub(super) const NOTED: &[(&str, &str)] = &[
    ("user", "Courtier does not switch user itself; the container's entrypoint runs it as user courtier"),
    ("pid_file", "Courtier writes no pid file"),
    ("autosave_on_changes", "Courtier writes every change to its write-ahead log (see [persistence] sync)"),
    ("log_timestamp_format", "Courtier's log lines start with an RFC 3339 UTC timestamp"),
    ("connection_messages", "Courtier logs connections and disconnections at INFO"),
    ("websockets_log_level", "Courtier's WebSocket listener logs through [log] level"),
    ("websockets_headers_size", "Courtier's WebSocket listener sizes its buffers itself"),
    ("set_tcp_nodelay", "Courtier always sets TCP_NODELAY"),
    ("allow_duplicate_messages", "deprecated in Mosquitto; Courtier delivers one copy per matching subscription"),
    ("retry_interval", "removed in Mosquitto 2; Courtier resends unacknowledged messages on reconnection"),
    ("store_clean_interval", "removed in Mosquitto 2"),
    ("max_inflight_bytes", "Courtier limits in-flight messages by count (max_inflight_messages) only"),
    ("memory_limit", "Courtier has no overall memory limit; max_queued_messages and max_queued_bytes bound each client's queue"),
    ("auto_id_prefix", "Courtier names clients without a client id itself"),
    ("ciphers", "Courtier's TLS (rustls) offers only modern cipher suites"),
    ("ciphers_tls1.3", "Courtier's TLS (rustls) offers only modern cipher suites"),
    ("dhparamfile", "Courtier's TLS (rustls) uses no Diffie-Hellman parameters file"),
];

/// Keys Courtier cannot honour, and what to do instead.
pub(super) const REFUSED: &[(&str, &str)] = &[
    ("capath", "not supported: put the CA certificates in one PEM file and name it with cafile"),
    ("crlfile", "not supported: Courtier does not check certificate revocation lists; remove the revoked clients' certificates from cafile's CA or issue a new CA"),
    ("psk_hint", "TLS-PSK is not supported: use certfile/keyfile, or password_file over TLS"),
    ("psk_file", "TLS-PSK is not supported: use certfile/keyfile, or password_file over TLS"),
    ("http_dir", "Courtier serves no static HTTP files: serve them with a web server"),
    ("mount_point", "not supported: give each client's topics in the topic itself"),
    ("bind_interface", "not supported: use the interface's address with `listener PORT ADDRESS`"),
    ("use_username_as_clientid", "not supported: clients must send their own client id"),
    ("clientid_prefixes", "not supported: restrict clients with acl_file (pattern rules with %c) instead"),
    ("tls_engine", "not supported: Courtier's TLS (rustls) loads keys from keyfile only"),
    ("tls_keyform", "not supported: give keyfile as PEM"),
    ("tls_engine_kpass_sha1", "not supported: give keyfile as PEM"),
    ("check_retain_source", "not supported: retained messages are kept whatever the publisher's rights later become"),
    ("upgrade_outgoing_qos", "not supported: subscribers get the lower of the message's QoS and their subscription's"),
    ("max_qos", "not supported: the broker accepts QoS 0, 1 and 2"),
    ("accept_protocol_versions", "not supported: Courtier accepts MQTT 3.1, 3.1.1 and 5.0"),
    ("enable_control_api", "not supported: Courtier has no $CONTROL API"),
];
pub(super) fn parse_bool(d: &Directive) -> Result<bool, ConfigError> {
    match d.rest.as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(d.error(format!("invalid value {other:?}: expected true or false"))),
    }
}

pub(super) fn parse_int(d: &Directive, min: i64, max: i64) -> Result<i64, ConfigError> {
    match d.rest.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(d.error(format!(
            "invalid value {:?}: expected an integer {min}..{max}",
            d.rest
        ))),
    }
}

pub(super) fn needs_value(d: &Directive) -> Result<&str, ConfigError> {
    match d.rest.as_str() {
        "" => Err(d.error("needs a value")),
        v => Ok(v),
    }
}

/// Mosquitto's `persistent_client_expiration`: a number and h, d, w, m (month) or y.
pub(super) fn parse_expiration(d: &Directive) -> Result<u64, ConfigError> {
    let v = d.rest.as_str();
    let (number, last) = match v.char_indices().last() {
        Some((i, c)) => (&v[..i], c),
        None => ("", ' '),
    };
    let unit = match last {
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        'm' => 30 * 86_400,
        'y' => 365 * 86_400,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if unit > 0 && n > 0 => Ok(n.saturating_mul(unit)),
        _ => Err(d.error(format!(
            "invalid value {v:?}: expected a number and h, d, w, m or y, e.g. 14d"
        ))),
    }
}

/// [`Kind`] of a listener key.
pub(super) fn listener_kind(key: &str) -> Kind {
    listeners::KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, kind)| *kind)
        .expect("a listener key")
}
