import { Alert, AppShell, Badge, Card, Code, Group, Loader, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useEffect, useState } from 'react';
import type { HealthResponse, StatusResponse } from '../../service/admin/contract.js';
import { ApiError, api } from './api.js';

type Auth = 'checking' | 'in' | 'out';

/** Takes the one-time token from the URL fragment and removes it so it is not bookmarked. */
function takeTokenFromUrl(): string | undefined {
  const match = /(?:^|[#&])token=([^&]+)/.exec(window.location.hash);
  if (!match?.[1]) return undefined;
  history.replaceState(null, '', window.location.pathname + window.location.search);
  return decodeURIComponent(match[1]);
}

export function App() {
  const [health, setHealth] = useState<HealthResponse | undefined>();
  const [status, setStatus] = useState<StatusResponse | undefined>();
  const [auth, setAuth] = useState<Auth>('checking');
  const [error, setError] = useState<ApiError | undefined>();

  useEffect(() => {
    let cancelled = false;
    const run = async () => {
      try {
        setHealth(await api.health());
        const token = takeTokenFromUrl();
        if (token) await api.login(token);
        const loggedIn = token ? true : await api.resume();
        if (cancelled) return;
        setAuth(loggedIn ? 'in' : 'out');
        if (loggedIn) setStatus(await api.status());
      } catch (caught) {
        if (cancelled) return;
        setAuth('out');
        setError(caught instanceof ApiError ? caught : new ApiError('internal', String(caught), 0));
      }
    };
    void run();
    return () => {
      cancelled = true;
    };
  }, []);

  return (
    <AppShell header={{ height: 56 }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Title order={1} size="h3">
            Consulate
          </Title>
          <Group gap="xs">
            {health ? (
              <Badge color="teal" variant="light" data-testid="health">
                Service healthy
              </Badge>
            ) : (
              <Badge color="gray" variant="light" data-testid="health">
                Checking service…
              </Badge>
            )}
            {health && (
              <Text size="sm" c="dimmed" data-testid="version">
                v{health.version}
              </Text>
            )}
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Main>
        <Stack maw={960} mx="auto">
          {error && (
            <Alert color="red" title={`Error: ${error.code}`} data-testid="error">
              {error.message}
            </Alert>
          )}
          {auth === 'checking' && <Loader aria-label="Loading" />}
          {auth === 'out' && !error && (
            <Alert color="yellow" title="Not logged in">
              Open the admin link that the service printed when it started (it carries a one-time login token).
            </Alert>
          )}
          {auth === 'in' && status && (
            <SimpleGrid cols={{ base: 1, sm: 3 }}>
              <Card withBorder>
                <Text size="sm" c="dimmed">
                  Domain
                </Text>
                <Text fw={600} data-testid="domain">
                  {status.domain}
                </Text>
              </Card>
              <Card withBorder>
                <Text size="sm" c="dimmed">
                  Readiness
                </Text>
                <Badge color={status.ready ? 'teal' : 'orange'}>{status.ready ? 'Ready' : 'Starting'}</Badge>
              </Card>
              <Card withBorder>
                <Text size="sm" c="dimmed">
                  Data directory
                </Text>
                <Code>{status.dataDir}</Code>
              </Card>
            </SimpleGrid>
          )}
        </Stack>
      </AppShell.Main>
    </AppShell>
  );
}
