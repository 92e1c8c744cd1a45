#!/usr/bin/env node
/**
 * Messaging benchmark: home A submits → appliance A → TLS + Noise link → appliance B →
 * home B receives and acks, 1 KiB opaque bodies, durable queues on both sides. Measured in
 * the same run as the Prosody server-to-server reference (../shared/bench/xmpp-s2s), on the
 * same machine, with the same message size, exactly-once checked on both.
 *
 *   npm run build && node bench/messaging.mjs [options]
 *
 * Phases (all bounded in count and time, loopback only):
 *   prosody     the reference: a copy of xmpp-s2s/run.sh with shortened knobs; its `default`
 *               throughput and its `nodelay` p50/p99 at 500 msg/s are the anchors;
 *   throughput  N messages from a few sender users (one submit in flight per sender, batches
 *               of --batch, at most --window outstanding); home B takes them over the
 *               WebSocket stream and acks; every id exactly once and in order per sender;
 *   latency     --rate msg/s for --lat-seconds on a fixed schedule, measured from each
 *               message's scheduled time to its arrival at home B (timestamp in the body);
 *   backlog     B stopped, --backlog envelopes submitted to A, A's RSS sampled before, during
 *               and after; then B restarts and the backlog drains, exactly once.
 * RSS of both appliance processes is sampled from /proc every 100 ms throughout.
 *
 * Options: --n 50000 --batch 250 --lanes 4 --window 5000 --warmup 1000 --rate 500
 *   --lat-seconds 10 --lat-lanes 1 (senders taking turns in the latency phase)
 *   --lat-warmup-seconds 5 (each latency run's schedule starts with that much traffic, unmeasured)
 *   --backlog 100000 --backlog-batch 500 --phases throughput,latency,backlog
 *   --no-heap-poll (skip the once-a-second /metrics scrape of both appliances)
 *   --prosody-n 20000 --prosody-lat-seconds 10 --prosody-runs 1 --skip-prosody
 *   --log-dir <dir> (each appliance's stdout and stderr appended to <dir>/<domain>.log)
 *   --prosody-summary <summary.json of an earlier run.sh>  --node-options=<flags> --appliance-env K=V,...  --cpu-prof (profiles both
 *   appliances and prints where their time went)  --out bench/results/messaging-last.md  --keep
 *   --submit http|stream (home A submits with POST /v1/envelopes, one request in flight per sender;
 *   or on the home API WebSocket, pipelined: a sender does not wait for each answer)
 *   --lat-submit http,stream (the latency phase runs once per mode listed, one after the other)
 * Environment: XMPP_S2S_DIR (default ../shared/bench/xmpp-s2s beside the project); LAT_DUMP=<file>
 *   writes each latency-phase message's due, sent, accepted and arrival times as JSON.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { SourceMap } from 'node:module';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { monotonicFactory } from 'ulid';
import WebSocket from 'ws';

const root = fileURLToPath(new URL('..', import.meta.url));
const cliPath = join(root, 'bin', 'consulate.js');

const { values: opt } = parseArgs({
  options: {
    n: { type: 'string', default: '50000' },
    batch: { type: 'string', default: '250' },
    lanes: { type: 'string', default: '4' },
    window: { type: 'string', default: '5000' },
    warmup: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '500' },
    'lat-seconds': { type: 'string', default: '10' },
    'lat-lanes': { type: 'string', default: '1' },
    'lat-warmup-seconds': { type: 'string', default: '5' },
    backlog: { type: 'string', default: '100000' },
    'backlog-batch': { type: 'string', default: '500' },
    phases: { type: 'string', default: 'throughput,latency,backlog' },
    'prosody-n': { type: 'string', default: '20000' },
    'prosody-lat-seconds': { type: 'string', default: '10' },
    'prosody-runs': { type: 'string', default: '1' },
    'skip-prosody': { type: 'boolean', default: false },
    'prosody-summary': { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'node-options': { type: 'string', default: '' },
    'appliance-env': { type: 'string', default: '' },
    'idle-wait': { type: 'string', default: '60' },
    out: { type: 'string', default: join('bench', 'results', 'messaging-last.md') },
    keep: { type: 'boolean', default: false },
    'no-heap-poll': { type: 'boolean', default: false },
    'log-dir': { type: 'string' },
    submit: { type: 'string', default: 'http' },
    'lat-submit': { type: 'string', default: 'http,stream' },
  },
});
const num = (name) => {
  const v = Number(opt[name]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: not a number: ${opt[name]}`);
  return v;
};
const cfg = {
  n: num('n'),
  batch: num('batch'),
  lanes: Math.max(1, num('lanes')),
  window: num('window'),
  warmup: num('warmup'),
  rate: num('rate'),
  latSeconds: num('lat-seconds'),
  latLanes: Math.max(1, num('lat-lanes')),
  latWarmupSeconds: num('lat-warmup-seconds'),
  backlog: num('backlog'),
  backlogBatch: num('backlog-batch'),
  phases: new Set(opt.phases.split(',').filter(Boolean)),
  prosodyN: num('prosody-n'),
  prosodyLatSeconds: num('prosody-lat-seconds'),
  prosodyRuns: num('prosody-runs'),
  idleWait: num('idle-wait'),
  submit: opt.submit,
  latSubmit: opt['lat-submit'].split(',').filter(Boolean),
};
for (const mode of [cfg.submit, ...cfg.latSubmit])
  if (mode !== 'http' && mode !== 'stream') throw new Error(`--submit, --lat-submit: http or stream, not ${mode}`);
const PAYLOAD = 1024;
const HARD_LIMIT_MS = 15 * 60_000;
const DOMAIN_A = 'a.test';
const DOMAIN_B = 'b.test';

const log = (text) => process.stderr.write(`[messaging ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// Processes we start, stopped by PID whatever happens.
// ---------------------------------------------------------------------------------------
const children = new Set();
const scratch = [];
function cleanup() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (!opt.keep) for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    for (const child of children) child.kill('SIGTERM');
    setTimeout(() => process.exit(130), 3000).unref();
  });
}
const watchdog = setTimeout(() => {
  log(`hard limit of ${HARD_LIMIT_MS / 60_000} min reached; aborting`);
  process.exit(1);
}, HARD_LIMIT_MS);

function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------
// /proc sampling: RSS every 100 ms, CPU time per phase.
// ---------------------------------------------------------------------------------------
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function procStatus(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const mb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN) / 1024;
    const status = { rss: mb('VmRSS'), hwm: mb('VmHWM'), anon: mb('RssAnon'), file: mb('RssFile'), shmem: mb('RssShmem') };
    return Number.isFinite(status.rss) ? status : undefined; // a process on its way out has no VmRSS
  } catch {
    return undefined;
  }
}

function cpuMs(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return NaN;
  }
}

function machineMs() {
  const parts = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = parts.reduce((a, b) => a + b, 0);
  const idle = parts[3] + parts[4];
  return ((total - idle) * 1000) / clockTicks;
}

const samples = [];
const sampled = { a: undefined, b: undefined, label: 'setup', progress: 0 };
const sampler = setInterval(() => {
  const a = sampled.a && procStatus(sampled.a.child.pid);
  const b = sampled.b && procStatus(sampled.b.child.pid);
  samples.push({ t: performance.now(), label: sampled.label, progress: sampled.progress, a: a?.rss, b: b?.rss, aFile: a?.file, bFile: b?.file });
}, 100);
sampler.unref();

// Once a second, each appliance's own view of its memory (prom-client default metrics): how
// much of the RSS is V8 heap, and how much is external (Buffers, native allocations). Not while a
// latency run is measured: a scrape holds up each appliance and the load generator for a moment
// once a second, which showed as a once-a-second cluster among the slowest messages (Prosody is
// not scraped either). The latency rows of the memory table come from just before and after.
const heapSamples = [];
let heapPolling = false;
let latencyMeasuring = false;
const heapPoller = setInterval(async () => {
  if (heapPolling || latencyMeasuring || opt['no-heap-poll']) return;
  heapPolling = true;
  try {
    const label = sampled.label;
    const entry = { t: performance.now(), label };
    for (const side of ['a', 'b']) {
      const service = sampled[side];
      if (!service) continue;
      const text = String((await http(service.adminUrl, 'GET', '/metrics').catch(() => ({ body: '' }))).body);
      const value = (name) => Number(new RegExp(`^consulate_nodejs_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
      entry[side] = { heapTotal: value('heap_size_total_bytes'), heapUsed: value('heap_size_used_bytes'), external: value('external_memory_bytes') };
    }
    heapSamples.push(entry);
  } finally {
    heapPolling = false;
  }
}, 1000);
heapPoller.unref();

// Measured phases in the monotonic clock that V8's CPU profiles use, to cut profiles to them.
const windows = new Map();
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** CPU of each appliance, this process, the machine and everything else between two calls. */
function cpuMeter(appliances) {
  const pids = appliances.map((s) => s.child.pid);
  const start = { t: performance.now(), procs: pids.map(cpuMs), self: process.cpuUsage(), machine: machineMs() };
  const label = sampled.label;
  const fromUs = monotonicUs();
  return () => {
    windows.set(label, [fromUs, monotonicUs()]);
    const wall = performance.now() - start.t;
    const procs = pids.map((pid, i) => cpuMs(pid) - start.procs[i]);
    const selfUsage = process.cpuUsage(start.self);
    const self = (selfUsage.user + selfUsage.system) / 1000;
    const machine = machineMs() - start.machine;
    const pct = (ms) => (ms / wall) * 100;
    return {
      wallMs: wall,
      ms: { a: procs[0], b: procs[1], bench: self, machine, other: Math.max(0, machine - procs[0] - procs[1] - self) },
      pctOfCore: { a: pct(procs[0]), b: pct(procs[1]), bench: pct(self), machine: pct(machine), other: pct(Math.max(0, machine - procs[0] - procs[1] - self)) },
    };
  };
}

// ---------------------------------------------------------------------------------------
// Small helpers: percentiles, HTTP with keep-alive, metrics.
// ---------------------------------------------------------------------------------------
function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
function latencyStats(values) {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.at(-1) ?? NaN,
    count: sorted.length,
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: 32 });

function http(baseUrl, method, path, { key, body } = {}) {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // /metrics is text
          }
          resolve({ status: res.statusCode, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function metric(service, series) {
  const { body } = await http(service.adminUrl, 'GET', '/metrics');
  const line = String(body)
    .split('\n')
    .find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function waitUntil(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

// ---------------------------------------------------------------------------------------
// The reference: Prosody s2s, run by its own script in a copy of its folder.
// ---------------------------------------------------------------------------------------
async function runProsody() {
  if (opt['prosody-summary']) {
    log(`prosody: reusing ${opt['prosody-summary']}`);
    return JSON.parse(readFileSync(opt['prosody-summary'], 'utf8'));
  }
  const source = process.env['XMPP_S2S_DIR'] ?? join(root, '..', 'shared', 'bench', 'xmpp-s2s');
  if (!existsSync(join(source, 'run.sh'))) throw new Error(`no Prosody reference at ${source} (set XMPP_S2S_DIR)`);
  const copy = join(tempDir('consulate-bench-xmpp-'), 'xmpp-s2s');
  cpSync(source, copy, { recursive: true });
  execFileSync('chmod', ['-R', 'u+w', copy]); // the shared original is read-only
  // Shortened: one run per scenario, no stock-limits run, no local control phase, and no
  // waiting for an idle machine (other load is measured and shown next to the figures).
  const env = {
    ...process.env,
    RUNS: String(cfg.prosodyRuns),
    N: String(cfg.prosodyN),
    LAT_SECONDS: String(cfg.prosodyLatSeconds),
    STOCK: '0',
    IDLE_WAIT_S: String(cfg.idleWait),
    RETRIES: '0',
    MAX_SECONDS: '600',
    PHASES: 'warmup,throughput,latency,allowlist',
    RESULTS_DIR: 'results/last',
  };
  log(`prosody: running the reference (RUNS=${env.RUNS} N=${env.N} LAT_SECONDS=${env.LAT_SECONDS}) in a scratch copy`);
  const child = spawn('bash', [join(copy, 'run.sh')], { cwd: copy, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.stderr.on('data', (d) => {
    for (const line of d.toString().split('\n')) if (line.trim()) process.stderr.write(`  | ${line}\n`);
  });
  child.stdout.resume();
  const code = await new Promise((r) => child.once('exit', r));
  children.delete(child);
  const summaryPath = join(copy, 'results', 'last', 'summary.json');
  if (!existsSync(summaryPath)) throw new Error(`prosody reference failed (exit ${code}) without a summary`);
  const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
  summary.exitCode = code;
  return summary;
}

function prosodyFigures(summary) {
  const s = summary.scenarios ?? {};
  const m = (scenario, key) => s[scenario]?.[key]?.median ?? null;
  return {
    env: summary.env,
    exitCode: summary.exitCode,
    defaultThroughput: m('default', 'throughput_msgs_per_s'),
    defaultSteady: m('default', 'throughput_steady_msgs_per_s'),
    nodelayThroughput: m('nodelay', 'throughput_msgs_per_s'),
    defaultP50: m('default', 'latency_p50_ms'),
    defaultP99: m('default', 'latency_p99_ms'),
    nodelayP50: m('nodelay', 'latency_p50_ms'),
    nodelayP99: m('nodelay', 'latency_p99_ms'),
    nodelayMax: m('nodelay', 'latency_max_ms'),
    defaultCpuMsA: m('default', 'tput_cpu_ms_per_msg_A'),
    defaultCpuMsB: m('default', 'tput_cpu_ms_per_msg_B'),
    defaultOtherPct: m('default', 'tput_cpu_pct_other'),
    nodelayOtherPct: m('nodelay', 'tput_cpu_pct_other'),
    rssA: Math.max(...['default', 'nodelay'].map((k) => (s[k]?.peak_rss_kib_A?.max ?? 0) / 1024)),
    rssB: Math.max(...['default', 'nodelay'].map((k) => (s[k]?.peak_rss_kib_B?.max ?? 0) / 1024)),
    exactlyOnce: ['default', 'nodelay'].every((k) => s[k]?.exactly_once_all_runs === true),
    messagesChecked: ['default', 'nodelay'].reduce((n, k) => n + (s[k]?.messages_checked ?? 0), 0),
    contaminated: ['default', 'nodelay'].flatMap((k) => s[k]?.contaminated_runs ?? []),
  };
}

// ---------------------------------------------------------------------------------------
// Two Consulate appliances as an operator sets them up: a private CA made with OpenSSL,
// config, certificate, `consulate init`, cards exchanged, API keys; then `consulate serve`.
// ---------------------------------------------------------------------------------------
function runCli(args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`consulate ${args.join(' ')} exited ${code}: ${stderr.trim()}`));
      else resolve(stdout);
    });
  });
}

function makeCa(dir) {
  const openssl = (args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=Consulate bench CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  let serial = 1;
  return {
    caCertPath: join(dir, 'ca.crt'),
    issue(name) {
      writeFileSync(
        join(dir, `${name}.ext`),
        'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n',
      );
      openssl([
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${name}`,
      ]);
      openssl([
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-set_serial',
        String(serial++),
        '-days',
        '2',
        '-out',
        `${name}.crt`,
        '-extfile',
        `${name}.ext`,
      ]);
      return { certChainPem: readFileSync(join(dir, `${name}.crt`), 'utf8'), keyPem: readFileSync(join(dir, `${name}.key`), 'utf8') };
    },
  };
}

async function prepareAppliance(domain, ca, base) {
  const dataDir = join(base, domain);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const federationPort = await freePort();
  writeFileSync(
    join(dataDir, 'config.json'),
    JSON.stringify({
      domain,
      admin: { port: 0 },
      home: { port: 0 },
      federation: { host: '127.0.0.1', port: federationPort, publicUrl: `https://localhost:${federationPort}`, caBundleFile: ca.caCertPath },
    }),
  );
  // The same validated import that `consulate cert import` and the admin API use.
  const { loadConfig } = await import(pathToFileURL(join(root, 'dist', 'service', 'config', 'load.js')).href);
  const { openCertStore } = await import(pathToFileURL(join(root, 'dist', 'service', 'certs', 'local.js')).href);
  const { config } = loadConfig({ dataDir, env: {} });
  await openCertStore(dataDir, config).install('federation', ca.issue(domain));
  await runCli(['init', '--data-dir', dataDir]);
  return { domain, dataDir };
}

/** `consulate serve` as its own process; resolves once it logged its URLs. */
async function startAppliance(appliance, profileDir) {
  // The inspector stays closed unless the backlog phase opens it (SIGUSR1) to force a GC.
  const inspectPort = await freePort();
  // Node 20 refuses --cpu-prof in NODE_OPTIONS, so runtime flags go on the command line.
  const nodeArgs = [
    `--inspect-port=127.0.0.1:${inspectPort}`,
    ...opt['node-options'].split(/\s+/).filter(Boolean),
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, appliance.domain)}`] : []),
  ];
  const extraEnv = Object.fromEntries(
    opt['appliance-env']
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const env = { ...process.env, CONSULATE_LOG_FORMAT: 'json', ...extraEnv };
  const child = spawn(process.execPath, [...nodeArgs, cliPath, 'serve', '--data-dir', appliance.dataDir, '--admin-port', '0', '--home-port', '0'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  if (opt['log-dir']) {
    mkdirSync(opt['log-dir'], { recursive: true });
    const log = createWriteStream(join(opt['log-dir'], `${appliance.domain}.log`), { flags: 'a' });
    child.stdout.on('data', (d) => log.write(d));
    child.stderr.on('data', (d) => log.write(d));
  }
  let tail = '';
  const keep = (d) => {
    tail = (tail + d.toString()).slice(-20_000);
  };
  child.stderr.on('data', keep);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${appliance.domain} did not start in 30 s:\n${tail}`));
    }, 30_000);
    let pending = '';
    const onData = (d) => {
      keep(d);
      pending += d.toString();
      const line = pending.split('\n').find((l) => l.includes('"loginUrl"'));
      if (!line) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stdout.on('data', keep); // keep draining the pipe
      const entry = JSON.parse(line);
      child.removeAllListeners('exit');
      child.once('exit', () => children.delete(child));
      resolve({
        ...appliance,
        child,
        adminUrl: entry.adminUrl,
        inspectPort,
        homeUrl: entry.homeUrl,
        output: () => tail,
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
            child.once('exit', () => {
              clearTimeout(kill);
              done();
            });
            child.kill('SIGTERM');
          }),
      });
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${appliance.domain} exited ${code} while starting:\n${tail}`));
    });
  });
}

/**
 * A full garbage collection in an appliance through its inspector (opened on loopback by
 * SIGUSR1), then V8's heap in use: what is left is live data, not garbage awaiting a GC.
 */
async function collectGarbage(service) {
  if (!service.inspectorOpened) {
    process.kill(service.child.pid, 'SIGUSR1');
    service.inspectorOpened = true;
  }
  let targets;
  await waitUntil(
    async () => {
      targets = (await http(`http://127.0.0.1:${service.inspectPort}`, 'GET', '/json/list').catch(() => ({}))).body;
      return Array.isArray(targets) && targets.length > 0;
    },
    10_000,
    'the inspector',
  );
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let lastId = 0;
  const call = (method) =>
    new Promise((resolve, reject) => {
      const id = ++lastId;
      const onMessage = (data) => {
        const message = JSON.parse(data.toString());
        if (message.id !== id) return;
        ws.off('message', onMessage);
        if (message.error) reject(new Error(`${method}: ${message.error.message}`));
        else resolve(message.result);
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id, method }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const usage = await call('Runtime.getHeapUsage');
    return { heapUsedMb: usage.usedSize / 2 ** 20, heapTotalMb: usage.totalSize / 2 ** 20 };
  } finally {
    ws.close();
  }
}

const linkUp = (peer) => `consulate_peer_link_up{peer="${peer}",direction="outbound"}`;

// ---------------------------------------------------------------------------------------
// Messages: 1 KiB opaque bodies with a small header (phase, sequence, sender lane, time)
// followed by bytes from a random pool, so the receiver can check each byte.
// ---------------------------------------------------------------------------------------
const POOL = randomBytes(64 * 1024 + PAYLOAD);
const HEADER = 20;
const poolOffset = (seq) => (seq * 61) % (64 * 1024);
const nextId = monotonicFactory();
const PHASE_CODES = { warmup: 1, throughput: 2, latency: 3, backlog: 4 };

// Scratch buffers: the load generator allocates no Buffer per message of its own, so its
// scavenges (whose pauses land in the latency figures) have fewer array buffers to sweep.
const BODY_OUT = Buffer.alloc(PAYLOAD);
const BODY_IN = Buffer.alloc(64 * 1024);

function body(phase, seq, lane, t) {
  const b = BODY_OUT;
  POOL.copy(b, 0, poolOffset(seq), poolOffset(seq) + PAYLOAD);
  b.writeUInt32BE(PHASE_CODES[phase], 0);
  b.writeUInt32BE(seq, 4);
  b.writeUInt32BE(lane, 8);
  b.writeDoubleBE(t, 12);
  return b.toString('base64');
}

/** What a phase expects to receive; the receiver fills it in. */
function phaseState(name, n, lanes) {
  const state = {
    name,
    n,
    seen: new Uint8Array(n),
    arrival: new Float64Array(n),
    sentAt: new Float64Array(n),
    lastSeqOfLane: new Int32Array(lanes).fill(-1),
    received: 0,
    duplicates: 0,
    outOfOrder: 0,
    corrupt: 0,
    firstArrival: Infinity,
    lastArrival: 0,
    waiters: [],
    done: undefined,
  };
  state.done = new Promise((resolve) => (state.resolveDone = resolve));
  return state;
}

const phases = new Map();
const receiverErrors = [];
let strays = 0;

function onItem(item, now) {
  const b = BODY_IN.subarray(0, item.body.length > 4 * PAYLOAD ? 0 : BODY_IN.write(item.body, 'base64'));
  const code = b.length === PAYLOAD ? b.readUInt32BE(0) : 0;
  const state = [...phases.values()].find((s) => PHASE_CODES[s.name] === code);
  if (!state) return void strays++;
  const seq = b.readUInt32BE(4);
  const lane = b.readUInt32BE(8);
  if (seq >= state.n || lane >= state.lastSeqOfLane.length) return void state.corrupt++;
  const intact =
    POOL.compare(b, HEADER, PAYLOAD, poolOffset(seq) + HEADER, poolOffset(seq) + PAYLOAD) === 0 &&
    item.type === 'message' &&
    item.external === true &&
    item.origin === DOMAIN_A &&
    item.from === `alice${lane}@${DOMAIN_A}`;
  if (!intact) state.corrupt++;
  if (state.seen[seq]) return void state.duplicates++;
  state.seen[seq] = 1;
  if (seq <= state.lastSeqOfLane[lane]) state.outOfOrder++;
  state.lastSeqOfLane[lane] = seq;
  state.arrival[seq] = now;
  state.sentAt[seq] = b.readDoubleBE(12); // the send (or scheduled) time written into the body
  state.received++;
  state.firstArrival = Math.min(state.firstArrival, now);
  state.lastArrival = now;
  if (state.received === state.n) state.resolveDone();
}

/** Home B: the WebSocket inbound stream, acking every push. */
function connectReceiver(service, key) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${service.homeUrl.replace(/^http/, 'ws')}/v1/inbound/stream?after=0`, {
      headers: { authorization: `Bearer ${key}` },
      perMessageDeflate: false,
    });
    ws.on('message', (data) => {
      const now = performance.now();
      const message = JSON.parse(data.toString());
      if (message.error) return void receiverErrors.push(message.error);
      for (const item of message.items) onItem(item, now);
      ws.send(JSON.stringify({ ack: message.items.map((i) => i.id) }));
      for (const state of phases.values()) for (const wake of state.waiters.splice(0)) wake();
    });
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', (error) => receiverErrors.push({ code: 'socket', message: error.message }));
      resolve(ws);
    });
    ws.once('error', reject);
  });
}

/** Submits one request of consecutive sequence numbers from one sender; checks the 202. */
function submit(a, key, phase, state, lane, first, count, stampNow) {
  return submitSeqs(
    a,
    key,
    phase,
    state,
    lane,
    Array.from({ length: count }, (_, i) => first + i),
    stampNow,
  );
}

/** Submits the given sequence numbers from one sender in one request; checks the 202. */
async function submitSeqs(a, key, phase, state, lane, seqs, stampNow, mode = cfg.submit) {
  const ts = Date.now();
  const envelopes = seqs.map((seq) => {
    const t = stampNow ? performance.now() : state.sentAt[seq];
    if (stampNow) state.sentAt[seq] = t;
    return { id: nextId(), from: `alice${lane}@${DOMAIN_A}`, to: [`bob@${DOMAIN_B}`], type: 'message', ts, body: body(phase, seq, lane, t) };
  });
  if (mode === 'stream') {
    const answer = await (await submitStream(a, key, lane)).submit(envelopes);
    if (answer.accepted?.length !== seqs.length) throw new Error(`submit on the stream: ${JSON.stringify(answer).slice(0, 300)}`);
    return performance.now();
  }
  const res = await http(a.homeUrl, 'POST', '/v1/envelopes', { key, body: { envelopes } });
  if (res.status !== 202 || res.body?.accepted?.length !== seqs.length) throw new Error(`submit: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  return performance.now();
}

/**
 * --submit stream: each sender submits on its own home API WebSocket without waiting for the
 * answer to its previous submission (the appliance keeps a stream's submissions in order).
 */
const submitStreams = new Map();
function submitStream(a, key, lane) {
  const id = `${a.homeUrl} ${lane}`;
  if (!submitStreams.has(id)) {
    submitStreams.set(
      id,
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${a.homeUrl.replace(/^http/, 'ws')}/v1/inbound/stream?after=0`, {
          headers: { authorization: `Bearer ${key}` },
          perMessageDeflate: false,
        });
        const waiting = new Map();
        let nextTag = 1;
        ws.on('message', (data) => {
          const message = JSON.parse(data.toString());
          if (message.items) return void ws.send(JSON.stringify({ ack: message.items.map((i) => i.id) }));
          const answer = waiting.get(message.tag);
          if (!answer) return void receiverErrors.push(message.error ?? { code: 'stray', message: data.toString().slice(0, 200) });
          waiting.delete(message.tag);
          if (message.error) answer.reject(new Error(`submit on the stream: ${message.error.code}: ${message.error.message}`));
          else answer.resolve(message.submitted);
        });
        ws.on('close', () => {
          submitStreams.delete(id);
          for (const answer of waiting.values()) answer.reject(new Error('submit stream closed'));
          waiting.clear();
        });
        ws.once('error', reject);
        ws.once('open', () =>
          resolve({
            ws,
            submit(envelopes) {
              const tag = nextTag++;
              ws.send(JSON.stringify({ submit: { envelopes }, tag }));
              return new Promise((resolveAnswer, rejectAnswer) => waiting.set(tag, { resolve: resolveAnswer, reject: rejectAnswer }));
            },
          }),
        );
      }),
    );
  }
  return submitStreams.get(id);
}

/** Several senders, one request in flight each, at most `window` sent but not yet received. */
async function submitLanes(a, key, phase, state, { lanes, batch, window, onProgress, from = 0, to = state.n }) {
  let next = from;
  let submitted = from;
  const lane = async (l) => {
    while (next < to) {
      const first = next;
      const count = Math.min(batch, to - next);
      next += count;
      while (window > 0 && first + count - state.received > window) await new Promise((r) => state.waiters.push(r));
      await submit(a, key, phase, state, l, first, count, true);
      submitted += count;
      onProgress?.(submitted);
    }
  };
  await Promise.all(Array.from({ length: lanes }, (_, l) => lane(l)));
}

async function waitDone(state, timeoutMs) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${state.name}: ${state.received}/${state.n} received after ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([state.done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function integrity(state) {
  return {
    messages: state.n,
    received: state.received,
    missing: state.n - state.received,
    duplicates: state.duplicates,
    outOfOrder: state.outOfOrder,
    corrupt: state.corrupt,
    ok: state.received === state.n && state.duplicates === 0 && state.outOfOrder === 0 && state.corrupt === 0,
  };
}

// ---------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------
async function throughputPhase(ctx) {
  const { a, keyA } = ctx;
  if (cfg.warmup > 0) {
    const warm = phaseState('warmup', cfg.warmup, cfg.lanes);
    phases.set('warmup', warm);
    sampled.label = 'warmup';
    await submitLanes(a, keyA, 'warmup', warm, { lanes: cfg.lanes, batch: cfg.batch, window: cfg.window });
    await waitDone(warm, 60_000);
    ctx.results.warmup = integrity(warm);
  }
  const state = phaseState('throughput', cfg.n, cfg.lanes);
  phases.set('throughput', state);
  sampled.label = 'throughput';
  log(`throughput: ${cfg.n} messages, ${cfg.lanes} senders, batches of ${cfg.batch}, window ${cfg.window}`);
  const meter = cpuMeter([a, ctx.b]);
  const started = performance.now();
  await submitLanes(a, keyA, 'throughput', state, { lanes: cfg.lanes, batch: cfg.batch, window: cfg.window });
  const submittedIn = performance.now() - started;
  await waitDone(state, Math.max(120_000, cfg.n * 5));
  const cpu = meter();
  const arrivals = Float64Array.from(state.arrival).sort();
  const seconds = (state.lastArrival - started) / 1000;
  const t10 = arrivals[Math.floor(cfg.n * 0.1)];
  const t90 = arrivals[Math.floor(cfg.n * 0.9) - 1];
  const latency = latencyStats(Array.from(state.arrival, (t, i) => t - state.sentAt[i]));
  const result = {
    msgsPerS: cfg.n / seconds,
    steadyMsgsPerS: (cfg.n * 0.8) / ((t90 - t10) / 1000),
    submitMsgsPerS: cfg.n / (submittedIn / 1000),
    seconds,
    latencyUnderLoad: latency,
    cpu,
    cpuMsPerMsg: { a: cpu.ms.a / cfg.n, b: cpu.ms.b / cfg.n, bench: cpu.ms.bench / cfg.n },
    exactlyOnce: integrity(state),
  };
  log(
    `throughput: ${result.msgsPerS.toFixed(0)} msg/s (steady ${result.steadyMsgsPerS.toFixed(0)}), p50/p99 under load ${latency.p50.toFixed(1)}/${latency.p99.toFixed(1)} ms, exactly once: ${result.exactlyOnce.ok}`,
  );
  ctx.results.throughput = result;
}

async function latencyPhase(ctx, mode) {
  const { a, keyA } = ctx;
  const total = Math.round(cfg.rate * cfg.latSeconds);
  const interval = 1000 / cfg.rate;
  const state = phaseState('latency', total, cfg.latLanes);
  phases.set('latency', state);
  sampled.label = mode === 'stream' ? 'latency (stream)' : 'latency';
  const lanes = cfg.latLanes;
  log(
    `latency: ${cfg.rate} msg/s for ${cfg.latSeconds} s on a fixed schedule, ${lanes} sender(s) taking turns, ` +
      (mode === 'stream' ? 'submitting on the home API WebSocket without waiting for answers' : 'one HTTP request in flight each'),
  );
  await sleep(500);
  // The first seconds of the schedule are not measured: the submit mode's code path (one
  // envelope per request, the one-row inserts, the stream's handlers) is compiled and its
  // statements prepared before the clock runs, as in an appliance that has been up for a while.
  // The schedule goes on without a pause into the measured messages (after a pause, the first
  // few messages were slow again).
  let start = performance.now() + 20;
  let warm, warmAnswered;
  if (cfg.latWarmupSeconds > 0) {
    const warmTotal = Math.round(cfg.rate * cfg.latWarmupSeconds);
    warm = phaseState('warmup', warmTotal, lanes);
    phases.set('warmup', warm);
    warmAnswered = (await paced(a, keyA, mode, warm, 'warmup', warmTotal, interval, lanes, start)).answered;
    start += warmTotal * interval;
  }
  const meter = cpuMeter([a, ctx.b]);
  latencyMeasuring = true;
  let run, sendSeconds;
  try {
    run = await paced(a, keyA, mode, state, 'latency', total, interval, lanes, start);
    sendSeconds = (performance.now() - run.t0) / 1000;
    await run.answered;
    await waitDone(state, 60_000);
  } finally {
    latencyMeasuring = false;
  }
  if (warm) {
    await warmAnswered;
    await waitDone(warm, 60_000);
    if (!integrity(warm).ok) throw new Error(`latency warm-up (${mode}): not exactly once: ${JSON.stringify(integrity(warm))}`);
  }
  const { t0, requests, acceptedAt, startedAt, acceptedAfter, requestMs, sendLag } = run;
  const cpu = meter();
  const stats = latencyStats(Array.from(state.arrival, (t, i) => t - state.sentAt[i]));
  if (process.env.LAT_DUMP)
    writeFileSync(
      process.env.LAT_DUMP,
      JSON.stringify({
        origin: performance.timeOrigin,
        t0,
        due: Array.from(state.sentAt),
        arrival: Array.from(state.arrival),
        accepted: Array.from(acceptedAt),
        started: Array.from(startedAt),
      }),
    );
  let slowest = 0;
  for (let i = 1; i < total; i++) if (state.arrival[i] - state.sentAt[i] > state.arrival[slowest] - state.sentAt[slowest]) slowest = i;
  const result = {
    mode,
    rate: cfg.rate,
    seconds: cfg.latSeconds,
    achievedRate: total / sendSeconds,
    requests,
    ...stats,
    // The part of each message's latency until home A had its 202 (HTTP, validation, commit).
    untilAccepted: latencyStats(acceptedAfter),
    // Of that: how long each message waited in the load generator before its request left
    // (timer lateness, or the previous request still in flight), and each request's round trip.
    sendLag: latencyStats(sendLag),
    request: latencyStats(requestMs),
    over100ms: Array.from(state.arrival).filter((t, i) => t - state.sentAt[i] > 100).length,
    slowestDueAtS: (state.sentAt[slowest] - t0) / 1000,
    cpu,
    exactlyOnce: integrity(state),
  };
  log(
    `latency (${mode}): p50 ${stats.p50.toFixed(2)} ms, p99 ${stats.p99.toFixed(2)} ms, max ${stats.max.toFixed(1)} ms over ${total} messages in ${requests} requests; exactly once: ${result.exactlyOnce.ok}; CPU % of one core A ${cpu.pctOfCore.a.toFixed(0)}, B ${cpu.pctOfCore.b.toFixed(0)}, load generator ${cpu.pctOfCore.bench.toFixed(0)}`,
  );
  ctx.results[mode === 'stream' ? 'latencyStream' : 'latency'] = result;
}

/**
 * Sends `total` messages of `phase` from home A, message i due at t0 + i × interval, each sender
 * (message i is sender i mod lanes) submitting what is due in one request.
 */
async function paced(a, keyA, mode, state, phase, total, interval, lanes, t0) {
  for (let i = 0; i < total; i++) state.sentAt[i] = t0 + i * interval;
  let requests = 0;
  const acceptedAfter = [];
  const requestMs = [];
  const sendLag = [];
  // Message i is sent by sender i mod lanes. Each sender sends everything of its own that is
  // due in one request (a home server coalesces what queued up meanwhile) and waits for the
  // 202 before its next request, so each sender's order is the order of its submissions.
  const lane = async (l) => {
    let next = l;
    while (next < total) {
      const now = performance.now();
      const seqs = [];
      for (let i = next; i < total && state.sentAt[i] <= now; i += lanes) seqs.push(i);
      if (seqs.length === 0) {
        await sleep(Math.max(0, state.sentAt[next] - now - 0.5));
        continue;
      }
      const started = performance.now();
      const request = submitSeqs(a, keyA, phase, state, l, seqs, false, mode).then((accepted) => {
        requestMs.push(accepted - started);
        for (const i of seqs) {
          acceptedAt[i] = accepted;
          startedAt[i] = started;
          acceptedAfter.push(accepted - state.sentAt[i]);
          sendLag.push(started - state.sentAt[i]);
        }
      });
      requests++;
      next = seqs[seqs.length - 1] + lanes;
      // Over HTTP a sender waits for its 202; on the stream it goes on (answers come in order).
      if (mode === 'stream') pipelined.add(request);
      else await request;
    }
  };
  // Only the submissions still unanswered: holding every promise of the phase would keep them
  // alive through each scavenge of the load generator, whose pauses then show up as latency.
  const pipelined = {
    waiting: 0,
    failed: undefined,
    idle: undefined,
    add(request) {
      this.waiting++;
      request.then(
        () => this.settled(),
        (error) => this.settled((this.failed ??= error)),
      );
    },
    settled() {
      if (--this.waiting === 0) this.idle?.();
    },
    done() {
      return this.waiting === 0 ? Promise.resolve() : new Promise((resolve) => (this.idle = resolve));
    },
  };
  const acceptedAt = new Float64Array(total);
  const startedAt = new Float64Array(total);
  await Promise.all(Array.from({ length: lanes }, (_, l) => lane(l)));
  // Resolves once every submission is answered; the caller may start the next schedule first.
  const answered = pipelined.done().then(() => {
    if (pipelined.failed) throw pipelined.failed;
  });
  answered.catch(() => {}); // awaited by the caller
  return { t0, requests, acceptedAt, startedAt, acceptedAfter, requestMs, sendLag, answered };
}

async function inboxEmpty(service, key) {
  const res = await http(service.homeUrl, 'GET', '/v1/inbound?after=0&limit=1', { key });
  return res.status === 200 && res.body.items.length === 0;
}

function slope(points) {
  // Least squares of y on x.
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  return sxx === 0 ? NaN : sxy / sxx;
}

async function backlogPhase(ctx) {
  const { a, keyA, keyB } = ctx;
  const n = cfg.backlog;
  log(`backlog: stopping ${DOMAIN_B}, then ${n} envelopes wait in ${DOMAIN_A}'s outbox`);
  // Home B has acknowledged everything so far, so nothing is redelivered after the restart.
  await waitUntil(() => inboxEmpty(ctx.b, keyB), 20_000, 'home B to have acknowledged everything');
  ctx.receiver.close();
  sampled.label = 'backlog: B stopping';
  await ctx.b.stop();
  sampled.b = undefined;
  await waitUntil(async () => (await metric(a, linkUp(DOMAIN_B))) === 0, 20_000, `${DOMAIN_A} to see the link down`);
  const mean = (xs) => xs.reduce((sum, x) => sum + x, 0) / xs.length;
  // A full GC first (through the inspector), so that what is measured is live memory.
  const settled = async (label) => {
    sampled.label = label;
    const gc = await collectGarbage(a);
    await sleep(1000);
    const from = samples.length;
    await sleep(2000);
    return {
      rss: mean(
        samples
          .slice(from)
          .map((x) => x.a)
          .filter(Number.isFinite),
      ),
      heapUsed: gc.heapUsedMb,
    };
  };
  const before = await settled('backlog: before');
  const state = phaseState('backlog', n, cfg.lanes);
  phases.set('backlog', state);
  sampled.label = 'backlog: submitting';
  sampled.progress = 0;
  const duringFrom = samples.length;
  const started = performance.now();
  const half = Math.floor(n / 2);
  const submitOptions = { lanes: cfg.lanes, batch: cfg.backlogBatch, window: 0, onProgress: (k) => (sampled.progress = k) };
  // In two halves: the first half also grows the allocator's pools once for the submission
  // traffic itself; what the second half adds is what waiting envelopes cost.
  await submitLanes(a, keyA, 'backlog', state, { ...submitOptions, to: half });
  let submitMs = performance.now() - started;
  const mid = await settled('backlog: half queued');
  sampled.label = 'backlog: submitting';
  const secondStarted = performance.now();
  await submitLanes(a, keyA, 'backlog', state, { ...submitOptions, from: half });
  submitMs += performance.now() - secondStarted;
  const submitSeconds = submitMs / 1000;
  const during = samples.slice(duringFrom).filter((x) => x.label === 'backlog: submitting');
  const after = await settled('backlog: all queued');
  const depth = await metric(a, `consulate_outbox_depth{peer="${DOMAIN_B}"}`);
  const points = during.filter((x) => x.a !== undefined).map((x) => ({ x: x.progress, y: x.a }));
  const result = {
    envelopes: n,
    submitSeconds,
    submitMsgsPerS: n / submitSeconds,
    outboxDepthAfter: depth,
    rssBeforeMb: before.rss,
    rssHalfMb: mid.rss,
    rssPeakDuringMb: Math.max(...during.map((x) => x.a ?? 0)),
    rssAfterMb: after.rss,
    heapUsedBeforeMb: before.heapUsed,
    heapUsedHalfMb: mid.heapUsed,
    heapUsedAfterMb: after.heapUsed,
    slopeMbPer10k: slope(points) * 10_000,
    slopeSecondHalfMbPer10k: slope(points.filter((p) => p.x >= half)) * 10_000,
    payloadMb: (n * PAYLOAD) / 2 ** 20,
  };
  result.deltaMb = result.rssAfterMb - result.rssBeforeMb;
  result.secondHalfDeltaMb = result.rssAfterMb - result.rssHalfMb;
  log(
    `backlog: ${n} queued in ${submitSeconds.toFixed(1)} s (outbox depth ${depth}); A's RSS before ${result.rssBeforeMb.toFixed(1)} MB, ` +
      `at 50 % ${result.rssHalfMb.toFixed(1)} MB, at 100 % ${result.rssAfterMb.toFixed(1)} MB, peak ${result.rssPeakDuringMb.toFixed(1)} MB; heap used ${result.heapUsedBeforeMb.toFixed(0)} → ${result.heapUsedHalfMb.toFixed(0)} → ${result.heapUsedAfterMb.toFixed(0)} MB`,
  );

  // B comes back; the backlog drains exactly once.
  sampled.label = 'backlog: draining';
  const restarted = performance.now();
  ctx.b = await startAppliance(ctx.bPrepared, ctx.profileDir);
  ctx.bProcesses.push(ctx.b);
  sampled.b = ctx.b;
  ctx.receiver = await connectReceiver(ctx.b, keyB);
  const meter = cpuMeter([a, ctx.b]);
  await waitDone(state, 240_000);
  const cpu = meter();
  await waitUntil(async () => (await metric(a, `consulate_outbox_depth{peer="${DOMAIN_B}"}`)) === 0, 30_000, 'the outbox to drain');
  // The first arrival waits for B's start-up and A's reconnect backoff; the rate is what follows.
  result.firstArrivalAfterRestartS = (state.firstArrival - restarted) / 1000;
  result.drainSeconds = (state.lastArrival - state.firstArrival) / 1000;
  result.drainMsgsPerS = n / result.drainSeconds;
  result.drainCpu = cpu;
  result.exactlyOnce = integrity(state);
  log(
    `backlog: first envelope ${result.firstArrivalAfterRestartS.toFixed(1)} s after B's restart, then drained in ${result.drainSeconds.toFixed(1)} s (${result.drainMsgsPerS.toFixed(0)} msg/s); exactly once: ${result.exactlyOnce.ok}`,
  );
  ctx.results.backlog = result;
}

// ---------------------------------------------------------------------------------------
// CPU profiles: self and inclusive time per function, mapped back to service/*.ts lines.
// ---------------------------------------------------------------------------------------
const sourceMaps = new Map();
function originalPosition(url, line, column) {
  if (!url.startsWith('file://')) return undefined;
  const file = fileURLToPath(url);
  if (!sourceMaps.has(file)) {
    let map;
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = undefined;
    }
    sourceMaps.set(file, map);
  }
  const map = sourceMaps.get(file);
  const entry = map?.findEntry(line, column);
  if (!entry?.originalSource) return undefined;
  const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : join(dirname(file), entry.originalSource);
  return `${relative(root, source)}:${entry.originalLine + 1}`;
}

function frameLabel(frame) {
  const name = frame.functionName || '(anonymous)';
  const url = frame.url ?? '';
  if (!url) return name;
  const mapped = originalPosition(url, frame.lineNumber, frame.columnNumber);
  if (mapped) return `${name} ${mapped}`;
  const path = url.startsWith('file://') ? relative(root, fileURLToPath(url)) : url;
  return `${name} ${path.replace(/^.*node_modules\//, '')}:${frame.lineNumber + 1}`;
}

function component(frame, parentComponent) {
  const url = frame.url ?? '';
  const name = frame.functionName;
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return 'V8 (program)';
  if (url.includes('better-sqlite3')) return 'SQLite (better-sqlite3)';
  if (url.includes('/zod/')) return 'zod validation';
  if (url.includes('cbor-x') || url.includes('cbor-extract')) return 'CBOR (cbor-x)';
  if (url.includes('libsodium') || url.startsWith('wasm://')) return 'libsodium (Noise crypto)';
  if (url.includes('/node_modules/ws/')) return 'ws';
  if (url.includes('/koa') || url.includes('@koa') || url.includes('co-body') || url.includes('raw-body')) return 'koa + body parser';
  if (url.includes('pino') || url.includes('sonic-boom')) return 'logging (pino)';
  if (url.includes('prom-client')) return 'metrics (prom-client)';
  if (url.includes('/dist/service/')) return `service/${url.split('/dist/service/')[1].split('/')[0]}`;
  if (url.includes('node:internal/tls') || url.includes('node:_tls') || url.startsWith('node:tls')) return 'node TLS';
  if (url.startsWith('node:')) return 'node core (http, streams, net)';
  // Native code has no URL: count it with the JS that called it (e.g. SQLite statement runs).
  return parentComponent ?? 'native';
}

function summariseProfile(file, window, top = 18) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  let at = profile.startTime;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const componentOf = new Map();
  const resolveComponent = (id) => {
    if (componentOf.has(id)) return componentOf.get(id);
    const node = nodes.get(id);
    const up = parent.get(id);
    const inherited = node.callFrame.url ? undefined : up !== undefined ? resolveComponent(up) : undefined;
    const c = component(node.callFrame, inherited);
    componentOf.set(id, c);
    return c;
  };
  const self = new Map();
  const inclusive = new Map();
  const components = new Map();
  let total = 0;
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    const dt = profile.timeDeltas[i + 1] ?? 0;
    at += profile.timeDeltas[i] ?? 0;
    if (window && (at < window[0] || at > window[1])) continue;
    total += dt;
    const node = nodes.get(id);
    const c = resolveComponent(id);
    components.set(c, (components.get(c) ?? 0) + dt);
    if (c === 'idle') continue;
    busy += dt;
    const key = frameLabel(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + dt);
    const onStack = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const f = nodes.get(at).callFrame;
      if (f.url?.includes('/dist/service/')) onStack.add(frameLabel(f));
    }
    for (const k of onStack) inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
  }
  const rank = (m) =>
    [...m]
      .sort((x, y) => y[1] - x[1])
      .slice(0, top)
      .map(([k, us]) => ({ what: k, ms: us / 1000, pctOfBusy: (us / busy) * 100 }));
  return {
    file,
    totalMs: total / 1000,
    busyMs: busy / 1000,
    components: rank(components).filter((c) => c.what !== 'idle'),
    self: rank(self),
    inclusive: rank(inclusive),
  };
}

// ---------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '–');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const yes = (b) => (b === undefined ? '–' : b ? '**met**' : '**missed**');

function report(ctx, prosody) {
  const r = ctx.results;
  const t = r.throughput;
  const lh = r.latency;
  const ls = r.latencyStream;
  // The target is judged on the lower p99 of the two ways a home can submit; both are reported.
  const l = lh && ls ? (ls.p99 <= lh.p99 ? ls : lh) : (ls ?? lh);
  const k = r.backlog;
  const maxOf = (xs) => (xs.length ? Math.max(...xs) : NaN);
  const peak = (key, label) =>
    maxOf(
      samples
        .filter((s) => label === undefined || s.label === label)
        .map((s) => s[key])
        .filter(Number.isFinite),
    );
  const rssA = Math.max(peak('a') || 0, ctx.hwm.a ?? 0);
  const rssB = Math.max(peak('b') || 0, ...ctx.hwm.b);
  const ratio = t && prosody?.defaultThroughput ? t.msgsPerS / prosody.defaultThroughput : NaN;
  const p99Ratio = l && prosody?.nodelayP99 ? l.p99 / prosody.nodelayP99 : NaN;
  // Flat: after a full GC, the live V8 heap with the whole backlog queued is within 10 % of
  // the backlog's body bytes of what it was before, and the second half of the backlog adds
  // less than 10 % of its body bytes to RSS (an in-memory queue would add all of them).
  const flat = k ? k.heapUsedAfterMb - k.heapUsedBeforeMb <= 0.1 * k.payloadMb && k.secondHalfDeltaMb <= 0.1 * (k.payloadMb / 2) : undefined;
  r.verdict = {
    throughputRatio: ratio,
    throughputMet: Number.isFinite(ratio) ? ratio >= 4 : undefined,
    p99Ratio,
    p99Met: Number.isFinite(p99Ratio) ? p99Ratio <= 1 : undefined,
    rssA,
    rssB,
    rssMet: rssA <= 150 && rssB <= 150,
    backlogFlat: flat,
  };
  const v = r.verdict;
  const L = [];
  L.push('# Messaging benchmark: Consulate vs. the Prosody s2s reference');
  L.push('');
  L.push(
    `Run ${r.date} on ${cpus().length} CPUs (${cpus()[0]?.model.trim()}), Node ${process.version}. ` +
      `Command: \`node bench/messaging.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\`.`,
  );
  if (prosody)
    L.push(
      `Reference: Prosody ${prosody.env?.prosody ?? '?'} via xmpp-s2s/run.sh in the same run (RUNS=${prosody.env?.runs} N=${prosody.env?.n} window ${prosody.env?.window}, ` +
        `${prosody.env?.rate} msg/s for ${prosody.env?.lat_seconds} s), exit ${prosody.exitCode ?? '?'}.`,
    );
  L.push(
    `Consulate: two \`consulate serve\` processes, a.test → b.test over TLS (private CA) + Noise IK, SQLite WAL queues on both sides; ` +
      `home A submits ${cfg.submit === 'stream' ? 'on the home API WebSocket' : 'over HTTP'} (${cfg.lanes} sender users, batches of ${cfg.batch}, one submission in flight per sender, window ${cfg.window}; the latency phase ${cfg.latSubmit.map((m) => (m === 'stream' ? 'on the WebSocket, pipelined' : 'over HTTP')).join(', then ')}), ` +
      `home B takes the WebSocket stream and acks every push. Bodies: ${PAYLOAD} random bytes (base64 in the home API, raw bytes on the link).`,
  );
  L.push('');
  L.push('| | Prosody (reference) | Consulate | ratio | target | |');
  L.push('|---|---|---|---|---|---|');
  L.push(
    `| sustained throughput, msg/s | ${f0(prosody?.defaultThroughput)} (\`default\`; \`nodelay\` ${f0(prosody?.nodelayThroughput)}) | ${f0(t?.msgsPerS)} (steady 10–90 %: ${f0(t?.steadyMsgsPerS)}) | ${f2(ratio)}× | ≥ 4× | ${yes(v.throughputMet)} |`,
  );
  L.push(
    `| latency at ${cfg.rate} msg/s, p50 / p99 ms | ${f1(prosody?.nodelayP50)} / ${f1(prosody?.nodelayP99)} (\`nodelay\`; \`default\` ${f1(prosody?.defaultP50)} / ${f1(prosody?.defaultP99)}) | ` +
      [ls && `submitting on the stream ${f2(ls.p50)} / ${f2(ls.p99)} (max ${f1(ls.max)})`, lh && `over HTTP ${f2(lh.p50)} / ${f2(lh.p99)} (max ${f1(lh.max)})`]
        .filter(Boolean)
        .join('; ') +
      ` | p99 ${f2(p99Ratio)}×${lh && ls ? ` (${l === ls ? 'stream' : 'HTTP'})` : ''} | p99 ≤ 1× | ${yes(v.p99Met)} |`,
  );
  L.push(`| peak RSS A / B, MB | ${f1(prosody?.rssA)} / ${f1(prosody?.rssB)} | ${f1(rssA)} / ${f1(rssB)} | | ≤ 150 each | ${yes(v.rssMet)} |`);
  if (k)
    L.push(
      `| A's RSS while ${k.envelopes.toLocaleString('en')} envelopes wait for an offline peer | in memory only | RSS before ${f0(k.rssBeforeMb)}, at 50 % ${f0(k.rssHalfMb)}, at 100 % ${f0(k.rssAfterMb)} MB (peak ${f0(k.rssPeakDuringMb)}); second half Δ ${f1(k.secondHalfDeltaMb)} MB; V8 heap used ${f0(k.heapUsedBeforeMb)} → ${f0(k.heapUsedHalfMb)} → ${f0(k.heapUsedAfterMb)} MB | | flat | ${yes(v.backlogFlat)} |`,
    );
  L.push(
    `| exactly once | ${prosody ? `${prosody.exactlyOnce ? 'yes' : 'NO'} (${prosody.messagesChecked} msgs)` : '–'} | ${[
      'warmup',
      'throughput',
      'latency',
      'latencyStream',
      'backlog',
    ]
      .filter((p) => r[p])
      .map((p) => {
        const e = r[p].exactlyOnce ?? r[p];
        return `${p} ${e.ok ? 'yes' : 'NO'} (${e.received}/${e.messages}, ${e.duplicates} dup, ${e.outOfOrder} out of order, ${e.corrupt} corrupt)`;
      })
      .join('; ')}${strays ? `; ${strays} stray items` : ''} | | | |`,
  );
  if (t)
    L.push(
      `| CPU ms per message in the throughput phase, A / B | ${f2(prosody?.defaultCpuMsA)} / ${f2(prosody?.defaultCpuMsB)} | ${f2(t.cpuMsPerMsg.a)} / ${f2(t.cpuMsPerMsg.b)} (load generator ${f2(t.cpuMsPerMsg.bench)}) | | | |`,
    );
  L.push(
    `| other processes on the machine, % of one core | ${f0(prosody?.defaultOtherPct)} (\`default\` throughput), ${f0(prosody?.nodelayOtherPct)} (\`nodelay\`) | ${f0(t?.cpu.pctOfCore.other)} (throughput), ${f0(l?.cpu.pctOfCore.other)} (latency) | | | |`,
  );
  L.push('');
  const details = [];
  if (t)
    details.push(
      `- Throughput: ${t.exactlyOnce.messages} messages in ${f1(t.seconds)} s; submit side ${f0(t.submitMsgsPerS)} msg/s; latency under load (submit → home B) p50 ${f1(t.latencyUnderLoad.p50)} / p99 ${f1(t.latencyUnderLoad.p99)} ms; ` +
        `CPU % of one core: A ${f0(t.cpu.pctOfCore.a)}, B ${f0(t.cpu.pctOfCore.b)}, load generator ${f0(t.cpu.pctOfCore.bench)}, machine ${f0(t.cpu.pctOfCore.machine)} of ${cpus().length * 100}.`,
    );
  for (const x of [lh, ls].filter(Boolean))
    details.push(
      `- Latency, ${x.mode === 'stream' ? 'submitting on the home API WebSocket (pipelined, answers in order)' : 'submitting over HTTP (one request in flight)'}: ${x.exactlyOnce.messages} messages at ${f0(x.achievedRate)} msg/s in ${x.requests} submissions, measured from each message's scheduled time to its arrival at home B; ` +
        `p50 / p90 / p99 / p99.9 / max ${f2(x.p50)} / ${f2(x.p90)} / ${f2(x.p99)} / ${f2(x.p999)} / ${f1(x.max)} ms; ${x.over100ms} over 100 ms; slowest due at ${f1(x.slowestDueAtS)} s. Of that, until home A's answer (202 or stream answer): p50 ${f2(x.untilAccepted.p50)} / p99 ${f2(x.untilAccepted.p99)} ms` +
        (x.sendLag
          ? ` (waiting in the load generator p50 ${f2(x.sendLag.p50)} / p99 ${f2(x.sendLag.p99)} ms; submission round trip p50 ${f2(x.request.p50)} / p99 ${f2(x.request.p99)} ms)`
          : '') +
        `; CPU % of one core: A ${f0(x.cpu.pctOfCore.a)}, B ${f0(x.cpu.pctOfCore.b)}, load generator ${f0(x.cpu.pctOfCore.bench)}.`,
    );
  if (k)
    details.push(
      `- Backlog: ${k.envelopes} envelopes (${f0(k.payloadMb)} MB of bodies) submitted in ${f1(k.submitSeconds)} s (${f0(k.submitMsgsPerS)} msg/s) while B was stopped; outbox depth ${k.outboxDepthAfter}; ` +
        `submitted in two halves with a pause. While requests stream in, raw RSS rises with garbage not yet collected (${f2(k.slopeMbPer10k)} MB per 10k envelopes over the submission, peak ${f0(k.rssPeakDuringMb)} MB); ` +
        `the points before, at 50 % and at 100 % are measured after a full GC forced through the appliance's inspector: RSS at 100 % minus before ${f1(k.deltaMb)} MB, where an in-memory queue would hold at least ${f0(k.payloadMb)} MB of bodies. "Flat" here: the live heap with everything queued is within 10 % of the backlog's body bytes of before, and the second half adds less than 10 % of its body bytes to RSS. ` +
        `After B's restart the first envelope arrived after ${f1(k.firstArrivalAfterRestartS)} s (start-up and A's reconnect backoff), then the backlog drained in ${f1(k.drainSeconds)} s (${f0(k.drainMsgsPerS)} msg/s, A's RSS peak ${f0(peak('a', 'backlog: draining'))} MB).`,
    );
  details.push(
    '- Durability: each 202 and each link ack follows a committed SQLite transaction (WAL, synchronous=NORMAL: survives a process crash; an OS crash can lose the last commits). Prosody keeps its queues in memory.',
  );
  if (prosody?.contaminated?.length || (t && t.cpu.pctOfCore.other > 10))
    details.push(
      '- The machine was shared: other processes used more than 10 % of a core during some phases (figures above). Both systems ran under that load in the same run; absolute figures are lower than on an idle machine.',
    );
  L.push(...details);
  L.push('');
  L.push(
    'Memory of the appliances per phase, peak MB, A / B: RSS from /proc every 100 ms (of it file-backed, e.g. mapped SQLite and code); V8 heap and external memory as each appliance reports them on /metrics every second.',
  );
  L.push('');
  L.push('| phase | RSS | of it file-backed | V8 heap total | V8 heap used | external (Buffers, native) |');
  L.push('|---|---|---|---|---|---|');
  const heapPeak = (side, key, label) =>
    maxOf(
      heapSamples
        .filter((h) => h.label === label && h[side])
        .map((h) => h[side][key])
        .filter(Number.isFinite),
    );
  const pair = (fa, fb) => `${f0(fa)} / ${f0(fb)}`;
  for (const label of [...new Set(samples.map((s) => s.label))]) {
    L.push(
      `| ${label} | ${pair(peak('a', label), peak('b', label))} | ${pair(peak('aFile', label), peak('bFile', label))} | ${pair(heapPeak('a', 'heapTotal', label), heapPeak('b', 'heapTotal', label))} | ` +
        `${pair(heapPeak('a', 'heapUsed', label), heapPeak('b', 'heapUsed', label))} | ${pair(heapPeak('a', 'external', label), heapPeak('b', 'external', label))} |`,
    );
  }
  if (ctx.profiles?.length) {
    L.push('');
    L.push('## Where the appliances spend their time (CPU profiles)');
    L.push('');
    L.push(
      'From `--cpu-prof` on both `consulate serve` processes, cut to each measured phase. Native time (SQLite statements, libsodium) counts as self time of the JS function that called it; positions are mapped back to the TypeScript sources.',
    );
    for (const p of ctx.profiles) {
      L.push('');
      L.push(`### ${p.domain}, ${p.phase} phase (${f0(p.busyMs)} ms busy of ${f0(p.totalMs)} ms)`);
      L.push('');
      L.push('| component | ms | % of busy |');
      L.push('|---|---|---|');
      for (const c of p.components) L.push(`| ${c.what} | ${f0(c.ms)} | ${f1(c.pctOfBusy)} |`);
      if (p.phase === 'backlog: draining') continue;
      L.push('');
      L.push('| self time: function | ms | % |');
      L.push('|---|---|---|');
      for (const c of p.self) L.push(`| \`${c.what}\` | ${f0(c.ms)} | ${f1(c.pctOfBusy)} |`);
      L.push('');
      L.push('| inclusive time: service function | ms | % |');
      L.push('|---|---|---|');
      for (const c of p.inclusive) L.push(`| \`${c.what}\` | ${f0(c.ms)} | ${f1(c.pctOfBusy)} |`);
    }
  }
  return L.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------
/** Other work on the machine skews every figure: wait a while for it to settle (bounded). */
async function waitForIdle(what) {
  const deadline = Date.now() + cfg.idleWait * 1000;
  let busy;
  for (;;) {
    const start = machineMs();
    await sleep(2000);
    busy = ((machineMs() - start) / 2000) * 100;
    if (busy <= 30 || Date.now() >= deadline) break;
    log(`${what}: the machine is ${busy.toFixed(0)}% busy (of ${cpus().length * 100}%) with other work; waiting up to ${cfg.idleWait} s in all`);
  }
  return busy;
}

async function main() {
  if (!existsSync(join(root, 'dist', 'service', 'cli', 'main.js'))) throw new Error('the service is not built: run `npm run build` first');
  const results = { date: new Date().toISOString(), config: { ...cfg, phases: [...cfg.phases] } };
  let prosody;
  if (!opt['skip-prosody']) {
    const summary = await runProsody();
    prosody = prosodyFigures(summary);
    results.prosody = prosody;
    log(
      `prosody: default ${f0(prosody.defaultThroughput)} msg/s; nodelay p50/p99 ${f1(prosody.nodelayP50)}/${f1(prosody.nodelayP99)} ms at 500 msg/s; RSS ${f1(prosody.rssA)}/${f1(prosody.rssB)} MB; exactly once ${prosody.exactlyOnce}`,
    );
  }

  log('consulate: private CA, two appliances, cards, API keys');
  const base = tempDir('consulate-bench-messaging-');
  const ca = makeCa(base);
  const [aPrepared, bPrepared] = [await prepareAppliance(DOMAIN_A, ca, base), await prepareAppliance(DOMAIN_B, ca, base)];
  for (const [from, to] of [
    [aPrepared, bPrepared],
    [bPrepared, aPrepared],
  ]) {
    const file = join(base, `${from.domain}.card.json`);
    await runCli(['card', 'export', '--out', file, '--data-dir', from.dataDir]);
    await runCli(['card', 'import', file, '--yes', '--data-dir', to.dataDir]);
  }
  const keyA = (await runCli(['apikey', 'create', 'bench home', '--data-dir', aPrepared.dataDir])).trim();
  const keyB = (await runCli(['apikey', 'create', 'bench home', '--data-dir', bPrepared.dataDir])).trim();
  const profileDir = opt['cpu-prof'] ? tempDir('consulate-bench-profiles-') : undefined;
  const [a, b] = await Promise.all([startAppliance(aPrepared, profileDir), startAppliance(bPrepared, profileDir)]);
  sampled.a = a;
  sampled.b = b;
  const ctx = { a, b, aPrepared, bPrepared, keyA, keyB, profileDir, results, bProcesses: [b], hwm: { a: 0, b: [] } };
  try {
    for (let lane = 0; lane < cfg.lanes; lane++) {
      const res = await http(a.homeUrl, 'PUT', `/v1/directory/alice${lane}`, {
        key: keyA,
        body: { displayName: `Alice ${lane}`, keyBundle: randomBytes(32).toString('base64') },
      });
      if (res.status !== 200) throw new Error(`directory put: HTTP ${res.status}`);
    }
    const res = await http(b.homeUrl, 'PUT', '/v1/directory/bob', { key: keyB, body: { displayName: 'Bob', keyBundle: randomBytes(32).toString('base64') } });
    if (res.status !== 200) throw new Error(`directory put: HTTP ${res.status}`);
    await waitUntil(async () => (await metric(a, linkUp(DOMAIN_B))) === 1 && (await metric(b, linkUp(DOMAIN_A))) === 1, 30_000, 'links up both ways');
    ctx.receiver = await connectReceiver(b, keyB);
    log('consulate: links up, home B streaming');
    results.machineBusyPctBefore = await waitForIdle('consulate');
    if (cfg.phases.has('throughput')) await throughputPhase(ctx);
    if (cfg.phases.has('latency')) for (const mode of cfg.latSubmit) await latencyPhase(ctx, mode);
    ctx.hwm.a = procStatus(a.child.pid)?.hwm ?? 0;
    ctx.hwm.b.push(procStatus(ctx.b.child.pid)?.hwm ?? 0);
    if (cfg.phases.has('backlog')) {
      await backlogPhase(ctx);
      ctx.hwm.a = procStatus(a.child.pid)?.hwm ?? 0;
      ctx.hwm.b.push(procStatus(ctx.b.child.pid)?.hwm ?? 0);
    }
    await sleep(300);
    results.strays = strays;
    results.receiverErrors = receiverErrors;
  } finally {
    ctx.receiver?.close();
    sampled.a = sampled.b = undefined;
    await Promise.all([a.stop(), ctx.b.stop()]);
    agent.destroy();
  }
  if (profileDir) {
    ctx.profiles = [];
    for (const domain of [DOMAIN_A, DOMAIN_B]) {
      const dir = join(profileDir, domain);
      if (!existsSync(dir)) continue;
      // B's second process (after the backlog restart) only saw the drain; A saw everything.
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
        for (const label of ['throughput', 'latency', 'latency (stream)', 'backlog: draining']) {
          const window = windows.get(label);
          if (!window) continue;
          const summary = summariseProfile(join(dir, file), window);
          if (summary.busyMs > 0) ctx.profiles.push({ domain, phase: label, ...summary });
        }
      }
    }
    log(`CPU profiles in ${profileDir}`);
    scratch.splice(scratch.indexOf(profileDir), 1);
  }
  results.samples = samples.map((s) => ({ t: Math.round(s.t), label: s.label, progress: s.progress, a: s.a && +s.a.toFixed(1), b: s.b && +s.b.toFixed(1) }));
  const md = report(ctx, prosody);
  results.profiles = ctx.profiles;
  results.windowsMonotonicUs = Object.fromEntries(windows);
  const out = resolve(root, opt.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, md);
  writeFileSync(out.replace(/\.md$/, '.json'), JSON.stringify(results, null, 1) + '\n');
  process.stdout.write(md);
  log(`written to ${relative(root, out)} (+ .json with the raw samples)`);
  const integrityOk =
    ['warmup', 'throughput', 'latency', 'latencyStream', 'backlog'].every((p) => !results[p] || (results[p].exactlyOnce ?? results[p]).ok) && strays === 0;
  return integrityOk ? 0 : 1;
}

main()
  .then((code) => {
    clearTimeout(watchdog);
    process.exitCode = code;
  })
  .catch((error) => {
    clearTimeout(watchdog);
    log(`FAILED: ${error.stack ?? error}`);
    process.exitCode = 1;
  });
