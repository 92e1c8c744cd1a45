import { Button, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { useState, type ReactNode } from 'react';
import { asApiError, type ApiError } from '../api.js';
import { ErrorAlert } from './error-alert.js';

export interface ConfirmDialogProps {
  opened: boolean;
  title: string;
  /** What will happen and what will be lost, in plain words. */
  children: ReactNode;
  confirmLabel: string;
  /** When set, the operator must type this (e.g. the domain) before the button enables. */
  typeToConfirm?: string;
  danger?: boolean;
  onConfirm(typed: string): Promise<void>;
  onClose(): void;
}

/** Every destructive action goes through here: it says what is lost and shows the error in place. */
export function ConfirmDialog({ opened, title, children, confirmLabel, typeToConfirm, danger = true, onConfirm, onClose }: ConfirmDialogProps) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const close = () => {
    setTyped('');
    setError(undefined);
    onClose();
  };
  const ready = typeToConfirm === undefined || typed.trim().toLowerCase() === typeToConfirm.toLowerCase();
  return (
    <Modal opened={opened} onClose={close} title={title} centered size="lg" closeButtonProps={{ 'aria-label': 'Close' }}>
      <Stack>
        <div>{children}</div>
        {typeToConfirm !== undefined && (
          <TextInput
            label={
              <>
                Type <strong>{typeToConfirm}</strong> to confirm
              </>
            }
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            autoComplete="off"
            data-testid="confirm-input"
          />
        )}
        {error && <ErrorAlert error={error} />}
        <Group justify="flex-end">
          <Button variant="default" onClick={close}>
            Cancel
          </Button>
          <Button
            color={danger ? 'red' : undefined}
            disabled={!ready}
            loading={busy}
            data-testid="confirm-button"
            onClick={async () => {
              setBusy(true);
              setError(undefined);
              try {
                await onConfirm(typed);
                setTyped('');
                onClose();
              } catch (caught) {
                setError(asApiError(caught));
              } finally {
                setBusy(false);
              }
            }}
          >
            {confirmLabel}
          </Button>
        </Group>
        <Text size="xs" c="dimmed">
          This is recorded in the audit trail.
        </Text>
      </Stack>
    </Modal>
  );
}
