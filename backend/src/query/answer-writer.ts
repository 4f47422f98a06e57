import { once } from 'node:events';
import type { Response } from 'express';
import { Yielder } from '../sources/cooperative.js';
import { OVER_BUDGET_STATUS } from './budget.js';
import type { QueryResult } from './service.js';

/**
 * Writes a /query answer frame by frame instead of as one JSON string: the
 * largest string built is one frame, the event loop is handed back between
 * frames, and the actual bytes are held to QUERY_MAX_RESPONSE_BYTES (a query
 * whose serialized frames do not fit what is left gets its own 422 instead).
 */
export async function writeQueryAnswer(res: Response, results: Record<string, QueryResult>, maxBytes: number): Promise<void> {
  res.status(200).type('application/json');
  let left = maxBytes;
  const yielder = new Yielder(1);
  const write = async (chunk: string) => {
    if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  };
  await write('{"results":{');
  let first = true;
  for (const refId of Object.keys(results)) {
    if (res.destroyed) return;
    const result = results[refId]!;
    const frames: string[] = [];
    let size = 0;
    if (result.framesJson !== undefined) {
      // A stored answer: already the frames' JSON array, written without parsing it.
      frames.push(result.framesJson.slice(1, -1));
      size = result.framesJson.length;
    } else {
      for (const frame of result.frames) {
        await yielder.tick();
        const text = JSON.stringify(frame);
        frames.push(text);
        size += text.length + 1;
        if (size > left) break;
      }
    }
    const body =
      size > left
        ? JSON.stringify({
            status: OVER_BUDGET_STATUS,
            error: `the answer to ${refId} takes more than the ${left} bytes left of the limit of ${maxBytes} bytes per response (QUERY_MAX_RESPONSE_BYTES). Narrow it: a filter, a coarser interval, a shorter range, or fewer queries per request.`,
            frames: [],
          })
        : `{${JSON.stringify({ status: result.status, ...(result.error !== undefined && { error: result.error }) }).slice(1, -1)},"frames":[${frames.join(',')}]}`;
    if (size <= left) left -= size;
    await write(`${first ? '' : ','}${JSON.stringify(refId)}:${body}`);
    first = false;
  }
  res.end('}}');
}
