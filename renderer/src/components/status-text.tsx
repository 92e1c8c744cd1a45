import { Text } from '@mantine/core';
import type { PeerLive } from '../../../service/admin/contract.js';

export interface PeerStatusLabel {
  label: string;
  color: string;
  /** True when the condition needs the operator (shown in the alert colour). */
  alarm: boolean;
}

/**
 * Calm colours, as in Syncthing: green for up, muted blue for a normal "down" that is not
 * alarming by itself, amber for a deliberate pause, red only for refusals and key alarms.
 */
export function peerStatusLabel(peer: Pick<PeerLive, 'state' | 'outbound' | 'inbound' | 'keyAlarm'>): PeerStatusLabel {
  if (peer.keyAlarm) return { label: 'Key alarm', color: 'red.9', alarm: true };
  if (peer.state === 'suspended') return { label: 'Suspended', color: 'orange.9', alarm: false };
  if (peer.outbound === 'up') return { label: peer.inbound === 'up' ? 'Up' : 'Up (outbound only)', color: 'green.9', alarm: false };
  if (peer.outbound === 'refused') return { label: 'Refused', color: 'red.9', alarm: true };
  if (peer.outbound === 'connecting') return { label: 'Connecting', color: 'blue.9', alarm: false };
  return { label: 'Disconnected', color: 'blue.9', alarm: false };
}

export function PeerStatusText({ peer }: { peer: Pick<PeerLive, 'state' | 'outbound' | 'inbound' | 'keyAlarm' | 'domain'> }) {
  const s = peerStatusLabel(peer);
  return (
    <Text c={s.color} size="sm" fw={500} data-testid={`peer-status-${peer.domain}`}>
      {s.label}
    </Text>
  );
}
