/**
 * Something drawn at the bottom of the terminal below the log lines (the live progress lines,
 * service/progress-line.ts). The terminal sink (logger.ts) takes it off before it writes a log
 * line and puts it back after, so lines and overlay never overwrite each other. One per
 * process: there is one terminal.
 */
export interface TerminalOverlay {
  /** Erases what is drawn (the cursor ends where the overlay began). */
  erase(): void;
  /** Draws it again below what was written meanwhile. */
  draw(): void;
}

let current: TerminalOverlay | undefined;

export function setTerminalOverlay(overlay: TerminalOverlay | undefined): void {
  current = overlay;
}

/** Runs `write` with the overlay taken off the terminal meanwhile. */
export function aroundOverlay(write: () => void): void {
  const o = current;
  o?.erase();
  try {
    write();
  } finally {
    o?.draw();
  }
}
