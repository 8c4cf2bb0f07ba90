//! Incident 2, replayed in compressed time: calls dropping at exactly 1100 seconds.
//!
//! coturn ran with `stale-nonce=600`; the legacy Edge client refreshed its allocation
//! (lifetime 600 s) every 500 s and never retried after `438 Stale Nonce`. Its refresh at
//! 500 s moved the expiry to 1100 s; the one at 1000 s was answered 438 and ignored, so the
//! relay stopped at 1100 s.

mod support;

use std::time::Duration;

use support::*;
use turn_auth::clock::ManualClock;
use turn_auth::stun::Method;
use turn_auth::{NoncePolicy, StaticUsers, TelemetrySnapshot, TurnAuthLayer};

const NONCE_LIFETIME: Duration = Duration::from_secs(600);
const ALLOCATION_LIFETIME: Duration = Duration::from_secs(600);
const REFRESH_EVERY: u64 = 500;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Client {
    /// Never retries after 438 (the legacy Edge TURN stack).
    IgnoresStaleNonce,
    /// Retries with the new nonce (RFC 8489 §9.2.5).
    Compliant,
}

fn layer(policy: NoncePolicy, clock: &ManualClock) -> TurnAuthLayer<StaticUsers> {
    builder(clock).policy(policy).build()
}

struct Outcome {
    /// When the allocation expired, if it did within the call.
    died_at: Option<Duration>,
    telemetry: TelemetrySnapshot,
}

/// Runs a call of `length`: allocate at 0, refresh every 500 s.
async fn call(policy: NoncePolicy, client_kind: Client, length: Duration) -> Outcome {
    let clock = ManualClock::new(T0);
    let turn = MiniTurn::new(clock.clone(), ALLOCATION_LIFETIME);
    let layer = layer(policy, &clock);
    let mut server = server(&layer, &turn);
    let mut client = TestClient::new("192.0.2.10:50000", "alice", "secret");

    let challenge = allocate(&mut server, &mut client).await;
    assert_eq!(challenge.error_code(), Some(401));
    client.nonce = Some(challenge.nonce());
    let allocated = allocate(&mut server, &mut client).await;
    assert!(allocated.is_success(), "{allocated:?}");

    let mut died_at = None;
    let mut t = 0;
    while Duration::from_secs(t) < length {
        t += REFRESH_EVERY;
        let expires = turn
            .allocations
            .lock()
            .unwrap()
            .get(&client.five_tuple)
            .copied();
        clock.set(T0 + Duration::from_secs(t));
        if !turn.alive(&client.five_tuple) {
            died_at = expires.map(|e| e - T0);
            break;
        }
        let answer = refresh(&mut server, &mut client, 600).await;
        if answer.error_code() == Some(438) && client_kind == Client::Compliant {
            client.nonce = Some(answer.nonce());
            let retried = refresh(&mut server, &mut client, 600).await;
            assert!(retried.is_success(), "a retry with the new nonce succeeds");
        }
    }
    Outcome {
        died_at,
        telemetry: layer.telemetry(),
    }
}

const CALL: Duration = Duration::from_secs(20 * 600);

#[tokio::test]
async fn incident_1100_seconds() {
    let strict = NoncePolicy::Strict {
        lifetime: NONCE_LIFETIME,
    };
    let bound = NoncePolicy::AllocationBound {
        lifetime: NONCE_LIFETIME,
        max_session: Duration::from_secs(12 * 3600),
    };

    // Strict: the client that ignores 438 loses its relay at exactly 1100 s.
    let outcome = call(strict, Client::IgnoresStaleNonce, CALL).await;
    assert_eq!(outcome.died_at, Some(Duration::from_secs(1100)));
    assert!(outcome.telemetry.stale_nonces_438 >= 1);
    assert_eq!(outcome.telemetry.stale_nonces_recovered, 0);
    assert!(
        outcome.telemetry.stale_nonces_unrecovered >= 1,
        "{:?}",
        outcome.telemetry
    );

    // AllocationBound: the same client keeps its call for 20 nonce lifetimes.
    let outcome = call(bound, Client::IgnoresStaleNonce, CALL).await;
    assert_eq!(outcome.died_at, None);
    assert_eq!(outcome.telemetry.stale_nonces_438, 0);
    assert!(
        outcome.telemetry.stale_nonces_accepted >= 20,
        "{:?}",
        outcome.telemetry
    );

    // A compliant client survives both, and under Strict its recoveries are counted.
    let outcome = call(strict, Client::Compliant, CALL).await;
    assert_eq!(outcome.died_at, None);
    assert!(
        outcome.telemetry.stale_nonces_recovered >= 10,
        "{:?}",
        outcome.telemetry
    );
    assert_eq!(outcome.telemetry.stale_nonces_unrecovered, 0);
    let outcome = call(bound, Client::Compliant, CALL).await;
    assert_eq!(outcome.died_at, None);
}

#[tokio::test]
async fn allocation_bound_still_ends_at_max_session() {
    let bound = NoncePolicy::AllocationBound {
        lifetime: NONCE_LIFETIME,
        max_session: Duration::from_secs(3000),
    };
    let outcome = call(bound, Client::IgnoresStaleNonce, CALL).await;
    // Refreshes at 500..=2500 extend it; the one at 3000 is past the cap: 438, ignored.
    assert_eq!(outcome.died_at, Some(Duration::from_secs(3100)));
}

#[tokio::test]
async fn a_nonce_replayed_from_another_address_is_refused() {
    let clock = ManualClock::new(T0);
    let turn = MiniTurn::new(clock.clone(), ALLOCATION_LIFETIME);
    let layer = layer(NoncePolicy::default(), &clock);
    let mut server = server(&layer, &turn);

    let mut alice = TestClient::new("192.0.2.10:50000", "alice", "secret");
    let challenge = allocate(&mut server, &mut alice).await;
    alice.nonce = Some(challenge.nonce());
    let refresh_bytes = {
        assert!(allocate(&mut server, &mut alice).await.is_success());
        alice.request(Method::REFRESH, |b| b.lifetime(600))
    };

    // A captured, authentic Refresh sent again from another address: 438, nothing relayed.
    let elsewhere = five_tuple("203.0.113.5:40000");
    let replay = send(&mut server, elsewhere, refresh_bytes.clone()).await;
    assert_eq!(replay.error_code(), Some(438));

    // The same user on another address cannot borrow alice's nonce either.
    let mut other_device = TestClient::new("203.0.113.5:40000", "alice", "secret");
    other_device.nonce = alice.nonce.clone();
    let answer = allocate(&mut server, &mut other_device).await;
    assert_eq!(answer.error_code(), Some(438));
    assert!(!turn.alive(&other_device.five_tuple));

    // From alice's own address it still works.
    assert!(
        send(&mut server, alice.five_tuple, refresh_bytes)
            .await
            .is_success()
    );
}
