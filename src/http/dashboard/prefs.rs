//! How a viewer asked the pages to look, read from each request: the language, the colour
//! theme and the wall-screen view; and the links of the page's switches.
//!
//! - Language: `?lang=th|en` on a link (then remembered in the `flowtally_lang` cookie), else
//!   that cookie, else the browser's `Accept-Language` (by its q-values), else `[http]
//!   language`.
//! - Theme: `?theme=dark|light|auto` (remembered in `flowtally_theme`), else that cookie, else
//!   dark on the wall screen and the browser's `prefers-color-scheme` elsewhere.
//! - View: `?view=wall` is the wall-screen layout of a tenant's dashboard (not remembered: a
//!   wall screen's URL says it).
//!
//! A value that is none of these is ignored (the page still shows, as if it were not given).

use axum::http::{header, HeaderMap};

use super::i18n::{self, Lang, Tr};

pub const LANG_COOKIE: &str = "flowtally_lang";
pub const THEME_COOKIE: &str = "flowtally_theme";

/// A colour theme asked for; without one, the browser's colour scheme decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    Auto,
    Dark,
    Light,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::Auto, Theme::Dark, Theme::Light];

    pub fn code(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Dark => "dark",
            Theme::Light => "light",
        }
    }

    pub fn parse(s: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.code() == s.trim())
    }

    /// The message naming it on the switch.
    pub fn label_id(self) -> &'static str {
        match self {
            Theme::Auto => "theme-auto",
            Theme::Dark => "theme-dark",
            Theme::Light => "theme-light",
        }
    }
}

/// What one request asked for, and what to remember of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefs {
    pub lang: Lang,
    /// As chosen by `?theme=` or the cookie; `None`: the view's default.
    pub theme: Option<Theme>,
    pub wall: bool,
    /// The request's path, for the switches' links.
    pub path: String,
    /// The query's other parameters (`next` of the login page, say), kept by the switches.
    pub keep: Vec<(String, String)>,
    /// Whether the page is a tenant's dashboard (which has a wall view to switch to).
    pub dashboard: bool,
    /// `Set-Cookie` values: a choice made by a link, remembered.
    pub remember: Vec<String>,
}

impl Prefs {
    /// Reads `?lang`, `?theme`, `?view` of `query` (the URL's query string), the cookies and
    /// `Accept-Language` of `headers`; `default` is `[http] language`.
    pub fn read(path: &str, query: Option<&str>, headers: &HeaderMap, default: Lang) -> Prefs {
        let (mut q_lang, mut q_theme, mut wall) = (None, None, false);
        let mut keep = Vec::new();
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match &*k {
                "lang" => q_lang = Lang::parse(&v),
                "theme" => q_theme = Theme::parse(&v),
                "view" => wall = v == "wall",
                _ => keep.push((k.into_owned(), v.into_owned())),
            }
        }
        let mut remember = Vec::new();
        if let Some(l) = q_lang {
            remember.push(cookie(LANG_COOKIE, l.code()));
        }
        if let Some(t) = q_theme {
            remember.push(cookie(THEME_COOKIE, t.code()));
        }
        let lang = q_lang
            .or_else(|| cookie_value(headers, LANG_COOKIE).and_then(Lang::parse))
            .or_else(|| {
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(i18n::from_accept_language)
            })
            .unwrap_or(default);
        let theme = q_theme.or_else(|| cookie_value(headers, THEME_COOKIE).and_then(Theme::parse));
        Prefs {
            lang,
            theme,
            wall,
            path: path.to_string(),
            keep,
            dashboard: false,
            remember,
        }
    }

    /// The defaults (`[http] language`, no theme, no wall) for a page without a request.
    pub fn of(lang: Lang) -> Prefs {
        Prefs {
            lang,
            theme: None,
            wall: false,
            path: "/".into(),
            keep: Vec::new(),
            dashboard: false,
            remember: Vec::new(),
        }
    }

    pub fn t(&self) -> Tr {
        Tr::new(self.lang)
    }

    /// `<html data-theme>`: `dark`, `light`, or empty for the browser's own scheme. The wall
    /// screen is dark unless a theme was chosen.
    pub fn theme_attr(&self) -> &'static str {
        match (self.theme, self.wall) {
            (Some(Theme::Dark), _) | (None, true) => "dark",
            (Some(Theme::Light), _) => "light",
            (Some(Theme::Auto), _) | (None, false) => "",
        }
    }

    /// Whether `theme` is the one in force (for `aria-current` on the switch).
    pub fn is_theme(&self, theme: Theme) -> bool {
        match self.theme_attr() {
            "dark" => theme == Theme::Dark,
            "light" => theme == Theme::Light,
            _ => theme == Theme::Auto,
        }
    }

    /// This page in language `lang` (the wall view kept).
    pub fn lang_href(&self, lang: &Lang) -> String {
        self.href(&[("lang", lang.code())])
    }

    pub fn theme_href(&self, theme: &Theme) -> String {
        self.href(&[("theme", theme.code())])
    }

    /// This page in the other view: the wall screen, or back to the desk.
    pub fn view_href(&self) -> String {
        self.link(!self.wall, &[])
    }

    /// The language switch: each language, its link, whether it is the page's.
    pub fn languages(&self) -> Vec<(Lang, String, bool)> {
        Lang::ALL
            .iter()
            .map(|l| (*l, self.lang_href(l), *l == self.lang))
            .collect()
    }

    /// The theme switch: each theme, its link, whether it is in force.
    pub fn themes(&self) -> Vec<(Theme, String, bool)> {
        Theme::ALL
            .iter()
            .map(|th| (*th, self.theme_href(th), self.is_theme(*th)))
            .collect()
    }

    fn href(&self, params: &[(&str, &str)]) -> String {
        self.link(self.wall, params)
    }

    /// This page's path with the kept parameters, the view, and `params`.
    fn link(&self, wall: bool, params: &[(&str, &str)]) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.keep {
            q.append_pair(k, v);
        }
        if wall {
            q.append_pair("view", "wall");
        }
        for (k, v) in params {
            q.append_pair(k, v);
        }
        let q = q.finish();
        if q.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{q}", self.path)
        }
    }
}

/// A preference cookie: the whole site, a year, sent on links from elsewhere too (it is no
/// credential).
fn cookie(name: &str, value: &str) -> String {
    format!("{name}={value}; Path=/; Max-Age=31536000; SameSite=Lax")
}

/// The value of cookie `name`, if the request has it.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then_some(v.trim())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_link_wins_then_the_cookie_then_the_browser_then_the_config() {
        let en_browser = headers(&[(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9")]);
        let th_cookie = headers(&[
            (header::ACCEPT_LANGUAGE, "en-US,en;q=0.9"),
            (header::COOKIE, "a=b; flowtally_lang=th"),
        ]);
        let p = Prefs::read("/", Some("lang=th"), &en_browser, Lang::En);
        assert_eq!(p.lang, Lang::Th);
        assert_eq!(
            p.remember,
            ["flowtally_lang=th; Path=/; Max-Age=31536000; SameSite=Lax"]
        );
        assert_eq!(Prefs::read("/", None, &th_cookie, Lang::En).lang, Lang::Th);
        let p = Prefs::read("/", None, &en_browser, Lang::Th);
        assert_eq!((p.lang, p.remember.len()), (Lang::En, 0));
        assert_eq!(
            Prefs::read("/", None, &HeaderMap::new(), Lang::Th).lang,
            Lang::Th
        );
        // A value that is not a language is ignored, not remembered.
        let p = Prefs::read("/", Some("lang=fr"), &HeaderMap::new(), Lang::En);
        assert_eq!((p.lang, p.remember.len()), (Lang::En, 0));
    }

    #[test]
    fn the_wall_is_dark_unless_a_theme_was_chosen() {
        let none = HeaderMap::new();
        let p = |q: &str, h: &HeaderMap| Prefs::read("/tenants/A", Some(q), h, Lang::Th);
        assert_eq!(p("", &none).theme_attr(), "");
        assert_eq!(p("view=wall", &none).theme_attr(), "dark");
        assert_eq!(p("view=wall&theme=light", &none).theme_attr(), "light");
        assert_eq!(p("theme=dark", &none).theme_attr(), "dark");
        let light = headers(&[(header::COOKIE, "flowtally_theme=light")]);
        assert_eq!(p("view=wall", &light).theme_attr(), "light");
        assert_eq!(p("view=wall&theme=auto", &light).theme_attr(), "");
        let wall = p("view=wall", &none);
        assert_eq!(wall.lang_href(&Lang::En), "/tenants/A?view=wall&lang=en");
        assert_eq!(wall.view_href(), "/tenants/A");
        assert_eq!(p("", &none).view_href(), "/tenants/A?view=wall");
        assert_eq!(
            p("", &none).theme_href(&Theme::Dark),
            "/tenants/A?theme=dark"
        );
        // The login page's `next` survives a switch.
        let login = Prefs::read(
            "/login",
            Some("next=%2Ftenants%2FA&lang=en"),
            &none,
            Lang::Th,
        );
        assert_eq!(
            login.lang_href(&Lang::Th),
            "/login?next=%2Ftenants%2FA&lang=th"
        );
    }
}
