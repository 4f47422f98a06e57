/**
 * The message a user can act on from a failed resource call. The Go component
 * answers {"error": "..."}; Grafana's own errors carry {"message": "..."}.
 */
export function errorMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { data, message, statusText } = error as { data?: { error?: unknown; message?: unknown }; message?: unknown; statusText?: unknown };
    for (const candidate of [data?.error, data?.message, message, statusText]) {
      if (typeof candidate === 'string' && candidate.trim() !== '') {
        return candidate;
      }
    }
  }
  return typeof error === 'string' && error ? error : 'Unknown error';
}
