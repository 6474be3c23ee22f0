//! The python and luigi runners' private working copy: the jar's `python/` tree extracted
//! into a fresh directory only the user can enter (0700), removed when the guard drops —
//! after the job ended, also when it failed, timed out or was signalled.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::ExecError;

/// The jar directory whose contents the python runners extract.
pub const PYTHON_DIR: &str = "python";

/// A private temp dir holding `python/` from a jar. Removed on drop.
#[derive(Debug)]
pub struct Scratch {
    root: PathBuf,
}

impl Scratch {
    /// `<root>/python`: the extracted tree, the job's working directory and PYTHONPATH.
    pub fn python(&self) -> PathBuf {
        self.root.join(PYTHON_DIR)
    }

    /// Creates a fresh 0700 directory under `base` (`$TMPDIR` or `/tmp` when `None`) and
    /// extracts every entry under `python/` of `jar` into it, keeping the `python/` prefix
    /// and the files' execute bits. Entries escaping the tree and symlinks are refused.
    pub fn extract(jar: &Path, base: Option<&Path>) -> Result<Scratch, ExecError> {
        let file = File::open(jar).map_err(|e| bad_jar(jar, e.to_string()))?;
        let mut zip = zip::ZipArchive::new(io::BufReader::new(file))
            .map_err(|e| bad_jar(jar, e.to_string()))?;
        let base = base
            .map(Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir);
        let scratch = Scratch::create(&base)?;
        let mut found = false;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|e| bad_jar(jar, e.to_string()))?;
            let Some(rel) = entry.enclosed_name() else {
                let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
                if name.starts_with("python/") {
                    return Err(bad_jar(jar, format!("entry {name:?} escapes python/")));
                }
                continue;
            };
            if !rel.starts_with(PYTHON_DIR) {
                continue;
            }
            found = true;
            if entry.is_symlink() {
                return Err(bad_jar(
                    jar,
                    format!("symlink {} is refused", rel.display()),
                ));
            }
            let dest = scratch.root.join(&rel);
            let io_err = |source| ExecError::Scratch {
                path: dest.clone(),
                cause: source,
            };
            if entry.is_dir() {
                dir_builder().create(&dest).map_err(io_err)?;
                continue;
            }
            if let Some(parent) = dest.parent() {
                dir_builder().create(parent).map_err(io_err)?;
            }
            // Owner read/write always (so cleanup works), execute bits as packed.
            let mode = entry.unix_mode().map_or(0o600, |m| (m & 0o700) | 0o600);
            let mut out = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&dest)
                .map_err(io_err)?;
            io::copy(&mut entry, &mut out).map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
                    bad_jar(jar, format!("{}: {e}", rel.display()))
                }
                _ => io_err(e),
            })?;
        }
        if !found {
            return Err(ExecError::NoPythonTree {
                jar: jar.to_path_buf(),
            });
        }
        dir_builder()
            .create(scratch.python())
            .map_err(|source| ExecError::Scratch {
                path: scratch.python(),
                cause: source,
            })?;
        Ok(scratch)
    }

    fn create(base: &Path) -> Result<Scratch, ExecError> {
        loop {
            let root = base.join(format!(
                "scalegrease-python-{:012x}",
                crate::util::random::u64() & 0xffff_ffff_ffff
            ));
            match DirBuilder::new().mode(0o700).create(&root) {
                Ok(()) => return Ok(Scratch { root }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(ExecError::Scratch {
                        path: root,
                        cause: source,
                    });
                }
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.root)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove {}: {e}", self.root.display());
        }
    }
}

fn dir_builder() -> DirBuilder {
    let mut b = DirBuilder::new();
    b.recursive(true).mode(0o700);
    b
}

fn bad_jar(jar: &Path, message: String) -> ExecError {
    ExecError::BadJar {
        jar: jar.to_path_buf(),
        message,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    /// Writes a zip with `(name, content, mode)` entries (a name ending in `/` is a dir).
    pub(crate) fn write_jar(path: &Path, entries: &[(&str, &str, u32)]) {
        let mut w = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, content, mode) in entries {
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(*mode);
            if name.ends_with('/') {
                w.add_directory(*name, opts).unwrap();
            } else {
                w.start_file(*name, opts).unwrap();
                w.write_all(content.as_bytes()).unwrap();
            }
        }
        w.finish().unwrap();
    }

    #[test]
    fn extracts_python_tree_privately_and_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("j.jar");
        write_jar(
            &jar,
            &[
                ("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n", 0o644),
                ("python/", "", 0o755),
                ("python/pkg/__init__.py", "", 0o444),
                ("python/pkg/run.sh", "#!/bin/sh\n", 0o755),
                ("other/x.py", "", 0o644),
            ],
        );
        let s = Scratch::extract(&jar, Some(dir.path())).unwrap();
        let root = s.root.clone();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert!(s.python().join("pkg/__init__.py").is_file());
        assert_eq!(mode(&s.python().join("pkg/__init__.py")), 0o600);
        assert_eq!(mode(&s.python().join("pkg/run.sh")), 0o700);
        assert!(!root.join("other").exists());
        assert!(!root.join("META-INF").exists());
        drop(s);
        assert!(!root.exists());
    }

    #[test]
    fn a_jar_without_python_is_an_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("j.jar");
        write_jar(&jar, &[("a/b.txt", "x", 0o644)]);
        let err = Scratch::extract(&jar, Some(dir.path())).unwrap_err();
        assert!(matches!(err, ExecError::NoPythonTree { .. }), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let err = Scratch::extract(&dir.path().join("missing.jar"), Some(dir.path()));
        assert!(matches!(err, Err(ExecError::BadJar { .. })));
    }
}
