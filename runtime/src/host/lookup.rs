//! `wasi:sockets/ip-name-lookup` limited to the granted names: wasmtime-wasi
//! only switches lookups on or off, and once on, a guest could look up any
//! name and so send data out through DNS. This implementation refuses a
//! name that is not the host of a granted `host:port`, then hands the rest
//! to wasmtime-wasi's own.

use super::HostState;
use std::collections::HashSet;
use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::SocketError;
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    self, Host, HostResolveAddressStream, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{self, ErrorCode, IpAddress, Network};
use wasmtime_wasi::sockets::WasiSocketsCtxView;

/// Name lookups of one store, held to `names`.
pub(crate) struct GrantedLookup<'a> {
    inner: WasiSocketsCtxView<'a>,
    names: &'a HashSet<String>,
    connector: &'a str,
}

impl Host for GrantedLookup<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> Result<Resource<ResolveAddressStream>, SocketError> {
        if !self.names.contains(&name.to_ascii_lowercase()) {
            tracing::warn!(connector = self.connector, name = %name, "name lookup denied: not a granted host");
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
        let inner = WasiSocketsCtxView {
            ctx: s.wasi.sockets(),
            table: &mut s.table,
        };
        GrantedLookup {
            inner,
            names,
            connector,
        }
    });
    linker.allow_shadowing(false);
    added
}
