//! [`MessageBuilder`]: encodes the messages an authenticator or TURN server sends.

use std::net::SocketAddr;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

use super::attribute::{AttrType, PasswordAlgorithm, encode_xor_address, padded};
use super::error::BuildError;
use super::header::{
    Class, HEADER_LEN, MAGIC_COOKIE, MAX_MESSAGE_LEN, Method, TransactionId, message_type,
};
use super::message::{ATTR_HEADER_LEN, FINGERPRINT_LEN, FINGERPRINT_XOR, INTEGRITY_LEN, Message};

/// Encodes one STUN message, attribute by attribute.
///
/// Attributes are written in call order, each padded with zeros to a multiple of 4, and the
/// header's Length field is kept up to date, so [`build`](Self::build) is free. Integrity and
/// fingerprint attributes cover everything added before them, so add them last, in the order
/// RFC 8489 requires: [`message_integrity`](Self::message_integrity), then
/// [`message_integrity_sha256`](Self::message_integrity_sha256), then
/// [`fingerprint`](Self::fingerprint).
///
/// Text values (USERNAME, REALM, NONCE, SOFTWARE, reason phrases) are written as given; keeping
/// them within the RFC limits (fewer than 128 characters, 509 bytes) is the caller's job.
///
/// # Panics
///
/// Adding anything after [`fingerprint`](Self::fingerprint) panics: FINGERPRINT must be last,
/// and a message with something after it would not parse. Adding a value that does not fit
/// (see [`try_attribute`](Self::try_attribute)) panics too.
#[derive(Clone, Debug)]
#[must_use]
pub struct MessageBuilder {
    buf: Vec<u8>,
    has_fingerprint: bool,
}

impl MessageBuilder {
    /// A message of `class` and `method` with `transaction_id` and no attributes.
    pub fn new(class: Class, method: Method, transaction_id: TransactionId) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&message_type(class, method).to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        buf.extend_from_slice(&transaction_id.0);
        MessageBuilder {
            buf,
            has_fingerprint: false,
        }
    }

    /// A response of `class` to `request`: the same method and transaction ID.
    pub fn response_to(request: &Message<'_>, class: Class) -> Self {
        Self::new(class, request.method(), request.transaction_id())
    }

    /// The message's length so far, in bytes.
    pub fn encoded_len(&self) -> usize {
        self.buf.len()
    }

    /// The transaction ID the builder was created with.
    pub fn transaction_id(&self) -> TransactionId {
        let mut id = [0u8; 12];
        id.copy_from_slice(&self.buf[8..HEADER_LEN]);
        TransactionId(id)
    }

    /// Adds an attribute of type `t` with `value`, padded with zeros.
    ///
    /// # Panics
    ///
    /// After [`fingerprint`](Self::fingerprint), or when the value does not fit (more than
    /// 65535 bytes, or the message would exceed [`MAX_MESSAGE_LEN`]); use
    /// [`try_attribute`](Self::try_attribute) for values of untrusted size.
    pub fn attribute(self, t: AttrType, value: &[u8]) -> Self {
        self.attribute_padded_with(t, value, 0)
    }

    /// Like [`attribute`](Self::attribute), with padding bytes of `pad` instead of zeros.
    ///
    /// RFC 8489 says padding is zero on sending and ignored on receipt; some stacks (and the
    /// RFC 5769 test vectors) pad with spaces, and this reproduces them byte for byte.
    ///
    /// # Panics
    ///
    /// As [`attribute`](Self::attribute).
    pub fn attribute_padded_with(mut self, t: AttrType, value: &[u8], pad: u8) -> Self {
        if let Err(e) = self.push(t, value, pad) {
            panic!("cannot add {t} to a STUN message: {e}");
        }
        self
    }

    /// Adds an attribute, or says why it does not fit (the builder is consumed either way).
    ///
    /// # Errors
    ///
    /// [`BuildError::ValueTooLong`] above 65535 bytes; [`BuildError::MessageTooLong`] when the
    /// message would exceed [`MAX_MESSAGE_LEN`].
    ///
    /// # Panics
    ///
    /// After [`fingerprint`](Self::fingerprint).
    pub fn try_attribute(mut self, t: AttrType, value: &[u8]) -> Result<Self, BuildError> {
        self.push(t, value, 0)?;
        Ok(self)
    }

    fn push(&mut self, t: AttrType, value: &[u8], pad: u8) -> Result<(), BuildError> {
        assert!(
            !self.has_fingerprint,
            "{t} added after FINGERPRINT, which must be the last attribute"
        );
        let len = u16::try_from(value.len())
            .map_err(|_| BuildError::ValueTooLong { len: value.len() })?;
        let total = self.buf.len() + ATTR_HEADER_LEN + padded(value.len());
        if total > MAX_MESSAGE_LEN {
            return Err(BuildError::MessageTooLong {
                len: total,
                max: MAX_MESSAGE_LEN,
            });
        }
        self.buf.reserve(total - self.buf.len());
        self.buf.extend_from_slice(&t.0.to_be_bytes());
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(value);
        self.buf.resize(total, pad);
        self.set_length(total);
        Ok(())
    }

    /// Sets the header's Length field for a message of `total` bytes.
    fn set_length(&mut self, total: usize) {
        // `total <= MAX_MESSAGE_LEN`, so the length fits 16 bits.
        let length = (total - HEADER_LEN) as u16;
        self.buf[2..4].copy_from_slice(&length.to_be_bytes());
    }

    /// Adds USERNAME.
    pub fn username(self, username: &str) -> Self {
        self.attribute(AttrType::USERNAME, username.as_bytes())
    }

    /// Adds REALM.
    pub fn realm(self, realm: &str) -> Self {
        self.attribute(AttrType::REALM, realm.as_bytes())
    }

    /// Adds NONCE.
    pub fn nonce(self, nonce: &[u8]) -> Self {
        self.attribute(AttrType::NONCE, nonce)
    }

    /// Adds SOFTWARE.
    pub fn software(self, software: &str) -> Self {
        self.attribute(AttrType::SOFTWARE, software.as_bytes())
    }

    /// Adds LIFETIME, in seconds.
    pub fn lifetime(self, seconds: u32) -> Self {
        self.attribute(AttrType::LIFETIME, &seconds.to_be_bytes())
    }

    /// Adds ERROR-CODE: `code` split into class (hundreds digit) and number, then `reason`.
    ///
    /// # Panics
    ///
    /// If `code` is not in 300..=699, the range RFC 8489 §14.8 allows.
    pub fn error_code(self, code: u16, reason: &str) -> Self {
        assert!(
            (300..=699).contains(&code),
            "STUN error codes are 300-699, not {code}"
        );
        let mut value = Vec::with_capacity(4 + reason.len());
        // Both fit a byte: the class is 3..=6 and the number 0..=99.
        value.extend_from_slice(&[0, 0, (code / 100) as u8, (code % 100) as u8]);
        value.extend_from_slice(reason.as_bytes());
        self.attribute(AttrType::ERROR_CODE, &value)
    }

    /// Adds UNKNOWN-ATTRIBUTES listing `types` (for a 420 response).
    pub fn unknown_attributes(self, types: &[AttrType]) -> Self {
        let value: Vec<u8> = types.iter().flat_map(|t| t.0.to_be_bytes()).collect();
        self.attribute(AttrType::UNKNOWN_ATTRIBUTES, &value)
    }

    /// Adds PASSWORD-ALGORITHMS listing `algorithms`, each with empty parameters (MD5 and
    /// SHA-256 take none).
    pub fn password_algorithms(self, algorithms: &[PasswordAlgorithm]) -> Self {
        let value: Vec<u8> = algorithms
            .iter()
            .flat_map(|a| {
                let [hi, lo] = a.wire().to_be_bytes();
                [hi, lo, 0, 0]
            })
            .collect();
        self.attribute(AttrType::PASSWORD_ALGORITHMS, &value)
    }

    /// Adds PASSWORD-ALGORITHM with empty parameters.
    pub fn password_algorithm(self, algorithm: PasswordAlgorithm) -> Self {
        let [hi, lo] = algorithm.wire().to_be_bytes();
        self.attribute(AttrType::PASSWORD_ALGORITHM, &[hi, lo, 0, 0])
    }

    /// Adds XOR-MAPPED-ADDRESS (the client's reflexive address).
    pub fn xor_mapped_address(self, addr: SocketAddr) -> Self {
        self.xor_address(AttrType::XOR_MAPPED_ADDRESS, addr)
    }

    /// Adds XOR-RELAYED-ADDRESS (the allocation's relayed address).
    pub fn xor_relayed_address(self, addr: SocketAddr) -> Self {
        self.xor_address(AttrType::XOR_RELAYED_ADDRESS, addr)
    }

    /// Adds XOR-PEER-ADDRESS.
    pub fn xor_peer_address(self, addr: SocketAddr) -> Self {
        self.xor_address(AttrType::XOR_PEER_ADDRESS, addr)
    }

    /// Adds an attribute of type `t` holding `addr` XOR-encoded with this message's
    /// transaction ID (RFC 8489 §14.2).
    pub fn xor_address(self, t: AttrType, addr: SocketAddr) -> Self {
        let (value, len) = encode_xor_address(addr, &self.transaction_id());
        self.attribute(t, &value[..len])
    }

    /// Appends MESSAGE-INTEGRITY: HMAC-SHA1 with `key` over everything added so far.
    pub fn message_integrity(self, key: &[u8]) -> Self {
        let keyed = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
        self.message_integrity_with(&keyed)
    }

    /// [`message_integrity`](Self::message_integrity) with an HMAC state already keyed
    /// (cloned, never consumed).
    pub fn message_integrity_with(mut self, keyed: &Hmac<Sha1>) -> Self {
        let mac = self.mac_with_adjusted_length(keyed.clone(), INTEGRITY_LEN);
        self.attribute(AttrType::MESSAGE_INTEGRITY, &mac[..INTEGRITY_LEN])
    }

    /// Appends MESSAGE-INTEGRITY-SHA256 (the full 32 bytes): HMAC-SHA256 with `key` over
    /// everything added so far.
    pub fn message_integrity_sha256(self, key: &[u8]) -> Self {
        let keyed = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
        self.message_integrity_sha256_with(&keyed)
    }

    /// [`message_integrity_sha256`](Self::message_integrity_sha256) with an HMAC state
    /// already keyed (cloned, never consumed).
    pub fn message_integrity_sha256_with(mut self, keyed: &Hmac<Sha256>) -> Self {
        let mac = self.mac_with_adjusted_length(keyed.clone(), 32);
        self.attribute(AttrType::MESSAGE_INTEGRITY_SHA256, &mac[..])
    }

    /// The MAC of the message so far, with the Length field set to include a following
    /// attribute of `value_len` bytes.
    fn mac_with_adjusted_length<M: Mac>(&mut self, mut mac: M, value_len: usize) -> [u8; 32] {
        assert!(
            !self.has_fingerprint,
            "integrity added after FINGERPRINT, which must be the last attribute"
        );
        self.set_length(self.buf.len() + ATTR_HEADER_LEN + value_len);
        mac.update(&self.buf);
        let len = self.buf.len();
        self.set_length(len);
        let tag = mac.finalize().into_bytes();
        let mut out = [0u8; 32];
        out[..tag.len()].copy_from_slice(&tag);
        out
    }

    /// Appends FINGERPRINT: CRC-32 of everything so far (with the Length field covering
    /// FINGERPRINT) XOR 0x5354554e. Nothing can be added afterwards.
    pub fn fingerprint(mut self) -> Self {
        assert!(!self.has_fingerprint, "FINGERPRINT added twice");
        self.set_length(self.buf.len() + ATTR_HEADER_LEN + FINGERPRINT_LEN);
        let crc = crc32fast::hash(&self.buf) ^ FINGERPRINT_XOR;
        let len = self.buf.len();
        self.set_length(len);
        let mut this = self.attribute(AttrType::FINGERPRINT, &crc.to_be_bytes());
        this.has_fingerprint = true;
        this
    }

    /// The encoded message.
    pub fn build(self) -> Vec<u8> {
        self.buf
    }

    /// The encoded message as [`Bytes`](bytes::Bytes), for sending without another copy.
    pub fn into_bytes(self) -> bytes::Bytes {
        bytes::Bytes::from(self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXID: TransactionId = TransactionId([1; 12]);

    #[test]
    fn header_and_padding() {
        let m = MessageBuilder::new(Class::ErrorResponse, Method::ALLOCATE, TXID)
            .realm("abcde")
            .build();
        assert_eq!(&m[..4], &[0x01, 0x13, 0x00, 0x0c]);
        assert_eq!(&m[20..], b"\x00\x14\x00\x05abcde\0\0\0");
        let m = MessageBuilder::new(Class::Request, Method::BINDING, TXID)
            .attribute_padded_with(AttrType::SOFTWARE, b"x", b' ')
            .build();
        assert_eq!(&m[24..], b"x   ");
    }

    #[test]
    fn error_code_encoding() {
        let m = MessageBuilder::new(Class::ErrorResponse, Method::REFRESH, TXID)
            .error_code(438, "Stale Nonce")
            .build();
        assert_eq!(&m[24..28], &[0, 0, 4, 38]);
        let parsed = Message::parse(&m).unwrap();
        assert_eq!(parsed.error_code(), Ok(Some((438, "Stale Nonce"))));
    }

    #[test]
    #[should_panic(expected = "300-699")]
    fn error_code_out_of_range_panics() {
        let _ =
            MessageBuilder::new(Class::ErrorResponse, Method::REFRESH, TXID).error_code(200, "");
    }

    #[test]
    #[should_panic(expected = "after FINGERPRINT")]
    fn nothing_after_fingerprint() {
        let _ = MessageBuilder::new(Class::Request, Method::BINDING, TXID)
            .fingerprint()
            .lifetime(1);
    }

    #[test]
    fn oversized_values_are_refused_without_panicking() {
        let b = MessageBuilder::new(Class::Indication, Method::DATA, TXID);
        assert_eq!(
            b.clone()
                .try_attribute(AttrType::DATA, &vec![0; 65536])
                .unwrap_err(),
            BuildError::ValueTooLong { len: 65536 }
        );
        let b = b.try_attribute(AttrType::DATA, &vec![0; 65000]).unwrap();
        assert_eq!(
            b.try_attribute(AttrType::DATA, &[0; 600]).unwrap_err(),
            BuildError::MessageTooLong {
                len: 20 + 65004 + 604,
                max: MAX_MESSAGE_LEN
            }
        );
        // The largest message that fits parses.
        let m = MessageBuilder::new(Class::Indication, Method::DATA, TXID)
            .attribute(AttrType::DATA, &vec![0; 0xFFFC - 4])
            .build();
        assert_eq!(m.len(), MAX_MESSAGE_LEN);
        assert!(Message::parse(&m).is_ok());
    }

    #[test]
    fn response_copies_method_and_transaction_id() {
        let req = MessageBuilder::new(Class::Request, Method::CREATE_PERMISSION, TXID).build();
        let req = Message::parse(&req).unwrap();
        let resp = MessageBuilder::response_to(&req, Class::SuccessResponse).build();
        let resp = Message::parse(&resp).unwrap();
        assert_eq!(resp.class(), Class::SuccessResponse);
        assert_eq!(resp.method(), Method::CREATE_PERMISSION);
        assert_eq!(resp.transaction_id(), TXID);
    }

    #[test]
    fn list_attributes() {
        let m = MessageBuilder::new(Class::ErrorResponse, Method::ALLOCATE, TXID)
            .unknown_attributes(&[AttrType(0x0024), AttrType(0x7777), AttrType(0x0001)])
            .password_algorithms(&[PasswordAlgorithm::Sha256, PasswordAlgorithm::Md5])
            .password_algorithm(PasswordAlgorithm::Sha256)
            .build();
        let m = Message::parse(&m).unwrap();
        assert_eq!(
            m.get(AttrType::UNKNOWN_ATTRIBUTES),
            Some(&[0x00, 0x24, 0x77, 0x77, 0x00, 0x01][..])
        );
        let algs: Vec<_> = m.password_algorithms().unwrap().unwrap().collect();
        assert_eq!(algs, [(2, &[][..]), (1, &[][..])]);
        assert_eq!(m.password_algorithm(), Ok(Some((2, &[][..]))));
    }

    #[test]
    fn integrity_then_sha256_then_fingerprint() {
        let m = MessageBuilder::new(Class::Request, Method::REFRESH, TXID)
            .username("alice")
            .message_integrity(b"key")
            .message_integrity_sha256(b"key256")
            .fingerprint()
            .into_bytes();
        let m = Message::parse(&m).unwrap();
        assert_eq!(m.verify_integrity(b"key"), Some(true));
        assert_eq!(m.verify_integrity(b"key256"), Some(false));
        assert_eq!(m.verify_integrity_sha256(b"key256"), Some(true));
        assert_eq!(m.verify_integrity_sha256(b"key"), Some(false));
        assert_eq!(m.verify_fingerprint(), Some(true));
        assert_eq!(m.integrity_sha256_len(), Some(32));
    }
}
