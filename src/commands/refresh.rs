//! `flowtally refresh`: the drop-in for the cron script (see [`crate::refresh`]).

use super::{connect, exit, load_config, select_tenants, views, Outcome};
use crate::cli::Cli;

pub async fn refresh(cli: &Cli, tenant: Option<&str>, tables: Option<&str>) -> Outcome {
    let views = views(tables)?;
    let cfg = load_config(cli)?;
    let at = crate::refresh::instant_now(&cfg);
    let source = connect(&cfg.source, "source").await?;
    let sink = connect(&cfg.sink, "sink").await?;
    let tenants = select_tenants(&cfg, &source, tenant).await?;
    let ok =
        crate::refresh::run(&source, &sink, &tenants, &views, at, &mut std::io::stdout()).await;
    Ok(exit(ok))
}
