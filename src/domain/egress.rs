//! Where Roster may send webhooks: the SSRF guard's rule. By default no loopback, private,
//! link-local (cloud metadata), shared, multicast, reserved or unspecified address, and no
//! `localhost` name; the setting `ROSTER_WEBHOOK_ALLOW` names hosts and address ranges that are
//! allowed anyway. A name is judged again after it is resolved, at every delivery, so a name
//! that resolves (or rebinds) to a refused address is refused too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use url::{Host, Url};

use super::{Error, Result};

/// The rule: what is allowed beyond public addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Egress {
    /// Host names allowed whatever they resolve to (lower case).
    pub hosts: Vec<String>,
    /// Address ranges allowed.
    pub nets: Vec<IpNet>,
}

impl Egress {
    /// Reads the setting's entries: each a CIDR range, an address, or a host name.
    pub fn parse(entries: &[String]) -> std::result::Result<Egress, String> {
        let mut out = Egress::default();
        for raw in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            if let Ok(net) = raw.parse::<IpNet>() {
                out.nets.push(net);
            } else if let Ok(ip) = raw.parse::<IpAddr>() {
                out.nets.push(IpNet::from(ip));
            } else if raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                out.hosts.push(raw.to_ascii_lowercase());
            } else {
                return Err(format!(
                    "{raw:?} is neither an address, a CIDR range nor a host name"
                ));
            }
        }
        Ok(out)
    }

    /// Whether a host name is allowed whatever it resolves to.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    /// Whether an address may be sent to.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip)) || is_public(ip)
    }

    /// Judges a URL before any name is resolved: an address in it must be allowed, and the
    /// `localhost` names are refused unless allowed. Other names are judged after resolution.
    pub fn check_url(&self, url: &Url) -> Result<()> {
        let refused = |what: String| {
            Error::invalid(
                "url",
                "url_not_allowed",
                format!(
                    "{what} is not a public address; webhooks are not sent there unless \
                     ROSTER_WEBHOOK_ALLOW allows it"
                ),
            )
        };
        match url.host() {
            Some(Host::Ipv4(ip)) if !self.allows_ip(IpAddr::V4(ip)) => Err(refused(ip.to_string())),
            Some(Host::Ipv6(ip)) if !self.allows_ip(IpAddr::V6(ip)) => Err(refused(ip.to_string())),
            Some(Host::Domain(name)) if is_local_name(name) && !self.allows_host(name) => {
                Err(refused(format!("{name:?}")))
            }
            _ => Ok(()),
        }
    }
}

/// `localhost` and its subdomains, which resolve to loopback by definition.
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost") || name == "localhost.localdomain"
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is judged as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Whether an address is a public unicast one.
fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16: cloud metadata among others
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7 (incl. fd00:ec2::254)
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local, deprecated
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64, which reaches IPv4 space
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_refused_by_default() {
        let rule = Egress::default();
        for s in [
            "http://127.0.0.1/",
            "http://127.8.9.1:8080/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fe80::1]/",
            "http://[fd00:ec2::254]/",
            "http://localhost/",
            "http://api.localhost:9000/",
        ] {
            assert!(rule.check_url(&url(s)).is_err(), "{s} should be refused");
        }
        for s in [
            "https://93.184.215.14/",
            "https://example.com/hook",
            "http://[2606:4700::1111]/",
        ] {
            assert!(rule.check_url(&url(s)).is_ok(), "{s} should be allowed");
        }
    }

    #[test]
    fn the_setting_allows_named_hosts_and_ranges() {
        let rule = Egress::parse(&["127.0.0.1".into(), "10.0.0.0/8".into(), "LocalHost".into()])
            .expect("valid");
        assert!(rule.check_url(&url("http://127.0.0.1:9/")).is_ok());
        assert!(rule.check_url(&url("http://10.9.9.9/")).is_ok());
        assert!(rule.check_url(&url("http://localhost/")).is_ok());
        assert!(rule.check_url(&url("http://127.0.0.2/")).is_err());
        assert!(rule.check_url(&url("http://[::1]/")).is_err());
        assert!(Egress::parse(&["not a host!".into()]).is_err());
    }
}
