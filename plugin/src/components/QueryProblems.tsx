import React from 'react';
import { Alert } from '@grafana/ui';

/** Tells the user why the query does not run, instead of an empty panel. */
export function QueryProblems({ problems }: { problems: string[] }) {
  if (problems.length === 0) {
    return null;
  }
  return (
    <Alert severity="warning" title="This query does not run yet">
      <ul>
        {problems.map((problem) => (
          <li key={problem}>{problem}</li>
        ))}
      </ul>
    </Alert>
  );
}
