//! The network grant: TCP connects only to the resolved addresses of the
//! granted `host:port` pairs, name lookups only when a granted host is a
//! name, no UDP.

use crate::error::{Error, Result};
use sluice_manifest::Grants;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::sockets::SocketAddrUse;

/// Apply `grants.hosts` to `b`: deny everything when none is granted.
pub(crate) async fn grant(
    b: &mut WasiCtxBuilder,
    connector: &Arc<str>,
    grants: &Grants,
) -> Result<()> {
    if grants.hosts.is_empty() {
        b.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        return Ok(());
    }
    let allowed = Arc::new(resolve_hosts(connector, &grants.hosts).await?);
    // Name lookups only when a granted host is a name: a connector granted
    // addresses has nothing to look up (and lookups of made-up names are a
    // way to send data out).
    let names = grants.hosts.iter().any(|h| {
        let host = h.rsplit_once(':').map_or(h.as_str(), |(host, _)| host);
        host.trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_err()
    });
    b.allow_tcp(true)
        .allow_udp(false)
        .allow_ip_name_lookup(names);
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
    Ok(())
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
