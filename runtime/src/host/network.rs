//! The network grant: TCP connects only to the resolved addresses of the
//! granted `host:port` pairs, name lookups only of granted names, no UDP.

use crate::error::{Error, Result};
use sluice_manifest::Grants;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::sockets::SocketAddrUse;

/// Apply the socket grants of `grants.hosts` (its `host:port` pairs; URL
/// prefixes are for HTTP only) to `b`: deny everything when none is
/// granted. Returns the names the guest may look up.
pub(crate) async fn grant(
    b: &mut WasiCtxBuilder,
    connector: &Arc<str>,
    grants: &Grants,
) -> Result<HashSet<String>> {
    let hosts: Vec<String> = grants
        .hosts
        .iter()
        .filter(|h| !super::egress::is_url_prefix(h))
        .cloned()
        .collect();
    if hosts.is_empty() {
        b.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        return Ok(HashSet::new());
    }
    let allowed = Arc::new(resolve_hosts(connector, &hosts).await?);
    // Name lookups only of granted names: a connector granted addresses
    // has nothing to look up, and lookups of made-up names are a way to
    // send data out (the lookup interface itself checks each name).
    let names: HashSet<String> = hosts
        .iter()
        .map(|h| h.rsplit_once(':').map_or(h.as_str(), |(host, _)| host))
        .map(|host| host.trim_matches(['[', ']']))
        .filter(|host| host.parse::<std::net::IpAddr>().is_err())
        .map(|host| host.to_ascii_lowercase())
        .collect();
    b.allow_tcp(true)
        .allow_udp(false)
        .allow_ip_name_lookup(!names.is_empty());
    let name = connector.clone();
    b.socket_addr_check(move |addr, use_| {
        let ok = match use_ {
            // connect() first binds implicitly to the wildcard address.
            SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
            SocketAddrUse::TcpConnect => allowed.contains(&addr),
            _ => false,
        };
        if !ok {
            tracing::warn!(connector = %name, %addr, ?use_, "network access denied: not granted");
        }
        Box::pin(async move { ok })
    });
    Ok(names)
}

/// Resolve granted `host:port` pairs to the socket addresses a connector may
/// connect to.
async fn resolve_hosts(connector: &str, hosts: &[String]) -> Result<HashSet<SocketAddr>> {
    let mut allowed = HashSet::new();
    for host in hosts {
        let addrs = tokio::net::lookup_host(host.as_str())
            .await
            .map_err(|e| Error::Grant {
                connector: connector.to_string(),
                what: format!("network endpoint `{host}` (expected host:port)"),
                source: e.into(),
            })?;
        allowed.extend(addrs);
    }
    Ok(allowed)
}
