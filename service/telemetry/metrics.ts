import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { version } from '../version.js';

/** One registry per service instance so several appliances can run in one process (tests, demo). */
export function createMetrics(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'consulate_' });
  const buildInfo = new Gauge({
    name: 'consulate_build_info',
    help: 'Build information: always 1, labelled with the version and the Node.js runtime.',
    labelNames: ['version', 'node'],
    registers: [registry],
  });
  buildInfo.set({ version, node: process.versions.node }, 1);
  return registry;
}
