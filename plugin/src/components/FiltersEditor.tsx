import React, { FormEvent, useState } from 'react';
import { EditorField, EditorFieldGroup } from '@grafana/plugin-ui';
import { Button, Combobox, ComboboxOption, IconButton, MultiCombobox, Stack, Text } from '@grafana/ui';

import { hasTemplateVariable } from '../query/templateSyntax';
import { FilterOp, QueryFilter } from '../types';
import { OP_OPTIONS, withCurrent } from './options';

interface Props {
  filters: QueryFilter[];
  /** The chosen metric's dimensions and the dashboard's variables. */
  dimensions: ComboboxOption[];
  /** Values the backend has seen per dimension; a dimension not loaded is absent. */
  knownValues: Record<string, string[]>;
  variables: ComboboxOption[];
  /** Called with the complete filters only, once per change that alters them. */
  onChange: (filters: QueryFilter[]) => void;
}

const isList = (op: FilterOp) => op === 'in' || op === 'not_in';
const valuesOf = (filter: QueryFilter) => (Array.isArray(filter.value) ? filter.value : filter.value ? [filter.value] : []);
const isComplete = (filter: QueryFilter) => Boolean(filter.dimension) && valuesOf(filter).some((v) => v.trim() !== '');
const sameFilters = (a: QueryFilter[], b: QueryFilter[]) => JSON.stringify(a) === JSON.stringify(b);

/** Changing between a single-value and a list operator keeps the values typed so far. */
function withOp(filter: QueryFilter, op: FilterOp): QueryFilter {
  const values = valuesOf(filter);
  return { ...filter, op, value: isList(op) ? values : (values[0] ?? '') };
}

/** A typed value the backend knows in another case ("Webchat") becomes the known one ("webchat"). */
function resolveTyped(text: string, known: string[] = []): string {
  const trimmed = text.trim();
  return known.find((v) => v === trimmed) ?? known.find((v) => v.toLowerCase() === trimmed.toLowerCase()) ?? trimmed;
}

/**
 * The filter rows. A row being made (no dimension or no value yet) lives only
 * here: it neither warns nor runs the query, and the query keeps the complete
 * filters. Each change to the complete filters is reported exactly once.
 */
export function FiltersEditor({ filters, dimensions, knownValues, variables, onChange }: Props) {
  const [rows, setRows] = useState<QueryFilter[]>(filters);
  const [previous, setPrevious] = useState(filters);

  // A change from outside (another metric dropped a dimension) replaces the rows.
  if (!sameFilters(filters, previous)) {
    setPrevious(filters);
    if (!sameFilters(rows.filter(isComplete), filters)) {
      setRows(filters);
    }
  }

  const commit = (next: QueryFilter[]) => {
    setRows(next);
    const complete = next.filter(isComplete);
    if (!sameFilters(complete, filters)) {
      onChange(complete);
    }
  };
  const replace = (index: number, filter: QueryFilter) => commit(rows.map((f, i) => (i === index ? filter : f)));

  return (
    <EditorField label="Filters" optional tooltip="Keep only events whose dimension has (or has not) the given values. Values are case-sensitive.">
      <Stack direction="column" gap={1}>
        {rows.map((filter, index) => (
          <FilterRow
            key={index}
            index={index}
            filter={filter}
            dimensions={dimensions}
            known={knownValues[filter.dimension]}
            variables={variables}
            onChange={(next) => replace(index, next)}
            onRemove={() => commit(rows.filter((_, i) => i !== index))}
          />
        ))}
        <div>
          <Button variant="secondary" size="sm" icon="plus" onClick={() => setRows([...rows, { dimension: '', op: 'eq', value: '' }])}>
            Add filter
          </Button>
        </div>
      </Stack>
    </EditorField>
  );
}

interface RowProps {
  index: number;
  filter: QueryFilter;
  dimensions: ComboboxOption[];
  known?: string[];
  variables: ComboboxOption[];
  onChange: (filter: QueryFilter) => void;
  onRemove: () => void;
}

function FilterRow({ index, filter, dimensions, known, variables, onChange, onRemove }: RowProps) {
  const name = `Filter ${index + 1}`;
  const values = valuesOf(filter);
  const unknown = known ? values.filter((v) => v && !hasTemplateVariable(v) && !known.includes(v)) : [];
  return (
    <Stack direction="column" gap={0.5}>
      <EditorFieldGroup>
        <span id={`mh-filter-${index}-dimension-label`} hidden>{`${name} dimension`}</span>
        <span id={`mh-filter-${index}-op-label`} hidden>{`${name} operator`}</span>
        <span id={`mh-filter-${index}-value-label`} hidden>{`${name} ${isList(filter.op) ? 'values' : 'value'}`}</span>
        <Combobox
          aria-labelledby={`mh-filter-${index}-dimension-label`}
          options={withCurrent(dimensions, filter.dimension)}
          value={filter.dimension || null}
          placeholder="dimension"
          width={24}
          onChange={(option) => onChange({ ...filter, dimension: option.value })}
        />
        <Combobox
          aria-labelledby={`mh-filter-${index}-op-label`}
          options={OP_OPTIONS}
          value={filter.op}
          width={12}
          onChange={(option) => onChange(withOp(filter, option.value))}
        />
        <ValuePicker
          labelledBy={`mh-filter-${index}-value-label`}
          list={isList(filter.op)}
          values={values}
          known={known}
          variables={variables}
          disabled={!filter.dimension}
          onChange={(next) => onChange({ ...filter, value: isList(filter.op) ? next : (next[0] ?? '') })}
        />
        <IconButton name="trash-alt" tooltip={`Remove ${name.toLowerCase()}`} onClick={onRemove} />
      </EditorFieldGroup>
      {unknown.length > 0 && (
        <Text variant="bodySmall" color="warning">
          {`${unknown.map((v) => `'${v}'`).join(', ')} not seen for ${filter.dimension} in the last 30 days; values are case-sensitive. Known: ${known!.slice(0, 8).join(', ')}${known!.length > 8 ? ', …' : ''}.`}
        </Text>
      )}
    </Stack>
  );
}

interface ValuePickerProps {
  labelledBy: string;
  list: boolean;
  values: string[];
  known?: string[];
  variables: ComboboxOption[];
  disabled: boolean;
  onChange: (values: string[]) => void;
}

/**
 * Suggests the values the backend knows as the analyst types. Text typed but
 * not picked is offered last (so Enter takes a known value first) and is kept
 * when the field loses focus, never silently dropped.
 */
function ValuePicker({ labelledBy, list, values, known = [], variables, disabled, onChange }: ValuePickerProps) {
  const [typed, setTyped] = useState('');
  const options: ComboboxOption[] = [...known.map((v) => ({ label: v, value: v })), ...variables];
  for (const value of values) {
    if (!options.some((o) => o.value === value)) {
      options.push({ label: value, value });
    }
  }
  const text = typed.trim();
  const knownInAnyCase = known.some((v) => v.toLowerCase() === text.toLowerCase());
  if (text && !knownInAnyCase && !options.some((o) => o.value === text)) {
    options.push({ label: text, value: text, description: known.length ? 'not among the known values' : 'custom value' });
  }

  const onInput = (event: FormEvent<HTMLDivElement>) => setTyped((event.target as HTMLInputElement).value ?? '');
  const onBlur = () => {
    if (text) {
      const value = resolveTyped(text, known);
      setTyped('');
      if (list ? !values.includes(value) : values[0] !== value) {
        onChange(list ? [...values, value] : [value]);
      }
    }
  };
  const pick = (next: string[]) => {
    setTyped('');
    onChange(next);
  };

  return (
    <div onInput={onInput} onBlur={onBlur}>
      {list ? (
        <MultiCombobox
          aria-labelledby={labelledBy}
          options={options}
          value={values}
          placeholder="values"
          width="auto"
          minWidth={24}
          maxWidth={60}
          disabled={disabled}
          onChange={(picked) => pick(picked.map((o) => String(o.value)))}
        />
      ) : (
        <Combobox
          aria-labelledby={labelledBy}
          options={options}
          value={values[0] || null}
          placeholder="value"
          width={28}
          disabled={disabled}
          onChange={(option) => pick([String(option.value)])}
        />
      )}
    </div>
  );
}
