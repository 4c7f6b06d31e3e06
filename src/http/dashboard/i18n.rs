//! The dashboard's words, in Thai and English: the message files (`locales/th.ftl`,
//! `locales/en.ftl`, Project Fluent syntax, compiled into the binary), and how durations and
//! dates read in each language.
//!
//! Every user-visible string of the pages, the live sections and the page's script is a
//! message here (a unit test walks the templates for literal text, another checks that both
//! files hold the same messages). Numbers read alike in both languages (Thai writes Arabic
//! digits with `,` and `.`), so [`super::render`] formats them once. Dates differ: Thai readers
//! count years in the Buddhist era (the year + 543) and name the months in Thai.

pub mod csv;

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use unic_langid::{langid, LanguageIdentifier};

pub use fluent_bundle::FluentValue;

use crate::model::decimal::Dec2;

/// A language the dashboard speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    Th,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Th, Lang::En];

    /// The factories' own language: what `[http] language` is when not set.
    pub const DEFAULT: Lang = Lang::Th;

    /// The BCP 47 tag, as in `<html lang>`, `?lang=` and the config.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Th => "th",
            Lang::En => "en",
        }
    }

    /// A language tag (`th`, `th-TH`, `en-US`, any case) by its primary subtag.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(primary))
    }

    /// The message naming the language in itself (`ไทย`, `English`), for the switch.
    pub fn name_id(self) -> &'static str {
        match self {
            Lang::Th => "lang-name-th",
            Lang::En => "lang-name-en",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::Th => langid!("th"),
            Lang::En => langid!("en"),
        }
    }

    /// The year as this language's readers count it: the Buddhist era in Thai.
    pub fn year(self, year: i32) -> i32 {
        match self {
            Lang::Th => year + 543,
            Lang::En => year,
        }
    }
}

/// The language an `Accept-Language` header prefers among ours: the highest `q` (1 when not
/// given), the earlier on a tie; `q=0` refuses a language, `*` takes none in particular.
pub fn from_accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(u32, Lang)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let Some(lang) = parts.next().and_then(Lang::parse) else {
            continue;
        };
        let mut q = 1000;
        for p in parts {
            if let Some(v) = p.trim().strip_prefix("q=") {
                q = v
                    .trim()
                    .parse::<f32>()
                    .map_or(0, |v| (v.clamp(0.0, 1.0) * 1000.0).round() as u32);
            }
        }
        if q > 0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l)
}

/// The message files, in [`Lang::ALL`] order.
pub const SOURCES: [(Lang, &str); 2] = [
    (Lang::Th, include_str!("locales/th.ftl")),
    (Lang::En, include_str!("locales/en.ftl")),
];

type Bundle = FluentBundle<FluentResource>;

static BUNDLES: LazyLock<Vec<Bundle>> =
    LazyLock::new(|| SOURCES.iter().map(|(l, s)| bundle(*l, s)).collect());

fn bundle(lang: Lang, source: &str) -> Bundle {
    // A syntax error leaves the entries that parsed; the unit tests keep the files clean.
    let resource = FluentResource::try_new(source.to_string()).unwrap_or_else(|(r, _)| r);
    let mut bundle = FluentBundle::new_concurrent(vec![lang.id()]);
    // The text goes into HTML, where Unicode isolation marks would only be noise.
    bundle.set_use_isolating(false);
    let _ = bundle.add_resource(resource);
    bundle
}

/// One language's messages and ways of writing dates and durations: what every template gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr {
    lang: Lang,
}

impl Tr {
    pub fn new(lang: Lang) -> Tr {
        Tr { lang }
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Message `id`, without variables.
    pub fn s(&self, id: &str) -> String {
        self.f(id, &[])
    }

    /// Message `id` with one text variable (for templates).
    pub fn f1(&self, id: &str, name: &str, value: &str) -> String {
        self.f(id, &[(name, value.into())])
    }

    /// Message `id` with its variables. A missing message reads as its id (the tests make
    /// sure none is missing).
    pub fn f(&self, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let bundle = &BUNDLES[self.lang.index()];
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            return id.to_string();
        };
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            fargs.set(*k, v.clone());
        }
        let mut errors = Vec::new();
        bundle
            .format_pattern(pattern, Some(&fargs), &mut errors)
            .into_owned()
    }

    /// `7 Dec 2026`, `7 ธ.ค. 2569`.
    pub fn date(&self, d: NaiveDate) -> String {
        self.f(
            "date",
            &[
                ("day", d.day().to_string().into()),
                ("month", self.month(d.month()).into()),
                ("year", self.lang.year(d.year()).to_string().into()),
            ],
        )
    }

    /// `7 Dec`, `7 ธ.ค.` (chart axes).
    pub fn day_month(&self, d: NaiveDate) -> String {
        self.f(
            "day-month",
            &[
                ("day", d.day().to_string().into()),
                ("month", self.month(d.month()).into()),
            ],
        )
    }

    /// `7 Dec 2026, 14:05:09`, `7 ธ.ค. 2569 14:05:09 น.`.
    pub fn date_time(&self, t: NaiveDateTime) -> String {
        self.f(
            "date-time",
            &[
                ("date", self.date(t.date()).into()),
                ("time", t.format("%H:%M:%S").to_string().into()),
            ],
        )
    }

    /// The time of day to the minute: `14:05`, `14:05 น.` (an instant of today).
    pub fn clock(&self, t: NaiveDateTime) -> String {
        self.f("clock", &[("time", t.format("%H:%M").to_string().into())])
    }

    /// The month's short name: `Dec`, `ธ.ค.`.
    pub fn month(&self, month: u32) -> String {
        const IDS: [&str; 12] = [
            "month-1", "month-2", "month-3", "month-4", "month-5", "month-6", "month-7", "month-8",
            "month-9", "month-10", "month-11", "month-12",
        ];
        IDS.get(month.saturating_sub(1) as usize)
            .map_or_else(|| month.to_string(), |id| self.s(id))
    }

    /// A duration of `secs` seconds as people say it: `45 s`, `12 min`, `33 h 21 min`, `8 h`,
    /// `3 d 4 h`, `2 d` (`33 ชม. 21 นาที` ...), by [`Span::of`].
    pub fn duration(&self, secs: i64) -> String {
        let n = |v: i64| FluentValue::from(super::render::int(v));
        let sign = if secs < 0 { "-" } else { "" };
        let text = match Span::of(secs.saturating_abs()) {
            Span::Secs(s) => self.f("dur-s", &[("s", n(s))]),
            Span::Mins(m) => self.f("dur-m", &[("m", n(m))]),
            Span::HoursMins(h, 0) => self.f("dur-h", &[("h", n(h))]),
            Span::HoursMins(h, m) => self.f("dur-h-m", &[("h", n(h)), ("m", n(m))]),
            Span::DaysHours(d, 0) => self.f("dur-d", &[("d", n(d))]),
            Span::DaysHours(d, h) => self.f("dur-d-h", &[("d", n(d)), ("h", n(h))]),
        };
        // A number stays with its unit when a narrow cell wraps: `41 h` / `40 min`.
        let mut out = String::from(sign);
        let mut after_digit = false;
        for c in text.chars() {
            out.push(if c == ' ' && after_digit { '\u{a0}' } else { c });
            after_digit = c.is_ascii_digit();
        }
        out
    }

    /// A duration given in minutes (a DECIMAL(…,2) of the views), or an em dash for NULL.
    pub fn minutes(&self, m: Option<Dec2>) -> String {
        m.map_or_else(|| "—".into(), |m| self.duration(dec_secs(m, 60)))
    }

    /// A duration given in hours, or an em dash for NULL.
    pub fn hours(&self, h: Option<Dec2>) -> String {
        h.map_or_else(|| "—".into(), |h| self.duration(dec_secs(h, 3600)))
    }

    /// The messages of the page's script (`js-*`), as a JSON object for the page to embed; a
    /// variable reads `{name}` for the script to fill in. Safe inside `<script>`: no `<`.
    pub fn script_messages(&self) -> String {
        let mut out = serde_json::Map::new();
        for id in SCRIPT_MESSAGES {
            let text = match id {
                "js-stale" => self.f(id, &[("secs", "{secs}".into())]),
                _ => self.s(id),
            };
            out.insert(id.to_string(), serde_json::Value::String(text));
        }
        serde_json::Value::Object(out)
            .to_string()
            .replace('<', "\\u003c")
    }
}

/// The messages `dashboard.js` reads (as `T('js-…')`) from the page's JSON.
pub const SCRIPT_MESSAGES: [&str; 9] = [
    "js-connecting",
    "js-live",
    "js-tenant-loading",
    "js-not-served",
    "js-reconnecting",
    "js-signed-out",
    "js-log-in-again",
    "js-not-allowed",
    "js-stale",
];

/// A DECIMAL(…,2) count of `unit_secs` units, in whole seconds (rounded half away from zero).
fn dec_secs(v: Dec2, unit_secs: i64) -> i64 {
    let hundredths = v.0 as i128 * unit_secs as i128;
    let half = if hundredths < 0 { -50 } else { 50 };
    ((hundredths + half) / 100) as i64
}

/// How a duration is said: seconds below a minute, minutes below an hour, hours and minutes
/// below two days, then days and hours. Rounded to the last unit said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Secs(i64),
    Mins(i64),
    HoursMins(i64, i64),
    DaysHours(i64, i64),
}

impl Span {
    pub fn of(secs: i64) -> Span {
        let secs = secs.max(0);
        let mins = (secs + 30) / 60;
        if secs < 60 {
            Span::Secs(secs)
        } else if mins < 60 {
            Span::Mins(mins)
        } else if mins < 48 * 60 {
            Span::HoursMins(mins / 60, mins % 60)
        } else {
            let hours = (secs + 1800) / 3600;
            Span::DaysHours(hours / 24, hours % 24)
        }
    }
}

#[cfg(test)]
mod tests;
