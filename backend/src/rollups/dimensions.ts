/**
 * Event attributes that become rollup dimensions. Other attributes stay in the
 * raw event only, which keeps the number of rollup rows bounded. `from` and `to`
 * are the states of conversation.status_changed events; `initiatedBy` says who
 * opted a contact out (contact.opted_out).
 */
export const ROLLUP_DIMENSIONS = ['channel', 'status', 'direction', 'botId', 'agentId', 'source', 'market', 'product', 'from', 'to', 'initiatedBy'] as const;
export type RollupDimension = (typeof ROLLUP_DIMENSIONS)[number];
