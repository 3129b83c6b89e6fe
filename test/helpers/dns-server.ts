// A real DNS server on a loopback UDP port that answers every query "no such domain" (NXDOMAIN) and counts the
// questions per name: what a crawler meets for a dead host, without depending on the machine's resolver.
import { createSocket } from 'node:dgram';

export interface DeadDns {
  server: string;
  /** Queries seen per name (A and AAAA counted separately). */
  queries: Map<string, number>;
  close(): Promise<void>;
}

function qname(msg: Buffer): { name: string; end: number } {
  const labels: string[] = [];
  let i = 12;
  while (i < msg.length && msg[i] !== 0) {
    labels.push(msg.subarray(i + 1, i + 1 + msg[i]!).toString('latin1'));
    i += msg[i]! + 1;
  }
  return { name: labels.join('.').toLowerCase(), end: i + 5 }; // zero byte, QTYPE, QCLASS
}

export async function startDeadDns(): Promise<DeadDns> {
  const sock = createSocket('udp4');
  const queries = new Map<string, number>();
  sock.on('message', (msg, from) => {
    if (msg.length < 12) return;
    const { name, end } = qname(msg);
    queries.set(name, (queries.get(name) ?? 0) + 1);
    const reply = Buffer.from(msg.subarray(0, end));
    reply[2] = 0x80 | (msg[2]! & 0x01);
    reply[3] = 0x80 | 3; // RA, RCODE 3 (NXDOMAIN)
    reply.writeUInt16BE(1, 4); // one question
    reply.writeUInt32BE(0, 6); // no answers, no authority
    reply.writeUInt16BE(0, 10); // no additional
    sock.send(reply, from.port, from.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return {
    server: `127.0.0.1:${sock.address().port}`,
    queries,
    close: () => new Promise((r) => sock.close(() => r())),
  };
}
