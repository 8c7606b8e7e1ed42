/**
 * A configuration or usage error: the CLI prints it and exits with status 2 (see
 * service/exit-codes.ts). It lives in core, the bottom layer, because every layer may refuse
 * bad input with it (a log folder that cannot be written, a pid file in the way, a key).
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'E_CONFIG';
}
