//! The config of dest-postgres: where the server is, as whom to log in,
//! which schema to write into, and the names of the columns the connector
//! adds itself.

use serde::Deserialize;
use serde_json::{Value, json};
use sluice_pg_client::{Client, Config as PgConfig};

/// The metadata column holding when the source extracted the record.
pub const EXTRACTED_AT: &str = "_sluice_extracted_at";

/// Config of dest-postgres.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Host name or address of the server.
    pub host: String,
    /// TCP port of the server.
    #[serde(default = "default_port")]
    pub port: u16,
    /// The role to log in as.
    pub user: String,
    /// The role's password (a secret: never logged or echoed).
    #[serde(default)]
    pub password: Option<String>,
    /// The database to write into.
    pub database: String,
    /// The schema the tables go in; created when missing.
    #[serde(default = "default_schema")]
    pub schema: String,
    /// Create the foreign keys the streams' relationships declare.
    #[serde(default)]
    pub foreign_keys: bool,
    /// Column names of `history` mode.
    #[serde(default)]
    pub history: HistoryColumns,
    /// Add `_sluice_extracted_at timestamptz` to every table.
    #[serde(default = "yes")]
    pub metadata: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("database", &self.database)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// The names of the validity columns of `history` mode.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryColumns {
    /// When a version became valid.
    #[serde(default = "default_valid_from")]
    pub valid_from: String,
    /// When it stopped being valid (NULL while current).
    #[serde(default = "default_valid_to")]
    pub valid_to: String,
    /// Whether it is the current version.
    #[serde(default = "default_is_current")]
    pub is_current: String,
}

impl Default for HistoryColumns {
    fn default() -> Self {
        HistoryColumns {
            valid_from: default_valid_from(),
            valid_to: default_valid_to(),
            is_current: default_is_current(),
        }
    }
}

fn default_port() -> u16 {
    5432
}
fn default_schema() -> String {
    "public".into()
}
fn yes() -> bool {
    true
}
fn default_valid_from() -> String {
    "_valid_from".into()
}
fn default_valid_to() -> String {
    "_valid_to".into()
}
fn default_is_current() -> String {
    "_is_current".into()
}

impl Config {
    /// `host:port`, as the pipeline must grant it.
    pub fn addr(&self) -> String {
        self.pg().addr()
    }

    fn pg(&self) -> PgConfig {
        let mut pg = PgConfig::new(&self.host, self.port, &self.user, &self.database)
            // Staging tables live in temp buffers; the default 8 MB spills early.
            .param("temp_buffers", "64MB")
            // The set-based apply sorts a whole transaction of staged rows.
            .param("work_mem", "64MB")
            .param("application_name", "sluice-dest-postgres");
        if let Some(password) = &self.password {
            pg = pg.password(password);
        }
        pg
    }

    /// Connect and log in.
    pub fn connect(&self) -> sluice_pg_client::Result<Client> {
        Client::connect(&self.pg())
    }
}

/// The JSON Schema of the config.
pub(crate) fn schema() -> Value {
    let column = |default: &str, what: &str| json!({"type": "string", "minLength": 1, "maxLength": 63, "default": default, "description": what});
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dest-postgres",
        "type": "object",
        "required": ["host", "user", "database"],
        "additionalProperties": false,
        "properties": {
            "host": {"type": "string", "minLength": 1,
                     "description": "Server host; the pipeline must grant host:port in `hosts`."},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 5432},
            "user": {"type": "string", "minLength": 1},
            "password": {"type": "string", "secret": true,
                         "description": "Use ${PGPASSWORD}-style substitution in pipeline files."},
            "database": {"type": "string", "minLength": 1},
            "schema": {"type": "string", "minLength": 1, "maxLength": 63, "default": "public",
                       "description": "Schema of the tables; created when missing."},
            "foreign_keys": {"type": "boolean", "default": false,
                             "description": "Create the foreign keys the streams' relationships declare (DEFERRABLE INITIALLY DEFERRED)."},
            "history": {
                "type": "object",
                "additionalProperties": false,
                "default": {"valid_from": "_valid_from", "valid_to": "_valid_to", "is_current": "_is_current"},
                "properties": {
                    "valid_from": column("_valid_from", "When a version became valid."),
                    "valid_to": column("_valid_to", "When it stopped being valid; NULL while current."),
                    "is_current": column("_is_current", "Whether the version is the current one.")
                }
            },
            "metadata": {"type": "boolean", "default": true,
                         "description": "Add _sluice_extracted_at timestamptz (when the source extracted the record)."}
        }
    })
}
