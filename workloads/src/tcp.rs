//! TCP connections over the loopback interface, made and accepted by the
//! workload itself: the truth for `net.tcp_connects` and
//! `net.tcp_accepts`, counted call by call and checked against the
//! kernel's own TCP counters (`/proc/net/snmp`'s ActiveOpens and
//! PassiveOpens, which count IPv4 and IPv6 alike).

use crate::error::WorkloadError;
use crate::ops::Counts;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;

/// The listeners `tcp-connects` opens: IPv4, IPv6, and an IPv4 one closed
/// again at once, whose port then refuses connections. Each is one
/// listen() call (std's TcpListener::bind).
pub const LISTENS: [bool; 3] = [false, true, false];

/// What the `i`th connect() of `tcp-connects` does, in cycles of 10: 5 to
/// an IPv4 listener, 3 to an IPv6 one, 2 to an IPv4 port nobody listens
/// on (the SYN is sent and a RST comes back: ECONNREFUSED). For 100
/// connect() calls: 80 connections accepted, 30 of them over IPv6, 20
/// refused. A tool that sees IPv4 alone reports 70 opens and 50 accepts,
/// one that counts established connections alone 80 opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    V4,
    V6,
    Refused,
}

pub fn connect_kind(i: u64) -> Connect {
    match i % 10 {
        0..=4 => Connect::V4,
        5..=7 => Connect::V6,
        _ => Connect::Refused,
    }
}

impl Counts {
    /// One listen() call, on an IPv6 socket or not.
    pub(crate) fn listened(&mut self, v6: bool) {
        self.tcp_listens += 1;
        self.tcp_v6_listens += u64::from(v6);
    }

    /// One connect() as [`connect_kind`] says (the design counts with
    /// this too).
    pub(crate) fn connected(&mut self, kind: Connect) {
        self.tcp_connects += 1;
        match kind {
            Connect::V4 => self.tcp_accepts += 1,
            Connect::V6 => {
                self.tcp_accepts += 1;
                self.tcp_v6 += 1;
            }
            Connect::Refused => self.tcp_refused += 1,
        }
    }
}

/// The kernel's TCP ActiveOpens and PassiveOpens (`/proc/net/snmp`, this
/// network namespace, IPv4 and IPv6 together).
fn opens() -> Result<(u64, u64), WorkloadError> {
    let path = Path::new("/proc/net/snmp");
    let text = std::fs::read_to_string(path).map_err(|e| WorkloadError::io("read", path, e))?;
    let mut lines = text.lines().filter(|l| l.starts_with("Tcp:"));
    let bad = || {
        WorkloadError::io(
            "parse",
            path,
            std::io::Error::other("no Tcp: header and values with ActiveOpens and PassiveOpens"),
        )
    };
    let (names, values) = (lines.next().ok_or_else(bad)?, lines.next().ok_or_else(bad)?);
    let field = |name: &str| -> Result<u64, WorkloadError> {
        let i = names
            .split_whitespace()
            .position(|n| n == name)
            .ok_or_else(bad)?;
        values
            .split_whitespace()
            .nth(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(bad)
    };
    Ok((field("ActiveOpens")?, field("PassiveOpens")?))
}

fn listen(addr: SocketAddr) -> Result<TcpListener, WorkloadError> {
    TcpListener::bind(addr).map_err(|e| WorkloadError::io("bind", Path::new(&addr.to_string()), e))
}

/// `count` connect() calls over loopback by [`connect_kind`], each
/// established connection accepted at once by the same thread and both
/// ends closed. The kernel's own counters must have grown by at least as
/// much (other processes may add to them, never take away).
pub fn tcp_connects(count: u64) -> Result<Counts, WorkloadError> {
    let v4 = listen((Ipv4Addr::LOCALHOST, 0).into())?;
    let v6 = listen((Ipv6Addr::LOCALHOST, 0).into())?;
    // A port that was just listened on and is closed again: a connect()
    // there gets a RST.
    let closed = listen((Ipv4Addr::LOCALHOST, 0).into())?;
    let refused_at = closed
        .local_addr()
        .map_err(|e| WorkloadError::io("getsockname", Path::new("127.0.0.1"), e))?;
    drop(closed);
    let before = opens()?;
    let mut c = Counts::default();
    LISTENS.iter().for_each(|v6| c.listened(*v6));
    for i in 0..count {
        let kind = connect_kind(i);
        let listener = match kind {
            Connect::V4 => Some(&v4),
            Connect::V6 => Some(&v6),
            Connect::Refused => None,
        };
        let to = match listener {
            Some(l) => l
                .local_addr()
                .map_err(|e| WorkloadError::io("getsockname", Path::new("listener"), e))?,
            None => refused_at,
        };
        let where_ = to.to_string();
        match (TcpStream::connect(to), listener) {
            (Ok(stream), Some(l)) => {
                let (accepted, _) = l
                    .accept()
                    .map_err(|e| WorkloadError::io("accept", Path::new(&where_), e))?;
                drop(stream);
                drop(accepted);
            }
            (Err(e), None) if e.kind() == ErrorKind::ConnectionRefused => {}
            (Ok(_), None) => {
                return Err(WorkloadError::io(
                    "connect",
                    Path::new(&where_),
                    std::io::Error::other("a connection to a closed port was accepted"),
                ))
            }
            (Err(e), _) => return Err(WorkloadError::io("connect", Path::new(&where_), e)),
        }
        c.connected(kind);
    }
    let after = opens()?;
    let (active, passive) = (after.0 - before.0, after.1 - before.1);
    if active < c.tcp_connects || passive < c.tcp_accepts {
        return Err(WorkloadError::io(
            "check",
            Path::new("/proc/net/snmp"),
            std::io::Error::other(format!(
                "the kernel counted {active} active and {passive} passive opens, fewer than the {} connect() \
                 calls and {} accepts made",
                c.tcp_connects, c.tcp_accepts
            )),
        ));
    }
    c.snmp_opens = Some((active, passive));
    Ok(c)
}
