#!/usr/bin/env node
// Entry point: loads the TypeScript CLI through tsx so the package runs from source without a build step.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// Exit explicitly: nsfw keeps a native handle referenced after stop(), so the event loop
// would never drain on its own. Everything has been flushed and closed by now.
process.exit(code);
