//! A one-member etcd with extra flags (TLS, auth), for the tests that secure or break a
//! cluster of their own. Re-exported by [`super::etcd`].

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::etcd::*;
use super::wait_for;

/// A one-member cluster with extra flags (TLS, auth tests), killed when dropped.
pub struct Solo {
    /// `127.0.0.1:<client port>`.
    pub endpoint: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Solo {
    /// Starts one member listening on `<scheme>://127.0.0.1:<free port>` with `extra`
    /// flags, and waits until it accepts TCP connections (TLS may still be refused).
    pub fn start(scheme: &str, extra: &[String]) -> Solo {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::Builder::new()
            .prefix("sg-etcd-solo-")
            .tempdir()
            .unwrap();
        let ports = free_ports(2);
        let endpoint = format!("127.0.0.1:{}", ports[0]);
        let client = format!("{scheme}://{endpoint}");
        let peer = format!("http://127.0.0.1:{}", ports[1]);
        let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
        let mut cmd = Command::new("etcd");
        cmd.args(["--name", "solo", "--data-dir"])
            .arg(dir.path().join("data"))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &format!("solo={peer}")])
            .args(LOG_ARGS)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        let child = cmd.spawn().expect("start etcd");
        let solo = Solo {
            endpoint,
            child,
            dir,
        };
        wait_for("the etcd member to listen", Duration::from_secs(30), || {
            std::net::TcpStream::connect(&solo.endpoint).ok()
        });
        solo
    }

    /// A path in the member's temp dir (for certificates).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs `etcdctl` against this member with `args`; panics on failure.
    pub fn etcdctl(&self, args: &[&str]) -> String {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.endpoint])
            .args(args)
            .output()
            .unwrap();
        let (o, e) = super::text(&out);
        assert!(out.status.success(), "etcdctl {args:?}: {o}{e}");
        o
    }
}

impl Drop for Solo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
