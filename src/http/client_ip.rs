//! The client's address, for every surface's audit, session and per-IP budget: the TCP peer, or
//! behind a trusted proxy the right-most `X-Forwarded-For` address that is not itself trusted.

use std::net::IpAddr;

use axum::http::HeaderValue;
use ipnet::IpNet;

/// The most `X-Forwarded-For` entries looked at; a longer chain is ignored as malformed.
const MAX_HOPS: usize = 32;

/// The client of a request from `peer` carrying these `X-Forwarded-For` header values (in
/// order). A header from an untrusted peer is ignored (anyone can send one); a malformed one
/// (not UTF-8, an entry that is not an address, too many entries) is ignored whole. When every
/// forwarded address is a trusted proxy, the left-most is the client.
pub fn client_ip<'h>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'h HeaderValue>,
    trusted: &[IpNet],
) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(chain) = chain(forwarded_for) else {
        return peer;
    };
    chain
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or_else(|| chain.first())
        .copied()
        .unwrap_or(peer)
}

/// Every address of the headers, left to right; `None` when any entry is not an address.
fn chain<'h>(values: impl Iterator<Item = &'h HeaderValue>) -> Option<Vec<IpAddr>> {
    let mut chain = Vec::new();
    for value in values {
        for entry in value.to_str().ok()?.split(',') {
            if chain.len() == MAX_HOPS {
                return None;
            }
            chain.push(address(entry.trim())?.to_canonical());
        }
    }
    Some(chain)
}

/// An `X-Forwarded-For` entry: an address, or an address with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`), as some proxies write it.
fn address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn of(peer: &str, headers: &[&[u8]], trusted: &[&str]) -> IpAddr {
        let values: Vec<HeaderValue> = headers
            .iter()
            .map(|h| HeaderValue::from_bytes(h).expect("header"))
            .collect();
        let trusted: Vec<IpNet> = trusted.iter().map(|t| t.parse().expect("net")).collect();
        client_ip(ip(peer), values.iter(), &trusted)
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(
            of("203.0.113.9", &[b"198.51.100.1"], &[]),
            ip("203.0.113.9")
        );
        assert_eq!(
            of("203.0.113.9", &[b"198.51.100.1"], &["10.0.0.0/8"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_address_is_the_client() {
        let trusted = ["10.0.0.0/8", "fd00::/8"];
        assert_eq!(
            of("10.0.0.1", &[b"198.51.100.1"], &trusted),
            ip("198.51.100.1")
        );
        // A client that sends its own header cannot choose its address: the proxy appends the
        // real one, and the right-most untrusted entry wins.
        assert_eq!(
            of("10.0.0.1", &[b"6.6.6.6, 198.51.100.1, 10.0.0.7"], &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(
            of("10.0.0.1", &[b"6.6.6.6", b"198.51.100.1:4711"], &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(
            of("fd00::1", &[b"[2001:db8::5]:443"], &trusted),
            ip("2001:db8::5")
        );
        assert_eq!(
            of("10.0.0.1", &[b"10.0.0.3, 10.0.0.2"], &trusted),
            ip("10.0.0.3")
        );
        assert_eq!(
            of("::ffff:10.0.0.1", &[b"198.51.100.1"], &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(of("10.0.0.1", &[], &trusted), ip("10.0.0.1"));
    }

    #[test]
    fn a_malformed_header_is_ignored_whole() {
        let trusted = ["10.0.0.0/8"];
        for bad in [
            &b"198.51.100.1, not-an-ip"[..],
            b"",
            b" , ",
            b"999.1.1.1",
            b"198.51.100.1\xff",
            b"unknown",
        ] {
            assert_eq!(of("10.0.0.1", &[bad], &trusted), ip("10.0.0.1"), "{bad:?}");
        }
        let long = vec!["198.51.100.1"; MAX_HOPS + 1].join(",");
        assert_eq!(of("10.0.0.1", &[long.as_bytes()], &trusted), ip("10.0.0.1"));
    }
}
