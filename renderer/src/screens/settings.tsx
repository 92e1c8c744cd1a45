import { Alert, Badge, Button, Card, Code, Group, NumberInput, PasswordInput, SimpleGrid, Stack, Tabs, Text, TextInput, Title } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import type { SettingsResponse, SettingsUpdateRequest } from '../../../service/admin/contract.js';
import { api, asApiError, sessionVia, type ApiError } from '../api.js';
import { BackupPanel } from '../components/backup-panel.js';
import { ErrorAlert } from '../components/error-alert.js';
import { asNumber, minPassword, passwordProblem, portRange } from '../forms.js';
import { useLive } from '../live.js';
import { navigate } from '../routing.js';

type Draft = {
  domain: string;
  fedHost: string;
  fedPort: number | string;
  fedHostname: string;
  publicUrl: string;
  fileProxyHostname: string;
  adminHost: string;
  adminPort: number | string;
  homeHost: string;
  homePort: number | string;
  relayHost: string;
  relayPort: number | string;
  relayMin: number | string;
  relayMax: number | string;
};

function draftOf(s: SettingsResponse): Draft {
  const v = s.saved;
  return {
    domain: v.domain,
    fedHost: v.federation.host,
    fedPort: v.federation.port,
    fedHostname: v.federation.hostname ?? '',
    publicUrl: v.federation.publicUrl ?? '',
    fileProxyHostname: v.fileProxy.hostname ?? '',
    adminHost: v.admin.host,
    adminPort: v.admin.port,
    homeHost: v.home.host,
    homePort: v.home.port,
    relayHost: v.relay.host,
    relayPort: v.relay.port,
    relayMin: v.relay.minPort,
    relayMax: v.relay.maxPort,
  };
}

function PendingBadge({ settings, path }: { settings: SettingsResponse | undefined; path: string }) {
  const matches = (list: string[] | undefined) => list?.some((p) => p === path || p.startsWith(`${path}.`));
  if (matches(settings?.pending)) {
    return (
      <Badge color="yellow" variant="light" ml="xs">
        restart to apply
      </Badge>
    );
  }
  if (matches(settings?.overridden)) {
    return (
      <Badge color="gray" variant="light" ml="xs">
        running value set by a flag or environment variable
      </Badge>
    );
  }
  return null;
}

/** Settings grouped by concern, as tabs; everything saves to the config file and applies on restart. */
export function SettingsScreen({ tab }: { tab: string | undefined }) {
  const { refresh } = useLive();
  const [settings, setSettings] = useState<SettingsResponse | undefined>();
  const [draft, setDraft] = useState<Draft | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => {
    api.settings().then(
      (s) => {
        setSettings(s);
        setDraft(draftOf(s));
      },
      (e: unknown) => setError(asApiError(e)),
    );
  }, []);
  useEffect(load, [load]);

  const save = async (patch: SettingsUpdateRequest) => {
    setBusy(true);
    setError(undefined);
    setSaved(false);
    try {
      const next = await api.saveSettings(patch);
      setSettings(next);
      setDraft(draftOf(next));
      setSaved(true);
      refresh();
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };

  const set =
    <K extends keyof Draft>(key: K) =>
    (value: Draft[K]) =>
      setDraft((d) => (d ? { ...d, [key]: value } : d));
  /** A setting's label, with a badge when the saved value waits for a restart or is overridden. */
  const label = (text: string, path: string) => (
    <>
      {text} <PendingBadge settings={settings} path={path} />
    </>
  );
  const current = tab ?? 'general';
  return (
    <Stack gap="md">
      <Title order={2}>Settings</Title>
      {settings && (
        <Text size="sm">
          Saved to <Code>{settings.configFile}</Code>. Environment variables and command-line flags given when the service starts override the file. Changes
          apply when the service restarts.
        </Text>
      )}
      {error && <ErrorAlert error={error} onClose={() => setError(undefined)} />}
      {saved && settings?.restartRequired && (
        <Alert
          color="yellow"
          title="Saved: restart required"
          withCloseButton
          onClose={() => setSaved(false)}
          closeButtonLabel="Dismiss"
          data-testid="settings-saved"
        >
          Pending: {settings.pending.join(', ')}.
        </Alert>
      )}
      {saved && settings && !settings.restartRequired && (
        <Alert color="green" title="Saved" withCloseButton onClose={() => setSaved(false)} closeButtonLabel="Dismiss" data-testid="settings-saved">
          The service already runs with these settings.
        </Alert>
      )}
      <Tabs value={current} onChange={(v) => navigate('settings', v ?? 'general')}>
        <Tabs.List>
          <Tabs.Tab value="general">General</Tabs.Tab>
          <Tabs.Tab value="connections">Connections</Tabs.Tab>
          <Tabs.Tab value="access">Admin access</Tabs.Tab>
          <Tabs.Tab value="backup">Backup & restore</Tabs.Tab>
        </Tabs.List>

        <Tabs.Panel value="general" pt="md">
          {draft && (
            <Card withBorder padding="lg">
              <Stack>
                <TextInput
                  label={label('Messaging domain', 'domain')}
                  description="Changing it changes who you are to every peer: they whitelisted the old name and must import your new card."
                  value={draft.domain}
                  onChange={(e) => set('domain')(e.currentTarget.value)}
                />
                <TextInput
                  label={label('Federation host name', 'federation.hostname')}
                  description="The name peers connect to; your certificate must cover it."
                  value={draft.fedHostname}
                  onChange={(e) => set('fedHostname')(e.currentTarget.value)}
                />
                <TextInput
                  label={label('Public federation URL', 'federation.publicUrl')}
                  description="Only if peers reach you through another address or port. Empty: https://<host name>:<port>."
                  value={draft.publicUrl}
                  onChange={(e) => set('publicUrl')(e.currentTarget.value)}
                />
                <TextInput
                  label={label('File proxy host name', 'fileProxy.hostname')}
                  description="Optional own name for the file proxy (served on the federation listener by SNI)."
                  value={draft.fileProxyHostname}
                  onChange={(e) => set('fileProxyHostname')(e.currentTarget.value)}
                />
                <Group justify="flex-end">
                  <Button
                    loading={busy}
                    data-testid="settings-save-general"
                    onClick={() =>
                      void save({
                        domain: draft.domain.trim(),
                        federation: { hostname: draft.fedHostname.trim() || null, publicUrl: draft.publicUrl.trim() || null },
                        fileProxy: { hostname: draft.fileProxyHostname.trim() || null },
                      })
                    }
                  >
                    Save
                  </Button>
                </Group>
              </Stack>
            </Card>
          )}
        </Tabs.Panel>

        <Tabs.Panel value="connections" pt="md">
          {draft && (
            <Card withBorder padding="lg">
              <Stack>
                <Text size="sm">
                  Everything peers and clients reach from outside, in one place. The file proxy, relay and home API ports are kept even where those services are
                  not in this build yet.
                </Text>
                <SimpleGrid cols={{ base: 1, sm: 2 }}>
                  <TextInput
                    label={label('Federation listen address', 'federation.host')}
                    value={draft.fedHost}
                    onChange={(e) => set('fedHost')(e.currentTarget.value)}
                  />
                  <NumberInput
                    label={label('Federation port', 'federation.port')}
                    {...portRange}
                    value={draft.fedPort}
                    onChange={set('fedPort')}
                    data-testid="settings-federation-port"
                  />
                  <TextInput label={label('Home API address', 'home.host')} value={draft.homeHost} onChange={(e) => set('homeHost')(e.currentTarget.value)} />
                  <NumberInput label={label('Home API port', 'home.port')} {...portRange} value={draft.homePort} onChange={set('homePort')} />
                  <TextInput label={label('Relay address', 'relay.host')} value={draft.relayHost} onChange={(e) => set('relayHost')(e.currentTarget.value)} />
                  <NumberInput label={label('Relay port (STUN/TURN)', 'relay.port')} {...portRange} value={draft.relayPort} onChange={set('relayPort')} />
                  <NumberInput label={label('Relay range: first port', 'relay.minPort')} {...portRange} value={draft.relayMin} onChange={set('relayMin')} />
                  <NumberInput
                    label={label('Relay range: last port', 'relay.maxPort')}
                    {...portRange}
                    value={draft.relayMax}
                    onChange={set('relayMax')}
                    error={asNumber(draft.relayMin) > asNumber(draft.relayMax) ? 'must not be below the first port' : undefined}
                  />
                </SimpleGrid>
                <Group justify="flex-end">
                  <Button
                    loading={busy}
                    disabled={asNumber(draft.relayMin) > asNumber(draft.relayMax)}
                    data-testid="settings-save-connections"
                    onClick={() =>
                      void save({
                        federation: { host: draft.fedHost.trim(), port: asNumber(draft.fedPort) },
                        home: { host: draft.homeHost.trim(), port: asNumber(draft.homePort) },
                        relay: {
                          host: draft.relayHost.trim(),
                          port: asNumber(draft.relayPort),
                          minPort: asNumber(draft.relayMin),
                          maxPort: asNumber(draft.relayMax),
                        },
                      })
                    }
                  >
                    Save
                  </Button>
                </Group>
              </Stack>
            </Card>
          )}
        </Tabs.Panel>

        <Tabs.Panel value="access" pt="md">
          <Stack>
            <PasswordCard />
            {draft && settings && (
              <Card withBorder padding="lg">
                <Stack>
                  <Title order={3} fz="h4">
                    Admin listener
                  </Title>
                  <Text size="sm">
                    Loopback (127.0.0.1) keeps this GUI on this machine. Any other address makes it reachable from the network and requires an admin password;
                    add the names you will use in the browser to <Code>admin.allowedHosts</Code> in the config file (currently{' '}
                    {settings.running.admin.allowedHosts.length > 0 ? settings.running.admin.allowedHosts.join(', ') : 'none'}).
                  </Text>
                  <SimpleGrid cols={{ base: 1, sm: 2 }}>
                    <TextInput
                      label={label('Listen address', 'admin.host')}
                      value={draft.adminHost}
                      onChange={(e) => set('adminHost')(e.currentTarget.value)}
                    />
                    <NumberInput label={label('Port', 'admin.port')} {...portRange} value={draft.adminPort} onChange={set('adminPort')} />
                  </SimpleGrid>
                  <Group justify="flex-end">
                    <Button loading={busy} onClick={() => void save({ admin: { host: draft.adminHost.trim(), port: asNumber(draft.adminPort) } })}>
                      Save
                    </Button>
                  </Group>
                </Stack>
              </Card>
            )}
          </Stack>
        </Tabs.Panel>

        <Tabs.Panel value="backup" pt="md">
          <BackupPanel />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}

function PasswordCard() {
  const { snapshot, refresh } = useLive();
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const [done, setDone] = useState(false);
  const isSet = snapshot?.passwordSet ?? false;
  const needCurrent = isSet && sessionVia() !== 'token';
  const problem = passwordProblem(password, repeat);
  return (
    <Card withBorder padding="lg">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          setBusy(true);
          setError(undefined);
          setDone(false);
          api.setPassword({ password, ...(needCurrent ? { current } : {}) }).then(
            () => {
              setDone(true);
              setCurrent('');
              setPassword('');
              setRepeat('');
              setBusy(false);
              refresh();
            },
            (e: unknown) => {
              setError(asApiError(e));
              setBusy(false);
            },
          );
        }}
      >
        <Stack>
          <Title order={3} fz="h4">
            Admin password{' '}
            {isSet ? (
              <Badge color="green" variant="light">
                set
              </Badge>
            ) : (
              <Badge color="yellow" variant="light">
                not set
              </Badge>
            )}
          </Title>
          <Text size="sm">
            Stored as a scrypt hash in the appliance database. Five wrong attempts a minute from one address are allowed; after that, logins from it wait.
          </Text>
          {needCurrent && (
            <PasswordInput
              label="Current password"
              value={current}
              onChange={(e) => setCurrent(e.currentTarget.value)}
              autoComplete="current-password"
              required
            />
          )}
          {isSet && !needCurrent && (
            <Text size="sm" fw={500}>
              You logged in with the one-time link from the service log, so the current password is not needed: this is how a forgotten password is reset.
            </Text>
          )}
          <PasswordInput
            label={isSet ? 'New password' : 'Password'}
            description={`At least ${minPassword} characters.`}
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            autoComplete="new-password"
            required
            data-testid="settings-password"
          />
          <PasswordInput
            label="Repeat"
            value={repeat}
            onChange={(e) => setRepeat(e.currentTarget.value)}
            autoComplete="new-password"
            error={problem}
            required
            data-testid="settings-password-repeat"
          />
          {error && <ErrorAlert error={error} />}
          {done && (
            <Alert color="green" title="Password saved">
              Use it on the login page from now on.
            </Alert>
          )}
          <Group justify="flex-end">
            <Button type="submit" loading={busy} disabled={password.length < minPassword || password !== repeat}>
              {isSet ? 'Change password' : 'Set password'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}
