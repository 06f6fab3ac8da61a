import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * The local addresses a process listens on (TCP, IPv4 and IPv6), from /proc: the socket inodes
 * among its open files, matched with the listening entries of /proc/net/tcp and tcp6. Linux
 * only; undefined elsewhere.
 */
export function listeningAddresses(pid: number): string[] | undefined {
  if (!existsSync(`/proc/${pid}/fd`)) return undefined;
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  const found: string[] = [];
  for (const table of ['tcp', 'tcp6']) {
    const path = `/proc/${pid}/net/${table}`;
    if (!existsSync(path)) continue;
    for (const line of readFileSync(path, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address, state (0A: LISTEN), inode
      if (fields.length < 10 || fields[3] !== '0A' || !inodes.has(fields[9])) continue;
      found.push(decodeAddress(fields[1]));
    }
  }
  return found;
}

/** `0100007F:1F90` -> `127.0.0.1:8080`; IPv6 addresses as 8 groups of hex. */
function decodeAddress(entry: string): string {
  const [hex, port] = entry.split(':');
  const portNumber = parseInt(port, 16);
  if (hex.length === 8) {
    const bytes = hex
      .match(/../g)!
      .map((b) => parseInt(b, 16))
      .reverse();
    return `${bytes.join('.')}:${portNumber}`;
  }
  // four little-endian 32-bit words
  const words = hex.match(/.{8}/g)!.map((w) => w.match(/../g)!.reverse().join(''));
  const groups = words
    .join('')
    .toLowerCase()
    .match(/.{4}/g)!
    .map((g) => g.replace(/^0+(?=.)/, ''));
  return `[${groups.join(':')}]:${portNumber}`;
}

/** Whether an address from listeningAddresses is on the loopback interface only. */
export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address.startsWith('[0:0:0:0:0:0:0:1]') || address.startsWith('[0:0:0:0:0:ffff:7f');
}
