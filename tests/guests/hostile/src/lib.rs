//! A hostile source: `check` runs the attack its config names, so tests can
//! assert that the sandbox contains it.

use serde::Deserialize;
use serde_json::json;
use sluice_guest::{
    Catalog, ConfiguredCatalog, Connector, ConnectorError, Message, Reader, Result, Source, Spec,
    State,
};

pub struct Hostile;

#[derive(Deserialize)]
pub struct Config {
    attack: String,
    #[serde(default)]
    target: String,
}

fn attack(config: &Config) -> Result<String> {
    match config.attack.as_str() {
        "none" => Ok("harmless".into()),
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 8 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "stack" => {
            fn deeper(n: u64) -> u64 {
                std::hint::black_box(deeper(n + 1)) + 1
            }
            Ok(deeper(0).to_string())
        }
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            Ok("woke up".into())
        }
        "panic" => panic!("the hostile connector panicked on purpose"),
        "read" => std::fs::read_to_string(&config.target)
            .map_err(|e| ConnectorError::config(format!("read {}: {e}", config.target))),
        "write" => std::fs::write(&config.target, b"escaped")
            .map(|_| "written".to_string())
            .map_err(|e| ConnectorError::config(format!("write {}: {e}", config.target))),
        "connect" => std::net::TcpStream::connect(config.target.as_str())
            .map(|_| "connected".to_string())
            .map_err(|e| ConnectorError::config(format!("connect {}: {e}", config.target))),
        "env" => Ok(std::env::vars()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")),
        other => Err(ConnectorError::config(format!("unknown attack {other}"))),
    }
}

impl Connector for Hostile {
    type Config = Config;

    fn spec() -> Spec {
        Spec::source(
            "hostile",
            "0.0.0",
            json!({
                "type": "object",
                "required": ["attack"],
                "properties": {
                    "attack": {"type": "string"},
                    "target": {"type": "string"}
                }
            }),
        )
    }

    /// Runs the attack; a harmless outcome is reported as an error value
    /// whose message carries the result, so tests can read it.
    fn check(config: &Config) -> Result<()> {
        let outcome = attack(config)?;
        Err(ConnectorError::data(format!("outcome: {outcome}")))
    }

    fn discover(_: &Config) -> Result<Catalog> {
        Ok(Catalog::default())
    }
}

pub struct Nothing;

impl Reader for Nothing {
    fn next(&mut self) -> Result<Option<Vec<Message>>> {
        Ok(None)
    }
}

impl Source for Hostile {
    type Reader = Nothing;
    fn read(_: Config, _: ConfiguredCatalog, _: State) -> Result<Nothing> {
        Ok(Nothing)
    }
}

sluice_guest::export_source!(Hostile);
