/** A configuration or usage error (defined in core/config-error.ts, the bottom layer). */
export { ConfigError } from '../core/config-error.ts';
