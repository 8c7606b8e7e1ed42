/**
 * undici and fast-xml-parser, loaded when a WebDAV target first connects rather than at every
 * start: together they are well over 100 ms of module loading from node_modules (and still
 * milliseconds from the bundle), which commands without a WebDAV target would otherwise pay
 * (the sftp backend does the same with ssh2). `loadWebdavModules()` is awaited by connect();
 * the sync getters are for code that runs after it, and say so if called before.
 */
type Undici = typeof import('undici');
type FastXmlParser = typeof import('fast-xml-parser');

let undiciModule: Undici | undefined;
let xmlModule: FastXmlParser | undefined;

export async function loadWebdavModules(): Promise<void> {
  if (undiciModule === undefined) {
    const m = (await import('undici')) as Undici & { default?: Undici };
    undiciModule = m.default ?? m;
  }
  if (xmlModule === undefined) {
    const m = (await import('fast-xml-parser')) as FastXmlParser & { default?: FastXmlParser };
    xmlModule = m.default ?? m;
  }
}

export function undici(): Undici {
  if (undiciModule === undefined) throw new Error('undici is used before loadWebdavModules() resolved (a WebDAV target must connect first)');
  return undiciModule;
}

export function fastXmlParser(): FastXmlParser {
  if (xmlModule === undefined) throw new Error('fast-xml-parser is used before loadWebdavModules() resolved (a WebDAV target must connect first)');
  return xmlModule;
}
