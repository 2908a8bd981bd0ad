//! Data a guest hands the host (errors, logs, a spec, a catalog), bounded
//! by `limits.message_mib`.

use super::*;

/// The message limit, as errors name it.
const MESSAGE_LIMIT: Limit = Limit::Data {
    max_bytes: 16 << 20,
    key: "limits.message_mib",
};

#[tokio::test]
async fn data_handed_to_the_host_is_bounded_by_named_limits() {
    let _serial = serial().await;
    let rt = runtime();
    let c = rt.load(artifacts::HOSTILE).await.unwrap();
    let sandbox = Sandbox {
        limits: Limits {
            memory_mib: 1024,
            ..Default::default()
        },
        ..Default::default()
    };
    for attack in ["huge-error", "huge-log"] {
        let watch = Watch::start();
        let err = c
            .check(&sandbox, &json!({ "attack": attack }))
            .await
            .unwrap_err();
        let usage = watch.stop();
        assert_stopped_at(&err, Call::Check, &MESSAGE_LIMIT, "limits.message_mib");
        // The guest's own 300 MiB live in its linear memory (and are seen
        // here); the host copied at most the limit out of it.
        assert!(usage.peak_mib() >= 250, "{attack}: {usage:?}");
        usage.assert_bounded(attack, 16, 300 + 32);
    }
    another_pipeline_completes(&rt).await;
}

#[tokio::test]
async fn a_huge_spec_or_catalog_is_stopped_at_the_message_limit() {
    let _serial = serial().await;
    let rt = runtime();
    for (call, attack) in [("spec", "huge-spec"), ("discover", "huge-catalog")] {
        let mut sandbox = Sandbox::default();
        sandbox
            .grants
            .env
            .insert("HOSTILE_CALL".into(), call.into());
        sandbox
            .grants
            .env
            .insert("HOSTILE_ATTACK".into(), attack.into());
        sandbox.grants.plain_env = ["HOSTILE_CALL", "HOSTILE_ATTACK"].map(String::from).into();
        // A fresh connector: the spec is asked for once per load.
        let c = rt.load(artifacts::HOSTILE).await.unwrap();
        let watch = Watch::start();
        let err = match call {
            "spec" => c.spec(&sandbox).await.map(drop),
            _ => c
                .discover(&sandbox, &json!({"attack": "none"}))
                .await
                .map(drop),
        }
        .unwrap_err();
        drop(c);
        let usage = watch.stop();
        let named = if call == "spec" {
            Call::Spec
        } else {
            Call::Discover
        };
        assert_stopped_at(&err, named, &MESSAGE_LIMIT, "limits.message_mib");
        assert!(usage.peak_mib() >= 250, "{attack}: {usage:?}");
        usage.assert_bounded(attack, 16, 300 + 32);
    }
    another_pipeline_completes(&rt).await;
}
