//! The four ways a request may carry the token, any one of which lets it
//! in: `Authorization: Bearer T`, `X-Api-Key: T`, `?api_key=T`, and
//! `Authorization: Basic base64("sluice:T")`.

use crate::query::Query;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::HeaderMap;
use hyper::header::AUTHORIZATION;

/// The user name that HTTP Basic authentication pairs with the token.
pub const BASIC_USER: &str = "sluice";

/// The query parameter that may carry the token.
pub const API_KEY_PARAM: &str = "api_key";

/// Whether the request carries `token` in any accepted form.
pub fn authorized(token: &str, headers: &HeaderMap, query: &Query) -> bool {
    let api_key = headers
        .get_all("x-api-key")
        .iter()
        .any(|v| v.as_bytes() == token.as_bytes());
    let param = query.get(API_KEY_PARAM) == Some(token);
    let authorization = headers
        .get_all(AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| authorization_carries(token, v));
    api_key || param || authorization
}

/// Whether one `Authorization` value is `Bearer token` or
/// `Basic base64("sluice:token")` (schemes are case-insensitive).
fn authorization_carries(token: &str, value: &str) -> bool {
    let Some((scheme, credentials)) = value.trim().split_once(' ') else {
        return false;
    };
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return credentials == token;
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let Ok(decoded) = STANDARD.decode(credentials) else {
            return false;
        };
        return decoded == format!("{BASIC_USER}:{token}").as_bytes();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn with(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn every_form_and_only_the_token() {
        let none = Query::default();
        let basic = format!("Basic {}", STANDARD.encode("sluice:s3cret"));
        assert!(authorized(
            "s3cret",
            &with("authorization", "Bearer s3cret"),
            &none
        ));
        assert!(authorized(
            "s3cret",
            &with("authorization", "bearer s3cret"),
            &none
        ));
        assert!(authorized("s3cret", &with("authorization", &basic), &none));
        assert!(authorized("s3cret", &with("x-api-key", "s3cret"), &none));
        let param = Query::parse(Some("api_key=s3cret"));
        assert!(authorized("s3cret", &HeaderMap::new(), &param));

        assert!(!authorized("s3cret", &HeaderMap::new(), &none));
        assert!(!authorized(
            "s3cret",
            &with("authorization", "Bearer wrong"),
            &none
        ));
        assert!(!authorized(
            "s3cret",
            &with("authorization", "s3cret"),
            &none
        ));
        let other_user = format!("Basic {}", STANDARD.encode("admin:s3cret"));
        assert!(!authorized(
            "s3cret",
            &with("authorization", &other_user),
            &none
        ));
        assert!(!authorized("s3cret", &with("x-api-key", "wrong"), &none));
    }
}
