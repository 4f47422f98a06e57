import React from 'react';
import { Alert } from '@grafana/ui';

interface Props {
  /** Why the query is not sent at all (Grafana skips it through filterQuery). */
  blocking: string[];
  /** Why the backend will answer with an error although the query is sent. */
  warnings: string[];
}

/** Tells the analyst what to fix, instead of an empty panel; every problem is listed. */
export function QueryProblems({ blocking, warnings }: Props) {
  return (
    <>
      {blocking.length > 0 && <ProblemList title="This query does not run yet" problems={blocking} />}
      {warnings.length > 0 && <ProblemList title="The backend will refuse this query" problems={warnings} />}
    </>
  );
}

function ProblemList({ title, problems }: { title: string; problems: string[] }) {
  return (
    <Alert severity="warning" title={title}>
      <ul>
        {problems.map((problem) => (
          <li key={problem}>{problem}</li>
        ))}
      </ul>
    </Alert>
  );
}
