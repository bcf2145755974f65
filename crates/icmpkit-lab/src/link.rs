//! A veth pair joining two lab namespaces.

use crate::error::Result;
use crate::ns::Ns;

/// A veth pair: end `a` lives in namespace [`Link::a`], end `b` in [`Link::b`].
///
/// Interface names are `eth0`, `eth1`, ... in order of the links made in each namespace,
/// so they are predictable and never collide with other labs (names are per namespace).
/// Both ends are up when [`Lab::link`](crate::Lab::link) returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub(crate) a: Ns,
    pub(crate) b: Ns,
    pub(crate) dev_a: String,
    pub(crate) dev_b: String,
}

impl Link {
    /// The namespace holding end `a`.
    pub fn a(&self) -> &Ns {
        &self.a
    }

    /// The namespace holding end `b`.
    pub fn b(&self) -> &Ns {
        &self.b
    }

    /// Interface name of end `a` inside [`Link::a`] (e.g. `eth0`).
    pub fn dev_a(&self) -> &str {
        &self.dev_a
    }

    /// Interface name of end `b` inside [`Link::b`].
    pub fn dev_b(&self) -> &str {
        &self.dev_b
    }

    /// Adds an address (`"10.1.0.1/24"`, `"fd00:1::1/64"`; IPv6 without DAD) to end `a`.
    pub fn addr_a(&self, addr: &str) -> Result<()> {
        self.a.addr(&self.dev_a, addr)
    }

    /// Adds an address to end `b`.
    pub fn addr_b(&self, addr: &str) -> Result<()> {
        self.b.addr(&self.dev_b, addr)
    }

    /// Sets the MTU of both ends (e.g. 1280 for Packet Too Big tests).
    pub fn mtu(&self, mtu: u32) -> Result<()> {
        self.a.mtu(&self.dev_a, mtu)?;
        self.b.mtu(&self.dev_b, mtu)
    }
}
