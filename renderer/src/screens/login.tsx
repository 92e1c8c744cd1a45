import { Alert, Box, Button, Card, Center, Code, Group, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import type { HealthResponse, LoginInfoResponse } from '../../../service/admin/contract.js';
import { api, asApiError, type ApiError } from '../api.js';
import { ErrorAlert } from '../components/error-alert.js';
import { Identicon } from '../components/identicon.js';

/**
 * The login card (after Cockpit's), but naming the appliance and its key fingerprint so
 * the operator knows which box they are unlocking.
 */
export function LoginScreen({
  health,
  info,
  reason,
  onLoggedIn,
}: {
  health: HealthResponse | undefined;
  info: LoginInfoResponse | undefined;
  reason: ApiError | undefined;
  onLoggedIn(): void;
}) {
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const shown = error ?? (reason && reason.code !== 'unauthorized' ? reason : undefined);

  return (
    <Box mih="100vh" bg="#212427" py={64} px="md">
      <Center>
        <Card w={440} padding="xl" radius="md" withBorder component="main">
          <Stack>
            <Title order={1} fz="h2">
              Consulate
            </Title>
            {info ? (
              <Group gap="sm" wrap="nowrap" data-testid="login-appliance">
                <Identicon fingerprint={info.fingerprint} size={36} />
                <div>
                  <Text fw={600}>{info.domain}</Text>
                  <Text size="sm" ff="monospace">
                    {info.fingerprint.split('-').join(' ')}
                  </Text>
                </div>
              </Group>
            ) : (
              <Text size="sm">{health ? 'Appliance details unavailable.' : 'Checking the service…'}</Text>
            )}
            {shown && <ErrorAlert error={shown} title={shown.code === 'token_invalid' ? 'This login link no longer works' : 'Login failed'} />}
            {reason?.code === 'unauthorized' && !error && (
              <Alert color="yellow" title="Logged out">
                {reason.message}
              </Alert>
            )}
            {info && !info.passwordSet ? (
              <Alert color="blue" title="No admin password is set" data-testid="login-no-password">
                <Text size="sm">
                  Open the one-time login link that the service printed when it started (its log line ends with <Code>#token=…</Code>). Restart the service for
                  a new link. In the GUI, set an admin password so you can log in here.
                </Text>
              </Alert>
            ) : (
              <form
                onSubmit={(event) => {
                  event.preventDefault();
                  setBusy(true);
                  setError(undefined);
                  api.login({ password }).then(onLoggedIn, (e: unknown) => {
                    setError(asApiError(e));
                    setBusy(false);
                  });
                }}
              >
                <Stack>
                  <PasswordInput
                    label="Admin password"
                    value={password}
                    onChange={(e) => setPassword(e.currentTarget.value)}
                    autoComplete="current-password"
                    required
                    data-testid="login-password"
                  />
                  <Button type="submit" fullWidth loading={busy} data-testid="login-submit">
                    Log in
                  </Button>
                </Stack>
              </form>
            )}
            <Text size="xs" c="dimmed">
              {health ? `Consulate v${health.version}. ` : ''}The one-time link printed at start also logs you in.
            </Text>
          </Stack>
        </Card>
      </Center>
    </Box>
  );
}
