//! HTTP egress checked on every request, and response bodies and
//! timeouts bounded by named limits.

use super::*;

#[tokio::test]
async fn http_requests_reach_only_granted_hosts_and_prefixes() {
    let _serial = serial().await;
    let rt = runtime();
    let c = rt.load(artifacts::HTTP_CLIENT).await.unwrap();
    let (addr, hits) = hello_server();
    let url = format!("http://{addr}/v1/items?page=2");
    // Nothing granted: denied, naming the URL and the grant, nothing sent.
    let err = c
        .check(&Sandbox::default(), &json!({ "url": url }))
        .await
        .unwrap_err();
    let Error::Egress {
        url: denied,
        missing,
        call,
        ..
    } = &err
    else {
        panic!("expected an egress denial, got {err}");
    };
    assert_eq!((denied.as_str(), *call), (url.as_str(), Call::Check));
    assert_eq!(missing, &addr);
    assert!(err.to_string().contains(&url), "{err}");
    // A prefix that does not cover the path, or another port: still denied.
    for sandbox in [
        hosts(&[&format!("http://{addr}/v2/")]),
        hosts(&["127.0.0.1:1"]),
    ] {
        let err = c.check(&sandbox, &json!({ "url": url })).await.unwrap_err();
        assert!(matches!(err, Error::Egress { .. }), "{err}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a denied request was sent");
    // Granted as host:port and as a covering prefix: the request goes out.
    for sandbox in [hosts(&[&addr]), hosts(&[&format!("http://{addr}/v1/")])] {
        let err = c.check(&sandbox, &json!({ "url": url })).await.unwrap_err();
        let text = err.connector_error().map(|e| e.message.clone());
        assert_eq!(text.as_deref(), Some("outcome: 200 hello"), "{err}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

/// The http-client guest granted `server`, within `limits`.
fn http_sandbox(server: &HttpServer, limits: Limits) -> Sandbox {
    Sandbox {
        limits,
        ..hosts(&[&format!("127.0.0.1:{}", server.port())])
    }
}

#[tokio::test]
async fn an_http_body_over_its_limit_is_stopped_naming_limits_http_body_mib() {
    let _serial = serial().await;
    let rt = runtime();
    let c = rt.load(artifacts::HTTP_CLIENT).await.unwrap();
    let server = HttpServer::start(Options::default()).unwrap();
    let limits = Limits {
        http_body_mib: 1,
        ..Default::default()
    };
    let url = format!("{}/big?mib=512", server.base_url());
    let watch = Watch::start();
    let err = c
        .check(&http_sandbox(&server, limits), &json!({ "url": url }))
        .await
        .unwrap_err();
    let usage = watch.stop();
    let limit = Limit::HttpBody { max_bytes: 1 << 20 };
    assert_stopped_at(&err, Call::Check, &limit, "limits.http_body_mib");
    assert_eq!(server.requests().len(), 1);
    // 512 MiB were on offer; the host took in about the limit.
    usage.assert_bounded("body", 16, 32);
    another_pipeline_completes(&rt).await;
}

#[tokio::test]
async fn a_server_that_stalls_is_stopped_by_the_http_timeouts_naming_them() {
    let _serial = serial().await;
    let rt = runtime();
    let c = rt.load(artifacts::HTTP_CLIENT).await.unwrap();
    let server = HttpServer::start(Options::default()).unwrap();
    let base = server.base_url();
    let first_byte = Limits {
        http_first_byte_timeout_ms: 300,
        ..Default::default()
    };
    let between_bytes = Limits {
        http_between_bytes_timeout_ms: 300,
        ..Default::default()
    };
    for (path, limits, key) in [
        ("/stall", first_byte, "limits.http_first_byte_timeout_ms"),
        (
            "/gap",
            between_bytes,
            "limits.http_between_bytes_timeout_ms",
        ),
    ] {
        // Silent for a minute: long past the limit, within the call's deadline.
        let url = format!("{base}{path}?ms=60000");
        let watch = Watch::start();
        let started = Instant::now();
        let err = c
            .check(&http_sandbox(&server, limits), &json!({ "url": url }))
            .await
            .unwrap_err();
        let took = started.elapsed();
        let usage = watch.stop();
        let limit = Limit::HttpTimeout { millis: 300, key };
        assert_stopped_at(&err, Call::Check, &limit, key);
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(10),
            "{path}: {took:?}"
        );
        usage.assert_bounded(path, 16, 64);
    }
    assert_eq!(server.requests().len(), 2, "both were asked");
    // Within its timeouts, the same request completes.
    let url = format!("{base}/gap?ms=100");
    let err = c
        .check(
            &http_sandbox(&server, between_bytes),
            &json!({ "url": url }),
        )
        .await
        .unwrap_err();
    let text = err.connector_error().map(|e| e.message.clone());
    assert_eq!(text.as_deref(), Some("outcome: 200 {\"data\":[]}"), "{err}");
    another_pipeline_completes(&rt).await;
}

#[tokio::test]
async fn a_connect_that_never_completes_is_stopped_by_the_connect_timeout() {
    let _serial = serial().await;
    // A listener that accepts nothing, its backlog filled: the next
    // connection's handshake is never answered.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    let full = loop {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(filler) if fillers.len() < 16 => fillers.push(filler),
            Ok(_) => break false,
            Err(_) => break true,
        }
    };
    // Linux drops the SYNs a full backlog cannot queue: the handshake
    // stalls, as it does towards a host that drops packets.
    assert!(
        full,
        "a listener with a full backlog still completed {} connections",
        fillers.len()
    );
    let rt = runtime();
    let c = rt.load(artifacts::HTTP_CLIENT).await.unwrap();
    let sandbox = Sandbox {
        limits: Limits {
            http_connect_timeout_ms: 300,
            ..Default::default()
        },
        ..hosts(&[&addr.to_string()])
    };
    let watch = Watch::start();
    let started = Instant::now();
    let err = c
        .check(&sandbox, &json!({ "url": format!("http://{addr}/") }))
        .await
        .unwrap_err();
    let took = started.elapsed();
    let usage = watch.stop();
    let key = "limits.http_connect_timeout_ms";
    let limit = Limit::HttpTimeout { millis: 300, key };
    assert_stopped_at(&err, Call::Check, &limit, key);
    assert!(took < Duration::from_secs(10), "{took:?}");
    usage.assert_bounded("connect", 16, 64);
    drop((fillers, listener));
    another_pipeline_completes(&rt).await;
}
