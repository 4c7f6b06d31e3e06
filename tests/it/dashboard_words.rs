//! The dashboard in the floor's words, end to end: `flowtally run` serving a factory of three
//! routes (a Thai one of 14 stations) and 12 teams, driven in headless Chromium (the browser
//! of `dashboard.rs`):
//!
//! - the Thai page (`?lang=th`, then remembered) has no untranslated string: no run of ASCII
//!   letters in its text, its titles and labels, the page's title or the script's words,
//!   outside the ERP's own names (`translate="no"`), what is marked English (`lang="en"`: the
//!   language switch's "English"), the brand and the tenant's code; and the check is shown to
//!   catch an English word put in the page;
//! - its figures equal the API's at one instant after a live update, and every duration it
//!   says (`2 ชม. 3 นาที`) is the figure behind it;
//! - the wall screen (`?view=wall`) fits 1920×1080 without scrolling, every panel's content
//!   whole, its key figures over 64 px, dark by default, and live; with a station over its WIP
//!   limit, the alert list shows it red, in Thai, in view (and in the docs' screenshot);
//! - the themes: `?theme=dark|light`, and the browser's `prefers-color-scheme` (emulated);
//! - the documentation's screenshots, with `FLOWTALLY_SCREENSHOTS=docs/screenshots` (see
//!   `scripts/screenshots.sh`): the Thai wall screen, the English desk page, a phone.

use std::path::Path;
use std::time::Duration;

use flowtally_testkit::simulate::{self, SimOptions};
use serde_json::json;

use crate::common::process::{seeded_tenant, traffic_on, Flowtally};
use crate::common::{self, Flavor};
use crate::dashboard::{
    differences, duration_differences, get, rows, save_screenshot, wait_ok, Browser, READ_DOM, TZ,
    VIEWS,
};

on_all!(dashboard_in_thai_on_a_wall_screen_dark_and_live);

/// A third route of 14 stations (hatthasilpa, Thai names) and teams 6–12 with three operators
/// each, beside `seed_dimensions`' two routes and five teams: a heat map and a workload table
/// the size of a real floor's.
async fn more_of_a_factory(pool: &sqlx::MySqlPool, db: &str) {
    let q = format!("`{db}`");
    let stations = [
        ("H-CUT", "ตัดหนัง", "start", "cutting"),
        ("H-SKV", "ปาดขอบหนัง", "operation", "cutting"),
        ("H-MRK", "ตีเส้นและเจาะรู", "operation", "cutting"),
        ("H-GLU", "ทากาวประกบ", "operation", "general"),
        ("H-STC", "เย็บมือด้านข้าง", "operation", "sewing"),
        ("H-ST2", "เย็บมือตัวกระเป๋า", "operation", "sewing"),
        ("H-HDL", "เย็บหูหิ้ว", "operation", "sewing"),
        ("H-EDG", "ขัดขอบ", "operation", "finishing"),
        ("H-PNT", "ทาสีขอบ", "operation", "finishing"),
        ("H-BRN", "ลงไขและขัดเงา", "operation", "finishing"),
        ("H-HW", "ติดอะไหล่โลหะ", "operation", "general"),
        ("H-QC", "ตรวจคุณภาพ", "qc", "qc"),
        ("H-STP", "ปั๊มโลโก้", "operation", "general"),
        ("H-PCK", "บรรจุกล่อง", "end", "general"),
    ];
    let mut sql = format!(
        "INSERT INTO {q}.routing_graph (id_graph, code, name, graph_type, production_type) \
         VALUES (3, 'HS-WALLET', 'กระเป๋าสตางค์หัตถศิลป์', 'sequential', 'hatthasilpa');\
         INSERT INTO {q}.routing_node (id_node, id_graph, node_code, node_name, node_type, \
         team_category, wip_limit, sequence_no) VALUES "
    );
    for (i, (code, name, kind, cat)) in stations.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        sql.push_str(&format!(
            "{sep}({}, 3, '{code}', '{name}', '{kind}', '{cat}', 20, {})",
            101 + i,
            i + 1
        ));
    }
    sql.push_str(&format!(
        ";INSERT INTO {q}.team (id_team, code, name, team_category, production_mode, active) \
         VALUES (6, 'CUT-B', 'ทีมตัด B', 'cutting', 'hatthasilpa', 1), \
         (7, 'HS-1', 'ทีมเย็บมือ 1', 'sewing', 'hatthasilpa', 1), \
         (8, 'HS-2', 'ทีมเย็บมือ 2', 'sewing', 'hatthasilpa', 1), \
         (9, 'EDGE', 'ทีมขัดขอบ', 'finishing', 'hatthasilpa', 1), \
         (10, 'PAINT', 'ทีมทาสีขอบ', 'finishing', 'hybrid', 1), \
         (11, 'QC-2', 'ทีมตรวจสอบ 2', 'qc', 'hybrid', 1), \
         (12, 'PACK', 'ทีมแพ็คสินค้า', 'general', 'hybrid', 1);\
         INSERT INTO {q}.team_member (id_team, id_member, capacity_per_day, active) VALUES "
    ));
    let members: Vec<String> = (6..=12)
        .flat_map(|team| (0..3).map(move |k| (team, 2000 + team * 10 + k)))
        .map(|(team, member)| format!("({team}, {member}, 6, 1)"))
        .collect();
    sql.push_str(&members.join(", "));
    sqlx::raw_sql(&sql)
        .execute(pool)
        .await
        .expect("more stations and teams");
}

/// Every run of ASCII letters a person would see on the page (text, titles and labels, the
/// page's title) outside `translate="no"` (the ERP's names), `lang` other than the page's
/// (words marked as another language), `<script>` and `<style>`; except the `allowed` words.
/// Also how many text nodes it read.
const UNTRANSLATED: &str = r#"
function untranslated(allowed) {
  const lang = document.documentElement.lang;
  const skip = (el) => el.closest('[translate="no"], script, style, [lang]:not([lang="' + lang + '"])');
  const out = [];
  const words = (text, where) => {
    for (const w of text.match(/[A-Za-z][A-Za-z0-9_]*/g) || []) {
      if (!allowed.includes(w)) out.push(where + ': ' + w + ' in ' + JSON.stringify(text.trim().slice(0, 80)));
    }
  };
  let read = 0;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || skip(el) || !n.textContent.trim()) continue;
    read++;
    words(n.textContent, el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''));
  }
  for (const el of document.querySelectorAll('[title], [aria-label], [alt], [placeholder]')) {
    if (skip(el)) continue;
    for (const a of ['title', 'aria-label', 'alt', 'placeholder']) {
      if (el.hasAttribute(a)) words(el.getAttribute(a), el.tagName.toLowerCase() + '@' + a);
    }
  }
  words(document.title, 'title');
  return { found: out, read: read };
}
"#;

/// Asserts that the page in the browser has no untranslated word (see [`UNTRANSLATED`]), in
/// at least `min_read` text nodes.
async fn assert_translated(browser: &Browser, code: &str, what: &str, min_read: u64) {
    let allowed = json!(["flowtally", code]);
    let got = browser
        .js(&format!("{UNTRANSLATED} return untranslated({allowed});"))
        .await;
    let found: Vec<String> = got["found"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    assert!(
        found.is_empty(),
        "{what}: untranslated words:\n{}",
        found.join("\n")
    );
    assert!(
        got["read"].as_u64() >= Some(min_read),
        "{what}: the check read too little: {got}"
    );
}

/// The relative luminance (0 black – 1 white) of the body's computed background.
async fn body_luminance(browser: &Browser) -> f64 {
    let rgb = browser
        .js("return getComputedStyle(document.body).backgroundColor;")
        .await;
    let rgb = rgb.as_str().unwrap_or_default().to_string();
    let parts: Vec<f64> = rgb
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    assert!(parts.len() >= 3, "a colour: {rgb}");
    let lin = |c: f64| {
        let c = c / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(parts[0]) + 0.7152 * lin(parts[1]) + 0.0722 * lin(parts[2])
}

/// The browser's `prefers-color-scheme`, emulated through chromedriver's DevTools command.
#[derive(Debug)]
struct ColorScheme(&'static str);

impl fantoccini::wd::WebDriverCompatibleCommand for ColorScheme {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or("")
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({
            "cmd": "Emulation.setEmulatedMedia",
            "params": { "features": [{ "name": "prefers-color-scheme", "value": self.0 }] },
        });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

async fn goto_live(browser: &Browser, url: &str) {
    browser.c().goto(url).await.expect("goto");
    browser
        .wait_true(
            "document.getElementById('conn') && document.getElementById('conn').dataset.state === 'live'",
            30,
            "the live stream",
        )
        .await;
}

/// A screenshot for the docs, when `FLOWTALLY_SCREENSHOTS` names a directory (always under
/// target/ too); each must stay small.
fn docs_screenshot(png: &[u8], name: &str) {
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    save_screenshot(png, name);
    if let Some(dir) = std::env::var_os("FLOWTALLY_SCREENSHOTS") {
        assert!(
            png.len() < 300_000,
            "{name} is {} bytes: keep docs screenshots under 300 KB",
            png.len()
        );
        let _ = std::fs::create_dir_all(&dir);
        std::fs::write(Path::new(&dir).join(name), png).expect("write the screenshot");
    }
}

async fn dashboard_in_thai_on_a_wall_screen_dark_and_live(flavor: Flavor) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let code = common::unique_code("Th");
    let db = seeded_tenant(&pool, &code, 5).await;
    more_of_a_factory(&pool, &db).await;
    let now = chrono::Utc::now().timestamp();
    traffic_on(
        &pool,
        std::slice::from_ref(&db),
        23,
        now - 4 * 86_400,
        200,
        1_700,
        false,
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    Flowtally::config(dir.path(), server.port, &[&code], "");
    let mut ft = Flowtally::start_in(dir);
    let port = ft.http_port();
    wait_ok(port, &format!("/api/v1/tenants/{code}/summary"), &[], &ft).await;
    let base = format!("http://127.0.0.1:{port}");
    let page = format!("{base}/tenants/{code}");
    let c = browser.c();
    browser.viewport(1366, 768).await;

    // Thai, asked for by a link; every word of the page in Thai.
    goto_live(&browser, &format!("{page}?lang=th")).await;
    assert_eq!(
        browser.js("return document.documentElement.lang;").await,
        json!("th")
    );
    for id in ["bottlenecks", "heatmap", "cycle", "workload", "trends"] {
        let html = browser
            .js(&format!(
                "return document.getElementById('{id}').innerHTML;"
            ))
            .await;
        assert!(
            !html
                .as_str()
                .unwrap_or_default()
                .contains("class=\"empty\""),
            "the {id} section has figures to show"
        );
    }
    // Open the tables behind the charts: their words count too.
    browser
        .js("document.querySelectorAll('details').forEach(d => d.open = true); return null;")
        .await;
    assert_translated(&browser, &code, "the Thai dashboard", 300).await;
    // The check is real: an English word put in the page is found.
    let planted = browser
        .js(&format!(
            "{UNTRANSLATED} const p = document.createElement('p'); p.textContent = 'Bottlenecks ของวันนี้';
             document.getElementById('kpi').appendChild(p);
             const r = untranslated(['flowtally', '{code}']); p.remove(); return r.found;"
        ))
        .await;
    assert!(
        planted.to_string().contains("Bottlenecks"),
        "the check missed a planted word: {planted}"
    );
    // Remembered: the list of factories is in Thai without asking again.
    c.goto(&format!("{base}/")).await.expect("the list");
    browser
        .wait_true(
            &format!("document.querySelector('[data-tenant=\"{code}\"]')"),
            10,
            "the tenant listed",
        )
        .await;
    assert_eq!(
        browser.js("return document.documentElement.lang;").await,
        json!("th")
    );
    assert_translated(&browser, &code, "the Thai list of factories", 10).await;
    // The switch: to English and back.
    goto_live(&browser, &page).await;
    c.find(fantoccini::Locator::Css(
        "[data-switch=lang] a[data-lang=en]",
    ))
    .await
    .expect("the language switch")
    .click()
    .await
    .expect("to English");
    browser
        .wait_true(
            "document.documentElement.lang === 'en' && document.getElementById('conn').dataset.state === 'live'",
            20,
            "the page in English",
        )
        .await;
    let text = browser.js("return document.body.innerText;").await;
    assert!(
        text.as_str()
            .is_some_and(|t| t.contains("Assignments completed today")),
        "{text}"
    );
    goto_live(&browser, &format!("{page}?lang=th")).await;

    // A live update in Thai: commits arrive, a figure changes, no reload; then every figure of
    // the page equals the API's at one instant, and every duration says its figure.
    browser
        .js("window.__notReloaded = true; return null;")
        .await;
    let figures = "['wip','queued','in_work','completed_today'].map(k => document.querySelector('[data-kpi=\"' + k + '\"] [data-value]').textContent).join('|')";
    let before = browser.js(&format!("return {figures};")).await;
    let live_traffic = SimOptions {
        seed: 78,
        tenants: vec![db.clone()],
        transactions: Some(120),
        rate_per_sec: Some(20.0),
        tz: TZ,
        ..SimOptions::default()
    };
    let traffic = simulate::run(&pool, &live_traffic);
    let changed_js = format!("{figures} !== {before}");
    let changed = browser.wait_true(&changed_js, 60, "a figure changing under traffic");
    let (stats, ()) = tokio::join!(traffic, changed);
    stats.expect("live traffic");
    assert_eq!(
        browser.js("return window.__notReloaded === true;").await,
        json!(true),
        "reloaded"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    c.update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
        Some(Duration::from_secs(30)),
        Some(Duration::from_secs(60)),
        Some(Duration::from_secs(0)),
    ))
    .await
    .expect("timeouts");
    let script = format!(
        "{READ_DOM}
        const done = arguments[arguments.length - 1];
        const main = document.getElementById('dashboard');
        const start = main.dataset.at;
        const views = {views};
        function poll() {{
          if (main.dataset.at === start) {{ setTimeout(poll, 5); return; }}
          const dom = readDom();
          Promise.all(views.map(v => fetch('/api/v1/tenants/{code}/' + v).then(r => r.json())))
            .then(rs => {{ const api = {{}}; views.forEach((v, i) => api[v] = rs[i]); done({{ dom: dom, api: api }}); }},
                  e => done({{ error: String(e) }}));
        }}
        poll();",
        views = json!(VIEWS)
    );
    let mut compared = false;
    for _ in 0..10 {
        let got = c
            .execute_async(&script, vec![])
            .await
            .expect("read the page and the API");
        let (dom, api) = (&got["dom"], &got["api"]);
        assert!(got["error"].is_null(), "{got}");
        if VIEWS.iter().any(|v| api[v]["at"] != dom["at"]) {
            continue;
        }
        assert!(
            rows(api, "summary").len() > 10,
            "a floor of many stations and teams"
        );
        let mut diffs = differences(dom, api);
        diffs.extend(duration_differences(dom));
        assert!(
            diffs.is_empty(),
            "the Thai page differs from the API at {}:\n{}",
            dom["at"],
            diffs.join("\n")
        );
        compared = true;
        break;
    }
    assert!(
        compared,
        "never read the page and the API in the same second"
    );

    // For the docs, the page with a snapshot saved (the footer names it).
    if std::env::var_os("FLOWTALLY_SCREENSHOTS").is_some() {
        browser
            .wait_true(
                "document.querySelector('[data-eng=\"last_snapshot\"] [data-value]').textContent !== 'ยังไม่มี'",
                90,
                "a snapshot saved",
            )
            .await;
    }

    // A station over its WIP limit: the one holding the most pieces gets a limit of 1.
    let summary: serde_json::Value = serde_json::from_str(
        &get(port, &format!("/api/v1/tenants/{code}/summary"), &[])
            .await
            .body,
    )
    .expect("the summary");
    let mut wip_at = std::collections::BTreeMap::<i64, i64>::new();
    for r in rows(&json!({ "summary": summary }), "summary") {
        if let (Some(node), Some(wip)) = (r["node_id"].as_i64(), r["wip_count"].as_i64()) {
            *wip_at.entry(node).or_default() += wip;
        }
    }
    let (crowded, wip) = wip_at
        .into_iter()
        .max_by_key(|(node, wip)| (*wip, -node))
        .expect("pieces at a station");
    assert!(wip >= 2, "a station with pieces to be over a limit of 1");
    sqlx::raw_sql(&format!(
        "UPDATE `{db}`.routing_node SET wip_limit = 1 WHERE id_node = {crowded}"
    ))
    .execute(&pool)
    .await
    .expect("a WIP limit of 1");

    // The wall screen at 1920×1080: dark, large, whole, live, in Thai, the station red in the
    // alert list.
    browser.viewport(1920, 1080).await;
    goto_live(&browser, &format!("{page}?view=wall")).await;
    assert!(body_luminance(&browser).await < 0.05, "the wall is dark");
    let red_alert = format!(
        "document.querySelector('#alerts tr[data-kind=\"wip_limit\"][data-subject=\"node:{crowded}\"][data-level=\"red\"]')"
    );
    browser
        .wait_true(&red_alert, 30, "the crowded station red on the wall")
        .await;
    assert_eq!(
        browser
            .js(&format!(
                "const r = {red_alert}; return [r.querySelector('[data-col=\"level\"]').textContent.trim(), \
                 r.querySelector('[data-col=\"kind\"]').textContent, r.querySelector('[data-col=\"limit\"]').textContent];"
            ))
            .await,
        json!(["แดง", "งานค้างเกินขีดจำกัด", "1 ชิ้น"])
    );
    let seq = browser
        .js("return Number(document.getElementById('dashboard').dataset.seq);")
        .await;
    browser
        .wait_true(
            &format!("Number(document.getElementById('dashboard').dataset.seq) > {seq} + 1"),
            10,
            "frames on the wall screen",
        )
        .await;
    // Under target/, to look at when the checks below fail.
    save_screenshot(
        &c.screenshot().await.expect("screenshot"),
        "wall-as-first-drawn.png",
    );
    let rotating = ["heatmap", "cycle", "trends", "sparkline"];
    for shown in rotating {
        // The panel the rotation would show next, now; the script fits it on resize.
        let layout = browser
            .js(&format!(
                "for (const s of document.querySelectorAll('main > .sec.rot')) s.classList.toggle('on', s.id === '{shown}');
                 window.dispatchEvent(new Event('resize'));
                 const de = document.documentElement;
                 const panels = Array.from(document.querySelectorAll('main > .sec'))
                   .filter(s => getComputedStyle(s).display !== 'none')
                   .map(s => ({{ id: s.id, sh: s.scrollHeight, ch: s.clientHeight, sw: s.scrollWidth,
                               cw: s.clientWidth, bottom: s.getBoundingClientRect().bottom,
                               font: parseFloat(getComputedStyle(s).fontSize) }}));
                 const figures = Array.from(document.querySelectorAll('.kpi-value .n'))
                   .map(n => parseFloat(getComputedStyle(n).fontSize));
                 return {{ height: de.scrollHeight, width: de.scrollWidth, inner: [innerWidth, innerHeight],
                          panels: panels, figures: figures }};"
            ))
            .await;
        assert_eq!(layout["inner"], json!([1920, 1080]), "{layout}");
        assert!(
            layout["height"].as_u64() <= Some(1080) && layout["width"].as_u64() <= Some(1920),
            "the wall scrolls with {shown} shown: {layout}"
        );
        let figures = layout["figures"].as_array().cloned().unwrap_or_default();
        assert!(figures.len() >= 6, "{layout}");
        assert!(
            figures.iter().all(|f| f.as_f64() >= Some(64.0)),
            "key figures under 64 px: {layout}"
        );
        let panels = layout["panels"].as_array().cloned().unwrap_or_default();
        assert!(
            panels.iter().any(|p| p["id"] == shown),
            "{shown} not shown: {layout}"
        );
        for p in &panels {
            let n = |k: &str| p[k].as_f64().unwrap_or(f64::NAN);
            assert!(
                n("sh") <= n("ch") + 2.0 && n("sw") <= n("cw") + 2.0 && n("bottom") <= 1080.0,
                "panel {} cut off with {shown} shown: {p}",
                p["id"]
            );
            assert!(n("font") >= 9.0, "panel {} too small to read: {p}", p["id"]);
        }
        // The alert list is never rotated away, and its red row is in view.
        assert!(
            panels.iter().any(|p| p["id"] == "alerts"),
            "no alert list on the wall: {layout}"
        );
        let row = browser
            .js(&format!(
                "const r = {red_alert}.getBoundingClientRect(); return [r.height, r.bottom];"
            ))
            .await;
        assert!(
            row[0].as_f64() > Some(15.0) && row[1].as_f64() <= Some(1080.0),
            "the red alert out of view with {shown} shown: {row}"
        );
    }
    assert_translated(&browser, &code, "the Thai wall screen", 100).await;
    browser
        .js("for (const s of document.querySelectorAll('main > .sec.rot')) s.classList.toggle('on', s.id === 'heatmap'); window.dispatchEvent(new Event('resize')); return null;")
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    docs_screenshot(
        &c.screenshot().await.expect("screenshot"),
        "wall-th-dark-1920x1080.png",
    );

    // Themes: forced by the link (and remembered), else the browser's colour scheme.
    goto_live(&browser, &format!("{page}?view=wall&theme=light")).await;
    assert!(body_luminance(&browser).await > 0.8, "a light wall");
    goto_live(&browser, &format!("{page}?theme=dark")).await;
    assert!(body_luminance(&browser).await < 0.05, "a dark desk page");
    goto_live(&browser, &format!("{page}?theme=auto")).await;
    c.issue_cmd(ColorScheme("dark"))
        .await
        .expect("emulate a dark colour scheme");
    assert!(
        body_luminance(&browser).await < 0.05,
        "prefers-color-scheme: dark"
    );
    goto_live(&browser, &format!("{page}?theme=light")).await;
    assert!(
        body_luminance(&browser).await > 0.8,
        "light forced over a dark colour scheme"
    );
    goto_live(&browser, &format!("{page}?theme=auto")).await;
    c.issue_cmd(ColorScheme("light"))
        .await
        .expect("emulate a light colour scheme");
    assert!(
        body_luminance(&browser).await > 0.8,
        "prefers-color-scheme: light"
    );

    // The docs' other screenshots: the English desk page, and a phone in Thai.
    browser.viewport(1366, 768).await;
    goto_live(&browser, &format!("{page}?lang=en")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    docs_screenshot(
        &c.screenshot().await.expect("screenshot"),
        "desktop-en-1366x768.png",
    );
    browser.viewport(390, 844).await;
    goto_live(&browser, &format!("{page}?lang=th")).await;
    let width = browser
        .js("return [document.documentElement.scrollWidth, innerWidth];")
        .await;
    assert!(
        width[0].as_u64() <= width[1].as_u64(),
        "the phone page scrolls sideways: {width}"
    );
    assert_translated(&browser, &code, "the Thai page on a phone", 100).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    docs_screenshot(
        &c.screenshot().await.expect("screenshot"),
        "phone-th-390x844.png",
    );
    browser.close().await;
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
}
