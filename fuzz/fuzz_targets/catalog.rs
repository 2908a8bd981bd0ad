//! The JSON types of the connector contract that cross the sandbox
//! boundary: `Catalog` (what `discover` returns), `ConfiguredCatalog`
//! (what a read/write is handed), `Spec` and `StreamState`.
//!
//! Arbitrary bytes are parsed as each type. Parsing must never panic, and
//! whatever parses must survive a round trip (`to_string` then `from_str`
//! gives an equal value; floats are compared up to rounding), and the
//! lookups on it must agree with its contents.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::assert_round_trip;
use sluice_protocol::{Catalog, ConfiguredCatalog, Spec, StreamState};

fuzz_target!(|data: &[u8]| {
    if let Ok(catalog) = serde_json::from_slice::<Catalog>(data) {
        assert_round_trip("Catalog", &catalog);
        for s in &catalog.streams {
            let found = catalog.stream(&s.name).expect("a listed stream is found");
            assert_eq!(found.name, s.name);
            let _ = sluice_protocol::secret_fields(&s.schema);
        }
    }
    if let Ok(configured) = serde_json::from_slice::<ConfiguredCatalog>(data) {
        assert_round_trip("ConfiguredCatalog", &configured);
        for s in &configured.streams {
            let found = configured
                .stream(&s.name)
                .expect("a listed stream is found");
            assert_eq!(found.name, s.name);
            for f in &s.fields {
                assert!(s.selects(f));
            }
            if s.fields.is_empty() {
                assert!(s.selects("any field at all"));
            }
        }
    }
    if let Ok(spec) = serde_json::from_slice::<Spec>(data) {
        assert_round_trip("Spec", &spec);
        let secrets = spec.secret_fields();
        assert_eq!(secrets, sluice_protocol::secret_fields(&spec.config_schema));
    }
    if let Ok(state) = serde_json::from_slice::<StreamState>(data) {
        assert_round_trip("StreamState", &state);
    }
    if let Ok(states) = serde_json::from_slice::<Vec<StreamState>>(data) {
        assert_round_trip("Vec<StreamState>", &states);
    }
});
