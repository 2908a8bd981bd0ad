//! Paths of every connector and test guest, built by this crate's build
//! script from source during `cargo test` (never checked in).

include!(concat!(env!("OUT_DIR"), "/components.rs"));
