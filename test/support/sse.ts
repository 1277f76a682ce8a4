/**
 * Reads a Server-Sent Events response (the hub's live stream) in the background: the `data` of
 * each event, parsed as JSON, is pushed to `events` as it arrives; `close()` ends the reading.
 */
export interface SseReader<T> {
  events: T[];
  close(): Promise<void>;
}

export function readSse<T>(res: Response): SseReader<T> {
  const events: T[] = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = text.indexOf('\n\n')) >= 0) {
        const data = /^data: (.*)$/m.exec(text.slice(0, cut))?.[1];
        text = text.slice(cut + 2);
        if (data) events.push(JSON.parse(data) as T);
      }
    }
  })();
  return {
    events,
    async close() {
      await reader.cancel();
      await pump.catch(() => undefined);
    },
  };
}
