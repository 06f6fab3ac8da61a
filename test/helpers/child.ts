import type { ChildProcess } from 'node:child_process';

/**
 * Resolves once the child has logged a line whose msg is `msg` on stderr (pino's JSON lines),
 * rejects when it exits first or after timeoutMs. Tests wait on `running` instead of a fixed
 * sleep: on a loaded machine start-up can outlast any sleep, and a signal sent before the
 * runner's handlers exist kills it outright.
 */
export function untilLogged(child: ChildProcess, msg: string, timeoutMs = 30_000): Promise<void> {
  const needle = `"msg":${JSON.stringify(msg)}`;
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error(`no "${msg}" log line within ${timeoutMs} ms`)), timeoutMs);
    const onData = (data: Buffer | string): void => {
      seen += String(data);
      if (seen.includes(needle)) done();
      else seen = seen.slice(-needle.length * 4); // only a line split across chunks needs the tail
    };
    const onExit = (code: number | null): void => done(new Error(`exited with code ${code} before logging "${msg}"`));
    function done(error?: Error): void {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}
