/** A data frame as `/api/v1/query` returns it (docs/api.md), as much of it as tests read. */
export interface Frame {
  schema: { fields: Array<{ name: string; labels?: Record<string, string> }> };
  data: { values: unknown[][] };
}

/** A query answer: the HTTP status, the error text of a 4xx, and the frames. */
export interface QueryResult {
  status: number;
  error?: string;
  frames: Frame[];
}

/** Column `name` of a frame, by field name. */
export const column = (frame: Frame, name: string) => frame.data.values[frame.schema.fields.findIndex((field) => field.name === name)] as Array<number | null>;
