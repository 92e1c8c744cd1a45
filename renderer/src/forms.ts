/** Form rules the wizard and Settings share. */

/** The admin password's minimum length; the service's `minPasswordLength` (service/admin/contract.ts) enforces it. */
export const minPassword = 10;

/** What is wrong with a new password and its repetition so far, or undefined. */
export function passwordProblem(password: string, repeat: string): string | undefined {
  if (password.length > 0 && password.length < minPassword) return `at least ${minPassword} characters`;
  if (repeat.length > 0 && repeat !== password) return 'the two entries differ';
  return undefined;
}

/** A NumberInput's value (a number, or the text while it is being typed) as a number. */
export const asNumber = (value: number | string): number => (typeof value === 'number' ? value : Number(value));

/** Limits of a port field. */
export const portRange = { min: 0, max: 65535 } as const;

/** Styles of a text field that holds PEM, card text or other machine text. */
export const monospaceInput = { input: { fontFamily: 'var(--mantine-font-family-monospace)' } };
