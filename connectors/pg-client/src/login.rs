//! The connection fields every PostgreSQL connector's config shares, with
//! their JSON Schema, so source and destination ask for them alike.

use crate::conn::Config;
use serde::Deserialize;
use serde_json::{Value, json};

/// Where and as whom to log in, as a connector config spells it
/// (`host`, `port`, `user`, `password`, `database`).
#[derive(Clone, Deserialize)]
pub struct Login {
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
    /// The database.
    pub database: String,
}

fn default_port() -> u16 {
    5432
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("Login")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl Login {
    /// The client config, with the password when there is one; add
    /// session parameters with [`Config::param`].
    pub fn config(&self) -> Config {
        let config = Config::new(&self.host, self.port, &self.user, &self.database);
        match &self.password {
            Some(password) => config.password(password),
            None => config,
        }
    }

    /// `host:port`, as a pipeline must grant it.
    pub fn addr(&self) -> String {
        self.config().addr()
    }

    /// The JSON Schema properties of the fields, for a connector's config
    /// schema (`password` marked secret); `host`, `user` and `database`
    /// are required ([`Login::REQUIRED`]).
    pub fn schema_properties() -> serde_json::Map<String, Value> {
        let props = json!({
            "host": {"type": "string", "minLength": 1,
                     "description": "Server host name or address (the pipeline grants the connector host:port)."},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 5432},
            "user": {"type": "string", "minLength": 1, "description": "The role to log in as."},
            "password": {"type": "string", "secret": true,
                         "description": "The role's password (password, md5 or scram-sha-256 authentication)."},
            "database": {"type": "string", "minLength": 1}
        });
        props.as_object().cloned().unwrap_or_default()
    }

    /// The fields a config must have.
    pub const REQUIRED: [&'static str; 3] = ["host", "user", "database"];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_reads_with_defaults_and_never_shows_its_password() {
        let login: Login = serde_json::from_value(
            json!({"host": "db", "user": "u", "database": "d", "password": "pw-1"}),
        )
        .unwrap();
        assert_eq!(login.port, 5432);
        assert_eq!(login.addr(), "db:5432");
        assert!(!format!("{login:?}").contains("pw-1"));
        assert!(!format!("{:?}", login.config()).contains("pw-1"));
        assert_eq!(
            Login::schema_properties()["password"]["secret"],
            json!(true)
        );
    }
}
