//! Session-ticket decryption (`KeyRingTicketer` as rustls's `ProducesTickets`) over arbitrary
//! bytes, and the nginx-style ticket key file parser (`StaticKeys::parse`).
//!
//! Input: `selector (1 byte) ‖ ticket`. The selector moves the ticketer's clock by -3 to +4
//! rotation periods from the time the seed tickets were made (so tickets from the corpus
//! open as past, current or future tickets, or are too old), and picks derived or static
//! keys. The whole input is also parsed as a key file when it is UTF-8.
//!
//! Invariants beyond "never panics":
//! - arbitrary bytes open only if they are a ticket this fleet sealed: then flipping any
//!   byte of it makes it fail (ChaCha20-Poly1305 authenticates the key id and nonce too);
//! - sealing the input and opening it again gives the input back, on another instance
//!   with the same secret as well;
//! - a parsed key file yields a ticketer whose tickets round-trip.

#![no_main]

use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rustls::server::ProducesTickets;
use tls_resume::clock::ManualClock;
use tls_resume::{DerivedKeys, KeyRingTicketer, StaticKeys, TicketKey};

/// The time the seed tickets in `corpus/ticket_decrypt` were sealed at (epoch 472 222).
const SEED_TIME: Duration = Duration::from_secs(472_222 * 3600 + 1800);
const PERIOD: Duration = Duration::from_secs(3600);

fn ticketer(selector: u8, clock: &Arc<ManualClock>) -> KeyRingTicketer {
    let builder = if selector & 0x80 == 0 {
        KeyRingTicketer::builder(DerivedKeys::new([42; 32]))
    } else {
        let epoch = SEED_TIME.as_secs() / PERIOD.as_secs();
        KeyRingTicketer::builder(StaticKeys::new(
            (epoch - 2..=epoch + 2).map(|e| (e, TicketKey::new([(e % 251) as u8; 32]))),
        ))
    };
    builder
        .clock(clock.clone())
        .build()
        .expect("a valid configuration")
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, ticket)) = data.split_first() else {
        return;
    };
    let periods = u32::from(selector & 7);
    let now = SEED_TIME + PERIOD * periods - PERIOD * 3;
    let clock = Arc::new(ManualClock::new(now));
    let ring = ticketer(selector, &clock);

    if let Some(plain) = ring.decrypt(ticket) {
        // A genuine ticket (a seed, or one the fuzzer rebuilt byte for byte): any change
        // breaks it.
        let mut tampered = ticket.to_vec();
        let at = usize::from(selector) % tampered.len();
        tampered[at] ^= 0x01;
        assert_eq!(ring.decrypt(&tampered), None, "a tampered ticket opened");
        let _ = plain;
    }

    if let Some(sealed) = ring.encrypt(ticket) {
        assert_eq!(ring.decrypt(&sealed).as_deref(), Some(ticket));
        let other = ticketer(selector, &clock);
        assert_eq!(other.decrypt(&sealed).as_deref(), Some(ticket));
    }

    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(keys) = StaticKeys::parse(text)
        && let Some(epoch) = keys.epochs().last()
    {
        let at = Duration::from_secs(epoch.saturating_mul(3600).min(u64::MAX / 2));
        let clock = Arc::new(ManualClock::new(at));
        if let Ok(ring) = KeyRingTicketer::builder(keys).clock(clock).build()
            && let Some(sealed) = ring.encrypt(b"state")
        {
            assert_eq!(ring.decrypt(&sealed).as_deref(), Some(&b"state"[..]));
        }
    }
});
