//! The floor's andon and drill-down in a real browser (headless Chromium, as
//! `dashboard.rs`'s test drives it), on every flavour: tokens pile up at a node past its WIP
//! limit through the binlog; the live page turns the node's rows red and lists the alert,
//! without a reload; the node's drill-down page, reached by its link, lists exactly the tokens
//! the API counts there; and when the tokens move on, the red and the alert go.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::process::{seeded_tenant, Flowtally};
use crate::common::{self, Flavor};
use crate::dashboard::Browser;

on_all!(a_node_over_its_wip_limit_turns_red_drills_down_and_clears_in_the_browser);

const SEW: i64 = 2;

async fn a_node_over_its_wip_limit_turns_red_drills_down_and_clears_in_the_browser(flavor: Flavor) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let code = common::unique_code("Ab");
    let db = seeded_tenant(&pool, &code, 23).await;
    let dir = tempfile::tempdir().expect("tempdir");
    Flowtally::config(
        dir.path(),
        server.port,
        &[&code],
        "[andon]\nevaluate_secs = 1\nqueue_growth_tokens = 0\n",
    );
    let mut ft = Flowtally::start_in(dir);
    let base = format!("http://127.0.0.1:{}", ft.http_port());
    let c = browser.c();
    // The tenant is loaded once its page answers with the dashboard (not "Loading").
    let mut tries = 0;
    loop {
        c.goto(&format!("{base}/tenants/{code}"))
            .await
            .expect("goto");
        if browser
            .js("return !!document.getElementById('dashboard');")
            .await
            == json!(true)
        {
            break;
        }
        tries += 1;
        assert!(tries < 90, "the dashboard never came up\n{}", ft.log());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    browser
        .wait_true(
            "document.getElementById('conn').dataset.state === 'live'",
            20,
            "the live stream",
        )
        .await;
    assert_eq!(
        browser
            .js("return !!document.querySelector('#alerts [data-alerts=\"none\"]');")
            .await,
        json!(true),
        "a quiet floor"
    );
    browser
        .js("window.__notReloaded = true; return null;")
        .await;

    // 15 tokens at SEW (WIP limit 12 from the seed), through the binlog.
    let mut sql = format!(
        "INSERT INTO `{db}`.job_graph_instance (id_instance, id_job_ticket, id_graph, status) \
         VALUES (9001, 9001, 1, 'active');\
         INSERT INTO `{db}`.flow_token (id_token, id_instance, token_type, current_node_id, status, spawned_at) VALUES "
    );
    for i in 0..15 {
        let status = if i < 3 { "active" } else { "waiting" };
        let sep = if i == 0 { "" } else { ", " };
        sql += &format!(
            "{sep}({}, 9001, 'piece', {SEW}, '{status}', NOW())",
            9200 + i
        );
    }
    sqlx::raw_sql(&sql)
        .execute(&pool)
        .await
        .expect("the pile-up");

    let red_alert = format!(
        "document.querySelector('#alerts tr[data-kind=\"wip_limit\"][data-subject=\"node:{SEW}\"][data-level=\"red\"]')"
    );
    let red_rows = format!(
        "document.querySelector('#bottlenecks tr[data-node=\"{SEW}\"]').classList.contains('andon-red') \
         && document.querySelector('#heatmap tr[data-node=\"{SEW}\"]').classList.contains('andon-red')"
    );
    browser
        .wait_true(
            &format!("{red_alert} && {red_rows}"),
            60,
            "SEW red and listed",
        )
        .await;
    let since = browser
        .js(&format!(
            "return {red_alert}.querySelector('[data-col=\"since\"] time').textContent;"
        ))
        .await;
    assert!(
        since.as_str().is_some_and(|s| s.len() == 19),
        "since-when: {since}"
    );
    let figure = browser
        .js(&format!(
            "return {red_alert}.querySelector('[data-col=\"figure\"]').textContent;"
        ))
        .await;
    assert!(
        figure.as_str().is_some_and(|f| f.starts_with("15 ")),
        "{figure}"
    );
    assert_eq!(
        browser.js("return window.__notReloaded === true;").await,
        json!(true),
        "reloaded"
    );

    // The drill-down, by the bottleneck row's link: exactly the tokens the API counts at SEW.
    c.execute(
        &format!("document.querySelector('#bottlenecks tr[data-node=\"{SEW}\"] th a.drill').click(); return null;"),
        vec![],
    )
    .await
    .expect("click the node");
    browser
        .wait_true(
            &format!("document.querySelector('#node[data-node=\"{SEW}\"]')"),
            20,
            "the node's page",
        )
        .await;
    let got = c
        .execute_async(
            &format!(
                "const done = arguments[arguments.length - 1];
                 const shown = [...document.querySelectorAll('#node tr[data-token]')].map(r => Number(r.dataset.token)).sort((a, b) => a - b);
                 const total = Number(document.getElementById('node').dataset.total);
                 fetch('/api/v1/tenants/{code}/nodes/{SEW}/tokens').then(r => r.json()).then(api => done({{
                   shown: shown, total: total, api_total: api.total,
                   api: api.tokens.map(t => t.token_id).sort((a, b) => a - b)
                 }}), e => done({{ error: String(e) }}));"
            ),
            vec![],
        )
        .await
        .expect("read the node page and the API");
    assert!(got["error"].is_null(), "{got}");
    let expected: Vec<i64> = (9200..9215).collect();
    assert_eq!(got["shown"], json!(expected), "{got}");
    assert_eq!(got["api"], got["shown"]);
    assert_eq!(
        (got["total"].clone(), got["api_total"].clone()),
        (json!(15), json!(15))
    );
    assert_eq!(
        browser.js("return document.querySelector('#node [data-kpi=\"wip\"]').classList.contains('andon-red');").await,
        json!(true),
        "the node's WIP is red on its page too"
    );

    // Back on the dashboard: the tokens are done, the red and the alert go.
    c.goto(&format!("{base}/tenants/{code}"))
        .await
        .expect("back");
    browser
        .wait_true(
            "document.getElementById('conn').dataset.state === 'live'",
            20,
            "the live stream",
        )
        .await;
    browser
        .wait_true(&format!("{red_alert} && {red_rows}"), 20, "still red")
        .await;
    sqlx::raw_sql(&format!(
        "UPDATE `{db}`.flow_token SET current_node_id = NULL, status = 'completed', completed_at = NOW() \
         WHERE id_token BETWEEN 9200 AND 9211"
    ))
    .execute(&pool)
    .await
    .expect("done");
    browser
        .wait_true(
            &format!(
                "!{red_alert} && !document.querySelector('#bottlenecks tr[data-node=\"{SEW}\"]').classList.contains('andon-red') \
                 && !!document.querySelector('#alerts [data-alerts=\"none\"]')"
            ),
            60,
            "the alert cleared",
        )
        .await;
    let left: Value = browser
        .js(&format!("return document.querySelector('#bottlenecks tr[data-node=\"{SEW}\"] [data-col=\"queue_depth\"]').textContent;"))
        .await;
    assert_eq!(left, json!("3"), "12 of the 15 are done; 3 wait: {left}");
    browser.close().await;
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
}
