//! The connection: startup, authentication, and reading and writing
//! protocol messages.

use crate::error::{Error, Result, ServerError};
use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::{backend::Message, frontend};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Where and as whom to connect.
#[derive(Clone)]
pub struct Config {
    host: String,
    port: u16,
    user: String,
    database: String,
    password: Option<String>,
    params: Vec<(String, String)>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Connect to `host:port` as `user`, to `database`.
    pub fn new(host: &str, port: u16, user: &str, database: &str) -> Self {
        Config {
            host: host.to_string(),
            port,
            user: user.to_string(),
            database: database.to_string(),
            password: None,
            params: vec![
                ("client_encoding".into(), "UTF8".into()),
                ("DateStyle".into(), "ISO, YMD".into()),
                ("IntervalStyle".into(), "iso_8601".into()),
                ("TimeZone".into(), "UTC".into()),
                ("extra_float_digits".into(), "3".into()),
                ("application_name".into(), "sluice".into()),
            ],
            timeout: None,
        }
    }

    /// The password, for whichever method the server asks for.
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_string());
        self
    }

    /// A run-time parameter sent at startup (`application_name`,
    /// `search_path`, ...); replaces a default of the same name.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params.retain(|(n, _)| n != name);
        self.params.push((name.to_string(), value.to_string()));
        self
    }

    /// Give up on reads and writes that take longer than this.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// `host:port`.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The user.
    pub fn user(&self) -> &str {
        &self.user
    }
}

/// One session with a server. Not thread-safe; one statement at a time.
pub struct Client {
    stream: TcpStream,
    pub(crate) read: BytesMut,
    pub(crate) write: BytesMut,
    scratch: Vec<u8>,
    /// The transaction status of the last `ReadyForQuery`: `I`dle, in a
    /// `T`ransaction, or in a failed one (`E`).
    pub(crate) status: u8,
    server_version: String,
    /// The rows not yet sent of a COPY opened with `copy_begin`.
    pub(crate) copy: Option<Vec<u8>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server_version", &self.server_version)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connect and log in.
    pub fn connect(config: &Config) -> Result<Client> {
        let addr = config.addr();
        let stream = TcpStream::connect(addr.as_str()).map_err(|source| Error::Connect {
            addr: addr.clone(),
            source,
        })?;
        let _ = stream.set_nodelay(true);
        if let Some(t) = config.timeout {
            let _ = stream.set_read_timeout(Some(t));
            let _ = stream.set_write_timeout(Some(t));
        }
        let mut client = Client {
            stream,
            read: BytesMut::with_capacity(64 * 1024),
            write: BytesMut::with_capacity(64 * 1024),
            scratch: vec![0; 64 * 1024],
            status: b'I',
            server_version: String::new(),
            copy: None,
        };
        client.startup(config)?;
        Ok(client)
    }

    /// The server's `server_version`, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// Whether a transaction is open (or failed and not yet rolled back).
    pub fn in_transaction(&self) -> bool {
        self.status != b'I'
    }

    fn startup(&mut self, config: &Config) -> Result<()> {
        let mut params: Vec<(&str, &str)> = vec![
            ("user", config.user.as_str()),
            ("database", config.database.as_str()),
        ];
        params.extend(config.params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        frontend::startup_message(params, &mut self.write)?;
        self.flush()?;
        self.authenticate(config)?;
        loop {
            match self.next()? {
                Message::ParameterStatus(p) => {
                    if p.name()? == "server_version" {
                        self.server_version = p.value()?.to_string();
                    }
                }
                Message::BackendKeyData(_) | Message::NoticeResponse(_) => {}
                Message::ReadyForQuery(r) => {
                    self.status = r.status();
                    return Ok(());
                }
                Message::ErrorResponse(e) => {
                    return Err(Error::Server(Box::new(server_error(&e)?)));
                }
                _ => return Err(Error::Protocol("during startup".into())),
            }
        }
    }

    fn authenticate(&mut self, config: &Config) -> Result<()> {
        let auth = |message: &str| Error::Auth {
            user: config.user.clone(),
            message: message.to_string(),
        };
        let password = || {
            config
                .password
                .as_deref()
                .map(str::as_bytes)
                .ok_or_else(|| auth("the server asks for a password and none is configured"))
        };
        let mut scram: Option<sasl::ScramSha256> = None;
        loop {
            match self.next()? {
                Message::AuthenticationOk => return Ok(()),
                Message::AuthenticationCleartextPassword => {
                    frontend::password_message(password()?, &mut self.write)?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash = md5_hash(config.user.as_bytes(), password()?, body.salt());
                    frontend::password_message(hash.as_bytes(), &mut self.write)?;
                }
                Message::AuthenticationSasl(body) => {
                    let mut mechanisms = body.mechanisms();
                    let mut found = false;
                    while let Some(m) = mechanisms.next()? {
                        found |= m == sasl::SCRAM_SHA_256;
                    }
                    if !found {
                        return Err(auth(
                            "the server offers no SASL mechanism this client speaks (SCRAM-SHA-256)",
                        ));
                    }
                    let s =
                        sasl::ScramSha256::new(password()?, sasl::ChannelBinding::unsupported());
                    frontend::sasl_initial_response(
                        sasl::SCRAM_SHA_256,
                        s.message(),
                        &mut self.write,
                    )?;
                    scram = Some(s);
                }
                Message::AuthenticationSaslContinue(body) => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| auth("SASL continue before start"))?;
                    s.update(body.data()).map_err(|e| auth(&e.to_string()))?;
                    frontend::sasl_response(s.message(), &mut self.write)?;
                }
                Message::AuthenticationSaslFinal(body) => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| auth("SASL final before start"))?;
                    s.finish(body.data()).map_err(|e| auth(&e.to_string()))?;
                    continue;
                }
                Message::ErrorResponse(e) => {
                    let e = server_error(&e)?;
                    return Err(if e.code.starts_with("28") {
                        auth(&e.message)
                    } else {
                        Error::Server(Box::new(e))
                    });
                }
                Message::AuthenticationKerberosV5
                | Message::AuthenticationScmCredential
                | Message::AuthenticationGss
                | Message::AuthenticationSspi => {
                    return Err(auth(
                        "the server asks for an authentication method this client does not speak (it speaks password, md5 and scram-sha-256)",
                    ));
                }
                _ => return Err(Error::Protocol("during authentication".into())),
            }
            self.flush()?;
        }
    }

    /// Fail unless the connection is free for a statement (no COPY opened
    /// with `copy_begin` is still open).
    pub(crate) fn ready(&self) -> Result<()> {
        match self.copy {
            Some(_) => Err(Error::Protocol(
                "a COPY is still open: end it with copy_end first".into(),
            )),
            None => Ok(()),
        }
    }

    /// Send what is buffered.
    pub(crate) fn flush(&mut self) -> Result<()> {
        if !self.write.is_empty() {
            self.stream.write_all(&self.write)?;
            self.write.clear();
        }
        Ok(())
    }

    /// The next message from the server.
    pub(crate) fn next(&mut self) -> Result<Message> {
        loop {
            if let Some(message) = Message::parse(&mut self.read)? {
                return Ok(message);
            }
            let n = self.stream.read(&mut self.scratch)?;
            if n == 0 {
                return Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            self.read.extend_from_slice(&self.scratch[..n]);
        }
    }

    /// Read up to `ReadyForQuery`, keeping the first error, and return it.
    pub(crate) fn finish_with(&mut self, mut error: Option<Error>) -> Result<()> {
        loop {
            match self.next()? {
                Message::ReadyForQuery(r) => {
                    self.status = r.status();
                    return error.map_or(Ok(()), Err);
                }
                Message::ErrorResponse(e) => {
                    error.get_or_insert(Error::Server(Box::new(server_error(&e)?)));
                }
                _ => {}
            }
        }
    }

    /// Say goodbye (the server then closes the connection).
    pub fn close(mut self) -> Result<()> {
        frontend::terminate(&mut self.write);
        self.flush()
    }
}

/// The fields of an `ErrorResponse`.
pub(crate) fn server_error(
    body: &postgres_protocol::message::backend::ErrorResponseBody,
) -> Result<ServerError> {
    let mut e = ServerError::default();
    let mut fields = body.fields();
    while let Some(field) = fields.next()? {
        let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
        match field.type_() {
            b'V' => e.severity = value,
            b'S' if e.severity.is_empty() => e.severity = value,
            b'C' => e.code = value,
            b'M' => e.message = value,
            b'D' => e.detail = Some(value),
            b'H' => e.hint = Some(value),
            b't' => e.table = Some(value),
            b'c' => e.column = Some(value),
            b'n' => e.constraint = Some(value),
            _ => {}
        }
    }
    Ok(e)
}
