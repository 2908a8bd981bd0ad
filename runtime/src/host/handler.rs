//! `wasi:http/outgoing-handler` as wasmtime-wasi-http implements it, but
//! for one leak: its `handle` reads the `request-options` the guest hands
//! over (an owned resource) and never deletes it, so each request with
//! options left an entry in the instance's resource table until
//! `limits.handles` stopped the connector (about 990 requests). This
//! shadows `handle` with one that calls the same implementation, then
//! deletes the options.

use super::HostState;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::outgoing_handler::Host;
use wasmtime_wasi_http::p2::bindings::http::types::{self, ErrorCode, RequestOptions};
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};

/// The interface as wasmtime-wasi-http registers it.
const INTERFACE: &str = "wasi:http/outgoing-handler@0.2.12";

type Sent = Result<Resource<HostFutureIncomingResponse>, ErrorCode>;

/// `handle`, then the options deleted.
fn handle(
    mut store: StoreContextMut<'_, HostState>,
    (request, options): (
        Resource<HostOutgoingRequest>,
        Option<Resource<RequestOptions>>,
    ),
) -> wasmtime::Result<(Sent,)> {
    let owned = options
        .as_ref()
        .map(|o| Resource::<RequestOptions>::new_own(o.rep()));
    let mut view = store.data_mut().http();
    let sent = match Host::handle(&mut view, request, options) {
        Ok(future) => Ok(future),
        Err(e) => Err(types::Host::convert_error_code(&mut view, e)?),
    };
    if let Some(options) = owned {
        // Gone already if a later wasmtime-wasi-http deletes it itself.
        let _ = view.table.delete(options);
    }
    Ok((sent,))
}

/// Replace wasmtime-wasi-http's `outgoing-handler.handle` in `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = linker
        .instance(INTERFACE)
        .and_then(|mut i| i.func_wrap("handle", handle));
    linker.allow_shadowing(false);
    added
}
