import { Code, Stack, Text, Title } from '@mantine/core';
import { Unavailable } from '../components/unavailable.js';

/** Queue management needs a messaging admin API that this build does not have; say so rather than show zeros. */
export function QueuesScreen() {
  return (
    <Stack gap="md">
      <Title order={2}>Queues</Title>
      <Unavailable title="Queue management is not available in this build yet" endpoint="GET /api/queues" testId="queues-unavailable">
        Per-peer queue depth, oldest envelope age, retry state, “retry now” and purge appear here once the messaging layer exposes them on the admin API. Nothing on this screen is estimated or simulated.
      </Unavailable>
      <Text size="sm" ta="center">
        Queued envelopes are kept on disk in the data directory (<Code>consulate.db</Code>) and survive restarts; suspending a peer keeps its queue.
      </Text>
    </Stack>
  );
}
