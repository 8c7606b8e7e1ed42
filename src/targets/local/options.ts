/** The keys a local folder target takes (see ../backend.ts). */
import type { SpecOf } from '../backend.ts';
import { connections } from '../common-options.ts';

export const localOptions = { connections };
export type LocalSpec = SpecOf<typeof localOptions>;
