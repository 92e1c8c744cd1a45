const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';

function bitsOf(fingerprint: string): number[] {
  const bits: number[] = [];
  for (const char of fingerprint.replace(/-/g, '')) {
    const value = alphabet.indexOf(char);
    if (value < 0) continue;
    for (let i = 4; i >= 0; i -= 1) bits.push((value >> i) & 1);
  }
  return bits;
}

/**
 * A symmetric 5×5 glyph derived from the key fingerprint, so two peers with similar names
 * still look different at a glance. Decorative: the fingerprint text is always next to it.
 */
export function Identicon({ fingerprint, size = 24 }: { fingerprint: string; size?: number }) {
  const bits = bitsOf(fingerprint);
  const hue = bits.slice(0, 9).reduce((acc, b) => acc * 2 + b, 0) % 360;
  const colour = `hsl(${hue} 55% 38%)`;
  const cells: Array<{ x: number; y: number }> = [];
  // 15 bits fill the left three columns; the right two mirror them.
  for (let y = 0; y < 5; y += 1) {
    for (let x = 0; x < 3; x += 1) {
      if (bits[9 + y * 3 + x]) {
        cells.push({ x, y });
        if (x < 2) cells.push({ x: 4 - x, y });
      }
    }
  }
  return (
    <svg
      width={size}
      height={size}
      viewBox="-0.5 -0.5 6 6"
      aria-hidden="true"
      focusable="false"
      style={{ flex: 'none', borderRadius: 3, background: 'var(--mantine-color-gray-1)' }}
    >
      {cells.map((c) => (
        <rect key={`${c.x}-${c.y}`} x={c.x} y={c.y} width={1} height={1} fill={colour} />
      ))}
    </svg>
  );
}
