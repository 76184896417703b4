// The live view's page: plain browser JavaScript, no build step. Log text is only ever put into the
// page with textContent (never innerHTML): log lines are untrusted input.
//
// How it stays fast at tens of thousands of events a second (docs/adr/0010-live-page-rendering.md):
// - the receiver batches events into one WebSocket message per ~25 ms; each message is parsed once,
//   and acknowledged, so a page that falls behind gets "N dropped" instead of a backlog;
// - events go into a ring (the last `rows` events, default 5,000), not into the DOM;
// - once per animation frame, only the rows in view are drawn, from a fixed pool of row elements
//   (fixed row height, so no row is ever measured): the page's work per frame depends on the size of
//   the window, not on the event rate.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const RANK = {
    emerg: 0,
    emergency: 0,
    panic: 0,
    alert: 1,
    crit: 2,
    critical: 2,
    fatal: 2,
    err: 3,
    error: 3,
    warn: 4,
    warning: 4,
    notice: 5,
    info: 6,
    informational: 6,
    information: 6,
    debug: 7,
    trace: 7,
    verbose: 7,
  };
  const rank = (l) => (typeof l === 'string' && RANK[l.toLowerCase()] !== undefined ? RANK[l.toLowerCase()] : 6);

  // No token ever travels in a URL (docs/adr/0014-defaults-tokens-sessions-and-bounds.md): an old link's ?token= or
  // #token= is dropped from the address bar unread, and the page signs in through its form instead.
  const params = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.slice(1));
  if (params.has('token') || hash.has('token')) {
    params.delete('token');
    history.replaceState(null, '', location.pathname + (params.toString() ? '?' + params : ''));
  }
  for (const k of ['env', 'host', 'service', 'level', 'text']) if (params.get(k)) $('f-' + k).value = params.get(k);

  /** Events (and markers, notes) the page keeps to scroll back through; ?rows= changes it (100…100,000). */
  const RING = Math.min(100000, Math.max(100, Math.floor(Number(params.get('rows'))) || 5000));
  /** Events kept while paused; beyond, counted as dropped. */
  const MAX_HELD = RING;
  /** Messages the receiver may send ahead of the ones this page has taken in (flow control). */
  const WINDOW = 4;
  /** Row height in px: must match `.row` in index.html (fixed, so that no row is ever measured). */
  const ROW_H = 20;

  // `latencies`: when a caller (the benchmark) sets it to an array, every event pushes, at the frame
  // that drew the view with it, (that time − the harvester's `sent`) in ms; `arrivals` likewise at
  // the moment its WebSocket message was parsed.
  const stats = { received: 0, shown: 0, dropped: 0, missing: 0, held: 0, rows: 0, ring: RING, frames: 0, frameLag: 0, state: 'connecting', receiver: null, latencies: null, arrivals: null };
  // For tests and for anyone debugging from the console: the events in the ring, oldest first.
  stats.items = () => {
    const out = [];
    for (let i = 0; i < count; i++) out.push(at(i));
    return out;
  };
  window.__live = stats;

  // ---- the ring -------------------------------------------------------------------------------
  const ring = new Array(RING);
  let start = 0; // index in `ring` of the oldest item
  let count = 0; // items in the ring
  let version = 0; // bumps on every change: a render with nothing new draws nothing
  /**
   * The item at position i (0 = oldest). Events arrive as their datagram's JSON text and are parsed
   * here, when first drawn (or read), and kept parsed: at 10,000 events/s only the few dozen a
   * redraw shows are ever parsed, not every one.
   */
  function at(i) {
    const k = (start + i) % RING;
    let d = ring[k];
    if (typeof d === 'string') {
      try {
        d = JSON.parse(d);
      } catch {
        d = { note: '(unreadable event)' };
      }
      ring[k] = d;
    }
    return d;
  }
  /** Items evicted since the last render: a reader scrolled up keeps looking at the same rows. */
  let evictedSinceRender = 0;
  function push(item) {
    newSinceRender++;
    if (count < RING) ring[(start + count++) % RING] = item;
    else {
      ring[start] = item;
      start = (start + 1) % RING;
      evictedSinceRender++;
    }
    version++;
  }

  let ws = null;
  let paused = false;
  let held = [];
  let retryMs = 500;
  let rateCount = 0;
  /** `sent` of events taken in since the last frame (only while the benchmark records). */
  let sentPending = [];

  const setState = (s, detail) => {
    stats.state = s;
    const el = $('state');
    el.className = s;
    el.textContent = detail ? s + ' · ' + detail : s;
  };

  const filter = () => {
    const f = {};
    for (const k of ['env', 'host', 'service', 'level', 'text']) {
      const v = $('f-' + k).value.trim();
      if (v) f[k] = v;
    }
    return f;
  };

  // ---- signing in -------------------------------------------------------------------------------
  // The receiver keeps the session in an HttpOnly cookie: this script never sees it, the browser sends
  // it with the page's own requests and its WebSocket.
  let retryTimer = 0;
  function askToSignIn(message) {
    clearTimeout(retryTimer);
    setState('unauthorized', 'sign in');
    $('signin').hidden = false;
    $('signout').hidden = true;
    $('signin-error').textContent = message || '';
    $('secret').focus();
  }
  async function hasSession() {
    try {
      const res = await fetch('/auth/session', { credentials: 'same-origin', cache: 'no-store' });
      return res.status === 200 ? true : res.status === 401 ? false : null;
    } catch {
      return null; // the receiver is away: not a sign-in question
    }
  }
  $('signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const secret = $('secret').value.trim();
    if (!secret) return;
    // A login code is 8 characters (XXXX-XXXX); anything else is taken as the token.
    const body = /^[0-9A-Za-z]{4}-?[0-9A-Za-z]{4}$/.test(secret) ? { code: secret } : { token: secret };
    $('signin-submit').disabled = true;
    try {
      const res = await fetch('/auth/login', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (res.ok) {
        $('secret').value = '';
        $('signin').hidden = true;
        $('signout').hidden = false;
        retryMs = 500;
        connect();
        return;
      }
      let message = 'sign-in refused (' + res.status + ')';
      try {
        message = (await res.json()).message || message;
      } catch {
        /* not JSON */
      }
      $('signin-error').textContent = message;
    } catch {
      $('signin-error').textContent = 'the receiver does not answer; try again';
    } finally {
      $('signin-submit').disabled = false;
    }
  });
  $('signout').addEventListener('click', async () => {
    await fetch('/auth/logout', { method: 'POST', credentials: 'same-origin' }).catch(() => undefined);
    const sock = ws;
    ws = null;
    if (sock) sock.close();
    askToSignIn('signed out');
  });

  function connect() {
    const q = new URLSearchParams(filter());
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws' + (q.toString() ? '?' + q : '');
    setState('connecting');
    const sock = new WebSocket(url);
    ws = sock;
    let opened = false;
    sock.onopen = () => {
      opened = true;
      retryMs = 500;
      setState('connected');
      $('signout').hidden = false;
      // Flow control: the receiver sends at most WINDOW messages ahead of what this page took in;
      // when the page falls behind, its events wait (bounded) at the receiver and the excess comes
      // back as "N dropped", instead of piling up for seconds in the browser's socket buffers.
      // framing "lines": events come one datagram per line, to be split, not parsed (see `at`).
      sock.send('{"type":"flow","window":' + WINDOW + ',"framing":"lines"}');
    };
    sock.onmessage = (m) => onMessage(m.data);
    sock.onclose = async (ev) => {
      if (ws !== sock) return;
      ws = null;
      // The server refuses an upgrade without a live session before the WebSocket opens, and the
      // browser does not show us its 401; a session that expires closes an open one with 4001.
      // Either way, ask the receiver whether the session is still good before retrying.
      if (!opened || ev.code === 4001) {
        const ok = await hasSession();
        if (ok === false) {
          askToSignIn(ev.code === 4001 ? 'the session expired' : '');
          return;
        }
      }
      setState('disconnected', 'retry in ' + Math.round(retryMs / 1000) + 's' + (ev.reason ? ' (' + ev.reason + ')' : ''));
      retryTimer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    };
  }

  // One JSON.parse per WebSocket message (the receiver puts many events in one); events go into the
  // ring at once, and the view is redrawn at the next animation frame, whatever the message rate.
  const LINES = '{"type":"lines"}\n';
  const SENT = /"sent":(\d+)/;
  const sentOf = (line) => {
    const m = SENT.exec(line);
    return m ? Number(m[1]) : NaN;
  };

  function onMessage(data) {
    if (data.startsWith(LINES)) {
      onLines(data);
      return;
    }
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.type === 'events' || msg.type === 'dropped') ack();
    if (msg.type === 'events') {
      const evs = msg.events;
      stats.received += evs.length;
      rateCount += evs.length;
      if (paused) {
        for (let i = 0; i < evs.length; i++) hold(evs[i]);
        return;
      }
      for (let i = 0; i < evs.length; i++) push(evs[i]);
      stats.shown += evs.length;
      if (stats.latencies) for (let i = 0; i < evs.length; i++) sentPending.push(evs[i].sent);
      if (stats.arrivals) {
        const now = Date.now();
        for (let i = 0; i < evs.length; i++) stats.arrivals.push(now - evs[i].sent);
      }
    } else if (msg.type === 'dropped') {
      stats.dropped += msg.count;
      if (paused) {
        held.push({ marker: msg.count });
        return;
      }
      push({ marker: msg.count });
    } else if (msg.type === 'stats') {
      stats.missing = msg.missing;
      return;
    } else if (msg.type === 'hello') {
      stats.receiver = msg.receiver;
      addNote('connected to receiver ' + msg.receiver + ' at ' + new Date(msg.connectedAt).toLocaleTimeString() + ': events from now on');
      return;
    } else return;
    scheduleRender();
  }

  /** Events as datagram lines: split, counted, kept as text until drawn. */
  function onLines(data) {
    ack();
    const lines = data.split('\n');
    const n = lines.length - 1;
    stats.received += n;
    rateCount += n;
    if (paused) {
      for (let i = 1; i <= n; i++) hold(lines[i]);
      return;
    }
    for (let i = 1; i <= n; i++) push(lines[i]);
    stats.shown += n;
    if (stats.latencies) for (let i = 1; i <= n; i++) sentPending.push(sentOf(lines[i]));
    if (stats.arrivals) {
      const now = Date.now();
      for (let i = 1; i <= n; i++) stats.arrivals.push(now - sentOf(lines[i]));
    }
    scheduleRender();
  }

  function ack() {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send('{"type":"ack","n":1}');
  }

  function hold(item) {
    if (held.length < MAX_HELD) held.push(item);
    else stats.dropped++;
    stats.held = held.length;
  }

  function addNote(text) {
    push({ note: text });
    scheduleRender();
  }

  // ---- the view ---------------------------------------------------------------------------------
  const log = $('log');
  const space = $('space');
  const rowsEl = $('rows');
  /** Row elements, reused frame after frame; as many as fit in the window, plus one. */
  const pool = [];
  let viewHeight = log.clientHeight;
  // Follow the tail unless the reader scrolled up (tracked on scroll: a render never measures).
  let follow = true;
  let scrollTop = 0;
  let drawn = { first: -1, n: -1, version: -1, selected: -1 };
  let selected = null; // the item shown in the detail panel
  let renderScheduled = false;
  let emptyGone = false;

  new ResizeObserver(() => {
    viewHeight = log.clientHeight;
    drawn.version = -1;
    scheduleRender();
  }).observe(log);

  /**
   * Least time between two renders, ms: ~30 redraws a second for a stream one can read, ~20 when
   * more arrives between two redraws than the window shows (every row is replaced each time; nobody
   * reads that). And when frames come late (the machine is busy: ten pages on a small box, or the
   * receiver on the same machine), the page backs off up to 4 redraws a second, leaving the CPU to
   * what feeds it instead of competing with it.
   */
  const FRAME_MS = 30;
  const FLOOD_FRAME_MS = 50;
  const MAX_FRAME_MS = 250;
  let lastRender = -Infinity;
  let newSinceRender = 0;
  /** The last render replaced more rows than the window holds. */
  let flooding = false;
  /** How late animation frames come (ms, moving average): the page's own measure of a busy machine. */
  let frameLag = 0;
  let requestedAt = 0;
  let waitTimer = 0;
  function scheduleRender() {
    if (renderScheduled) return;
    renderScheduled = true;
    const interval = Math.min(MAX_FRAME_MS, Math.max(flooding ? FLOOD_FRAME_MS : FRAME_MS, 3 * frameLag));
    const wait = interval - (performance.now() - lastRender);
    // At most one render per frame, right before the browser paints. A tab in the background gets
    // no frames and draws nothing; its ring stays bounded.
    if (wait <= 4) requestFrame();
    else waitTimer = setTimeout(requestFrame, wait);
  }
  function requestFrame() {
    waitTimer = 0;
    requestedAt = performance.now();
    requestAnimationFrame(frame);
  }
  function frame() {
    lastRender = performance.now();
    // A frame normally comes within ~16 ms of the request; what is beyond is the machine's delay.
    frameLag = 0.8 * frameLag + 0.2 * Math.max(0, lastRender - requestedAt - 16);
    stats.frameLag = Math.round(frameLag);
    render();
  }

  // Intl-based toLocaleTimeString costs tens of µs per call; a row needs only HH:MM:SS.mmm.
  const two = (n) => (n < 10 ? '0' : '') + n;
  const clock = (t) => two(t.getHours()) + ':' + two(t.getMinutes()) + ':' + two(t.getSeconds()) + '.' + String(t.getMilliseconds()).padStart(3, '0');

  // Columns in characters (the font is monospace): inline text padded with spaces lays out at a
  // fraction of the cost of fixed-width boxes (inline-block, grid) with ellipsis.
  const COLS = { h: 16, s: 14, l: 8 };
  const SPACES = ' '.repeat(64);
  const fitTo = (text, w) => (text.length > w ? text.slice(0, w - 1) + '…' : text);

  function makeRow() {
    const div = document.createElement('div');
    div.className = 'row';
    const r = { div, item: undefined };
    for (const cls of ['t', 'h', 's', 'l', 'm']) {
      const span = document.createElement('span');
      span.className = cls;
      div.appendChild(span);
      r[cls] = span;
      if (cls !== 'm') {
        const pad = document.createTextNode(' ');
        div.appendChild(pad);
        r['p' + cls] = pad;
      }
    }
    r.cut = document.createElement('span');
    r.cut.className = 'cut';
    r.cut.textContent = '✂ ';
    r.text = document.createTextNode('');
    r.m.append(r.cut, r.text);
    return r;
  }

  function cell(r, key, text, w) {
    r[key].textContent = text;
    r['p' + key].data = SPACES.slice(0, Math.max(1, w + 1 - text.length));
  }

  function fill(r, d) {
    if (r.item === d) return;
    r.item = d;
    const div = r.div;
    if (d.marker !== undefined || d.note !== undefined) {
      div.className = d.note !== undefined ? 'row note' : 'row marker';
      div.removeAttribute('data-seq');
      div.removeAttribute('data-host');
      r.t.textContent = r.h.textContent = r.s.textContent = r.l.textContent = '';
      r.pt.data = r.ph.data = r.ps.data = r.pl.data = '';
      r.cut.hidden = true;
      r.text.data = d.note !== undefined ? d.note : '⋯ ' + d.marker + ' event' + (d.marker === 1 ? '' : 's') + ' dropped: this page could not keep up';
      return;
    }
    const e = d.event || {};
    const level = (e.log && e.log.level) || 'info';
    div.className = 'row lv-' + rank(level) + (d === selected ? ' sel' : '');
    div.setAttribute('data-seq', d.seq);
    div.setAttribute('data-host', d.host);
    const ts = e['@timestamp'] ? new Date(e['@timestamp']) : new Date(d.sent);
    cell(r, 't', isNaN(ts) ? '' : clock(ts), 12);
    cell(r, 'h', fitTo(String((e.host && e.host.name) || d.host || ''), COLS.h), COLS.h);
    cell(r, 's', fitTo(String((e.service && e.service.name) || ''), COLS.s), COLS.s);
    cell(r, 'l', fitTo(String(level), COLS.l), COLS.l);
    r.text.data = typeof e.message === 'string' ? e.message : JSON.stringify(e.message === undefined ? '' : e.message);
    const cut = d.truncated !== undefined || d.stripped;
    r.cut.hidden = !cut;
    if (cut) r.cut.title = d.truncated !== undefined ? 'cut to fit a datagram (was ' + d.truncated + ' bytes)' : 'fields left out: ' + d.stripped.join(', ');
  }

  function render() {
    renderScheduled = false;
    clearTimeout(waitTimer);
    flooding = newSinceRender > pool.length;
    newSinceRender = 0;
    stats.frames++;
    const evicted = evictedSinceRender;
    evictedSinceRender = 0;
    const total = count * ROW_H;
    const fit = Math.ceil(viewHeight / ROW_H) + 1;
    while (pool.length < fit) {
      const r = makeRow();
      pool.push(r);
      rowsEl.appendChild(r.div);
    }
    if (drawn.version !== version) space.style.height = total + 'px';
    if (follow) {
      scrollTop = Math.max(0, total - viewHeight);
      if (log.scrollTop !== scrollTop) log.scrollTop = scrollTop;
    } else if (evicted) {
      // The rows under the reader's eyes moved up by `evicted` places: keep them where they are.
      scrollTop = Math.max(0, scrollTop - evicted * ROW_H);
      log.scrollTop = scrollTop;
    }
    const first = Math.min(Math.floor(scrollTop / ROW_H), Math.max(0, count - 1));
    const n = Math.min(fit, count - first);
    if (first !== drawn.first || n !== drawn.n || version !== drawn.version || drawn.selected !== selected) {
      rowsEl.style.transform = 'translateY(' + first * ROW_H + 'px)';
      for (let i = 0; i < pool.length; i++) {
        const r = pool[i];
        if (i < n) {
          fill(r, at(first + i));
          r.div.hidden = false;
        } else if (!r.div.hidden) {
          r.div.hidden = true;
          r.item = undefined;
        }
      }
      drawn = { first, n, version, selected };
    }
    stats.rows = count;
    if (count && !emptyGone) {
      $('empty').hidden = true;
      emptyGone = true;
    }
    if (sentPending.length) {
      const now = Date.now();
      if (stats.latencies) for (let i = 0; i < sentPending.length; i++) stats.latencies.push(now - sentPending[i]);
      sentPending = [];
    }
    if (performance.now() - countersAt > 250) showCounters();
    else if (!countersTimer) countersTimer = setTimeout(showCounters, 250); // the last figures show too
  }

  log.addEventListener(
    'scroll',
    () => {
      const top = log.scrollTop;
      if (top === scrollTop) return; // our own scroll
      scrollTop = top;
      follow = top + viewHeight >= count * ROW_H - ROW_H / 2;
      scheduleRender();
    },
    { passive: true },
  );

  // Click a row: its whole datagram below the log (the rows show one line each).
  rowsEl.addEventListener('click', (ev) => {
    const div = ev.target.closest('.row');
    const r = div && pool.find((p) => p.div === div);
    if (!r || !r.item || r.item.note !== undefined || r.item.marker !== undefined) return;
    selected = r.item === selected ? null : r.item;
    $('detail').hidden = !selected;
    $('detail-text').textContent = selected ? JSON.stringify(selected, null, 2) : '';
    r.item = undefined; // redraw with the selection colour
    scheduleRender();
  });
  $('detail-close').addEventListener('click', () => {
    selected = null;
    $('detail').hidden = true;
    scheduleRender();
  });

  let countersAt = 0;
  let countersTimer = 0;
  function showCounters() {
    clearTimeout(countersTimer);
    countersTimer = 0;
    countersAt = performance.now();
    $('shown').textContent = stats.shown;
    $('dropped').textContent = stats.dropped;
    $('missing').textContent = stats.missing;
    $('held').textContent = held.length;
  }
  setInterval(() => {
    $('rate').textContent = rateCount;
    rateCount = 0;
    showCounters();
  }, 1000);

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
    if (!paused) {
      for (const it of held) {
        push(it);
        if (it.marker === undefined) stats.shown++;
      }
      held = [];
      stats.held = 0;
      scheduleRender();
    }
    showCounters();
  });
  $('clear').addEventListener('click', () => {
    ring.fill(undefined);
    start = count = 0;
    version++;
    follow = true;
    scheduleRender();
  });
  hasSession().then((ok) => (ok === false ? askToSignIn('') : connect()));
})();
