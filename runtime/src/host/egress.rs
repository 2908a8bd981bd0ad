//! HTTP egress: every outgoing `wasi:http` request a connector makes is
//! checked against its grants before anything is sent (wasmtime-wasi's
//! socket policy does not apply to wasi:http). A grant is a `host:port`
//! pair or a URL prefix (`https://api.example.com/v2/`). Redirects are
//! never followed by the host: a guest that follows one makes a new
//! request, checked like the first. Timeouts come from the pipeline's
//! limits and response bodies are bounded by `limits.http_body_mib`; a
//! request that runs into one of these limits is recorded so the
//! connector's error can name it. [`super::send`] sends what is granted.

use super::send::{SendError, Timeout, TlsFailure, send};
use super::tls::Tls;
use crate::error::Limit;
use crate::redact::Redactor;
use http_body_util::BodyExt;
use sluice_manifest::{Grants, Limits};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// One network grant as it applies to HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Grant {
    /// Any request to this host and port, over HTTP or HTTPS.
    Authority { host: String, port: u16 },
    /// Requests whose URL starts with this scheme, authority and path.
    Prefix {
        https: bool,
        host: String,
        port: u16,
        path: String,
    },
}

/// A request the host refused: its URL (secrets scrubbed) and the grant
/// that would allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Denied {
    /// The URL asked for.
    pub(crate) url: String,
    /// The grant it lacks, e.g. `api.example.com:443`.
    pub(crate) missing: String,
}

/// What the egress hooks saw that the next error should name.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// The last request refused.
    pub(crate) denied: Option<Denied>,
    /// A named HTTP limit a request ran into: a response body over
    /// `limits.http_body_mib`, or one of the pipeline's HTTP timeouts.
    pub(crate) body_limit: Option<Limit>,
    /// A TLS handshake that failed.
    pub(crate) tls: Option<TlsFailure>,
}

/// The wasi:http hooks of one store: the egress check and the sender.
pub(crate) struct Egress {
    connector: Arc<str>,
    grants: Vec<Grant>,
    limits: Limits,
    redactor: Redactor,
    /// The roots HTTPS trusts.
    tls: Arc<Tls>,
    /// Shared with response bodies, which outlive the request call.
    pub(crate) seen: Arc<Mutex<Seen>>,
}

impl Egress {
    /// The hooks for `connector` under `grants` and `limits`, trusting
    /// `tls` for HTTPS.
    pub(crate) fn new(
        connector: Arc<str>,
        grants: &Grants,
        limits: Limits,
        redactor: Redactor,
        tls: Tls,
    ) -> Result<Self, String> {
        let mut parsed = Vec::new();
        for entry in &grants.hosts {
            match parse_grant(entry) {
                Some(grant) => parsed.push(grant),
                // `host:port` entries are checked by the socket grant.
                None if !is_url_prefix(entry) => {}
                None => {
                    return Err(format!(
                        "`{entry}` in `hosts` is not an http(s) URL prefix like \"https://api.example.com/v2/\""
                    ));
                }
            }
        }
        Ok(Egress {
            connector,
            grants: parsed,
            limits,
            redactor,
            tls: Arc::new(tls),
            seen: Arc::default(),
        })
    }

    /// Take what was recorded since the last call.
    pub(crate) fn take_seen(&self) -> Seen {
        std::mem::take(&mut *self.seen.lock().expect("egress record"))
    }

    /// Whether `uri` is granted; the grant it lacks otherwise.
    fn check(&self, uri: &http::Uri) -> Result<(), String> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("an http or https URL".into()),
        };
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = uri.path();
        let clean = !has_dot_segment(path);
        let ok = self.grants.iter().any(|g| match g {
            Grant::Authority { host: h, port: p } => *h == host && *p == port,
            Grant::Prefix {
                https: s,
                host: h,
                port: p,
                path: prefix,
            } => *s == https && *h == host && *p == port && clean && path.starts_with(prefix),
        });
        if ok {
            Ok(())
        } else {
            Err(format!("{host}:{port}"))
        }
    }

    /// The limit that set `timeout` in `options`, if the pipeline's limit
    /// (not a shorter timeout the guest asked for) is what ran out.
    fn timeout_limit(&self, timeout: Timeout, options: &RequestOptions) -> Option<Limit> {
        let (effective, millis, key) = match timeout {
            Timeout::Connect => (
                options.connect_timeout,
                self.limits.http_connect_timeout_ms,
                "limits.http_connect_timeout_ms",
            ),
            Timeout::FirstByte => (
                options.first_byte_timeout,
                self.limits.http_first_byte_timeout_ms,
                "limits.http_first_byte_timeout_ms",
            ),
            Timeout::BetweenBytes => (
                options.between_bytes_timeout,
                self.limits.http_between_bytes_timeout_ms,
                "limits.http_between_bytes_timeout_ms",
            ),
        };
        (effective == Some(Duration::from_millis(millis)))
            .then_some(Limit::HttpTimeout { millis, key })
    }

    /// The request options the guest asked for, within the pipeline's limits.
    fn options(&self, asked: Option<RequestOptions>) -> RequestOptions {
        let asked = asked.unwrap_or_default();
        let within = |asked: Option<Duration>, ms: u64| {
            let limit = Duration::from_millis(ms);
            Some(asked.map_or(limit, |a| a.min(limit)))
        };
        RequestOptions {
            connect_timeout: within(asked.connect_timeout, self.limits.http_connect_timeout_ms),
            first_byte_timeout: within(
                asked.first_byte_timeout,
                self.limits.http_first_byte_timeout_ms,
            ),
            between_bytes_timeout: within(
                asked.between_bytes_timeout,
                self.limits.http_between_bytes_timeout_ms,
            ),
        }
    }
}

type Sent = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for Egress {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Sent {
        if let Err(missing) = self.check(request.uri()) {
            let url = self.redactor.scrub(&request.uri().to_string());
            tracing::warn!(connector = %self.connector, %url, "HTTP request denied: `{missing}` is not granted");
            self.seen.lock().expect("egress record").denied = Some(Denied { url, missing });
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let options = self.options(options);
        let limits = Named {
            max_body: self.limits.http_body_bytes(),
            connect: self.timeout_limit(Timeout::Connect, &options),
            first_byte: self.timeout_limit(Timeout::FirstByte, &options),
            gap: self.timeout_limit(Timeout::BetweenBytes, &options),
        };
        let (seen, tls) = (self.seen.clone(), self.tls.clone());
        Box::new(async move {
            match send(request, options, &tls).await {
                Ok((response, io)) => Ok((response.map(|body| bounded(body, &limits, seen)), io)),
                Err(SendError::Http(e)) => Err(e),
                Err(SendError::Tls(failure)) => {
                    seen.lock().expect("egress record").tls = Some(failure);
                    Err(HttpError::TlsCertificateError)
                }
                Err(SendError::Timeout(timeout)) => {
                    if let Some(limit) = limits.timeout(timeout) {
                        seen.lock().expect("egress record").body_limit = Some(limit);
                    }
                    Err(timeout.error())
                }
            }
        })
    }
}

/// The named limits one request can run into.
struct Named {
    /// `limits.http_body_mib`, in bytes.
    max_body: u64,
    /// The timeouts that are the pipeline's (`None`: the guest asked for a
    /// shorter one, and its own error says so).
    connect: Option<Limit>,
    first_byte: Option<Limit>,
    gap: Option<Limit>,
}

impl Named {
    /// The limit `timeout` names, if it is the pipeline's.
    fn timeout(&self, timeout: Timeout) -> Option<Limit> {
        match timeout {
            Timeout::Connect => self.connect.clone(),
            Timeout::FirstByte => self.first_byte.clone(),
            Timeout::BetweenBytes => self.gap.clone(),
        }
    }
}

/// `body`, failing once more than the body limit came through or a gap
/// between its parts ran out, recording the limit so the connector's error
/// can be replaced by one naming it.
fn bounded(
    body: impl http_body::Body<Data = bytes::Bytes, Error = HttpError> + Send + 'static,
    limits: &Named,
    seen: Arc<Mutex<Seen>>,
) -> WasiBody {
    let (max, gap) = (limits.max_body, limits.timeout(Timeout::BetweenBytes));
    let limited = http_body_util::Limited::new(body, usize::try_from(max).unwrap_or(usize::MAX));
    limited
        .map_err(move |e| {
            let (hit, error) = match e.downcast::<HttpError>() {
                Ok(inner) if matches!(*inner, HttpError::ConnectionReadTimeout) => {
                    (gap.clone(), *inner)
                }
                Ok(inner) => (None, *inner),
                Err(_) => (
                    Some(Limit::HttpBody { max_bytes: max }),
                    HttpError::HttpResponseBodySize(Some(max)),
                ),
            };
            if let Some(limit) = hit {
                seen.lock().expect("egress record").body_limit = Some(limit);
            }
            error
        })
        .boxed_unsync()
}

/// A `hosts` entry as it applies to HTTP; `None` for one that does not
/// parse (the socket grant reports those).
fn parse_grant(entry: &str) -> Option<Grant> {
    if entry.contains("://") {
        let uri: http::Uri = entry.parse().ok()?;
        let https = match uri.scheme_str()? {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        return Some(Grant::Prefix {
            https,
            host: uri.host()?.to_ascii_lowercase(),
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
            path: uri.path().to_string(),
        });
    }
    let (host, port) = entry.rsplit_once(':')?;
    Some(Grant::Authority {
        host: host.trim_matches(['[', ']']).to_ascii_lowercase(),
        port: port.parse().ok()?,
    })
}

/// Whether `path` holds a `.` or `..` segment (plain or percent-encoded),
/// which could climb out of a granted prefix on the server.
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|seg| {
        let seg = seg.to_ascii_lowercase().replace("%2e", ".");
        seg == "." || seg == ".."
    })
}

/// Whether `entry` of `hosts` is an HTTP URL prefix (not a socket grant).
pub(crate) fn is_url_prefix(entry: &str) -> bool {
    entry.contains("://")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn egress(hosts: &[&str]) -> Egress {
        let grants = Grants {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            ..Default::default()
        };
        let tls = Tls::new(None).unwrap();
        Egress::new(
            "c".into(),
            &grants,
            Limits::default(),
            Redactor::default(),
            tls,
        )
        .unwrap()
    }

    fn check(e: &Egress, url: &str) -> Result<(), String> {
        e.check(&url.parse().unwrap())
    }

    #[test]
    fn host_port_grants_any_path_over_either_scheme() {
        let e = egress(&["api.example.com:443", "127.0.0.1:8080"]);
        assert_eq!(check(&e, "https://api.example.com/v1/users?x=1"), Ok(()));
        assert_eq!(check(&e, "https://API.example.com/"), Ok(()));
        assert_eq!(check(&e, "http://127.0.0.1:8080/a"), Ok(()));
        assert_eq!(
            check(&e, "http://api.example.com/"),
            Err("api.example.com:80".into())
        );
        assert_eq!(
            check(&e, "https://evil.example.com/"),
            Err("evil.example.com:443".into())
        );
        assert_eq!(
            check(&e, "http://127.0.0.1:8081/a"),
            Err("127.0.0.1:8081".into())
        );
    }

    #[test]
    fn url_prefix_grants_only_under_its_path_and_scheme() {
        let e = egress(&["https://api.example.com/v2/"]);
        assert_eq!(check(&e, "https://api.example.com/v2/users"), Ok(()));
        assert!(check(&e, "https://api.example.com/v1/users").is_err());
        assert!(check(&e, "http://api.example.com/v2/users").is_err());
        assert!(check(&e, "https://api.example.com:8443/v2/users").is_err());
        assert!(check(&e, "https://api.example.com/v2/../admin").is_err());
        assert!(check(&e, "https://api.example.com/v2/%2E%2e/admin").is_err());
    }

    #[test]
    fn a_url_prefix_that_does_not_parse_is_refused_naming_it() {
        let grants = Grants {
            hosts: vec!["ftp://files.example.com/".into()],
            ..Default::default()
        };
        let tls = Tls::new(None).unwrap();
        let err = Egress::new(
            "c".into(),
            &grants,
            Limits::default(),
            Redactor::default(),
            tls,
        )
        .err()
        .unwrap();
        assert!(err.contains("ftp://files.example.com/"), "{err}");
    }

    #[test]
    fn timeouts_are_held_within_the_limits() {
        let e = egress(&[]);
        let o = e.options(Some(RequestOptions {
            connect_timeout: Some(Duration::from_secs(3600)),
            first_byte_timeout: Some(Duration::from_millis(5)),
            between_bytes_timeout: None,
        }));
        assert_eq!(o.connect_timeout, Some(Duration::from_secs(10)));
        assert_eq!(o.first_byte_timeout, Some(Duration::from_millis(5)));
        assert_eq!(o.between_bytes_timeout, Some(Duration::from_secs(60)));
    }

    #[test]
    fn a_timeout_is_named_only_when_it_is_the_pipelines() {
        let e = egress(&[]);
        let o = e.options(Some(RequestOptions {
            connect_timeout: Some(Duration::from_millis(5)),
            first_byte_timeout: None,
            between_bytes_timeout: Some(Duration::from_secs(3600)),
        }));
        // The guest's own 5 ms connect timeout is its business, not a limit.
        assert_eq!(e.timeout_limit(Timeout::Connect, &o), None);
        assert_eq!(
            e.timeout_limit(Timeout::FirstByte, &o),
            Some(Limit::HttpTimeout {
                millis: 60_000,
                key: "limits.http_first_byte_timeout_ms"
            })
        );
        assert_eq!(
            e.timeout_limit(Timeout::BetweenBytes, &o),
            Some(Limit::HttpTimeout {
                millis: 60_000,
                key: "limits.http_between_bytes_timeout_ms"
            })
        );
    }

    #[test]
    fn dot_segments_are_found() {
        assert!(has_dot_segment("/a/../b"));
        assert!(has_dot_segment("/a/%2e%2E"));
        assert!(has_dot_segment("/./b"));
        assert!(!has_dot_segment("/a/b.c/..d"));
    }
}
