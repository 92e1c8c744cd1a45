import {
  Alert,
  Badge,
  Button,
  Code,
  CopyButton,
  FileButton,
  Group,
  PasswordInput,
  Progress,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core';
import { useEffect, useState } from 'react';
import type {
  CaResponse,
  CertCheckView,
  CertCsrResponse,
  CertInstallResponse,
  CertReportView,
  CertSlotName,
  CertificateView,
} from '../../../service/admin/contract.js';
import { api, asApiError, type ApiError } from '../api.js';
import { formatTime } from '../format.js';
import { ErrorAlert } from './error-alert.js';
import { monospaceInput } from '../forms.js';

export const slotNames: Record<CertSlotName, string> = { federation: 'Federation listener', fileProxy: 'File proxy' };

const keyTypes = [
  { value: 'ecdsa-p256', label: 'ECDSA P-256 (recommended)' },
  { value: 'ecdsa-p384', label: 'ECDSA P-384' },
  { value: 'rsa-2048', label: 'RSA 2048' },
  { value: 'rsa-3072', label: 'RSA 3072' },
  { value: 'rsa-4096', label: 'RSA 4096' },
];

function download(name: string, text: string, type = 'application/x-pem-file'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function names(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** SHA-256 in colon-separated pairs, split into two lines of 16 so it can be read and compared. */
export function Sha256({ value }: { value: string }) {
  const pairs = value.replace(/:/g, '').match(/.{2}/g) ?? [value];
  return (
    <Text ff="monospace" size="xs" style={{ userSelect: 'all' }}>
      <Text span size="xs" c="dimmed" ff="inherit">
        SHA-256{' '}
      </Text>
      {pairs.slice(0, 16).join(':')}
      <br />
      <Text span size="xs" c="dimmed" ff="inherit" style={{ visibility: 'hidden' }}>
        SHA-256{' '}
      </Text>
      {pairs.slice(16).join(':')}
    </Text>
  );
}

export function CertificateDetails({ cert }: { cert: CertificateView }) {
  return (
    <Table withRowBorders={false} fz="sm" data-testid="certificate-details">
      <Table.Tbody>
        <Table.Tr>
          <Table.Th w={150}>Subject</Table.Th>
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
            {formatTime(cert.notBefore)} to {formatTime(cert.notAfter)}
          </Table.Td>
        </Table.Tr>
        <Table.Tr>
          <Table.Th>Key</Table.Th>
          <Table.Td>
            {cert.key}, signed with {cert.signatureAlgorithm}
          </Table.Td>
        </Table.Tr>
        <Table.Tr>
          <Table.Th>Fingerprint</Table.Th>
          <Table.Td>
            <Sha256 value={cert.fingerprintSha256} />
          </Table.Td>
        </Table.Tr>
      </Table.Tbody>
    </Table>
  );
}

/** Validity as a bar from issue to expiry, with today on it: how much of the certificate’s life is used. */
export function ExpiryTimeline({ cert, warningAt, criticalAt }: { cert: CertificateView; warningAt?: string | undefined; criticalAt?: string | undefined }) {
  const [now] = useState(() => Date.now());
  const start = Date.parse(cert.notBefore);
  const end = Date.parse(cert.notAfter);
  const used = Math.min(100, Math.max(0, ((now - start) / (end - start)) * 100));
  const days = Math.floor((end - now) / 86_400_000);
  const colour = days < 0 ? 'red' : criticalAt && now >= Date.parse(criticalAt) ? 'red' : warningAt && now >= Date.parse(warningAt) ? 'orange' : 'teal';
  return (
    <Stack gap={4} data-testid="expiry-timeline">
      <Progress value={used} color={colour} size="lg" aria-label={`${Math.round(used)} % of the validity period used`} />
      <Group justify="space-between">
        <Text size="xs">issued {formatTime(cert.notBefore).slice(0, 10)}</Text>
        <Text size="xs" fw={600} c={days < 0 ? 'red.9' : colour === 'teal' ? 'green.9' : `${colour}.9`}>
          {days < 0 ? `expired ${-days} days ago` : `${days} days left`}
        </Text>
        <Text size="xs">expires {formatTime(cert.notAfter).slice(0, 10)}</Text>
      </Group>
      {warningAt && (
        <Text size="xs" c="dimmed">
          Warning from {formatTime(warningAt).slice(0, 10)}, critical from {criticalAt ? formatTime(criticalAt).slice(0, 10) : '–'}.
        </Text>
      )}
    </Stack>
  );
}

export function ChecksTable({ checks }: { checks: CertCheckView[] }) {
  return (
    <Table fz="sm" withRowBorders={false} data-testid="cert-checks">
      <Table.Tbody>
        {checks.map((c) => (
          <Table.Tr key={c.id}>
            <Table.Td w={70}>
              <Text size="sm" fw={600} c={c.ok ? 'green.9' : c.severity === 'error' ? 'red.9' : c.severity === 'warning' ? 'orange.9' : 'gray.7'}>
                {c.ok ? 'PASS' : c.severity === 'error' ? 'FAIL' : c.severity === 'warning' ? 'WARN' : 'INFO'}
              </Text>
            </Table.Td>
            <Table.Td>
              {c.code && !c.ok && <Code>{c.code}</Code>} {c.message}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

export function ReportSummary({ report }: { report: CertReportView }) {
  const [showPassed, setShowPassed] = useState(false);
  const problems = report.checks.filter((c) => !c.ok);
  const passed = report.checks.length - problems.length;
  return (
    <Stack gap="xs">
      <Group gap="xs">
        <Badge color={report.ok ? 'green' : 'red'} variant="light">
          {report.ok ? 'valid' : 'problems found'}
        </Badge>
        <Badge color={report.trusted ? 'green' : 'orange'} variant="light">
          {report.trusted ? 'chain trusted' : 'chain not trusted'}
        </Badge>
        <Text size="sm">
          {passed} of {report.checks.length} checks passed.
        </Text>
        <Button variant="subtle" size="compact-sm" onClick={() => setShowPassed(!showPassed)}>
          {showPassed ? 'Hide passed checks' : 'Show all checks'}
        </Button>
      </Group>
      {(showPassed || problems.length > 0) && <ChecksTable checks={showPassed ? report.checks : problems} />}
      {report.chain.length > 0 && (
        <Table fz="xs" data-testid="cert-chain">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Chain</Table.Th>
              <Table.Th>Subject</Table.Th>
              <Table.Th>Expires</Table.Th>
              <Table.Th>From</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {report.chain.map((c) => (
              <Table.Tr key={c.fingerprintSha256}>
                <Table.Td>{c.role}</Table.Td>
                <Table.Td>{c.subject}</Table.Td>
                <Table.Td>{formatTime(c.notAfter).slice(0, 10)}</Table.Td>
                <Table.Td>{c.source === 'bundle' ? 'the installed file' : 'trust store'}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}

function isBinary(bytes: Uint8Array): boolean {
  // PEM is ASCII; a DER/PKCS#12 file starts with an ASN.1 SEQUENCE (0x30).
  return bytes[0] === 0x30 || bytes.subarray(0, 512).some((b) => b === 0 || b > 0x7e);
}

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Import what a CA returned: PEM (chain, optionally with key), PKCS#7 or PKCS#12; refused files show the report. */
export function ImportCertificateForm({ onInstalled, compact = false }: { onInstalled(result: CertInstallResponse): void; compact?: boolean }) {
  const [slot, setSlot] = useState<CertSlotName>('federation');
  const [pem, setPem] = useState('');
  const [p12, setP12] = useState<{ name: string; data: string } | undefined>();
  const [keyPem, setKeyPem] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const [result, setResult] = useState<CertInstallResponse | undefined>();

  const choose = async (file: File | null) => {
    if (!file) return;
    setError(undefined);
    setResult(undefined);
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (isBinary(bytes)) {
      setP12({ name: file.name, data: base64(bytes) });
      setPem('');
    } else {
      setP12(undefined);
      setPem(new TextDecoder().decode(bytes));
    }
  };

  return (
    <Stack>
      {!compact && (
        <Select
          label="Install for"
          data={[
            { value: 'federation', label: slotNames.federation },
            { value: 'fileProxy', label: slotNames.fileProxy },
          ]}
          value={slot}
          onChange={(v) => setSlot((v as CertSlotName) ?? 'federation')}
          allowDeselect={false}
          maw={280}
        />
      )}
      <Group>
        <FileButton accept=".pem,.crt,.cer,.p7b,.p7c,.p12,.pfx,.key,application/x-pem-file,application/x-pkcs12" onChange={(f) => void choose(f)}>
          {(props) => (
            <Button variant="default" {...props} data-testid="cert-file">
              Choose certificate file…
            </Button>
          )}
        </FileButton>
        <Text size="sm">{p12 ? `${p12.name} (binary: PKCS#12 or DER)` : 'PEM, PKCS#7 or PKCS#12 (.p12/.pfx)'}</Text>
      </Group>
      {!p12 && (
        <Textarea
          label="…or paste the PEM"
          description="The certificate first, then intermediates. A key in the same text is used too; not needed when the CSR was made on this appliance."
          placeholder="-----BEGIN CERTIFICATE-----"
          value={pem}
          onChange={(e) => setPem(e.currentTarget.value)}
          autosize
          minRows={3}
          maxRows={8}
          styles={monospaceInput}
          data-testid="cert-pem"
        />
      )}
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <Textarea
          label="Private key (optional)"
          placeholder="-----BEGIN PRIVATE KEY-----"
          value={keyPem}
          onChange={(e) => setKeyPem(e.currentTarget.value)}
          autosize
          minRows={1}
          maxRows={4}
          styles={monospaceInput}
        />
        <PasswordInput
          label="Password (optional)"
          description="For a .p12 file or an encrypted key."
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
          autoComplete="off"
        />
      </SimpleGrid>
      {error && <ErrorAlert error={error} title="The certificate was not installed" />}
      {result && (
        <Alert color="green" title={`Installed for the ${slotNames[result.slot].toLowerCase()}`} data-testid="cert-installed">
          <Text size="sm">
            {result.installed.subject}, valid until {formatTime(result.installed.notAfter)}. The listener uses it now; the previous certificate is kept for
            rollback.
          </Text>
        </Alert>
      )}
      <Group justify="flex-end">
        <Button
          loading={busy}
          disabled={!p12 && !pem.trim()}
          data-testid="cert-import"
          onClick={async () => {
            setBusy(true);
            setError(undefined);
            setResult(undefined);
            try {
              const installed = await api.certImport({
                slot,
                ...(p12 ? { p12Base64: p12.data } : { pem }),
                ...(keyPem.trim() ? { keyPem } : {}),
                ...(password ? { password } : {}),
              });
              setResult(installed);
              setPem('');
              setP12(undefined);
              setKeyPem('');
              setPassword('');
              onInstalled(installed);
            } catch (caught) {
              setError(asApiError(caught));
            } finally {
              setBusy(false);
            }
          }}
        >
          Check and install
        </Button>
      </Group>
    </Stack>
  );
}

/**
 * A CSR for a public or enterprise CA; the key stays on the appliance until the certificate
 * comes back. Callers key it by the default names so a changed configuration starts fresh.
 */
export function CsrForm({ defaultHostnames }: { defaultHostnames: string[] }) {
  const [hostnames, setHostnames] = useState(defaultHostnames.join(', '));
  const [keyType, setKeyType] = useState('ecdsa-p256');
  const [organization, setOrganization] = useState('');
  const [country, setCountry] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const [csr, setCsr] = useState<CertCsrResponse | undefined>();
  return (
    <Stack>
      <TextInput
        label="Host names"
        description="Every name peers will use for this appliance, comma-separated."
        value={hostnames}
        onChange={(e) => setHostnames(e.currentTarget.value)}
      />
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        <Select label="Key type" data={keyTypes} value={keyType} onChange={(v) => setKeyType(v ?? 'ecdsa-p256')} allowDeselect={false} />
        <TextInput label="Organisation (optional)" value={organization} onChange={(e) => setOrganization(e.currentTarget.value)} />
        <TextInput
          label="Country (optional)"
          description="Two letters, e.g. DE"
          maxLength={2}
          value={country}
          onChange={(e) => setCountry(e.currentTarget.value.toUpperCase())}
        />
      </SimpleGrid>
      {error && <ErrorAlert error={error} title="No CSR was made" />}
      {csr && (
        <Stack gap="xs" data-testid="csr-result">
          <Textarea
            label={`Certificate signing request for ${csr.hostnames.join(', ')} (${csr.key})`}
            value={csr.csrPem}
            readOnly
            autosize
            minRows={4}
            maxRows={10}
            styles={monospaceInput}
          />
          <Group>
            <Button variant="default" onClick={() => download(csr.fileName, csr.csrPem)}>
              Download {csr.fileName}
            </Button>
            <CopyButton value={csr.csrPem}>
              {({ copied, copy }) => (
                <Button variant="default" onClick={copy}>
                  {copied ? 'Copied' : 'Copy'}
                </Button>
              )}
            </CopyButton>
          </Group>
          <Text size="sm">Send it to your CA. When the certificate comes back, import it here: the matching key is already on this appliance.</Text>
        </Stack>
      )}
      <Group justify="flex-end">
        <Button
          loading={busy}
          disabled={names(hostnames).length === 0}
          onClick={async () => {
            setBusy(true);
            setError(undefined);
            try {
              setCsr(
                await api.certCsr({
                  hostnames: names(hostnames),
                  keyType: keyType as 'ecdsa-p256',
                  ...(organization.trim() ? { organization: organization.trim() } : {}),
                  ...(country.trim() ? { country: country.trim() } : {}),
                }),
              );
            } catch (caught) {
              setError(asApiError(caught));
            } finally {
              setBusy(false);
            }
          }}
        >
          Generate CSR
        </Button>
      </Group>
    </Stack>
  );
}

/**
 * The organisation CA on this appliance, for air-gapped or private federations: create it,
 * issue this appliance's certificate from it, and hand its certificate to peers as a trust anchor.
 */
export function PrivateCaPanel({ hostnames, domain, onInstalled }: { hostnames: string[]; domain: string; onInstalled(result: CertInstallResponse): void }) {
  const [ca, setCa] = useState<CaResponse | undefined>();
  const [commonName, setCommonName] = useState(`${domain} Consulate CA`);
  const [issueNames, setIssueNames] = useState(hostnames.join(', '));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const [issued, setIssued] = useState<string | undefined>();
  useEffect(() => {
    api.ca().then(setCa, (e: unknown) => setError(asApiError(e)));
  }, []);

  const act = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };

  if (!ca) return error ? <ErrorAlert error={error} /> : <Text size="sm">Loading…</Text>;
  return (
    <Stack>
      {!ca.exists ? (
        <>
          <Text size="sm">
            No organisation CA yet. Create one to issue this appliance’s certificate without a public CA (air-gapped networks, demos). Peers must then add its
            certificate as a trust anchor for you.
          </Text>
          <TextInput label="CA name" value={commonName} onChange={(e) => setCommonName(e.currentTarget.value)} data-testid="ca-name" />
        </>
      ) : (
        ca.certificate && (
          <>
            <Text size="sm" fw={600}>
              Organisation CA: {ca.certificate.subject} {ca.sealed ? <Badge variant="light">key sealed</Badge> : null}
            </Text>
            <Sha256 value={ca.certificate.fingerprintSha256} />
            <Text size="sm">
              Valid until {formatTime(ca.certificate.notAfter)}. Give the CA certificate to each peer’s administrator: they add it for your domain with{' '}
              <Code>consulate peer set-ca {domain} ca.crt</Code>.
            </Text>
            {ca.certPem && (
              <Group>
                <Button variant="default" onClick={() => download(`${domain}-ca.crt`, ca.certPem ?? '')}>
                  Download CA certificate
                </Button>
              </Group>
            )}
          </>
        )
      )}
      <TextInput
        label="Names for this appliance’s certificate"
        value={issueNames}
        onChange={(e) => setIssueNames(e.currentTarget.value)}
        data-testid="ca-hostnames"
      />
      {error && <ErrorAlert error={error} title="The private CA could not do that" />}
      {issued && (
        <Alert color="green" title="Certificate issued and installed" data-testid="ca-installed">
          {issued}
        </Alert>
      )}
      <Group justify="flex-end">
        <Button
          loading={busy}
          disabled={names(issueNames).length === 0 || (!ca.exists && !commonName.trim())}
          data-testid="ca-issue"
          onClick={() =>
            void act(async () => {
              if (!ca.exists) setCa(await api.caInit({ commonName: commonName.trim() }));
              const result = await api.caIssue({ hostnames: names(issueNames), install: true });
              setIssued(`${result.certificate.subject} for ${result.certificate.sans.join(', ')}, valid until ${formatTime(result.certificate.notAfter)}.`);
              if (result.installed) onInstalled(result.installed);
            })
          }
        >
          {ca.exists ? 'Issue and install certificate' : 'Create CA, issue and install certificate'}
        </Button>
      </Group>
    </Stack>
  );
}
