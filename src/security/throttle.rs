//! Repeated failed logins from one address are answered late (`[security]
//! failed_auth_delay_ms`, `failed_auth_delay_max_ms`): the first refusal goes out at once, as
//! Mosquitto sends it, so a device with a mistyped password sees nothing new; each further
//! consecutive failure from the same IP address waits twice as long as the one before, up to
//! the maximum, so guessing passwords from one address slows to a few tries a minute. A
//! successful login from the address, or `FORGET_AFTER` without a failure, starts it over.
//! Only logins that present a password count: a refused anonymous CONNECT guesses nothing.
//!
//! The wait is a timer in the refused connection's own future ([`AuthCheck::Pending`]), never a
//! sleeping actor thread, and other clients (from that address too) are not held up. Memory is
//! bounded: at most [`MAX_ADDRESSES`] addresses are remembered.

use courtier_actors::auth::{AuthCheck, AuthMethod, AuthOutcome, Authenticator, ConnectRequest};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most addresses whose failures are remembered (~50 bytes each). When full, addresses idle
/// for `FORGET_AFTER` are dropped; if that frees nothing, all are (a flood from that many
/// addresses then starts over at no delay, which costs memory nothing).
pub const MAX_ADDRESSES: usize = 10_000;

/// Failures older than this are forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(600);

#[derive(Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
}

/// Failures per address and the delays they earn; shared by every connection.
#[derive(Default)]
pub struct FailedLogins {
    base_ms: AtomicU64,
    max_ms: AtomicU64,
    by_address: Mutex<HashMap<IpAddr, Record>>,
}

impl FailedLogins {
    pub fn new(base_ms: u64, max_ms: u64) -> Arc<FailedLogins> {
        let f = Arc::new(FailedLogins::default());
        f.configure(base_ms, max_ms);
        f
    }

    /// New delays (SIGHUP); 0 turns the delay off.
    pub fn configure(&self, base_ms: u64, max_ms: u64) {
        self.base_ms.store(base_ms, Relaxed);
        self.max_ms.store(max_ms.max(base_ms), Relaxed);
    }

    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Record>> {
        self.by_address.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a failure from `ip` at `now`; returns how long its answer waits.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> Duration {
        let base = self.base_ms.load(Relaxed);
        if base == 0 {
            return Duration::ZERO;
        }
        let mut records = self.records();
        if records.len() >= MAX_ADDRESSES && !records.contains_key(&ip) {
            records.retain(|_, r| now.duration_since(r.last) < FORGET_AFTER);
            if records.len() >= MAX_ADDRESSES {
                records.clear();
            }
        }
        let r = records.entry(ip).or_insert(Record {
            failures: 0,
            last: now,
        });
        if now.duration_since(r.last) >= FORGET_AFTER {
            r.failures = 0;
        }
        r.failures = r.failures.saturating_add(1);
        r.last = now;
        // 1st failure: 0; 2nd: base; 3rd: 2 x base; ... capped.
        let doublings = r.failures.saturating_sub(2).min(32);
        let ms = match r.failures {
            1 => 0,
            _ => base.saturating_mul(1 << doublings),
        };
        Duration::from_millis(ms.min(self.max_ms.load(Relaxed)))
    }

    /// A successful login from `ip`: its failures are forgotten.
    pub fn succeeded(&self, ip: IpAddr) {
        let mut records = self.records();
        if !records.is_empty() {
            records.remove(&ip);
        }
    }

    /// Addresses remembered (for tests and logs).
    pub fn len(&self) -> usize {
        self.records().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The answer for `ip`, delayed if it is a repeated failure.
    fn answer(&self, ip: IpAddr, outcome: AuthOutcome) -> AuthCheck {
        match &outcome {
            AuthOutcome::Deny(_) => match self.failed(ip, Instant::now()) {
                Duration::ZERO => AuthCheck::Done(outcome),
                wait => AuthCheck::Pending(Box::pin(async move {
                    tokio::time::sleep(wait).await;
                    outcome
                })),
            },
            AuthOutcome::Allow(_) => {
                self.succeeded(ip);
                AuthCheck::Done(outcome)
            }
        }
    }
}

/// An authenticator whose refusals are delayed by [`FailedLogins`].
pub struct Throttled {
    pub inner: Arc<dyn Authenticator>,
    pub failures: Arc<FailedLogins>,
}

/// The IP address of a peer as listeners write it ("1.2.3.4:5", "[::1]:5").
fn ip_of(peer: &str) -> Option<IpAddr> {
    peer.parse::<SocketAddr>().ok().map(|a| a.ip())
}

impl Authenticator for Throttled {
    /// Enhanced authentication methods are the wrapped authenticator's.
    fn method(&self, name: &str) -> Option<Arc<dyn AuthMethod>> {
        self.inner.method(name)
    }

    fn authenticate(&self, req: &ConnectRequest) -> AuthCheck {
        let check = self.inner.authenticate(req);
        // A CONNECT without a password guesses nothing: an anonymous client refused (such as
        // the container's healthcheck probe every 30 s) neither waits nor counts.
        if req.password.is_none() {
            return check;
        }
        let Some(ip) = ip_of(&req.peer) else {
            return check;
        };
        match check {
            AuthCheck::Done(outcome) => self.failures.answer(ip, outcome),
            AuthCheck::Pending(decision) => {
                let failures = self.failures.clone();
                AuthCheck::Pending(Box::pin(async move {
                    match failures.answer(ip, decision.await) {
                        AuthCheck::Done(outcome) => outcome,
                        AuthCheck::Pending(late) => late.await,
                    }
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn the_first_failure_is_answered_at_once_then_the_delay_doubles_up_to_the_maximum() {
        let f = FailedLogins::new(1000, 5000);
        let t = Instant::now();
        let delays: Vec<u64> = (0..6)
            .map(|_| f.failed(ip(1), t).as_millis() as u64)
            .collect();
        assert_eq!(delays, vec![0, 1000, 2000, 4000, 5000, 5000]);
        // Another address is not affected.
        assert_eq!(f.failed(ip(2), t), Duration::ZERO);
    }

    #[test]
    fn a_success_or_time_forgets_the_failures() {
        let f = FailedLogins::new(100, 1000);
        let t = Instant::now();
        f.failed(ip(1), t);
        assert_eq!(f.failed(ip(1), t), Duration::from_millis(100));
        f.succeeded(ip(1));
        assert_eq!(f.failed(ip(1), t), Duration::ZERO);
        assert_eq!(f.failed(ip(1), t), Duration::from_millis(100));
        let later = t + FORGET_AFTER;
        assert_eq!(f.failed(ip(1), later), Duration::ZERO);
    }

    #[test]
    fn zero_turns_the_delay_off_and_remembers_nothing() {
        let f = FailedLogins::new(0, 0);
        let t = Instant::now();
        for _ in 0..5 {
            assert_eq!(f.failed(ip(1), t), Duration::ZERO);
        }
        assert!(f.is_empty());
    }

    #[test]
    fn memory_is_bounded_by_max_addresses() {
        let f = FailedLogins::new(100, 1000);
        let t = Instant::now();
        for n in 0..(MAX_ADDRESSES as u32 + 500) {
            f.failed(IpAddr::from(n.to_be_bytes()), t);
        }
        assert!(f.len() <= MAX_ADDRESSES, "{}", f.len());
    }

    #[test]
    fn peers_are_keyed_by_ip_without_the_port() {
        assert_eq!(ip_of("10.0.0.1:5555"), Some(ip(1)));
        assert_eq!(
            ip_of("[::1]:80"),
            Some(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]))
        );
        assert_eq!(ip_of("unknown"), None);
    }

    #[test]
    fn only_logins_with_a_password_count_as_failures() {
        use courtier_actors::auth::BasicAuth;
        use courtier_actors::codec::ProtocolVersion;
        let throttled = Throttled {
            inner: Arc::new(BasicAuth {
                allow_anonymous: false,
            }),
            failures: FailedLogins::new(1000, 5000),
        };
        let req = |password: Option<&'static [u8]>| ConnectRequest {
            client_id: "probe".into(),
            username: password.map(|_| "u".into()),
            password: password.map(bytes::Bytes::from_static),
            peer: "10.0.0.9:1883".into(),
            transport: "tcp",
            protocol: ProtocolVersion::V311,
            auth_method: None,
            auth_data: None,
        };
        // Anonymous refusals (a healthcheck probe every 30 s) are answered at once, always.
        for _ in 0..5 {
            assert!(matches!(
                throttled.authenticate(&req(None)),
                AuthCheck::Done(AuthOutcome::Deny(_))
            ));
        }
        assert!(throttled.failures.is_empty());
        // A wrong password counts: the second one waits.
        assert!(matches!(
            throttled.authenticate(&req(Some(b"guess"))),
            AuthCheck::Done(_)
        ));
        assert!(matches!(
            throttled.authenticate(&req(Some(b"guess"))),
            AuthCheck::Pending(_)
        ));
    }
}
