import { Alert, AppShell, Badge, Box, Burger, Button, Center, Group, Loader, NavLink, Stack, Text, Title, UnstyledButton } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import type { HealthResponse, LoginInfoResponse, SetupResponse } from '../../service/admin/contract.js';
import type { ConsulateBridge } from '../../electron/contract.js';
import { ApiError, api, asApiError, onUnauthorized } from './api.js';
import { ErrorAlert } from './components/error-alert.js';
import { Identicon } from './components/identicon.js';
import { shortId } from './format.js';
import { LiveProvider, useLive } from './live.js';
import { href, navigate, useRoute } from './routing.js';
import { CertificatesScreen } from './screens/certificates.js';
import { DashboardScreen } from './screens/dashboard.js';
import { IdentityScreen } from './screens/identity.js';
import { LoginScreen } from './screens/login.js';
import { LogsScreen } from './screens/logs.js';
import { PeersScreen } from './screens/peers.js';
import { QueuesScreen } from './screens/queues.js';
import { SettingsScreen } from './screens/settings.js';
import { WizardScreen } from './screens/wizard.js';

type Phase = { name: 'checking' } | { name: 'login'; reason?: ApiError } | { name: 'in' };

declare global {
  interface Window {
    /** Present only inside the desktop shell (electron/preload.ts). */
    consulate?: ConsulateBridge;
  }
}

/** Takes the one-time token from the URL fragment and removes it so it is not bookmarked or shared. */
function takeTokenFromUrl(): string | undefined {
  const match = /(?:^|[#&])token=([^&]+)/.exec(window.location.hash);
  if (!match?.[1]) return undefined;
  history.replaceState(null, '', `${window.location.pathname}${window.location.search}#/`);
  return decodeURIComponent(match[1]);
}

export function App() {
  const [health, setHealth] = useState<HealthResponse | undefined>();
  const [phase, setPhase] = useState<Phase>({ name: 'checking' });
  const [info, setInfo] = useState<LoginInfoResponse | undefined>();

  useEffect(() => {
    let cancelled = false;
    const run = async () => {
      try {
        setHealth(await api.health());
        const token = takeTokenFromUrl() ?? (await window.consulate?.takeLoginToken()) ?? undefined;
        if (token) {
          await api.login({ token });
          if (!cancelled) setPhase({ name: 'in' });
          return;
        }
        const resumed = await api.resume();
        if (!cancelled) setPhase(resumed ? { name: 'in' } : { name: 'login' });
      } catch (caught) {
        if (!cancelled) setPhase({ name: 'login', reason: asApiError(caught) });
      }
    };
    void run();
    return () => {
      cancelled = true;
    };
  }, []);

  useEffect(
    () => onUnauthorized(() => setPhase({ name: 'login', reason: new ApiError('unauthorized', 'Your session ended (logged out, restarted or idle).', 401) })),
    [],
  );

  useEffect(() => {
    if (phase.name !== 'login') return;
    api.loginInfo().then(setInfo, () => setInfo(undefined));
  }, [phase.name]);

  if (phase.name === 'checking') {
    return (
      <Center h="100vh">
        <Loader aria-label="Connecting to the service" />
      </Center>
    );
  }
  if (phase.name === 'login') {
    return <LoginScreen health={health} info={info} reason={phase.reason} onLoggedIn={() => setPhase({ name: 'in' })} />;
  }
  return <SignedIn health={health} onLoggedOut={() => setPhase({ name: 'login' })} />;
}

/** After login: the first-run wizard until setup is complete, then the console. */
function SignedIn({ health, onLoggedOut }: { health: HealthResponse | undefined; onLoggedOut: () => void }) {
  const [setup, setSetup] = useState<SetupResponse | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const reload = useCallback(() => {
    api.setup().then(setSetup, (e: unknown) => setError(asApiError(e)));
  }, []);
  useEffect(reload, [reload]);

  if (error) {
    return (
      <Box maw={640} mx="auto" mt="xl" p="md">
        <ErrorAlert error={error} title="Cannot read the setup state" />
      </Box>
    );
  }
  if (!setup) {
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  if (!setup.complete) return <WizardScreen setup={setup} onChanged={reload} health={health} />;
  return (
    <LiveProvider onLost={onLoggedOut}>
      <Console health={health} onLoggedOut={onLoggedOut} />
    </LiveProvider>
  );
}

const sections: Array<{ group: string; items: Array<{ screen: string; label: string }> }> = [
  {
    group: 'Appliance',
    items: [
      { screen: 'dashboard', label: 'Dashboard' },
      { screen: 'peers', label: 'Peers' },
      { screen: 'identity', label: 'Identity & card' },
      { screen: 'certificates', label: 'Certificates' },
      { screen: 'queues', label: 'Queues' },
    ],
  },
  {
    group: 'Administration',
    items: [
      { screen: 'logs', label: 'Logs & audit' },
      { screen: 'settings', label: 'Settings' },
    ],
  },
];

function Console({ health, onLoggedOut }: { health: HealthResponse | undefined; onLoggedOut: () => void }) {
  const route = useRoute();
  const { snapshot, connection } = useLive();
  const [opened, { toggle, close }] = useDisclosure();
  // From the live snapshot, so a key rotation or a restored backup shows without a reload.
  const fingerprint = snapshot?.fingerprint ?? '';
  useEffect(close, [route.screen, close]);

  const domain = snapshot?.status.domain ?? '';
  const known = sections.flatMap((s) => s.items).some((i) => i.screen === route.screen);
  const screen = known ? route.screen : 'dashboard';

  return (
    <AppShell header={{ height: 52 }} navbar={{ width: 232, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header bg="#151515" c="gray.0" withBorder={false}>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" color="white" aria-label="Toggle navigation" />
            <Title order={1} fz="lg" fw={600}>
              Consulate
            </Title>
            {health && (
              <Text size="xs" c="gray.4" data-testid="version">
                v{health.version}
              </Text>
            )}
          </Group>
          <Group gap="sm" wrap="nowrap">
            <AccessBadge />
            <Badge variant="outline" color={connection === 'live' ? 'green.3' : 'yellow.3'} data-testid="connection">
              {connection === 'live' ? 'Live' : connection === 'polling' ? 'Polling' : 'Connecting'}
            </Badge>
            <Button
              size="xs"
              variant="outline"
              color="gray.2"
              onClick={() => {
                void api.logout().finally(onLoggedOut);
              }}
            >
              Log out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar bg="#212427" c="gray.0" withBorder={false} component="nav" aria-label="Main">
        <UnstyledButton
          component="a"
          href={href('identity')}
          px="md"
          py="sm"
          style={{ borderBottom: '1px solid #3c3f42' }}
          aria-label={`This appliance: ${domain}, identity ${shortId(fingerprint)}`}
        >
          <Group gap="sm" wrap="nowrap">
            {fingerprint && <Identicon fingerprint={fingerprint} size={30} />}
            <div style={{ minWidth: 0 }}>
              <Text fw={600} size="sm" truncate data-testid="domain">
                {domain}
              </Text>
              <Text size="xs" c="gray.4" ff="monospace">
                {fingerprint ? `ID ${shortId(fingerprint)}` : ''}
              </Text>
            </div>
          </Group>
        </UnstyledButton>
        {sections.map((section) => (
          <Box key={section.group} mt="sm">
            <Text size="xs" tt="uppercase" c="gray.4" px="md" py={4} fw={600}>
              {section.group}
            </Text>
            {section.items.map((item) => (
              <NavLink
                key={item.screen}
                href={href(item.screen)}
                label={item.label}
                active={screen === item.screen}
                aria-current={screen === item.screen ? 'page' : undefined}
                color="gray.0"
                variant="subtle"
                styles={{
                  root: {
                    color: 'var(--mantine-color-gray-0)',
                    borderLeft: screen === item.screen ? '3px solid var(--mantine-color-teal-4)' : '3px solid transparent',
                    background: screen === item.screen ? '#3c3f42' : undefined,
                  },
                }}
                data-testid={`nav-${item.screen}`}
              />
            ))}
          </Box>
        ))}
      </AppShell.Navbar>
      <AppShell.Main bg="var(--mantine-color-gray-0)">
        <Stack maw={1180} mx="auto" gap="md">
          <Banners />
          <Screen name={screen} param={route.param} />
        </Stack>
      </AppShell.Main>
    </AppShell>
  );
}

function Screen({ name, param }: { name: string; param: string | undefined }): ReactNode {
  switch (name) {
    case 'peers':
      return <PeersScreen selected={param} />;
    case 'identity':
      return <IdentityScreen />;
    case 'certificates':
      return <CertificatesScreen />;
    case 'queues':
      return <QueuesScreen />;
    case 'logs':
      return <LogsScreen tab={param} />;
    case 'settings':
      return <SettingsScreen tab={param} />;
    default:
      return <DashboardScreen />;
  }
}

/** Cockpit's privilege badge, for our auth state: always visible, never a one-time toast. */
function AccessBadge() {
  const { snapshot } = useLive();
  if (!snapshot) return null;
  if (!snapshot.passwordSet && snapshot.passwordRequired) {
    return (
      <Badge color="red" variant="filled" data-testid="access-badge">
        Open without password
      </Badge>
    );
  }
  if (!snapshot.passwordSet) {
    return (
      <Badge color="yellow.3" variant="outline" data-testid="access-badge">
        No admin password
      </Badge>
    );
  }
  return (
    <Badge color="green.3" variant="outline" data-testid="access-badge">
      Password protected
    </Badge>
  );
}

const dismissedKey = 'consulate.dismissed-banners';

function useDismissed(): [Set<string>, (id: string) => void] {
  const [dismissed, setDismissed] = useState<Set<string>>(() => new Set<string>(JSON.parse(sessionStorage.getItem(dismissedKey) ?? '[]') as string[]));
  const dismiss = (id: string) => {
    const next = new Set(dismissed).add(id);
    sessionStorage.setItem(dismissedKey, JSON.stringify([...next]));
    setDismissed(next);
  };
  return [dismissed, dismiss];
}

/**
 * Stacked full-width notices above every screen, as in Syncthing: the colour follows the
 * severity (red security, yellow needs a decision, green advice); each says what to do.
 */
function Banners() {
  const { snapshot } = useLive();
  const [dismissed, dismiss] = useDismissed();
  if (!snapshot) return null;
  const banners: ReactNode[] = [];
  for (const peer of snapshot.peers.filter((p) => p.keyAlarm)) {
    banners.push(
      <Alert key={`key-${peer.domain}`} color="red" title={`Key alarm: ${peer.domain}`} data-testid="banner-key-alarm">
        <Text size="sm">{peer.keyAlarm}</Text>
        <Button size="xs" mt="xs" variant="white" color="red" component="a" href={href('peers', peer.domain)}>
          Open {peer.domain}
        </Button>
      </Alert>,
    );
  }
  if (snapshot.passwordRequired && !snapshot.passwordSet) {
    banners.push(
      <Alert key="danger-password" color="red" title="Danger: the admin listener is reachable without a password" data-testid="banner-password-danger">
        <Text size="sm">
          This GUI listens beyond loopback ({snapshot.listeners.find((l) => l.name === 'admin')?.address}). Anyone who can reach it and obtains a session can
          change the whitelist. Set an admin password now.
        </Text>
        <Button size="xs" mt="xs" color="red" component="a" href={href('settings', 'access')}>
          Set password
        </Button>
      </Alert>,
    );
  } else if (!snapshot.passwordSet && !dismissed.has('password-advice')) {
    banners.push(
      <Alert key="password-advice" color="green" title="Admin password: not set" data-testid="banner-password-advice">
        <Text size="sm">
          Without a password, only the one-time link printed when the service starts can open this GUI. Set one so you can log in again later, and before you
          open the admin listener to the network.
        </Text>
        <Group mt="xs" justify="space-between">
          <Button size="xs" variant="default" onClick={() => dismiss('password-advice')}>
            OK
          </Button>
          <Button size="xs" variant="default" component="a" href={href('settings', 'access')}>
            Settings
          </Button>
        </Group>
      </Alert>,
    );
  }
  if (snapshot.restartRequired) {
    banners.push(
      <Alert key="restart" color="yellow" title="Restart required" data-testid="banner-restart">
        <Text size="sm">Saved settings differ from those the service runs with. They apply after a restart of the Consulate service.</Text>
        <Group mt="xs">
          {window.consulate ? (
            <Button size="xs" variant="default" onClick={() => void window.consulate?.restartService()}>
              Restart service
            </Button>
          ) : (
            <Text size="sm">Restart it the way it was started (for example `systemctl restart consulate`).</Text>
          )}
          <Button size="xs" variant="default" component="a" href={href('settings')}>
            See what changes
          </Button>
        </Group>
      </Alert>,
    );
  }
  const cert = snapshot.certificate;
  if (cert && cert.state !== 'ok' && !dismissed.has(`certificate-${cert.state}-${cert.fingerprintSha256}`)) {
    const expired = cert.state === 'expired';
    banners.push(
      <Alert
        key="certificate"
        color={cert.state === 'warning' ? 'yellow' : 'red'}
        title={expired ? 'Certificate expired' : `Certificate expires in ${cert.daysLeft} days`}
        data-testid="banner-certificate-expiry"
      >
        <Text size="sm">
          {expired
            ? `The federation certificate (${cert.subject}) expired on ${cert.notAfter.slice(0, 10)}. Peers refuse to connect until a new one is installed.`
            : `The federation certificate (${cert.subject}) expires on ${cert.notAfter.slice(0, 10)}. Renew it before then, or peers will refuse to connect.`}
        </Text>
        <Group mt="xs" justify="space-between">
          {!expired && (
            <Button size="xs" variant="default" onClick={() => dismiss(`certificate-${cert.state}-${cert.fingerprintSha256}`)}>
              OK
            </Button>
          )}
          <Button size="xs" variant="default" component="a" href={href('certificates')}>
            Certificates
          </Button>
        </Group>
      </Alert>,
    );
  }
  const federation = snapshot.listeners.find((l) => l.name === 'federation');
  if (federation && federation.state !== 'up' && !snapshot.certificate && !dismissed.has('no-certificate')) {
    banners.push(
      <Alert key="no-certificate" color="yellow" title="Federation is off: no certificate installed" data-testid="banner-certificate">
        <Text size="sm">Peers cannot reach this appliance until a TLS certificate for its federation host name is installed. {federation.detail}</Text>
        <Group mt="xs" justify="space-between">
          <Button size="xs" variant="default" onClick={() => dismiss('no-certificate')}>
            OK
          </Button>
          <Button size="xs" variant="default" onClick={() => navigate('certificates')}>
            Certificates
          </Button>
        </Group>
      </Alert>,
    );
  }
  return banners.length > 0 ? <Stack gap="sm">{banners}</Stack> : null;
}
