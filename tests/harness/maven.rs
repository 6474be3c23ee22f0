//! A Maven repository written by the real `mvn deploy:deploy-file` (Debian's packaged
//! maven-deploy-plugin, no network), built once per machine under a fixed directory in
//! the system temp dir and rebuilt when missing; and a real HTTP server for it
//! (`python3 -m http.server`) whose request log the tests read.
//!
//! Contents (group `com.example.sg`, artifact `job`, jars made with the `zip` crate, each
//! holding `META-INF/MANIFEST.MF` and a `which.txt` naming its build):
//! - `1.0`: the fat jar (classifier `jar-with-dependencies`);
//! - `1.1`: the fat jar and the main jar;
//! - `2.0-SNAPSHOT`: fat build 1, main build 2, fat build 3 (so the two classifiers'
//!   newest builds differ, as in real repositories).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The fixture's group and artifact.
pub const GROUP: &str = "com.example.sg";
pub const ARTIFACT: &str = "job";

/// The built repository.
pub struct MavenRepo {
    /// The repository root (Maven layout).
    pub root: PathBuf,
}

impl MavenRepo {
    /// The bytes of a file in the repository.
    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// The relative path of the newest file of `version` and `classifier` ("" = main).
    pub fn file_rel(&self, version_dir: &str, file_version: &str, classifier: &str) -> String {
        let c = if classifier.is_empty() {
            String::new()
        } else {
            format!("-{classifier}")
        };
        format!("com/example/sg/{ARTIFACT}/{version_dir}/{ARTIFACT}-{file_version}{c}.jar")
    }

    /// The timestamped file versions of `2.0-SNAPSHOT` for `classifier`, oldest first.
    pub fn snapshot_builds(&self, classifier: &str) -> Vec<String> {
        let dir = self.root.join("com/example/sg/job/2.0-SNAPSHOT");
        let suffix = if classifier.is_empty() {
            ".jar".to_string()
        } else {
            format!("-{classifier}.jar")
        };
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|n| {
                let fv = n.strip_prefix("job-")?.strip_suffix(&suffix)?;
                let build = fv.rsplit('-').next()?;
                (fv.starts_with("2.0-2") && build.parse::<u32>().is_ok()).then(|| fv.to_string())
            })
            .collect();
        v.sort_by_key(|fv| fv.rsplit('-').next().unwrap().parse::<u32>().unwrap());
        v
    }
}

/// The `which.txt` label in a jar's bytes (the jars are stored, not compressed).
pub fn label_of(jar: &[u8]) -> String {
    let text = String::from_utf8_lossy(jar);
    let start = text.find("LABEL<").expect("label start") + 6;
    let end = text[start..].find('>').expect("label end");
    text[start..start + end].to_string()
}

/// A jar whose `which.txt` says `label`, padded with `pad` bytes of data.
pub fn make_jar(label: &str, pad: usize) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        z.start_file("META-INF/MANIFEST.MF", opts).unwrap();
        z.write_all(b"Manifest-Version: 1.0\r\nCreated-By: scalegrease tests\r\n\r\n")
            .unwrap();
        z.start_file("which.txt", opts).unwrap();
        z.write_all(format!("LABEL<{label}>\n").as_bytes()).unwrap();
        if pad > 0 {
            z.start_file("pad.bin", opts).unwrap();
            let mut x: u32 = 12345;
            let data: Vec<u8> = (0..pad)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) as u8
                })
                .collect();
            z.write_all(&data).unwrap();
        }
        z.finish().unwrap();
    }
    out.into_inner()
}

/// The repository, built on first use; `None` (with a skip message) when mvn is missing.
pub fn repo() -> Option<&'static MavenRepo> {
    static REPO: OnceLock<Option<MavenRepo>> = OnceLock::new();
    REPO.get_or_init(|| {
        if super::skip_without("mvn") {
            return None;
        }
        let root = std::env::temp_dir().join("scalegrease-test-maven-repo-v1");
        if !root.join("com/example/sg/job/maven-metadata.xml").is_file() {
            build(&root);
        }
        Some(MavenRepo { root })
    })
    .as_ref()
}

fn build(root: &Path) {
    let work = root.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("jars")).unwrap();
    let repo = work.join("repo");
    let deploys: [(&str, &str, &str); 6] = [
        ("1.0", "jar-with-dependencies", "1.0 fat"),
        ("1.1", "jar-with-dependencies", "1.1 fat"),
        ("1.1", "", "1.1 main"),
        (
            "2.0-SNAPSHOT",
            "jar-with-dependencies",
            "2.0-SNAPSHOT fat build 1",
        ),
        ("2.0-SNAPSHOT", "", "2.0-SNAPSHOT main build 2"),
        (
            "2.0-SNAPSHOT",
            "jar-with-dependencies",
            "2.0-SNAPSHOT fat build 3",
        ),
    ];
    for (i, (version, classifier, label)) in deploys.iter().enumerate() {
        let jar = work.join(format!("jars/{i}.jar"));
        std::fs::write(&jar, make_jar(label, 4096)).unwrap();
        deploy_file(&jar, GROUP, ARTIFACT, version, classifier, &repo);
    }
    // Another process may have won the race: its result is as good as ours.
    match std::fs::rename(&repo, root) {
        Ok(()) => {}
        Err(_) if root.join("com/example/sg/job/maven-metadata.xml").is_file() => {}
        Err(e) => panic!("moving the test repository into {}: {e}", root.display()),
    }
    let _ = std::fs::remove_dir_all(&work);
}

/// Runs the real `mvn deploy:deploy-file` into the file:// repository `repo`.
pub fn deploy_file(
    jar: &Path,
    group: &str,
    artifact: &str,
    version: &str,
    classifier: &str,
    repo: &Path,
) {
    let settings = offline_settings();
    let mut cmd = Command::new("mvn");
    cmd.args(["-q", "-B", "-s"])
        .arg(&settings)
        .arg("org.apache.maven.plugins:maven-deploy-plugin:2.7:deploy-file")
        .arg(format!("-Dfile={}", jar.display()))
        .arg(format!("-DgroupId={group}"))
        .arg(format!("-DartifactId={artifact}"))
        .arg(format!("-Dversion={version}"))
        .arg("-Dpackaging=jar")
        .arg(format!("-Durl=file://{}", repo.display()));
    if !classifier.is_empty() {
        cmd.arg(format!("-Dclassifier={classifier}"));
    }
    let out = cmd.output().expect("running mvn");
    assert!(
        out.status.success(),
        "mvn deploy:deploy-file failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The settings file that makes mvn resolve plugins from Debian's packaged repository.
pub fn offline_settings() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/maven-offline-settings");
    let out = Command::new(script)
        .output()
        .expect("scripts/maven-offline-settings");
    assert!(out.status.success());
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A real HTTP server (`python3 -m http.server`) serving a directory on loopback.
pub struct HttpServer {
    child: Child,
    pub port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl HttpServer {
    /// Serves `dir` on a free loopback port; `None` (with a skip message) without python3.
    pub fn serve(dir: &Path) -> Option<HttpServer> {
        if super::skip_without("python3") {
            return None;
        }
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "0",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 -m http.server");
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let port: u16 = first
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {first:?}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Some(HttpServer { child, port, log })
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The paths of every GET served so far, in order. Makes a sentinel request and waits
    /// for it in the log, so every earlier request is included.
    pub fn gets(&self) -> Vec<String> {
        let sentinel = format!("/__sentinel__/{}", unique());
        let _ = ureq_get(&format!("{}{sentinel}", self.url()));
        super::wait_for("the server's log", Duration::from_secs(10), || {
            let log = self.log.lock().unwrap();
            log.iter().any(|l| l.contains(&sentinel)).then(|| {
                log.iter()
                    .filter_map(|l| {
                        let req = l.split('"').nth(1)?;
                        let path = req.strip_prefix("GET ")?.split(' ').next()?;
                        (!path.starts_with("/__sentinel__")).then(|| path.to_string())
                    })
                    .collect()
            })
        })
    }
}

/// A bare GET on loopback, for sentinels: the status line's code.
fn ureq_get(url: &str) -> Option<u16> {
    use std::io::Read;
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_at(rest.find('/')?);
    let mut s = std::net::TcpStream::connect(host).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    resp.split_whitespace().nth(1)?.parse().ok()
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A string unique in this process.
fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
