use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use tower_layer::Layer;

use super::DEFAULT_BODY_LIMIT;
use super::service::TwilioSignature;
use crate::{PublicBase, RequestValidator};

/// Applies [`TwilioSignature`] to a service. See the [module docs](super).
#[derive(Debug, Clone)]
#[must_use]
pub struct TwilioSignatureLayer {
    config: Config,
}

#[derive(Debug, Clone)]
pub(super) struct Config {
    pub(super) validator: RequestValidator,
    pub(super) public_base: PublicBase,
    pub(super) trusted_proxies: Option<Vec<IpNet>>,
    pub(super) body_limit: usize,
}

impl Config {
    pub(super) fn trusts(&self, peer: IpAddr) -> bool {
        self.trusted_proxies
            .as_deref()
            .is_some_and(|nets| nets.iter().any(|net| net.contains(&peer)))
    }
}

impl TwilioSignatureLayer {
    /// Validates with `validator`, rebuilding URLs on `public_base`: the scheme, host and
    /// optional path prefix Twilio uses to reach this service.
    pub fn new(validator: RequestValidator, public_base: PublicBase) -> Self {
        Self {
            config: Config {
                validator,
                public_base,
                trusted_proxies: None,
                body_limit: DEFAULT_BODY_LIMIT,
            },
        }
    }

    /// The largest body buffered for validation; larger requests get `413`.
    /// The default is [`DEFAULT_BODY_LIMIT`].
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes;
        self
    }

    /// Takes scheme and host from `Forwarded` / `X-Forwarded-Proto` / `X-Forwarded-Host`
    /// when the connection's peer is in one of `proxies`; other requests use the public
    /// base. See [Behind a proxy](super#behind-a-proxy).
    pub fn trust_forwarded_headers(mut self, proxies: impl IntoIterator<Item = IpNet>) -> Self {
        self.config.trusted_proxies = Some(proxies.into_iter().collect());
        self
    }
}

impl<S> Layer<S> for TwilioSignatureLayer {
    type Service = TwilioSignature<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TwilioSignature::from_config(inner, Arc::new(self.config.clone()))
    }
}
