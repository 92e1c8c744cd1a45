import { Box, Text } from '@mantine/core';
import QRCode from 'qrcode';
import { useEffect, useState } from 'react';

/** A QR code of the text, rendered to SVG in the browser (no network, no canvas). */
export function QrCode({ text, label, size = 260 }: { text: string; label: string; size?: number }) {
  const [svg, setSvg] = useState<string | undefined>();
  const [failed, setFailed] = useState<string | undefined>();
  useEffect(() => {
    let live = true;
    QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }).then(
      (s) => live && setSvg(s),
      (e: unknown) => live && setFailed(String(e)),
    );
    return () => {
      live = false;
    };
  }, [text]);
  if (failed) return <Text c="red.9">Cannot draw the QR code: {failed}</Text>;
  if (!svg) return null;
  return (
    <Box p="sm" bg="white" style={{ border: '1px solid var(--mantine-color-gray-4)', borderRadius: 4, width: size + 24 }}>
      <img src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`} width={size} height={size} alt={label} data-testid="qr-code" />
    </Box>
  );
}
