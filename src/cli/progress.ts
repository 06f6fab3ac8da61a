import type { Logger } from 'pino';
import type { RunStats } from '../engine/pipeline-run.js';

const TERMINAL_REFRESH_MS = 200;
const LOG_EVERY_MS = 5000;

function deadLetterTotal(stats: RunStats): number {
  return Object.values(stats.deadLetters).reduce((a, b) => a + (b ?? 0), 0);
}

export function progressFields(stats: RunStats): Record<string, unknown> {
  const seconds = Math.max((Date.now() - stats.startedAt) / 1000, 1e-3);
  return {
    records: stats.records,
    recordsPerSecond: Math.round(stats.records / seconds),
    batches: stats.batches,
    watermark: Number.isFinite(stats.watermark) ? new Date(stats.watermark).toISOString() : null,
    late: stats.deadLetters.late ?? 0,
    deadLetters: deadLetterTotal(stats),
  };
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
    const watermark = f.watermark ? String(f.watermark).replace('.000Z', 'Z') : '-';
    this.stream.write(
      `\r\x1b[2K${f.records} records  ${f.recordsPerSecond}/s  ${f.batches} batches  watermark ${watermark}  late ${f.late}  dead-lettered ${f.deadLetters}`,
    );
  }

  done(stats: RunStats): void {
    if (this.terminal) this.stream.write('\r\x1b[2K');
    this.logger.info({ ...progressFields(stats), deadLettersByReason: stats.deadLetters, ended: stats.ended }, 'run finished');
  }
}
