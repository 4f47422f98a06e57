/** Why a source could not answer; the query layer turns it into a per-query status. */
export type SourceFailure = 'timeout' | 'unavailable' | 'failed' | 'bad_query';

export class SourceError extends Error {
  constructor(
    readonly sourceId: string,
    readonly failure: SourceFailure,
    message: string,
  ) {
    super(message);
    this.name = 'SourceError';
  }

  /** The status a per-query result carries (the HTTP answer itself stays 200). */
  get status(): number {
    switch (this.failure) {
      case 'timeout':
        return 504;
      case 'unavailable':
        return 503;
      case 'bad_query':
        return 400;
      default:
        return 502;
    }
  }
}

/**
 * PostgreSQL errors caused by the values a question carries rather than by
 * the database or the catalog's SQL: out-of-range or malformed times, text
 * that cannot be stored or cast, a value too long. Validation refuses such
 * input before it gets there; this keeps any that slips through a per-query
 * 400 instead of a failure of the shared source. (Division by zero and the
 * like stay source failures: they are the catalog SQL's to fix.)
 */
const INPUT_SQLSTATES: ReadonlySet<string> = new Set([
  '22007', // invalid_datetime_format
  '22008', // datetime_field_overflow
  '22009', // invalid_time_zone_displacement_value
  '22021', // character_not_in_repertoire
  '22P05', // untranslatable_character
  '22P02', // invalid_text_representation (a filter value cast by the SQL)
  '22003', // numeric_value_out_of_range
  '22001', // string_data_right_truncation
  '54000', // program_limit_exceeded
]);

export function isInputRejection(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && INPUT_SQLSTATES.has(code);
}
