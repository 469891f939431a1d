/** Where progress goes: stderr, redrawn in place when it is a terminal. */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

export interface ProgressCounts {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Bytes actually sent: what the speed, and so the ETA, is measured on (skipped files cost nothing). */
  bytesSent: number;
  chunks: number;
  failed: number;
  /** Documents uploaded whose ingestion has not finished. */
  ingesting: number;
}

/** A terminal redraw at most 10 times a second: more is flicker, not information. */
const TTY_INTERVAL_MS = 100;
/** A log file or CI gets a line every few seconds: enough to see it is alive, not a flood. */
const PLAIN_INTERVAL_MS = 5_000;

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];
function unitOf(n: number): number {
  let u = 0;
  while (n >= 1024 ** (u + 1) && u < UNITS.length - 1) u++;
  return u;
}
const inUnit = (n: number, u: number) => (u === 0 ? String(n) : (n / 1024 ** u).toFixed(1));

export function formatBytes(n: number): string {
  const u = unitOf(n);
  return `${inUnit(n, u)} ${UNITS[u]}`;
}

/** `0:42`, `12:05`, `1:02:03`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const mm = String(Math.floor((s % 3600) / 60));
  const ss = String(s % 60).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm.padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** `files 12/40 · 3.1/9.8 MB · chunks 341 · 2 failed · ETA 0:42` */
export function progressLine(c: ProgressCounts, elapsedMs: number): string {
  const u = unitOf(c.bytesTotal);
  const parts = [`files ${c.filesDone}/${c.filesTotal}`, `${inUnit(c.bytesDone, u)}/${inUnit(c.bytesTotal, u)} ${UNITS[u]}`, `chunks ${c.chunks}`];
  if (c.failed > 0) parts.push(`${c.failed} failed`);
  if (c.filesDone < c.filesTotal) {
    if (c.bytesSent > 0 && elapsedMs > 0) parts.push(`ETA ${formatDuration(((c.bytesTotal - c.bytesDone) * elapsedMs) / c.bytesSent)}`);
  } else if (c.ingesting > 0) {
    parts.push(`ingesting ${c.ingesting}`);
  }
  return parts.join(' · ');
}

/** Counts of one piece of work: `total` when it is known up front. */
export interface CountProgress {
  label: string;
  done: number;
  total?: number | undefined;
  /** What is counted, when the label does not say: "keys". */
  unit?: string | undefined;
}

/** `turns 1200/5000 · 24% · ETA 0:42`; without a total, `redis 340 keys`. */
export function countLine(c: CountProgress, elapsedMs: number): string {
  const unit = c.unit ? ` ${c.unit}` : '';
  if (c.total === undefined) return `${c.label} ${c.done}${unit}`;
  const total = Math.max(c.total, c.done);
  const parts = [`${c.label} ${c.done}/${total}${unit}`];
  if (total > 0) parts.push(`${Math.floor((100 * c.done) / total)}%`);
  if (c.done > 0 && c.done < total && elapsedMs > 0) parts.push(`ETA ${formatDuration(((total - c.done) * elapsedMs) / c.done)}`);
  return parts.join(' · ');
}

export interface Progress<C = ProgressCounts> {
  /** Redraws when due (or always, with `force`). */
  update(c: C, force?: boolean): void;
  /** A message above the progress line. */
  log(message: string): void;
  /** Removes the line from a terminal; the summary follows on stdout. */
  done(): void;
}

/** The ingest command's progress line (files, bytes, chunks, ETA). */
export function createProgress(stream: ProgressStream, now: () => number = Date.now): Progress {
  return createLineProgress(stream, progressLine, now);
}

/** A progress line of any counts, drawn by `format` from the counts and the time since the start. */
export function createLineProgress<C>(stream: ProgressStream, format: (c: C, elapsedMs: number) => string, now: () => number = Date.now): Progress<C> {
  const tty = stream.isTTY === true;
  const start = now();
  let last = Number.NEGATIVE_INFINITY;
  let shown = '';
  const clear = () => {
    if (tty && shown) stream.write('\r\x1b[2K');
    shown = '';
  };
  return {
    update(c, force = false) {
      const t = now();
      if (!force && t - last < (tty ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS)) return;
      last = t;
      const line = format(c, t - start);
      if (tty) {
        if (line === shown) return;
        stream.write(`\r\x1b[2K${line}`);
        shown = line;
      } else {
        stream.write(`${line}\n`);
      }
    },
    log(message) {
      const line = shown;
      clear();
      stream.write(`${message}\n`);
      if (line) {
        stream.write(line);
        shown = line;
      }
    },
    done: clear,
  };
}
