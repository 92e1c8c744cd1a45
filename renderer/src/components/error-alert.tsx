import { Alert, Code, List, Text } from '@mantine/core';
import type { ApiError } from '../api.js';

/** What the operator can do about the codes the GUI meets most; the service's own sentence is always shown too. */
const advice: Record<string, string> = {
  service_unreachable: 'Check that the Consulate service is running, then reload this page.',
  unauthorized: 'Your session ended. Log in again.',
  csrf: 'Reload the page and try again.',
  rate_limited: 'Wait a minute before trying again.',
  password_invalid: 'Check the password and try again.',
  password_required: 'Set an admin password in Settings first.',
  setup_required: 'Finish the first-run setup first.',
  card_malformed: 'Paste the whole card: the line starting with consulate-card:, or the card file’s JSON.',
  card_expired: 'Ask the peer’s administrator for a fresh card.',
  card_version: 'The card comes from a Consulate version this one cannot read. Update one side, or ask for a card in the older format.',
  card_bad_signature: 'The card was changed after it was made. Ask for the card again over a trusted channel.',
  fingerprint_mismatch: 'Compare the fingerprint with the peer’s administrator again before importing.',
  config_invalid: 'Correct the field named in the message.',
  not_found: 'It may have been removed meanwhile. Reload the list.',
  pem_malformed: 'Choose the certificate file your CA sent (PEM text starting with -----BEGIN CERTIFICATE-----), a .p12/.pfx file, or a PKCS#7 bundle.',
  format_unknown: 'Choose the certificate file your CA sent: PEM, PKCS#7 or PKCS#12 (.p12/.pfx).',
  der_malformed: 'The file is damaged or not a certificate. Download it from your CA again.',
  bundle_empty: 'The file holds no certificate. Choose the certificate itself, not only the key.',
  key_missing: 'Add the private key, or import the certificate that answers a CSR made on this appliance.',
  key_mismatch: 'The key does not belong to this certificate (or the peer presented a key you have not pinned). Check which file goes with which.',
  hostname_mismatch: 'Ask the CA for a certificate that covers this appliance’s host names, or fix the host names in Settings.',
  chain_incomplete: 'Add the intermediate certificate(s) from your CA to the file.',
  untrusted_root: 'Use a certificate from a public CA, or add your organisation’s CA to federation.caBundleFile.',
  self_signed: 'Peers refuse self-signed certificates. Use the private CA below, or a CA-issued certificate.',
  cert_expired: 'Renew the certificate with your CA.',
  no_previous: 'Nothing to roll back to: only one certificate was ever installed here.',
  ca_missing: 'Create the organisation CA first.',
};

/** `advice` overrides the shared sentence for what a screen knows better (a screen's own codes). */
export function ErrorAlert({ error, title, onClose, advice: own }: { error: ApiError; title?: string; onClose?: () => void; advice?: string | undefined }) {
  const what = own ?? advice[error.code];
  return (
    <Alert
      color="red"
      variant="light"
      title={title ?? 'That did not work'}
      data-testid="error"
      withCloseButton={onClose !== undefined}
      onClose={onClose}
      closeButtonLabel="Dismiss error"
    >
      <Text size="sm">
        <Code data-testid="error-code">{error.code}</Code> {error.message}
      </Text>
      {what && (
        <Text size="sm" mt={4} data-testid="error-advice">
          {what}
        </Text>
      )}
      {error.checks && error.checks.some((c) => !c.ok) && (
        <List size="sm" mt="xs" data-testid="error-checks">
          {error.checks
            .filter((c) => !c.ok)
            .map((c) => (
              <List.Item key={c.id}>
                <Text span size="sm" fw={600}>
                  {c.severity}
                </Text>{' '}
                {c.code && <Code>{c.code}</Code>} {c.message}
              </List.Item>
            ))}
        </List>
      )}
    </Alert>
  );
}
