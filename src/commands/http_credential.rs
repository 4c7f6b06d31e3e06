//! `flowtally http-credential`: makes a dashboard/API credential and prints the
//! `[[http.access]]` entry that stores its hash. A token is made here and shown once; a
//! password (or an existing token, with `--stdin`) is read from standard input, never from the
//! command line (where `ps` and shell history would keep it).

use std::io::BufRead;
use std::process::ExitCode;

use super::{CommandError, Out, Outcome};
use crate::cli::CredentialKind;
use crate::http::access::{hash_password, hash_token, new_token};

/// `["A", "B"]` or `["*"]`, as TOML.
fn tenants_toml(list: &str) -> Result<String, CommandError> {
    let codes: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| format!("\"{}\"", c.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    if codes.is_empty() {
        return Err(CommandError::Usage(
            "--tenants is empty: list organization codes, or * for all".into(),
        ));
    }
    Ok(format!("[{}]", codes.join(", ")))
}

fn read_line(what: &str) -> Result<String, CommandError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CommandError::Failed(format!("cannot read the {what} from stdin: {e}")))?;
    let line = line.trim_end_matches(['\n', '\r']).to_string();
    if line.is_empty() {
        return Err(CommandError::Usage(format!(
            "no {what} on standard input: e.g. printf '%s\\n' \"$SECRET\" | flowtally http-credential ..."
        )));
    }
    Ok(line)
}

pub fn http_credential(kind: &CredentialKind) -> Outcome {
    let mut out = Out::new();
    match kind {
        CredentialKind::Token {
            name,
            tenants,
            stdin,
        } => {
            let tenants = tenants_toml(tenants)?;
            let token = if *stdin {
                read_line("token")?
            } else {
                let t = new_token();
                out.line(format!(
                    "# The token (shown once; give it to the reader, keep it secret):\n# {t}"
                ));
                t
            };
            out.line(format!(
                "[[http.access]]\nname = \"{name}\"\ntoken_sha256 = \"{}\"\ntenants = {tenants}",
                hash_token(&token)
            ));
        }
        CredentialKind::Password {
            user,
            name,
            tenants,
        } => {
            let tenants = tenants_toml(tenants)?;
            if user.is_empty() || user.contains(':') {
                return Err(CommandError::Usage(
                    "--user must be non-empty and without ':'".into(),
                ));
            }
            let password = read_line("password")?;
            let hash = hash_password(&password).map_err(CommandError::Failed)?;
            out.line(format!(
                "[[http.access]]\nname = \"{}\"\nuser = \"{user}\"\npassword_hash = \"{hash}\"\ntenants = {tenants}",
                name.as_deref().unwrap_or(user)
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
