//! A bounded parser for the first TLS record of a connection: just far enough into the
//! `ClientHello` to read the ids a resumption will look up in the session store.
//!
//! rustls calls its session store synchronously inside the handshake, and its own
//! `ClientHello` view exposes no session id or PSK identity. A prefetching acceptor (see
//! [`crate::acceptor`]) therefore peeks the first record from the socket, reads the ids with
//! [`parse`], fetches those sessions from the shared tier asynchronously, and only then
//! hands the untouched bytes to rustls.
//!
//! What is read:
//!
//! - `legacy_session_id` (0–32 bytes): the TLS 1.2 session id a client resumes with (TLS 1.3
//!   clients usually send 32 random bytes here for middlebox compatibility);
//! - the identities of the TLS 1.3 `pre_shared_key` extension (type 41), i.e. stateful
//!   ticket ids or ticket blobs; the obfuscated ages and the binders are skipped;
//! - the `server_name` (SNI) host name, when it is printable ASCII;
//! - whether `supported_versions` offers TLS 1.3 (then the session id is usually filler).
//!
//! # Bounds
//!
//! The input is untrusted. The parser reads at most one record ([`MAX_RECORD_LEN`] bytes,
//! the 5-byte header plus at most 2^14 bytes), checks every length against the bytes it
//! has, never allocates more than the record holds, keeps at most [`MAX_PSK_IDENTITIES`]
//! identities of at most [`MAX_PSK_IDENTITY_BYTES`] bytes in total, and never panics.
//!
//! A `ClientHello` may in theory be split across several records (TLS allows handshake
//! messages to be fragmented). Clients do not do that in practice, so only the single-record
//! case is parsed; a fragmented one yields [`ClientHelloError::Fragmented`], which an
//! acceptor treats as "no ids": no prefetch, and a plain handshake.
//!
//! # Example
//!
//! ```
//! use tls_resume::client_hello::{parse, ClientHelloError};
//!
//! // Not a TLS handshake record at all:
//! assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Err(ClientHelloError::NotHandshake));
//! // A handshake record header announcing 512 bytes: peek until 5 + 512 are there.
//! assert_eq!(
//!     parse(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]),
//!     Err(ClientHelloError::Truncated { needed: 517 })
//! );
//! ```

use std::fmt;

/// The size of a TLS record header: content type, legacy version, length.
pub const RECORD_HEADER_LEN: usize = 5;

/// The largest record payload a TLS peer may send unprotected: 2^14 bytes (RFC 8446 §5.1).
pub const MAX_RECORD_PAYLOAD: usize = 1 << 14;

/// The most bytes [`parse`] ever needs: one record header and its largest payload.
pub const MAX_RECORD_LEN: usize = RECORD_HEADER_LEN + MAX_RECORD_PAYLOAD;

/// The most PSK identities kept; a `ClientHello` offering more is refused
/// ([`ClientHelloError::TooManyIdentities`]). Real clients offer one or two.
pub const MAX_PSK_IDENTITIES: usize = 16;

/// The most identity bytes kept, summed over all PSK identities; more is refused
/// ([`ClientHelloError::TooManyIdentities`]).
pub const MAX_PSK_IDENTITY_BYTES: usize = 8 * 1024;

/// The longest `legacy_session_id` (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2).
pub const MAX_SESSION_ID_LEN: usize = 32;

const CONTENT_TYPE_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const EXT_PRE_SHARED_KEY: u16 = 41;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const TLS13: [u8; 2] = [3, 4];
const SNI_HOST_NAME: u8 = 0;
/// The longest DNS name (RFC 1035); longer SNI values are ignored, not refused.
const MAX_HOST_NAME_LEN: usize = 253;

/// The resumption ids a `ClientHello` offers, read by [`parse`].
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientHelloIds {
    /// `legacy_session_id`, 0 to 32 bytes. For TLS 1.2 a resumption attempt names the
    /// session here; TLS 1.3 clients usually fill it with random bytes.
    pub session_id: Vec<u8>,
    /// The identities of the `pre_shared_key` extension, in the client's order (at most
    /// [`MAX_PSK_IDENTITIES`]); empty when the extension is absent.
    pub psk_identities: Vec<Vec<u8>>,
    /// The SNI host name, if the client sent one that is printable ASCII and at most 253
    /// bytes long (lower-cased).
    pub server_name: Option<String>,
    /// Whether the `supported_versions` extension offers TLS 1.3. When it does and the
    /// server supports TLS 1.3, the handshake will be TLS 1.3 and `session_id` is only
    /// middlebox-compatibility filler: a prefetcher can skip looking it up.
    pub offers_tls13: bool,
}

impl ClientHelloIds {
    /// Whether the hello names no session at all (no session id, no PSK identity).
    pub fn is_empty(&self) -> bool {
        self.session_id.is_empty() && self.psk_identities.is_empty()
    }
}

// Ids are lookup keys for session secrets; print their sizes only.
impl fmt::Debug for ClientHelloIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let identity_lens: Vec<usize> = self.psk_identities.iter().map(Vec::len).collect();
        f.debug_struct("ClientHelloIds")
            .field("session_id_len", &self.session_id.len())
            .field("psk_identity_lens", &identity_lens)
            .field("server_name", &self.server_name)
            .finish()
    }
}

/// Why [`parse`] found no ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientHelloError {
    /// The bytes do not start a TLS handshake record (content type 22, version 3.x).
    #[error("not a TLS handshake record")]
    NotHandshake,
    /// A handshake record whose first message is not a `ClientHello`.
    #[error("the first handshake message is not a ClientHello")]
    NotClientHello,
    /// The record is incomplete: at least `needed` bytes in total (from the first byte of
    /// the record) are required. Peek again once that many are available.
    #[error("incomplete record: {needed} bytes needed")]
    Truncated {
        /// The total number of bytes the record needs, at most [`MAX_RECORD_LEN`].
        needed: usize,
    },
    /// The record header announces a payload longer than 2^14 bytes, which TLS forbids.
    #[error("record too large: {len} bytes announced")]
    RecordTooLarge {
        /// The announced payload length.
        len: usize,
    },
    /// The `ClientHello` continues in a following record. Legal but not seen from real
    /// clients; treat as "no ids" (a plain handshake).
    #[error("the ClientHello spans several records")]
    Fragmented,
    /// More PSK identities than [`MAX_PSK_IDENTITIES`], or more identity bytes than
    /// [`MAX_PSK_IDENTITY_BYTES`].
    #[error("too many PSK identities")]
    TooManyIdentities,
    /// A length or field is inconsistent; the text names which.
    #[error("malformed ClientHello: {0}")]
    Malformed(&'static str),
}

/// Parses the first TLS record in `buf` (bytes after it are ignored) and returns the
/// resumption ids of the `ClientHello` it holds.
///
/// # Errors
///
/// See [`ClientHelloError`]; [`ClientHelloError::Truncated`] says how many bytes to peek
/// before trying again. Every other error is final for this record.
pub fn parse(buf: &[u8]) -> Result<ClientHelloIds, ClientHelloError> {
    if let Some(&content_type) = buf.first() {
        if content_type != CONTENT_TYPE_HANDSHAKE {
            return Err(ClientHelloError::NotHandshake);
        }
    }
    if let Some(&major) = buf.get(1) {
        if major != 3 {
            return Err(ClientHelloError::NotHandshake);
        }
    }
    let Some(header) = buf.get(..RECORD_HEADER_LEN) else {
        return Err(ClientHelloError::Truncated {
            needed: RECORD_HEADER_LEN,
        });
    };
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    if len > MAX_RECORD_PAYLOAD {
        return Err(ClientHelloError::RecordTooLarge { len });
    }
    if len == 0 {
        return Err(ClientHelloError::Malformed("empty record"));
    }
    let needed = RECORD_HEADER_LEN + len;
    let Some(payload) = buf.get(RECORD_HEADER_LEN..needed) else {
        return Err(ClientHelloError::Truncated { needed });
    };
    let mut record = Reader::new(payload);
    let msg_type = record.u8().ok_or(ClientHelloError::Fragmented)?;
    if msg_type != HANDSHAKE_CLIENT_HELLO {
        return Err(ClientHelloError::NotClientHello);
    }
    let body_len = record.u24().ok_or(ClientHelloError::Fragmented)?;
    let body = record.take(body_len).ok_or(ClientHelloError::Fragmented)?;
    parse_body(body)
}

fn parse_body(body: &[u8]) -> Result<ClientHelloIds, ClientHelloError> {
    let mut r = Reader::new(body);
    r.take(2 + 32)
        .ok_or(ClientHelloError::Malformed("version and random"))?;
    let session_id = r
        .vec_u8()
        .ok_or(ClientHelloError::Malformed("session id length"))?;
    if session_id.len() > MAX_SESSION_ID_LEN {
        return Err(ClientHelloError::Malformed(
            "session id longer than 32 bytes",
        ));
    }
    let suites = r
        .vec_u16()
        .ok_or(ClientHelloError::Malformed("cipher suites length"))?;
    if suites.is_empty() || suites.len() % 2 != 0 {
        return Err(ClientHelloError::Malformed("cipher suites"));
    }
    let compression = r
        .vec_u8()
        .ok_or(ClientHelloError::Malformed("compression methods length"))?;
    if compression.is_empty() {
        return Err(ClientHelloError::Malformed("compression methods"));
    }
    let mut ids = ClientHelloIds {
        session_id: session_id.to_vec(),
        ..ClientHelloIds::default()
    };
    if r.is_empty() {
        // A TLS 1.2 ClientHello may omit the extensions block entirely.
        return Ok(ids);
    }
    let extensions = r
        .vec_u16()
        .ok_or(ClientHelloError::Malformed("extensions length"))?;
    if !r.is_empty() {
        return Err(ClientHelloError::Malformed("bytes after the extensions"));
    }
    let mut r = Reader::new(extensions);
    let (mut seen_sni, mut seen_psk, mut seen_versions) = (false, false, false);
    while !r.is_empty() {
        let ext_type = r
            .u16()
            .ok_or(ClientHelloError::Malformed("extension header"))?;
        let data = r
            .vec_u16()
            .ok_or(ClientHelloError::Malformed("extension length"))?;
        if seen_psk {
            // RFC 8446 §4.2.11: pre_shared_key must be the last extension.
            return Err(ClientHelloError::Malformed("pre_shared_key is not last"));
        }
        match ext_type {
            EXT_SERVER_NAME => {
                if std::mem::replace(&mut seen_sni, true) {
                    return Err(ClientHelloError::Malformed("duplicate server_name"));
                }
                ids.server_name = parse_sni(data)?;
            }
            EXT_SUPPORTED_VERSIONS => {
                if std::mem::replace(&mut seen_versions, true) {
                    return Err(ClientHelloError::Malformed("duplicate supported_versions"));
                }
                ids.offers_tls13 = parse_versions(data)?;
            }
            EXT_PRE_SHARED_KEY => {
                seen_psk = true;
                ids.psk_identities = parse_psk(data)?;
            }
            _ => {}
        }
    }
    Ok(ids)
}

fn parse_sni(data: &[u8]) -> Result<Option<String>, ClientHelloError> {
    let mut r = Reader::new(data);
    let list = r
        .vec_u16()
        .ok_or(ClientHelloError::Malformed("server_name list length"))?;
    if !r.is_empty() {
        return Err(ClientHelloError::Malformed(
            "bytes after the server_name list",
        ));
    }
    let mut r = Reader::new(list);
    let mut host = None;
    while !r.is_empty() {
        let name_type = r
            .u8()
            .ok_or(ClientHelloError::Malformed("server_name type"))?;
        let name = r
            .vec_u16()
            .ok_or(ClientHelloError::Malformed("server_name length"))?;
        let printable = name.iter().all(|b| b.is_ascii_graphic());
        if name_type == SNI_HOST_NAME
            && host.is_none()
            && !name.is_empty()
            && name.len() <= MAX_HOST_NAME_LEN
            && printable
        {
            host = Some(String::from_utf8_lossy(name).to_ascii_lowercase());
        }
    }
    Ok(host)
}

fn parse_versions(data: &[u8]) -> Result<bool, ClientHelloError> {
    let mut r = Reader::new(data);
    let list = r
        .vec_u8()
        .ok_or(ClientHelloError::Malformed("supported_versions length"))?;
    if !r.is_empty() || list.is_empty() || list.len() % 2 != 0 {
        return Err(ClientHelloError::Malformed("supported_versions"));
    }
    Ok(list.chunks_exact(2).any(|v| v == TLS13))
}

fn parse_psk(data: &[u8]) -> Result<Vec<Vec<u8>>, ClientHelloError> {
    let mut r = Reader::new(data);
    let list = r
        .vec_u16()
        .ok_or(ClientHelloError::Malformed("psk identities length"))?;
    let binders = r
        .vec_u16()
        .ok_or(ClientHelloError::Malformed("psk binders length"))?;
    if !r.is_empty() {
        return Err(ClientHelloError::Malformed("bytes after the psk binders"));
    }
    if list.is_empty() || binders.is_empty() {
        return Err(ClientHelloError::Malformed(
            "empty psk identities or binders",
        ));
    }
    let mut r = Reader::new(list);
    let mut identities = Vec::new();
    let mut total = 0usize;
    while !r.is_empty() {
        let identity = r
            .vec_u16()
            .ok_or(ClientHelloError::Malformed("psk identity length"))?;
        r.take(4)
            .ok_or(ClientHelloError::Malformed("obfuscated ticket age"))?;
        if identity.is_empty() {
            return Err(ClientHelloError::Malformed("empty psk identity"));
        }
        total += identity.len();
        if identities.len() == MAX_PSK_IDENTITIES || total > MAX_PSK_IDENTITY_BYTES {
            return Err(ClientHelloError::TooManyIdentities);
        }
        identities.push(identity.to_vec());
    }
    Ok(identities)
}

/// A cursor over untrusted bytes: every read is checked, none panics.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }

    fn vec_u8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    fn vec_u16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Builds a record holding a ClientHello with the given session id and extensions.
    fn hello(session_id: &[u8], extensions: Option<&[u8]>) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(session_id.len() as u8);
        body.extend_from_slice(session_id);
        body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        if let Some(ext) = extensions {
            body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
            body.extend_from_slice(ext);
        }
        let mut msg = vec![HANDSHAKE_CLIENT_HELLO];
        msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        msg.extend_from_slice(&body);
        let mut record = vec![CONTENT_TYPE_HANDSHAKE, 3, 1];
        record.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        record.extend_from_slice(&msg);
        record
    }

    fn ext(ext_type: u16, data: &[u8]) -> Vec<u8> {
        let mut out = ext_type.to_be_bytes().to_vec();
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(data);
        out
    }

    fn vec16(data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(data);
        out
    }

    fn psk(identities: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for identity in identities {
            list.extend_from_slice(&vec16(identity));
            list.extend_from_slice(&[0, 0, 0, 9]);
        }
        let mut binder = vec![32];
        binder.extend_from_slice(&[1; 32]);
        let mut data = vec16(&list);
        data.extend_from_slice(&vec16(&binder));
        ext(EXT_PRE_SHARED_KEY, &data)
    }

    fn sni(name: &[u8]) -> Vec<u8> {
        let mut entry = vec![SNI_HOST_NAME];
        entry.extend_from_slice(&vec16(name));
        ext(EXT_SERVER_NAME, &vec16(&entry))
    }

    #[test]
    fn reads_session_id_sni_and_psk_identities() {
        let mut exts = sni(b"Example.COM");
        exts.extend(ext(43, &[4, 3, 4, 3, 3]));
        exts.extend(psk(&[b"ticket-one", b"ticket-two"]));
        let ids = parse(&hello(&[9; 32], Some(&exts))).unwrap();
        assert_eq!(ids.session_id, vec![9; 32]);
        assert_eq!(ids.server_name.as_deref(), Some("example.com"));
        assert_eq!(
            ids.psk_identities,
            vec![b"ticket-one".to_vec(), b"ticket-two".to_vec()]
        );
        assert!(ids.offers_tls13);
        assert!(!ids.is_empty());
    }

    #[test]
    fn extensions_are_optional_and_trailing_records_ignored() {
        let mut bytes = hello(&[], None);
        bytes.extend_from_slice(&[0x17, 3, 3, 0, 1, 0]);
        let ids = parse(&bytes).unwrap();
        assert!(ids.is_empty());
        assert_eq!(ids.server_name, None);
    }

    #[test]
    fn truncation_reports_the_total_needed() {
        let bytes = hello(&[1; 32], Some(&psk(&[b"id"])));
        for cut in 0..bytes.len() {
            let needed = if cut < RECORD_HEADER_LEN {
                RECORD_HEADER_LEN
            } else {
                bytes.len()
            };
            assert_eq!(
                parse(&bytes[..cut]),
                Err(ClientHelloError::Truncated { needed }),
                "cut at {cut}"
            );
        }
        assert!(parse(&bytes).is_ok());
    }

    #[test]
    fn refuses_what_is_not_a_single_record_client_hello() {
        assert_eq!(
            parse(&[0x17, 3, 3, 0, 1]),
            Err(ClientHelloError::NotHandshake)
        );
        assert_eq!(parse(&[0x16, 2]), Err(ClientHelloError::NotHandshake));
        assert_eq!(
            parse(&[0x16, 3, 1, 0x40, 0x01]),
            Err(ClientHelloError::RecordTooLarge { len: 0x4001 })
        );
        assert_eq!(
            parse(&[0x16, 3, 1, 0, 4, 2, 0, 0, 0]),
            Err(ClientHelloError::NotClientHello)
        );
        // The message announces more than the record holds.
        assert_eq!(
            parse(&[0x16, 3, 1, 0, 4, 1, 0, 1, 0]),
            Err(ClientHelloError::Fragmented)
        );
        let mut long_id = hello(&[0; 32], None);
        long_id[5 + 4 + 34] = 33;
        assert!(matches!(
            parse(&long_id),
            Err(ClientHelloError::Malformed(_))
        ));
    }

    #[test]
    fn caps_psk_identities() {
        let many: Vec<&[u8]> = vec![b"x"; MAX_PSK_IDENTITIES + 1];
        assert_eq!(
            parse(&hello(&[], Some(&psk(&many)))),
            Err(ClientHelloError::TooManyIdentities)
        );
        let at_cap: Vec<&[u8]> = vec![b"x"; MAX_PSK_IDENTITIES];
        assert_eq!(
            parse(&hello(&[], Some(&psk(&at_cap))))
                .unwrap()
                .psk_identities
                .len(),
            MAX_PSK_IDENTITIES
        );
        let big = vec![0xAB; MAX_PSK_IDENTITY_BYTES / 2 + 1];
        assert_eq!(
            parse(&hello(&[], Some(&psk(&[&big, &big])))),
            Err(ClientHelloError::TooManyIdentities)
        );
    }

    #[test]
    fn psk_must_be_last_and_sni_unique() {
        let mut exts = psk(&[b"id"]);
        exts.extend(ext(43, &[2, 3, 4]));
        assert!(matches!(
            parse(&hello(&[], Some(&exts))),
            Err(ClientHelloError::Malformed(_))
        ));
        assert!(matches!(
            parse(&hello(&[], Some(&ext(43, &[3, 3, 4])))),
            Err(ClientHelloError::Malformed(_))
        ));
        let mut exts = sni(b"a.example");
        exts.extend(sni(b"b.example"));
        assert!(matches!(
            parse(&hello(&[], Some(&exts))),
            Err(ClientHelloError::Malformed(_))
        ));
    }

    #[test]
    fn debug_hides_the_ids() {
        let exts = psk(&[b"secret-ticket"]);
        let ids = parse(&hello(b"secret-sid", Some(&exts))).unwrap();
        let shown = format!("{ids:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("115"),
            "{shown}"
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_handshake_shaped_bytes(
            len in 0u16..0x4100,
            body in proptest::collection::vec(any::<u8>(), 0..1024),
        ) {
            let mut bytes = vec![CONTENT_TYPE_HANDSHAKE, 3, 1];
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.push(HANDSHAKE_CLIENT_HELLO);
            bytes.extend_from_slice(&body);
            let result = parse(&bytes);
            if let Err(ClientHelloError::Truncated { needed }) = result {
                prop_assert!(needed <= MAX_RECORD_LEN && needed > bytes.len());
            }
        }

        #[test]
        fn round_trips_built_hellos(
            session_id in proptest::collection::vec(any::<u8>(), 0..=32),
            identities in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 1..64), 0..=MAX_PSK_IDENTITIES),
        ) {
            let refs: Vec<&[u8]> = identities.iter().map(Vec::as_slice).collect();
            let exts = if refs.is_empty() { sni(b"localhost") } else { psk(&refs) };
            let ids = parse(&hello(&session_id, Some(&exts))).unwrap();
            prop_assert_eq!(ids.session_id, session_id);
            prop_assert_eq!(ids.psk_identities, identities);
        }
    }
}
