//! Reverse DNS names of responders, looked up asynchronously with a short
//! timeout and cached for the whole trace: `/etc/hosts` first (read here,
//! as glibc reads it for traceroute), then the system's name servers
//! (hickory-resolver).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::ResolveHosts;
use hickory_resolver::proto::rr::RData;

use super::report::Hop;

/// The system's hosts file.
const HOSTS_PATH: &str = "/etc/hosts";

/// A cache of reverse names.
pub struct ReverseNames {
    /// Names from the hosts file, consulted before any name server.
    hosts: HashMap<IpAddr, String>,
    resolver: Option<TokioResolver>,
    timeout: Duration,
    cache: HashMap<IpAddr, Option<String>>,
}

impl std::fmt::Debug for ReverseNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReverseNames")
            .field("hosts", &self.hosts.len())
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl ReverseNames {
    /// The hosts file, then a resolver with the system configuration, each
    /// lookup cut at `timeout`. Without name servers (no usable
    /// `/etc/resolv.conf`) only the hosts file names addresses.
    pub fn new(timeout: Duration) -> ReverseNames {
        let hosts = std::fs::read_to_string(HOSTS_PATH)
            .map(|text| hosts_names(&text))
            .unwrap_or_default();
        let resolver = TokioResolver::builder_tokio().ok().and_then(|mut b| {
            let options = b.options_mut();
            options.timeout = timeout;
            options.attempts = 1;
            // Ours is read above: hickory's would answer an address named
            // on several lines, or with aliases, with any of the names.
            options.use_hosts_file = ResolveHosts::Never;
            b.build().ok()
        });
        ReverseNames {
            hosts,
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
        let name = match (self.hosts.get(&address), &self.resolver) {
            (Some(name), _) => Some(name.clone()),
            (None, Some(resolver)) => {
                match tokio::time::timeout(self.timeout, resolver.reverse_lookup(address)).await {
                    Ok(Ok(lookup)) => lookup.answers().iter().find_map(|r| match &r.data {
                        RData::PTR(ptr) => Some(ptr.0.to_utf8().trim_end_matches('.').to_string()),
                        _ => None,
                    }),
                    _ => None,
                }
            }
            (None, None) => None,
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

/// The name of each address of a hosts file (`/etc/hosts` syntax): the
/// first name of the first line listing it, the canonical name glibc gives
/// `getnameinfo` (and so traceroute); aliases after it are not names of
/// the address. Comments (`#`), lines without a name and addresses that do
/// not parse (`fe80::1%eth0`) are skipped.
fn hosts_names(text: &str) -> HashMap<IpAddr, String> {
    let mut names = HashMap::new();
    for line in text.lines() {
        let line = line.split_once('#').map_or(line, |(data, _)| data);
        let mut words = line.split_whitespace();
        let (Some(address), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        if let Ok(address) = address.parse::<IpAddr>() {
            names.entry(address).or_insert_with(|| name.to_string());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file_names_an_address_by_its_first_line_and_canonical_name() {
        let names = hosts_names(
            "# comment line\n\
             127.0.0.1\tlocalhost\n\
             192.0.2.1 gw.example.test gw router # trailing comment\n\
             192.0.2.1 later.example.test\n\
             2001:db8::1   Six.Example.Test six\n\
             192.0.2.9\n\
             fe80::1%eth0 zoned\n\
             not-an-address name\n\
             #192.0.2.7 commented.example.test\n",
        );
        let name = |a: &str| names.get(&a.parse::<IpAddr>().unwrap()).cloned();
        assert_eq!(name("192.0.2.1").as_deref(), Some("gw.example.test"));
        assert_eq!(name("2001:db8::1").as_deref(), Some("Six.Example.Test"));
        assert_eq!(name("127.0.0.1").as_deref(), Some("localhost"));
        assert_eq!(name("192.0.2.9"), None, "an address alone names nothing");
        assert_eq!(name("192.0.2.7"), None);
        assert_eq!(names.len(), 3, "{names:?}");
    }
}
