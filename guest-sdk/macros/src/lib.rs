//! Export macros of `sluice-guest`.
//!
//! Each macro expands, in the connector's own crate, to the `wit-bindgen`
//! bindings of exactly one world of `sluice:connector`, and hands them to
//! `sluice_guest::__export_glue!`, which forwards the exports to the
//! connector's `Source` / `Destination` impl. Generating the bindings in the
//! connector crate (rather than in the SDK) keeps one world's type
//! information in each component: a source never claims to export
//! `destination`. The contract is `sluice:connector@0.2.0`; the bindings
//! reuse the SDK's modules for the `types`, `host` and `registry`
//! interfaces, so the conversions and entry points are ordinary Rust
//! in the SDK; this crate only does what a `macro_rules!` cannot: name the
//! contract's directory (a path of this crate) in `generate!`.
//!
//! Everything is emitted under `#[cfg(target_arch = "wasm32")]`, so the
//! same crate builds natively as a plain library.

#![warn(missing_docs)]

use proc_macro::TokenStream;

fn wit_dir() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../wit/0.2.0");
    std::path::Path::new(dir)
        .canonicalize()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| dir.to_string())
}

/// The expansion of an export macro for the connector type `ty`, the world
/// `world` and its interfaces besides `connector` (`parts`).
fn expansion(ty: &str, world: &str, parts: &str) -> String {
    format!(
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
        with: {{
            "sluice:connector/types@0.2.0": ::sluice_guest::__private::wit::types,
            "sluice:connector/host@0.2.0": ::sluice_guest::__private::wit::host,
            "sluice:connector/registry@0.2.0": ::sluice_guest::__private::wit::registry,
        }},
    }});
}}

#[cfg(target_arch = "wasm32")]
::sluice_guest::__export_glue!(__sluice_bindings, super::__SluiceConnector; {parts});
"#,
        wit = wit_dir(),
    )
}

fn expand(connector: TokenStream, world: &str, parts: &str) -> TokenStream {
    let ty = connector.to_string();
    let code = if ty.trim().is_empty() {
        "compile_error!(\"name the connector type, e.g. `export_source!(MySource);`\");".to_string()
    } else {
        expansion(&ty, world, parts)
    };
    code.parse().expect("export macro emits valid Rust")
}

/// Export a type that implements `sluice_guest::Source` as a source component.
///
/// Call it once, at the crate root: `sluice_guest::export_source!(MySource);`
#[proc_macro]
pub fn export_source(input: TokenStream) -> TokenStream {
    expand(input, "source-connector", "source")
}

/// Export a type that implements `sluice_guest::Destination` as a destination component.
///
/// Call it once, at the crate root: `sluice_guest::export_destination!(MyDest);`
#[proc_macro]
pub fn export_destination(input: TokenStream) -> TokenStream {
    expand(input, "destination-connector", "destination")
}

/// Export a type that implements both `Source` and `Destination`.
#[proc_macro]
pub fn export_duplex(input: TokenStream) -> TokenStream {
    expand(input, "duplex-connector", "source, destination")
}

/// Export a type that implements `sluice_guest::Transform` as a transform component.
///
/// Call it once, at the crate root: `sluice_guest::export_transform!(MyTransform);`
#[proc_macro]
pub fn export_transform(input: TokenStream) -> TokenStream {
    expand(input, "transform-connector", "transform")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expansion_names_one_world_and_its_parts() {
        let code = expansion("Faker", "source-connector", "source");
        assert!(code.contains("type __SluiceConnector = Faker;"));
        assert!(code.contains(r#"world: "sluice:connector/source-connector""#));
        assert!(
            code.contains("__export_glue!(__sluice_bindings, super::__SluiceConnector; source)")
        );
        assert!(code.contains(r#""sluice:connector/registry@0.2.0": ::sluice_guest"#));
        let transform = expansion("Mask", "transform-connector", "transform");
        assert!(transform.contains("super::__SluiceConnector; transform)"));
        assert!(
            std::path::Path::new(&wit_dir())
                .join("connector.wit")
                .is_file()
        );
    }
}
