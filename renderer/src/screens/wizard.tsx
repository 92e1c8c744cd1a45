import {
  Alert,
  Box,
  Button,
  Card,
  Code,
  Group,
  List,
  NumberInput,
  PasswordInput,
  SimpleGrid,
  Stack,
  Stepper,
  Table,
  Tabs,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import type { HealthResponse, SettingsResponse, SettingsUpdateRequest, SetupResponse } from '../../../service/admin/contract.js';
import { api, asApiError, type ApiError } from '../api.js';
import { CsrForm, ImportCertificateForm, PrivateCaPanel } from '../components/cert-forms.js';
import { ErrorAlert } from '../components/error-alert.js';
import { Fingerprint } from '../components/fingerprint.js';
import { formatTime } from '../format.js';
import { asNumber, minPassword, passwordProblem } from '../forms.js';

const dnsName = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/i;

function DoneMark({ done, children }: { done: boolean; children: ReactNode }) {
  return (
    <Text size="sm" c={done ? 'green.9' : 'orange.9'} fw={500}>
      {done ? '✓ ' : '• '}
      {children}
    </Text>
  );
}

/**
 * First run, enforced until finished: the service refuses peer and key changes before
 * then. Each step saves as it goes, so closing the browser half-way loses nothing.
 */
export function WizardScreen({ setup, onChanged, health }: { setup: SetupResponse; onChanged(): void; health: HealthResponse | undefined }) {
  const [step, setStep] = useState(0);
  const [settings, setSettings] = useState<SettingsResponse | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const [finished, setFinished] = useState(false);

  const [domain, setDomain] = useState('');
  const [fedHostname, setFedHostname] = useState('');
  const [publicUrl, setPublicUrl] = useState('');
  const [fedPort, setFedPort] = useState<number | string>(8443);
  const [adminPort, setAdminPort] = useState<number | string>(8440);
  const [homePort, setHomePort] = useState<number | string>(8441);
  const [relayPort, setRelayPort] = useState<number | string>(3478);
  const [relayMin, setRelayMin] = useState<number | string>(49160);
  const [relayMax, setRelayMax] = useState<number | string>(49200);
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [certApi, setCertApi] = useState(false);

  useEffect(() => {
    void api.exists('/api/certs').then(setCertApi);
  }, []);

  useEffect(() => {
    api.settings().then(
      (s) => {
        setSettings(s);
        const saved = s.saved;
        setDomain(saved.domain === 'consulate.local' ? '' : saved.domain);
        setFedHostname(saved.federation.hostname ?? '');
        setPublicUrl(saved.federation.publicUrl ?? '');
        setFedPort(saved.federation.port);
        setAdminPort(saved.admin.port);
        setHomePort(saved.home.port);
        setRelayPort(saved.relay.port);
        setRelayMin(saved.relay.minPort);
        setRelayMax(saved.relay.maxPort);
      },
      (e: unknown) => setError(asApiError(e)),
    );
  }, []);

  const run = async (action: () => Promise<void>, next?: number) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
      onChanged();
      if (next !== undefined) setStep(next);
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };

  const save = (patch: SettingsUpdateRequest, next: number) => run(async () => setSettings(await api.saveSettings(patch)), next);
  const domainValid = dnsName.test(domain.trim());
  const hostnameValid = fedHostname.trim() === '' || dnsName.test(fedHostname.trim());
  const problem = passwordProblem(password, repeat);

  const steps = setup.steps;
  const savedDomain = settings?.saved.domain ?? '';
  const certNames = useMemo(() => {
    const name = settings?.saved.federation.hostname ?? settings?.saved.domain;
    return name && name !== 'consulate.local' ? [name] : [];
  }, [settings]);

  return (
    <Box mih="100vh" bg="var(--mantine-color-gray-0)" py="xl" px="md" component="main">
      <Stack maw={900} mx="auto">
        <Group justify="space-between">
          <Title order={1} fz="h2">
            Set up this Consulate
          </Title>
          {health && <Text size="sm">v{health.version}</Text>}
        </Group>
        <Text size="sm">Six short steps. Each one is saved when you continue; settings that need a restart say so at the end.</Text>
        {error && <ErrorAlert error={error} onClose={() => setError(undefined)} />}
        <Card withBorder padding="lg">
          <Stepper active={step} onStepClick={(s) => !finished && setStep(s)} size="sm" allowNextStepsSelect={false} data-testid="wizard">
            <Stepper.Step label="Identity" description="Signing key">
              <Stack mt="md">
                <Title order={2} fz="h4">
                  This appliance’s identity key
                </Title>
                <DoneMark done={steps.identity.done}>
                  {steps.identity.done ? 'Identity key created when the service first started.' : 'Creating the identity key…'}
                </DoneMark>
                {steps.identity.fingerprint && <Fingerprint value={steps.identity.fingerprint} testId="wizard-fingerprint" />}
                <Text size="sm">
                  Peers pin this key. Its fingerprint is what you read out to another administrator over the phone when you exchange federation cards. The
                  private half never leaves this machine and is stored encrypted.
                </Text>
                <Group justify="flex-end">
                  <Button onClick={() => setStep(1)} data-testid="wizard-next">
                    Continue
                  </Button>
                </Group>
              </Stack>
            </Stepper.Step>

            <Stepper.Step label="Domain" description="Names">
              <Stack mt="md">
                <Title order={2} fz="h4">
                  Domain and host names
                </Title>
                <TextInput
                  label="Messaging domain"
                  description="The domain of your users’ addresses, e.g. a.example for alice@a.example. Peers whitelist you under this name."
                  placeholder="a.example"
                  value={domain}
                  onChange={(e) => setDomain(e.currentTarget.value)}
                  error={domain && !domainValid ? 'a DNS name with at least one dot, like a.example' : undefined}
                  required
                  data-testid="wizard-domain"
                />
                <TextInput
                  label="Federation host name"
                  description="The public name peers connect to; your TLS certificate must cover it. Leave empty to use the domain."
                  placeholder={domain || 'consulate.a.example'}
                  value={fedHostname}
                  onChange={(e) => setFedHostname(e.currentTarget.value)}
                  error={!hostnameValid ? 'a DNS name, like consulate.a.example' : undefined}
                  data-testid="wizard-hostname"
                />
                <TextInput
                  label="Public federation URL (optional)"
                  description="Only if peers reach you through a different address or port (NAT, reverse proxy). Written into your card."
                  placeholder="https://consulate.a.example:443"
                  value={publicUrl}
                  onChange={(e) => setPublicUrl(e.currentTarget.value)}
                />
                <Group justify="space-between">
                  <Button variant="default" onClick={() => setStep(0)}>
                    Back
                  </Button>
                  <Button
                    disabled={!domainValid || !hostnameValid}
                    loading={busy}
                    data-testid="wizard-next"
                    onClick={() =>
                      void save(
                        {
                          domain: domain.trim().toLowerCase(),
                          federation: {
                            hostname: fedHostname.trim() ? fedHostname.trim().toLowerCase() : domain.trim().toLowerCase(),
                            publicUrl: publicUrl.trim() || null,
                          },
                        },
                        2,
                      )
                    }
                  >
                    Save and continue
                  </Button>
                </Group>
              </Stack>
            </Stepper.Step>

            <Stepper.Step label="Ports" description="Listeners">
              <Stack mt="md">
                <Title order={2} fz="h4">
                  Ports
                </Title>
                <SimpleGrid cols={{ base: 1, sm: 2 }}>
                  <NumberInput
                    label="Federation (HTTPS)"
                    description="Peers connect here. 443 on an internet-facing appliance."
                    min={1}
                    max={65535}
                    value={fedPort}
                    onChange={setFedPort}
                    data-testid="wizard-federation-port"
                  />
                  <NumberInput
                    label="Admin GUI"
                    description="This GUI, on loopback. Changing it moves this page after the restart."
                    min={0}
                    max={65535}
                    value={adminPort}
                    onChange={setAdminPort}
                  />
                  <NumberInput
                    label="Home API"
                    description="Your messaging server connects here (internal)."
                    min={1}
                    max={65535}
                    value={homePort}
                    onChange={setHomePort}
                  />
                  <NumberInput
                    label="Media relay (STUN/TURN)"
                    description="UDP and TCP, for calls."
                    min={1}
                    max={65535}
                    value={relayPort}
                    onChange={setRelayPort}
                  />
                  <NumberInput label="Relay range: first port" min={1} max={65535} value={relayMin} onChange={setRelayMin} />
                  <NumberInput
                    label="Relay range: last port"
                    min={1}
                    max={65535}
                    value={relayMax}
                    onChange={setRelayMax}
                    error={asNumber(relayMin) > asNumber(relayMax) ? 'must not be below the first port' : undefined}
                  />
                </SimpleGrid>
                <Group justify="space-between">
                  <Button variant="default" onClick={() => setStep(1)}>
                    Back
                  </Button>
                  <Button
                    loading={busy}
                    disabled={asNumber(relayMin) > asNumber(relayMax)}
                    data-testid="wizard-next"
                    onClick={() =>
                      void save(
                        {
                          federation: { port: asNumber(fedPort) },
                          admin: { port: asNumber(adminPort) },
                          home: { port: asNumber(homePort) },
                          relay: { port: asNumber(relayPort), minPort: asNumber(relayMin), maxPort: asNumber(relayMax) },
                        },
                        3,
                      )
                    }
                  >
                    Save and continue
                  </Button>
                </Group>
              </Stack>
            </Stepper.Step>

            <Stepper.Step label="Certificate" description="TLS">
              <Stack mt="md">
                <Title order={2} fz="h4">
                  TLS certificate for federation
                </Title>
                {steps.certificate.installed ? (
                  <>
                    <DoneMark done>Certificate installed</DoneMark>
                    <CertificateSummary cert={steps.certificate.installed} />
                  </>
                ) : (
                  <>
                    <DoneMark done={false}>No certificate installed yet</DoneMark>
                    {steps.certificate.problem && <Alert color="red">{steps.certificate.problem}</Alert>}
                    {certApi ? (
                      <>
                        <Text size="sm">
                          Peers connect over HTTPS and check this certificate. Pick one way to get it; you can replace it later on the Certificates screen.
                        </Text>
                        <Tabs defaultValue="ca">
                          <Tabs.List>
                            <Tabs.Tab value="ca">Private CA (quickest)</Tabs.Tab>
                            <Tabs.Tab value="import">Import from a CA</Tabs.Tab>
                            <Tabs.Tab value="csr">Request (CSR)</Tabs.Tab>
                          </Tabs.List>
                          <Tabs.Panel value="ca" pt="sm">
                            <PrivateCaPanel key={`${savedDomain} ${certNames.join(',')}`} hostnames={certNames} domain={savedDomain} onInstalled={onChanged} />
                          </Tabs.Panel>
                          <Tabs.Panel value="import" pt="sm">
                            <ImportCertificateForm compact onInstalled={onChanged} />
                          </Tabs.Panel>
                          <Tabs.Panel value="csr" pt="sm">
                            <CsrForm key={certNames.join(',')} defaultHostnames={certNames} />
                          </Tabs.Panel>
                        </Tabs>
                      </>
                    ) : (
                      <Alert color="blue" title="Certificate management from the GUI is not available in this build yet" data-testid="wizard-cert-unavailable">
                        <Text size="sm">Place a PEM certificate chain and its key in the data directory:</Text>
                        <List size="sm" mt="xs">
                          <List.Item>
                            <Code>{steps.certificate.path}</Code> (chain, leaf first)
                          </List.Item>
                          <List.Item>
                            <Code>{steps.certificate.path.replace(/\.crt$/, '.key')}</Code> (private key, readable by the service only)
                          </List.Item>
                        </List>
                        <Text size="sm" mt="xs">
                          then choose “Check again”.
                        </Text>
                      </Alert>
                    )}
                    <Text size="sm">You can also continue without one: federation stays off until a certificate is installed.</Text>
                  </>
                )}
                <Group justify="space-between">
                  <Button variant="default" onClick={() => setStep(2)}>
                    Back
                  </Button>
                  <Group>
                    {!steps.certificate.installed && (
                      <Button variant="default" onClick={onChanged} data-testid="wizard-cert-check">
                        Check again
                      </Button>
                    )}
                    <Button onClick={() => setStep(4)} data-testid="wizard-next">
                      {steps.certificate.installed ? 'Continue' : 'Continue without certificate'}
                    </Button>
                  </Group>
                </Group>
              </Stack>
            </Stepper.Step>

            <Stepper.Step label="Password" description="Admin access">
              <Stack mt="md">
                <Title order={2} fz="h4">
                  Admin password
                </Title>
                {steps.password.done ? (
                  <DoneMark done>An admin password is set. You can change it later in Settings.</DoneMark>
                ) : (
                  <Text size="sm">
                    {steps.password.required
                      ? 'Required: the admin listener is reachable beyond this machine.'
                      : 'Recommended. Without one, only the one-time link printed at each start opens this GUI. A password is required before the GUI may listen beyond loopback.'}
                  </Text>
                )}
                {!steps.password.done && (
                  <>
                    <PasswordInput
                      label="New password"
                      description={`At least ${minPassword} characters. Stored as a scrypt hash.`}
                      value={password}
                      onChange={(e) => setPassword(e.currentTarget.value)}
                      autoComplete="new-password"
                      data-testid="wizard-password"
                    />
                    <PasswordInput
                      label="Repeat password"
                      value={repeat}
                      onChange={(e) => setRepeat(e.currentTarget.value)}
                      autoComplete="new-password"
                      error={problem}
                      data-testid="wizard-password-repeat"
                    />
                  </>
                )}
                <Group justify="space-between">
                  <Button variant="default" onClick={() => setStep(3)}>
                    Back
                  </Button>
                  <Group>
                    {!steps.password.done && !steps.password.required && (
                      <Button variant="default" onClick={() => setStep(5)}>
                        Skip for now
                      </Button>
                    )}
                    {steps.password.done ? (
                      <Button onClick={() => setStep(5)} data-testid="wizard-next">
                        Continue
                      </Button>
                    ) : (
                      <Button
                        loading={busy}
                        disabled={password.length < minPassword || password !== repeat}
                        data-testid="wizard-next"
                        onClick={() =>
                          void run(async () => {
                            await api.setPassword({ password });
                            setPassword('');
                            setRepeat('');
                          }, 5)
                        }
                      >
                        Set password and continue
                      </Button>
                    )}
                  </Group>
                </Group>
              </Stack>
            </Stepper.Step>

            <Stepper.Step label="Summary" description="Finish">
              <Stack mt="md">
                <Title order={2} fz="h4">
                  Summary
                </Title>
                <Table withRowBorders={false} data-testid="wizard-summary">
                  <Table.Tbody>
                    <Row label="Identity key" value={<Code>{steps.identity.fingerprint}</Code>} done={steps.identity.done} />
                    <Row label="Domain" value={steps.domain.saved ?? steps.domain.running} done={steps.domain.done} />
                    <Row
                      label="Federation"
                      value={settings ? `${settings.saved.federation.hostname ?? settings.saved.domain}, port ${settings.saved.federation.port}` : '…'}
                      done={steps.domain.done}
                    />
                    <Row
                      label="Certificate"
                      value={
                        steps.certificate.installed
                          ? `${steps.certificate.installed.subject}, expires ${formatTime(steps.certificate.installed.notAfter)}`
                          : 'none yet: federation stays off'
                      }
                      done={steps.certificate.done}
                    />
                    <Row
                      label="Admin password"
                      value={steps.password.done ? 'set' : steps.password.required ? 'missing (required)' : 'not set'}
                      done={steps.password.done}
                    />
                  </Table.Tbody>
                </Table>
                {setup.restartRequired && (
                  <Alert color="yellow" title="Restart required" data-testid="wizard-restart">
                    The domain, host names and ports you saved take effect when the Consulate service restarts.{' '}
                    {window.consulate ? 'Use “Restart service” below.' : 'Restart it the way it was started (for example `systemctl restart consulate`).'}
                  </Alert>
                )}
                <Group justify="space-between">
                  <Button variant="default" onClick={() => setStep(4)}>
                    Back
                  </Button>
                  <Group>
                    {window.consulate && setup.restartRequired && (
                      <Button variant="default" onClick={() => void window.consulate?.restartService()}>
                        Restart service
                      </Button>
                    )}
                    <Button
                      loading={busy}
                      disabled={!steps.domain.done || (steps.password.required && !steps.password.done)}
                      data-testid="wizard-finish"
                      onClick={() =>
                        void run(async () => {
                          await api.completeSetup();
                          setFinished(true);
                        })
                      }
                    >
                      Finish setup
                    </Button>
                  </Group>
                </Group>
              </Stack>
            </Stepper.Step>
          </Stepper>
        </Card>
      </Stack>
    </Box>
  );
}

function Row({ label, value, done }: { label: string; value: ReactNode; done: boolean }) {
  return (
    <Table.Tr>
      <Table.Th w={160}>{label}</Table.Th>
      <Table.Td>{value}</Table.Td>
      <Table.Td w={90}>
        <Text size="sm" c={done ? 'green.9' : 'orange.9'}>
          {done ? 'done' : 'open'}
        </Text>
      </Table.Td>
    </Table.Tr>
  );
}

export function CertificateSummary({ cert }: { cert: NonNullable<SetupResponse['steps']['certificate']['installed']> }) {
  return (
    <Table withRowBorders={false} data-testid="certificate-summary">
      <Table.Tbody>
        <Table.Tr>
          <Table.Th w={160}>Subject</Table.Th>
          <Table.Td>{cert.subject}</Table.Td>
        </Table.Tr>
        <Table.Tr>
          <Table.Th>Names</Table.Th>
          <Table.Td>{cert.sans.join(', ') || 'none'}</Table.Td>
        </Table.Tr>
        <Table.Tr>
          <Table.Th>Issuer</Table.Th>
          <Table.Td>
            {cert.issuer}
            {cert.selfSigned ? ' (self-signed)' : ''}
          </Table.Td>
        </Table.Tr>
        <Table.Tr>
          <Table.Th>Valid</Table.Th>
          <Table.Td>
            {formatTime(cert.notBefore)} to {formatTime(cert.notAfter)}{' '}
            <Text span c={cert.daysLeft < 0 ? 'red.9' : cert.daysLeft < 14 ? 'orange.9' : 'green.9'} fw={500}>
              ({cert.daysLeft < 0 ? 'expired' : `${cert.daysLeft} days left`})
            </Text>
          </Table.Td>
        </Table.Tr>
        <Table.Tr>
          <Table.Th>SHA-256</Table.Th>
          <Table.Td>
            <Code style={{ wordBreak: 'break-all' }}>{cert.fingerprintSha256}</Code>
          </Table.Td>
        </Table.Tr>
      </Table.Tbody>
    </Table>
  );
}
