//! A request's query string: its decoded parameters, and the same string
//! with one parameter replaced, for `next` and `Link` URLs.

use crate::dataset;

/// A parameter was present but unusable; the text is the 400 answer.
#[derive(Debug)]
pub struct BadParam(pub String);

/// The parameters of one query string.
#[derive(Debug, Default)]
pub struct Query {
    /// The query string as received (without `?`).
    raw: String,
    /// Its pairs, percent-decoded.
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses `raw` (`None`: no query string).
    pub fn parse(raw: Option<&str>) -> Self {
        let raw = raw.unwrap_or_default().to_owned();
        let pairs = form_urlencoded::parse(raw.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Query { raw, pairs }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `name` as a number of at least `min`, or `default` when absent.
    pub fn number(&self, name: &str, default: u64, min: u64) -> Result<u64, BadParam> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        match text.trim().parse::<u64>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(BadParam(format!(
                "{name} must be a whole number of at least {min}, not {text:?}"
            ))),
        }
    }

    /// `updated_since` in milliseconds since the Unix epoch, if given.
    pub fn updated_since(&self) -> Result<Option<i64>, BadParam> {
        match self.get("updated_since") {
            None => Ok(None),
            Some(text) => dataset::parse_time(text).map(Some).ok_or_else(|| {
                BadParam(format!(
                    "updated_since must be an RFC 3339 time, not {text:?}"
                ))
            }),
        }
    }

    /// The query string with every `name` pair dropped and `name=value`
    /// appended; the other pairs keep their encoding as received.
    pub fn with(&self, name: &str, value: &str) -> String {
        let mut kept: Vec<String> = self
            .raw
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter(|pair| {
                let key = pair.split('=').next().unwrap_or_default();
                form_urlencoded::parse(key.as_bytes())
                    .next()
                    .is_none_or(|(k, _)| k != name)
            })
            .map(str::to_owned)
            .collect();
        let added: String = form_urlencoded::Serializer::new(String::new())
            .append_pair(name, value)
            .finish();
        kept.push(added);
        kept.join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_rebuilds() {
        let q = Query::parse(Some(
            "per_page=5&updated_since=2026-01-01T00%3A00%3A05%2B00%3A00&page=2",
        ));
        assert_eq!(q.get("updated_since"), Some("2026-01-01T00:00:05+00:00"));
        assert_eq!(q.number("page", 1, 1).unwrap(), 2);
        assert_eq!(q.number("offset", 0, 0).unwrap(), 0);
        assert!(q.updated_since().unwrap().is_some());
        assert_eq!(
            q.with("page", "3"),
            "per_page=5&updated_since=2026-01-01T00%3A00%3A05%2B00%3A00&page=3"
        );
        assert!(Query::parse(Some("page=0")).number("page", 1, 1).is_err());
        assert!(Query::parse(Some("page=x")).number("page", 1, 1).is_err());
        assert!(
            Query::parse(Some("updated_since=soon"))
                .updated_since()
                .is_err()
        );
        assert_eq!(Query::parse(None).with("page", "2"), "page=2");
    }
}
