import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stdout (or another stream: the CLI writes its audit
 * lines to stderr so its output stays what it printed); one logger per
 * process, children per module.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'metrics-hub' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', 'apiKey', 'key'], censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}
