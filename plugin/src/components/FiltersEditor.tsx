import React from 'react';
import { Button, Combobox, ComboboxOption, IconButton, InlineField, InlineFieldRow, Input, TagsInput } from '@grafana/ui';

import { FilterOp, QueryFilter } from '../types';
import { OP_OPTIONS, withCurrent } from './options';

interface Props {
  filters: QueryFilter[];
  /** The chosen metric's dimensions and the dashboard's variables. */
  dimensions: ComboboxOption[];
  /** run is false while a value is being typed, so each keystroke does not run the query. */
  onChange: (filters: QueryFilter[], run?: boolean) => void;
}

const isList = (op: FilterOp) => op === 'in' || op === 'not_in';

/** Changing between a single-value and a list operator keeps the values typed so far. */
function withOp(filter: QueryFilter, op: FilterOp): QueryFilter {
  const values = Array.isArray(filter.value) ? filter.value : filter.value ? [filter.value] : [];
  return { ...filter, op, value: isList(op) ? values : (values[0] ?? '') };
}

export function FiltersEditor({ filters, dimensions, onChange }: Props) {
  const replace = (index: number, filter: QueryFilter, run = true) =>
    onChange(filters.map((f, i) => (i === index ? filter : f)), run);
  const add = () => onChange([...filters, { dimension: '', op: 'eq', value: '' }], false);
  const remove = (index: number) => onChange(filters.filter((_, i) => i !== index));

  return (
    <>
      {filters.map((filter, index) => (
        <InlineFieldRow key={index}>
          {/* Names the operator picker for screen readers; the row shows it by position. */}
          <span id={`mh-filter-op-label-${index}`} hidden>
            {`Filter ${index + 1} operator`}
          </span>
          <InlineField label={index === 0 ? 'Filter' : 'and'} labelWidth={14} htmlFor={`mh-filter-dimension-${index}`}>
            <Combobox
              id={`mh-filter-dimension-${index}`}
              options={withCurrent(dimensions, filter.dimension)}
              value={filter.dimension || null}
              createCustomValue
              placeholder="dimension"
              width={20}
              onChange={(option) => replace(index, { ...filter, dimension: option.value })}
            />
          </InlineField>
          <InlineField>
            <Combobox
              aria-labelledby={`mh-filter-op-label-${index}`}
              options={OP_OPTIONS}
              value={filter.op}
              width={12}
              onChange={(option) => replace(index, withOp(filter, option.value))}
            />
          </InlineField>
          <InlineField grow>
            {isList(filter.op) ? (
              <TagsInput
                aria-label={`Filter ${index + 1} values`}
                tags={Array.isArray(filter.value) ? filter.value : []}
                placeholder="value or $variable, then Enter"
                onChange={(tags) => replace(index, { ...filter, value: tags })}
              />
            ) : (
              <Input
                aria-label={`Filter ${index + 1} value`}
                value={typeof filter.value === 'string' ? filter.value : ''}
                placeholder="value or $variable"
                width={30}
                onChange={(e) => replace(index, { ...filter, value: e.currentTarget.value }, false)}
                onBlur={() => onChange(filters)}
              />
            )}
          </InlineField>
          <IconButton name="trash-alt" tooltip={`Remove filter ${index + 1}`} onClick={() => remove(index)} />
        </InlineFieldRow>
      ))}
      <InlineFieldRow>
        <Button variant="secondary" size="sm" icon="plus" onClick={add}>
          Add filter
        </Button>
      </InlineFieldRow>
    </>
  );
}
