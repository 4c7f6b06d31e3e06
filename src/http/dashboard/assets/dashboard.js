// flowtally's dashboard: live updates by server-sent events. Each "frame" event carries the
// instant it shows and the HTML of the sections that changed; they replace the sections in
// place (open <details> stay open). The connection state is shown in the header: live,
// reconnecting, stale (no frame for 5 s), signed out.
'use strict';
(function () {
  const STALE_MS = 5000;
  // Well inside the session's 7 days: a screen left on for months stays signed in.
  const RENEW_MS = 3600 * 1000;

  function setConn(state, text) {
    const c = document.getElementById('conn');
    if (!c) return;
    c.dataset.state = state;
    c.className = 'conn conn-' + state;
    c.textContent = text;
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
    }
    main.dataset.at = f.at;
    main.dataset.seq = String(f.seq);
    main.dataset.state = f.state;
    const at = document.getElementById('at');
    if (at) {
      at.textContent = f.at;
      at.dataset.at = f.at;
    }
    if (f.state === 'ready') setConn('live', 'live');
    else if (f.state === 'loading') setConn('wait', 'tenant loading');
    else setConn('lost', 'not served');
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
          setConn('wait', 'reconnecting…');
          return;
        }
        // Closed: the server refused the stream. Ask why before trying again.
        es.close();
        setConn('wait', 'reconnecting…');
        fetch(probe, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
          .then(function (r) {
            if (r.status === 401) {
              setConn('lost', 'signed out');
              const a = document.createElement('a');
              a.href = '/login?next=' + encodeURIComponent(location.pathname);
              a.textContent = ' log in again';
              document.getElementById('conn').appendChild(a);
            } else if (r.status === 403) {
              setConn('lost', 'not allowed');
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
          setConn('wait', 'no update for ' + Math.round((Date.now() - last) / 1000) + ' s');
        }
      }
    }, 1000);
    connect();
  }

  function poll() {
    const rows = document.getElementById('tenant-rows');
    setInterval(function () {
      fetch('/fragments/tenants', { credentials: 'same-origin' })
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
    const main = document.getElementById('dashboard');
    if (main) live(main);
    if (document.getElementById('tenant-rows')) poll();
    const login = document.querySelector('form[action="/login"]');
    if (login) signInByLink(login);
    else keepSession();
  });
})();
