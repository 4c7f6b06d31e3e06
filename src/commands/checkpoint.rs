//! `flowtally checkpoint show` and `checkpoint reset [--tenant CODE]`: what the checkpoint in
//! the state directory holds, and discarding it (or one tenant's part) so that the next start
//! recomputes.

use std::process::ExitCode;

use super::{load_config, CommandError, Out, Outcome};
use crate::checkpoint::{self, Manifest, Refused};
use crate::cli::{CheckpointAction, Cli};
use crate::model::clock::Instant;

pub fn checkpoint(cli: &Cli, action: &CheckpointAction) -> Outcome {
    let cfg = load_config(cli)?;
    let dir = &cfg.state_dir;
    let mut out = Out::new();
    let failed = |e: std::io::Error| CommandError::Failed(e.to_string());
    match action {
        CheckpointAction::Show => match Manifest::load(dir) {
            Ok(m) => {
                let age = chrono::Utc::now().timestamp() - m.taken_at;
                out.line(format_args!(
                    "checkpoint: {} ({} bytes with {} tenant part(s))",
                    checkpoint::path(dir).display(),
                    m.bytes(dir),
                    m.tenants.len()
                ));
                out.line(format_args!("server:     {}", m.server));
                out.line(format_args!("position:   {}", m.position));
                out.line(format_args!("taken:      {age} s ago"));
                for (cadence, t) in &m.written {
                    let local = Instant(*t).local(cfg.timezone);
                    out.line(format_args!("last {:<10} {local}", cadence.label()));
                }
                for t in &m.tenants {
                    out.line(format_args!(
                        "tenant {} ({}): {} rows + {} changes, {} bytes",
                        t.code, t.db, t.base_rows, t.changes, t.len
                    ));
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(Refused::Missing(_)) => {
                out.line(format_args!(
                    "no checkpoint in {}: the next start recomputes",
                    dir.display()
                ));
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Err(CommandError::Failed(e.to_string())),
        },
        CheckpointAction::Reset { tenant: None } => {
            let existed = checkpoint::reset(dir).map_err(failed)?;
            out.line(if existed {
                "checkpoint discarded: the next start recomputes every tenant"
            } else {
                "no checkpoint to discard"
            });
            Ok(ExitCode::SUCCESS)
        }
        CheckpointAction::Reset { tenant: Some(code) } => {
            let mut m = match Manifest::load(dir) {
                Ok(m) => m,
                Err(Refused::Missing(_)) => {
                    out.line("no checkpoint: the next start recomputes every tenant anyway");
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => return Err(CommandError::Failed(e.to_string())),
            };
            if !m.reset_tenant(dir, code).map_err(failed)? {
                return Err(CommandError::Usage(format!(
                    "the checkpoint holds no tenant '{code}'"
                )));
            }
            out.line(format_args!(
                "tenant {code} discarded: it is recomputed at the next start"
            ));
            Ok(ExitCode::SUCCESS)
        }
    }
}
