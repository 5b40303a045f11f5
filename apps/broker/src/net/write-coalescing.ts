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
 * before, and a socket destroyed with a write still waiting sends it first, as it would have
 * been sent already (a 400 written just before destroy, a finished answer on an idle connection
 * that shutdown closes). The function returned takes each socket from a plain HTTP server's
 * 'connection' event.
 */
export function createWriteCoalescer(): (socket: Socket) => void {
  // The sockets with a write waiting, each once: a Writable calls _write or _writev again only
  // after the last one's callback, so a socket has at most one write waiting.
  let queue: (() => void)[] = [];
  let scheduled = false;
  const flush = () => {
    // A write's callback releases its stream's next buffered chunks at once; they go out in
    // this flush too, as they would have without coalescing, not one turn later each.
    for (let turn = queue; turn.length > 0; turn = queue) {
      queue = [];
      for (const send of turn) send(); // never throws
    }
    scheduled = false;
  };
  return (socket) => {
    const write = socket._write as Write;
    const writev = socket._writev as Write | undefined;
    const destroy = socket._destroy;
    let waiting: Write | undefined;
    let args: unknown[] | undefined;
    // One function per connection, not per write: the hot path allocates only the arguments.
    const send = () => {
      const w = waiting;
      if (!w) return;
      const a = args as [unknown, unknown, unknown];
      waiting = args = undefined;
      try {
        w.apply(socket, a);
      } catch (error) {
        // A throw from the write or from what its callback ran ('finish' listeners, say) is
        // still the process's uncaught exception, as without coalescing; the turn's other writes go out first.
        process.nextTick(() => {
          throw error;
        });
      }
    };
    const later = (w: Write, a: unknown[]) => {
      waiting = w;
      args = a;
      queue.push(send);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    };
    socket._write = (chunk: unknown, encoding: BufferEncoding, callback: Callback) => {
      later(write, [chunk, encoding, callback]);
    };
    if (writev) {
      socket._writev = (chunks: { chunk: unknown; encoding: BufferEncoding }[], callback: Callback) => {
        later(writev, [chunks, callback]);
      };
    }
    socket._destroy = function (error: Error | null, callback: Callback) {
      send(); // Its entry in the queue then finds nothing waiting.
      destroy.call(this, error, callback);
    };
  };
}
