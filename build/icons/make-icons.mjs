#!/usr/bin/env node
// Draws the app, tray and installer images into forge-assets/ as PNG, with no image
// tooling beyond node:zlib: shapes are signed-distance functions, supersampled 4×4 for
// anti-aliasing, and written by the small PNG encoder below. Re-run after a design change:
//   node build/icons/make-icons.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const out = fileURLToPath(new URL('../../forge-assets/', import.meta.url));

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
/** RGBA, 8 bits per channel, filter 0 on every row. */
function encodePng(width, height, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) rgba.copy(raw, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Renders shade(x, y) → [r, g, b, a] (0–255, coordinates 0–1) with 4×4 supersampling. */
function render(width, height, shade) {
  const px = Buffer.alloc(width * height * 4);
  const n = 4;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const [cr, cg, cb, ca] = shade((x + (sx + 0.5) / n) / width, (y + (sy + 0.5) / n) / height);
          r += cr * ca;
          g += cg * ca;
          b += cb * ca;
          a += ca;
        }
      }
      const i = (y * width + x) * 4;
      px[i] = a ? Math.round(r / a) : 0;
      px[i + 1] = a ? Math.round(g / a) : 0;
      px[i + 2] = a ? Math.round(b / a) : 0;
      px[i + 3] = Math.round(a / (n * n));
    }
  }
  return encodePng(width, height, px);
}

const roundedRect = (x, y, half, radius) => {
  const qx = Math.abs(x - 0.5) - half + radius;
  const qy = Math.abs(y - 0.5) - half + radius;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - radius;
};
const ring = (x, y, cx, cy, radius, width) => Math.abs(Math.hypot(x - cx, y - cy) - radius) - width / 2;
const mix = (a, b, t) => a.map((v, i) => Math.round(v + (b[i] - v) * t));
const white = [255, 255, 255, 255];

/** Two interlocking rings (two organisations, one link) on a teal tile. */
function appIcon(x, y) {
  if (roundedRect(x, y, 0.44, 0.1) > 0) return [0, 0, 0, 0];
  const rings = Math.min(ring(x, y, 0.4, 0.5, 0.17, 0.06), ring(x, y, 0.6, 0.5, 0.17, 0.06));
  if (rings < 0) return white;
  return [...mix([14, 90, 107], [27, 138, 143], y), 255];
}

const trayColours = { green: [46, 160, 67], amber: [219, 154, 4], red: [207, 34, 46] };
function trayIcon(colour) {
  return (x, y) => {
    const d = Math.hypot(x - 0.5, y - 0.5);
    if (d > 0.46) return [0, 0, 0, 0];
    if (d > 0.38) return [...mix(colour, [0, 0, 0], 0.35), 255];
    if (Math.min(ring(x, y, 0.42, 0.5, 0.13, 0.07), ring(x, y, 0.58, 0.5, 0.13, 0.07)) < 0) return white;
    return [...colour, 255];
  };
}

/** DMG window background: light, with an arrow from the app to the Applications folder. */
function dmgBackground(x, y) {
  const base = mix([246, 248, 250], [226, 236, 240], y);
  const ax = x * 540;
  const ay = y * 380;
  const shaft = ay > 186 && ay < 194 && ax > 230 && ax < 300;
  const head = ax >= 300 && ax < 322 && Math.abs(ay - 190) < (322 - ax) * 0.6;
  return shaft || head ? [...mix([14, 90, 107], [27, 138, 143], 0.5), 255] : [...base, 255];
}

function write(path, data) {
  mkdirSync(join(out, path, '..'), { recursive: true });
  writeFileSync(join(out, path), data);
  process.stdout.write(`forge-assets/${path} (${data.length} bytes)\n`);
}

write('icon.png', render(1024, 1024, appIcon));
for (const size of [16, 32, 48, 64, 128, 256, 512]) write(`icons/${size}x${size}.png`, render(size, size, appIcon));
for (const [name, colour] of Object.entries(trayColours)) {
  write(`tray/tray-${name}.png`, render(16, 16, trayIcon(colour)));
  write(`tray/tray-${name}@2x.png`, render(32, 32, trayIcon(colour)));
}
write('dmg-background.png', render(540, 380, dmgBackground));
