//! What the grants let through and no more: name lookups only of granted
//! names, granted env values scrubbed from what the host shows.

use super::*;

/// A name other than `localhost` that resolves on this machine without
/// any help from sluice: from `/etc/hosts`, or the host's own name.
fn another_resolvable_name() -> String {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let listed = hosts
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .flat_map(|l| l.split_whitespace().skip(1).map(str::to_string))
        .collect::<Vec<_>>();
    let own = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    listed
        .into_iter()
        .chain([own.trim().to_string()])
        .filter(|name| !name.is_empty() && !name.eq_ignore_ascii_case("localhost"))
        .find(|name| resolves(name))
        .expect("a name besides localhost that resolves here (in /etc/hosts)")
}

/// Whether `name` resolves in this process, outside any sandbox.
fn resolves(name: &str) -> bool {
    (name, 9)
        .to_socket_addrs()
        .is_ok_and(|mut a| a.next().is_some())
}

#[tokio::test]
async fn name_lookups_are_limited_to_granted_names() {
    let _serial = serial().await;
    let rt = runtime();
    let c = rt.load(artifacts::HOSTILE).await.unwrap();
    assert!(resolves("localhost"));
    let other = another_resolvable_name();
    let outcome = |sandbox: Sandbox, attack: &'static str, target: &str| {
        let (c, target) = (&c, target.to_string());
        async move {
            let err = c
                .check(&sandbox, &json!({"attack": attack, "target": target}))
                .await
                .unwrap_err();
            let Error::Connector { error, call, .. } = &err else {
                panic!("expected the guest's own error, got {err}");
            };
            assert_eq!(*call, Call::Check);
            error.message.clone()
        }
    };
    // Granted, `localhost` resolves in the sandbox, as it does outside it.
    let granted = hosts(&["localhost:9"]);
    let resolved = outcome(granted, "dns-raw", "localhost").await;
    assert!(resolved.starts_with("outcome: resolved"), "{resolved}");

    // With only another name granted, the very same lookup is refused by
    // the host, as access denied; the granted name still resolves.
    let watch = Watch::start();
    let only_other = || hosts(&[&format!("{other}:9")]);
    let denied = outcome(only_other(), "dns-raw", "localhost").await;
    assert!(
        denied.starts_with("lookup localhost: access-denied"),
        "{denied}"
    );
    let resolved = outcome(only_other(), "dns-raw", &other).await;
    assert!(
        resolved.starts_with("outcome: resolved"),
        "{other}: {resolved}"
    );
    // A made-up name carrying data out, and the same through std's resolver.
    let leak = "data-sent-out.example.com";
    let denied = outcome(only_other(), "dns-raw", leak).await;
    assert!(
        denied.starts_with(&format!("lookup {leak}: access-denied")),
        "{denied}"
    );
    let denied = outcome(only_other(), "dns", "localhost").await;
    assert!(denied.starts_with("lookup localhost:"), "{denied}");
    assert!(!denied.contains("resolved"), "{denied}");
    let usage = watch.stop();
    usage.assert_bounded("lookups", 16, 64);
    another_pipeline_completes(&rt).await;
}

#[tokio::test]
async fn granted_env_values_are_scrubbed_unless_granted_plain() {
    let _serial = serial().await;
    let rt = runtime();
    let c = rt.load(artifacts::HOSTILE).await.unwrap();
    let mut grants = Grants::default();
    grants
        .env
        .insert("GRANTED_TOKEN".into(), "tok-4f9a2c71e8".into());
    grants
        .env
        .insert("GRANTED_REGION".into(), "eu-west-3".into());
    grants.plain_env.insert("GRANTED_REGION".into());
    let sandbox = Sandbox {
        grants,
        ..Default::default()
    };
    let watch = Watch::start();
    let mut texts = Vec::new();
    // An error value built of them, after logging them at two levels and
    // printing them to stdout and stderr (the logs are checked where they
    // are written: the host's unit tests of its log and output streams).
    for attack in ["env-error", "env-leak"] {
        let err = c
            .check(&sandbox, &json!({ "attack": attack }))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Connector { .. }), "{attack}: {err}");
        texts.push(err.to_string());
    }
    // A panic whose message holds them, after printing them to stderr: the
    // crash names both, and the tail of stderr it quotes.
    let err = c
        .check(&sandbox, &json!({"attack": "env-panic"}))
        .await
        .unwrap_err();
    let Error::Trap { message, .. } = &err else {
        panic!("expected a crash, got {err}");
    };
    assert!(message.contains("about to panic with"), "{message}");
    assert!(message.contains("panicked with"), "{message}");
    texts.push(err.to_string());
    let usage = watch.stop();
    for text in &texts {
        assert!(!text.contains("tok-4f9a2c71e8"), "{text}");
        assert!(!text.contains("4f9a2c"), "{text}");
        assert!(text.contains("GRANTED_TOKEN=**********"), "{text}");
        // `secret = false` opts out: that value stays readable.
        assert!(text.contains("GRANTED_REGION=eu-west-3"), "{text}");
    }
    assert!(texts[1].contains("failed with"), "{}", texts[1]);
    usage.assert_bounded("env", 16, 64);
    another_pipeline_completes(&rt).await;
}
