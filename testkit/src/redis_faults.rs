//! The fault script of the Redis-backed crates' fault tests (`ratelimit`'s and
//! `tls-resume`'s `tests/redis_faults.rs`): a real `redis-server` behind a [`FaultProxy`]
//! is killed (by its id, reaped) and restarted on its port, made slower than the client's
//! budget, blackholed and refused, with normal service in between; after each fault is
//! lifted, the crate's own probe of "the fleet shares state again" must hold within a
//! bound.
//!
//! [`RedisBehindProxy`] starts the server and the proxy; the crate supplies what is its
//! own through [`SharedTier`]: one probe (does a limit, or
//! a session, carry over from one instance to another right now?), its timeout counter,
//! and its diagnostics. The load that runs meanwhile, and the assertions on it, stay in
//! the test.
//!
//! # The script ([`FaultScript::run`])
//!
//! 1. Normal: after [`FaultScript::settle`], the probe must hold within the bound.
//! 2. Killed: the server is dropped (killed and reaped); after [`FaultScript::outage`] the
//!    probe must fail ("no sharing without Redis"), then [`SharedTier::while_dead`] runs;
//!    the server is restarted on the same port and the probe must hold again within the
//!    bound.
//! 3. Delayed: replies held [`FaultScript::slow`] for [`FaultScript::fault_time`]; at least
//!    one timeout must have been counted by then.
//! 4. Blackholed for [`FaultScript::fault_time`]: the timeout count must grow.
//! 5. Refused for [`FaultScript::outage`], lifted just after a reconnection attempt was
//!    refused (the worst moment: recovery waits for a whole capped backoff).
//!
//! Each fault starts after [`FaultScript::settle`] of normal service, and the run ends
//! with another.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::{ChildGuard, Fault, FaultProxy};

/// What a fault test's crate probes and reports, for [`FaultScript::run`].
pub trait SharedTier {
    /// Whether state is shared across instances right now: one attempt, on fresh keys
    /// (a limit spent on one instance refuses on another; a session made on one resumes
    /// on another). Only the shared tier may make it hold, so it has no false positive.
    fn shared(&mut self) -> impl Future<Output = bool>;

    /// The client's timeout count so far (of the instance the faults are asserted on).
    fn timeouts(&self) -> u64;

    /// The clients' counters, for failure messages (`A {..}, B {..}`).
    fn describe(&self) -> String;

    /// Called at the end of the normal phase, just before the server is killed.
    fn before_kill(&mut self) {}

    /// Called while the server is dead, after the probe failed, before the restart.
    fn while_dead(&mut self) {}
}

/// The timings of the script and the bound on recovery. See the [module docs](self).
///
/// Start from [`FaultScript::DEFAULT`] and change what the client under test needs:
/// `FaultScript { outage: ..., ..FaultScript::DEFAULT }`.
#[derive(Debug, Clone, Copy)]
pub struct FaultScript {
    /// Normal service before each phase, and at the end.
    pub settle: Duration,
    /// The reply delay of the delay phase (well beyond the client's budget).
    pub slow: Duration,
    /// How long the delay and black-hole faults last.
    pub fault_time: Duration,
    /// How long the server stays dead, and connections refused: long enough for the
    /// reconnection backoff to reach its cap.
    pub outage: Duration,
    /// How soon after a fault is lifted the probe must hold again.
    pub recovery: Duration,
}

/// A real `redis-server` on a free loopback port behind a [`FaultProxy`]: what
/// [`FaultScript::run`] kills, restarts and faults. The server is killed (by its id) and
/// reaped when this is dropped.
#[derive(Debug)]
pub struct RedisBehindProxy {
    /// The proxy clients connect to (see [`url`](Self::url)).
    pub proxy: FaultProxy,
    program: PathBuf,
    port: u16,
    server: Option<ChildGuard>,
}

impl RedisBehindProxy {
    /// Starts `redis-server` (see [`crate::start_redis`]) and a proxy to it. `None` when
    /// the program is not installed (see [`crate::require_program`]).
    ///
    /// # Panics
    ///
    /// As [`crate::start_redis`] and [`crate::require_program`], or when the proxy cannot
    /// bind a port.
    pub async fn start() -> Option<Self> {
        let program = crate::require_program("redis-server")?;
        let (port, server) = crate::start_redis(&program);
        let proxy = FaultProxy::start(([127, 0, 0, 1], port).into())
            .await
            .expect("start the fault proxy");
        Some(Self {
            proxy,
            program,
            port,
            server: Some(server),
        })
    }

    /// `redis://<proxy>/`: the URL clients under test use.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.proxy.addr())
    }
}

impl FaultScript {
    /// 300 ms of normal service around each fault, replies delayed 200 ms, faults lasting
    /// 1 s, outages of 1.5 s, and recovery within 1 s.
    pub const DEFAULT: Self = Self {
        settle: Duration::from_millis(300),
        slow: Duration::from_millis(200),
        fault_time: Duration::from_millis(1000),
        outage: Duration::from_millis(1500),
        recovery: Duration::from_secs(1),
    };

    /// Runs the script of the [module docs](self) on `redis` with `tier`'s probe, and
    /// returns how long each recovery took (`restarted`, `delay`, `blackhole`, `refused`;
    /// each is printed too). `redis` runs a restarted server afterwards.
    ///
    /// # Panics
    ///
    /// When an assertion of the script fails (see [`recovery`](Self::recovery) for the
    /// bound), or when the server cannot be restarted on its port.
    pub async fn run(
        &self,
        tier: &mut impl SharedTier,
        redis: &mut RedisBehindProxy,
    ) -> Vec<(&'static str, Duration)> {
        let proxy = &redis.proxy;
        let mut recoveries = Vec::new();

        // Normal: shared at once.
        tokio::time::sleep(self.settle).await;
        self.recovery(tier, Instant::now(), "normal").await;
        tier.before_kill();

        // 1. Killed (the process, by its id, reaped), then restarted on the same port.
        drop(redis.server.take());
        tokio::time::sleep(self.outage).await;
        assert!(!tier.shared().await, "no sharing without Redis");
        tier.while_dead();
        redis.server = Some(
            crate::start_redis_on(&redis.program, redis.port)
                .expect("redis-server restarted on its port"),
        );
        let back = Instant::now();
        recoveries.push(("restarted", self.recovery(tier, back, "restart").await));

        // 2. Replies delayed beyond the budget.
        tokio::time::sleep(self.settle).await;
        proxy.set(Fault::Delay(self.slow));
        tokio::time::sleep(self.fault_time).await;
        assert!(tier.timeouts() >= 1, "{}", tier.describe());
        proxy.set(Fault::PassThrough);
        let back = Instant::now();
        recoveries.push(("delay", self.recovery(tier, back, "delay").await));

        // 3. A black hole: the open connections go silent for good, new ones are never
        //    answered; only the clients' own timeouts can tell.
        tokio::time::sleep(self.settle).await;
        let timeouts = tier.timeouts();
        proxy.set(Fault::Blackhole);
        tokio::time::sleep(self.fault_time).await;
        assert!(tier.timeouts() > timeouts, "{}", tier.describe());
        proxy.set(Fault::PassThrough);
        let back = Instant::now();
        recoveries.push(("blackhole", self.recovery(tier, back, "blackhole").await));

        // 4. Refused: every connection closed at once, for long enough that the
        //    reconnection backoff reaches its cap; lifted just after an attempt was
        //    refused, the worst moment: recovery then waits for a whole capped backoff.
        tokio::time::sleep(self.settle).await;
        proxy.set(Fault::Refuse);
        tokio::time::sleep(self.outage).await;
        just_after_an_attempt(proxy).await;
        proxy.set(Fault::PassThrough);
        let back = Instant::now();
        recoveries.push(("refused", self.recovery(tier, back, "refuse").await));

        // Normal again for a while.
        tokio::time::sleep(self.settle).await;
        recoveries
    }

    /// Polls [`SharedTier::shared`] (every 10 ms) from `since` until it holds; returns how
    /// long after `since` it did, and prints it.
    ///
    /// # Panics
    ///
    /// When it holds only after [`recovery`](Self::recovery), or still does not hold five
    /// times that after `since` (the probes in between are let through, so the message
    /// shows the time it took).
    pub async fn recovery(
        &self,
        tier: &mut impl SharedTier,
        since: Instant,
        what: &str,
    ) -> Duration {
        let give_up = since + self.recovery * 5;
        loop {
            if tier.shared().await {
                let took = since.elapsed();
                println!("{what}: shared again after {took:?}");
                assert!(
                    took <= self.recovery,
                    "{what}: shared again only after {took:?}: {}",
                    tier.describe()
                );
                return took;
            }
            assert!(
                Instant::now() < give_up,
                "{what}: not shared again after {:?}: {}",
                since.elapsed(),
                tier.describe()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Returns as soon as the proxy closes a connection (a client's reconnection attempt was
/// just refused), for at most 2 s.
async fn just_after_an_attempt(proxy: &FaultProxy) {
    let closed = proxy.stats().closed;
    let deadline = Instant::now() + Duration::from_secs(2);
    while proxy.stats().closed == closed && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
