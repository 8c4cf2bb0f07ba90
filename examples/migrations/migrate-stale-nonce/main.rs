//! `migrate-stale-nonce`: incident 2 (calls dropping at exactly 1100 s), before and after
//! moving a TURN server from coturn-style `stale-nonce=600` to `NoncePolicy::AllocationBound`.
//!
//! ```text
//! cargo run -p examples --bin migrate-stale-nonce
//! ```
//!
//! Four one-hour calls are replayed in compressed time on a `ManualClock`, one simulated
//! second per step: each policy (`Strict` = coturn's `stale-nonce`, then `AllocationBound`)
//! with a client that ignores `438 Stale Nonce` (the legacy Edge TURN stack) and a
//! compliant one that retries with the new nonce. Every request goes through the real
//! `TurnAuthLayer` to a minimal TURN server that keeps allocation lifetimes. The report
//! says at which simulated second each relay stopped, and the layer's counters. Exit code
//! 0 when both clients keep their call under `AllocationBound`, 1 otherwise.

/// The command line, as every migration example reads it.
#[path = "../common.rs"]
mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use examples::cli::ArgError;
use tower::{Layer, Service, ServiceExt};
use turn_auth::clock::{Clock, ManualClock};
use turn_auth::credentials::LongTermKey;
use turn_auth::stun::{
    AttrType, Class, Message, MessageBuilder, Method, PasswordAlgorithm, TransactionId,
};
use turn_auth::{
    FiveTuple, NonceManager, NoncePolicy, NonceSecret, StaticUsers, StunRequest, TelemetrySnapshot,
    Transport, TurnAuthLayer, TurnRequest,
};

/// What `--help` prints.
const USAGE: &str = "usage: migrate-stale-nonce [--help]\n\
    Replays incident 2's 1100-second drop under NoncePolicy::Strict and AllocationBound.";

/// The TURN realm.
const REALM: &str = "example.org";
/// The Unix time the simulated call starts at.
const T0: Duration = Duration::from_secs(1_700_000_000);
/// coturn's `stale-nonce=600`, kept as the nonce lifetime after the migration too.
const NONCE_LIFETIME: Duration = Duration::from_secs(600);
/// The LIFETIME the TURN server grants an allocation.
const ALLOCATION_LIFETIME: u32 = 600;
/// Edge refreshed its allocation every 500 s.
const REFRESH_EVERY: u64 = 500;
/// How long each simulated call lasts, in seconds.
const CALL_SECONDS: u64 = 3600;

/// How a TURN client reacts to `438 Stale Nonce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientKind {
    /// Never retries (the legacy Edge TURN stack of the incident).
    IgnoresStaleNonce,
    /// Retries with the new nonce (RFC 8489 §9.2.5).
    Compliant,
}

impl ClientKind {
    /// How the report names it.
    fn label(self) -> &'static str {
        match self {
            ClientKind::IgnoresStaleNonce => "ignores 438",
            ClientKind::Compliant => "compliant  ",
        }
    }
}

/// A TURN server reduced to allocation lifetimes, on the simulation's clock: the service
/// behind `TurnAuthLayer`, which only ever sees authenticated Allocate and Refresh.
#[derive(Clone)]
struct Relay {
    clock: ManualClock,
    expiries: Arc<Mutex<HashMap<FiveTuple, Duration>>>,
}

impl Relay {
    /// A server without allocations, on `clock`.
    fn new(clock: ManualClock) -> Self {
        Self {
            clock,
            expiries: Arc::default(),
        }
    }

    /// Whether `five_tuple` still has a relay now.
    fn alive(&self, five_tuple: &FiveTuple) -> bool {
        let now = self.clock.now();
        self.expiries
            .lock()
            .is_ok_and(|e| e.get(five_tuple).is_some_and(|&expires| expires > now))
    }

    /// Allocate creates, Refresh extends (both by [`ALLOCATION_LIFETIME`]); signed with the
    /// user's key by the layer's `Authenticated`.
    fn answer(&self, req: &TurnRequest) -> Option<Bytes> {
        let message = Message::parse(&req.request.data).ok()?;
        let auth = req.auth.as_ref()?;
        let now = self.clock.now();
        let mut expiries = self.expiries.lock().ok()?;
        expiries.retain(|_, expires| *expires > now);
        let key = req.request.five_tuple;
        let granted = Duration::from_secs(ALLOCATION_LIFETIME.into());
        let live = expiries.contains_key(&key);
        Some(match message.method() {
            Method::ALLOCATE if live => auth.error(&message, 437, "Allocation Mismatch"),
            Method::REFRESH if !live => auth.error(&message, 437, "Allocation Mismatch"),
            Method::ALLOCATE | Method::REFRESH => {
                expiries.insert(key, now + granted);
                auth.success(&message, |b| b.lifetime(ALLOCATION_LIFETIME))
            }
            _ => auth.success(&message, |b| b),
        })
    }
}

impl Service<TurnRequest> for Relay {
    type Response = Option<Bytes>;
    type Error = Infallible;
    type Future = Ready<Result<Option<Bytes>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: TurnRequest) -> Self::Future {
        ready(Ok(self.answer(&req)))
    }
}

/// A scripted TURN client: signs with its long-term key once it has a nonce.
struct Client {
    five_tuple: FiveTuple,
    key: LongTermKey,
    nonce: Option<Vec<u8>>,
    transactions: u32,
}

impl Client {
    /// The Edge client of the incident: user `edge`, one fixed 5-tuple.
    fn new() -> Self {
        Self {
            five_tuple: FiveTuple {
                client: ([192, 0, 2, 10], 50_000).into(),
                server: ([192, 0, 2, 1], 3478).into(),
                transport: Transport::Udp,
            },
            key: LongTermKey::derive(PasswordAlgorithm::Md5, "edge", REALM, "secret"),
            nonce: None,
            transactions: 0,
        }
    }

    /// A request of `method` (Allocate for UDP, or Refresh for 600 s), signed when the
    /// client has a nonce.
    fn request(&mut self, method: Method) -> StunRequest {
        self.transactions += 1;
        let mut id = [0u8; 12];
        id[..4].copy_from_slice(&self.transactions.to_be_bytes());
        let mut builder = MessageBuilder::new(Class::Request, method, TransactionId(id));
        builder = if method == Method::ALLOCATE {
            // UDP relay.
            builder.attribute(AttrType::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
        } else {
            builder.lifetime(ALLOCATION_LIFETIME)
        };
        if let Some(nonce) = &self.nonce {
            builder = builder
                .username("edge")
                .realm(REALM)
                .nonce(nonce)
                .message_integrity(self.key.as_bytes())
                .fingerprint();
        }
        StunRequest::new(builder.build(), self.five_tuple)
    }
}

/// What the server answered: the error code (none for a success) and any NONCE.
struct Answer {
    error: Option<u16>,
    nonce: Option<Vec<u8>>,
}

/// Sends `request` through `server` and reads the answer.
async fn send<S>(server: &mut S, request: StunRequest) -> Result<Answer, String>
where
    S: Service<StunRequest, Response = Option<Bytes>, Error = Infallible>,
{
    // The relay never fails: its error type is `Infallible`.
    let Ok(ready) = server.ready().await;
    let Ok(answer) = ready.call(request).await;
    let bytes = answer.ok_or("the server dropped a request")?;
    let message = Message::parse(&bytes).map_err(|e| format!("unparsable answer: {e}"))?;
    let error = match message.class() {
        Class::SuccessResponse => None,
        _ => Some(
            message
                .error_code()
                .ok()
                .flatten()
                .map_or(0, |(code, _)| code),
        ),
    };
    let nonce = message.nonce().ok().flatten().map(<[u8]>::to_vec);
    Ok(Answer { error, nonce })
}

/// How one simulated call went.
struct Outcome {
    /// The simulated second at which the relay was gone, if it went.
    dropped_at: Option<u64>,
    /// The simulated second of the last Refresh the server accepted.
    last_refresh: u64,
    telemetry: TelemetrySnapshot,
}

/// One call of [`CALL_SECONDS`]: Allocate at 0 s, Refresh every [`REFRESH_EVERY`] s.
async fn call(policy: NoncePolicy, kind: ClientKind) -> Result<Outcome, String> {
    let clock = ManualClock::new(T0);
    let relay = Relay::new(clock.clone());
    let secret = NonceSecret::generate(1).map_err(|e| e.to_string())?;
    let layer = TurnAuthLayer::builder(
        REALM,
        StaticUsers::new(REALM).user("edge", "secret"),
        NonceManager::new(secret),
    )
    .policy(policy)
    .clock(clock.clone())
    .build();
    let mut server = layer.layer(relay.clone());
    let mut client = Client::new();

    // The usual first round trip: 401 with a nonce, then the signed Allocate.
    let challenge = send(&mut server, client.request(Method::ALLOCATE)).await?;
    if challenge.error != Some(401) {
        return Err(format!(
            "expected a 401 challenge, got {:?}",
            challenge.error
        ));
    }
    client.nonce = challenge.nonce;
    let allocated = send(&mut server, client.request(Method::ALLOCATE)).await?;
    if allocated.error.is_some() {
        return Err(format!("Allocate refused: {:?}", allocated.error));
    }

    let mut last_refresh = 0;
    let mut dropped_at = None;
    for second in 1..=CALL_SECONDS {
        clock.set(T0 + Duration::from_secs(second));
        if !relay.alive(&client.five_tuple) {
            dropped_at = Some(second);
            break;
        }
        if second % REFRESH_EVERY != 0 {
            continue;
        }
        let mut answer = send(&mut server, client.request(Method::REFRESH)).await?;
        // The client of the incident drops the 438 on the floor; a compliant one retries.
        if answer.error == Some(438) && kind == ClientKind::Compliant {
            client.nonce = answer.nonce;
            answer = send(&mut server, client.request(Method::REFRESH)).await?;
        }
        if answer.error.is_none() {
            last_refresh = second;
        }
    }
    // Let the layer's recovery window pass, so clients that never came back are counted.
    clock.advance(Duration::from_secs(60));
    Ok(Outcome {
        dropped_at,
        last_refresh,
        telemetry: layer.telemetry(),
    })
}

/// One row of the report.
fn describe(outcome: &Outcome) -> String {
    let fate = match outcome.dropped_at {
        Some(second) => format!("DROPPED at {second} s"),
        None => format!("alive after {CALL_SECONDS} s"),
    };
    let t = &outcome.telemetry;
    format!(
        "{fate:<20} last Refresh OK at {:>4} s; 438 sent {}, recovered {}, never recovered {}, stale nonces accepted {}",
        outcome.last_refresh,
        t.stale_nonces_438,
        t.stale_nonces_recovered,
        t.stale_nonces_unrecovered,
        t.stale_nonces_accepted,
    )
}

/// Runs the four calls and prints the report; an `Err` when a call drops under
/// `AllocationBound`.
async fn run((): ()) -> Result<(), String> {
    let before = NoncePolicy::Strict {
        lifetime: NONCE_LIFETIME,
    };
    let after = NoncePolicy::AllocationBound {
        lifetime: NONCE_LIFETIME,
        max_session: turn_auth::policy::DEFAULT_MAX_SESSION,
    };
    println!(
        "migrate-stale-nonce: {CALL_SECONDS} s calls, nonce lifetime {} s, allocation lifetime \
         {ALLOCATION_LIFETIME} s, Refresh every {REFRESH_EVERY} s, 1 simulated s per step",
        NONCE_LIFETIME.as_secs()
    );
    let started = std::time::Instant::now();
    let mut fixed = true;
    for (label, policy) in [
        ("before  Strict (stale-nonce=600)", before),
        ("after   AllocationBound         ", after),
    ] {
        for kind in [ClientKind::IgnoresStaleNonce, ClientKind::Compliant] {
            let outcome = call(policy, kind).await?;
            if matches!(policy, NoncePolicy::AllocationBound { .. }) {
                fixed &= outcome.dropped_at.is_none();
            }
            println!("{label}  client {}: {}", kind.label(), describe(&outcome));
        }
    }
    println!(
        "4 calls, {} simulated s, replayed in {} ms of wall time",
        4 * CALL_SECONDS,
        started.elapsed().as_millis()
    );
    println!(
        "the change: TurnAuthLayer::builder(..).policy(NoncePolicy::AllocationBound {{ lifetime: 600 s, max_session: 12 h }})"
    );
    if fixed {
        println!("result: FIXED (every call alive under AllocationBound)");
        Ok(())
    } else {
        Err("a call dropped under AllocationBound".to_owned())
    }
}

/// Runs the example; its command line is nothing but `--help` (exit 2 on anything else).
fn main() -> ExitCode {
    let parse_args = |args| {
        common::walk_flags(args, &[], |flag, _| {
            Err(ArgError::new(flag, "takes no value"))
        })
    };
    common::main("migrate-stale-nonce", USAGE, parse_args, run)
}
