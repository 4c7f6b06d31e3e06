//! The floor's andon and drill-down in a real browser (headless Chromium, as
//! `dashboard.rs`'s test drives it), on every flavour, in Thai: tokens pile up at a node past
//! its WIP limit through the binlog; the live page turns the node's rows red and lists the
//! alert in Thai (level, what, the figure in pieces, since when as a time of day), without a
//! reload; the node's drill-down page, reached by its link, is in Thai too and lists exactly
//! the tokens the API counts there; the wall screen at 1920×1080 shows the red alert without
//! scrolling; and when the tokens move on, the red and the alert go.

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
        c.goto(&format!("{base}/tenants/{code}?lang=th"))
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
    // In Thai: since when as a time of day (the instant in `datetime`), the figure in pieces.
    let row = browser
        .js(&format!(
            "const r = {red_alert}, t = r.querySelector('[data-col=\"since\"] time');
             return {{ datetime: t.getAttribute('datetime'), since: t.textContent,
                      level: r.querySelector('[data-col=\"level\"]').textContent.trim(),
                      what: r.querySelector('[data-col=\"kind\"]').textContent,
                      figure: r.querySelector('[data-col=\"figure\"]').textContent,
                      limit: r.querySelector('[data-col=\"limit\"]').textContent }};"
        ))
        .await;
    assert!(
        row["datetime"].as_str().is_some_and(|s| s.len() == 19),
        "since-when: {row}"
    );
    let since = row["since"].as_str().unwrap_or_default();
    assert!(
        since.len() == "00:00 น.".len() && since.ends_with(" น.") && since.as_bytes()[2] == b':',
        "since as a Thai time of day: {row}"
    );
    assert_eq!(
        (&row["level"], &row["what"], &row["figure"], &row["limit"]),
        (
            &json!("แดง"),
            &json!("งานค้างเกินขีดจำกัด"),
            &json!("15 ชิ้น"),
            &json!("12 ชิ้น")
        ),
        "{row}"
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
    // In the language the dashboard was asked in (remembered), with its limit in words.
    assert_eq!(
        browser
            .js("return [document.documentElement.lang, document.querySelector('#node [data-kpi=\"wip\"] .kpi-note').textContent];")
            .await,
        json!(["th", "ขีดจำกัด 12 ชิ้น"])
    );

    // The wall screen: the red alert in view, nothing scrolls; then the tokens are done, and
    // the red and the alert go.
    browser.viewport(1920, 1080).await;
    c.goto(&format!("{base}/tenants/{code}?view=wall&lang=th"))
        .await
        .expect("the wall screen");
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
    let wall = browser
        .js(&format!(
            "const r = {red_alert}.getBoundingClientRect(), de = document.documentElement;
             return {{ top: r.top, bottom: r.bottom, height: r.height, inner: innerHeight,
                      scroll: [de.scrollWidth, de.scrollHeight],
                      red: getComputedStyle({red_alert}.querySelector('td')).backgroundColor }};"
        ))
        .await;
    let n = |k: &str| wall[k].as_f64().unwrap_or(f64::NAN);
    assert!(
        n("height") > 20.0 && n("top") >= 0.0 && n("bottom") <= n("inner"),
        "the red alert is in view on the wall: {wall}"
    );
    assert_eq!(
        wall["scroll"],
        json!([1920, 1080]),
        "the wall scrolls: {wall}"
    );
    assert_eq!(wall["red"], json!("rgb(179, 38, 30)"), "filled red: {wall}");
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
