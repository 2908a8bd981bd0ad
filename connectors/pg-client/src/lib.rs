//! A small blocking PostgreSQL client for sluice connectors.
//!
//! It speaks the frontend/backend protocol (version 3.0) over a
//! `std::net::TcpStream`, which inside the wasm32-wasip2 sandbox is a WASI
//! socket the host checks against the pipeline's `hosts` grant. Message
//! framing and the MD5 and SCRAM-SHA-256 exchanges come from
//! `postgres-protocol`; this crate adds the conversation: startup and
//! authentication, simple queries, extended queries with text parameters
//! and text results, and `COPY ... FROM STDIN`.
//!
//! Everything is text format: values go in and come out as PostgreSQL
//! writes them (`t`/`f`, ISO timestamps, `\x..` bytea), so a connector maps
//! types once, in SQL casts, not in a binary codec per type. TLS is not
//! supported.
//!
//! ```no_run
//! use sluice_pg_client::{Client, Config};
//! let mut db = Client::connect(&Config::new("127.0.0.1", 5432, "sluice", "sluice").password("pw"))?;
//! let rows = db.query("select $1::int + 1", &[Some("41")])?;
//! assert_eq!(rows.get(0, 0), Some("42"));
//! # Ok::<(), sluice_pg_client::Error>(())
//! ```

mod conn;
mod copy;
mod error;
mod login;
mod query;
pub mod sql;

pub use conn::{Client, Config};
pub use copy::CopyIn;
pub use error::{Error, Result, ServerError};
pub use login::Login;
pub use query::{Column, Row, Rows};
