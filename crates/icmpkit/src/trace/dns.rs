//! Reverse DNS names of responders, looked up asynchronously with a short
//! timeout and cached for the whole trace: `/etc/hosts` first (read here,
//! as glibc reads it for traceroute), then, with the `dns` feature, the
//! system's name servers (hickory-resolver). Without the feature the hosts
//! file is the only source: no query leaves the machine.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

#[cfg(feature = "dns")]
use hickory_resolver::config::ResolveHosts;
#[cfg(feature = "dns")]
use hickory_resolver::net::runtime::TokioRuntimeProvider;
#[cfg(feature = "dns")]
use hickory_resolver::proto::rr::RData;
#[cfg(feature = "dns")]
use hickory_resolver::{ResolverBuilder, TokioResolver};
use tokio::task::JoinHandle;

use super::report::Hop;

/// The system's hosts file.
const HOSTS_PATH: &str = "/etc/hosts";

/// A cache of reverse names.
pub struct ReverseNames {
    /// Names from the hosts file, consulted before any name server.
    hosts: HashMap<IpAddr, String>,
    /// The name servers (none when the system has no usable
    /// configuration).
    #[cfg(feature = "dns")]
    resolver: Option<TokioResolver>,
    #[cfg_attr(not(feature = "dns"), allow(dead_code))]
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
    /// The hosts file, then (feature `dns`) a resolver with the system
    /// configuration, each lookup cut at `timeout`. Without name servers
    /// (no usable `/etc/resolv.conf`, or no `dns` feature) only the hosts
    /// file names addresses.
    pub fn new(timeout: Duration) -> ReverseNames {
        let hosts = std::fs::read_to_string(HOSTS_PATH)
            .map(|text| hosts_names(&text))
            .unwrap_or_default();
        ReverseNames {
            hosts,
            #[cfg(feature = "dns")]
            resolver: TokioResolver::builder_tokio()
                .ok()
                .and_then(|builder| build_resolver(builder, timeout)),
            timeout,
            cache: HashMap::new(),
        }
    }

    /// Whether there is a name server to ask.
    fn has_name_servers(&self) -> bool {
        #[cfg(feature = "dns")]
        return self.resolver.is_some();
        #[cfg(not(feature = "dns"))]
        return false;
    }

    /// The name of `address` if known without asking a name server: from
    /// the cache, the hosts file, or `None` for certain when there is no
    /// name server to ask. `None` (the outer one): a name server must be
    /// asked.
    fn known(&self, address: IpAddr) -> Option<Option<String>> {
        if let Some(name) = self.cache.get(&address) {
            return Some(name.clone());
        }
        if let Some(name) = self.hosts.get(&address) {
            return Some(Some(name.clone()));
        }
        (!self.has_name_servers()).then_some(None)
    }

    /// Starts naming `hop`'s responders: each address the cache and the
    /// hosts file cannot name is asked about in a task of its own (needs a
    /// tokio runtime), all at once, running whether or not anyone waits.
    pub fn start(&self, hop: Hop) -> NamingHop {
        let lookups = self.ask_name_servers(&hop);
        NamingHop { hop, lookups }
    }

    #[cfg(feature = "dns")]
    fn ask_name_servers(&self, hop: &Hop) -> Vec<Lookup> {
        let mut lookups: Vec<Lookup> = Vec::new();
        let Some(resolver) = &self.resolver else {
            return lookups;
        };
        for responder in &hop.responders {
            let address = responder.address;
            let asked = lookups.iter().any(|l| l.address == address);
            if asked || self.known(address).is_some() {
                continue;
            }
            let task = tokio::spawn(ask(resolver.clone(), address, self.timeout));
            lookups.push(Lookup { address, task });
        }
        lookups
    }

    /// No name servers without the `dns` feature.
    #[cfg(not(feature = "dns"))]
    fn ask_name_servers(&self, _hop: &Hop) -> Vec<Lookup> {
        Vec::new()
    }

    /// Records the answer of a finished lookup.
    fn remember(&mut self, address: IpAddr, name: Option<String>) {
        self.cache.insert(address, name);
    }
}

#[cfg(feature = "dns")]
/// `builder`'s resolver, each lookup tried once and cut at `timeout`,
/// leaving the hosts file to [`ReverseNames`].
fn build_resolver(
    mut builder: ResolverBuilder<TokioRuntimeProvider>,
    timeout: Duration,
) -> Option<TokioResolver> {
    let options = builder.options_mut();
    options.timeout = timeout;
    options.attempts = 1;
    // Ours is read by `ReverseNames::new`: hickory's would answer an
    // address named on several lines, or with aliases, with any of them.
    options.use_hosts_file = ResolveHosts::Never;
    builder.build().ok()
}

/// Asks the name servers for the name of `address`, giving up after
/// `timeout`.
#[cfg(feature = "dns")]
async fn ask(resolver: TokioResolver, address: IpAddr, timeout: Duration) -> Option<String> {
    let lookup = tokio::time::timeout(timeout, resolver.reverse_lookup(address))
        .await
        .ok()?
        .ok()?;
    lookup.answers().iter().find_map(|r| match &r.data {
        RData::PTR(ptr) => Some(ptr.0.to_utf8().trim_end_matches('.').to_string()),
        _ => None,
    })
}

/// A hop whose responders are being named ([`ReverseNames::start`]).
/// Waiting for it is cancel-safe: the lookups are tasks of their own, and
/// each answer is recorded as soon as it is taken from its task; dropping
/// the `NamingHop` stops the lookups still running.
#[derive(Debug)]
pub struct NamingHop {
    hop: Hop,
    /// Lookups whose answer is not taken yet.
    lookups: Vec<Lookup>,
}

/// The reverse lookup of one address, running in its own task (stopped
/// when this is dropped). Never made without the `dns` feature.
#[derive(Debug)]
#[cfg_attr(not(feature = "dns"), allow(dead_code))]
struct Lookup {
    address: IpAddr,
    task: JoinHandle<Option<String>>,
}

impl Drop for Lookup {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl NamingHop {
    /// Waits for the lookups still running and records their answers in
    /// `names`. Cancel-safe: dropped, it loses no answer, and the next
    /// call waits for the rest.
    #[cfg_attr(not(test), allow(dead_code))]
    pub async fn wait(&mut self, names: &mut ReverseNames) {
        std::future::poll_fn(|cx| self.poll_wait(names, cx)).await
    }

    /// The poll form of [`NamingHop::wait`].
    pub fn poll_wait(&mut self, names: &mut ReverseNames, cx: &mut Context<'_>) -> Poll<()> {
        while let Some(lookup) = self.lookups.last_mut() {
            // A task that failed (panicked, aborted) named nothing.
            let name = std::task::ready!(Pin::new(&mut lookup.task).poll(cx))
                .ok()
                .flatten();
            names.remember(lookup.address, name);
            // Taken right away: a finished task must not be polled again.
            self.lookups.pop();
        }
        Poll::Ready(())
    }

    /// The hop, its responders named as far as `names` knows (after
    /// [`NamingHop::wait`]: all that have a name).
    pub fn finish(self, names: &ReverseNames) -> Hop {
        let mut hop = self.hop;
        for responder in &mut hop.responders {
            responder.name = names.known(responder.address).flatten();
        }
        hop
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
    use crate::trace::report::{ProbeReply, ProbeResult, ReplyKind};
    #[cfg(feature = "dns")]
    use hickory_resolver::config::{NameServerConfig, ResolverConfig};
    #[cfg(feature = "dns")]
    use std::net::SocketAddr;
    #[cfg(feature = "dns")]
    use tokio::net::UdpSocket;

    #[cfg(feature = "dns")]
    impl ReverseNames {
        /// Names from `hosts`, then from the one name server at `server`.
        fn asking(server: SocketAddr, hosts: &str, timeout: Duration) -> ReverseNames {
            let mut name_server = NameServerConfig::udp(server.ip());
            for connection in &mut name_server.connections {
                connection.port = server.port();
            }
            let config = ResolverConfig::from_name_servers(vec![name_server]);
            let builder =
                TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
            ReverseNames {
                hosts: hosts_names(hosts),
                resolver: build_resolver(builder, timeout),
                timeout,
                cache: HashMap::new(),
            }
        }
    }

    /// A hop at distance 1 answered once by each of `responders`.
    fn hop(responders: &[&str]) -> Hop {
        let probes = responders
            .iter()
            .enumerate()
            .map(|(seq, from)| ProbeResult {
                seq: seq as u16,
                ttl: 1,
                flow: 0,
                attempt: seq as u16,
                size: None,
                reply: Some(ProbeReply {
                    from: from.parse().unwrap(),
                    rtt: Duration::from_millis(1),
                    kind: ReplyKind::TimeExceeded,
                    annotation: None,
                    reply_ttl: Some(64),
                    extensions: vec![],
                }),
                send_error: None,
            })
            .collect();
        Hop::from_probes(1, probes)
    }

    fn names_of(hop: &Hop) -> Vec<Option<&str>> {
        hop.responders.iter().map(|r| r.name.as_deref()).collect()
    }

    #[cfg(feature = "dns")]
    /// The first question of a DNS query: its name, and where it ends.
    fn question(query: &[u8]) -> (String, usize) {
        let mut labels = Vec::new();
        let mut at = 12;
        while query[at] != 0 {
            let len = usize::from(query[at]);
            labels.push(String::from_utf8_lossy(&query[at + 1..at + 1 + len]).into_owned());
            at += 1 + len;
        }
        (labels.join("."), at + 1 + 4)
    }

    #[cfg(feature = "dns")]
    /// The answer to `query` naming its address `name` (one PTR record).
    fn ptr_answer(query: &[u8], name: &str) -> Vec<u8> {
        let (_, question_end) = question(query);
        let mut answer = Vec::new();
        answer.extend_from_slice(&query[..2]); // id
        answer.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
        answer.extend_from_slice(&query[12..question_end]);
        let mut rdata = Vec::new();
        for label in name.split('.') {
            rdata.push(label.len() as u8);
            rdata.extend_from_slice(label.as_bytes());
        }
        rdata.push(0);
        // The question's name (a pointer to it), PTR, IN, TTL 60.
        answer.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 60]);
        answer.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        answer.extend_from_slice(&rdata);
        answer
    }

    #[cfg(feature = "dns")]
    /// The next query the server gets within a second.
    async fn next_query(server: &UdpSocket) -> (Vec<u8>, SocketAddr) {
        let mut buf = vec![0u8; 512];
        let (n, from) = tokio::time::timeout(Duration::from_secs(1), server.recv_from(&mut buf))
            .await
            .expect("a query")
            .unwrap();
        buf.truncate(n);
        (buf, from)
    }

    /// Waits cut short (as `next_event` in a `select!`) lose nothing: the
    /// lookups run on between them, each address is asked about once, an
    /// answer that comes while no one waits is kept, and the hop comes out
    /// named from the hosts file, the name server, and not at all for the
    /// address the server never answers.
    #[cfg(feature = "dns")]
    #[tokio::test]
    async fn waits_cut_short_lose_no_answer_and_ask_once() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let timeout = Duration::from_millis(300);
        let mut names = ReverseNames::asking(
            server.local_addr().unwrap(),
            "192.0.2.1 one.example.test\n",
            timeout,
        );
        let mut naming = names.start(hop(&["192.0.2.1", "192.0.2.2", "192.0.2.3"]));
        let cut_short = tokio::time::timeout(Duration::from_millis(20), naming.wait(&mut names));
        assert!(cut_short.await.is_err(), "the name server has not answered");
        let mut asked = Vec::new();
        for _ in 0..2 {
            let (query, from) = next_query(&server).await;
            let (name, _) = question(&query);
            if name == "2.2.0.192.in-addr.arpa" {
                let answer = ptr_answer(&query, "two.example.test");
                server.send_to(&answer, from).await.unwrap();
            }
            asked.push(name);
        }
        asked.sort();
        assert_eq!(asked, ["2.2.0.192.in-addr.arpa", "3.2.0.192.in-addr.arpa"]);
        let cut_short = tokio::time::timeout(Duration::from_millis(20), naming.wait(&mut names));
        assert!(cut_short.await.is_err(), "192.0.2.3 is still being asked");
        tokio::time::timeout(timeout * 2, naming.wait(&mut names))
            .await
            .expect("the lookups end at their timeout");
        let named = naming.finish(&names);
        assert_eq!(
            names_of(&named),
            [Some("one.example.test"), Some("two.example.test"), None]
        );
        let mut buf = [0u8; 512];
        let again = tokio::time::timeout(Duration::from_millis(100), server.recv_from(&mut buf));
        assert!(again.await.is_err(), "no address asked about twice");
        // Answers are kept: a later hop with these responders asks nothing.
        let mut naming = names.start(hop(&["192.0.2.3", "192.0.2.2"]));
        naming.wait(&mut names).await;
        assert_eq!(
            names_of(&naming.finish(&names)),
            [None, Some("two.example.test")]
        );
        let again = tokio::time::timeout(Duration::from_millis(100), server.recv_from(&mut buf));
        assert!(again.await.is_err(), "cached names are not asked about");
    }

    /// Dropping a hop being named stops its lookups: their tasks end.
    #[cfg(feature = "dns")]
    #[tokio::test]
    async fn dropping_a_naming_hop_stops_its_lookups() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let names = ReverseNames::asking(server.local_addr().unwrap(), "", Duration::from_secs(30));
        let naming = names.start(hop(&["192.0.2.7"]));
        next_query(&server).await;
        let task = naming.lookups[0].task.abort_handle();
        assert!(!task.is_finished(), "the server never answers");
        drop(naming);
        tokio::time::timeout(Duration::from_secs(1), async {
            while !task.is_finished() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the lookup ends when its hop is dropped");
    }

    /// Without the `dns` feature the hosts file names what it can, the
    /// rest stays unnamed at once, and nothing is asked of anyone.
    #[cfg(not(feature = "dns"))]
    #[tokio::test]
    async fn without_the_dns_feature_only_the_hosts_file_names() {
        let mut names = ReverseNames {
            hosts: hosts_names("192.0.2.1 one.example.test\n"),
            timeout: Duration::from_secs(30),
            cache: HashMap::new(),
        };
        let mut naming = names.start(hop(&["192.0.2.1", "192.0.2.2"]));
        assert!(naming.lookups.is_empty(), "no name server to ask");
        tokio::time::timeout(Duration::from_millis(100), naming.wait(&mut names))
            .await
            .expect("nothing to wait for");
        assert_eq!(
            names_of(&naming.finish(&names)),
            [Some("one.example.test"), None]
        );
    }

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
