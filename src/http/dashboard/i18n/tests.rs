//! The words: both message files whole and alike, every message the templates, the code and
//! the script use present in both, no literal text in any template, and how dates and
//! durations read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use fluent_syntax::ast;

use super::*;

const DASHBOARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/dashboard");

/// Message id → the variables it uses (`$name`, in its value and its selectors' variants).
fn messages(source: &str) -> BTreeMap<String, BTreeSet<String>> {
    let resource = match fluent_syntax::parser::parse(source) {
        Ok(r) => r,
        Err((_, errors)) => panic!("the message file does not parse: {errors:?}"),
    };
    let mut out = BTreeMap::new();
    for entry in resource.body {
        if let ast::Entry::Message(m) = entry {
            let mut vars = BTreeSet::new();
            if let Some(p) = &m.value {
                pattern_vars(p, &mut vars);
            }
            out.insert(m.id.name.to_string(), vars);
        }
    }
    out
}

fn pattern_vars(p: &ast::Pattern<&str>, vars: &mut BTreeSet<String>) {
    for el in &p.elements {
        if let ast::PatternElement::Placeable { expression } = el {
            expression_vars(expression, vars);
        }
    }
}

fn expression_vars(e: &ast::Expression<&str>, vars: &mut BTreeSet<String>) {
    match e {
        ast::Expression::Select { selector, variants } => {
            inline_vars(selector, vars);
            for v in variants {
                pattern_vars(&v.value, vars);
            }
        }
        ast::Expression::Inline(i) => inline_vars(i, vars),
    }
}

fn inline_vars(i: &ast::InlineExpression<&str>, vars: &mut BTreeSet<String>) {
    match i {
        ast::InlineExpression::VariableReference { id } => {
            vars.insert(id.name.to_string());
        }
        ast::InlineExpression::Placeable { expression } => expression_vars(expression, vars),
        _ => {}
    }
}

#[test]
fn both_languages_hold_the_same_messages_with_the_same_variables() {
    let [(_, th), (_, en)] = SOURCES;
    let (th, en) = (messages(th), messages(en));
    let only = |a: &BTreeMap<String, _>, b: &BTreeMap<String, _>| -> Vec<String> {
        a.keys().filter(|k| !b.contains_key(*k)).cloned().collect()
    };
    assert!(
        only(&en, &th).is_empty(),
        "not in th.ftl: {:?}",
        only(&en, &th)
    );
    assert!(
        only(&th, &en).is_empty(),
        "not in en.ftl: {:?}",
        only(&th, &en)
    );
    for (id, vars) in &en {
        assert_eq!(Some(vars), th.get(id), "the variables of {id}");
    }
    assert!(en.len() > 150, "{} messages", en.len());
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path, ext));
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The ids in `text` called as `prefix"id"` (e.g. `.s("`): every literal id the code uses.
fn called_ids(text: &str, prefix: &str, quote: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        rest = &rest[i + prefix.len()..];
        if let Some(end) = rest.find(quote) {
            let id = &rest[..end];
            if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                out.push(id.to_string());
            }
        }
    }
    out
}

#[test]
fn every_message_the_pages_use_is_in_both_languages() {
    let mut used: BTreeMap<String, String> = BTreeMap::new();
    let dashboard = Path::new(DASHBOARD);
    let mut sources = files(&dashboard.join("templates"), "html");
    sources.extend(files(dashboard, "rs"));
    sources.push(dashboard.join("../mod.rs"));
    for path in &sources {
        let text = std::fs::read_to_string(path).unwrap();
        for prefix in [".s(\"", ".f(\"", ".f1(\""] {
            for id in called_ids(&text, prefix, '"') {
                used.insert(id, path.display().to_string());
            }
        }
    }
    // The script's messages: each `T('js-…')` of dashboard.js is in the page's JSON.
    let js = std::fs::read_to_string(dashboard.join("assets/dashboard.js")).unwrap();
    let script = called_ids(&js, "T('", '\'');
    assert!(script.len() >= 8, "{script:?}");
    for id in &script {
        assert!(
            SCRIPT_MESSAGES.contains(&id.as_str()),
            "{id} not in SCRIPT_MESSAGES"
        );
    }
    for id in SCRIPT_MESSAGES {
        used.insert(id.to_string(), "SCRIPT_MESSAGES".into());
    }
    // The ids the code picks by value.
    for l in Lang::ALL {
        used.insert(l.name_id().into(), "Lang::name_id".into());
    }
    for th in super::super::prefs::Theme::ALL {
        used.insert(th.label_id().into(), "Theme::label_id".into());
    }
    for f in super::super::charts::TrendFigure::ALL {
        used.insert(f.title_id().into(), "TrendFigure::title_id".into());
    }
    for m in 1..=12 {
        used.insert(format!("month-{m}"), "Tr::month".into());
    }
    assert!(
        used.len() > 120,
        "{} ids found: is the scan blind?",
        used.len()
    );
    for (lang, source) in SOURCES {
        let have = messages(source);
        let missing: Vec<_> = used
            .iter()
            .filter(|(id, _)| !have.contains_key(*id))
            .collect();
        assert!(missing.is_empty(), "missing in {lang:?}: {missing:?}");
    }
}

/// The literal words of a template, outside translation calls: the text between tags and
/// the values of the attributes a person reads or hears (`title`, `alt`, `placeholder`,
/// `aria-label` ...), once askama's `{{ … }}`, `{% … %}` and `{# … #}` and HTML's entities are
/// taken out. Only the brand may remain.
fn literal_words(template: &str) -> Vec<String> {
    const SEEN_ATTRS: [&str; 7] = [
        "title",
        "alt",
        "placeholder",
        "aria-label",
        "aria-description",
        "aria-roledescription",
        "label",
    ];
    const ALLOWED: [&str; 1] = ["flowtally"];
    // askama's parts: one placeholder each.
    let mut text = String::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{']) {
        text.push_str(&rest[..i]);
        let after = &rest[i..];
        let close = match after.get(..2) {
            Some("{{") => "}}",
            Some("{%") => "%}",
            Some("{#") => "#}",
            _ => {
                text.push('{');
                rest = &after[1..];
                continue;
            }
        };
        match after.find(close) {
            Some(end) => {
                text.push('\u{1}');
                rest = &after[end + 2..];
            }
            None => {
                rest = "";
            }
        }
    }
    text.push_str(rest);
    // HTML: text nodes, and the values of the attributes people read.
    let mut seen = Vec::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            seen.push(rest.to_string());
            break;
        };
        seen.push(rest[..lt].to_string());
        let tag_and_on = &rest[lt..];
        let end = tag_and_on.find('>').unwrap_or(tag_and_on.len() - 1);
        let tag = &tag_and_on[1..end];
        rest = &tag_and_on[end + 1..];
        if tag.starts_with('!') || tag.starts_with('/') {
            continue;
        }
        let name = tag.split_whitespace().next().unwrap_or_default();
        if name == "script" || name == "style" {
            let closing = format!("</{name}>");
            rest = rest
                .find(&closing)
                .map_or("", |i| &rest[i + closing.len()..]);
        }
        for (attr, value) in attributes(tag) {
            if SEEN_ATTRS.contains(&attr.as_str()) {
                seen.push(value);
            }
        }
    }
    let mut words = Vec::new();
    for s in seen {
        let mut s = s.replace('\u{1}', " ");
        // Entities (&amp; &nbsp; &#39;) are punctuation, not words.
        while let Some(i) = s.find('&') {
            let end = s[i..].find(';').map_or(s.len(), |e| i + e + 1);
            s.replace_range(i..end, " ");
        }
        // A word: letters, with the marks written on them (Thai vowels and tones).
        let in_word = |c: char| {
            c.is_alphabetic()
                || ('\u{0E00}'..='\u{0E7F}').contains(&c)
                || ('\u{0300}'..='\u{036F}').contains(&c)
        };
        for word in s.split(|c: char| !in_word(c)) {
            if !word.is_empty() && !ALLOWED.contains(&word) {
                words.push(word.to_string());
            }
        }
    }
    words
}

/// A tag's attributes (`name`, `value`), lowercased names; values unquoted.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let chars: Vec<char> = tag.chars().collect();
    let mut i = chars
        .iter()
        .position(|c| c.is_whitespace())
        .unwrap_or(chars.len());
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == '\u{1}') {
            i += 1;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' {
            i += 1;
        }
        let name: String = chars[start..i].iter().collect::<String>().to_lowercase();
        let mut value = String::new();
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
                let q = chars[i];
                i += 1;
                let vs = i;
                while i < chars.len() && chars[i] != q {
                    i += 1;
                }
                value = chars[vs..i].iter().collect();
                i += 1;
            } else {
                let vs = i;
                while i < chars.len() && !chars[i].is_whitespace() {
                    i += 1;
                }
                value = chars[vs..i].iter().collect();
            }
        }
        if !name.is_empty() {
            out.push((name, value));
        }
    }
    out
}

#[test]
fn no_template_holds_literal_words() {
    let templates = files(&Path::new(DASHBOARD).join("templates"), "html");
    assert!(templates.len() >= 14, "{templates:?}");
    let mut found = Vec::new();
    for path in &templates {
        let text = std::fs::read_to_string(path).unwrap();
        let words = literal_words(&text);
        if !words.is_empty() {
            found.push(format!("{}: {words:?}", path.display()));
        }
    }
    assert!(
        found.is_empty(),
        "literal words in templates (put them in locales/*.ftl and call t.s(\"id\")):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_template_check_finds_words_wherever_they_hide() {
    // The way the sections are written passes...
    let ok = r#"<h2 id="x-h">{{ t.s("bottlenecks-heading") }} <span class="sub">{{ period }}</span></h2>
<td data-col="{{ c.col }}"{% if c.num %} class="num"{% endif %} title="{{ c.title }}">{{ c.text }}</td>
<a class="brand" href="/">flowtally</a> &nbsp;·&nbsp; 95% — {# a comment, not shown #}"#;
    assert_eq!(literal_words(ok), Vec::<String>::new());
    // ... an English word between tags, in a title or aria-label, or inside a block fails.
    assert_eq!(
        literal_words("<h2>{{ t.s(\"x\") }} Bottlenecks</h2>"),
        ["Bottlenecks"]
    );
    assert_eq!(
        literal_words(r#"<span title="Score bar" class="x"></span>"#),
        ["Score", "bar"]
    );
    assert_eq!(
        literal_words(r#"<figure aria-label='{{ a }} values'></figure>"#),
        ["values"]
    );
    assert_eq!(
        literal_words("{% if rows.is_empty() %}No rows{% endif %}"),
        ["No", "rows"]
    );
    assert_eq!(literal_words("<p>ไม่มี</p>"), ["ไม่มี"]);
    // And so it would catch a word added to a real template.
    let sparkline = std::fs::read_to_string(Path::new(DASHBOARD).join("templates/status.html"))
        .unwrap()
        .replace("</h2>", "</h2><p>Status of the line</p>");
    assert_eq!(literal_words(&sparkline), ["Status", "of", "the", "line"]);
}

#[test]
fn thai_dates_are_in_the_buddhist_era() {
    let th = Tr::new(Lang::Th);
    let en = Tr::new(Lang::En);
    let d = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
    assert_eq!(th.date(d), "7 ธ.ค. 2569");
    assert_eq!(en.date(d), "7 Dec 2026");
    let t = d.and_hms_opt(14, 5, 9).unwrap();
    assert_eq!(th.date_time(t), "7 ธ.ค. 2569 14:05:09 น.");
    assert_eq!(en.date_time(t), "7 Dec 2026, 14:05:09");
    assert_eq!(th.day_month(d), "7 ธ.ค.");
    let months: Vec<String> = (1..=12).map(|m| th.month(m)).collect();
    assert_eq!(months[0], "ม.ค.");
    assert_eq!(months[4], "พ.ค.");
    assert!(months.iter().all(|m| !m.starts_with("month-")));
}

#[test]
fn durations_read_in_hours_and_minutes() {
    let th = Tr::new(Lang::Th);
    let en = Tr::new(Lang::En);
    // (A number and its unit are held together by a no-break space; plain here to read.)
    struct Plain(Tr);
    impl Plain {
        fn minutes(&self, m: Option<Dec2>) -> String {
            self.0.minutes(m).replace('\u{a0}', " ")
        }
        fn hours(&self, h: Option<Dec2>) -> String {
            self.0.hours(h).replace('\u{a0}', " ")
        }
        fn duration(&self, s: i64) -> String {
            self.0.duration(s).replace('\u{a0}', " ")
        }
    }
    assert_eq!(en.duration(2_000), "33\u{a0}min");
    let (th, en) = (Plain(th), Plain(en));
    // 2,001.07 min is 33 h 21 min.
    assert_eq!(en.minutes(Some(Dec2(200_107))), "33 h 21 min");
    assert_eq!(th.minutes(Some(Dec2(200_107))), "33 ชม. 21 นาที");
    assert_eq!(en.minutes(Some(Dec2(4_250))), "43 min");
    assert_eq!(en.minutes(Some(Dec2(50))), "30 s");
    assert_eq!(th.minutes(None), "—");
    assert_eq!(en.hours(Some(Dec2(7_550))), "3 d 4 h");
    assert_eq!(th.hours(Some(Dec2(7_550))), "3 วัน 4 ชม.");
    assert_eq!(en.duration(0), "0 s");
    assert_eq!(en.duration(-90), "-2 min");
    assert_eq!(en.hours(Some(Dec2(800))), "8 h");
    assert_eq!(th.hours(Some(Dec2(4_800))), "2 วัน");
    assert_eq!(Span::of(59), Span::Secs(59));
    assert_eq!(Span::of(89), Span::Mins(1));
    assert_eq!(Span::of(3_599), Span::HoursMins(1, 0));
    assert_eq!(Span::of(47 * 3600 + 59 * 60), Span::HoursMins(47, 59));
    assert_eq!(Span::of(48 * 3600), Span::DaysHours(2, 0));
    assert_eq!(en.duration(2_000_000), "23 d 4 h");
    assert_eq!(en.duration(100 * 86_400 * 365), "36,500 d");
}

#[test]
fn the_browser_s_languages_are_weighed() {
    assert_eq!(
        from_accept_language("th-TH,th;q=0.9,en;q=0.8"),
        Some(Lang::Th)
    );
    assert_eq!(
        from_accept_language("en-US,en;q=0.9,th;q=0.8"),
        Some(Lang::En)
    );
    assert_eq!(
        from_accept_language("de, en;q=0.5, th;q=0.7"),
        Some(Lang::Th)
    );
    assert_eq!(from_accept_language("th;q=0, en;q=0.1"), Some(Lang::En));
    assert_eq!(from_accept_language("de-DE, fr;q=0.9"), None);
    assert_eq!(from_accept_language("*"), None);
    assert_eq!(from_accept_language(""), None);
    assert_eq!(Lang::parse("TH-th"), Some(Lang::Th));
    assert_eq!(Lang::parse("thai"), None);
}

#[test]
fn the_script_s_messages_are_json_safe_in_a_page() {
    let th = Tr::new(Lang::Th);
    let json: serde_json::Value = serde_json::from_str(&th.script_messages()).unwrap();
    assert_eq!(json["js-live"], "สด");
    assert_eq!(json["js-stale"], "ไม่มีการอัปเดต {secs} วินาที");
    let en = Tr::new(Lang::En);
    let json: serde_json::Value = serde_json::from_str(&en.script_messages()).unwrap();
    assert_eq!(json["js-stale"], "no update for {secs} s");
    assert_eq!(
        json.as_object().map(|o| o.len()),
        Some(SCRIPT_MESSAGES.len())
    );
    assert!(!en.script_messages().contains('<'));
    // Plurals work in English (one attempt, 3 attempts).
    let one = en.f(
        "notice-sink-failing",
        &[("code", "A".into()), ("attempts", 1.into())],
    );
    assert!(one.contains("(one attempt so far"), "{one}");
    let three = en.f(
        "notice-sink-failing",
        &[("code", "A".into()), ("attempts", 3.into())],
    );
    assert!(three.contains("(3 attempts so far"), "{three}");
}
