//! Secured etcd: TLS with client certificates, and a user and password taken from the
//! environment, against a real cluster started for each test.

use scalegrease::store::StoreError;

use crate::harness::etcd::{self as cluster, etcd_config};

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
            "store_etcd_auth::auth_child",
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
