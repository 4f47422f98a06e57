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
