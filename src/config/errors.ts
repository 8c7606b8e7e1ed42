/** A configuration or usage error: the CLI prints it and exits with status 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'E_CONFIG';
}
