import { Badge, Code, Group, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useState, type ReactNode } from 'react';
import type { BackupContentsView } from '../../../service/admin/contract.js';
import { formatTime } from '../format.js';
import { Fingerprint } from './fingerprint.js';

const slotLabel: Record<BackupContentsView['certificates'][number]['slot'], string> = {
  federation: 'Federation',
  fileProxy: 'File proxy',
};

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function Fact({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text size="sm" fw={500} data-testid={testId}>
        {children}
      </Text>
    </div>
  );
}

/**
 * What a backup holds, read from inside the encrypted file: the same list `consulate backup
 * inspect` prints, so the operator sees what a restore would bring before anything changes.
 * `headingOrder` is the level of this view's section titles in the page it sits in.
 */
export function BackupContents({ contents, testId, headingOrder = 4 }: { contents: BackupContentsView; testId: string; headingOrder?: 3 | 4 | 5 }) {
  const heading = (text: string) => (
    <Title order={headingOrder} fz="sm" fw={600} mt="xs">
      {text}
    </Title>
  );
  // When the list was first shown; an expiry is judged against that.
  const [now] = useState(() => Date.now());
  return (
    <Stack gap="xs" data-testid={testId}>
      <SimpleGrid cols={{ base: 2, sm: 4 }}>
        <Fact label="Domain" testId="contents-domain">
          {contents.domain}
        </Fact>
        <Fact label="Made" testId="contents-created">
          {formatTime(contents.createdAt)}
        </Fact>
        <Fact label="By Consulate" testId="contents-version">
          v{contents.consulateVersion}
        </Fact>
        <Fact label="Admin password" testId="contents-password">
          {contents.adminPassword ? 'included' : 'none in the backup'}
        </Fact>
      </SimpleGrid>

      {heading(`Identity keys (${contents.identities.length})`)}
      <Stack gap="xs">
        {contents.identities.map((key, i) => (
          <div key={key.fingerprint} data-testid={`contents-identity-${i}`}>
            <Group gap="xs" mb={4}>
              <Badge color={key.status === 'active' ? 'green' : 'gray'} variant="light" data-testid={`contents-identity-status-${i}`}>
                {key.status}
              </Badge>
              <Text size="xs" c="dimmed">
                created {formatTime(key.createdAt)}
              </Text>
            </Group>
            <Fingerprint value={key.fingerprint} size="md" testId={`contents-fingerprint-${i}`} />
          </div>
        ))}
      </Stack>

      {heading(`Peers on the whitelist (${contents.peers.length})`)}
      {contents.peers.length === 0 ? (
        <Text size="sm">None.</Text>
      ) : (
        <Table fz="sm" data-testid="contents-peers">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Peer</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th ta="right">Pinned keys</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {contents.peers.map((peer) => (
              <Table.Tr key={peer.domain} data-testid={`contents-peer-${peer.domain}`}>
                <Table.Td>{peer.domain}</Table.Td>
                <Table.Td>{peer.state}</Table.Td>
                <Table.Td ta="right" data-testid={`contents-peer-pins-${peer.domain}`}>
                  {peer.pins}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}

      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <div>
          {heading(`Home API keys (${contents.apiKeys.length})`)}
          {contents.apiKeys.length === 0 ? (
            <Text size="sm">None.</Text>
          ) : (
            <Group gap="xs" mt={4} data-testid="contents-api-keys">
              {contents.apiKeys.map((key) => (
                <Text key={key.name} size="sm" span td={key.revoked ? 'line-through' : undefined}>
                  <Code>{key.name}</Code>
                  {key.revoked && (
                    <Text span size="xs" c="dimmed" td="none">
                      {' '}
                      (revoked)
                    </Text>
                  )}
                </Text>
              ))}
            </Group>
          )}
        </div>
        <div>
          {heading('Directory')}
          <Text size="sm" data-testid="contents-directory">
            {plural(contents.directoryUsers, 'user')}
          </Text>
        </div>
      </SimpleGrid>

      {heading(`Certificates (${contents.certificates.length})`)}
      {contents.certificates.length === 0 ? (
        <Text size="sm">None: the certificates installed here are kept.</Text>
      ) : (
        <Table fz="sm" data-testid="contents-certificates">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Slot</Table.Th>
              <Table.Th>Subject</Table.Th>
              <Table.Th>Names (SANs)</Table.Th>
              <Table.Th>Expires</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {contents.certificates.map((cert) => (
              <Table.Tr key={cert.slot} data-testid={`contents-cert-${cert.slot}`}>
                <Table.Td>{slotLabel[cert.slot]}</Table.Td>
                <Table.Td style={{ wordBreak: 'break-all' }}>{cert.subject}</Table.Td>
                <Table.Td>{cert.sans.join(', ')}</Table.Td>
                <Table.Td>
                  {formatTime(cert.notAfter)}
                  {Date.parse(cert.notAfter) < now && (
                    <Text span size="xs" c="red.9" fw={600}>
                      {' '}
                      expired: will be skipped
                    </Text>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}

      {heading(`Settings (${contents.settings.length})`)}
      {contents.settings.length === 0 ? (
        <Text size="sm" data-testid="contents-settings">
          No settings file in the backup: the settings here are kept.
        </Text>
      ) : (
        <Group gap={6} data-testid="contents-settings">
          {contents.settings.map((key) => (
            <Code key={key}>{key}</Code>
          ))}
        </Group>
      )}
    </Stack>
  );
}
