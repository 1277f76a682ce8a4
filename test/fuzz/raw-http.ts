/**
 * Raw HTTP/1.1 over a socket, for what inject cannot send: header blocks over Node's 16 KiB limit,
 * raw UTF-8 and control bytes in the path, malformed request lines and headers, URLs that inject
 * would normalise (dot segments, backslashes). Each request is one connection; the answers are
 * read until the server closes it (or the deadline).
 */
import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Whether the body ended as its framing says (the last chunk, or Content-Length bytes). */
  complete: boolean;
}

export interface RawResult {
  /** Every answer read from the connection, in order (pipelined requests get several). */
  answers: RawAnswer[];
  /** Bytes that did not parse as an answer. */
  leftover: string;
  /** Whether the deadline passed before the server closed the connection. */
  timedOut: boolean;
  /** The connection was reset or failed (with what error). */
  error?: string;
  ms: number;
}

/**
 * Sends `bytes` and collects what comes back until the server closes, or `timeoutMs`; `then`, if
 * given, is sent once the first bytes of the answer have come (while it is being written).
 */
export function sendRaw(port: number, bytes: Buffer, timeoutMs: number, then?: Buffer): Promise<RawResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let done = false;
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const { answers, leftover } = parseAnswers(Buffer.concat(chunks));
      resolve({
        answers,
        leftover,
        timedOut,
        ...(error ? { error } : {}),
        ms: performance.now() - started,
      });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    let streaming = false;
    socket.on('data', (d: Buffer) => {
      if (then && chunks.length === 0) socket.write(then);
      chunks.push(d);
      // An event stream never ends by itself: what came in the next moments is enough.
      if (!streaming && /content-type: text\/event-stream/i.test(Buffer.concat(chunks).toString('latin1'))) {
        streaming = true;
        setTimeout(() => finish(false), then ? 500 : 100);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
      finish(false);
    });
    socket.on('close', () => finish(false));
  });
}

/** Parses HTTP/1.1 answers: status line, headers, a Content-Length or chunked body, or the rest. */
export function parseAnswers(buf: Buffer): { answers: RawAnswer[]; leftover: string } {
  const answers: RawAnswer[] = [];
  let at = 0;
  while (at < buf.length) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const head = buf.subarray(at, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
    if (!m) break;
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    let bodyStart = end + 4;
    let body: Buffer;
    let complete = true;
    const status = Number(m[1]);
    if (status === 100) {
      at = bodyStart;
      continue;
    }
    if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const parts: Buffer[] = [];
      complete = false;
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', bodyStart);
        if (lineEnd < 0) break;
        const sizeLine = buf.subarray(bodyStart, lineEnd).toString('latin1');
        const size = /^[0-9a-fA-F]+$/.test(sizeLine) ? parseInt(sizeLine, 16) : NaN;
        if (!Number.isFinite(size)) break;
        bodyStart = lineEnd + 2;
        if (size === 0) {
          bodyStart += 2;
          complete = true;
          break;
        }
        parts.push(buf.subarray(bodyStart, bodyStart + size));
        bodyStart += size + 2;
      }
      body = Buffer.concat(parts);
      at = bodyStart;
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = buf.subarray(bodyStart, bodyStart + n);
      complete = body.length === n;
      at = bodyStart + n;
    } else {
      body = buf.subarray(bodyStart);
      at = buf.length;
    }
    answers.push({ status, headers, body: body.toString('utf8'), complete });
  }
  return { answers, leftover: buf.subarray(at).toString('latin1') };
}
