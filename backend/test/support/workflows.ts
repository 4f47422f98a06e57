/** `total` workflow runs finished in the `total` seconds before `at`, the first `failed` of them FAILED. */
export function workflowRuns(prefix: string, total: number, failed: number, at: number) {
  return Array.from({ length: total }, (_, index) => ({
    id: `${prefix}-${index}`,
    type: 'workflow.finished',
    occurredAt: new Date(at - (index + 1) * 1000).toISOString(),
    value: 1200,
    attributes: { status: index < failed ? 'FAILED' : 'SUCCESS' },
  }));
}
