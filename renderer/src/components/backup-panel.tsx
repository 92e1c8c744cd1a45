import { Alert, Button, Card, Code, FileInput, Group, List, Loader, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { useEffect, useState } from 'react';
import type { BackupContentsView, BackupCreateResponse, BackupRestoreResponse } from '../../../service/admin/contract.js';
import { ApiError, api, asApiError } from '../api.js';
import { formatTime, shortId } from '../format.js';
import { useLive } from '../live.js';
import { BackupContents } from './backup-contents.js';
import { ConfirmDialog } from './confirm-dialog.js';
import { ErrorAlert } from './error-alert.js';

/** The service refuses shorter backup passphrases (passphrase_weak). */
export const minBackupPassphrase = 12;
/** The admin API's limit on a backup's text. */
const maxBackupBytes = 32 * 1024 * 1024;

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** What to do about the codes the backup routes answer with; other codes get the shared advice. */
const backupAdvice: Record<string, string> = {
  backup_passphrase:
    'Check the passphrase: it is the one chosen when this backup was made, and case and spaces count. If it is right, this copy of the file was altered or damaged: use another copy.',
  backup_malformed: 'Choose the .consulate-backup file itself, whole and unchanged: not a card, a certificate, or a copy that an editor opened and saved.',
  backup_incompatible:
    'This Consulate cannot restore what the backup holds. Restore it with the Consulate version named in the contents (or the message), then upgrade.',
  passphrase_weak: `Choose a passphrase of at least ${minBackupPassphrase} characters.`,
  confirmation_required: 'Type the backup’s domain exactly as the dialog shows it.',
  not_ready: 'The service is still starting. Wait a moment and try again.',
};

/** The shared error alert, with what to do about backup codes in the operator's words. */
export function BackupErrorAlert({ error, title, onClose }: { error: ApiError; title?: string; onClose?: () => void }) {
  const advice =
    error.status === 413
      ? 'The file is larger than the admin API takes in one request. Restore it on the appliance with the command line: consulate backup restore <file>.'
      : backupAdvice[error.code];
  return <ErrorAlert error={error} title={title} onClose={onClose} advice={advice} />;
}

/** The server stretches the passphrase with scrypt before it answers; say so while it works. */
function Working({ children, testId }: { children: string; testId: string }) {
  return (
    <Group gap="sm" role="status" data-testid={testId}>
      <Loader size="sm" aria-hidden="true" />
      <Text size="sm">{children}</Text>
    </Group>
  );
}

/** Settings › Backup & restore: an encrypted file of the whole configuration, and restoring one after listing it. */
export function BackupPanel() {
  return (
    <Stack>
      <Text size="sm">
        One encrypted file holds the whole configuration: identity keys (active and retired), the whitelist with every pinned key, the directory, the home API
        keys (as hashes: the keys themselves keep working), the admin password hash, the settings file, and the certificates in use with their private keys.
        Queued envelopes, the audit log and the message archive are not in it.
      </Text>
      <MakeBackupCard />
      <RestoreCard />
    </Stack>
  );
}

function MakeBackupCard() {
  const [passphrase, setPassphrase] = useState('');
  const [repeat, setRepeat] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const [made, setMade] = useState<{ response: BackupCreateResponse; url: string } | undefined>();

  // The object URL stays valid for "Download again" until another backup replaces it or the tab closes.
  useEffect(() => {
    if (!made) return;
    return () => URL.revokeObjectURL(made.url);
  }, [made]);

  const short = passphrase.length > 0 && passphrase.length < minBackupPassphrase;
  const problem = short
    ? `At least ${minBackupPassphrase} characters (${passphrase.length} so far): anyone who gets the file can try passphrases on their own computer, as fast as they like.`
    : repeat && repeat !== passphrase
      ? 'The two entries differ.'
      : undefined;
  const ready = passphrase.length >= minBackupPassphrase && repeat === passphrase && !busy;

  const create = async () => {
    setBusy(true);
    setError(undefined);
    setMade(undefined);
    try {
      const response = await api.createBackup({ passphrase });
      const url = URL.createObjectURL(new Blob([response.backup], { type: 'application/octet-stream' }));
      const link = document.createElement('a');
      link.href = url;
      link.download = response.fileName;
      document.body.append(link);
      link.click();
      link.remove();
      setMade({ response, url });
      setPassphrase('');
      setRepeat('');
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card withBorder padding="lg" data-testid="backup-make">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (ready) void create();
        }}
      >
        <Stack>
          <Title order={3} fz="h4">
            Make a backup
          </Title>
          <Text size="sm">
            The file is encrypted with a passphrase you choose now (scrypt, then XChaCha20-Poly1305); even its list of contents is inside. Keep the file away
            from this machine, and the passphrase apart from the file.
          </Text>
          <PasswordInput
            label="Backup passphrase"
            description={`At least ${minBackupPassphrase} characters; a few unrelated words are easy to type and hard to guess.`}
            value={passphrase}
            onChange={(e) => setPassphrase(e.currentTarget.value)}
            error={short ? problem : undefined}
            autoComplete="new-password"
            required
            data-testid="backup-passphrase"
          />
          <PasswordInput
            label="Repeat the passphrase"
            value={repeat}
            onChange={(e) => setRepeat(e.currentTarget.value)}
            error={short ? undefined : problem}
            autoComplete="new-password"
            required
            data-testid="backup-passphrase-repeat"
          />
          {error && <BackupErrorAlert error={error} title="No backup was made" onClose={() => setError(undefined)} />}
          <Group justify="space-between">
            {busy ? <Working testId="backup-busy">Encrypting the configuration; stretching the passphrase takes a moment…</Working> : <span />}
            <Button type="submit" loading={busy} disabled={!ready} data-testid="backup-create">
              Make backup and download
            </Button>
          </Group>
          {made && (
            <Stack data-testid="backup-made">
              <Alert color="green" title="Backup made">
                <Text size="sm">
                  Your browser saves it as <Code data-testid="backup-file-name">{made.response.fileName}</Code>. If no download started,{' '}
                  <a href={made.url} download={made.response.fileName} data-testid="backup-download">
                    download it again
                  </a>
                  .
                </Text>
              </Alert>
              <Alert color="yellow" title="The passphrase cannot be recovered" data-testid="backup-passphrase-note">
                <Text size="sm">
                  Write it down and keep it apart from the file. Without it nobody can open this backup: not you, not Consulate, not its developers. Restoring
                  it also needs it.
                </Text>
              </Alert>
              <Title order={4} fz="sm">
                What the backup holds
              </Title>
              <BackupContents contents={made.response.contents} testId="backup-made-contents" headingOrder={5} />
            </Stack>
          )}
        </Stack>
      </form>
    </Card>
  );
}

function RestoreCard() {
  const { snapshot, refresh } = useLive();
  const [file, setFile] = useState<File | null>(null);
  const [passphrase, setPassphrase] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  /** The listed backup: restoring is offered only for exactly this text and passphrase. */
  const [listed, setListed] = useState<{ backup: string; passphrase: string; contents: BackupContentsView } | undefined>();
  const [confirming, setConfirming] = useState(false);
  const [result, setResult] = useState<BackupRestoreResponse | undefined>();
  const here = snapshot?.status.domain;

  const forget = () => {
    setListed(undefined);
    setError(undefined);
  };

  const inspect = async () => {
    if (!file) return;
    setBusy(true);
    forget();
    setResult(undefined);
    try {
      if (file.size > maxBackupBytes)
        throw new ApiError('backup_malformed', `${file.name} is ${Math.round(file.size / 1024 / 1024)} MiB; a backup is far smaller`, 0);
      const backup = await file.text();
      const contents = await api.inspectBackup({ backup, passphrase });
      setListed({ backup, passphrase, contents });
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };

  const contents = listed?.contents;
  return (
    <Card withBorder padding="lg" data-testid="backup-restore">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (file && passphrase && !busy) void inspect();
        }}
      >
        <Stack>
          <Title order={3} fz="h4">
            Restore from a backup
          </Title>
          <Text size="sm">
            To move this domain to new hardware, or to go back to an earlier configuration. The backup is decrypted and its contents listed first; nothing
            changes until you confirm.
          </Text>
          <FileInput
            label="Backup file"
            description="The .consulate-backup file, made here or with consulate backup create."
            placeholder="Choose a .consulate-backup file"
            // Mantine's placeholder grey is too faint to read (axe: color-contrast); this one is text, not a hint.
            styles={{ placeholder: { color: 'var(--mantine-color-gray-7)' } }}
            accept=".consulate-backup"
            value={file}
            onChange={(f) => {
              setFile(f);
              forget();
            }}
            clearable
            clearButtonProps={{ 'aria-label': 'Clear the chosen file' }}
            fileInputProps={{ 'aria-label': 'Backup file', 'data-testid': 'restore-file' } as object}
            data-testid="restore-file-button"
          />
          <PasswordInput
            label="Passphrase of the backup"
            value={passphrase}
            onChange={(e) => {
              setPassphrase(e.currentTarget.value);
              forget();
            }}
            autoComplete="off"
            required
            data-testid="restore-passphrase"
          />
          {error && <BackupErrorAlert error={error} title="The backup was not opened" onClose={() => setError(undefined)} />}
          <Group justify="space-between">
            {busy ? <Working testId="restore-busy">Decrypting the backup; stretching the passphrase takes a moment…</Working> : <span />}
            <Button type="submit" variant={contents ? 'default' : 'filled'} loading={busy} disabled={!file || !passphrase} data-testid="restore-inspect">
              Show contents
            </Button>
          </Group>

          {contents && listed && (
            <Stack data-testid="restore-listed">
              <Title order={4} fz="sm">
                What restoring would bring
              </Title>
              <BackupContents contents={contents} testId="restore-contents" headingOrder={5} />
              {here && here !== contents.domain && (
                <Alert color="yellow" title="A backup of another domain" data-testid="restore-other-domain">
                  <Text size="sm">
                    This appliance is {here}; the backup is of {contents.domain}. Restoring makes it {contents.domain}: its keys and whitelist at once
                    {contents.settings.includes('domain') ? ', its domain after a restart' : ''}.
                  </Text>
                </Alert>
              )}
              <Group justify="flex-end">
                <Button color="red" onClick={() => setConfirming(true)} data-testid="restore-start">
                  Restore this backup…
                </Button>
              </Group>
            </Stack>
          )}

          {result && (
            <Stack data-testid="restore-result">
              <Alert color="green" title={`Restored ${result.contents.domain} from the backup of ${formatTime(result.contents.createdAt)}`}>
                <Text size="sm">
                  The configuration as it was before is saved in <Code data-testid="restore-saved-as">{result.savedAs}</Code>, encrypted with the same
                  passphrase: restore that file to go back.
                </Text>
                {!result.restartRequired && (
                  <Text size="sm" mt={4}>
                    The restored keys, whitelist, API keys and certificates are in use now; links to peers re-dial with the restored identity key.
                  </Text>
                )}
              </Alert>
              {result.certificatesSkipped.length > 0 && (
                <Alert color="yellow" title="Certificates not restored" data-testid="restore-skipped">
                  <List size="sm">
                    {result.certificatesSkipped.map((s) => (
                      <List.Item key={s.slot} data-testid={`restore-skipped-${s.slot}`}>
                        {s.slot === 'fileProxy' ? 'File proxy' : 'Federation'}: <Code>{s.code}</Code> {s.message}
                      </List.Item>
                    ))}
                  </List>
                  <Text size="sm" mt={4}>
                    The certificate installed here before stays in use. Import a valid one on the Certificates screen.
                  </Text>
                </Alert>
              )}
              {result.restartRequired && (
                <Alert color="orange" title="Restart the Consulate service" data-testid="restore-restart">
                  <Text size="sm">
                    The restored settings file changes addresses, ports or the domain; they apply only when the service starts again. Keys, whitelist, API keys
                    and certificates are in use already. Restart the service now (systemctl restart consulate, or quit and reopen the desktop app).
                  </Text>
                </Alert>
              )}
            </Stack>
          )}
        </Stack>
      </form>

      <ConfirmDialog
        opened={confirming && contents !== undefined}
        title={`Replace this appliance’s configuration with the backup of ${contents?.domain ?? ''}?`}
        confirmLabel="Restore"
        typeToConfirm={contents?.domain ?? ''}
        onClose={() => setConfirming(false)}
        onConfirm={async (typed) => {
          if (!listed) return;
          try {
            const restored = await api.restoreBackup({ backup: listed.backup, passphrase: listed.passphrase, confirm: typed.trim().toLowerCase() });
            setResult(restored);
            setListed(undefined);
            setFile(null);
            setPassphrase('');
            refresh();
          } catch (caught) {
            // Shown in the card, with the backup advice, after the dialog closes.
            setError(asApiError(caught));
          }
        }}
      >
        {contents && (
          <Stack gap="xs" data-testid="restore-confirm-text">
            <Text size="sm" fw={600}>
              Replaced by the backup’s:
            </Text>
            <List size="sm">
              <List.Item>
                the identity keys ({contents.identities.length}; active {shortId(contents.identities.find((k) => k.status === 'active')?.fingerprint ?? '–')}):
                this appliance becomes {contents.domain} to its peers
              </List.Item>
              <List.Item>the whitelist: {plural(contents.peers.length, 'peer')} with their pinned keys, and nothing else</List.Item>
              <List.Item>the home API keys ({contents.apiKeys.length})</List.Item>
              <List.Item>the directory ({plural(contents.directoryUsers, 'user')})</List.Item>
              <List.Item>
                {contents.adminPassword
                  ? 'the admin password (log in with the backup’s from now on)'
                  : 'the admin password: the backup has none, so the one set here is removed'}
              </List.Item>
              <List.Item>
                {contents.certificates.length > 0
                  ? `the certificates (${contents.certificates.map((c) => (c.slot === 'fileProxy' ? 'file proxy' : 'federation')).join(', ')}); one that no longer validates is skipped`
                  : 'no certificates: the backup has none, the ones here are kept'}
              </List.Item>
              <List.Item>
                {contents.settings.length > 0
                  ? 'the settings file (addresses, ports, domain), applied at the next restart'
                  : 'no settings: the backup has no settings file, the one here is kept'}
              </List.Item>
            </List>
            <Text size="sm">
              <strong>Kept:</strong> queued envelopes, the audit log and the message archive.
            </Text>
            <Text size="sm">
              <strong>Saved first:</strong> the current configuration is written to the backups folder in the data directory, encrypted with this same
              passphrase, before anything changes.
            </Text>
          </Stack>
        )}
      </ConfirmDialog>
    </Card>
  );
}
