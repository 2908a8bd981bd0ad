//! `wasi:sockets/ip-name-lookup` limited to the granted names: wasmtime-wasi
//! only switches lookups on or off, and once on, a guest could look up any
//! name and so send data out through DNS. This implementation refuses a
//! name that is not the host of a granted `host:port`, then hands the rest
//! to wasmtime-wasi's own.

use super::HostState;
use crate::redact::Redactor;
use std::collections::HashSet;
use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::SocketError;
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    self, Host, HostResolveAddressStream, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{self, ErrorCode, IpAddress, Network};
use wasmtime_wasi::sockets::WasiSocketsCtxView;

/// Whether `name` may be looked up: it is one of the granted `names`
/// (lower-case), compared without regard to ASCII case. Nothing else is:
/// not a subdomain, not the name with a trailing dot, not an address.
fn is_granted(names: &HashSet<String>, name: &str) -> bool {
    names.contains(&name.to_ascii_lowercase())
}

/// Log a refused lookup. The name is the guest's own text (a name made up
/// to carry data out may carry a secret), so it is scrubbed like a log line.
fn log_refused(connector: &str, redactor: &Redactor, name: &str) {
    let name = redactor.scrub(name);
    tracing::warn!(connector, name = %name, "name lookup denied: not a granted host");
}

/// Name lookups of one store, held to `names`.
pub(crate) struct GrantedLookup<'a> {
    inner: WasiSocketsCtxView<'a>,
    names: &'a HashSet<String>,
    connector: &'a str,
    redactor: &'a Redactor,
}

impl Host for GrantedLookup<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> Result<Resource<ResolveAddressStream>, SocketError> {
        if !is_granted(self.names, &name) {
            log_refused(self.connector, self.redactor, &name);
            return Err(ErrorCode::AccessDenied.into());
        }
        self.inner.resolve_addresses(network, name)
    }
}

impl HostResolveAddressStream for GrantedLookup<'_> {
    fn resolve_next_address(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> Result<Option<IpAddress>, SocketError> {
        self.inner.resolve_next_address(stream)
    }

    fn subscribe(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.inner.subscribe(stream)
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        HostResolveAddressStream::drop(&mut self.inner, stream)
    }
}

// The lookup interface's error type belongs to `wasi:sockets/network`: its
// conversion is wasmtime-wasi's own.
impl network::Host for GrantedLookup<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        network::Host::convert_error_code(&mut self.inner, error)
    }

    fn network_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        network::Host::network_error_code(&mut self.inner, err)
    }
}

impl network::HostNetwork for GrantedLookup<'_> {
    fn drop(&mut self, this: Resource<Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.inner, this)
    }
}

struct Lookup;

impl HasData for Lookup {
    type Data<'a> = GrantedLookup<'a>;
}

/// Replace wasmtime-wasi's `ip-name-lookup` in `linker` with the granted one.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = ip_name_lookup::add_to_linker::<HostState, Lookup>(linker, |s| {
        let names = &s.lookup_names;
        let connector = &*s.connector;
        let redactor = &s.redactor;
        let inner = WasiSocketsCtxView {
            ctx: s.wasi.sockets(),
            table: &mut s.table,
        };
        GrantedLookup {
            inner,
            names,
            connector,
            redactor,
        }
    });
    linker.allow_shadowing(false);
    added
}

#[cfg(test)]
mod tests {
    use super::{is_granted, log_refused};
    use crate::host::capture;
    use crate::redact::Redactor;
    use std::collections::HashSet;

    #[test]
    fn only_the_granted_names_themselves_may_be_looked_up() {
        let names: HashSet<String> = ["api.example.com", "localhost"].map(String::from).into();
        assert!(is_granted(&names, "api.example.com"));
        assert!(is_granted(&names, "API.Example.COM"));
        assert!(is_granted(&names, "localhost"));
        for name in [
            "data-sent-out.example.com",
            "secret.api.example.com",
            "api.example.com.",
            "api.example.com.evil.test",
            "example.com",
            "localhost.localdomain",
            "127.0.0.1",
            "",
        ] {
            assert!(!is_granted(&names, name), "{name}");
        }
        assert!(!is_granted(&HashSet::new(), "localhost"));
    }

    #[test]
    fn a_refused_name_is_logged_scrubbed() {
        let redactor = Redactor::new(vec!["tok-4f9a2c71e8".into()]);
        let events = capture::events(|| {
            log_refused("c", &redactor, "tok-4f9a2c71e8.data-sent-out.example.com");
        });
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(
            events[0].contains("name=**********.data-sent-out.example.com"),
            "{events:?}"
        );
        assert!(!events[0].contains("4f9a"), "{events:?}");
    }
}
