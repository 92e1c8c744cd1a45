import { Alert, Button, Card, Code, Group, SimpleGrid, Stack, Tabs, Text, Title } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import type { CertSlotView, CertsResponse } from '../../../service/admin/contract.js';
import { api, asApiError, type ApiError } from '../api.js';
import { CertificateDetails, CsrForm, ExpiryTimeline, ImportCertificateForm, PrivateCaPanel, ReportSummary, slotNames } from '../components/cert-forms.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { ErrorAlert } from '../components/error-alert.js';
import { Unavailable } from '../components/unavailable.js';
import { formatTime } from '../format.js';
import { useLive } from '../live.js';

const stateText: Record<CertSlotView['state'], { label: string; colour: string }> = {
  ok: { label: 'Valid', colour: 'green.9' },
  warning: { label: 'Expires soon', colour: 'orange.9' },
  critical: { label: 'Expires very soon', colour: 'red.9' },
  expired: { label: 'Expired', colour: 'red.9' },
  missing: { label: 'No certificate', colour: 'orange.9' },
};

/** The certificates in use, their validation report and expiry, and the ways to get a new one. */
export function CertificatesScreen() {
  const { snapshot, refresh } = useLive();
  const [certs, setCerts] = useState<CertsResponse | undefined>();
  const [missingApi, setMissingApi] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const load = useCallback(() => {
    api.certs().then(
      (c) => {
        setCerts(c);
        setError(undefined);
      },
      (e: unknown) => {
        const failure = asApiError(e);
        if (failure.status === 404) setMissingApi(true);
        else setError(failure);
      },
    );
  }, []);
  useEffect(load, [load]);
  const changed = () => {
    load();
    refresh();
  };

  const domain = snapshot?.status.domain ?? '';
  const federation = certs?.slots.find((s) => s.slot === 'federation');
  const hostnames = [...new Set(certs?.slots.flatMap((s) => s.hostnames) ?? [])];

  return (
    <Stack gap="md" data-testid="certificates">
      <Title order={2}>Certificates</Title>
      {error && <ErrorAlert error={error} title="Cannot read the certificates" />}
      {missingApi && (
        <Unavailable title="Certificate management is not available in this build yet" endpoint="GET /api/certs" testId="certs-unavailable">
          Place the PEM chain and key in the data directory under <Code>tls/federation.crt</Code> and <Code>tls/federation.key</Code> and restart the service.
        </Unavailable>
      )}
      {certs && !certs.listener.running && (
        <Alert color="yellow" title="The federation listener is not running">
          It starts as soon as a valid certificate is installed for it. Peers cannot reach this appliance until then.
        </Alert>
      )}
      {certs && hostnames.length === 0 && (
        <Alert color="blue" title="No host name is configured">
          Set the federation host name in Settings so certificates can be checked against it. Until then a certificate is not checked for names.
        </Alert>
      )}
      {certs && (
        <SimpleGrid cols={{ base: 1, lg: 2 }}>
          {certs.slots.map((slot) => (
            <SlotCard key={slot.slot} slot={slot} onChanged={changed} />
          ))}
        </SimpleGrid>
      )}
      {certs && (
        <Card withBorder padding="lg">
          <Title order={3} fz="h4" mb="sm">
            Get a certificate
          </Title>
          <Tabs defaultValue={federation?.current ? 'import' : 'ca'}>
            <Tabs.List>
              <Tabs.Tab value="import" data-testid="tab-cert-import">
                Import
              </Tabs.Tab>
              <Tabs.Tab value="csr">Request from a CA (CSR)</Tabs.Tab>
              <Tabs.Tab value="ca">Private CA</Tabs.Tab>
            </Tabs.List>
            <Tabs.Panel value="import" pt="md">
              <ImportCertificateForm onInstalled={changed} />
            </Tabs.Panel>
            <Tabs.Panel value="csr" pt="md">
              <CsrForm key={hostnames.join(',')} defaultHostnames={hostnames} />
            </Tabs.Panel>
            <Tabs.Panel value="ca" pt="md">
              <PrivateCaPanel key={`${domain} ${hostnames.join(',')}`} hostnames={hostnames} domain={domain} onInstalled={changed} />
            </Tabs.Panel>
          </Tabs>
        </Card>
      )}
    </Stack>
  );
}

function SlotCard({ slot, onChanged }: { slot: CertSlotView; onChanged(): void }) {
  const [rollback, setRollback] = useState(false);
  const state = stateText[slot.state];
  return (
    <Card withBorder padding="lg" data-testid={`cert-slot-${slot.slot}`}>
      <Stack gap="sm">
        <Group justify="space-between">
          <Title order={3} fz="h4">
            {slotNames[slot.slot]}
          </Title>
          <Text c={state.colour} fw={600} size="sm" data-testid={`cert-state-${slot.slot}`}>
            {state.label}
            {slot.current && !slot.served ? ' (not served yet)' : ''}
          </Text>
        </Group>
        <Text size="sm">
          Must cover: {slot.hostnames.length > 0 ? slot.hostnames.join(', ') : 'no host name configured'}
          {slot.source === 'legacy' ? ' · served from the pre-store tls/ folder' : ''}
        </Text>
        {slot.problem && (
          <Alert color="red" title="Problem">
            {slot.problem}
          </Alert>
        )}
        {slot.current ? (
          <>
            <ExpiryTimeline cert={slot.current} warningAt={slot.expiry?.warningAt} criticalAt={slot.expiry?.criticalAt} />
            <CertificateDetails cert={slot.current} />
            <Text size="xs" c="dimmed">
              Installed {formatTime(slot.current.installedAt)} (generation {slot.current.id}).
            </Text>
            {slot.report && <ReportSummary report={slot.report} />}
          </>
        ) : (
          <Text size="sm">
            {slot.slot === 'fileProxy'
              ? 'Optional: the file proxy uses the federation certificate unless it has its own host name.'
              : 'None installed. Use one of the options below.'}
          </Text>
        )}
        {slot.previous && (
          <Group justify="space-between" mt="xs">
            <Text size="sm">
              Previous: {slot.previous.subject}, until {formatTime(slot.previous.notAfter).slice(0, 10)}
            </Text>
            <Button variant="outline" color="red" size="xs" onClick={() => setRollback(true)}>
              Roll back…
            </Button>
          </Group>
        )}
      </Stack>
      <ConfirmDialog
        opened={rollback}
        title={`Roll back the ${slotNames[slot.slot].toLowerCase()} certificate?`}
        confirmLabel="Roll back"
        onClose={() => setRollback(false)}
        onConfirm={async () => {
          await api.certRollback({ slot: slot.slot });
          onChanged();
        }}
      >
        <Text size="sm">
          The listener switches back to {slot.previous?.subject} (valid until {formatTime(slot.previous?.notAfter)}) at once. The current certificate becomes
          the previous one, so you can switch again.
        </Text>
      </ConfirmDialog>
    </Card>
  );
}
