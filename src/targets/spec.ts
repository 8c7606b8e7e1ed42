/**
 * A target as the user configured it. One flat shape for every backend: each backend reads
 * the keys that concern it and `validateFor` in its factory rejects keys that make no sense
 * for its scheme, naming the key.
 */
export interface TargetSpec {
  /** file:///dir, a plain path, ftp://, ftps://, sftp://, scp://, webdav://, webdavs:// … (password may be inline). */
  readonly url: string;
  readonly password?: string;
  readonly passwordFile?: string;
  /** FTP: none | explicit (AUTH TLS) | implicit. ftps:// implies explicit unless set. */
  readonly tls?: 'none' | 'explicit' | 'implicit';
  /** PEM file of a CA to trust in addition to the system ones. */
  readonly ca?: string;
  /** Skip certificate verification (logged as a warning). */
  readonly insecure?: boolean;
  /** Parallel connections / operations. */
  readonly connections?: number;
  /** SFTP private key file. */
  readonly identityFile?: string;
  readonly passphrase?: string;
  readonly passphraseFile?: string;
  /** SFTP known_hosts file (default ~/.ssh/known_hosts). */
  readonly knownHosts?: string;
  /** SFTP pinned host key fingerprint, `SHA256:…`. */
  readonly hostKey?: string;
  /** Per-operation inactivity timeout. */
  readonly timeoutMs?: number;
  /** WebDAV: extra request headers (e.g. a bearer token); the values are secrets. */
  readonly headers?: Readonly<Record<string, string>>;
  /** `webdav`: an http(s):// URL names a WebDAV target. */
  readonly type?: 'webdav';
}
