import { Alert, Button, Card, Code, CopyButton, Group, SimpleGrid, Stack, Table, Text, Textarea, Title } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import type { CardResponse, IdentityResponse, RotateResponse } from '../../../service/admin/contract.js';
import { api, asApiError, type ApiError } from '../api.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { ErrorAlert } from '../components/error-alert.js';
import { Fingerprint } from '../components/fingerprint.js';
import { QrCode } from '../components/qr-code.js';
import { formatTime } from '../format.js';
import { monospaceInput } from '../forms.js';

/** The appliance's own identity: what the other administrator compares, and the card to send them. */
export function IdentityScreen() {
  const [identity, setIdentity] = useState<IdentityResponse | undefined>();
  const [card, setCard] = useState<CardResponse | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const [rotating, setRotating] = useState(false);
  const [rotated, setRotated] = useState<RotateResponse | undefined>();

  const load = useCallback(() => {
    Promise.all([api.identity(), api.card()]).then(
      ([i, c]) => {
        setIdentity(i);
        setCard(c);
      },
      (e: unknown) => setError(asApiError(e)),
    );
  }, []);
  useEffect(load, [load]);

  const download = () => {
    if (!card || !identity) return;
    const blob = new Blob([`${JSON.stringify(card.card, null, 2)}\n`], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `${identity.domain}.card.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  return (
    <Stack gap="md">
      <Title order={2}>Identity & card</Title>
      {error && <ErrorAlert error={error} />}
      {rotated && (
        <Alert color="green" title="Key rotated" withCloseButton onClose={() => setRotated(undefined)} closeButtonLabel="Dismiss">
          New fingerprint <Code>{rotated.fingerprint}</Code> (was <Code>{rotated.previousFingerprint}</Code>).{' '}
          {rotated.told.length > 0 ? `Told over live links: ${rotated.told.join(', ')}.` : 'No peer was linked to tell; send them your new card.'}
        </Alert>
      )}
      {identity && (
        <Card withBorder padding="lg">
          <Stack>
            <Title order={3} fz="h4">
              Identity key of {identity.domain}
            </Title>
            <Fingerprint value={identity.fingerprint} size="xl" testId="own-fingerprint" />
            <Text size="sm">
              Read this out when another administrator imports your card; they see the same groups on their screen. Created {formatTime(identity.createdAt)}.
            </Text>
          </Stack>
        </Card>
      )}
      {card && identity && (
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          <Card withBorder padding="lg">
            <Stack>
              <Title order={3} fz="h4">
                Federation card
              </Title>
              <Text size="sm">
                Send this to the other administrator (mail, chat, USB stick): it is signed by your key and holds nothing secret. They paste it on their Peers
                screen, then compare the fingerprint with you.
              </Text>
              <Textarea label="Card text" value={card.text} readOnly autosize minRows={4} maxRows={8} styles={monospaceInput} data-testid="card-text" />
              <Group>
                <CopyButton value={card.text}>
                  {({ copied, copy }) => (
                    <Button variant="default" onClick={copy} data-testid="copy-card">
                      {copied ? 'Copied' : 'Copy card'}
                    </Button>
                  )}
                </CopyButton>
                <Button variant="default" onClick={download} data-testid="download-card">
                  Download {identity.domain}.card.json
                </Button>
              </Group>
              <Text size="xs" c="dimmed">
                Valid until {String(card.card['expires'] ?? '').slice(0, 10)}. A fresh card is made each time this page opens.
              </Text>
            </Stack>
          </Card>
          <Card withBorder padding="lg">
            <Stack align="center">
              <Title order={3} fz="h4">
                Card as QR code
              </Title>
              <QrCode text={card.text} label={`QR code of the federation card of ${identity.domain}`} />
              <Text size="xs" c="dimmed" ta="center">
                For a phone or a screen across the room. The fingerprint still needs comparing by voice.
              </Text>
            </Stack>
          </Card>
        </SimpleGrid>
      )}
      {identity && (
        <Card withBorder padding="lg">
          <Stack>
            <Group justify="space-between">
              <Title order={3} fz="h4">
                Key history
              </Title>
              <Button color="red" variant="outline" onClick={() => setRotating(true)} data-testid="rotate-key">
                Rotate key…
              </Button>
            </Group>
            <Table fz="sm">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Fingerprint</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>Created</Table.Th>
                  <Table.Th>Retired</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {identity.history.map((k) => (
                  <Table.Tr key={k.id}>
                    <Table.Td>
                      <Code>{k.fingerprint}</Code>
                    </Table.Td>
                    <Table.Td>{k.status}</Table.Td>
                    <Table.Td>{formatTime(k.createdAt)}</Table.Td>
                    <Table.Td>{k.retiredAt ? formatTime(k.retiredAt) : '–'}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Stack>
        </Card>
      )}
      <ConfirmDialog
        opened={rotating}
        title="Rotate the identity key?"
        confirmLabel="Rotate key"
        onClose={() => setRotating(false)}
        onConfirm={async () => {
          setRotated(await api.rotateIdentity());
          load();
        }}
      >
        <Text size="sm">
          A new key replaces the current one. Peers linked right now receive a rotation statement signed by the current key and pin the new key automatically;
          the old key keeps working for 7 days.
        </Text>
        <Text size="sm" mt="xs" fw={500}>
          Peers that are offline now will refuse the link after those 7 days until they import your new card. Cards you sent earlier stop matching.
        </Text>
      </ConfirmDialog>
    </Stack>
  );
}
