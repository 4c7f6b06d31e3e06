//! `flowtally migrate`: creates or upgrades the mv_ tables of each tenant (see
//! [`crate::sink::migrate`]), one line per tenant.

use super::{connect, exit, load_config, select_tenants, CommandError, Out, Outcome};
use crate::cli::Cli;
use crate::db::describe;

pub async fn migrate(cli: &Cli, tenant: Option<&str>) -> Outcome {
    let cfg = load_config(cli)?;
    let source = connect(&cfg.source, "source").await?;
    let sink = connect(&cfg.sink, "sink").await?;
    let tenants = select_tenants(&cfg, &source, tenant).await?;
    let mut out = Out::new();
    let mut ok = true;
    for t in &tenants {
        let Some(db) = &t.db else {
            out.line(format_args!(
                "{}: no database on the server, skipped",
                t.code
            ));
            ok = false;
            continue;
        };
        let mut conn = sink
            .acquire()
            .await
            .map_err(|e| CommandError::Failed(describe(&e)))?;
        match crate::sink::migrate::migrate(&mut conn, db).await {
            Ok(m) => out.line(format_args!(
                "{} ({db}): created [{}], added columns [{}]",
                t.code,
                m.created.join(", "),
                m.columns_added.join(", ")
            )),
            Err(e) => {
                ok = false;
                out.line(format_args!("{} ({db}): failed: {}", t.code, describe(&e)));
            }
        }
    }
    Ok(exit(ok))
}
