//! Tenants coming and going while `flowtally run` streams: a new organization is loaded alone
//! and joins the stream without pausing the others; a deactivated one gets no rows for any
//! instant after the deactivating commit.

use crate::common::process::{
    differences, local, mark, next_minute, snapshot_instants, traffic_on, wait_for_instant,
    Flowtally,
};
use crate::common::{self, tenant_at, Flavor};

on_all!(
    tenants_join_and_leave_while_streaming,
    a_survey_reads_the_tables_only_of_tenants_not_trusted
);

async fn tenants_join_and_leave_while_streaming(flavor: Flavor) {
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let (a, b) = ("JoinA", "JoinB");
    let now = chrono::Utc::now().timestamp();
    let db_a = tenant_at(&server, &pool, a, 61, now).await;
    let mut ft = Flowtally::start(server.port, &[a, b]);
    ft.wait_started();
    assert!(
        ft.log().contains("tenant loaded tenant=JoinA"),
        "{}",
        ft.log()
    );

    let first = next_minute(now) + 60;
    let s = traffic_on(&pool, std::slice::from_ref(&db_a), 62, first, 1, 200, false).await;
    // B appears while A streams: its database and organization row, dated in the stream.
    let db_b = tenant_at(&server, &pool, b, 63, s.last_epoch + 1).await;
    ft.wait_until_log("tenant loaded tenant=JoinB");
    let both = [db_a.clone(), db_b.clone()];
    let s = traffic_on(&pool, &both, 64, s.last_epoch + 2, 1, 400, false).await;
    let last = (s.last_epoch / 900 + 1) * 900;
    mark(&pool, last + 1).await;
    for db in &both {
        wait_for_instant(&pool, db, local(last), &ft).await;
        let diffs = differences(&pool, db).await;
        assert!(diffs.is_empty(), "{db}: {diffs:#?}");
    }
    // A's minutes never paused while B was loaded (the one at `first` precedes A's first
    // token, so it has no rows).
    let a_minutes: Vec<_> = snapshot_instants(&pool, &db_a)
        .await
        .into_iter()
        .filter(|t| *t > local(first))
        .collect();
    assert_eq!(a_minutes.len() as i64, (last - first) / 60);

    // A is deactivated at `off`: no rows for A after it, B carries on.
    let off = last + 90;
    server
        .exec(&format!(
            "SET timestamp = {off}; UPDATE bgerp.organization SET status = 'inactive' WHERE code = '{a}'; SET timestamp = DEFAULT;"
        ))
        .await;
    let s = traffic_on(
        &pool,
        std::slice::from_ref(&db_b),
        65,
        off + 1,
        1,
        200,
        false,
    )
    .await;
    let end = (s.last_epoch / 900 + 1) * 900;
    mark(&pool, end + 1).await;
    wait_for_instant(&pool, &db_b, local(end), &ft).await;
    let after: Vec<_> = snapshot_instants(&pool, &db_a)
        .await
        .into_iter()
        .filter(|t| *t > local(off))
        .collect();
    assert!(after.is_empty(), "rows for an inactive tenant: {after:?}");
    assert!(snapshot_instants(&pool, &db_a)
        .await
        .contains(&local(off - off % 60)));
    let diffs = differences(&pool, &db_b).await;
    assert!(diffs.is_empty(), "{diffs:#?}");
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
}

/// The watcher trusts the tables of tenants it found whole a moment ago (and reads them again
/// every minute): their tables are not read, but whether their databases exist is.
async fn a_survey_reads_the_tables_only_of_tenants_not_trusted(flavor: Flavor) {
    use std::collections::HashSet;

    use flowtally::service::watcher::survey;

    let server = common::shared(flavor);
    let pool = server.pool().await;
    let now = chrono::Utc::now().timestamp();
    let codes: Vec<String> = ["SurA", "SurB", "SurC"]
        .iter()
        .map(|p| common::unique_code(p))
        .collect();
    let mut dbs = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        dbs.push(tenant_at(server, &pool, code, 80 + i as u64, now).await);
    }
    // B loses a source table, C its database.
    server
        .exec(&format!(
            "DROP TABLE `{}`.team_member; DROP DATABASE `{}`",
            dbs[1], dbs[2]
        ))
        .await;
    let include = codes
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let cfg = flowtally::config::Config::parse(
        &format!(
            "[source]\nurl = \"mysql://root@127.0.0.1:{}\"\n[tenants]\ninclude = [{include}]\n",
            server.port
        ),
        "test",
        &Default::default(),
    )
    .expect("config");
    // Each code's problem, in the order of `codes`.
    let problems = |trusted: HashSet<String>| {
        let (cfg, pool, codes) = (&cfg, &pool, &codes);
        async move {
            let s = survey(cfg, pool, pool, &trusted).await.expect("survey");
            assert_eq!(s.tenants.len(), 3, "{s:?}");
            codes
                .iter()
                .map(|c| {
                    let t = s.tenants.iter().find(|t| &t.code == c).expect("listed");
                    t.problem.as_ref().map(|p| p.to_string())
                })
                .collect::<Vec<_>>()
        }
    };
    let full = problems(HashSet::new()).await;
    assert_eq!(full[0], None);
    assert!(
        full[1]
            .as_deref()
            .is_some_and(|p| p.contains("team_member")),
        "{full:?}"
    );
    assert!(
        full[2]
            .as_deref()
            .is_some_and(|p| p.contains("no database")),
        "{full:?}"
    );
    let trusted = dbs.iter().map(|d| d.to_lowercase()).collect();
    let light = problems(trusted).await;
    assert_eq!(light[0], None);
    assert_eq!(light[1], None, "B's tables are not read");
    assert_eq!(light[2], full[2], "C's database is looked for all the same");
}
