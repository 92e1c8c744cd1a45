import { describe, expect, it } from 'vitest';
import { notificationFor, OpenProblems, parseServiceEvent, SseParser, trayStatus } from '../../electron/service-events.js';

const allOn = { certificateExpiry: true, peerDown: true, keyChange: true };

describe('SSE parser', () => {
  it('handles events split across chunks, CRLF, comments and multi-line data', () => {
    const parser = new SseParser();
    expect(parser.push(': keepalive\r\nevent: peer.down\r\nda')).toEqual([]);
    expect(parser.push('ta: {"domain":\r\ndata: "b.example"}\r')).toEqual([]);
    expect(parser.push('\n\r\nid: 7\ndata:plain\n\n')).toEqual([
      { event: 'peer.down', data: '{"domain":\n"b.example"}' },
      { event: 'message', data: 'plain', id: '7' },
    ]);
  });
});

describe('service events to notifications and tray', () => {
  it('turns the three event kinds into notifications an operator can act on', () => {
    const expiring = parseServiceEvent({
      event: 'certificate.expiring',
      data: '{"name":"federation a.example","expiresAt":"2026-03-01T00:00:00Z","daysLeft":5}',
    });
    expect(expiring && notificationFor(expiring, allOn)).toEqual({
      title: 'Certificate expires soon',
      body: 'federation a.example expires in 5 days (2026-03-01).',
      urgency: 'critical',
    });
    const down = parseServiceEvent({ event: 'peer.down', data: '{"domain":"b.example","lastError":"connect ECONNREFUSED"}' });
    expect(down && notificationFor(down, allOn)).toMatchObject({ title: 'Peer b.example is unreachable', body: 'connect ECONNREFUSED' });
    const key = parseServiceEvent({ event: 'key.changed', data: '{"domain":"c.example","fingerprint":"ABCD EFGH"}' });
    expect(key && notificationFor(key, allOn)?.body).toContain('ABCD EFGH');
    expect(key && notificationFor(key, { ...allOn, keyChange: false })).toBeUndefined();
  });

  it('ignores unknown and malformed events', () => {
    expect(parseServiceEvent({ event: 'peer.down', data: 'not json' })).toBeUndefined();
    expect(parseServiceEvent({ event: 'peer.down', data: '{"host":"b.example"}' })).toBeUndefined();
    expect(parseServiceEvent({ event: 'queue.depth', data: '{"n":1}' })).toBeUndefined();
  });

  it('shows green, amber and red as state and open problems change', () => {
    const problems = new OpenProblems();
    expect(trayStatus('ready', problems.summary()).colour).toBe('green');
    expect(trayStatus('starting', problems.summary()).colour).toBe('amber');
    expect(trayStatus('crashed', problems.summary()).colour).toBe('amber');
    expect(trayStatus('crash-loop', problems.summary())).toEqual({ colour: 'red', tooltip: 'Consulate: service keeps crashing' });
    expect(trayStatus('stopped', problems.summary()).colour).toBe('red');
    problems.apply({ type: 'peer.down', domain: 'b.example' });
    expect(trayStatus('ready', problems.summary())).toEqual({ colour: 'amber', tooltip: 'Consulate: 1 peer down' });
    problems.apply({ type: 'peer.up', domain: 'b.example' });
    expect(trayStatus('ready', problems.summary()).colour).toBe('green');
    problems.apply({ type: 'certificate.expiring', name: 'federation', expiresAt: '2026-01-01T00:00:00Z', daysLeft: 0 });
    expect(trayStatus('ready', problems.summary()).colour).toBe('red');
  });
});
