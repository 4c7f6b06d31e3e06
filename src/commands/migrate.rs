//! `flowtally migrate`: creates or upgrades the mv_ tables of each tenant (see
//! [`crate::sink::migrate`]), one line per tenant; with `[ha]`, creates the writer's lease table
//! too, in one more line.

use super::{connect, exit, load_config, select_tenants, CommandError, Out, Outcome};
use crate::cli::Cli;
use crate::db::{describe, text};
use crate::sink::lease;

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
    if cfg.ha.enabled {
        // The writer's lease of `[ha]`, in the sink's core database.
        let created = async {
            let mut conn = sink.acquire().await?;
            text(&mut conn, &lease::create_sql(&cfg.core_db)).await?;
            lease::ensure_writer_row(&mut conn, &cfg.core_db).await
        }
        .await;
        let table = format!("{}.{}", cfg.core_db, lease::TABLE);
        match created {
            Ok(()) => out.line(format_args!("[ha] lease table {table}: ready")),
            Err(e) => {
                ok = false;
                out.line(format_args!(
                    "[ha] lease table {table}: failed: {}",
                    describe(&e)
                ));
            }
        }
    }
    Ok(exit(ok))
}
