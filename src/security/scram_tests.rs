use super::*;
use crate::security::hash::Algorithm;
use crate::security::password_file::Passwords;

// A vector computed independently with Python's hashlib/hmac (RFC 5802 §3 with SHA-512; RFC
// 7677's own vector is for SHA-256 only):
//   salted = hashlib.pbkdf2_hmac('sha512', b'pencil', bytes(range(1, 13)), 4096, 64)
//   client_key = hmac(salted, b'Client Key'); stored = sha512(client_key)
//   server_key = hmac(salted, b'Server Key')
//   auth_message = bare + ',' + server_first + ',' + final_without_proof
//   proof = client_key XOR hmac(stored, auth_message); v = hmac(server_key, auth_message)
const SALT: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const SALTED_B64: &str =
    "4f99U6Rw49w23hsVDTgGdmxl2MyotcVJl9kSVqmMthTCiZXPdMFTaEPyVL8ThGVkD11+zC18DoNosNoJ3IfKcg==";
const STORED_HEX: &str = "d9242448c4eb39dabcbccf5846b3d888d369c6818ad6f6a24e476ee148d9fe6d\
                          be76ae029c936aad35f69795368a1d6c103fc0b67ecd1d58fc0457b8833ab951";
const BARE: &str = "n=user,r=rOprNGfwEbeRWgbNEkqO";
const NONCE: &str = "rOprNGfwEbeRWgbNEkqOc2VydmVyLW5vbmNlLTEyMzQ1Njc4";
const SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqOc2VydmVyLW5vbmNlLTEyMzQ1Njc4,s=AQIDBAUGBwgJCgsM,i=4096";
const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqOc2VydmVyLW5vbmNlLTEyMzQ1Njc4,\
     p=1Z/hDOkxOYfCsfxsYN7XZ/w8cUtiy2tfJux+rzsS/ZpJJei49QIv32FNWYGzNrEGM9v1l/kYPzt8gsK75Q3xDw==";
const SERVER_FINAL: &str =
    "v=r9eJ/7l+dlN0AA3YfMcsnaCj8BV4LHvBn5DSpShuuQsi4MmMlKSxSzJQplQ5xGmpIjuviPNwond9fnPuI6eLyA==";

fn pencil_entry() -> PasswordHash {
    PasswordHash::with_salt(
        b"pencil",
        SALT,
        Algorithm::Pbkdf2Sha512 { iterations: 4096 },
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn a_7_entry_is_scram_s_salted_password() {
    let PasswordHash::Pbkdf2Sha512 { hash, .. } = pencil_entry() else {
        unreachable!()
    };
    assert_eq!(STANDARD.encode(hash), SALTED_B64);
    let keys = ServerKeys::from_salted_password(&hash);
    assert_eq!(hex(&keys.stored_key), STORED_HEX);
}

fn final_state(keys: Option<ServerKeys>) -> AwaitClientFinal {
    AwaitClientFinal {
        user: "user".into(),
        peer: "test".into(),
        keys,
        why_not: "no keys",
        gs2_header: "n,,".into(),
        client_first_bare: BARE.into(),
        server_first: SERVER_FIRST.into(),
        nonce: NONCE.into(),
    }
}

fn pencil_keys() -> ServerKeys {
    let PasswordHash::Pbkdf2Sha512 { hash, .. } = pencil_entry() else {
        unreachable!()
    };
    ServerKeys::from_salted_password(&hash)
}

#[test]
fn the_vector_s_proof_is_accepted_and_answered_with_its_server_signature() {
    let s = final_state(Some(pencil_keys()));
    assert_eq!(s.verify(CLIENT_FINAL).as_deref(), Ok(SERVER_FINAL));
}

#[test]
fn a_changed_proof_nonce_or_binding_is_refused() {
    let s = final_state(Some(pencil_keys()));
    let bad_proof = CLIENT_FINAL.replace("p=1Z/h", "p=1Z/i");
    assert_eq!(s.verify(&bad_proof), Err("wrong password (invalid proof)"));
    let bad_nonce = CLIENT_FINAL.replace("Njc4,", "Njc5,");
    assert_eq!(s.verify(&bad_nonce), Err("nonce does not match"));
    let bad_binding = CLIENT_FINAL.replace("c=biws", "c=eSws");
    assert!(s.verify(&bad_binding).is_err());
    assert!(s.verify("c=biws").is_err());
    // A user who cannot use SCRAM fails at the end, for the logged reason.
    assert_eq!(final_state(None).verify(CLIENT_FINAL), Err("no keys"));
}

#[test]
fn client_first_messages_are_parsed_as_rfc_5802_says() {
    let f = ClientFirst::parse("n,,n=user,r=abc").unwrap();
    assert_eq!(
        f,
        ClientFirst {
            gs2_header: "n,,".into(),
            bare: "n=user,r=abc".into(),
            user: "user".into(),
            nonce: "abc".into()
        }
    );
    assert_eq!(
        ClientFirst::parse("y,,n=a=2Cb=3D,r=x").unwrap().user,
        "a,b="
    );
    assert_eq!(
        ClientFirst::parse("n,a=u,n=u,r=x").unwrap().gs2_header,
        "n,a=u,"
    );
    for bad in [
        "p=tls-unique,,n=u,r=x",
        "n,,m=ext,n=u,r=x",
        "n,,n=u",
        "n,,n=,r=x",
        "n,,n=a=2,r=x",
        "n,a=other,n=u,r=x",
        "n,,n=u,r=a b",
        "n=u,r=x",
    ] {
        assert!(ClientFirst::parse(bad).is_err(), "{bad} was accepted");
    }
}

/// What a SCRAM-SHA-512 client sends in the final step, computed from the password.
fn client_final(password: &str, client_first_bare: &str, server_first: &str) -> String {
    let mut attrs = server_first.split(',');
    let nonce = attrs.next().unwrap().strip_prefix("r=").unwrap();
    let salt = STANDARD
        .decode(attrs.next().unwrap().strip_prefix("s=").unwrap())
        .unwrap();
    let i: u32 = attrs.next().unwrap()[2..].parse().unwrap();
    let mut salted = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), &salt, i, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    let without_proof = format!("c=biws,r={nonce}");
    let am = format!("{client_first_bare},{server_first},{without_proof}");
    let sig = hmac(&sha512(&client_key), am.as_bytes());
    let proof: Vec<u8> = client_key.iter().zip(sig).map(|(a, b)| a ^ b).collect();
    format!("{without_proof},p={}", STANDARD.encode(proof))
}

fn settings(file: &str) -> Arc<AuthSettings> {
    Arc::new(AuthSettings {
        allow_anonymous: false,
        passwords: Some(Passwords::parse(file).unwrap()),
        auth_methods: vec![METHOD.into()],
    })
}

fn request(user: Option<&str>, data: Option<&str>) -> ConnectRequest {
    ConnectRequest {
        client_id: "c".into(),
        username: user.map(Into::into),
        password: None,
        peer: "test".into(),
        transport: "tcp",
        protocol: courtier_actors::codec::ProtocolVersion::V5,
        auth_method: Some(METHOD.into()),
        auth_data: data.map(|d| Bytes::copy_from_slice(d.as_bytes())),
    }
}

fn done(c: ExchangeCheck) -> ExchangeStep {
    match c {
        ExchangeCheck::Done(s) => s,
        ExchangeCheck::Pending(_) => panic!("SCRAM steps answer at once"),
    }
}

/// Runs a whole exchange for `user` with `password`; the final step.
fn login(file: &str, connect_user: Option<&str>, user: &str, password: &str) -> ExchangeStep {
    let method = offer(settings(file), METHOD).expect("offered");
    let bare = format!("n={user},r=client-nonce-1");
    let first = format!("n,,{bare}");
    let ExchangeStep::Continue { data, next } =
        done(method.start(&request(connect_user, Some(&first))))
    else {
        panic!("expected server-first-message")
    };
    let server_first = String::from_utf8(data.unwrap().to_vec()).unwrap();
    assert!(server_first.starts_with("r=client-nonce-1"));
    let fin = client_final(password, &bare, &server_first);
    done(next.step(Some(Bytes::from(fin))))
}

fn alice_file() -> String {
    let h = PasswordHash::with_salt(b"secret", SALT, Algorithm::Pbkdf2Sha512 { iterations: 7 });
    let six = PasswordHash::with_salt(b"secret", SALT, Algorithm::Sha512);
    format!("alice:{}\nsix:{}\n", h.encode(), six.encode())
}

#[test]
fn a_full_exchange_authenticates_the_user_and_proves_the_server() {
    let ExchangeStep::Success { identity, data } = login(&alice_file(), None, "alice", "secret")
    else {
        panic!("expected success")
    };
    assert_eq!(identity.username.as_deref(), Some("alice"));
    assert!(data.unwrap().starts_with(b"v="));
}

#[test]
fn wrong_password_unknown_user_6_entry_or_other_connect_user_fail() {
    let f = alice_file();
    let failed = |s: ExchangeStep| matches!(s, ExchangeStep::Failure(AuthFailure::NotAuthorized));
    assert!(failed(login(&f, None, "alice", "wrong")));
    assert!(failed(login(&f, None, "nobody", "secret")));
    assert!(failed(login(&f, None, "six", "secret")));
    let method = offer(settings(&f), METHOD).unwrap();
    let other = done(method.start(&request(Some("bob"), Some("n,,n=alice,r=x"))));
    assert!(failed(other));
}

#[test]
fn unknown_users_get_a_stable_salt_like_real_ones() {
    let method = offer(settings(&alice_file()), METHOD).unwrap();
    let salt_of = |user: &str| {
        let first = format!("n,,n={user},r=x");
        let ExchangeStep::Continue { data, .. } = done(method.start(&request(None, Some(&first))))
        else {
            panic!("expected server-first-message")
        };
        let text = String::from_utf8(data.unwrap().to_vec()).unwrap();
        text.split(',').nth(1).unwrap().to_owned()
    };
    assert_eq!(salt_of("ghost"), salt_of("ghost"));
    assert_ne!(salt_of("ghost"), salt_of("spirit"));
}

#[test]
fn without_first_data_the_server_sends_an_empty_challenge() {
    let method = offer(settings(&alice_file()), METHOD).unwrap();
    let ExchangeStep::Continue { data: None, next } = done(method.start(&request(None, None)))
    else {
        panic!("expected an empty challenge")
    };
    let step = done(next.step(Some(Bytes::from_static(b"n,,n=alice,r=abc"))));
    assert!(matches!(step, ExchangeStep::Continue { data: Some(_), .. }));
}

#[test]
fn only_offered_when_configured() {
    let mut s = AuthSettings {
        auth_methods: vec![],
        ..AuthSettings::default()
    };
    assert!(offer(Arc::new(s), METHOD).is_none());
    s = AuthSettings {
        auth_methods: vec![METHOD.into()],
        ..AuthSettings::default()
    };
    assert!(offer(Arc::new(s), "SCRAM-SHA-256").is_none());
}
