import { Alert, Button, Card, Code, Group, Stack, Table, Text, Title } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import type { QueuesResponse, QueueView } from '../../../service/admin/contract.js';
import { api, asApiError, type ApiError } from '../api.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { ErrorAlert } from '../components/error-alert.js';
import { Unavailable } from '../components/unavailable.js';
import { formatDuration, formatTime } from '../format.js';
import { href } from '../routing.js';

/** Polls GET /api/queues; `missing` when this build has no queue API (404), so the screen says so. */
export function useQueues(intervalMs = 3000): { queues: QueuesResponse | undefined; missing: boolean; error: ApiError | undefined; reload(): void } {
  const [queues, setQueues] = useState<QueuesResponse | undefined>();
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const reload = useCallback(() => {
    api.queues().then(
      (q) => {
        setQueues(q);
        setError(undefined);
      },
      (e: unknown) => {
        const failure = asApiError(e);
        if (failure.status === 404) setMissing(true);
        else setError(failure);
      },
    );
  }, []);
  useEffect(() => {
    reload();
    const timer = window.setInterval(reload, intervalMs);
    return () => window.clearInterval(timer);
  }, [reload, intervalMs]);
  return { queues, missing, error, reload };
}

/** Per-peer outboxes: depth, age of the oldest envelope, retry state; retry now, or purge with confirmation. */
export function QueuesScreen() {
  const { queues, missing, error, reload } = useQueues();
  const [purging, setPurging] = useState<QueueView | undefined>();
  const [actionError, setActionError] = useState<ApiError | undefined>();
  const [notice, setNotice] = useState<string | undefined>();

  return (
    <Stack gap="md" data-testid="queues">
      <Title order={2}>Queues</Title>
      {missing && (
        <Unavailable title="Queue management is not available in this build yet" endpoint="GET /api/queues" testId="queues-unavailable">
          Per-peer queue depth, oldest envelope age, retry state, “retry now” and purge appear here once the messaging layer exposes them on the admin API.
          Nothing on this screen is estimated or simulated.
        </Unavailable>
      )}
      {error && <ErrorAlert error={error} title="Cannot read the queues" />}
      {actionError && <ErrorAlert error={actionError} onClose={() => setActionError(undefined)} />}
      {notice && (
        <Alert color="green" withCloseButton onClose={() => setNotice(undefined)} closeButtonLabel="Dismiss">
          {notice}
        </Alert>
      )}
      {queues && (
        <>
          <Text size="sm">
            Envelopes wait here, on disk, until the peer acknowledges them; they survive restarts, and suspending a peer keeps its queue.{' '}
            <strong>{queues.inboxDepth}</strong> inbound envelope{queues.inboxDepth === 1 ? '' : 's'} wait for the home server to fetch them.
          </Text>
          <Card withBorder padding={0}>
            {queues.peers.length === 0 ? (
              <Text size="sm" p="md">
                No peers, so no queues.
              </Text>
            ) : (
              <Table fz="sm" data-testid="queues-table">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Peer</Table.Th>
                    <Table.Th>Link</Table.Th>
                    <Table.Th ta="right">Waiting</Table.Th>
                    <Table.Th>Oldest</Table.Th>
                    <Table.Th>Retry</Table.Th>
                    <Table.Th />
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {queues.peers.map((q) => (
                    <Table.Tr key={q.peer} data-testid={`queue-${q.peer}`}>
                      <Table.Td>
                        <a href={href('peers', q.peer)}>{q.peer}</a>
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm" c={q.linkUp ? 'green.9' : 'blue.9'}>
                          {q.linkUp ? 'up' : 'down'}
                        </Text>
                      </Table.Td>
                      <Table.Td ta="right" data-testid={`queue-depth-${q.peer}`}>
                        {q.depth}
                      </Table.Td>
                      <Table.Td>{q.oldestAgeMs === null ? '–' : formatDuration(Math.round(q.oldestAgeMs / 1000))}</Table.Td>
                      <Table.Td>
                        {q.retry ? (
                          <>
                            <Text size="sm">
                              attempt {q.retry.attempts}, next {formatTime(q.retry.nextAttemptAt)}
                            </Text>
                            {q.retry.lastError && (
                              <Text size="xs" c="red.9">
                                {q.retry.lastError}
                              </Text>
                            )}
                          </>
                        ) : (
                          '–'
                        )}
                      </Table.Td>
                      <Table.Td>
                        <Group gap="xs" justify="flex-end" wrap="nowrap">
                          <Button
                            size="xs"
                            variant="default"
                            disabled={q.depth === 0}
                            onClick={async () => {
                              setActionError(undefined);
                              try {
                                await api.retryQueue(q.peer);
                                setNotice(`Delivery to ${q.peer} is being retried now.`);
                                reload();
                              } catch (caught) {
                                setActionError(asApiError(caught));
                              }
                            }}
                          >
                            Retry now
                          </Button>
                          <Button size="xs" variant="outline" color="red" disabled={q.depth === 0} onClick={() => setPurging(q)}>
                            Purge…
                          </Button>
                        </Group>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Card>
        </>
      )}
      {!queues && !missing && !error && <Text size="sm">Loading…</Text>}
      {missing && (
        <Text size="sm" ta="center">
          Queued envelopes are kept on disk in the data directory (<Code>consulate.db</Code>) and survive restarts.
        </Text>
      )}
      <ConfirmDialog
        opened={purging !== undefined}
        title={`Purge the queue for ${purging?.peer ?? ''}?`}
        confirmLabel="Purge queue"
        typeToConfirm={purging?.peer ?? ''}
        onClose={() => setPurging(undefined)}
        onConfirm={async (typed) => {
          const { purged } = await api.purgeQueue(purging?.peer ?? '', typed);
          setNotice(`${purged} envelope${purged === 1 ? '' : 's'} for ${purging?.peer ?? ''} deleted.`);
          reload();
        }}
      >
        <Text size="sm">
          The {purging?.depth} envelope{purging?.depth === 1 ? '' : 's'} waiting for {purging?.peer} are deleted and will never be delivered; their senders are
          told they failed. The peer stays whitelisted and new envelopes queue as before.
        </Text>
      </ConfirmDialog>
    </Stack>
  );
}
