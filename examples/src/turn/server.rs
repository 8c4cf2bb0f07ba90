//! The TURN server behind the layer: allocations, permissions, channels and the relaying.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tower::Service;
use turn_auth::stun::{
    AttrType, Class, Message, MessageBuilder, Method, TransactionId, decode_xor_address,
};
use turn_auth::{Authenticated, FiveTuple, TurnRequest};

use turn_auth::stun::{CHANNEL_NUMBERS, ChannelData, encode_channel_data};

/// The allocation lifetime when the client asks for none (RFC 8656 §7.2).
pub const DEFAULT_ALLOCATION_LIFETIME: Duration = Duration::from_secs(600);
/// How long a permission lasts (RFC 8656 §9).
pub const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);
/// How long a channel binding lasts (RFC 8656 §12).
pub const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);
/// How often expired allocations, permissions and channels are swept away.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

const UDP: u8 = 17;
/// The most bytes a UDP datagram can carry; relay reads use a buffer this large.
const MAX_DATAGRAM: usize = 65_535;

/// What the server holds at most, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Live allocations, all clients together (`486 Allocation Quota Reached` beyond).
    pub max_allocations: usize,
    /// Permissions (peer IPs) per allocation (`508 Insufficient Capacity` beyond).
    pub max_permissions: usize,
    /// Channel bindings per allocation (`508 Insufficient Capacity` beyond).
    pub max_channels: usize,
    /// The longest lifetime granted to an allocation, whatever the client asks.
    pub max_lifetime: Duration,
}

impl Default for Limits {
    /// 1024 allocations of at most an hour, 64 permissions and 64 channels each.
    fn default() -> Self {
        Self {
            max_allocations: 1024,
            max_permissions: 64,
            max_channels: 64,
            max_lifetime: Duration::from_secs(3600),
        }
    }
}

/// A UDP TURN server (RFC 8656) as a `tower::Service<TurnRequest>`, to run behind
/// [`turn_auth::TurnAuthLayer`].
///
/// It answers Binding, Allocate, Refresh, CreatePermission and ChannelBind requests, relays
/// Send indications and ChannelData to peers from a relay socket per allocation, and relays
/// what peers send back to the client — as ChannelData when a channel is bound, else as Data
/// indications — from the main socket. Authenticated requests get responses signed with the
/// user's key ([`Authenticated::success`], [`Authenticated::error`]).
///
/// Clones share the same state. Every call is answered at once (the future is ready), so
/// datagrams of one client are handled in the order they are called.
#[derive(Clone)]
pub struct TurnServer {
    inner: Arc<Inner>,
}

struct Inner {
    /// The listening socket: what relayed data reaches clients from.
    socket: Arc<UdpSocket>,
    /// The listening address: never a peer, so a relay cannot talk to the server itself.
    listen: SocketAddr,
    relay_ip: IpAddr,
    limits: Limits,
    allocations: Mutex<HashMap<FiveTuple, Allocation>>,
}

impl fmt::Debug for TurnServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnServer")
            .field("relay_ip", &self.inner.relay_ip)
            .field("limits", &self.inner.limits)
            .field("allocations", &self.allocations())
            .finish_non_exhaustive()
    }
}

/// One allocation. Dropping it stops its relay reader.
struct Allocation {
    /// The Allocate request's, to recognise its retransmissions.
    transaction_id: TransactionId,
    username: Box<str>,
    relay: Arc<UdpSocket>,
    relay_addr: SocketAddr,
    /// Shared with the relay reader.
    state: Arc<Mutex<AllocationState>>,
    reader: AbortHandle,
}

impl Drop for Allocation {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

struct AllocationState {
    expires: Instant,
    /// Peer IP → when the permission expires.
    permissions: HashMap<IpAddr, Instant>,
    channels: HashMap<u16, Channel>,
    channel_of_peer: HashMap<SocketAddr, u16>,
}

struct Channel {
    peer: SocketAddr,
    expires: Instant,
}

impl AllocationState {
    fn live(&self, now: Instant) -> bool {
        now < self.expires
    }

    fn permitted(&self, ip: IpAddr, now: Instant) -> bool {
        self.permissions.get(&ip).is_some_and(|&until| now < until)
    }

    fn peer_of(&self, channel: u16, now: Instant) -> Option<SocketAddr> {
        self.channels
            .get(&channel)
            .filter(|c| now < c.expires)
            .map(|c| c.peer)
    }

    fn channel_of(&self, peer: SocketAddr, now: Instant) -> Option<u16> {
        let channel = *self.channel_of_peer.get(&peer)?;
        self.peer_of(channel, now).map(|_| channel)
    }

    fn permit(&mut self, ip: IpAddr, now: Instant) {
        let until = now + PERMISSION_LIFETIME;
        self.permissions
            .entry(ip)
            .and_modify(|t| *t = (*t).max(until))
            .or_insert(until);
    }

    /// Forgets expired permissions and channels.
    fn prune(&mut self, now: Instant) {
        self.permissions.retain(|_, until| now < *until);
        let channel_of_peer = &mut self.channel_of_peer;
        self.channels.retain(|_, c| {
            let keep = now < c.expires;
            if !keep {
                channel_of_peer.remove(&c.peer);
            }
            keep
        });
    }
}

/// An error response: code and reason phrase.
#[derive(Debug, Clone, Copy)]
struct Refusal(u16, &'static str);

const BAD_REQUEST: Refusal = Refusal(400, "Bad Request");
const ALLOCATION_MISMATCH: Refusal = Refusal(437, "Allocation Mismatch");
const ADDRESS_FAMILY_NOT_SUPPORTED: Refusal = Refusal(440, "Address Family not Supported");
const FORBIDDEN: Refusal = Refusal(403, "Forbidden");
const WRONG_CREDENTIALS: Refusal = Refusal(441, "Wrong Credentials");
const UNSUPPORTED_TRANSPORT: Refusal = Refusal(442, "Unsupported Transport Protocol");
const PEER_ADDRESS_FAMILY_MISMATCH: Refusal = Refusal(443, "Peer Address Family Mismatch");
const QUOTA_REACHED: Refusal = Refusal(486, "Allocation Quota Reached");
const INSUFFICIENT_CAPACITY: Refusal = Refusal(508, "Insufficient Capacity");

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the state consistent, so a panic elsewhere while a
    // lock was held is no reason to stop relaying.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn seconds(lifetime: Duration) -> u32 {
    u32::try_from(lifetime.as_secs()).unwrap_or(u32::MAX)
}

impl TurnServer {
    /// A server that relays for clients of `socket` (the listening socket) from relay sockets
    /// bound on the same IP, within `limits`. Starts a task sweeping expired state every
    /// [`SWEEP_INTERVAL`]; it ends when the last clone of the server is dropped.
    ///
    /// # Errors
    ///
    /// When the socket's local address cannot be read.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn new(socket: Arc<UdpSocket>, limits: Limits) -> std::io::Result<Self> {
        let listen = socket.local_addr()?;
        let inner = Arc::new(Inner {
            socket,
            listen,
            relay_ip: listen.ip(),
            limits,
            allocations: Mutex::new(HashMap::new()),
        });
        tokio::spawn(sweep_forever(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// How many allocations exist (expired ones count until the next sweep).
    pub fn allocations(&self) -> usize {
        lock(&self.inner.allocations).len()
    }

    /// Removes expired allocations (stopping their relays), permissions and channels.
    /// Returns how many allocations were removed.
    pub fn sweep(&self) -> usize {
        self.inner.sweep(Instant::now())
    }

    fn handle(&self, request: TurnRequest, now: Instant) -> Option<Bytes> {
        let TurnRequest { request, auth } = request;
        let five_tuple = request.five_tuple;
        let data = &request.data[..];
        if !Message::is_stun(data) {
            if let Ok(ChannelData {
                channel,
                data: payload,
            }) = ChannelData::parse(data)
            {
                self.inner.channel_data(five_tuple, channel, payload, now);
            }
            return None;
        }
        let message = Message::parse(data).ok()?;
        match (message.class(), auth) {
            (Class::Request, Some(auth)) => {
                let reply = self.inner.request(&message, &auth, five_tuple, now);
                Some(reply.unwrap_or_else(|Refusal(code, reason)| {
                    tracing::debug!(client = %five_tuple.client, method = %message.method(), code, reason, "refused");
                    auth.error(&message, code, reason)
                }))
            }
            (Class::Request, None) if message.method() == Method::BINDING => {
                let response = MessageBuilder::response_to(&message, Class::SuccessResponse)
                    .xor_mapped_address(five_tuple.client);
                let response = if message.has_fingerprint() {
                    response.fingerprint()
                } else {
                    response
                };
                Some(response.into_bytes())
            }
            (Class::Indication, _) if message.method() == Method::SEND => {
                self.inner.send_indication(&message, five_tuple, now);
                None
            }
            // The layer authenticates every other request; anything else is not ours.
            _ => None,
        }
    }
}

impl Service<TurnRequest> for TurnServer {
    type Response = Option<Bytes>;
    type Error = Infallible;
    type Future = Ready<Result<Option<Bytes>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: TurnRequest) -> Self::Future {
        ready(Ok(self.handle(request, Instant::now())))
    }
}

impl Inner {
    fn request(
        &self,
        message: &Message<'_>,
        auth: &Authenticated,
        five_tuple: FiveTuple,
        now: Instant,
    ) -> Result<Bytes, Refusal> {
        match message.method() {
            Method::BINDING => {
                Ok(auth.success(message, |b| b.xor_mapped_address(five_tuple.client)))
            }
            Method::ALLOCATE => self.allocate(message, auth, five_tuple, now),
            Method::REFRESH => self.refresh(message, auth, five_tuple, now),
            Method::CREATE_PERMISSION => self.create_permission(message, auth, five_tuple, now),
            Method::CHANNEL_BIND => self.channel_bind(message, auth, five_tuple, now),
            _ => Err(BAD_REQUEST),
        }
    }

    /// The lifetime to grant for a requested LIFETIME: the default when absent, never more
    /// than the maximum.
    fn lifetime(&self, requested: Option<u32>) -> Duration {
        requested
            .map_or(DEFAULT_ALLOCATION_LIFETIME, |s| {
                Duration::from_secs(s.into())
            })
            .min(self.limits.max_lifetime)
    }

    fn allocate(
        &self,
        message: &Message<'_>,
        auth: &Authenticated,
        five_tuple: FiveTuple,
        now: Instant,
    ) -> Result<Bytes, Refusal> {
        let client = five_tuple.client;
        let mut allocations = lock(&self.allocations);
        if let Some(existing) = allocations.get(&five_tuple) {
            let expires = lock(&existing.state).expires;
            if now < expires {
                if existing.transaction_id != message.transaction_id() {
                    return Err(ALLOCATION_MISMATCH);
                }
                // A retransmission of the request that created it: the same answer again.
                let relay_addr = existing.relay_addr;
                let remaining = seconds((expires - now).max(Duration::from_secs(1)));
                return Ok(auth.success(message, |b| {
                    b.xor_relayed_address(relay_addr)
                        .xor_mapped_address(client)
                        .lifetime(remaining)
                }));
            }
            allocations.remove(&five_tuple);
        }

        match message.get(AttrType::REQUESTED_TRANSPORT) {
            Some([UDP, _, _, _]) => {}
            Some([_, _, _, _]) => return Err(UNSUPPORTED_TRANSPORT),
            _ => return Err(BAD_REQUEST),
        }
        if let Some(family) = message.get(AttrType::REQUESTED_ADDRESS_FAMILY) {
            let wanted_v6 = match family {
                [0x01, _, _, _] => false,
                [0x02, _, _, _] => true,
                _ => return Err(BAD_REQUEST),
            };
            if wanted_v6 != self.relay_ip.is_ipv6() {
                return Err(ADDRESS_FAMILY_NOT_SUPPORTED);
            }
        }
        // No port reservations here: a token can only be one this server never issued, and
        // a request to reserve the next port cannot be honoured (RFC 8656 §7.2: 508).
        if message.get(AttrType::RESERVATION_TOKEN).is_some() {
            return Err(INSUFFICIENT_CAPACITY);
        }
        let even_port = match message.get(AttrType::EVEN_PORT) {
            None => false,
            Some([flags]) if flags & 0x80 == 0 => true,
            Some([_]) => return Err(INSUFFICIENT_CAPACITY),
            Some(_) => return Err(BAD_REQUEST),
        };
        // DONT-FRAGMENT is accepted and ignored: loopback and LAN relays do not fragment.

        if allocations.len() >= self.limits.max_allocations {
            allocations.retain(|_, a| lock(&a.state).live(now));
            if allocations.len() >= self.limits.max_allocations {
                tracing::warn!(%client, max = self.limits.max_allocations, "allocation quota reached");
                return Err(QUOTA_REACHED);
            }
        }

        let requested = message.lifetime().filter(|&s| s != 0);
        let lifetime = self.lifetime(requested);
        let relay = match bind_relay(self.relay_ip, even_port) {
            Ok(relay) => Arc::new(relay),
            Err(error) => {
                tracing::warn!(%client, %error, "cannot bind a relay socket");
                return Err(INSUFFICIENT_CAPACITY);
            }
        };
        let relay_addr = relay.local_addr().map_err(|_| INSUFFICIENT_CAPACITY)?;
        let state = Arc::new(Mutex::new(AllocationState {
            expires: now + lifetime,
            permissions: HashMap::new(),
            channels: HashMap::new(),
            channel_of_peer: HashMap::new(),
        }));
        let reader = tokio::spawn(relay_to_client(
            Arc::clone(&relay),
            Arc::clone(&state),
            Arc::clone(&self.socket),
            client,
        ))
        .abort_handle();
        allocations.insert(
            five_tuple,
            Allocation {
                transaction_id: message.transaction_id(),
                username: auth.username().into(),
                relay,
                relay_addr,
                state,
                reader,
            },
        );
        tracing::info!(%client, user = auth.username(), relay = %relay_addr, lifetime_s = lifetime.as_secs(), "allocation created");
        Ok(auth.success(message, |b| {
            b.xor_relayed_address(relay_addr)
                .xor_mapped_address(client)
                .lifetime(seconds(lifetime))
        }))
    }

    fn refresh(
        &self,
        message: &Message<'_>,
        auth: &Authenticated,
        five_tuple: FiveTuple,
        now: Instant,
    ) -> Result<Bytes, Refusal> {
        let mut allocations = lock(&self.allocations);
        let allocation = live(&allocations, &five_tuple, auth, now)?;
        let requested = message.lifetime();
        if requested == Some(0) {
            let relay = allocation.relay_addr;
            allocations.remove(&five_tuple);
            tracing::info!(client = %five_tuple.client, %relay, "allocation deleted");
            return Ok(auth.success(message, |b| b.lifetime(0)));
        }
        let lifetime = self.lifetime(requested);
        lock(&allocation.state).expires = now + lifetime;
        tracing::debug!(client = %five_tuple.client, lifetime_s = lifetime.as_secs(), on_stale_nonce = auth.on_stale_nonce(), "allocation refreshed");
        Ok(auth.success(message, |b| b.lifetime(seconds(lifetime))))
    }

    fn create_permission(
        &self,
        message: &Message<'_>,
        auth: &Authenticated,
        five_tuple: FiveTuple,
        now: Instant,
    ) -> Result<Bytes, Refusal> {
        let allocations = lock(&self.allocations);
        let allocation = live(&allocations, &five_tuple, auth, now)?;
        let transaction_id = message.transaction_id();
        let mut peers = Vec::new();
        for value in message.get_all(AttrType::XOR_PEER_ADDRESS) {
            let peer = decode_xor_address(value, &transaction_id).map_err(|_| BAD_REQUEST)?;
            if peer.is_ipv6() != allocation.relay_addr.is_ipv6() {
                return Err(PEER_ADDRESS_FAMILY_MISMATCH);
            }
            if !peers.contains(&peer.ip()) {
                peers.push(peer.ip());
            }
        }
        if peers.is_empty() {
            return Err(BAD_REQUEST);
        }
        let mut state = lock(&allocation.state);
        state.prune(now);
        let new = peers
            .iter()
            .filter(|ip| !state.permissions.contains_key(ip))
            .count();
        if state.permissions.len() + new > self.limits.max_permissions {
            return Err(INSUFFICIENT_CAPACITY);
        }
        for ip in peers {
            state.permit(ip, now);
        }
        drop(state);
        Ok(auth.success(message, |b| b))
    }

    fn channel_bind(
        &self,
        message: &Message<'_>,
        auth: &Authenticated,
        five_tuple: FiveTuple,
        now: Instant,
    ) -> Result<Bytes, Refusal> {
        let allocations = lock(&self.allocations);
        let allocation = live(&allocations, &five_tuple, auth, now)?;
        let channel = match message.get(AttrType::CHANNEL_NUMBER) {
            Some(&[hi, lo, _, _]) => u16::from_be_bytes([hi, lo]),
            _ => return Err(BAD_REQUEST),
        };
        if !CHANNEL_NUMBERS.contains(&channel) {
            return Err(BAD_REQUEST);
        }
        let peer = message
            .get(AttrType::XOR_PEER_ADDRESS)
            .and_then(|v| decode_xor_address(v, &message.transaction_id()).ok())
            .ok_or(BAD_REQUEST)?;
        if peer.is_ipv6() != allocation.relay_addr.is_ipv6() {
            return Err(PEER_ADDRESS_FAMILY_MISMATCH);
        }
        if peer == self.listen {
            return Err(FORBIDDEN);
        }
        let mut state = lock(&allocation.state);
        state.prune(now);
        // A channel stays with one peer, and a peer with one channel (RFC 8656 §12.2).
        if state.channels.get(&channel).is_some_and(|c| c.peer != peer)
            || state
                .channel_of_peer
                .get(&peer)
                .is_some_and(|&c| c != channel)
        {
            return Err(BAD_REQUEST);
        }
        let new_channel = !state.channels.contains_key(&channel);
        if new_channel && state.channels.len() >= self.limits.max_channels {
            return Err(INSUFFICIENT_CAPACITY);
        }
        if !state.permissions.contains_key(&peer.ip())
            && state.permissions.len() >= self.limits.max_permissions
        {
            return Err(INSUFFICIENT_CAPACITY);
        }
        let expires = now + CHANNEL_LIFETIME;
        match state.channels.entry(channel) {
            Entry::Occupied(mut e) => e.get_mut().expires = expires,
            Entry::Vacant(e) => {
                e.insert(Channel { peer, expires });
            }
        }
        state.channel_of_peer.insert(peer, channel);
        state.permit(peer.ip(), now);
        drop(state);
        tracing::debug!(client = %five_tuple.client, channel = format_args!("{channel:#06x}"), %peer, "channel bound");
        Ok(auth.success(message, |b| b))
    }

    /// A Send indication: DATA to XOR-PEER-ADDRESS, if the peer is permitted.
    fn send_indication(&self, message: &Message<'_>, five_tuple: FiveTuple, now: Instant) {
        let (Some(peer), Some(data)) = (
            message.get(AttrType::XOR_PEER_ADDRESS),
            message.get(AttrType::DATA),
        ) else {
            return;
        };
        let Ok(peer) = decode_xor_address(peer, &message.transaction_id()) else {
            return;
        };
        if peer == self.listen {
            return;
        }
        let relay = {
            let allocations = lock(&self.allocations);
            let Some(allocation) = allocations.get(&five_tuple) else {
                return;
            };
            let state = lock(&allocation.state);
            if !state.live(now) || !state.permitted(peer.ip(), now) {
                return;
            }
            Arc::clone(&allocation.relay)
        };
        send_or_drop(&relay, data, peer);
    }

    /// ChannelData: to the channel's peer, if bound.
    fn channel_data(&self, five_tuple: FiveTuple, channel: u16, data: &[u8], now: Instant) {
        let (relay, peer) = {
            let allocations = lock(&self.allocations);
            let Some(allocation) = allocations.get(&five_tuple) else {
                return;
            };
            let state = lock(&allocation.state);
            let Some(peer) = state.peer_of(channel, now) else {
                return;
            };
            if !state.live(now) || !state.permitted(peer.ip(), now) {
                return;
            }
            (Arc::clone(&allocation.relay), peer)
        };
        send_or_drop(&relay, data, peer);
    }

    fn sweep(&self, now: Instant) -> usize {
        let mut allocations = lock(&self.allocations);
        let before = allocations.len();
        allocations.retain(|five_tuple, allocation| {
            let mut state = lock(&allocation.state);
            if state.live(now) {
                state.prune(now);
                true
            } else {
                tracing::info!(client = %five_tuple.client, user = &*allocation.username, relay = %allocation.relay_addr, "allocation expired");
                false
            }
        });
        before - allocations.len()
    }
}

/// The live allocation of `five_tuple`, made by the same user.
fn live<'a>(
    allocations: &'a HashMap<FiveTuple, Allocation>,
    five_tuple: &FiveTuple,
    auth: &Authenticated,
    now: Instant,
) -> Result<&'a Allocation, Refusal> {
    let allocation = allocations
        .get(five_tuple)
        .filter(|a| lock(&a.state).live(now))
        .ok_or(ALLOCATION_MISMATCH)?;
    // The layer checks this too, from a table that may have forgotten the allocation.
    if *allocation.username != *auth.username() {
        return Err(WRONG_CREDENTIALS);
    }
    Ok(allocation)
}

fn bind_relay(ip: IpAddr, even_port: bool) -> std::io::Result<UdpSocket> {
    // Binding with the standard library keeps the service synchronous; ports come from the
    // kernel, and an even one is a matter of a few tries.
    let mut last_error = None;
    for _ in 0..if even_port { 32 } else { 1 } {
        let socket = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
        if even_port && socket.local_addr()?.port() % 2 != 0 {
            last_error = Some(std::io::Error::other("no even port found"));
            continue;
        }
        socket.set_nonblocking(true)?;
        return UdpSocket::from_std(socket);
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("no relay port")))
}

fn send_or_drop(socket: &UdpSocket, data: &[u8], to: SocketAddr) {
    // UDP: when the send buffer is full the datagram is lost, as it would be on the wire.
    if let Err(error) = socket.try_send_to(data, to) {
        tracing::debug!(%to, %error, "datagram dropped");
    }
}

/// Reads what peers send to the relay socket and passes it to the client.
async fn relay_to_client(
    relay: Arc<UdpSocket>,
    state: Arc<Mutex<AllocationState>>,
    socket: Arc<UdpSocket>,
    client: SocketAddr,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, peer) = match relay.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(error) => {
                tracing::debug!(%client, %error, "relay socket error");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let data = &buf[..len];
        let now = Instant::now();
        let framed = {
            let state = lock(&state);
            if !state.live(now) || !state.permitted(peer.ip(), now) {
                tracing::trace!(%client, %peer, "no permission: dropped");
                continue;
            }
            match state.channel_of(peer, now) {
                Some(channel) => encode_channel_data(channel, data),
                None => data_indication(peer, data),
            }
        };
        let Some(framed) = framed else { continue };
        if let Err(error) = socket.send_to(&framed, client).await {
            tracing::debug!(%client, %error, "relayed datagram dropped");
        }
    }
}

fn data_indication(peer: SocketAddr, data: &[u8]) -> Option<Vec<u8>> {
    let mut id = [0u8; 12];
    // Indications are not matched to anything; a failure to get randomness leaves zeros.
    let _ = getrandom::fill(&mut id);
    MessageBuilder::new(Class::Indication, Method::DATA, TransactionId(id))
        .xor_peer_address(peer)
        .try_attribute(AttrType::DATA, data)
        .ok()
        .map(MessageBuilder::build)
}

async fn sweep_forever(inner: Weak<Inner>) {
    let mut interval = tokio::time::interval(SWEEP_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        inner.sweep(Instant::now());
    }
}

#[cfg(test)]
mod tests;
