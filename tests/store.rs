//! The store contract (`scalegrease::store::Store`), run against every backend: the
//! directory store and a real 3-member etcd cluster. Failure tests (unreachable cluster,
//! a member down, quorum lost) are etcd's own.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use scalegrease::config::StoreConfig;
use scalegrease::store::{Created, Store, StoreError};

use crate::harness::World;
use crate::harness::etcd::{
    self as cluster, Backend, Cluster, each_backend, etcd_config, eventually,
};

fn fresh(b: Backend, w: &World) -> (StoreConfig, Box<dyn Store>) {
    let cfg = b.store_config(w).expect("backend available");
    let s = cluster::open(&cfg);
    (cfg, s)
}

fn is_unmarked<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Unmarked { .. }))
}

fn is_unavailable<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Unavailable { .. }))
}

#[test]
fn unmarked_store_refuses_everything_but_init() {
    each_backend(|b, w| {
        let (_, s) = fresh(b, &w);
        assert!(is_unmarked(s.check()), "{b:?}");
        assert!(is_unmarked(s.get("a")), "{b:?}");
        assert!(is_unmarked(s.put("a", b"x", None)), "{b:?}");
        assert!(is_unmarked(s.create("a", b"x", None)), "{b:?}");
        assert!(is_unmarked(s.delete("a")), "{b:?}");
        assert!(is_unmarked(s.list("")), "{b:?}");
        assert!(is_unmarked(s.keys("bundles")), "{b:?}");
        assert!(is_unmarked(s.prune("claims", Duration::ZERO)), "{b:?}");
        assert!(
            is_unmarked(s.beat("hb/x", b"x", Duration::from_secs(5))),
            "{b:?}"
        );
        let msg = s.get("a").unwrap_err().to_string();
        assert!(msg.contains("greaselaunch --init-store"), "{msg}");
        s.init().unwrap();
        s.init().unwrap();
        s.check().unwrap();
        s.put("a", b"x", None).unwrap();
        assert_eq!(s.get("a").unwrap().as_deref(), Some(&b"x"[..]));
    });
}

#[test]
fn put_get_list_delete() {
    each_backend(|b, w| {
        let (_, s) = fresh(b, &w);
        s.init().unwrap();
        s.put("bundles/p2", b"two", None).unwrap();
        s.put("bundles/p1", b"one", None).unwrap();
        s.put("bundles/p1", b"uno", None).unwrap();
        s.put("bundlesx", b"sibling", None).unwrap();
        s.put("claims/j/2026-01-01T03:00", b"c", None).unwrap();
        assert_eq!(s.get("bundles/p1").unwrap().as_deref(), Some(&b"uno"[..]));
        assert_eq!(s.get("bundles/none").unwrap(), None);
        let l = s.list("bundles").unwrap();
        let keys: Vec<&str> = l.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["bundles/p1", "bundles/p2"], "{b:?}");
        assert_eq!(l[0].value, b"uno");
        assert_eq!(s.keys("claims").unwrap(), ["claims/j/2026-01-01T03:00"]);
        assert_eq!(s.keys("bundles/p2").unwrap(), ["bundles/p2"], "{b:?}");
        let all = s.keys("").unwrap();
        assert_eq!(
            all,
            [
                "bundles/p1",
                "bundles/p2",
                "bundlesx",
                "claims/j/2026-01-01T03:00"
            ],
            "{b:?}: the marker is not a key"
        );
        assert!(s.delete("bundles/p1").unwrap());
        assert!(!s.delete("bundles/p1").unwrap());
        assert!(s.list("nothing").unwrap().is_empty());
        assert!(matches!(
            s.put("../escape", b"x", None),
            Err(StoreError::BadKey { .. })
        ));
    });
}

#[test]
fn create_is_exclusive_between_threads() {
    const THREADS: usize = 8;
    const KEYS: usize = 40;
    each_backend(|b, w| {
        let (cfg, s) = fresh(b, &w);
        s.init().unwrap();
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (cfg, barrier) = (cfg.clone(), barrier.clone());
                std::thread::spawn(move || {
                    // Each thread its own store, as each worker host has.
                    let s = cluster::open(&cfg);
                    barrier.wait();
                    let mut seen = Vec::new();
                    for k in 0..KEYS {
                        let me = format!("thread {t}");
                        let key = format!("claims/job/{k:03}");
                        let r = s
                            .create(&key, me.as_bytes(), Some(Duration::from_secs(600)))
                            .unwrap();
                        seen.push((k, r));
                    }
                    (t, seen)
                })
            })
            .collect();
        let mut winners: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let mut told: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
        for h in handles {
            let (t, seen) = h.join().unwrap();
            for (k, r) in seen {
                match r {
                    Created::Created => winners.entry(k).or_default().push(t),
                    Created::Exists(v) => told.entry(k).or_default().push(v),
                }
            }
        }
        for k in 0..KEYS {
            let w = winners.get(&k).cloned().unwrap_or_default();
            assert_eq!(w.len(), 1, "{b:?}: key {k} had winners {w:?}");
            let want = format!("thread {}", w[0]).into_bytes();
            for v in &told[&k] {
                assert_eq!(v, &want, "{b:?}: a loser was told another winner");
            }
            let stored = s.get(&format!("claims/job/{k:03}")).unwrap().unwrap();
            assert_eq!(stored, want);
        }
    });
}

/// One claimer process of [`create_is_exclusive_between_processes`]: does nothing unless
/// started by it.
#[test]
fn claimer_child() {
    let Ok(url) = std::env::var("SG_TEST_CLAIMER_STORE") else {
        return;
    };
    let id = std::env::var("SG_TEST_CLAIMER_ID").unwrap();
    let keys: usize = std::env::var("SG_TEST_CLAIMER_KEYS")
        .unwrap()
        .parse()
        .unwrap();
    let cfg = if url.starts_with("etcd://") {
        // The default request timeout: this child rides out elections.
        cluster::etcd_config_through_elections(url)
    } else {
        StoreConfig::from_url(url)
    };
    let s = cluster::open(&cfg);
    for k in 0..keys {
        let key = format!("claims/job/{k:03}");
        match s.create(&key, id.as_bytes(), Some(Duration::from_secs(600))) {
            Ok(Created::Created) => println!("WON {k}"),
            Ok(Created::Exists(_)) => {}
            // Another claimer takes the key; the test counts these.
            Err(e) => println!("ERR {k} {e}"),
        }
    }
}

/// Runs `procs` claimer processes over `keys` keys of `cfg`'s store while `during` runs;
/// returns the winners per key and the failed claims (`proc <i> <key> <error>`).
fn race(
    cfg: &StoreConfig,
    procs: usize,
    keys: usize,
    during: impl FnOnce(),
) -> (BTreeMap<usize, usize>, Vec<String>) {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..procs)
        .map(|i| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "store::claimer_child",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env("SG_TEST_CLAIMER_STORE", &cfg.url)
                .env("SG_TEST_CLAIMER_ID", format!("proc {i}"))
                .env("SG_TEST_CLAIMER_KEYS", keys.to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    during();
    let mut won: BTreeMap<usize, usize> = BTreeMap::new();
    let mut errors = Vec::new();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "a claimer failed");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // libtest may print "test store::claimer_child ... " before the first line.
            if let Some((_, k)) = line.split_once("WON ") {
                *won.entry(k.trim().parse().unwrap()).or_default() += 1;
            } else if let Some((_, e)) = line.split_once("ERR ") {
                // "<key> <error>", tagged with the claimer's id ("proc <i>").
                errors.push(format!("proc {i} {e}"));
            }
        }
    }
    (won, errors)
}

#[test]
fn create_is_exclusive_between_processes() {
    each_backend(|b, w| {
        let (cfg, s) = fresh(b, &w);
        s.init().unwrap();
        let (won, errors) = race(&cfg, 6, 60, || {});
        assert!(errors.is_empty(), "{b:?}: {errors:?}");
        for k in 0..60 {
            assert_eq!(won.get(&k), Some(&1), "{b:?}: key {k}");
        }
    });
}

#[test]
fn wait_changed_sees_a_change_and_only_then() {
    each_backend(|b, w| {
        let (cfg, s) = fresh(b, &w);
        s.init().unwrap();
        s.put("bundles/a", b"1", None).unwrap();
        let (entries, v) = s.list_versioned("bundles").unwrap();
        assert_eq!(entries.len(), 1);
        // Nothing changes under the prefix (a write elsewhere does not count for the
        // directory store's digest; etcd watches only the prefix).
        s.put("claims/x", b"1", None).unwrap();
        assert!(
            !s.wait_changed("bundles", v, Duration::from_millis(1500))
                .unwrap(),
            "{b:?}"
        );
        let writer = std::thread::spawn(move || {
            let s = cluster::open(&cfg);
            std::thread::sleep(Duration::from_millis(300));
            s.put("bundles/b", b"2", None).unwrap();
        });
        assert!(
            s.wait_changed("bundles", v, Duration::from_secs(30))
                .unwrap(),
            "{b:?}"
        );
        writer.join().unwrap();
        // A change made before the wait starts is not missed either.
        let (_, v2) = s.list_versioned("bundles").unwrap();
        assert_ne!(v, v2);
        s.delete("bundles/a").unwrap();
        assert!(
            s.wait_changed("bundles", v2, Duration::from_secs(30))
                .unwrap()
        );
    });
}

#[test]
fn beat_writes_the_current_value() {
    each_backend(|b, w| {
        let (_, s) = fresh(b, &w);
        s.init().unwrap();
        for i in 0..3 {
            s.beat(
                "heartbeats/job/slot",
                format!("beat {i}").as_bytes(),
                Duration::from_secs(30),
            )
            .unwrap();
            assert_eq!(
                s.get("heartbeats/job/slot").unwrap(),
                Some(format!("beat {i}").into_bytes()),
                "{b:?}"
            );
        }
    });
}

#[test]
fn etcd_ttl_expires_keys_and_beats_keep_them() {
    let Some(c) = cluster::shared() else { return };
    let s = cluster::open(&etcd_config(c.url(&cluster::unique_prefix())));
    s.init().unwrap();
    let ttl = Some(Duration::from_secs(1));
    s.put("runs/short", b"x", ttl).unwrap();
    assert_eq!(
        s.create("claims/short", b"x", ttl).unwrap(),
        Created::Created
    );
    s.put("runs/kept", b"x", None).unwrap();
    s.put("runs/long", b"x", Some(Duration::from_secs(3600)))
        .unwrap();
    // A heartbeat with a TTL shorter than the test keeps its key while it beats.
    s.beat("heartbeats/a", b"alive", Duration::from_secs(2))
        .unwrap();
    eventually("the 1 s keys to expire", || {
        s.beat("heartbeats/a", b"alive", Duration::from_secs(2))
            .unwrap();
        s.get("runs/short").unwrap().is_none() && s.get("claims/short").unwrap().is_none()
    });
    assert!(s.get("heartbeats/a").unwrap().is_some());
    assert!(s.get("runs/kept").unwrap().is_some());
    assert!(s.get("runs/long").unwrap().is_some());
    // Once beats stop, the heartbeat key goes: that is how a dead host shows.
    eventually("the heartbeat key to expire", || {
        s.get("heartbeats/a").unwrap().is_none()
    });
    // An expired claim can be taken again.
    assert_eq!(
        s.create("claims/short", b"y", ttl).unwrap(),
        Created::Created
    );
}

#[test]
fn etcd_unreachable_cluster_is_unavailable_and_names_endpoints() {
    if !cluster::available() {
        return;
    }
    // Ports nobody listens on: bind, note, close.
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let eps: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let cfg = etcd_config(format!("etcd://{}/sg", eps.join(",")));
    let check = |e: StoreError| {
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
        let msg = e.to_string();
        for ep in &eps {
            assert!(msg.contains(ep.as_str()), "{ep} missing from: {msg}");
        }
    };
    match scalegrease::store::open(&cfg) {
        Err(e) => check(e),
        Ok(s) => {
            check(s.check().unwrap_err());
            check(s.init().unwrap_err());
            check(s.get("a").unwrap_err());
            check(s.put("a", b"x", None).unwrap_err());
            check(
                s.create("a", b"x", Some(Duration::from_secs(60)))
                    .unwrap_err(),
            );
            check(s.list("bundles").unwrap_err());
        }
    }
}

#[test]
fn etcd_member_down_changes_nothing_for_users() {
    if !cluster::available() {
        return;
    }
    let c = Cluster::start();
    // The default request timeout, which rides out an election (about a second, longer
    // on a loaded machine) when the member that goes was the leader.
    let cfg = cluster::etcd_config_through_elections(c.url("sg"));
    let s = cluster::open(&cfg);
    s.init().unwrap();
    // A member goes away (perhaps the leader, perhaps the one this client prefers).
    c.kill(0);
    for k in 0..20 {
        let key = format!("claims/j/{k}");
        assert_eq!(
            s.create(&key, b"me", Some(Duration::from_secs(60)))
                .unwrap(),
            Created::Created
        );
        assert!(
            matches!(s.create(&key, b"other", None).unwrap(), Created::Exists(v) if v == b"me")
        );
    }
    // A process started while the member is down works too.
    let s2 = cluster::open(&cfg);
    assert_eq!(s2.keys("claims/j").unwrap().len(), 20);
    c.restart(0);
    c.kill(1);
    assert_eq!(s2.list("claims").unwrap().len(), 20);
    s2.put("bundles/p", b"v", None).unwrap();
    c.restart(1);
}

#[test]
fn etcd_quorum_loss_refuses_writes_and_recovers() {
    if !cluster::available() {
        return;
    }
    let c = Cluster::start();
    let cfg = etcd_config(c.url("sg"));
    let s = cluster::open(&cfg);
    s.init().unwrap();
    s.put("bundles/p", b"v1", None).unwrap();
    c.kill(1);
    c.kill(2);
    // Once the survivor knows it has no quorum, nothing gets through, reads included
    // (they are linearizable), and every refusal is `Unavailable`.
    eventually("the survivor to lose its leader", || {
        is_unavailable(&s.check())
    });
    assert!(is_unavailable(&s.put("bundles/p", b"v2", None)));
    assert!(is_unavailable(&s.create(
        "claims/j/1",
        b"me",
        Some(Duration::from_secs(60))
    )));
    assert!(is_unavailable(&s.delete("bundles/p")));
    assert!(is_unavailable(&s.list("bundles")));
    assert!(is_unavailable(&s.get("bundles/p")));
    let msg = s.get("bundles/p").unwrap_err().to_string();
    assert!(msg.contains(&c.endpoints[0]), "{msg}");
    // Quorum returns: nothing of the refused writes happened, and work resumes.
    c.restart(1);
    eventually("quorum to return", || s.check().is_ok());
    assert_eq!(s.get("bundles/p").unwrap().as_deref(), Some(&b"v1"[..]));
    assert_eq!(s.get("claims/j/1").unwrap(), None);
    assert_eq!(
        s.create("claims/j/1", b"me", Some(Duration::from_secs(60)))
            .unwrap(),
        Created::Created
    );
    c.restart(2);
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {:?}",
        crate::harness::text(&out)
    );
}

#[test]
fn etcd_tls_with_client_certificates() {
    if !cluster::available() || crate::harness::skip_without("openssl") {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let d = certs.path();
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(key);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=sg-test-ca",
        "-days",
        "2",
    ]);
    openssl(d, &ca);
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        std::fs::write(d.join(format!("{name}.ext")), ext).unwrap();
        let (k, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        let subj = format!("/CN=sg-{name}");
        let mut req = vec!["req", "-new"];
        req.extend(key);
        req.extend(["-keyout", &k, "-out", &csr, "-subj", &subj]);
        openssl(d, &req);
        let extfile = format!("{name}.ext");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                &extfile,
            ],
        );
    }
    let p = |f: &str| d.join(f).display().to_string();
    let solo = cluster::Solo::start(
        "https",
        &[
            "--cert-file".into(),
            p("server.crt"),
            "--key-file".into(),
            p("server.key"),
            "--trusted-ca-file".into(),
            p("ca.crt"),
            "--client-cert-auth".into(),
        ],
    );
    let mut cfg = etcd_config(format!("etcds://{}/sg", solo.endpoint));
    cfg.ca_file = Some(p("ca.crt"));
    cfg.cert_file = Some(p("client.crt"));
    cfg.key_file = Some(p("client.key"));
    let s = cluster::open(&cfg);
    s.init().unwrap();
    s.put("bundles/p", b"v", None).unwrap();
    assert_eq!(s.get("bundles/p").unwrap().as_deref(), Some(&b"v"[..]));
    // A CA file alone also means TLS, with an etcd:// URL.
    let mut plain_url = cfg.clone();
    plain_url.url = format!("etcd://{}/sg", solo.endpoint);
    assert!(
        cluster::open(&plain_url)
            .get("bundles/p")
            .unwrap()
            .is_some()
    );
    // Without a client certificate the member refuses us: unavailable, endpoint named.
    let mut no_cert = cfg.clone();
    no_cert.cert_file = None;
    no_cert.key_file = None;
    let err = match scalegrease::store::open(&no_cert) {
        Err(e) => e,
        Ok(s) => s.check().unwrap_err(),
    };
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains(&solo.endpoint), "{err}");
    // TLS without a CA to check the members against is a setting error.
    let mut no_ca = cfg.clone();
    no_ca.ca_file = None;
    assert!(matches!(
        scalegrease::store::open(&no_ca),
        Err(StoreError::BadSetting { .. })
    ));
}

/// The client side of [`etcd_user_and_password_from_the_environment`]: does nothing unless
/// started by it (the password must be in this process's environment).
#[test]
fn auth_child() {
    let Ok(url) = std::env::var("SG_TEST_AUTH_STORE") else {
        return;
    };
    let mut cfg = etcd_config(url);
    cfg.user = Some("sg".into());
    cfg.password_env = Some("SG_TEST_AUTH_PW".into());
    let r = scalegrease::store::open(&cfg).and_then(|s| {
        s.init()?;
        s.put("a", b"x", None)?;
        s.get("a")
    });
    match r {
        Ok(v) => println!(
            "\nAUTH OK {}",
            String::from_utf8_lossy(&v.unwrap_or_default())
        ),
        Err(e) => println!("\nAUTH ERR {e}"),
    }
}

#[test]
fn etcd_user_and_password_from_the_environment() {
    if !cluster::available() {
        return;
    }
    let solo = cluster::Solo::start("http", &[]);
    for args in [
        &["user", "add", "root", "--new-user-password", "root-pw"][..],
        &["user", "add", "sg", "--new-user-password", "s3cret-pw"],
        &["role", "add", "sg"],
        &[
            "role",
            "grant-permission",
            "sg",
            "readwrite",
            "sg/",
            "--prefix=true",
        ],
        &["user", "grant-role", "sg", "sg"],
        &["auth", "enable"],
    ] {
        solo.etcdctl(args);
    }
    let run = |pw: Option<&str>| {
        let mut c = std::process::Command::new(std::env::current_exe().unwrap());
        c.args([
            "--exact",
            "store::auth_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("SG_TEST_AUTH_STORE", format!("etcd://{}/sg", solo.endpoint))
        .env_remove("SG_TEST_AUTH_PW");
        if let Some(pw) = pw {
            c.env("SG_TEST_AUTH_PW", pw);
        }
        let out = c.output().unwrap();
        let (o, e) = crate::harness::text(&out);
        format!("{o}{e}")
    };
    let ok = run(Some("s3cret-pw"));
    assert!(ok.contains("AUTH OK x"), "{ok}");
    let wrong = run(Some("wrong-pw-123"));
    assert!(wrong.contains("AUTH ERR"), "{wrong}");
    assert!(wrong.contains("refused user \"sg\""), "{wrong}");
    assert!(
        !wrong.contains("wrong-pw-123"),
        "the password was printed: {wrong}"
    );
    let unset = run(None);
    assert!(unset.contains("AUTH ERR"), "{unset}");
    assert!(unset.contains("SG_TEST_AUTH_PW"), "{unset}");
}

#[test]
fn etcd_claims_stay_exclusive_while_members_die_and_return() {
    if !cluster::available() {
        return;
    }
    const KEYS: usize = 1200;
    let c = Cluster::start();
    let cfg = cluster::etcd_config_through_elections(c.url("sg"));
    let s = cluster::open(&cfg);
    s.init().unwrap();
    let progress = |n: usize| {
        eventually(&format!("{n} claims"), || {
            s.keys("claims/job").map(|k| k.len()).unwrap_or(0) >= n
        })
    };
    let (won, errors) = race(&cfg, 8, KEYS, || {
        // Every member (so the leader too) dies and comes back while 8 processes race.
        for i in 0..cluster::MEMBERS {
            progress(100 + i * 300);
            c.kill(i);
            progress(250 + i * 300);
            c.restart(i);
        }
    });
    let twice: Vec<_> = won.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "keys won twice: {twice:?}");
    // A key nobody saw itself win is never lost silently. Either every claimer's request
    // failed (the store unavailable through an election, which a worker answers with
    // `skip`), or one claimer's create timed out on its side but committed (a write in
    // flight through an election): then the key holds that claimer's id, the slot is
    // claimed once and never run twice. Duplicates are what must never happen.
    let mut failed: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
    for e in &errors {
        let mut parts = e.splitn(4, ' ');
        let owner = format!("{} {}", parts.next().unwrap(), parts.next().unwrap());
        let k: usize = parts.next().unwrap().parse().unwrap();
        let why = parts.next().unwrap_or("").to_string();
        failed.entry(k).or_default().push((owner, why));
    }
    for k in (0..KEYS).filter(|k| !won.contains_key(k)) {
        let why = failed.get(&k).cloned().unwrap_or_default();
        assert!(
            why.iter().all(|(_, w)| w.contains("unavailable")),
            "key {k}: {why:?}"
        );
        match s.get(&format!("claims/job/{k:03}")).unwrap() {
            None => assert_eq!(why.len(), 8, "key {k} unclaimed: {why:?}"),
            Some(owner) => {
                let owner = String::from_utf8(owner).unwrap();
                assert!(
                    why.iter().any(|(o, _)| *o == owner),
                    "key {k} held by {owner}, who neither won nor failed on it: {why:?}"
                );
            }
        }
    }
    eprintln!(
        "{} claims failed and were taken by others; first: {:?}",
        errors.len(),
        errors.first()
    );
}

#[test]
fn etcd_writers_share_leases_across_processes() {
    if !cluster::available() {
        return;
    }
    let solo = cluster::Solo::start("http", &[]);
    let cfg = etcd_config(format!("etcd://{}/sg", solo.endpoint));
    cluster::open(&cfg).init().unwrap();
    // Twelve clients (as twelve greaseruns would be), each writing keys with two TTLs.
    let handles: Vec<_> = (0..12)
        .map(|i| {
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                let s = cluster::open(&cfg);
                s.put(
                    &format!("runs/j/{i}"),
                    b"r",
                    Some(Duration::from_secs(30 * 86400)),
                )
                .unwrap();
                s.create(
                    &format!("claims/j/{i}"),
                    b"c",
                    Some(Duration::from_secs(3600)),
                )
                .unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let leases = solo.etcdctl(&["lease", "list"]);
    // "found N leases", then one ID a line.
    let n: usize = leases
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected etcdctl output: {leases}"));
    // One lease per TTL, or two where the test straddled a time bucket's end.
    assert!((2..=4).contains(&n), "{n} leases:\n{leases}");
}
