import { Code, EmptyState, Text } from '@mantine/core';
import type { ReactNode } from 'react';

/**
 * A feature whose admin API does not exist in this build yet, said plainly instead of
 * hidden or faked, with what the operator can use meanwhile.
 */
export function Unavailable({ title, children, endpoint, testId }: { title: string; children: ReactNode; endpoint?: string; testId?: string }) {
  return (
    <EmptyState
      data-testid={testId ?? 'unavailable'}
      title={title}
      icon={
        <svg width="28" height="28" viewBox="0 0 24 24" aria-hidden="true">
          <circle cx="12" cy="12" r="10" stroke="currentColor" strokeWidth="2" fill="none" />
          <path d="M12 7v6M12 16.5v.5" stroke="currentColor" strokeWidth="2.2" strokeLinecap="round" />
        </svg>
      }
      description={
        <>
          <Text size="sm" component="span" display="block">
            {children}
          </Text>
          {endpoint && (
            <Text size="xs" c="dimmed" mt="xs" component="span" display="block">
              Missing admin API: <Code>{endpoint}</Code>
            </Text>
          )}
        </>
      }
    />
  );
}
