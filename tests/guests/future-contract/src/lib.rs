//! A connector built against a contract version this sluice does not know
//! (`sluice:connector@9.0.0`): loading it must say so, not fail obscurely.

wit_bindgen::generate!({
    inline: "
        package sluice:connector@9.0.0;

        interface connector {
            spec: func() -> string;
        }

        world later {
            export connector;
        }
    ",
});

struct Future;

impl exports::sluice::connector::connector::Guest for Future {
    fn spec() -> String {
        "from the future".into()
    }
}

export!(Future);
