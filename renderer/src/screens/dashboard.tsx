import { LineChart } from '@mantine/charts';
import { Anchor, Card, Group, SimpleGrid, Stack, Table, Text, Title, UnstyledButton } from '@mantine/core';
import { useEffect, useState, type ReactNode } from 'react';
import type { ListenerView } from '../../../service/admin/contract.js';
import { api } from '../api.js';
import { Identicon } from '../components/identicon.js';
import { PeerStatusText, peerStatusLabel } from '../components/status-text.js';
import { formatBytes, formatDuration, formatRate, formatTime, shortId } from '../format.js';
import { useLive } from '../live.js';
import { href } from '../routing.js';
import { useQueues } from './queues.js';

const listenerNames: Record<ListenerView['name'], string> = {
  admin: 'Admin GUI',
  federation: 'Federation',
  fileProxy: 'File proxy',
  relay: 'Media relay',
  home: 'Home API',
};

const palette = ['teal.8', 'indigo.7', 'orange.8', 'grape.7', 'cyan.8', 'red.8', 'lime.9', 'pink.7'];

function ListenerState({ listener }: { listener: ListenerView }) {
  if (listener.state === 'up')
    return (
      <Text c="green.9" size="sm" fw={500}>
        Listening
      </Text>
    );
  if (listener.state === 'down')
    return (
      <Text c="red.9" size="sm" fw={500}>
        Off
      </Text>
    );
  return (
    <Text size="sm" c="dimmed">
      Not in this build
    </Text>
  );
}

/** Two columns as in Syncthing: what the appliance serves on the left; this node and its peers on the right. */
export function DashboardScreen() {
  const { snapshot, rates } = useLive();
  const { queues, missing: noQueueApi } = useQueues(5000);
  const [fingerprint, setFingerprint] = useState('');
  useEffect(() => {
    api.identity().then(
      (i) => setFingerprint(i.fingerprint),
      () => undefined,
    );
  }, []);
  if (!snapshot) return <Text>Loading the live status…</Text>;

  const peers = snapshot.peers;
  const up = peers.filter((p) => p.outbound === 'up').length;
  const serving = snapshot.listeners.filter((l) => l.state !== 'unavailable');
  const listening = serving.filter((l) => l.state === 'up').length;
  const latest = rates[rates.length - 1];
  const chartData = rates.map((point) => Object.fromEntries([['time', point.time], ...peers.map((p, i) => [`peer${i}`, Number(point[p.domain] ?? 0)])]));
  const cert = snapshot.certificate;

  return (
    <Stack gap="md">
      <Title order={2}>Dashboard</Title>
      <SimpleGrid cols={{ base: 1, md: 2 }} spacing="md">
        <Stack gap="md">
          <Card withBorder padding="md">
            <Title order={3} fz="h4" mb="xs">
              Listeners
            </Title>
            <Table data-testid="listeners">
              <Table.Tbody>
                {snapshot.listeners.map((l) => (
                  <Table.Tr key={l.name}>
                    <Table.Th w={120}>{listenerNames[l.name]}</Table.Th>
                    <Table.Td>
                      <Text size="sm" ff="monospace">
                        {l.address}
                      </Text>
                      <Text size="xs" c={l.state === 'down' ? 'red.9' : 'dimmed'}>
                        {l.detail}
                      </Text>
                    </Table.Td>
                    <Table.Td ta="right" data-testid={`listener-${l.name}`} style={{ whiteSpace: 'nowrap' }}>
                      <ListenerState listener={l} />
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Card>

          <Card withBorder padding="md">
            <Title order={3} fz="h4" mb="xs">
              Traffic per peer (bytes/s, last 2 minutes)
            </Title>
            {peers.length === 0 ? (
              <Text size="sm">No peers yet. Traffic appears here once a peer is linked.</Text>
            ) : (
              <>
                <LineChart
                  h={200}
                  data={chartData}
                  dataKey="time"
                  // Series keys without dots: recharts reads "b.example" as a nested path.
                  series={peers.map((p, i) => ({ name: `peer${i}`, label: p.domain, color: palette[i % palette.length] as string }))}
                  curveType="monotone"
                  withDots={false}
                  withLegend
                  valueFormatter={(v) => formatRate(v)}
                  yAxisProps={{ width: 80 }}
                  aria-label="Bytes per second per peer"
                  data-testid="traffic-chart"
                />
                <Table mt="sm" fz="sm">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Peer</Table.Th>
                      <Table.Th ta="right">Now</Table.Th>
                      <Table.Th ta="right">Received</Table.Th>
                      <Table.Th ta="right">Sent</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {peers.map((p) => (
                      <Table.Tr key={p.domain}>
                        <Table.Td>{p.domain}</Table.Td>
                        <Table.Td ta="right">{formatRate(Number(latest?.[p.domain] ?? 0))}</Table.Td>
                        <Table.Td ta="right">{formatBytes(p.bytesIn)}</Table.Td>
                        <Table.Td ta="right">{formatBytes(p.bytesOut)}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </>
            )}
            <Text size="xs" c="dimmed" mt="xs">
              Envelope rates per peer are not reported by this build’s admin API yet; queue depths are on the right and on the Queues screen.
            </Text>
          </Card>
        </Stack>

        <Stack gap="md">
          <Card withBorder padding={0}>
            <Group px="md" py="sm" gap="sm" style={{ borderBottom: '1px solid var(--mantine-color-gray-3)' }}>
              {fingerprint && <Identicon fingerprint={fingerprint} size={24} />}
              <Title order={3} fz="h4">
                This appliance: {snapshot.status.domain}
              </Title>
            </Group>
            <Table striped withRowBorders={false} fz="sm" data-testid="this-appliance">
              <Table.Tbody>
                <KV label="Listeners">
                  <Text span size="sm" c={listening === serving.length ? 'green.9' : listening === 0 ? 'red.9' : 'orange.9'} fw={500}>
                    {listening}/{serving.length}
                  </Text>
                </KV>
                <KV label="Peers up">
                  <Text span size="sm" c={peers.length === 0 ? undefined : up === peers.length ? 'green.9' : 'orange.9'} fw={500} data-testid="peers-up">
                    {up}/{peers.length}
                  </Text>
                </KV>
                <KV label="Certificate">
                  {cert ? (
                    <Text span size="sm" c={cert.state === 'ok' ? 'green.9' : cert.state === 'warning' ? 'orange.9' : 'red.9'} fw={500}>
                      {cert.daysLeft < 0 ? `expired ${formatTime(cert.notAfter)}` : `expires in ${cert.daysLeft} days`}
                    </Text>
                  ) : (
                    <Anchor href={href('certificates')} size="sm">
                      none installed
                    </Anchor>
                  )}
                </KV>
                <KV label="Identification">
                  <Anchor href={href('identity')} size="sm" ff="monospace">
                    {fingerprint ? shortId(fingerprint) : '…'}
                  </Anchor>
                </KV>
                <KV label="Queued for peers">
                  {queues ? (
                    <Anchor href={href('queues')} size="sm" data-testid="queued-total">
                      {queues.peers.reduce((n, q) => n + q.depth, 0)} envelopes
                    </Anchor>
                  ) : noQueueApi ? (
                    <Text span size="sm" c="dimmed">
                      not in this build
                    </Text>
                  ) : (
                    '…'
                  )}
                </KV>
                <KV label="Waiting for the home">{queues ? `${queues.inboxDepth} envelopes` : noQueueApi ? '–' : '…'}</KV>
                <KV label="Uptime">{formatDuration(snapshot.status.uptimeSeconds)}</KV>
                <KV label="Ready">
                  <Text span size="sm" c={snapshot.status.ready ? 'green.9' : 'orange.9'} fw={500}>
                    {snapshot.status.ready
                      ? 'yes'
                      : `no: ${Object.entries(snapshot.components)
                          .filter(([, c]) => !c.ready)
                          .map(([n]) => n)
                          .join(', ')}`}
                  </Text>
                </KV>
                <KV label="Version">
                  v{snapshot.status.version}, Node {snapshot.status.node}
                </KV>
              </Table.Tbody>
            </Table>
          </Card>

          <Card withBorder padding={0}>
            <Group px="md" py="sm" justify="space-between" style={{ borderBottom: '1px solid var(--mantine-color-gray-3)' }}>
              <Title order={3} fz="h4">
                Peers
              </Title>
              <Anchor href={href('peers')} size="sm">
                Manage peers
              </Anchor>
            </Group>
            {peers.length === 0 && (
              <Text size="sm" p="md">
                No peers yet. Add one on the Peers screen with its federation card.
              </Text>
            )}
            {peers.map((p) => (
              <UnstyledButton
                key={p.domain}
                component="a"
                href={href('peers', p.domain)}
                px="md"
                py="xs"
                display="block"
                style={{ borderBottom: '1px solid var(--mantine-color-gray-2)' }}
                aria-label={`${p.domain}: ${peerStatusLabel(p).label}`}
              >
                <Group justify="space-between" wrap="nowrap">
                  <Text size="sm" fw={500}>
                    {p.domain}
                  </Text>
                  <PeerStatusText peer={p} />
                </Group>
                {p.lastError && p.outbound !== 'up' && (
                  <Text size="xs" c="red.9">
                    {p.lastError.code}: {p.lastError.message} ({formatTime(p.lastError.at)})
                  </Text>
                )}
              </UnstyledButton>
            ))}
          </Card>
        </Stack>
      </SimpleGrid>
    </Stack>
  );
}

function KV({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Table.Tr>
      <Table.Td>{label}</Table.Td>
      <Table.Td ta="right">{children}</Table.Td>
    </Table.Tr>
  );
}
