/**
 * For tests whose expectations depend on which hour (or day) is the current one
 * on the server's real clock: "the partial current hour is not judged", "the
 * last complete hour breaches". The server reads the wall clock, so a run that
 * crossed a boundary half-way would judge another hour than the test prepared
 * (a flake of a few runs in a thousand). When less than `marginMs` is left in
 * the current period, this waits for the next one to begin, and says so.
 */
export async function clearOfBoundary(periodMs: number, marginMs: number): Promise<void> {
  const left = periodMs - (Date.now() % periodMs);
  if (left >= marginMs) return;
  console.log(`clock: ${Math.ceil(left / 1000)} s to the next ${periodMs / 3_600_000} h boundary; waiting for it so the test does not cross it`);
  await new Promise((resolve) => setTimeout(resolve, left + 1_000));
}
