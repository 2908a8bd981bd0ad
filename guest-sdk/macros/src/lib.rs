//! Export macros of `sluice-guest`.
//!
//! Each macro expands, in the connector's own crate, to the `wit-bindgen`
//! bindings of exactly one world of `sluice:connector` plus the glue that
//! forwards the exports to the connector's `Source` / `Destination` impl.
//! Generating the bindings in the connector crate (rather than in the SDK)
//! keeps one world's type information in each component: a source never
//! claims to export `destination`.
//!
//! Everything is emitted under `#[cfg(target_arch = "wasm32")]`, so the
//! same crate builds natively as a plain library.

#![warn(missing_docs)]

use proc_macro::TokenStream;

const GLUE: &str = include_str!("glue.rs.in");
const SOURCE_GLUE: &str = include_str!("source_glue.rs.in");
const DESTINATION_GLUE: &str = include_str!("destination_glue.rs.in");

fn wit_dir() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../wit");
    std::path::Path::new(dir)
        .canonicalize()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| dir.to_string())
}

fn expand(connector: TokenStream, world: &str, parts: &[&str]) -> TokenStream {
    let ty = connector.to_string();
    if ty.trim().is_empty() {
        return "compile_error!(\"name the connector type, e.g. `export_source!(MySource);`\");"
            .parse()
            .expect("valid tokens");
    }
    let mut glue = String::from(GLUE);
    for part in parts {
        glue.push_str(part);
    }
    let code = format!(
        r#"
#[doc(hidden)]
#[allow(dead_code)]
type __SluiceConnector = {ty};

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
#[allow(clippy::all, missing_docs, unsafe_op_in_unsafe_fn)]
mod __sluice_bindings {{
    ::sluice_guest::__private::wit_bindgen::generate!({{
        path: {wit:?},
        world: "sluice:connector/{world}",
        runtime_path: "::sluice_guest::__private::wit_bindgen::rt",
        default_bindings_module: "crate::__sluice_bindings",
    }});
}}

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
#[allow(clippy::all, missing_docs)]
mod __sluice_glue {{
    use crate::__sluice_bindings as b;
    type C = super::__SluiceConnector;
    pub struct Exports;
{glue}
    b::export!(Exports);
}}
"#,
        wit = wit_dir(),
    );
    code.parse().expect("export macro emits valid Rust")
}

/// Export a type that implements `sluice_guest::Source` as a source component.
///
/// Call it once, at the crate root: `sluice_guest::export_source!(MySource);`
#[proc_macro]
pub fn export_source(input: TokenStream) -> TokenStream {
    expand(input, "source-connector", &[SOURCE_GLUE])
}

/// Export a type that implements `sluice_guest::Destination` as a destination component.
///
/// Call it once, at the crate root: `sluice_guest::export_destination!(MyDest);`
#[proc_macro]
pub fn export_destination(input: TokenStream) -> TokenStream {
    expand(input, "destination-connector", &[DESTINATION_GLUE])
}

/// Export a type that implements both `Source` and `Destination`.
#[proc_macro]
pub fn export_duplex(input: TokenStream) -> TokenStream {
    expand(input, "duplex-connector", &[SOURCE_GLUE, DESTINATION_GLUE])
}
