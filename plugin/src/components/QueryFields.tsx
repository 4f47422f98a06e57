import React, { KeyboardEvent, useState } from 'react';
import { EditorField } from '@grafana/plugin-ui';
import { Combobox, Input, RadioButtonGroup } from '@grafana/ui';

import { LIMIT_MAX, LIMIT_MIN, MetricsHubQuery, OrderDirection } from '../types';
import { DIRECTION_OPTIONS } from './options';

/** Local text that follows the saved value whenever the saved value changes (another query, an undo). */
function useSynced(saved: string): [string, (text: string) => void] {
  const [text, setText] = useState(saved);
  const [previous, setPrevious] = useState(saved);
  if (saved !== previous) {
    setPrevious(saved);
    setText(saved);
  }
  return [text, setText];
}

interface TextFieldProps {
  id: string;
  label: string;
  tooltip: string;
  placeholder?: string;
  value?: string;
  onCommit: (value: string) => void;
}

/** Text that runs the query when the analyst is done (Enter or leaving the field), not on each keystroke. */
export function TextField({ id, label, tooltip, placeholder, value = '', onCommit }: TextFieldProps) {
  const [text, setText] = useSynced(value);
  const commit = () => text.trim() !== value && onCommit(text.trim());
  return (
    <EditorField label={label} htmlFor={id} optional tooltip={tooltip}>
      <Input
        id={id}
        value={text}
        placeholder={placeholder}
        width={28}
        onChange={(e) => setText(e.currentTarget.value)}
        onBlur={commit}
        onKeyDown={(e: KeyboardEvent<HTMLInputElement>) => e.key === 'Enter' && commit()}
      />
    </EditorField>
  );
}

interface NumberFieldProps extends Omit<TextFieldProps, 'value' | 'onCommit'> {
  value?: number;
  onCommit: (value: number | undefined) => void;
}

function limitProblem(text: string): string | undefined {
  if (text.trim() === '') {
    return undefined;
  }
  const n = Number(text);
  return Number.isInteger(n) && n >= LIMIT_MIN && n <= LIMIT_MAX ? undefined : `a whole number from ${LIMIT_MIN} to ${LIMIT_MAX}`;
}

/** A row limit; empty means the format's default, anything outside 1..1000 is refused with a reason. */
export function NumberField({ id, label, tooltip, placeholder, value, onCommit }: NumberFieldProps) {
  const shown = value === undefined ? '' : String(value);
  const [text, setText] = useSynced(shown);
  const problem = limitProblem(text);
  const commit = () => {
    if (!problem && text.trim() !== shown) {
      onCommit(text.trim() === '' ? undefined : Number(text));
    }
  };
  return (
    <EditorField label={label} htmlFor={id} optional tooltip={tooltip} invalid={Boolean(problem)} error={problem}>
      <Input
        id={id}
        type="number"
        min={LIMIT_MIN}
        max={LIMIT_MAX}
        value={text}
        placeholder={placeholder}
        width={12}
        onChange={(e) => setText(e.currentTarget.value)}
        onBlur={commit}
        onKeyDown={(e: KeyboardEvent<HTMLInputElement>) => e.key === 'Enter' && commit()}
      />
    </EditorField>
  );
}

interface OrderByProps {
  query: MetricsHubQuery;
  onChange: (query: MetricsHubQuery) => void;
}

/** Table top-N: order by the value or one of the query's group-by dimensions. */
export function OrderByField({ query, onChange }: OrderByProps) {
  const options = [
    { label: 'Value', value: 'value', description: 'the aggregated value of each row' },
    ...(query.groupBy ?? []).map((d) => ({ label: d, value: d, description: 'group-by dimension' })),
  ];
  const direction: OrderDirection = query.orderBy?.direction ?? 'desc';
  return (
    <>
      <EditorField label="Order by" htmlFor="mh-order-by" optional tooltip="Sort the table rows; with a limit, this gives the top N">
        <Combobox
          id="mh-order-by"
          options={options}
          value={query.orderBy?.by ?? null}
          placeholder="backend order"
          width={20}
          isClearable
          onChange={(option) => onChange({ ...query, orderBy: option ? { by: option.value, direction } : undefined })}
        />
      </EditorField>
      {query.orderBy && (
        <EditorField label="Direction">
          <RadioButtonGroup
            options={DIRECTION_OPTIONS}
            value={direction}
            onChange={(next) => onChange({ ...query, orderBy: { by: query.orderBy!.by, direction: next } })}
          />
        </EditorField>
      )}
    </>
  );
}
