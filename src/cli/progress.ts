import type { Logger } from 'pino';
import type { RunStats } from '../engine/pipeline-run.js';

const TERMINAL_REFRESH_MS = 200;
const LOG_EVERY_MS = 5000;

function deadLetterTotal(stats: RunStats): number {
  return Object.values(stats.deadLetters).reduce((a, b) => a + b, 0);
}

export interface ProgressFields {
  records: number;
  recordsPerSecond: number;
  batches: number;
  watermark: string | null;
  late: number;
  deadLetters: number;
  deadLettersByReason: RunStats['deadLetters'];
}

export function progressFields(stats: RunStats): ProgressFields {
  const seconds = Math.max((Date.now() - stats.startedAt) / 1000, 1e-3);
  return {
    records: stats.records,
    recordsPerSecond: Math.round(stats.records / seconds),
    batches: stats.batches,
    watermark: Number.isFinite(stats.watermark) ? new Date(stats.watermark).toISOString() : null,
    late: stats.deadLetters.late ?? 0,
    deadLetters: deadLetterTotal(stats),
    deadLettersByReason: { ...stats.deadLetters },
  };
}

/** `3 (invalid-json 2, too-large 1)`: the dead letters and their reasons, most frequent first. */
export function deadLetterSummary(stats: RunStats): string {
  const reasons = Object.entries(stats.deadLetters)
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
  const total = deadLetterTotal(stats);
  return reasons.length === 0 ? String(total) : `${total} (${reasons.map(([reason, n]) => `${reason} ${n}`).join(', ')})`;
}

/** On a terminal, a live status line on stderr; otherwise a structured log line every few seconds. */
export class Progress {
  private lastShown = 0;
  private readonly terminal: boolean;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly logger: Logger,
  ) {
    this.terminal = Boolean(stream.isTTY);
  }

  update(stats: RunStats): void {
    const now = Date.now();
    if (now - this.lastShown < (this.terminal ? TERMINAL_REFRESH_MS : LOG_EVERY_MS)) return;
    this.lastShown = now;
    if (!this.terminal) {
      this.logger.info(progressFields(stats), 'progress');
      return;
    }
    const f = progressFields(stats);
    const watermark = f.watermark ? f.watermark.replace('.000Z', 'Z') : '-';
    this.stream.write(
      `\r\x1b[2K${f.records} records  ${f.recordsPerSecond}/s  ${f.batches} batches  watermark ${watermark}  dead-lettered ${deadLetterSummary(stats)}`,
    );
  }

  done(stats: RunStats): void {
    if (this.terminal) this.stream.write('\r\x1b[2K');
    this.logger.info({ ...progressFields(stats), ended: stats.ended }, 'run finished');
  }
}
