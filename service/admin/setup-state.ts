/** Rows of the store's `meta` table that record the first-run setup (ISO times). */
export const setupStartedKey = 'setup_started_at';
export const setupDoneKey = 'setup_completed_at';
