import '@mantine/core/styles.css';
import '@mantine/charts/styles.css';
import { DEFAULT_THEME, MantineProvider, createTheme, type CSSVariablesResolver, type MantineColorsTuple } from '@mantine/core';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app.js';

/** A default palette with its darkest shades replaced, for status text that must stay readable. */
function darker(name: keyof typeof DEFAULT_THEME.colors, shades: Record<number, string>): MantineColorsTuple {
  return (DEFAULT_THEME.colors[name] ?? []).map((colour, i) => shades[i] ?? colour) as unknown as MantineColorsTuple;
}

// Shade 9 for filled buttons and coloured text: the lighter defaults fail WCAG AA contrast
// (4.5:1) on white, which axe reports as serious.
const theme = createTheme({
  primaryColor: 'teal',
  primaryShade: { light: 9, dark: 7 },
  defaultRadius: 'sm',
  fontSizes: { md: '0.9375rem' },
  autoContrast: true,
  // Mantine's green.9, orange.9 and yellow.9 reach only 3–4.4:1 on white; these reach 5:1 or more.
  // Shade 8 is the hover colour of a shade-9 filled button, so it must pass with white text too.
  colors: {
    green: darker('green', { 8: '#237032', 9: '#1b6b2f' }),
    orange: darker('orange', { 8: '#a34f00', 9: '#8a4a00' }),
    yellow: darker('yellow', { 9: '#7a4a00' }),
    teal: darker('teal', { 8: '#087f5b', 9: '#066649' }),
    red: darker('red', { 8: '#c92a2a', 9: '#b02525' }),
  },
});

const darkerText: CSSVariablesResolver = () => ({
  variables: {},
  light: {
    '--mantine-color-dimmed': 'var(--mantine-color-gray-7)',
    '--mantine-color-yellow-light-color': 'var(--mantine-color-yellow-9)',
    '--mantine-color-orange-light-color': 'var(--mantine-color-orange-9)',
    '--mantine-color-green-light-color': 'var(--mantine-color-green-9)',
    '--mantine-color-teal-light-color': 'var(--mantine-color-teal-9)',
    '--mantine-color-blue-light-color': 'var(--mantine-color-blue-9)',
    '--mantine-color-red-light-color': 'var(--mantine-color-red-9)',
    '--mantine-color-gray-light-color': 'var(--mantine-color-gray-8)',
  },
  dark: {},
});

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <MantineProvider theme={theme} defaultColorScheme="light" cssVariablesResolver={darkerText}>
        <App />
      </MantineProvider>
    </StrictMode>,
  );
}
