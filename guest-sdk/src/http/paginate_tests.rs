use super::*;
use serde_json::json;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

/// Advance `pager` past a page of `records` at `at` with `body` and `link`.
fn step(pager: &mut Pager, at: &str, body: Value, link: Option<&str>, records: usize) {
    let at = url(at);
    let page = Page {
        url: &at,
        shown: at.as_str(),
        link: link.map(String::from),
        body: &body,
        records,
    };
    pager.advance(&page).unwrap();
}

fn params(pager: &Pager) -> Vec<(String, String)> {
    match pager.next_request() {
        Some(PageRequest::Params(q)) => q.clone(),
        other => panic!("{other:?}"),
    }
}

fn next_url(pager: &Pager) -> String {
    match pager.next_request() {
        Some(PageRequest::Url(u)) => u.to_string(),
        other => panic!("{other:?}"),
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn page_numbers_count_up_from_start_until_an_empty_page() {
    let style: Pagination =
        serde_json::from_value(json!({"type": "page_number", "size": 2})).unwrap();
    let mut pager = Pager::new(style);
    assert_eq!(params(&pager), pairs(&[("page", "1"), ("per_page", "2")]));
    step(&mut pager, "http://x.test/u", json!({}), None, 2);
    assert_eq!(params(&pager), pairs(&[("page", "2"), ("per_page", "2")]));
    step(&mut pager, "http://x.test/u", json!({}), None, 1);
    assert_eq!(params(&pager)[0], ("page".into(), "3".into()));
    step(&mut pager, "http://x.test/u", json!({}), None, 0);
    assert!(pager.next_request().is_none());

    let zero_based = Pagination::PageNumber {
        page_param: "p".into(),
        size_param: None,
        size: 10,
        start: 0,
    };
    assert_eq!(params(&Pager::new(zero_based)), pairs(&[("p", "0")]));
}

#[test]
fn offsets_move_by_the_records_received() {
    let style: Pagination = serde_json::from_value(json!({"type": "offset", "limit": 50})).unwrap();
    let mut pager = Pager::new(style);
    assert_eq!(params(&pager), pairs(&[("offset", "0"), ("limit", "50")]));
    // The server capped the page at 20.
    step(&mut pager, "http://x.test/u", json!({}), None, 20);
    assert_eq!(params(&pager), pairs(&[("offset", "20"), ("limit", "50")]));
    step(&mut pager, "http://x.test/u", json!({}), None, 0);
    assert!(pager.next_request().is_none());
}

#[test]
fn cursors_come_from_the_body_until_null() {
    let style: Pagination =
        serde_json::from_value(json!({"type": "cursor", "cursor_path": "meta.next"})).unwrap();
    let mut pager = Pager::new(style);
    assert_eq!(params(&pager), []);
    step(
        &mut pager,
        "http://x.test/u",
        json!({"meta": {"next": "c2"}}),
        None,
        5,
    );
    assert_eq!(params(&pager), pairs(&[("cursor", "c2")]));
    step(
        &mut pager,
        "http://x.test/u",
        json!({"meta": {"next": 7}}),
        None,
        5,
    );
    assert_eq!(params(&pager), pairs(&[("cursor", "7")]));
    step(
        &mut pager,
        "http://x.test/u",
        json!({"meta": {"next": null}}),
        None,
        5,
    );
    assert!(pager.next_request().is_none());
}

#[test]
fn a_cursor_that_does_not_move_is_an_error_not_a_loop() {
    let mut pager = Pager::new(Pagination::Cursor {
        cursor_path: "next_cursor".into(),
        cursor_param: "cursor".into(),
    });
    let body = json!({"next_cursor": "same"});
    step(&mut pager, "http://x.test/u", body.clone(), None, 1);
    let at = url("http://x.test/u?cursor=same");
    let page = Page {
        url: &at,
        shown: "http://x.test/u?cursor=same",
        link: None,
        body: &body,
        records: 1,
    };
    let e = pager.advance(&page).unwrap_err();
    assert_eq!(e.kind, crate::ErrorKind::Data);
    assert!(e.message.contains("did not change"), "{}", e.message);
}

#[test]
fn next_urls_resolve_against_the_page_and_stop_at_null() {
    let mut pager = Pager::new(Pagination::NextUrl {
        next_url_path: "next".into(),
    });
    step(
        &mut pager,
        "http://x.test/api/users?page=1",
        json!({"next": "http://x.test/api/users?page=2"}),
        None,
        3,
    );
    assert_eq!(next_url(&pager), "http://x.test/api/users?page=2");
    step(
        &mut pager,
        "http://x.test/api/users?page=2",
        json!({"next": "users?page=3"}),
        None,
        3,
    );
    assert_eq!(next_url(&pager), "http://x.test/api/users?page=3");
    step(
        &mut pager,
        "http://x.test/api/users?page=3",
        json!({"next": null}),
        None,
        3,
    );
    assert!(pager.next_request().is_none());
}

#[test]
fn bad_next_urls_are_data_errors_that_do_not_echo_them() {
    let at = url("http://x.test/u");
    for (next, says) in [
        (json!("http://[::1"), "is not a URL"),
        (json!("ftp://x.test/secret?api_key=T"), "not an http(s) URL"),
        (json!("http://x.test/u"), "the page itself"),
        (json!(5), "not a string"),
    ] {
        let mut pager = Pager::new(Pagination::NextUrl {
            next_url_path: "next".into(),
        });
        let body = json!({ "next": next });
        let page = Page {
            url: &at,
            shown: "http://x.test/u",
            link: None,
            body: &body,
            records: 1,
        };
        let e = pager.advance(&page).unwrap_err();
        assert!(e.message.contains(says), "{}", e.message);
        assert!(!e.message.contains("api_key=T"), "{}", e.message);
    }
}

#[test]
fn link_headers_give_the_next_page() {
    let mut pager = Pager::new(Pagination::LinkHeader);
    step(
        &mut pager,
        "http://x.test/link/users?page=1&per_page=2",
        json!([]),
        Some(r#"<http://x.test/link/users?page=2&per_page=2>; rel="next""#),
        2,
    );
    assert_eq!(
        next_url(&pager),
        "http://x.test/link/users?page=2&per_page=2"
    );
    step(
        &mut pager,
        "http://x.test/link/users?page=2&per_page=2",
        json!([]),
        Some(r#"<http://x.test/link/users?page=1&per_page=2>; rel="prev""#),
        2,
    );
    assert!(pager.next_request().is_none());
}

#[test]
fn every_style_stops_at_an_empty_page() {
    let styles = [
        Pagination::NextUrl {
            next_url_path: "next".into(),
        },
        Pagination::LinkHeader,
        Pagination::Cursor {
            cursor_path: "next".into(),
            cursor_param: "c".into(),
        },
    ];
    for style in styles {
        let mut pager = Pager::new(style);
        step(
            &mut pager,
            "http://x.test/u",
            json!({"next": "http://x.test/u2"}),
            Some(r#"<http://x.test/u2>; rel="next""#),
            0,
        );
        assert!(pager.next_request().is_none());
    }
    let mut none = Pager::new(Pagination::None);
    step(&mut none, "http://x.test/u", json!({}), None, 10);
    assert!(none.next_request().is_none());
}

#[test]
fn records_are_taken_from_paths_and_pointers() {
    let mut body = json!({"result": {"items": [{"id": 1}]}, "next": "x"});
    assert_eq!(
        records(&mut body, "result.items").unwrap(),
        [json!({"id": 1})]
    );
    assert_eq!(body["next"], "x");
    let mut body = json!({"result": {"items": [{"id": 1}]}});
    assert_eq!(records(&mut body, "/result/items").unwrap().len(), 1);
    let mut body = json!({"data": null});
    assert!(records(&mut body, "data").unwrap().is_empty());
    let mut single = json!({"data": {"id": 9}});
    assert_eq!(records(&mut single, "data").unwrap(), [json!({"id": 9})]);
}

#[test]
fn records_errors_say_what_is_wrong() {
    let e = records(&mut json!({"items": []}), "data").unwrap_err();
    assert_eq!(e, "the body has no `data` (the records path)");
    let e = records(&mut json!("text"), "").unwrap_err();
    assert_eq!(e, "`the body` is a string, not a list of records");
    let e = records(&mut json!({"data": [{"id": 1}, 2]}), "data").unwrap_err();
    assert_eq!(e, "record 1 of `data` is a number, not an object");
}

#[test]
fn paths_with_odd_keys() {
    let body = json!({"a/b": {"c~d": 1}});
    // A slash starts a pointer only at the front; in a dotted path it is a
    // character of a key.
    assert_eq!(select(&body, "a/b.c~d"), Some(&json!(1)));
    assert_eq!(pointer("x.a/b"), "/x/a~1b");
    assert_eq!(select(&body, "/a~1b/c~0d"), Some(&json!(1)));
}
