/**
 * Names are bytes on FTP. The protocol carries a path as the bytes between the command and
 * CRLF, and Unix servers (vsftpd, pure-ftpd) hand those bytes to the file system as they are
 * and list names as readdir(3) gave them. basic-ftp reads and writes the control connection
 * and listings as text in `ftp.encoding`; with 'latin1' every byte is one character (U+0000
 * to U+00FF) and back, so a session in that encoding carries any byte exactly.
 *
 * Our paths are internal strings (core/names.ts: UTF-8, with a byte that is not valid UTF-8
 * escaped). `toWire` is what goes into a command: the path's bytes as latin1 characters
 * (for an ASCII path, the path itself); `fromWire` turns what the server said (a listing name,
 * a link text, a reply) back into an internal string. A UTF-8 name is just its bytes: "é" is
 * sent as the two bytes C3 A9 as before.
 *
 * Telnet's IAC (byte 0xFF): RFC 959 control connections are Telnet streams, and some servers
 * double a 0xFF byte in their replies (vsftpd does, in a PWD or MKD reply; pure-ftpd does not)
 * while both read commands and write listings byte for byte. Only a reply naming a path can
 * hold one; ftp-target.ts finds out once per server which way it writes them.
 */
import { decodeName, encodeName } from '../../core/names.ts';

/** The byte 0xFF as a latin1 character. */
export const IAC = '\u00ff';

/** Nothing to convert: every character is below U+0080. */
const NOT_ASCII = /[^\p{ASCII}]/u;
/** A character no latin1 session produces. */
const ABOVE_LATIN1 = /[^\p{ASCII}\u0080-\u00ff]/u;

/** The command text for an internal path: its bytes, one latin1 character each. */
export function toWire(path: string): string {
  return NOT_ASCII.test(path) ? encodeName(path).toString('latin1') : path;
}

/**
 * An internal string for text the server sent on a latin1 session (a name, a link text, a
 * reply). Text with a character above U+00FF did not come from such a session and is kept.
 */
export function fromWire(text: string): string {
  if (!NOT_ASCII.test(text) || ABOVE_LATIN1.test(text)) return text;
  return decodeName(Buffer.from(text, 'latin1'));
}

/** `text` with every 0xFF doubled, as a server that escapes Telnet IAC writes it in a reply. */
export function doubleIac(text: string): string {
  return text.includes(IAC) ? text.split(IAC).join(IAC + IAC) : text;
}
