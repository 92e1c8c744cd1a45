import { createServer } from 'node:net';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startService, tempDir, type RunningService } from '../helpers/service-process.js';

const running: RunningService[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop('SIGKILL')));
});

describe('consulate serve', () => {
  it('starts on embedded defaults, prints the admin URL with a token, serves health and metrics, and stops cleanly on SIGINT', async () => {
    const service = await startService();
    running.push(service);
    expect(service.startedInMs).toBeLessThan(5000);
    expect(service.loginUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]{40,}$/);

    const health = await fetch(`${service.adminUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });

    const metrics = await (await fetch(`${service.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^consulate_build_info\{version="\d+\.\d+\.\d+",node="[\d.]+"\} 1$/m);
    expect(metrics).toContain('consulate_process_resident_memory_bytes');

    // A fresh appliance has no certificate yet, so it is alive but not ready to federate, and says why.
    const ready = await fetch(`${service.adminUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      ready: false,
      components: {
        store: { ready: true },
        identity: { ready: true },
        admin: { ready: true },
        federation: { ready: false, detail: expect.stringContaining('no certificate') },
      },
    });

    const { code, ms } = await service.stop('SIGINT');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000);
    expect(service.output()).toContain('"msg":"stopped"');
  });

  it('exits 2 naming the key when a port is out of range', async () => {
    const result = await runCli(['serve', '--data-dir', tempDir(), '--admin-port', '99999']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/config_invalid: admin\.port \(--admin-port, CONSULATE_ADMIN_PORT\): .*65535.*99999/);
  });

  it('exits 2 on a wrong type from the environment and on an unknown key in the config file', async () => {
    const wrongType = await runCli(['serve', '--data-dir', tempDir()], { env: { CONSULATE_HOME_PORT: 'eighty' } });
    expect(wrongType.code).toBe(2);
    expect(wrongType.stderr).toMatch(/home\.port .*expected number.*"eighty"/);

    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ admin: { prot: 8440 } }));
    const unknown = await runCli(['serve', '--data-dir', dir]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('config_invalid: admin.prot: unknown configuration key');
  });

  it('applies file < environment < flags and redacts secrets in config print', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ domain: 'file.example', admin: { port: 1111 }, home: { port: 2222 }, relay: { port: 3333 } }));
    const result = await runCli(['config', 'print', '--data-dir', dir, '--relay-port', '4444'], {
      env: { CONSULATE_HOME_PORT: '5555', CONSULATE_RELAY_PORT: '6666' },
    });
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as { domain: string; admin: { port: number }; home: { port: number }; relay: { port: number } };
    expect(printed.domain).toBe('file.example');
    expect(printed.admin.port).toBe(1111);
    expect(printed.home.port).toBe(5555);
    expect(printed.relay.port).toBe(4444);
  });

  it('refuses a port already in use with a clear error and a non-zero exit', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const result = await runCli(['serve', '--data-dir', tempDir(), '--admin-port', String(port)]);
    blocker.close();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`port_in_use: admin listener: 127.0.0.1:${port} is already in use`);
  });

  it('refuses a data directory that cannot be written', async () => {
    const parent = tempDir();
    const file = join(parent, 'a-file');
    writeFileSync(file, 'not a directory');
    const result = await runCli(['serve', '--data-dir', join(file, 'data')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/data_dir_not_writable: data directory .* is not writable/);
  });

  it('refuses a database newer than the code and leaves it byte for byte as it was', async () => {
    const dir = tempDir();
    expect((await runCli(['init', '--data-dir', dir, '--domain', 'a.example'])).code).toBe(0);
    const dbPath = join(dir, 'consulate.db');
    const db = new BetterSqlite3(dbPath);
    db.prepare("insert into consulate_migrations (version, name, appliedAt) values (999, 'from the future', '2030-01-01')").run();
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const before = createHash('sha256').update(readFileSync(dbPath)).digest('hex');
    const result = await runCli(['serve', '--data-dir', dir, '--admin-port', '0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/db_too_new: .*schema version 999.*nothing was changed/);
    expect(createHash('sha256').update(readFileSync(dbPath)).digest('hex')).toBe(before);
  });

  it('init writes a config file that serve then uses', async () => {
    const dir = join(tempDir(), 'nested', 'data');
    mkdirSync(dir, { recursive: true });
    const init = await runCli(['init', '--data-dir', dir, '--domain', 'b.example']);
    expect(init.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toMatchObject({ domain: 'b.example', admin: { port: 8440 } });
    const service = await startService([], { dataDir: dir });
    running.push(service);
    expect(service.output()).toContain('"domain":"b.example"');
  });

  it('prints its version', async () => {
    const result = await runCli(['version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^consulate \d+\.\d+\.\d+ \(node \d+/);
  });
});
