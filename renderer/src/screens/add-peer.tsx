import { Alert, Button, Checkbox, Code, FileButton, Group, Modal, Stack, Switch, Table, Tabs, Text, Textarea, TextInput } from '@mantine/core';
import jsQR from 'jsqr';
import { useState } from 'react';
import type { CardPreviewResponse, PeerView } from '../../../service/admin/contract.js';
import { api, asApiError, type ApiError } from '../api.js';
import { ErrorAlert } from '../components/error-alert.js';
import { Fingerprint } from '../components/fingerprint.js';
import { formatTime } from '../format.js';
import { monospaceInput } from '../forms.js';

const cardPrefix = 'consulate-card:';

/** What a valid card looks like, said exactly (Syncthing's add dialog does this for device IDs). */
function cardProblem(text: string): string | undefined {
  const t = text.trim();
  if (!t) return undefined;
  if (t.startsWith(cardPrefix))
    return /^consulate-card:[A-Za-z0-9_-]+$/.test(t) ? undefined : 'after “consulate-card:” only letters, digits, “-” and “_” may follow, with no spaces';
  if (t.startsWith('{')) return t.endsWith('}') ? undefined : 'the card file’s JSON looks cut off: paste the whole file';
  return `expected one line starting with “${cardPrefix}”, or the JSON of a .card.json file`;
}

/** Largest side, in pixels, a photo is scaled to before decoding: enough for a card's QR code, and quick. */
const qrMaxSide = 1600;

/** Reads the first QR code in an image, in the page (jsQR, no network, no WebAssembly). */
async function decodeQr(file: File): Promise<string | undefined> {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, qrMaxSide / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('this browser cannot draw images');
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  return jsQR(context.getImageData(0, 0, width, height).data, width, height, { inversionAttempts: 'attemptBoth' })?.data || undefined;
}

/**
 * Add a peer from its federation card: paste, file or QR image, then a confirmation step
 * that shows the fingerprint to compare out of band before anything is trusted.
 */
export function AddPeerModal({ opened, onClose, onImported }: { opened: boolean; onClose(): void; onImported(peer: PeerView): void }) {
  const [text, setText] = useState('');
  const [preview, setPreview] = useState<CardPreviewResponse | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const [compared, setCompared] = useState(false);
  const [replace, setReplace] = useState(false);
  const [note, setNote] = useState('');
  const [caps, setCaps] = useState({ lookup: true, messages: true, files: false, calls: false });
  const [qrProblem, setQrProblem] = useState<string | undefined>();

  const reset = () => {
    setText('');
    setPreview(undefined);
    setError(undefined);
    setCompared(false);
    setReplace(false);
    setNote('');
    setCaps({ lookup: true, messages: true, files: false, calls: false });
    setQrProblem(undefined);
  };
  const close = () => {
    reset();
    onClose();
  };

  const problem = cardProblem(text);
  const doPreview = async (card = text) => {
    setBusy(true);
    setError(undefined);
    try {
      setPreview(await api.previewCard(card.trim()));
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };

  const readQr = async (file: File | null) => {
    setQrProblem(undefined);
    if (!file) return;
    setBusy(true);
    try {
      const value = await decodeQr(file);
      if (!value) {
        setQrProblem('No QR code was found in that image. Try a sharper, straight photo, or paste the card text.');
        return;
      }
      setText(value.trim());
      await doPreview(value);
    } catch (caught) {
      setQrProblem(`The image could not be read: ${(caught as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      opened={opened}
      onClose={close}
      title={preview ? `Confirm ${preview.domain}` : 'Add peer'}
      size="xl"
      centered
      closeButtonProps={{ 'aria-label': 'Close' }}
    >
      {!preview ? (
        <Stack>
          <Text size="sm">
            Import the other appliance’s federation card. Its administrator finds it on their <strong>Identity & card</strong> screen (or runs{' '}
            <Code>consulate card export</Code>). The peer must add <strong>your</strong> card too: traffic flows only when both sides have whitelisted each
            other.
          </Text>
          <Tabs defaultValue="paste">
            <Tabs.List>
              <Tabs.Tab value="paste">Paste</Tabs.Tab>
              <Tabs.Tab value="file">File</Tabs.Tab>
              <Tabs.Tab value="qr">QR image</Tabs.Tab>
            </Tabs.List>
            <Tabs.Panel value="paste" pt="sm">
              <Textarea
                label="Federation card"
                description={`One line starting with ${cardPrefix}, or the JSON of a .card.json file.`}
                placeholder={`${cardPrefix}eyJ2IjoxLC…`}
                value={text}
                onChange={(e) => setText(e.currentTarget.value)}
                error={problem}
                autosize
                minRows={4}
                maxRows={10}
                styles={monospaceInput}
                data-testid="card-input"
              />
            </Tabs.Panel>
            <Tabs.Panel value="file" pt="sm">
              <Group>
                <FileButton
                  accept=".json,.txt,application/json,text/plain"
                  onChange={(file) => {
                    if (!file) return;
                    void file.text().then((content) => {
                      setText(content);
                      if (!cardProblem(content)) void doPreview(content);
                    });
                  }}
                >
                  {(props) => (
                    <Button variant="default" {...props}>
                      Choose card file…
                    </Button>
                  )}
                </FileButton>
                <Text size="sm">The .card.json file from the other administrator, as exported by their GUI or CLI.</Text>
              </Group>
            </Tabs.Panel>
            <Tabs.Panel value="qr" pt="sm">
              <Stack>
                <Group>
                  <FileButton
                    accept="image/*"
                    onChange={(file) => void readQr(file)}
                    inputProps={{ 'aria-label': 'QR code image', 'data-testid': 'qr-file' } as object}
                  >
                    {(props) => (
                      <Button variant="default" loading={busy} {...props}>
                        Choose a photo or screenshot of the QR code…
                      </Button>
                    )}
                  </FileButton>
                  <Text size="sm">
                    The QR code on the other administrator’s Identity & card screen. The image is read here, in this window; it is not uploaded.
                  </Text>
                </Group>
                {qrProblem && (
                  <Alert color="red" data-testid="qr-problem">
                    {qrProblem}
                  </Alert>
                )}
              </Stack>
            </Tabs.Panel>
          </Tabs>
          {error && <ErrorAlert error={error} title="The card was not accepted" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button disabled={!text.trim() || problem !== undefined} loading={busy} onClick={() => void doPreview()} data-testid="card-preview">
              Check card
            </Button>
          </Group>
        </Stack>
      ) : (
        <Stack>
          <Table withRowBorders={false} fz="sm" data-testid="card-preview-details">
            <Table.Tbody>
              <Table.Tr>
                <Table.Th w={150}>Domain</Table.Th>
                <Table.Td>{preview.domain}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Federation URL</Table.Th>
                <Table.Td ff="monospace">{preview.federationUrl}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Card expires</Table.Th>
                <Table.Td>{formatTime(preview.expires)}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Import will</Table.Th>
                <Table.Td>
                  {preview.effect === 'add'
                    ? 'add a new peer'
                    : preview.effect === 'refresh'
                      ? 'refresh a known peer (same key)'
                      : 'REPLACE the pinned key of a known peer'}
                </Table.Td>
              </Table.Tr>
            </Table.Tbody>
          </Table>
          <Fingerprint value={preview.fingerprint} size="xl" testId="preview-fingerprint" />
          <Text size="sm">
            Call {preview.domain}’s administrator on a channel you trust (phone, in person) and ask them to read the fingerprint on their{' '}
            <strong>Identity & card</strong> screen. Every group must match. A card can be copied by anyone; only this comparison proves the key is theirs.
          </Text>
          {preview.effect === 'replace_key' && (
            <Alert color="red" title="This card carries a different key">
              <Text size="sm">
                {preview.domain} is already whitelisted with another key. Replace it only if its administrator confirms they re-installed or lost their key;
                otherwise someone may be impersonating them.
              </Text>
              <Checkbox mt="xs" label="Replace the pinned key" checked={replace} onChange={(e) => setReplace(e.currentTarget.checked)} />
            </Alert>
          )}
          <Checkbox
            label={`I compared this fingerprint with ${preview.domain}’s administrator and it matches`}
            checked={compared}
            onChange={(e) => setCompared(e.currentTarget.checked)}
            data-testid="fingerprint-confirm"
          />
          {preview.effect === 'add' && (
            <>
              <Text size="sm" fw={600}>
                Capabilities
              </Text>
              <Group>
                {(Object.keys(caps) as Array<keyof typeof caps>).map((name) => (
                  <Switch key={name} label={name} checked={caps[name]} onChange={(e) => setCaps({ ...caps, [name]: e.currentTarget.checked })} />
                ))}
              </Group>
              <TextInput label="Note (optional)" description="Who they are, who to call." value={note} onChange={(e) => setNote(e.currentTarget.value)} />
            </>
          )}
          {error && <ErrorAlert error={error} title="Import failed" />}
          <Group justify="space-between">
            <Button variant="default" onClick={() => (setPreview(undefined), setCompared(false), setError(undefined))}>
              Back
            </Button>
            <Button
              disabled={!compared || (preview.effect === 'replace_key' && !replace)}
              loading={busy}
              data-testid="card-import"
              onClick={async () => {
                setBusy(true);
                setError(undefined);
                try {
                  const peer = await api.importCard({
                    card: text.trim(),
                    confirmFingerprint: preview.fingerprint,
                    ...(preview.effect === 'replace_key' ? { replaceKey: replace } : {}),
                    ...(preview.effect === 'add' ? { capabilities: caps, ...(note ? { note } : {}) } : {}),
                  });
                  reset();
                  onImported(peer);
                } catch (caught) {
                  setError(asApiError(caught));
                } finally {
                  setBusy(false);
                }
              }}
            >
              {preview.effect === 'add' ? `Whitelist ${preview.domain}` : `Update ${preview.domain}`}
            </Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}
