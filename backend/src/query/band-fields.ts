/** The columns the `band` query option can add next to a series (see band.ts). */
export const BAND_FIELDS = ['expected', 'lower', 'upper', 'score'] as const;
export type BandField = (typeof BAND_FIELDS)[number];
