//! A hostile connector (source and destination): `check` runs the attack
//! its config names; any call runs the attack named by the env vars
//! `HOSTILE_ATTACK` and `HOSTILE_CALL` (`spec`, `check`, `discover`, `read`,
//! `next`, `write`, `write_batch`, `commit`) when the test grants them. Tests
//! assert that the sandbox contains every one. `huge-spec` and
//! `huge-catalog` are what `spec` and `discover` return when granted as
//! `HOSTILE_ATTACK` for that call.

use serde::Deserialize;
use serde_json::json;
use sluice_guest::{
    Batch, Catalog, ConfiguredCatalog, Connector, ConnectorError, Destination, Level, Message,
    Reader, Result, Role, Source, Spec, State, Writer,
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
            #[allow(unconditional_recursion)]
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
        "dns-raw" => resolve(&config.target),
        "dns" => {
            use std::net::ToSocketAddrs;
            (config.target.as_str(), 80)
                .to_socket_addrs()
                .map(|a| format!("resolved {}", a.count()))
                .map_err(|e| ConnectorError::config(format!("lookup {}: {e}", config.target)))
        }
        "log-flood" => loop {
            sluice_guest::log(Level::Info, &"flood ".repeat(100));
        },
        "print-flood" => loop {
            println!("{}", "flood ".repeat(100));
        },
        "schema-flood" => {
            for n in 0.. {
                let schema = sluice_guest::Schema::new(vec![sluice_guest::Field::required(
                    format!("f{n}"),
                    sluice_guest::Type::Int64,
                )]);
                sluice_guest::registry::register("items", &schema)?;
            }
            Ok("unreachable".into())
        }
        "bad-schema-fetch" => Ok(format!(
            "{:?}",
            sluice_guest::registry::fetch("no-such-id")?
        )),
        "hoard-files" => {
            // Open the target again and again, never closing a handle.
            let mut held = Vec::new();
            loop {
                match std::fs::File::open(&config.target) {
                    Ok(f) => held.push(f),
                    Err(e) => {
                        return Err(ConnectorError::config(format!(
                            "open failed after {} handles: {e}",
                            held.len()
                        )));
                    }
                }
            }
        }
        "hoard-dirs" => {
            // A directory stream of the preopened target, again and again.
            let (dir, _) = wasip2::filesystem::preopens::get_directories()
                .into_iter()
                .find(|(_, path)| *path == config.target)
                .ok_or_else(|| ConnectorError::config(format!("no preopen {}", config.target)))?;
            let mut held = Vec::new();
            loop {
                match dir.read_directory() {
                    Ok(stream) => held.push(stream),
                    Err(e) => {
                        return Err(ConnectorError::config(format!(
                            "read-directory failed after {} streams: {e}",
                            held.len()
                        )));
                    }
                }
            }
        }
        "hoard-sockets" => {
            // Connect to the target again and again, never closing one.
            let mut held = Vec::new();
            loop {
                match std::net::TcpStream::connect(config.target.as_str()) {
                    Ok(s) => held.push(s),
                    Err(e) => {
                        return Err(ConnectorError::config(format!(
                            "connect failed after {} sockets: {e}",
                            held.len()
                        )));
                    }
                }
            }
        }
        "hoard-pollables" => {
            let mut held = Vec::new();
            loop {
                held.push(wasip2::clocks::monotonic_clock::subscribe_duration(
                    3_600_000_000_000,
                ));
            }
        }
        "huge-spec" | "huge-catalog" => Ok("returned by spec or discover".into()),
        "huge-error" => Err(ConnectorError::config("e".repeat(300 << 20))),
        "huge-log" => {
            sluice_guest::log(Level::Info, &"l".repeat(300 << 20));
            Ok("logged".into())
        }
        "env-error" => Err(ConnectorError::config(granted_env())),
        "env-leak" => {
            // Everything a careless connector might do with its env values.
            let values = granted_env();
            sluice_guest::log(Level::Info, &format!("logged {values}"));
            sluice_guest::log(Level::Error, &format!("logged {values}"));
            println!("printed {values}");
            eprintln!("printed to stderr {values}");
            Err(ConnectorError::config(format!("failed with {values}")))
        }
        "env-panic" => {
            let values = granted_env();
            eprintln!("about to panic with {values}");
            panic!("panicked with {values}")
        }
        "env" => Ok(std::env::vars()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")),
        other => Err(ConnectorError::config(format!("unknown attack {other}"))),
    }
}

/// `NAME=value` of every env var whose name starts with `GRANTED_`.
fn granted_env() -> String {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("GRANTED_"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Look `name` up through `wasi:sockets/ip-name-lookup` itself, so the
/// host's error code reaches the test as it is (std's lookup folds it into
/// a resolver error).
fn resolve(name: &str) -> Result<String> {
    use wasip2::sockets::{instance_network, ip_name_lookup, network::ErrorCode};
    let failed = |e: ErrorCode| ConnectorError::config(format!("lookup {name}: {e}"));
    let network = instance_network::instance_network();
    let addresses = ip_name_lookup::resolve_addresses(&network, name).map_err(failed)?;
    let mut n = 0;
    loop {
        match addresses.resolve_next_address() {
            Ok(Some(_)) => n += 1,
            Ok(None) => return Ok(format!("resolved {n}")),
            Err(ErrorCode::WouldBlock) => addresses.subscribe().block(),
            Err(e) => return Err(failed(e)),
        }
    }
}

/// 300 MiB to hand the host from `call`, when granted `huge-<what>` for it.
fn huge(call: &str, what: &str) -> Option<String> {
    let granted = std::env::var("HOSTILE_CALL").as_deref() == Ok(call)
        && std::env::var("HOSTILE_ATTACK").as_deref() == Ok(&format!("huge-{what}"));
    granted.then(|| "h".repeat(300 << 20))
}

/// Run the attack named by the env grant if `call` is its target.
fn attack_in(call: &str) {
    if std::env::var("HOSTILE_CALL").as_deref() == Ok(call) {
        let config = Config {
            attack: std::env::var("HOSTILE_ATTACK").unwrap_or_default(),
            target: std::env::var("HOSTILE_TARGET").unwrap_or_default(),
        };
        let _ = attack(&config);
    }
}

impl Connector for Hostile {
    type Config = Config;

    fn spec() -> Spec {
        attack_in("spec");
        let mut spec = Spec::source(
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
        );
        spec.roles.push(Role::Destination);
        spec.documentation = huge("spec", "spec");
        spec
    }

    /// Runs the attack; a harmless outcome is reported as an error value
    /// whose message carries the result, so tests can read it.
    fn check(config: &Config) -> Result<()> {
        attack_in("check");
        let outcome = attack(config)?;
        Err(ConnectorError::data(format!("outcome: {outcome}")))
    }

    fn discover(_: &Config) -> Result<Catalog> {
        attack_in("discover");
        let mut items = sluice_guest::StreamInfo::new(
            "items",
            json!({"type": "object", "properties": {"id": {"type": "integer"}}}),
        );
        if let Some(name) = huge("discover", "catalog") {
            items.name = name;
        }
        Ok(Catalog {
            streams: vec![items],
        })
    }
}

pub struct Nothing;

impl Reader for Nothing {
    fn next(&mut self) -> Result<Option<Vec<Message>>> {
        attack_in("next");
        Ok(None)
    }
}

impl Writer for Nothing {
    fn write(&mut self, _: Batch) -> Result<()> {
        attack_in("write_batch");
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        attack_in("commit");
        Ok(())
    }
}

impl Destination for Hostile {
    type Writer = Nothing;
    fn write(_: Config, _: ConfiguredCatalog) -> Result<Nothing> {
        attack_in("write");
        Ok(Nothing)
    }
}

impl Source for Hostile {
    type Reader = Nothing;
    fn read(_: Config, _: ConfiguredCatalog, _: State) -> Result<Nothing> {
        attack_in("read");
        Ok(Nothing)
    }
}

sluice_guest::export_duplex!(Hostile);
