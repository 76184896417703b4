// The live view's page: plain browser JavaScript, no build step. Log text is only ever put into the
// page with textContent (never innerHTML): log lines are untrusted input.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const MAX_ROWS = 3000;       // rows kept in the page
  const MAX_HELD = 20000;      // events kept while paused; beyond, counted as dropped
  const RANK = { emerg: 0, emergency: 0, panic: 0, alert: 1, crit: 2, critical: 2, fatal: 2, err: 3, error: 3,
    warn: 4, warning: 4, notice: 5, info: 6, informational: 6, information: 6, debug: 7, trace: 7, verbose: 7 };
  const rank = (l) => (typeof l === 'string' && RANK[l.toLowerCase()] !== undefined ? RANK[l.toLowerCase()] : 6);

  // Token: from ?token= or #token= once, then kept for this tab only and removed from the address bar.
  const params = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.slice(1));
  let token = params.get('token') || hash.get('token') || sessionStorage.getItem('backlog-live-token') || '';
  if (token) sessionStorage.setItem('backlog-live-token', token);
  if (params.has('token') || hash.has('token')) {
    params.delete('token');
    history.replaceState(null, '', location.pathname + (params.toString() ? '?' + params : ''));
  }
  for (const k of ['env', 'host', 'service', 'level', 'text']) if (params.get(k)) $('f-' + k).value = params.get(k);

  const stats = { received: 0, shown: 0, dropped: 0, missing: 0, held: 0, state: 'connecting', receiver: null };
  window.__live = stats; // read by tests and by anyone debugging from the console
  let ws = null;
  let paused = false;
  let held = [];
  let pending = [];
  let renderScheduled = false;
  let retryMs = 500;
  let rateCount = 0;
  // Follow the tail unless the reader scrolled up; tracked on scroll so that a render never has to
  // measure the page before appending (that would force a layout per render).
  let follow = true;

  const setState = (s, detail) => {
    stats.state = s;
    const el = $('state');
    el.className = s;
    el.textContent = detail ? s + ' · ' + detail : s;
  };

  const filter = () => {
    const f = {};
    for (const k of ['env', 'host', 'service', 'level', 'text']) { const v = $('f-' + k).value.trim(); if (v) f[k] = v; }
    return f;
  };

  function connect() {
    if (!token) { $('token-box').hidden = false; setState('unauthorized', 'token needed'); return; }
    const q = new URLSearchParams(filter());
    q.set('token', token);
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws?' + q;
    setState('connecting');
    const sock = new WebSocket(url);
    ws = sock;
    let opened = false;
    sock.onopen = () => { opened = true; retryMs = 500; setState('connected'); $('token-box').hidden = true; };
    sock.onmessage = (m) => onMessage(m.data);
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      if (!opened) {
        // The server refuses a bad token before the WebSocket opens; the browser cannot see the 401,
        // so a socket that never opened shows the token field as well as retrying.
        $('token-box').hidden = false;
      }
      setState('disconnected', 'retry in ' + Math.round(retryMs / 1000) + 's' + (ev.reason ? ' (' + ev.reason + ')' : ''));
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    };
  }

  function onMessage(data) {
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (msg.type === 'events') {
      stats.received += msg.events.length;
      rateCount += msg.events.length;
      for (const d of msg.events) enqueue(d);
    } else if (msg.type === 'dropped') {
      stats.dropped += msg.count;
      enqueue({ marker: msg.count });
    } else if (msg.type === 'stats') {
      stats.missing = msg.missing;
    } else if (msg.type === 'hello') {
      stats.receiver = msg.receiver;
      addNote('connected to receiver ' + msg.receiver + ' at ' + new Date(msg.connectedAt).toLocaleTimeString() + ': events from now on');
    }
    scheduleRender();
  }

  function enqueue(item) {
    if (!paused) { pending.push(item); return; }
    if (held.length < MAX_HELD) held.push(item);
    else { stats.dropped++; }
    stats.held = held.length;
  }

  let lastRender = 0;
  function scheduleRender() {
    if (renderScheduled) return;
    renderScheduled = true;
    // A timer, not requestAnimationFrame: a tab in the background still keeps its row count bounded.
    // At most ~10 renders a second: each one costs a layout and a paint of the whole view, which at
    // high rates would otherwise keep the page's only thread busy and let latency pile up; a lone
    // line still shows within ~16 ms.
    const wait = Math.max(16, 100 - (performance.now() - lastRender));
    setTimeout(render, wait);
  }

  // Intl-based toLocaleTimeString costs tens of µs per call; a row needs only HH:MM:SS.mmm.
  const two = (n) => (n < 10 ? '0' : '') + n;
  const clock = (t) => two(t.getHours()) + ':' + two(t.getMinutes()) + ':' + two(t.getSeconds()) + '.' + String(t.getMilliseconds()).padStart(3, '0');

  function row(d) {
    const div = document.createElement('div');
    if (d.marker !== undefined) {
      div.className = 'row marker';
      div.textContent = '⋯ ' + d.marker + ' event' + (d.marker === 1 ? '' : 's') + ' dropped: this page could not keep up';
      return div;
    }
    const e = d.event || {};
    const level = (e.log && e.log.level) || 'info';
    div.className = 'row lv-' + rank(level);
    div.dataset.seq = d.seq;
    div.dataset.host = d.host;
    div.dataset.sent = d.sent; // harvester send time (epoch ms): lets a benchmark measure send → row
    const cell = (cls, text) => { const s = document.createElement('span'); s.className = cls; s.textContent = text; div.appendChild(s); return s; };
    const ts = e['@timestamp'] ? new Date(e['@timestamp']) : new Date(d.sent);
    cell('t', isNaN(ts) ? '' : clock(ts));
    cell('h', (e.host && e.host.name) || d.host || '');
    cell('s', (e.service && e.service.name) || '');
    cell('l', level);
    const m = cell('m', typeof e.message === 'string' ? e.message : JSON.stringify(e.message === undefined ? '' : e.message));
    if (d.truncated !== undefined || d.stripped) {
      const c = document.createElement('span');
      c.className = 'cut';
      c.textContent = '✂';
      c.title = d.truncated !== undefined ? 'cut to fit a datagram (was ' + d.truncated + ' bytes)' : 'fields left out: ' + d.stripped.join(', ');
      m.appendChild(c);
    }
    return div;
  }

  function addNote(text) {
    const div = document.createElement('div');
    div.className = 'row note';
    div.textContent = text;
    pending.push({ note: div });
    scheduleRender();
  }

  function render() {
    renderScheduled = false;
    lastRender = performance.now();
    const log = $('log');
    let items = pending;
    pending = [];
    if (items.length > MAX_ROWS) {
      // More arrived since the last render than the page keeps: show the newest, say how many were skipped.
      let skipped = 0;
      for (const it of items.slice(0, items.length - MAX_ROWS)) if (!it.note && it.marker === undefined) skipped++;
      items = items.slice(items.length - MAX_ROWS);
      if (skipped) { stats.dropped += skipped; items.unshift({ marker: skipped }); }
    }
    const frag = document.createDocumentFragment();
    for (const it of items) {
      if (it.note) { frag.appendChild(it.note); continue; }
      frag.appendChild(row(it));
      if (it.marker === undefined) stats.shown++;
    }
    const empty = $('empty');
    if (empty && items.length) empty.remove();
    log.appendChild(frag);
    let extra = log.childElementCount - MAX_ROWS;
    while (extra-- > 0 && log.firstElementChild) log.firstElementChild.remove();
    if (follow) log.scrollTop = log.scrollHeight;
    $('shown').textContent = stats.shown;
    $('dropped').textContent = stats.dropped;
    $('missing').textContent = stats.missing;
    $('held').textContent = held.length;
  }

  $('log').addEventListener('scroll', () => {
    const log = $('log');
    follow = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }, { passive: true });

  setInterval(() => { $('rate').textContent = rateCount; rateCount = 0; $('missing').textContent = stats.missing; }, 1000);

  $('filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = filter();
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'filter', filter: f }));
    addNote('filter: ' + (Object.keys(f).length ? JSON.stringify(f) : 'none'));
  });
  $('pause').addEventListener('click', () => {
    paused = !paused;
    $('pause').textContent = paused ? 'resume' : 'pause';
    $('paused-box').hidden = !paused;
    if (!paused) { pending.push(...held); held = []; stats.held = 0; scheduleRender(); }
  });
  $('clear').addEventListener('click', () => { $('log').textContent = ''; });
  $('token-set').addEventListener('click', () => {
    token = $('token').value.trim();
    sessionStorage.setItem('backlog-live-token', token);
    if (ws) ws.close(); else connect();
  });

  connect();
})();
