//! `[[listeners]]`: MQTT and WebSocket listeners, plain or TLS, with Mosquitto's key names.
//!
//! An array of tables cannot be merged key by key like the sections: the last source that has
//! `[[listeners]]` gives the whole list. With none, `[listener]` (and `[http]`) are used alone.

use super::*;
use std::path::PathBuf;

/// One `[[listeners]]` table.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListenerSpec {
    /// 0 lets the operating system choose.
    pub port: u16,
    #[serde(default = "default_bind")]
    pub bind: String,
    #[serde(default)]
    pub protocol: Protocol,
    /// Connections this listener accepts at once; -1 = no limit of its own
    /// (`[limits] max_connections` still counts every connection).
    #[serde(default = "unlimited")]
    pub max_connections: i64,
    /// The server's certificate chain (PEM); with `keyfile`, makes this a TLS listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certfile: Option<PathBuf>,
    /// The server's private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyfile: Option<PathBuf>,
    /// CA certificates (PEM) that client certificates are checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cafile: Option<PathBuf>,
    #[serde(default)]
    pub require_certificate: bool,
    /// The client certificate's common name (CN) is the client's user name.
    #[serde(default)]
    pub use_identity_as_username: bool,
    /// The client certificate's whole subject, in OpenSSL's RFC 2253 form, is the user name.
    #[serde(default)]
    pub use_subject_as_username: bool,
    #[serde(default)]
    pub tls_version: TlsVersion,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Mqtt,
    Websockets,
}

/// The oldest TLS version a listener accepts.
#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersion {
    #[default]
    #[serde(rename = "tlsv1.2")]
    V12,
    #[serde(rename = "tlsv1.3")]
    V13,
}

fn default_bind() -> String {
    "0.0.0.0".to_owned()
}

fn unlimited() -> i64 {
    -1
}

impl ListenerSpec {
    pub fn listen_addr(&self) -> String {
        super::http::host_port(&self.bind, self.port)
    }

    pub fn is_tls(&self) -> bool {
        self.certfile.is_some()
    }

    /// The transport name in logs and metrics: "tcp", "tls", "websocket" or "wss".
    pub fn transport(&self) -> &'static str {
        match (self.protocol, self.is_tls()) {
            (Protocol::Mqtt, false) => "tcp",
            (Protocol::Mqtt, true) => "tls",
            (Protocol::Websockets, false) => "websocket",
            (Protocol::Websockets, true) => "wss",
        }
    }

    /// `max_connections` as a limit, `None` for none.
    pub fn limit(&self) -> Option<usize> {
        usize::try_from(self.max_connections).ok()
    }
}

pub(super) const KEYS: &[(&str, Kind)] = &[
    ("port", int(0, u16::MAX as i64)),
    ("bind", Kind::Str { non_empty: true }),
    (
        "protocol",
        Kind::OneOf {
            values: &["mqtt", "websockets"],
            ignore_case: false,
        },
    ),
    ("max_connections", int(-1, i64::MAX)),
    ("certfile", Kind::Str { non_empty: true }),
    ("keyfile", Kind::Str { non_empty: true }),
    ("cafile", Kind::Str { non_empty: true }),
    ("require_certificate", Kind::Bool),
    ("use_identity_as_username", Kind::Bool),
    ("use_subject_as_username", Kind::Bool),
    (
        "tls_version",
        Kind::OneOf {
            values: &["tlsv1.2", "tlsv1.3"],
            ignore_case: false,
        },
    ),
];

/// Checks the `listeners` value of one source: an array of tables, known keys, kinds, then
/// the rules that tie keys together.
pub(super) fn check(
    value: &toml::Value,
    origin: &Origin,
) -> Result<Vec<ListenerSpec>, ConfigError> {
    let invalid = |key: String, value: &toml::Value, expected: String| ConfigError::InvalidValue {
        origin: origin.clone(),
        key,
        value: value.to_string(),
        expected,
    };
    let Some(items) = value.as_array() else {
        return Err(invalid(
            "listeners".into(),
            value,
            "an array of tables ([[listeners]] sections)".into(),
        ));
    };
    let mut specs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(table) = item.as_table() else {
            return Err(invalid(format!("listeners[{i}]"), item, "a table".into()));
        };
        for (name, v) in table {
            let key = format!("listeners[{i}].{name}");
            let Some((_, kind)) = KEYS.iter().find(|(k, _)| k == name) else {
                let suggestion = KEYS
                    .iter()
                    .map(|(k, _)| (edit_distance(name, k), *k))
                    .filter(|(d, _)| *d <= 3)
                    .min()
                    .map(|(_, k)| format!("listeners[{i}].{k}"));
                return Err(ConfigError::UnknownKey {
                    origin: origin.clone(),
                    key,
                    suggestion,
                });
            };
            if !kind.accepts(v) {
                return Err(invalid(key, v, kind.expected_for(v)));
            }
        }
        if !table.contains_key("port") {
            return Err(invalid(
                format!("listeners[{i}].port"),
                item,
                "a port: every [[listeners]] table needs one".into(),
            ));
        }
        let spec: ListenerSpec = item.clone().try_into().map_err(|e: toml::de::Error| {
            invalid(format!("listeners[{i}]"), item, e.to_string())
        })?;
        specs.push(spec);
    }
    validate(&specs, origin)?;
    Ok(specs)
}

/// The rules between keys: TLS keys need a certificate, client-certificate user names need a
/// required certificate, two listeners cannot share an address.
pub(super) fn validate(specs: &[ListenerSpec], origin: &Origin) -> Result<(), ConfigError> {
    for (i, s) in specs.iter().enumerate() {
        let fail = |name: &str, value: String, expected: &str| ConfigError::InvalidValue {
            origin: origin.clone(),
            key: format!("listeners[{i}].{name}"),
            value,
            expected: expected.to_owned(),
        };
        let path = |p: &Option<PathBuf>| format!("{:?}", p.as_deref().unwrap_or(Path::new("")));
        if s.certfile.is_some() != s.keyfile.is_some() {
            let (name, p) = match s.certfile {
                Some(_) => ("keyfile", &s.keyfile),
                None => ("certfile", &s.certfile),
            };
            return Err(fail(name, path(p), "certfile and keyfile: TLS needs both"));
        }
        let version = match s.tls_version {
            TlsVersion::V12 => "\"tlsv1.2\"",
            TlsVersion::V13 => "\"tlsv1.3\"",
        };
        let tls_only = [
            ("cafile", s.cafile.is_some(), path(&s.cafile)),
            ("require_certificate", s.require_certificate, "true".into()),
            (
                "use_identity_as_username",
                s.use_identity_as_username,
                "true".into(),
            ),
            (
                "use_subject_as_username",
                s.use_subject_as_username,
                "true".into(),
            ),
            (
                "tls_version",
                s.tls_version != TlsVersion::V12,
                version.into(),
            ),
        ];
        if let (false, Some((name, _, value))) =
            (s.is_tls(), tls_only.iter().find(|(_, set, _)| *set))
        {
            return Err(fail(
                name,
                value.clone(),
                "not set: TLS settings need certfile and keyfile on the same listener",
            ));
        }
        if s.require_certificate && s.cafile.is_none() {
            return Err(fail(
                "cafile",
                path(&s.cafile),
                "the CA file that client certificates are checked against (require_certificate = true)",
            ));
        }
        if (s.use_identity_as_username || s.use_subject_as_username) && !s.require_certificate {
            let name = match s.use_identity_as_username {
                true => "use_identity_as_username",
                false => "use_subject_as_username",
            };
            return Err(fail(
                name,
                "true".into(),
                "false unless require_certificate = true",
            ));
        }
        if s.use_identity_as_username && s.use_subject_as_username {
            return Err(fail(
                "use_subject_as_username",
                "true".into(),
                "false when use_identity_as_username = true (one user name source)",
            ));
        }
        let clash = specs[..i]
            .iter()
            .position(|o| o.port != 0 && o.port == s.port && o.bind == s.bind);
        if let Some(j) = clash {
            return Err(fail(
                "port",
                s.port.to_string(),
                &format!("a port not used by listeners[{j}] on the same address"),
            ));
        }
    }
    Ok(())
}

use std::path::Path;
