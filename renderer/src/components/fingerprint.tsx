import { ActionIcon, Box, CopyButton, Group, Text, Tooltip } from '@mantine/core';
import { Identicon } from './identicon.js';

/**
 * The fingerprint as operators read it aloud: hash labelled, groups spaced, monospace, in
 * a selectable well with a copy control. The same format as the CLI and the peer's GUI.
 */
export function Fingerprint({
  value,
  label = 'Ed25519 key · SHA-256, base32',
  size = 'lg',
  testId,
}: {
  value: string;
  label?: string;
  size?: 'md' | 'lg' | 'xl';
  testId?: string;
}) {
  return (
    <Box>
      <Text size="xs" c="dimmed" mb={4}>
        {label}
      </Text>
      <Group gap="sm" wrap="nowrap" p="sm" bg="var(--mantine-color-gray-light)" style={{ borderRadius: 4 }}>
        <Identicon fingerprint={value} size={size === 'xl' ? 40 : 28} />
        <Text
          ff="monospace"
          fz={size === 'xl' ? 24 : size === 'lg' ? 18 : 14}
          fw={600}
          style={{ letterSpacing: '0.06em', userSelect: 'all', wordBreak: 'break-all' }}
          data-testid={testId}
        >
          {value.split('-').join(' ')}
        </Text>
        <CopyButton value={value}>
          {({ copied, copy }) => (
            <Tooltip label={copied ? 'Copied' : 'Copy fingerprint'}>
              <ActionIcon variant="subtle" color="gray" onClick={copy} aria-label="Copy fingerprint" ml="auto">
                <CopyGlyph done={copied} />
              </ActionIcon>
            </Tooltip>
          )}
        </CopyButton>
      </Group>
    </Box>
  );
}

export function CopyGlyph({ done }: { done: boolean }) {
  return done ? (
    <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
      <path d="M3 8.5l3 3 7-7" stroke="currentColor" strokeWidth="2" fill="none" />
    </svg>
  ) : (
    <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
      <rect x="5" y="5" width="9" height="9" rx="1" stroke="currentColor" strokeWidth="1.5" fill="none" />
      <path d="M3 11V3a1 1 0 0 1 1-1h7" stroke="currentColor" strokeWidth="1.5" fill="none" />
    </svg>
  );
}
