/**
 * For tests whose expectations depend on which hour (or day) is the current one
 * on the server's real clock: "the partial current hour is not judged", "the
 * last complete hour breaches". The server reads the wall clock, so a run that
 * crossed a boundary half-way would judge another hour than the test prepared
 * (a flake of a few runs in a thousand). When less than `marginMs` is left in
 * the current period, this waits for the next one to begin (and `settledMs` into it), and says so.
 */
export async function clearOfBoundary(periodMs: number, marginMs: number, settledMs = 0): Promise<void> {
  const into = Date.now() % periodMs;
  const left = periodMs - into;
  if (left >= marginMs && into >= settledMs) return;
  // `settledMs`: a test that writes events some seconds before now wants them all in the current period, so it
  // also waits out the first seconds after a boundary.
  const wait = left >= marginMs ? settledMs - into : left + Math.max(1_000, settledMs);
  console.log(`clock: waiting ${Math.ceil(wait / 1000)} s around the ${periodMs / 3_600_000} h boundary so the test does not straddle it`);
  await new Promise((resolve) => setTimeout(resolve, wait));
}
