//! Reverse DNS names of responders, looked up asynchronously with a short
//! timeout (hickory-resolver: `/etc/hosts`, then the system's name
//! servers) and cached for the whole trace.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;

use super::report::Hop;

/// A cache of reverse names.
pub struct ReverseNames {
    resolver: Option<TokioResolver>,
    timeout: Duration,
    cache: HashMap<IpAddr, Option<String>>,
}

impl std::fmt::Debug for ReverseNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReverseNames")
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl ReverseNames {
    /// A resolver with the system configuration, each lookup cut at
    /// `timeout`. Without a usable configuration, every name is unknown.
    pub fn new(timeout: Duration) -> ReverseNames {
        let resolver = TokioResolver::builder_tokio().ok().and_then(|mut b| {
            b.options_mut().timeout = timeout;
            b.options_mut().attempts = 1;
            b.build().ok()
        });
        ReverseNames {
            resolver,
            timeout,
            cache: HashMap::new(),
        }
    }

    /// The name of `address`, if it has one.
    pub async fn lookup(&mut self, address: IpAddr) -> Option<String> {
        if let Some(name) = self.cache.get(&address) {
            return name.clone();
        }
        let name = match &self.resolver {
            Some(resolver) => {
                match tokio::time::timeout(self.timeout, resolver.reverse_lookup(address)).await {
                    Ok(Ok(lookup)) => lookup.answers().iter().find_map(|r| match &r.data {
                        RData::PTR(ptr) => Some(ptr.0.to_utf8().trim_end_matches('.').to_string()),
                        _ => None,
                    }),
                    _ => None,
                }
            }
            None => None,
        };
        self.cache.insert(address, name.clone());
        name
    }

    /// Fills in the names of a hop's responders.
    pub async fn fill(&mut self, hop: &mut Hop) {
        for responder in &mut hop.responders {
            responder.name = self.lookup(responder.address).await;
        }
    }
}
