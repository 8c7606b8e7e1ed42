/**
 * Tests against real servers: locally a missing server skips with a loud line; under CI=true
 * it is a failure, never a silent skip.
 */
export class ServerMissing extends Error {}

export function serverMissing(name: string, why: string): string {
  const message = `${name} is not available (${why}); install it with the commands in .ci/run`;
  if (process.env['CI'] === 'true') throw new ServerMissing(`${message} — CI=true, so this is a failure`);
  process.stderr.write(`\n*** SKIPPING ${name} tests: ${message} ***\n\n`);
  return message;
}
