/**
 * The demo's own traffic: log lines that look like a small shop's fleet (sshd, nginx, the kernel,
 * cron, systemd, PostgreSQL, a JSON-logging app, kubelet and container logs), with random fields and
 * the current time. Every template here is written for backlog; nothing is copied from a corpus (the
 * loghub samples are research-licensed test fixtures and never ship in the repository; `--corpus DIR`
 * reads them at run time instead, see corpus.ts).
 */

/** Syslog severities (RFC 5424 §6.2.1). */
export const SEVERITY = { emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7 } as const;
export type SeverityName = keyof typeof SEVERITY;
/** Syslog facilities used here (RFC 5424 §6.2.1). */
export const FACILITY = { kern: 0, user: 1, daemon: 3, auth: 4, cron: 9, authpriv: 10, local0: 16, local7: 23 } as const;

/** One generated record, before it is framed for a protocol (wire.ts). */
export interface DemoRecord {
  /** Event time: now, when generated. */
  at: Date;
  /** Sending host (`host.name`). */
  host: string;
  /** Program / service (`service.name`, syslog APP-NAME). */
  app: string;
  /** Process id, when the program has one. */
  pid?: number;
  severity: number;
  facility: number;
  message: string;
  /** Structured fields sent with JSON protocols (and as RFC 5424 structured data where short). */
  fields?: Record<string, unknown>;
  /** Which template made it (for the spec and the summary); e.g. `sshd.failed`. */
  template: string;
}

/** Small deterministic PRNG (mulberry32): a seed gives the same traffic, which the spec relies on. */
export class Rng {
  private s: number;
  constructor(seed = (Date.now() ^ (process.pid << 16)) >>> 0) {
    this.s = seed >>> 0;
  }
  /** [0, 1) */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
  /** Picks by weight: `[[value, weight], …]`. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [v, w] of items) {
      r -= w;
      if (r < 0) return v;
    }
    return (items[items.length - 1] as readonly [T, number])[0];
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(0, 15)];
    return s;
  }
  alnum(n: number): string {
    const a = 'abcdefghijklmnopqrstuvwxyz0123456789';
    let s = '';
    for (let i = 0; i < n; i++) s += a[this.int(0, a.length - 1)];
    return s;
  }
}

// ── vocabulary ────────────────────────────────────────────────────────────────────────────────────
const USERS = ['deploy', 'alice', 'bob', 'carol', 'ops', 'backup', 'git', 'ubuntu'];
const BAD_USERS = ['admin', 'test', 'oracle', 'postgres', 'guest', 'support', 'pi', 'user1', 'ftpuser'];
const PATHS = [
  '/',
  '/cart',
  '/checkout',
  '/api/v1/products',
  '/api/v1/products/{id}',
  '/api/v1/orders',
  '/api/v1/orders/{id}',
  '/login',
  '/static/app.{hex}.js',
  '/static/site.{hex}.css',
  '/healthz',
  '/search?q={word}',
];
const WORDS = ['shoes', 'lamp', 'coffee', 'kettle', 'socks', 'desk', 'chair', 'tent', 'mug'];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'curl/8.5.0',
  'kube-probe/1.30',
  'Go-http-client/1.1',
];
const UNITS = ['nginx.service', 'postgresql@16-main.service', 'shop-api.service', 'logrotate.service', 'apt-daily.service', 'certbot.service'];
const NAMESPACES = ['shop', 'payments', 'monitoring', 'kube-system'];
const K8S_APPS = ['checkout', 'cart', 'catalog', 'payments-gw', 'coredns', 'prometheus'];
const CRON = ['/usr/lib/php/sessionclean', 'test -x /usr/sbin/anacron || run-parts --report /etc/cron.daily', '/opt/shop/bin/reindex --quiet', 'pg_dump shop | gzip > /var/backups/shop.sql.gz'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The fleet: each host runs a few programs, so a host's logs make sense together. */
export const FLEET: readonly { host: string; apps: readonly string[] }[] = [
  { host: 'web-01', apps: ['nginx', 'sshd', 'kernel', 'cron', 'systemd'] },
  { host: 'web-02', apps: ['nginx', 'sshd', 'kernel', 'cron', 'systemd'] },
  { host: 'db-01', apps: ['postgres', 'sshd', 'kernel', 'cron', 'systemd'] },
  { host: 'bastion', apps: ['sshd', 'kernel', 'systemd'] },
  { host: 'k8s-node-1', apps: ['kubelet', 'kernel', 'containers'] },
  { host: 'k8s-node-2', apps: ['kubelet', 'kernel', 'containers'] },
  { host: 'app-01', apps: ['shop-api', 'sshd', 'systemd'] },
];

const ip = (r: Rng) =>
  r.weighted<() => string>([
    [() => `10.0.${r.int(0, 3)}.${r.int(2, 254)}`, 5],
    [() => `${r.int(11, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`, 5],
  ])();
const fill = (r: Rng, s: string) =>
  s
    .replace('{id}', String(r.int(1, 99_999)))
    .replace('{hex}', r.hex(8))
    .replace('{word}', r.pick(WORDS));

interface Made {
  template: string;
  severity: number;
  facility: number;
  message: string;
  pid?: number;
  fields?: Record<string, unknown>;
  /** The program name when it differs from the fleet entry (`containers` → the container's app). */
  app?: string;
}

/** Each program's templates: `(rng, host, now) → record` with weights. */
const PROGRAMS: Record<string, readonly (readonly [(r: Rng, host: string, now: Date) => Made, number])[]> = {
  sshd: [
    [
      (r) => ({
        template: 'sshd.accepted',
        severity: SEVERITY.info,
        facility: FACILITY.authpriv,
        pid: r.int(900, 65_000),
        message: `Accepted publickey for ${r.pick(USERS)} from ${ip(r)} port ${r.int(20_000, 65_000)} ssh2: ED25519 SHA256:${r.alnum(43)}`,
      }),
      3,
    ],
    [
      (r) => ({
        template: 'sshd.invalid_user',
        severity: SEVERITY.info,
        facility: FACILITY.authpriv,
        pid: r.int(900, 65_000),
        message: `Invalid user ${r.pick(BAD_USERS)} from ${ip(r)} port ${r.int(20_000, 65_000)}`,
      }),
      3,
    ],
    [
      (r) => ({
        template: 'sshd.failed',
        severity: SEVERITY.warning,
        facility: FACILITY.authpriv,
        pid: r.int(900, 65_000),
        message: `Failed password for invalid user ${r.pick(BAD_USERS)} from ${ip(r)} port ${r.int(20_000, 65_000)} ssh2`,
      }),
      4,
    ],
    [
      (r) => ({
        template: 'sshd.closed',
        severity: SEVERITY.info,
        facility: FACILITY.authpriv,
        pid: r.int(900, 65_000),
        message: `Connection closed by authenticating user ${r.pick(BAD_USERS)} ${ip(r)} port ${r.int(20_000, 65_000)} [preauth]`,
      }),
      2,
    ],
    [
      (r) => ({
        template: 'sshd.session',
        severity: SEVERITY.info,
        facility: FACILITY.authpriv,
        pid: r.int(900, 65_000),
        message: `pam_unix(sshd:session): session opened for user ${r.pick(USERS)}(uid=${r.int(1000, 1010)}) by (uid=0)`,
      }),
      2,
    ],
  ],
  nginx: [
    [
      (r, _h, now) => {
        const status = r.weighted([
          [200, 80],
          [304, 6],
          [301, 3],
          [404, 6],
          [499, 1],
          [500, 1],
          [502, 2],
          [503, 1],
        ] as const);
        const method = r.weighted([
          ['GET', 85],
          ['POST', 12],
          ['PUT', 2],
          ['DELETE', 1],
        ] as const);
        const path = fill(r, r.pick(PATHS));
        const bytes = status === 304 ? 0 : r.int(120, 48_000);
        const d = now;
        const clf = `${String(d.getUTCDate()).padStart(2, '0')}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${d.toISOString().slice(11, 19)} +0000`;
        const client = ip(r);
        const rt = (r.int(1, status >= 500 ? 30_000 : 900) / 1000).toFixed(3);
        return {
          template: 'nginx.access',
          severity: status >= 500 ? SEVERITY.err : status >= 400 ? SEVERITY.warning : SEVERITY.info,
          facility: FACILITY.local7,
          message: `${client} - - [${clf}] "${method} ${path} HTTP/1.1" ${status} ${bytes} "-" "${r.pick(AGENTS)}" rt=${rt}`,
          fields: { http: { request: { method }, response: { status_code: status, body: { bytes } } }, url: { path }, source: { ip: client }, request_time: Number(rt) },
        };
      },
      20,
    ],
    [
      (r) => ({
        template: 'nginx.upstream_timeout',
        severity: SEVERITY.err,
        facility: FACILITY.local7,
        pid: r.int(1000, 9000),
        message: `*${r.int(1, 9_999_999)} upstream timed out (110: Connection timed out) while reading response header from upstream, client: ${ip(r)}, server: shop.example.com, request: "GET ${fill(r, r.pick(PATHS))} HTTP/1.1", upstream: "http://10.0.1.${r.int(10, 40)}:8080/"`,
      }),
      1,
    ],
  ],
  kernel: [
    [
      (r) => ({
        template: 'kernel.ufw_block',
        severity: SEVERITY.warning,
        facility: FACILITY.kern,
        message: `[UFW BLOCK] IN=eth0 OUT= MAC=${r.hex(2)}:${r.hex(2)}:${r.hex(2)}:${r.hex(2)}:${r.hex(2)}:${r.hex(2)} SRC=${ip(r)} DST=10.0.0.${r.int(2, 40)} LEN=${r.int(40, 60)} TOS=0x00 TTL=${r.int(40, 250)} PROTO=TCP SPT=${r.int(1024, 65_000)} DPT=${r.pick([22, 23, 3389, 5900, 8080, 6379])} WINDOW=${r.int(1024, 65_535)} SYN`,
      }),
      5,
    ],
    [
      (r) => ({
        template: 'kernel.oom',
        severity: SEVERITY.err,
        facility: FACILITY.kern,
        message: `Out of memory: Killed process ${r.int(1000, 60_000)} (${r.pick(['java', 'node', 'postgres', 'python3'])}) total-vm:${r.int(1_000_000, 9_000_000)}kB, anon-rss:${r.int(500_000, 4_000_000)}kB, file-rss:0kB, shmem-rss:0kB, UID:${r.int(100, 1000)} pgtables:${r.int(2000, 9000)}kB oom_score_adj:0`,
      }),
      1,
    ],
    [
      (r) => ({
        template: 'kernel.syn_flood',
        severity: SEVERITY.warning,
        facility: FACILITY.kern,
        message: `TCP: request_sock_TCP: Possible SYN flooding on port ${r.pick([80, 443, 8080])}. Sending cookies.  Check SNMP counters.`,
      }),
      1,
    ],
    [(r) => ({ template: 'kernel.ext4', severity: SEVERITY.info, facility: FACILITY.kern, message: `EXT4-fs (${r.pick(['sda1', 'nvme0n1p2', 'dm-0'])}): re-mounted. Quota mode: none.` }), 1],
  ],
  cron: [
    [(r) => ({ template: 'cron.cmd', severity: SEVERITY.info, facility: FACILITY.cron, pid: r.int(1000, 60_000), message: `(${r.pick(['root', 'postgres', 'www-data'])}) CMD (${r.pick(CRON)})` }), 1],
  ],
  systemd: [
    [(r) => ({ template: 'systemd.started', severity: SEVERITY.info, facility: FACILITY.daemon, pid: 1, message: `Started ${r.pick(UNITS)}.` }), 3],
    [
      (r) => ({ template: 'systemd.failed', severity: SEVERITY.err, facility: FACILITY.daemon, pid: 1, message: `${r.pick(UNITS)}: Main process exited, code=exited, status=${r.int(1, 3)}/FAILURE` }),
      1,
    ],
  ],
  postgres: [
    [
      (r) => ({
        template: 'postgres.slow',
        severity: SEVERITY.notice,
        facility: FACILITY.local0,
        pid: r.int(1000, 60_000),
        message: `LOG:  duration: ${(r.int(500, 20_000) + r.next()).toFixed(3)} ms  statement: SELECT o.id, o.total FROM orders o WHERE o.customer_id = ${r.int(1, 99_999)} ORDER BY o.created_at DESC LIMIT 20`,
      }),
      4,
    ],
    [
      (r) => ({
        template: 'postgres.unique',
        severity: SEVERITY.err,
        facility: FACILITY.local0,
        pid: r.int(1000, 60_000),
        message: `ERROR:  duplicate key value violates unique constraint "orders_pkey"  DETAIL:  Key (id)=(${r.int(1, 999_999)}) already exists.`,
      }),
      1,
    ],
    [
      (r) => ({
        template: 'postgres.checkpoint',
        severity: SEVERITY.info,
        facility: FACILITY.local0,
        pid: r.int(1000, 60_000),
        message: `LOG:  checkpoint complete: wrote ${r.int(10, 9000)} buffers (${(r.next() * 10).toFixed(1)}%); 0 WAL file(s) added, 0 removed, ${r.int(0, 3)} recycled`,
      }),
      1,
    ],
  ],
  'shop-api': [
    [
      (r) => {
        const ms = r.int(3, 400);
        return {
          template: 'app.order_placed',
          severity: SEVERITY.info,
          facility: FACILITY.user,
          pid: r.int(1000, 9000),
          message: 'order placed',
          fields: {
            order_id: `ord_${r.alnum(10)}`,
            customer_id: r.int(1, 99_999),
            amount: Number((r.int(199, 49_999) / 100).toFixed(2)),
            currency: r.pick(['EUR', 'USD', 'GBP']),
            items: r.int(1, 7),
            duration_ms: ms,
            trace_id: r.hex(32),
          },
        };
      },
      6,
    ],
    [
      (r) => ({
        template: 'app.payment_declined',
        severity: SEVERITY.warning,
        facility: FACILITY.user,
        pid: r.int(1000, 9000),
        message: 'payment declined',
        fields: { order_id: `ord_${r.alnum(10)}`, reason: r.pick(['insufficient_funds', 'card_expired', 'do_not_honor', '3ds_failed']), psp: r.pick(['stripe', 'adyen']), trace_id: r.hex(32) },
      }),
      2,
    ],
    [
      (r) => ({
        template: 'app.cache_miss',
        severity: SEVERITY.debug,
        facility: FACILITY.user,
        pid: r.int(1000, 9000),
        message: 'cache miss',
        fields: { key: `product:${r.int(1, 99_999)}`, ttl_s: 300 },
      }),
      3,
    ],
    [
      (r) => ({
        template: 'app.db_timeout',
        severity: SEVERITY.err,
        facility: FACILITY.user,
        pid: r.int(1000, 9000),
        message: 'database query timed out',
        fields: { query: 'orders_by_customer', timeout_ms: 5000, attempt: r.int(1, 3), trace_id: r.hex(32) },
      }),
      1,
    ],
  ],
  kubelet: [
    [
      (r, _h, now) => {
        const ns = r.pick(NAMESPACES);
        const app = r.pick(K8S_APPS);
        const t = now.toISOString();
        return {
          template: 'kubelet.probe',
          severity: SEVERITY.warning,
          facility: FACILITY.daemon,
          pid: r.int(500, 2000),
          message: `W${t.slice(5, 7)}${t.slice(8, 10)} ${t.slice(11, 23)}000 ${r.int(500, 2000)} prober.go:104] "Probe failed" probeType="Readiness" pod="${ns}/${app}-${r.alnum(9)}-${r.alnum(5)}" containerName="${app}" probeResult="failure" output="Get \\"http://10.244.${r.int(0, 3)}.${r.int(2, 250)}:8080/healthz\\": context deadline exceeded"`,
        };
      },
      1,
    ],
    [
      (r, _h, now) => {
        const t = now.toISOString();
        return {
          template: 'kubelet.sync',
          severity: SEVERITY.info,
          facility: FACILITY.daemon,
          pid: r.int(500, 2000),
          message: `I${t.slice(5, 7)}${t.slice(8, 10)} ${t.slice(11, 23)}000 ${r.int(500, 2000)} kubelet.go:2437] "SyncLoop (PLEG): event for pod" pod="${r.pick(NAMESPACES)}/${r.pick(K8S_APPS)}-${r.alnum(9)}-${r.alnum(5)}" event={"Type":"ContainerStarted"}`,
        };
      },
      2,
    ],
  ],
  containers: [
    [
      (r) => {
        const app = r.pick(K8S_APPS);
        const ns = app === 'coredns' ? 'kube-system' : app === 'prometheus' ? 'monitoring' : app === 'payments-gw' ? 'payments' : 'shop';
        const level = r.weighted([
          ['info', 20],
          ['debug', 6],
          ['warn', 3],
          ['error', 1],
        ] as const);
        const msg = r.pick(['request handled', 'upstream slow', 'retrying request', 'connection pool exhausted', 'config reloaded', 'served cached response']);
        return {
          app,
          template: 'k8s.container',
          severity: SEVERITY[level === 'warn' ? 'warning' : level === 'error' ? 'err' : level],
          facility: FACILITY.user,
          message: msg,
          fields: {
            kubernetes: { namespace: ns, pod: { name: `${app}-${r.alnum(9)}-${r.alnum(5)}` }, container: { name: app } },
            http: { response: { status_code: level === 'error' ? 503 : 200 } },
            duration_ms: r.int(1, 2000),
          },
        };
      },
      1,
    ],
  ],
};

/** Programs that log JSON objects (the others log text lines). */
export const JSON_PROGRAMS: ReadonlySet<string> = new Set(['shop-api', 'containers']);

/** A source of demo records. `next(kind)` asks for a text (syslog) or a JSON-shaped record. */
export interface RecordSource {
  next(kind: 'text' | 'json', now?: Date): DemoRecord;
  /** What it is, for the summary: `built-in generator` or `corpus …`. */
  readonly description: string;
}

/** The built-in generator: text programs for syslog, JSON programs (and nginx, as JSON access logs) for JSON protocols. */
export class DemoGenerator implements RecordSource {
  readonly description = 'built-in generator (sshd, nginx, kernel, cron, systemd, postgres, kubelet, an app and containers)';
  readonly rng: Rng;
  private readonly text: { host: string; app: string }[] = [];
  private readonly json: { host: string; app: string }[] = [];

  constructor(seed?: number) {
    this.rng = new Rng(seed);
    for (const h of FLEET) {
      for (const app of h.apps) {
        if (JSON_PROGRAMS.has(app)) this.json.push({ host: h.host, app });
        else this.text.push({ host: h.host, app });
        if (app === 'nginx') this.json.push({ host: h.host, app });
      }
    }
  }

  next(kind: 'text' | 'json', now = new Date()): DemoRecord {
    const r = this.rng;
    const src = r.pick(kind === 'json' ? this.json : this.text);
    const made = r.weighted(PROGRAMS[src.app] ?? [])(r, src.host, now);
    return {
      at: now,
      host: src.host,
      app: made.app ?? src.app,
      severity: made.severity,
      facility: made.facility,
      message: made.message,
      template: made.template,
      ...(made.pid !== undefined ? { pid: made.pid } : {}),
      ...(made.fields ? { fields: made.fields } : {}),
    };
  }
}

/** ECS-style `log.level` word for a syslog severity. */
export function levelName(severity: number): string {
  return ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'info', 'debug'][severity] ?? 'info';
}
