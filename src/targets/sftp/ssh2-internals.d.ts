/** ssh2's internal modules that byte-names.ts patches (ssh2 ships no types for them). */
declare module 'ssh2/lib/protocol/utils.js' {
  const utils: { makeBufferParser(): { readString(dest?: unknown, maxLen?: number): unknown } };
  export default utils;
}
declare module 'ssh2/lib/protocol/SFTP.js' {
  const sftp: unknown;
  export default sftp;
}
