import type { Socket } from "node:net";

type Callback = (error?: Error | null) => void;
type Write = (this: Socket, a: unknown, b: unknown, c?: unknown) => void;

/**
 * Write coalescing, as Netty's FlushConsolidationHandler and uWebSockets' cork do it: a socket's
 * writes wait until the event loop has handled everything it read in this turn, then all the
 * turn's writes go out together (one setImmediate, after the poll phase). Written one by one, each
 * response's send runs the peer's side of TCP and wakes it: on loopback (a proxy or a load
 * balancer on the same host) that wake-up was a quarter of the broker's CPU per request (perf:
 * sock_def_readable under writev). Together, the first send wakes the peer and the rest find it
 * awake. A write waits at most the rest of one turn. Stream semantics are unchanged: the socket's
 * own write runs later with the same callback, so ordering, backpressure and 'finish' are as
 * before. The function returned takes each socket from the server's 'connection' event.
 */
export function createWriteCoalescer(): (socket: Socket) => void {
  // Flat triples (write, socket, args): a closure per write would cost the hot path an allocation.
  let queue: unknown[] = [];
  let scheduled = false;
  const flush = () => {
    try {
      flushAll();
    } finally {
      scheduled = false;
    }
  };
  const flushAll = () => {
    // A write's callback releases its stream's next buffered chunks at once; they go out in
    // this flush too, as they would have without coalescing, not one turn later each.
    for (let turn = queue; turn.length > 0; turn = queue) {
      queue = [];
      for (let i = 0; i < turn.length; i += 3) {
        const socket = turn[i + 1] as Socket;
        try {
          (turn[i] as Write).apply(socket, turn[i + 2] as [unknown, unknown, unknown]);
        } catch (error) {
          // A socket's write reports its failures to its callback; should one throw anyway, that
          // connection ends with the error and the turn's other writes still go out.
          socket.destroy(error as Error);
        }
      }
    }
  };
  const later = (write: Write, socket: Socket, args: unknown[]) => {
    queue.push(write, socket, args);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  return (socket) => {
    const write = socket._write as Write;
    socket._write = function (chunk: unknown, encoding: BufferEncoding, callback: Callback) {
      later(write, this, [chunk, encoding, callback]);
    };
    const writev = socket._writev as Write | undefined;
    if (writev) {
      socket._writev = function (chunks: { chunk: unknown; encoding: BufferEncoding }[], callback: Callback) {
        later(writev, this, [chunks, callback]);
      };
    }
  };
}
