/** Tells the parent process (bench/run.ts) the port a child server listens on. */
import type { AddressInfo } from 'node:net';

export function announce(address: string | AddressInfo | null): void {
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  if (process.send) process.send({ port: address.port });
  else process.stdout.write(`listening on ${address.port}\n`);
}
