import { Accordion, Alert, Badge, Button, Code, Group, Stack, Switch, Table, Text, Textarea, Title } from '@mantine/core';
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { DoctorResponse, PeerLive, PeerView, UnknownDialerView } from '../../../service/admin/contract.js';
import { api, asApiError, type ApiError } from '../api.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { ErrorAlert } from '../components/error-alert.js';
import { Identicon } from '../components/identicon.js';
import { PeerStatusText } from '../components/status-text.js';
import { formatAgo, formatBytes, formatTime, shortId } from '../format.js';
import { useLive } from '../live.js';
import { navigate } from '../routing.js';
import { AddPeerModal } from './add-peer.js';

const capabilityHelp: Record<keyof PeerView['capabilities'], string> = {
  lookup: 'Lookup: the peer may look up users of this home by address.',
  messages: 'Messages: envelopes (messages, receipts, recalls) flow both ways.',
  files: 'Files: the peer may fetch files that envelopes to it referenced.',
  calls: 'Calls: the peer’s users may join calls hosted on this relay.',
};

/** The whitelist: one line per peer with its state; details, actions and the doctor expand in place. */
export function PeersScreen({ selected }: { selected: string | undefined }) {
  const { snapshot, refresh } = useLive();
  const [peers, setPeers] = useState<PeerView[] | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const [adding, setAdding] = useState(false);
  const [notice, setNotice] = useState<string | undefined>();

  const load = useCallback(() => {
    api.peers().then(
      (list) => {
        setPeers(list);
        setError(undefined);
      },
      (e: unknown) => setError(asApiError(e)),
    );
  }, []);
  // Reload details when the whitelist itself changes (added, suspended, severed, re-keyed elsewhere).
  const shape = snapshot?.peers.map((p) => `${p.domain}:${p.state}:${p.keyAlarm ?? ''}`).join(',');
  useEffect(load, [load, shape]);

  const live = useMemo(() => new Map((snapshot?.peers ?? []).map((p) => [p.domain, p])), [snapshot]);
  const upCount = snapshot?.peers.filter((p) => p.outbound === 'up').length ?? 0;

  return (
    <Stack gap="md">
      <Group justify="space-between">
        <div>
          <Title order={2}>Peers</Title>
          <Text size="sm">
            {peers ? `${peers.length} whitelisted, ${upCount} up. ` : ''}Traffic flows only when both sides have imported each other’s card.
          </Text>
        </div>
        <Button onClick={() => setAdding(true)} data-testid="add-peer">
          Add peer
        </Button>
      </Group>
      {error && <ErrorAlert error={error} title="Cannot load the peers" />}
      {(snapshot?.unknownDialers ?? []).map((dialer) => (
        <UnknownDialerPrompt key={dialer.domain} dialer={dialer} onAdd={() => setAdding(true)} onDismissed={refresh} />
      ))}
      {notice && (
        <Alert color="green" title="Peer added" withCloseButton onClose={() => setNotice(undefined)} closeButtonLabel="Dismiss" data-testid="peer-added">
          {notice}
        </Alert>
      )}
      {peers && peers.length === 0 && (
        <Alert color="blue" title="No peers yet">
          Ask the other organisation’s administrator for their federation card (Identity & card screen, or <Code>consulate card export</Code>), then choose Add
          peer. Send them your card too.
        </Alert>
      )}
      {peers && peers.length > 0 && (
        <Accordion
          variant="separated"
          value={selected ?? null}
          onChange={(value) => navigate('peers', value ?? undefined)}
          chevronPosition="left"
          data-testid="peer-list"
        >
          {peers.map((peer) => {
            const status = live.get(peer.domain) ?? { ...peer.status, domain: peer.domain, state: peer.state };
            const key = peer.keys[0];
            return (
              <Accordion.Item key={peer.domain} value={peer.domain} data-testid={`peer-${peer.domain}`}>
                <Accordion.Control>
                  <Group justify="space-between" wrap="nowrap">
                    <Group gap="sm" wrap="nowrap">
                      {key && <Identicon fingerprint={key.fingerprint} />}
                      <Text fw={500}>{peer.domain}</Text>
                      {key && (
                        <Text size="xs" ff="monospace" c="dimmed">
                          {shortId(key.fingerprint)}
                        </Text>
                      )}
                    </Group>
                    <PeerStatusText peer={status} />
                  </Group>
                </Accordion.Control>
                <Accordion.Panel>
                  <PeerDetails peer={peer} status={status} onChanged={() => (load(), refresh())} />
                </Accordion.Panel>
              </Accordion.Item>
            );
          })}
        </Accordion>
      )}
      <AddPeerModal
        opened={adding}
        onClose={() => setAdding(false)}
        onImported={(peer) => {
          setAdding(false);
          setNotice(`${peer.domain} is whitelisted. The link comes up once ${peer.domain} has imported your card too (Identity & card screen).`);
          load();
          refresh();
          navigate('peers', peer.domain);
        }}
      />
    </Stack>
  );
}

function PeerDetails({ peer, status, onChanged }: { peer: PeerView; status: PeerLive; onChanged(): void }) {
  const [error, setError] = useState<ApiError | undefined>();
  const [confirm, setConfirm] = useState<'suspend' | 'sever' | undefined>();
  const [doctor, setDoctor] = useState<DoctorResponse | undefined>();
  const [checking, setChecking] = useState(false);
  const [note, setNote] = useState(peer.note);

  const patch = async (body: Parameters<typeof api.updatePeer>[1]) => {
    setError(undefined);
    try {
      await api.updatePeer(peer.domain, body);
      onChanged();
    } catch (caught) {
      setError(asApiError(caught));
    }
  };

  return (
    <Stack gap="sm">
      {status.keyAlarm && (
        <Alert color="red" title="Key alarm">
          {status.keyAlarm}
        </Alert>
      )}
      <Table withRowBorders={false} fz="sm" data-testid="peer-details">
        <Table.Tbody>
          <Row label="Federation URL">
            <Text size="sm" ff="monospace">
              {peer.federationUrl}
            </Text>
          </Row>
          <Row label="Our link to them">
            <Text size="sm">{status.outbound}</Text>
            {status.lastError && status.outbound !== 'up' && (
              <Text size="xs" c="red.9" data-testid="peer-last-error">
                {status.lastError.code}: {status.lastError.message} ({formatTime(status.lastError.at)})
              </Text>
            )}
          </Row>
          <Row label="Their link to us">{status.inbound}</Row>
          <Row label="Round trip">{status.rttMs === null ? '–' : `${status.rttMs < 10 ? status.rttMs.toFixed(1) : Math.round(status.rttMs)} ms`}</Row>
          <Row label="Last handshake">{status.lastHandshake ? `${formatTime(status.lastHandshake)} (${formatAgo(status.lastHandshake)})` : 'never'}</Row>
          <Row label="Traffic">
            {formatBytes(status.bytesIn)} received, {formatBytes(status.bytesOut)} sent
          </Row>
          <Row label="Added">
            {formatTime(peer.addedAt)} by {peer.addedBy}
          </Row>
        </Table.Tbody>
      </Table>

      <Title order={4} fz="sm">
        Pinned keys
      </Title>
      <Table fz="sm" data-testid="peer-keys">
        <Table.Tbody>
          {peer.keys.map((k) => (
            <Table.Tr key={k.publicKey}>
              <Table.Td w={36}>
                <Identicon fingerprint={k.fingerprint} size={20} />
              </Table.Td>
              <Table.Td>
                <Code>{k.fingerprint}</Code>
              </Table.Td>
              <Table.Td>from {k.source === 'rotation' ? 'a signed rotation' : k.source === 'card' ? 'a card' : 'an admin'}</Table.Td>
              <Table.Td>
                {k.notAfter ? (
                  <Badge color="orange" variant="light">
                    old key, accepted until {formatTime(k.notAfter)}
                  </Badge>
                ) : (
                  <Badge color="green" variant="light">
                    current
                  </Badge>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>

      <Title order={4} fz="sm">
        Capabilities
      </Title>
      <Group gap="lg">
        {(Object.keys(capabilityHelp) as Array<keyof PeerView['capabilities']>).map((name) => (
          <Switch
            key={name}
            label={name}
            description={capabilityHelp[name].split(': ')[1]}
            checked={peer.capabilities[name]}
            onChange={(e) => void patch({ capabilities: { [name]: e.currentTarget.checked } })}
            maw={240}
            data-testid={`capability-${name}`}
          />
        ))}
      </Group>

      <Textarea
        label="Note"
        description="Who the peer is, who to call about it."
        value={note}
        onChange={(e) => setNote(e.currentTarget.value)}
        autosize
        minRows={1}
        maxRows={4}
        onBlur={() => note !== peer.note && void patch({ note })}
      />

      {error && <ErrorAlert error={error} onClose={() => setError(undefined)} />}

      {doctor && <DoctorResult result={doctor} />}

      <Group justify="space-between" mt="xs">
        <Button color="red" variant="outline" onClick={() => setConfirm('sever')} data-testid="peer-sever">
          Sever…
        </Button>
        <Group>
          <Button
            variant="default"
            loading={checking}
            data-testid="peer-check"
            onClick={async () => {
              setChecking(true);
              setError(undefined);
              setDoctor(undefined);
              try {
                setDoctor(await api.checkPeer(peer.domain));
              } catch (caught) {
                setError(asApiError(caught));
              } finally {
                setChecking(false);
              }
            }}
          >
            Check connection
          </Button>
          {peer.state === 'active' ? (
            <Button variant="default" onClick={() => setConfirm('suspend')} data-testid="peer-suspend">
              Suspend…
            </Button>
          ) : (
            <Button
              onClick={async () => {
                setError(undefined);
                try {
                  await api.resumePeer(peer.domain);
                  onChanged();
                } catch (caught) {
                  setError(asApiError(caught));
                }
              }}
              data-testid="peer-resume"
            >
              Resume
            </Button>
          )}
        </Group>
      </Group>

      <ConfirmDialog
        opened={confirm === 'suspend'}
        title={`Suspend ${peer.domain}?`}
        confirmLabel={`Suspend ${peer.domain}`}
        danger={false}
        onClose={() => setConfirm(undefined)}
        onConfirm={async () => {
          await api.suspendPeer(peer.domain);
          onChanged();
        }}
      >
        <Text size="sm">
          Both links with {peer.domain} close now and new ones are refused until you resume. Meanwhile lookups, messages, files and calls with its users stop.
        </Text>
        <Text size="sm" mt="xs">
          Nothing is deleted: the whitelist entry, pinned keys and queued envelopes stay, and queued envelopes are delivered after you resume.
        </Text>
      </ConfirmDialog>

      <ConfirmDialog
        opened={confirm === 'sever'}
        title={`Sever ${peer.domain}?`}
        confirmLabel={`Sever ${peer.domain}`}
        typeToConfirm={peer.domain}
        onClose={() => setConfirm(undefined)}
        onConfirm={async (typed) => {
          await api.severPeer(peer.domain, typed);
          navigate('peers');
          onChanged();
        }}
      >
        <Text size="sm">
          This deletes {peer.domain} from the whitelist: its pinned keys, capabilities and note, and every envelope queued to it. Links close at once.
        </Text>
        <Text size="sm" mt="xs" fw={500}>
          It cannot be undone. To federate again, both sides must import fresh cards and confirm fingerprints.
        </Text>
      </ConfirmDialog>
    </Stack>
  );
}

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Table.Tr>
      <Table.Th w={170} fw={500}>
        {label}
      </Table.Th>
      <Table.Td>{children}</Table.Td>
    </Table.Tr>
  );
}

const stepNames: Record<string, string> = {
  dns: 'Name resolution',
  tcp: 'TCP connection',
  tls: 'TLS certificate',
  handshake: 'Noise handshake with the pinned key',
  clock: 'Clock difference',
};

function DoctorResult({ result }: { result: DoctorResponse }) {
  const all = ['dns', 'tcp', 'tls', 'handshake', 'clock'];
  const byStep = new Map(result.steps.map((s) => [s.step, s]));
  return (
    <Alert
      color={result.ok ? 'green' : 'red'}
      title={result.ok ? `All checks passed for ${result.domain}` : `${result.domain} failed a check`}
      data-testid="doctor-result"
    >
      <Table fz="sm" withRowBorders={false}>
        <Table.Tbody>
          {all.map((name) => {
            const step = byStep.get(name);
            return (
              <Table.Tr key={name} data-testid={`doctor-${name}`}>
                <Table.Td w={70}>
                  <Text size="sm" fw={600} c={!step ? 'gray.7' : step.ok ? 'green.9' : 'red.9'}>
                    {!step ? 'SKIP' : step.ok ? 'PASS' : 'FAIL'}
                  </Text>
                </Table.Td>
                <Table.Td w={250}>{stepNames[name]}</Table.Td>
                <Table.Td>
                  {step ? (
                    <>
                      {step.code && <Code>{step.code}</Code>} {step.message}{' '}
                      <Text span size="xs">
                        ({step.ms} ms)
                      </Text>
                    </>
                  ) : (
                    'not run: an earlier step failed'
                  )}
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Alert>
  );
}

/**
 * An appliance that dialed us but is not on the whitelist (Syncthing's pending device): shown
 * until it is added or dismissed. Its domain is only a claim; adding it still takes its card.
 */
function UnknownDialerPrompt({ dialer, onAdd, onDismissed }: { dialer: UnknownDialerView; onAdd(): void; onDismissed(): void }) {
  const [error, setError] = useState<ApiError | undefined>();
  const dismiss = () => api.dismissUnknownDialer(dialer.domain).then(onDismissed, (e: unknown) => setError(asApiError(e)));
  return (
    <Alert color="yellow" title={`${dialer.domain} is trying to connect`} data-testid={`unknown-dialer-${dialer.domain}`}>
      <Stack gap="xs">
        <Text size="sm">
          An appliance that says it is <strong>{dialer.domain}</strong> dialed this one {dialer.attempts === 1 ? 'once' : `${dialer.attempts} times`} (last{' '}
          {formatAgo(dialer.lastSeen)}, from {dialer.addresses.join(', ')}) and was refused: it is not on the whitelist. If you expect it, ask its administrator
          for its federation card and add it; you will compare its fingerprint before anything is trusted. The name is only its claim.
        </Text>
        {error && <ErrorAlert error={error} title="Cannot dismiss" />}
        <Group gap="xs">
          <Button size="xs" onClick={onAdd} data-testid={`unknown-dialer-add-${dialer.domain}`}>
            Add with its card…
          </Button>
          <Button size="xs" variant="default" onClick={() => void dismiss()} data-testid={`unknown-dialer-dismiss-${dialer.domain}`}>
            Dismiss for a day
          </Button>
        </Group>
      </Stack>
    </Alert>
  );
}
