import { describe, expect, it } from 'vitest';
import { HomeClient } from '../helpers/home-client.js';
import { runCli, startService, tempDir } from '../helpers/service-process.js';

describe('home API directory', () => {
  it('lists users in the same order whatever the host locale', async () => {
    const dir = tempDir();
    expect((await runCli(['init', '--data-dir', dir, '--domain', 'a.example'])).code).toBe(0);
    const created = await runCli(['apikey', 'create', 'test home', '--data-dir', dir]);
    expect(created.code, created.stderr).toBe(0);
    // Danish collation puts "aa" after "z"; the list must not depend on it.
    const service = await startService([], { dataDir: dir, env: { LANG: 'da_DK.UTF-8', LC_ALL: 'da_DK.UTF-8' } });
    try {
      const home = new HomeClient(service.homeUrl, created.stdout.trim());
      for (const user of ['zed', 'aaron', 'hugo', 'chris']) expect((await home.putUser(user, new Uint8Array([1]), user)).status).toBe(200);
      const listed = await home.call<{ users: Array<{ user: string }> }>('GET', '/v1/directory');
      expect(listed.body.users.map((u) => u.user)).toEqual(['aaron@a.example', 'chris@a.example', 'hugo@a.example', 'zed@a.example']);
    } finally {
      await service.stop();
    }
  }, 30_000);
});
