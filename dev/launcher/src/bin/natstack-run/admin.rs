//! What `make run` keeps in `.run/` besides the databases: the administrator login (given by
//! `ADMIN_EMAIL`/`ADMIN_PASSWORD`, or generated once into `.run/admin.env`) and auth's signing
//! key (`.run/jwt.pem`), so logins and tokens survive a restart.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contract::deploy::env::{ADMIN_EMAIL, ADMIN_PASSWORD};
use rand::RngCore as _;

use launcher::files;

use crate::cli::Cli;

/// The generated administrator's email.
const DEFAULT_EMAIL: &str = "admin@example.com";

/// The administrator's email and password: both from the environment, or from
/// `<data>/admin.env`, written with a random password on the first run.
pub fn login(cli: &Cli, data: &Path) -> anyhow::Result<(String, String)> {
    if let (Some(email), Some(password)) = (&cli.admin_email, &cli.admin_password)
        && !email.is_empty()
        && !password.is_empty()
    {
        return Ok((email.clone(), password.clone()));
    }
    let file = data.join("admin.env");
    if file.is_file() {
        files::restrict(&file)?;
    } else {
        let mut bytes = [0u8; 18];
        rand::thread_rng().fill_bytes(&mut bytes);
        let password = URL_SAFE_NO_PAD.encode(bytes);
        let text = format!("{ADMIN_EMAIL}={DEFAULT_EMAIL}\n{ADMIN_PASSWORD}={password}\n");
        files::write_private(&file, text.as_bytes())?;
    }
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
            .with_context(|| format!("{} has no {name}", file.display()))
    };
    Ok((value(ADMIN_EMAIL)?, value(ADMIN_PASSWORD)?))
}

/// `<data>/jwt.pem`, an Ed25519 key generated with openssl on the first run; `None` without
/// openssl (auth then signs with a key of its own per start).
pub fn signing_key(data: &Path) -> Option<PathBuf> {
    let key = std::path::absolute(data.join("jwt.pem")).ok()?;
    if key.is_file() {
        files::restrict(&key).ok()?;
    } else {
        // Created 0600 first: openssl then writes into it, keeping the mode.
        files::write_private(&key, b"").ok()?;
        let made = Command::new("openssl")
            .args(["genpkey", "-algorithm", "ed25519", "-out"])
            .arg(&key)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !made {
            let _ = std::fs::remove_file(&key);
            return None;
        }
    }
    Some(key)
}
