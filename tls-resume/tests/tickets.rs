//! `KeyRingTicketer` with a fake clock, hostile tickets, and real rustls handshakes
//! between two instances that share only a fleet secret.

mod support;

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use rustls::HandshakeKind;
use rustls::server::ProducesTickets;
use tls_resume::clock::ManualClock;
use tls_resume::ticketer::{
    DerivedKeys, KEY_ID_LEN, KeyCache, KeyRingTicketer, KeySource, StaticKeys, TicketKey,
};

const HOUR: Duration = Duration::from_secs(3600);
/// The start of an epoch (a multiple of 3600 s).
const EPOCH_START: Duration = Duration::from_secs(472_222 * 3600);
const FLEET: [u8; 32] = [7; 32];
const PLAIN: &[u8] = b"a serialized rustls session value";

fn ticketer(secret: [u8; 32], clock: &ManualClock) -> KeyRingTicketer {
    KeyRingTicketer::builder(DerivedKeys::new(secret))
        .clock(clock.clone())
        .build()
        .expect("valid config")
}

#[test]
fn lifetime_reports_the_window() {
    let clock = ManualClock::new(EPOCH_START);
    assert_eq!(ticketer(FLEET, &clock).lifetime(), 43_200);
    let short = KeyRingTicketer::builder(DerivedKeys::new(FLEET))
        .rotation_period(Duration::from_secs(600))
        .window(Duration::from_secs(7200))
        .clock(clock)
        .build()
        .unwrap();
    assert_eq!(short.lifetime(), 7200);
    assert!(
        KeyRingTicketer::builder(DerivedKeys::new(FLEET))
            .window(Duration::from_secs(8 * 86_400))
            .build()
            .is_err()
    );
}

#[test]
fn ticket_opens_until_the_end_of_the_window_and_not_after() {
    // Issued at the very start and the very end of an epoch: both open for at least the
    // advertised lifetime, and neither opens once its epoch leaves the window.
    for issue_offset in [Duration::ZERO, HOUR - Duration::from_secs(1)] {
        let clock = ManualClock::new(EPOCH_START + issue_offset);
        let a = ticketer(FLEET, &clock);
        let ticket = a.encrypt(PLAIN).unwrap();
        let issued_at = EPOCH_START + issue_offset;

        clock.set(issued_at + Duration::from_secs(u64::from(a.lifetime())));
        assert_eq!(
            a.decrypt(&ticket).as_deref(),
            Some(PLAIN),
            "{issue_offset:?}"
        );
        // Last second of the 12th epoch after the issuing one: still open.
        clock.set(EPOCH_START + 13 * HOUR - Duration::from_secs(1));
        assert_eq!(
            a.decrypt(&ticket).as_deref(),
            Some(PLAIN),
            "{issue_offset:?}"
        );
        // First second of the 13th: expired.
        clock.set(EPOCH_START + 13 * HOUR);
        assert_eq!(a.decrypt(&ticket), None, "{issue_offset:?}");
        let stats = a.stats();
        assert_eq!(stats.opened_by_age[12], 2);
        assert_eq!(stats.decrypt_failures, 1);
        assert_eq!(stats.issued, 1);
    }
}

#[test]
fn stats_count_ages() {
    let clock = ManualClock::new(EPOCH_START);
    let a = ticketer(FLEET, &clock);
    let ticket = a.encrypt(PLAIN).unwrap();
    a.decrypt(&ticket).unwrap();
    clock.advance(3 * HOUR);
    a.decrypt(&ticket).unwrap();
    a.decrypt(&ticket).unwrap();
    let stats = a.stats();
    assert_eq!(stats.opened_by_age[0], 1);
    assert_eq!(stats.opened_by_age[3], 2);
    assert_eq!(stats.opened(), 3);
    assert_eq!(stats.opened_future, 0);
}

#[test]
fn ring_holds_only_the_window_and_future_keys() {
    let clock = ManualClock::new(EPOCH_START);
    let a = ticketer(FLEET, &clock);
    let e = a.epoch_at(EPOCH_START);
    assert_eq!(a.held_epochs(), (e - 12..=e + 2).collect::<Vec<_>>());
    clock.advance(100 * HOUR);
    a.encrypt(PLAIN).unwrap();
    assert_eq!(a.held_epochs(), (e + 88..=e + 102).collect::<Vec<_>>());
}

/// Two instances whose clocks differ by `skew` (< one period), at `offset` into an epoch.
fn skewed_pair(offset: Duration, skew: Duration) -> (KeyRingTicketer, KeyRingTicketer) {
    let behind = ManualClock::new(EPOCH_START + offset);
    let ahead = ManualClock::new(EPOCH_START + offset + skew);
    (ticketer(FLEET, &behind), ticketer(FLEET, &ahead))
}

#[test]
fn clock_skew_across_an_epoch_boundary_uses_future_keys() {
    // "ahead" is already in the next epoch.
    let (behind, ahead) = skewed_pair(HOUR - Duration::from_secs(60), Duration::from_secs(120));
    let from_ahead = ahead.encrypt(PLAIN).unwrap();
    let from_behind = behind.encrypt(PLAIN).unwrap();
    assert_eq!(behind.decrypt(&from_ahead).as_deref(), Some(PLAIN));
    assert_eq!(ahead.decrypt(&from_behind).as_deref(), Some(PLAIN));
    assert_eq!(behind.stats().opened_future, 1);
    assert_eq!(ahead.stats().opened_by_age[1], 1);
}

#[test]
fn a_ticket_from_further_ahead_than_the_future_keys_is_refused() {
    let (behind, ahead) = skewed_pair(Duration::ZERO, 3 * HOUR);
    let from_ahead = ahead.encrypt(PLAIN).unwrap();
    assert_eq!(behind.decrypt(&from_ahead), None);
    assert_eq!(behind.stats().decrypt_failures, 1);
}

#[test]
fn foreign_fleet_tickets_are_refused() {
    let clock = ManualClock::new(EPOCH_START);
    let ours = ticketer(FLEET, &clock);
    let theirs = ticketer([8; 32], &clock);
    let ticket = theirs.encrypt(PLAIN).unwrap();
    assert_eq!(ours.decrypt(&ticket), None);
    assert_eq!(ours.stats().decrypt_failures, 1);
    // Same epoch, but a different key name.
    assert_eq!(ticket[..8], ours.encrypt(PLAIN).unwrap()[..8]);
}

#[test]
fn a_key_id_moved_to_another_epoch_is_refused() {
    // A ticket whose epoch field is rewritten, with the name of that epoch's key: the key
    // name check passes, the AEAD (key and associated data) does not.
    let clock = ManualClock::new(EPOCH_START);
    let a = ticketer(FLEET, &clock);
    let mut ticket = a.encrypt(PLAIN).unwrap();
    let e = a.epoch_at(EPOCH_START) - 1;
    let name = DerivedKeys::new(FLEET).key(e).unwrap().name();
    ticket[..8].copy_from_slice(&e.to_be_bytes());
    ticket[8..16].copy_from_slice(&name);
    assert_eq!(a.decrypt(&ticket), None);
}

#[test]
fn the_key_id_is_bound_by_the_associated_data() {
    // The same key serves two epochs: only the associated data stops a ticket's epoch
    // from being rewritten (e.g. to stretch its life).
    let clock = ManualClock::new(EPOCH_START);
    let e = EPOCH_START.as_secs() / 3600;
    let source = StaticKeys::new((e - 1..=e + 2).map(|epoch| (epoch, TicketKey::new([3; 32]))));
    let a = KeyRingTicketer::builder(source)
        .clock(clock)
        .build()
        .unwrap();
    let mut ticket = a.encrypt(PLAIN).unwrap();
    assert!(a.decrypt(&ticket).is_some());
    ticket[..8].copy_from_slice(&(e + 1).to_be_bytes());
    assert_eq!(a.decrypt(&ticket), None);
}

#[test]
fn debug_never_prints_key_material() {
    let key = TicketKey::new([0xab; 32]);
    let clock = ManualClock::new(EPOCH_START);
    let a = KeyRingTicketer::builder(DerivedKeys::new([0xab; 32]))
        .clock(clock)
        .build()
        .unwrap();
    let statics = StaticKeys::new([(1, TicketKey::new([0xab; 32]))]);
    for text in [
        format!("{key:?}"),
        format!("{a:?}"),
        format!("{statics:?}"),
        format!("{:?}", DerivedKeys::new([0xab; 32])),
    ] {
        assert!(!text.contains("abab"), "{text}");
        assert!(!text.contains("171, 171"), "{text}");
    }
}

#[test]
fn static_keys_from_a_file_interoperate_and_stop_at_the_last_key() {
    let clock = ManualClock::new(EPOCH_START);
    let e = EPOCH_START.as_secs() / 3600;
    let mut text = String::from("# fleet ticket keys\n\n");
    for (i, epoch) in (e..=e + 3).enumerate() {
        text.push_str(&format!(
            "{epoch} {}\n",
            format!("{:02x}", i + 1).repeat(32)
        ));
    }
    let path = std::env::temp_dir().join(format!("tls-resume-keys-{}", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let source = Arc::new(StaticKeys::from_file(&path).unwrap());
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        source.epochs().collect::<Vec<_>>(),
        (e..=e + 3).collect::<Vec<_>>()
    );

    let build = || {
        KeyRingTicketer::builder(source.clone())
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let (a, b) = (build(), build());
    let ticket = a.encrypt(PLAIN).unwrap();
    assert_eq!(b.decrypt(&ticket).as_deref(), Some(PLAIN));
    // The file ends at e + 3: from e + 4 on there is nothing to encrypt with.
    clock.set(EPOCH_START + 4 * HOUR);
    assert_eq!(a.encrypt(PLAIN), None);
    assert_eq!(a.stats().encrypt_failures, 1);
    assert!(a.stats().key_misses > 0);
    assert_eq!(b.decrypt(&ticket).as_deref(), Some(PLAIN));
}

#[test]
fn malformed_key_files_are_refused_without_echoing_keys() {
    let key = "ab".repeat(32);
    for (text, line) in [
        (format!("1 {key}\nnot-a-number {key}\n"), 2),
        (format!("1 {}\n", &key[..62]), 1),
        (format!("1 {}zz\n", &key[..62]), 1),
        (format!("1 {key} extra\n"), 1),
    ] {
        let err = StaticKeys::parse(&text).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains(&format!("line {line}")), "{shown}");
        assert!(!shown.contains("abab"), "{shown}");
    }
    assert!(StaticKeys::parse(&format!("1 {key}\n1 {key}\n")).is_err());
    assert!(StaticKeys::parse("# nothing\n").is_err());
}

#[test]
fn keys_fetched_later_are_picked_up() {
    let clock = ManualClock::new(EPOCH_START);
    let fetched = Arc::new(KeyCache::default());
    let a = KeyRingTicketer::builder(fetched.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(a.encrypt(PLAIN), None);
    let e = a.epoch_at(EPOCH_START);
    let derived = DerivedKeys::new(FLEET);
    for epoch in e..=e + 2 {
        fetched.insert(epoch, derived.key(epoch).unwrap());
    }
    // Without a refresh the ticketer waits a second before asking the source again.
    assert_eq!(a.encrypt(PLAIN), None);
    a.refresh();
    let ticket = a.encrypt(PLAIN).unwrap();
    // Keys derived from the same secret: an instance on DerivedKeys opens it.
    assert_eq!(
        ticketer(FLEET, &clock).decrypt(&ticket).as_deref(),
        Some(PLAIN)
    );
}

#[test]
fn concurrent_use_across_epoch_changes() {
    let clock = ManualClock::new(EPOCH_START);
    let a = Arc::new(ticketer(FLEET, &clock));
    let b = Arc::new(ticketer(FLEET, &clock));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (a, b, clock) = (a.clone(), b.clone(), clock.clone());
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let ticket = a.encrypt(PLAIN).unwrap();
                    clock.advance(Duration::from_secs(60));
                    assert_eq!(b.decrypt(&ticket).as_deref(), Some(PLAIN));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(a.stats().issued, 800);
    assert_eq!(b.stats().opened(), 800);
    assert!(b.held_epochs().len() <= 15);
}

proptest! {
    #[test]
    fn skew_below_one_period_always_interoperates(
        offset in 0u64..3600, skew in 0u64..3600, len in 0usize..2048,
    ) {
        let plain = vec![0x5a; len];
        let (behind, ahead) = skewed_pair(Duration::from_secs(offset), Duration::from_secs(skew));
        let from_ahead = ahead.encrypt(&plain).unwrap();
        let from_behind = behind.encrypt(&plain).unwrap();
        prop_assert_eq!(behind.decrypt(&from_ahead), Some(plain.clone()));
        prop_assert_eq!(ahead.decrypt(&from_behind), Some(plain));
    }

    #[test]
    fn any_bit_flip_is_refused(index in any::<prop::sample::Index>(), bit in 0u8..8) {
        let clock = ManualClock::new(EPOCH_START);
        let a = ticketer(FLEET, &clock);
        let mut ticket = a.encrypt(PLAIN).unwrap();
        let i = index.index(ticket.len());
        ticket[i] ^= 1 << bit;
        prop_assert_eq!(a.decrypt(&ticket), None);
    }

    #[test]
    fn truncated_or_extended_tickets_are_refused(
        cut in any::<prop::sample::Index>(), extra in prop::collection::vec(any::<u8>(), 1..64),
    ) {
        let clock = ManualClock::new(EPOCH_START);
        let a = ticketer(FLEET, &clock);
        let ticket = a.encrypt(PLAIN).unwrap();
        let truncated = &ticket[..cut.index(ticket.len())];
        prop_assert_eq!(a.decrypt(truncated), None);
        let mut extended = ticket.clone();
        extended.extend_from_slice(&extra);
        prop_assert_eq!(a.decrypt(&extended), None);
        prop_assert_eq!(a.decrypt(&ticket), Some(PLAIN.to_vec()));
    }

    #[test]
    fn garbage_is_refused(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let clock = ManualClock::new(EPOCH_START);
        let a = ticketer(FLEET, &clock);
        prop_assert_eq!(a.decrypt(&bytes), None);
        // Garbage behind a genuine key id: passes the name check, fails the AEAD.
        let mut framed = a.encrypt(PLAIN).unwrap()[..KEY_ID_LEN].to_vec();
        framed.extend_from_slice(&bytes);
        prop_assert_eq!(a.decrypt(&framed), None);
    }
}

mod rustls_handshakes {
    use super::*;
    use rustls::SupportedProtocolVersion;
    use rustls::version::{TLS12, TLS13};
    use support::{client_config, handshake, make_cert, server_config};

    fn instance(
        cert: &(
            rustls::pki_types::CertificateDer<'static>,
            rustls::pki_types::PrivateKeyDer<'static>,
        ),
        version: &'static SupportedProtocolVersion,
        secret: [u8; 32],
        clock: &ManualClock,
    ) -> Arc<rustls::ServerConfig> {
        server_config(cert, &[version], Some(Arc::new(ticketer(secret, clock))))
    }

    fn resumes_across_instances(version: &'static SupportedProtocolVersion) {
        let cert = make_cert();
        let clock = ManualClock::new(EPOCH_START);
        let a = instance(&cert, version, FLEET, &clock);
        let b = instance(&cert, version, FLEET, &clock);
        let client = client_config(&cert.0, &[version]);

        assert_eq!(
            handshake(&client, &a, "localhost"),
            (HandshakeKind::Full, HandshakeKind::Full)
        );
        assert_eq!(
            handshake(&client, &b, "localhost"),
            (HandshakeKind::Resumed, HandshakeKind::Resumed)
        );
    }

    #[test]
    fn tls13_ticket_from_a_resumes_on_b() {
        resumes_across_instances(&TLS13);
    }

    #[test]
    fn tls12_ticket_from_a_resumes_on_b() {
        resumes_across_instances(&TLS12);
    }

    #[test]
    fn another_fleet_or_an_expired_ticket_means_a_full_handshake() {
        for version in [&TLS12, &TLS13] {
            let cert = make_cert();
            let clock = ManualClock::new(EPOCH_START);
            let a = instance(&cert, version, FLEET, &clock);
            let other = instance(&cert, version, [9; 32], &clock);
            let client = client_config(&cert.0, &[version]);
            handshake(&client, &a, "localhost");
            assert_eq!(
                handshake(&client, &other, "localhost").1,
                HandshakeKind::Full
            );

            // A fresh ticket from A, then the fleet's clock moves past the window.
            let client = client_config(&cert.0, &[version]);
            handshake(&client, &a, "localhost");
            clock.advance(13 * HOUR);
            let b = instance(&cert, version, FLEET, &clock);
            assert_eq!(handshake(&client, &b, "localhost").1, HandshakeKind::Full);
        }
    }
}
