//! `flowtally verify`: each tenant's latest snapshots against the independent SQL of
//! [`crate::verify`]; every difference printed, exit 1 on any.

use super::{connect, exit, load_config, select_tenants, views, CommandError, Out, Outcome};
use crate::cli::Cli;
use crate::db::describe;

pub async fn verify(cli: &Cli, tenant: Option<&str>, tables: Option<&str>) -> Outcome {
    let views = views(tables)?;
    let cfg = load_config(cli)?;
    let source = connect(&cfg.source, "source").await?;
    let sink = connect(&cfg.sink, "sink").await?;
    let tenants = select_tenants(&cfg, &source, tenant).await?;
    let now = crate::refresh::instant_now(&cfg);
    let mut out = Out::new();
    let mut differences = 0usize;
    for t in &tenants {
        let Some(db) = &t.db else {
            out.line(format_args!(
                "{}: no database on the server, skipped",
                t.code
            ));
            continue;
        };
        let conns = tokio::try_join!(source.acquire(), sink.acquire());
        let (mut sources, mut written) = conns.map_err(|e| CommandError::Failed(describe(&e)))?;
        match crate::verify::verify_tenant(&mut sources, &mut written, db, &views, now).await {
            Ok(diffs) => {
                for d in &diffs {
                    out.line(format_args!("{} {d}", t.code));
                }
                out.line(format_args!("{}: {} difference(s)", t.code, diffs.len()));
                differences += diffs.len();
            }
            Err(e) => {
                out.line(format_args!("{}: verify failed: {}", t.code, describe(&e)));
                differences += 1;
            }
        }
    }
    Ok(exit(differences == 0))
}
