// flowtally's dashboard: live updates by server-sent events. Each "frame" event carries the
// instant it shows and the HTML of the sections that changed, in the page's language; they
// replace the sections in place (open <details> stay open). The connection state is shown in
// the header: live, reconnecting, stale (no frame for 5 s), signed out. Its words come from
// the page (<script type="application/json" id="i18n">, rendered from the message files).
// On the wall screen (<html class="wall">), the panels of the rotating slot take turns, and
// every panel's content is scaled to fit its box (the screen never scrolls).
'use strict';
(function () {
  const STALE_MS = 5000;
  const ROTATE_MS = 15000;
  // The wall screen's panels (the row under the key figures), scaled to fit.
  const PANELS = '.sec-alerts, .sec-bottlenecks, .sec-workload, .sec.rot';
  let messages = {};

  // A message of the page's language; {name} is filled from vars.
  function T(id, vars) {
    let text = messages[id] || id;
    for (const k of Object.keys(vars || {})) text = text.split('{' + k + '}').join(String(vars[k]));
    return text;
  }
  // Well inside the session's 7 days: a screen left on for months stays signed in.
  const RENEW_MS = 3600 * 1000;

  function setConn(state, text) {
    const c = document.getElementById('conn');
    if (!c) return;
    c.dataset.state = state;
    c.className = 'conn conn-' + state;
    c.textContent = text;
  }

  // Wall screen: shrink a panel's text until its content fits the panel (never grow past its
  // size in the style sheet); the same for each key figure in its tile.
  function fit(el) {
    if (!document.documentElement.classList.contains('wall')) return;
    if (el.id === 'kpi') {
      for (const v of el.querySelectorAll('.kpi-value')) shrink(v, true);
      return;
    }
    if (!el.matches(PANELS)) return;
    if (el.classList.contains('rot') && !el.classList.contains('on')) return;
    shrink(el);
  }

  function shrink(el, widthOnly) {
    el.style.fontSize = '';
    for (let i = 0; i < 8; i++) {
      const wide = el.scrollWidth / el.clientWidth;
      const over = widthOnly ? wide : Math.max(el.scrollHeight / el.clientHeight, wide);
      if (!(over > 1.005)) break;
      const now = parseFloat(getComputedStyle(el).fontSize);
      el.style.fontSize = Math.max(8, (now / over) * 0.97) + 'px';
    }
  }

  function fitAll() {
    for (const el of document.querySelectorAll('.wall main > .sec')) fit(el);
  }

  function apply(main, f) {
    const sections = f.sections || {};
    for (const id of Object.keys(sections)) {
      const el = document.getElementById(id);
      if (!el) continue;
      const open = new Set();
      for (const d of el.querySelectorAll('details[open]')) open.add(d.dataset.details);
      el.innerHTML = sections[id];
      for (const d of el.querySelectorAll('details')) {
        if (open.has(d.dataset.details)) d.open = true;
      }
      fit(el);
    }
    main.dataset.at = f.at;
    main.dataset.seq = String(f.seq);
    main.dataset.state = f.state;
    if (f.state === 'ready') setConn('live', T('js-live'));
    else if (f.state === 'loading') setConn('wait', T('js-tenant-loading'));
    else setConn('lost', T('js-not-served'));
  }

  function live(main) {
    const url = main.dataset.events;
    const probe = main.dataset.probe;
    let last = 0;
    let es = null;

    function connect() {
      es = new EventSource(url);
      es.addEventListener('frame', function (e) {
        let f;
        try {
          f = JSON.parse(e.data);
        } catch (err) {
          return;
        }
        last = Date.now();
        apply(main, f);
      });
      es.onerror = function () {
        if (es.readyState === EventSource.CONNECTING) {
          setConn('wait', T('js-reconnecting'));
          return;
        }
        // Closed: the server refused the stream. Ask why before trying again.
        es.close();
        setConn('wait', T('js-reconnecting'));
        fetch(probe, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
          .then(function (r) {
            if (r.status === 401) {
              setConn('lost', T('js-signed-out'));
              const a = document.createElement('a');
              a.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
              a.textContent = ' ' + T('js-log-in-again');
              document.getElementById('conn').appendChild(a);
            } else if (r.status === 403) {
              setConn('lost', T('js-not-allowed'));
            } else {
              setTimeout(connect, 3000);
            }
          })
          .catch(function () {
            setTimeout(connect, 3000);
          });
      };
    }

    setInterval(function () {
      if (last && Date.now() - last > STALE_MS && main.dataset.conn !== 'lost') {
        const c = document.getElementById('conn');
        if (c && c.dataset.state === 'live') {
          setConn('wait', T('js-stale', { secs: Math.round((Date.now() - last) / 1000) }));
        }
      }
    }, 1000);
    connect();
  }

  // Wall screen: the sections marked for the rotating slot show one at a time.
  function rotate() {
    const panels = Array.from(document.querySelectorAll('.wall main > .sec.rot'));
    if (panels.length === 0) return;
    let i = 0;
    function show() {
      panels.forEach(function (p, j) {
        p.classList.toggle('on', j === i);
      });
      fit(panels[i]);
      document.documentElement.dataset.rotation = panels[i].id;
    }
    show();
    setInterval(function () {
      i = (i + 1) % panels.length;
      show();
    }, ROTATE_MS);
  }

  function poll() {
    const rows = document.getElementById('tenant-rows');
    setInterval(function () {
      fetch('/fragments/tenants?lang=' + document.documentElement.lang, { credentials: 'same-origin' })
        .then(function (r) {
          return r.ok ? r.text() : Promise.reject(r.status);
        })
        .then(function (html) {
          rows.innerHTML = html;
        })
        .catch(function () {});
    }, 3000);
  }

  // A wall screen is never reloaded, so the page renews its session cookie itself.
  function keepSession() {
    setInterval(function () {
      fetch('/session', { method: 'POST', credentials: 'same-origin' }).catch(function () {});
    }, RENEW_MS);
  }

  // Signing in by link, without a keyboard: /login#token=... The fragment never leaves the
  // browser (no request, no proxy log, no Referer carries it); it is taken out of the address
  // and history at once, and sent as the form would send it.
  function signInByLink(form) {
    const m = /^#token=([^&]+)/.exec(location.hash);
    if (!m) return;
    history.replaceState(null, '', location.pathname + location.search);
    form.querySelector('#token').value = decodeURIComponent(m[1]);
    form.submit();
  }

  document.addEventListener('DOMContentLoaded', function () {
    const words = document.getElementById('i18n');
    if (words) {
      try {
        messages = JSON.parse(words.textContent);
      } catch (err) {
        messages = {};
      }
    }
    const main = document.getElementById('dashboard');
    if (main) {
      rotate();
      fitAll();
      window.addEventListener('resize', fitAll);
      live(main);
    }
    if (document.getElementById('tenant-rows')) poll();
    const login = document.querySelector('form[action="/login"]');
    if (login) signInByLink(login);
    else keepSession();
  });
})();
