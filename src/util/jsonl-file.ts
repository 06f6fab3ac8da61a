import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

/** A JSON-lines file written through a stream; `flush` resolves once everything so far is handed to the OS. */
export class JsonlFile {
  private readonly stream: WriteStream;
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;

  constructor(path: string, mode: 'truncate' | 'append') {
    mkdirSync(dirname(path), { recursive: true });
    this.stream = createWriteStream(path, { flags: mode === 'append' ? 'a' : 'w' });
    this.stream.on('error', (err) => (this.failure = err));
  }

  writeAll(values: readonly unknown[]): void {
    if (values.length === 0) return;
    this.stream.write(values.map((v) => JSON.stringify(v)).join('\n') + '\n');
  }

  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) =>
      this.stream.write('', (err) => (err ? reject(err) : this.failure ? reject(this.failure) : resolve())),
    );
  }

  /** Ends the file; a second call waits for the first instead of ending the stream again (which rejects). */
  close(): Promise<void> {
    this.closing ??= new Promise((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
    return this.closing;
  }
}
