import { Alert, Anchor, Badge, Button, Code, EmptyState, Group, ScrollArea, Select, Stack, Table, Tabs, Text, TextInput, Title } from '@mantine/core';
import { useEffect, useMemo, useState } from 'react';
import type { AuditResponse, LogEntryView } from '../../../service/admin/contract.js';
import { api, asApiError, type ApiError } from '../api.js';
import { ErrorAlert } from '../components/error-alert.js';
import { formatTime } from '../format.js';
import { mergeLogs, useLive } from '../live.js';
import { href, navigate } from '../routing.js';

const levelRank: Record<LogEntryView['level'], number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const levelColour: Record<LogEntryView['level'], string> = {
  trace: 'gray.7',
  debug: 'gray.7',
  info: 'blue.9',
  warn: 'orange.9',
  error: 'red.9',
  fatal: 'red.9',
};

interface Group {
  first: LogEntryView;
  last: LogEntryView;
  count: number;
}

/** Collapses runs of the same line (same level, message and peer) into one row with a count, so a flood stays readable. */
export function collapse(entries: LogEntryView[]): Group[] {
  const groups: Group[] = [];
  for (const entry of entries) {
    const previous = groups[groups.length - 1];
    if (previous && previous.last.msg === entry.msg && previous.last.level === entry.level && previous.last.fields['peer'] === entry.fields['peer']) {
      previous.last = entry;
      previous.count += 1;
    } else {
      groups.push({ first: entry, last: entry, count: 1 });
    }
  }
  return groups;
}

export function LogsScreen({ tab }: { tab: string | undefined }) {
  return (
    <Stack gap="md">
      <Title order={2}>Logs & audit</Title>
      <Tabs value={tab === 'audit' ? 'audit' : 'log'} onChange={(value) => navigate('logs', value ?? 'log')}>
        <Tabs.List>
          <Tabs.Tab value="log" data-testid="tab-log">
            Live log
          </Tabs.Tab>
          <Tabs.Tab value="audit" data-testid="tab-audit">
            Audit trail
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="log" pt="md">
          <LiveLog />
        </Tabs.Panel>
        <Tabs.Panel value="audit" pt="md">
          <AuditTrail />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}

function LiveLog() {
  const { logs: streamed } = useLive();
  const [history, setHistory] = useState<LogEntryView[]>([]);
  const [available, setAvailable] = useState(true);
  const [serviceLevel, setServiceLevel] = useState('info');
  const [error, setError] = useState<ApiError | undefined>();
  const [minimum, setMinimum] = useState<LogEntryView['level']>('info');
  const [filter, setFilter] = useState('');
  const [paused, setPaused] = useState<LogEntryView[] | undefined>();

  useEffect(() => {
    api.logs().then(
      (r) => {
        setHistory(r.entries);
        setAvailable(r.available);
        setServiceLevel(r.level);
      },
      (e: unknown) => setError(asApiError(e)),
    );
  }, []);

  const all = useMemo(() => mergeLogs(history, streamed), [history, streamed]);
  const source = paused ?? all;
  const needle = filter.trim().toLowerCase();
  const shown = useMemo(
    () =>
      collapse(
        source.filter((e) => levelRank[e.level] >= levelRank[minimum] && (!needle || `${e.msg} ${JSON.stringify(e.fields)}`.toLowerCase().includes(needle))),
      ).reverse(),
    [source, minimum, needle],
  );

  if (error) return <ErrorAlert error={error} title="Cannot read the log" />;
  if (!available) {
    return (
      <Alert color="blue" title="The live log is not available from this service">
        The GUI could not attach to the service’s log output. Read the log where the service writes it (journald, the terminal, or the desktop shell’s log
        folder).
      </Alert>
    );
  }
  return (
    <Stack gap="sm">
      <Group gap="sm" align="flex-end" bg="var(--mantine-color-gray-1)" p="sm" style={{ borderRadius: 4 }}>
        <Select
          label="Priority"
          data={[
            { value: 'debug', label: 'Debug and above' },
            { value: 'info', label: 'Info and above' },
            { value: 'warn', label: 'Warnings and above' },
            { value: 'error', label: 'Errors only' },
          ]}
          value={minimum}
          onChange={(v) => setMinimum((v as LogEntryView['level']) ?? 'info')}
          allowDeselect={false}
          w={200}
          data-testid="log-level"
        />
        <TextInput
          label="Filter"
          placeholder="text, peer, code…"
          value={filter}
          onChange={(e) => setFilter(e.currentTarget.value)}
          w={280}
          data-testid="log-filter"
        />
        <Button variant={paused ? 'filled' : 'default'} onClick={() => setPaused(paused ? undefined : all)} data-testid="log-pause">
          {paused ? 'Resume' : 'Pause'}
        </Button>
        <Text size="xs" ml="auto">
          Showing: priority ≥ {minimum}
          {needle ? `, text “${needle}”` : ''}. The service records {serviceLevel} and above.
        </Text>
      </Group>
      {shown.length === 0 ? (
        <EmptyState
          title="No log lines found"
          description={source.length === 0 ? 'The service has not logged anything since the GUI attached.' : 'No lines match the current filters.'}
          data-testid="log-empty"
        >
          {source.length > 0 && (
            <Button
              onClick={() => {
                setFilter('');
                setMinimum('debug');
              }}
            >
              Clear all filters
            </Button>
          )}
        </EmptyState>
      ) : (
        <ScrollArea.Autosize mah={560} type="auto">
          <Table fz="xs" striped data-testid="log-table" stickyHeader styles={{ td: { fontFamily: 'var(--mantine-font-family-monospace)' } }}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th w={150}>Time</Table.Th>
                <Table.Th w={60}>Level</Table.Th>
                <Table.Th>Message</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {shown.map((g) => {
                const peer = typeof g.last.fields['peer'] === 'string' ? (g.last.fields['peer'] as string) : undefined;
                const extra = Object.entries(g.last.fields).filter(([k]) => k !== 'peer');
                return (
                  <Table.Tr key={g.last.id}>
                    <Table.Td>{formatTime(g.last.time)}</Table.Td>
                    <Table.Td>
                      <Text span size="xs" c={levelColour[g.last.level]} fw={600}>
                        {g.last.level}
                      </Text>
                    </Table.Td>
                    <Table.Td style={{ wordBreak: 'break-word' }}>
                      {g.last.msg}
                      {g.count > 1 && (
                        <Badge size="xs" ml={6} variant="light" color="gray">
                          ×{g.count} since {formatTime(g.first.time).slice(11)}
                        </Badge>
                      )}
                      {peer && (
                        <>
                          {' '}
                          <Anchor href={href('peers', peer)} size="xs">
                            peer {peer}
                          </Anchor>
                        </>
                      )}
                      {extra.length > 0 && (
                        <Text size="xs" c="dimmed" ff="monospace">
                          {extra.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('  ')}
                        </Text>
                      )}
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </ScrollArea.Autosize>
      )}
    </Stack>
  );
}

function AuditTrail() {
  const [audit, setAudit] = useState<AuditResponse | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const [filter, setFilter] = useState('');
  useEffect(() => {
    api.audit().then(setAudit, (e: unknown) => setError(asApiError(e)));
  }, []);
  if (error) return <ErrorAlert error={error} title="Cannot read the audit trail" />;
  if (!audit) return <Text size="sm">Loading…</Text>;
  const needle = filter.trim().toLowerCase();
  const entries = audit.entries.filter((e) => !needle || `${e.actor} ${e.action} ${e.target} ${JSON.stringify(e.details)}`.toLowerCase().includes(needle));
  return (
    <Stack gap="sm">
      {audit.chain.intact ? (
        <Alert color="green" title="Audit trail intact" data-testid="audit-chain">
          The hash chain over all {audit.chain.checked} entries verifies: no entry was edited or removed.
        </Alert>
      ) : (
        <Alert color="red" title="Audit trail tampered with" data-testid="audit-chain">
          Entry #{audit.chain.brokenAt} does not follow from the one before it: an entry was edited or deleted outside Consulate. Keep a copy of the data
          directory for investigation.
        </Alert>
      )}
      <TextInput label="Filter" placeholder="actor, action, peer…" value={filter} onChange={(e) => setFilter(e.currentTarget.value)} maw={320} />
      <Table fz="sm" striped data-testid="audit-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th w={60}>#</Table.Th>
            <Table.Th w={170}>When</Table.Th>
            <Table.Th>Who</Table.Th>
            <Table.Th>What</Table.Th>
            <Table.Th>Target</Table.Th>
            <Table.Th>Details</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {entries.map((e) => (
            <Table.Tr key={e.id}>
              <Table.Td>{e.id}</Table.Td>
              <Table.Td>{formatTime(e.ts)}</Table.Td>
              <Table.Td>{e.actor}</Table.Td>
              <Table.Td>
                <Code>{e.action}</Code>
              </Table.Td>
              <Table.Td>{e.action.startsWith('peer.') && e.target ? <Anchor href={href('peers', e.target)}>{e.target}</Anchor> : e.target}</Table.Td>
              <Table.Td>
                <Text size="xs" ff="monospace" style={{ wordBreak: 'break-all' }}>
                  {Object.keys(e.details).length > 0 ? JSON.stringify(e.details) : ''}
                </Text>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {entries.length === 0 && <Text size="sm">No entries match.</Text>}
    </Stack>
  );
}
