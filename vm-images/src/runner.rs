//! Cargo target runner support: turns what cargo hands a `runner` (the path of
//! a test binary, its arguments, the current directory, the environment) into
//! a guest shell script and the extra shares that make those paths exist in
//! the guest. Pure functions; `tracecheck-vm cargo-runner` boots the guest.
//!
//! The guest sees the host root read-only at the same paths, except for
//! directories `/init` mounts fresh (see [`MASKED_DIRS`]). A current directory
//! or binary below one of those (a crate in `/tmp/x`, a project in `/root`) is
//! shared read-only at the same path, one directory below the masked one.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::Share;

/// Guest directories that are fresh tmpfs, hiding the host's.
pub const MASKED_DIRS: &[&str] = &["/tmp", "/var/tmp", "/run", "/root", "/dev/shm"];

/// Prefixes of the variables passed into the guest without being asked for:
/// what cargo sets for a test binary (`CARGO_*`), what the Rust runtime and
/// test harness read (`RUST_*`), and what rustdoc sets for the doctest
/// binaries it hands the runner (`RUSTDOC_DOCTEST_BIN_PATH`, ...).
pub const PASSED_PREFIXES: &[&str] = &["CARGO_", "RUST_", "RUSTDOC_", "UNSTABLE_RUSTDOC_"];

/// Single variables passed without being asked for: the dynamic library path
/// cargo sets for binaries that link dylibs.
pub const PASSED_NAMES: &[&str] = &["CARGO", "LD_LIBRARY_PATH"];

/// `s` quoted for `/bin/sh`: single quotes, with `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// True for a name `/bin/sh` can `export`: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Variables as (name, value) pairs.
pub type EnvList = Vec<(String, String)>;

/// The variables to set in the guest, sorted by name, plus notes about host
/// variables that were left out (value not UTF-8). `extra` are the user's
/// `--env` items: `NAME` (the host value, skipped if unset) or `NAME=VALUE`.
pub fn guest_env(
    host: impl IntoIterator<Item = (OsString, OsString)>,
    extra: &[String],
) -> Result<(EnvList, Vec<String>), String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut notes = Vec::new();
    let host: Vec<(OsString, OsString)> = host.into_iter().collect();
    let wanted = |name: &str| {
        PASSED_NAMES.contains(&name) || PASSED_PREFIXES.iter().any(|p| name.starts_with(p))
    };
    let set = |name: String, value: String, out: &mut Vec<(String, String)>| {
        out.retain(|(n, _)| *n != name);
        out.push((name, value));
    };
    for (name, value) in &host {
        let Some(name) = name.to_str() else { continue };
        if !wanted(name) || name.is_empty() || name.contains('=') {
            continue;
        }
        match value.to_str() {
            Some(v) => set(name.to_owned(), v.to_owned(), &mut out),
            None => notes.push(format!("not passing `{name}`: value is not UTF-8")),
        }
    }
    for item in extra {
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (item.as_str(), None),
        };
        if name.is_empty() {
            return Err(format!("--env `{item}`: empty variable name"));
        }
        let value = match value {
            Some(v) => v,
            None => match host.iter().find(|(n, _)| n.to_str() == Some(name)) {
                Some((_, v)) => v
                    .to_str()
                    .ok_or_else(|| format!("--env {name}: value is not UTF-8"))?
                    .to_owned(),
                None => continue, // unset on the host: unset in the guest
            },
        };
        set(name.to_owned(), value, &mut out);
    }
    out.sort();
    Ok((out, notes))
}

/// The guest script: `cd` to `cwd`, set `env`, `exec` `bin` with `args`. Its
/// exit code is the program's (126/127 from the shell if it cannot run).
/// Names the shell cannot `export` (cargo's `CARGO_BIN_EXE_my-tool`) are set
/// by `env`, which also runs the program then; they are dropped if the
/// program's path contains `=` (`env` would take it for an assignment).
pub fn runner_script(cwd: &str, env: &[(String, String)], bin: &str, args: &[String]) -> String {
    let mut s = format!(
        "cd {q} || {{ echo \"tracecheck-vm: cannot cd to \"{q}\" in the guest\" >&2; exit 127; }}\n",
        q = shell_quote(cwd)
    );
    let mut odd = Vec::new();
    for (n, v) in env {
        if bin.contains('=') && !is_env_name(n) {
            continue;
        }
        if is_env_name(n) {
            s.push_str(&format!("export {n}={}\n", shell_quote(v)));
        } else {
            odd.push(shell_quote(&format!("{n}={v}")));
        }
    }
    s.push_str("exec ");
    if !odd.is_empty() {
        s.push_str("/usr/bin/env ");
        for a in odd {
            s.push_str(&a);
            s.push(' ');
        }
    }
    s.push_str(&shell_quote(bin));
    for a in args {
        s.push(' ');
        s.push_str(&shell_quote(a));
    }
    s.push('\n');
    s
}

/// For an absolute path below a [`MASKED_DIRS`] entry, that entry's child the
/// path lies in (`/tmp/x/y` → `/tmp/x`); `None` otherwise, or for the masked
/// directory itself (the guest has an empty one).
pub fn masked_root(path: &Path) -> Option<PathBuf> {
    // Lexical normalisation: `/tmp/../usr` is not below /tmp.
    let mut norm = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                norm.pop();
            }
            Component::CurDir => {}
            c => norm.push(c),
        }
    }
    MASKED_DIRS.iter().find_map(|m| {
        let rest = norm.strip_prefix(m).ok()?;
        let first = rest.components().next()?;
        Some(Path::new(m).join(first))
    })
}

/// Top-level directories a guest with a root of its own has itself: a path
/// below one of them is not shared (the guest's own is what runs there).
pub const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/var", "/boot", "/proc", "/sys", "/dev",
];

/// The top-level directory `path` lies in (`/work/main/x` → `/work`), unless
/// it is one of [`SYSTEM_DIRS`] or the path is that directory itself.
pub fn top_dir(path: &Path) -> Option<PathBuf> {
    let mut parts = path.components();
    let (Some(Component::RootDir), Some(Component::Normal(first)), Some(_)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let top = Path::new("/").join(first);
    (!SYSTEM_DIRS.iter().any(|d| top == Path::new(d))).then_some(top)
}

/// Read-only shares that make `paths` (absolute) visible in the guest at the
/// same place, deduplicated, skipping any already covered by `existing`.
/// A guest on this machine's root sees every path but those below
/// [`MASKED_DIRS`]; one with a root of its own (`own_root`, debian-13)
/// sees none of this machine's, so a path outside the masked directories
/// is shared by its top-level directory (a project in `/work/main` shares
/// `/work`).
pub fn shares_for(
    paths: &[PathBuf],
    existing: &[Share],
    own_root: bool,
) -> Result<Vec<Share>, String> {
    let mut out: Vec<Share> = Vec::new();
    for p in paths {
        let root = match masked_root(p) {
            Some(r) => r,
            None if own_root => match top_dir(p) {
                Some(r) => r,
                None => continue,
            },
            None => continue,
        };
        let guest = root.to_string_lossy().into_owned();
        let covered = existing
            .iter()
            .chain(out.iter())
            .any(|s| Path::new(&s.guest) == root || root.starts_with(&s.guest));
        if covered {
            continue;
        }
        if guest.chars().any(char::is_whitespace) {
            return Err(format!(
                "{} is hidden in the guest and cannot be shared (whitespace in the path); \
                 move it, or pass --share with another guest path",
                p.display()
            ));
        }
        if root.is_dir() {
            out.push(Share {
                host: root,
                guest,
                writable: false,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(a, b)| (OsString::from(a), OsString::from(b)))
            .collect()
    }

    #[test]
    fn quoting_survives_the_shell() {
        let tricky = "it's \"$HOME\" `id` \\ $(x)\nline2 *";
        let script = format!("printf %s {}", shell_quote(tricky));
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), tricky);
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn env_takes_cargo_rust_and_named_variables() {
        let host = os(&[
            ("CARGO_PKG_NAME", "demo"),
            ("CARGO", "/usr/bin/cargo"),
            ("RUST_BACKTRACE", "1"),
            ("HOME", "/root"),
            ("CARGO_BIN_EXE_a-b", "/x"),
            ("MY_VAR", "it's"),
            ("PATH", "/usr/bin"),
        ]);
        let (env, notes) =
            guest_env(host, &["MY_VAR".into(), "SET=a=b".into(), "UNSET".into()]).unwrap();
        let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "CARGO",
                "CARGO_BIN_EXE_a-b",
                "CARGO_PKG_NAME",
                "MY_VAR",
                "RUST_BACKTRACE",
                "SET"
            ]
        );
        assert_eq!(env[3].1, "it's");
        assert_eq!(env[5].1, "a=b");
        assert!(notes.is_empty(), "{notes:?}");
        assert!(guest_env(Vec::new(), &["=x".into()]).is_err());
    }

    #[test]
    fn script_runs_the_binary_with_its_arguments_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path().to_str().unwrap();
        let script = runner_script(
            cwd,
            &[("TC_V".into(), "a 'b' $c".into())],
            "/bin/sh",
            &[
                "-c".into(),
                "pwd; printf '%s|' \"$TC_V\" \"$0\" \"$1\"; exit 3".into(),
                "x y".into(),
                "--nocapture".into(),
            ],
        );
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text, format!("{cwd}\na 'b' $c|x y|--nocapture|"));
    }

    #[test]
    fn names_sh_cannot_export_are_set_by_env() {
        let dir = tempfile::tempdir().unwrap();
        let env = [("X_a-b".into(), "v 'q'".into()), ("Y".into(), "y".into())];
        let run = |bin: &Path| {
            let script = runner_script("/", &env, bin.to_str().unwrap(), &[]);
            let out = std::process::Command::new("/bin/sh")
                .args(["-c", &script])
                .output()
                .unwrap();
            assert!(out.status.success(), "{script}");
            String::from_utf8(out.stdout).unwrap()
        };
        let text = run(Path::new("/usr/bin/env"));
        assert!(text.lines().any(|l| l == "X_a-b=v 'q'"), "{text}");
        assert!(text.lines().any(|l| l == "Y=y"), "{text}");
        // A path with `=` still runs, without the odd names.
        let bin = dir.path().join("a=b");
        std::os::unix::fs::symlink("/usr/bin/env", &bin).unwrap();
        let text = run(&bin);
        assert!(text.lines().any(|l| l == "Y=y"), "{text}");
        assert!(!text.contains("X_a-b"), "{text}");
    }

    #[test]
    fn paths_under_masked_dirs_get_one_share_each() {
        assert_eq!(
            masked_root(Path::new("/tmp/a/b/c")),
            Some(PathBuf::from("/tmp/a"))
        );
        assert_eq!(
            masked_root(Path::new("/root/p/target")),
            Some("/root/p".into())
        );
        assert_eq!(masked_root(Path::new("/tmp")), None);
        assert_eq!(masked_root(Path::new("/tmpx/a")), None);
        assert_eq!(masked_root(Path::new("/tmp/../usr/bin")), None);
        assert_eq!(masked_root(Path::new("/work/main")), None);

        let dir = tempfile::tempdir_in("/tmp").unwrap();
        let root = dir.path().to_owned();
        let shares = shares_for(
            &[
                root.join("crate"),
                root.join("target/debug/deps/t-1"),
                "/usr/bin".into(),
            ],
            &[],
            false,
        )
        .unwrap();
        assert_eq!(shares.len(), 1);
        assert_eq!(shares[0].host, root);
        assert_eq!(Path::new(&shares[0].guest), root);
        assert!(!shares[0].writable);
        // Already shared by the user: nothing added.
        assert!(shares_for(&[root.join("x")], &shares, false)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_guest_with_its_own_root_gets_the_projects_top_directory() {
        // This machine's /work holds the project: a guest on this root sees
        // it already; one with its own root (debian-13) must be given it.
        let here = std::env::current_dir().unwrap();
        let top = top_dir(&here).expect("the tests run outside the system directories");
        assert!(
            shares_for(std::slice::from_ref(&here), &[], false)
                .unwrap()
                .is_empty()
                || masked_root(&here).is_some()
        );
        let shares = shares_for(&[here.clone(), "/usr/bin/true".into()], &[], true).unwrap();
        assert_eq!(shares.len(), 1, "{shares:?}");
        let want = masked_root(&here).unwrap_or(top);
        assert_eq!(shares[0].host, want);
        assert_eq!(top_dir(Path::new("/usr/lib/x")), None);
        assert_eq!(top_dir(Path::new("/work")), None);
        assert_eq!(top_dir(Path::new("/work/main")), Some("/work".into()));
    }
}
