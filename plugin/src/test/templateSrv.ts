import { ScopedVars, TypedVariableModel } from '@grafana/data';
import { TemplateSrv, setTemplateSrv } from '@grafana/runtime';

/** A dashboard variable as a test declares it: its options and what is selected. */
export interface TestVariable {
  name: string;
  options: string[];
  /** One value, several values, or '$__all' for the "All" option. */
  current: string | string[];
  multi?: boolean;
}

const REFERENCE = /\$(\w+)|\$\{(\w+)(?::([^}]*))?\}|\[\[(\w+)(?::([^\]]*))?\]\]/g;
const ALL = '$__all';

/**
 * Grafana's template service, reduced to what data sources rely on: the
 * variable syntaxes, scoped variables of repeated panels, "All" expanding to
 * every option, multi values handed to a format function or joined.
 */
export function installTemplateSrv(variables: TestVariable[]): void {
  const models = variables.map(
    (v) =>
      ({
        name: v.name,
        type: 'custom',
        multi: v.multi ?? Array.isArray(v.current),
        includeAll: true,
        current: { value: v.current, text: v.current, selected: true },
        options: v.options.map((o) => ({ text: o, value: o, selected: false })),
      }) as unknown as TypedVariableModel
  );

  const valueOf = (name: string, scopedVars?: ScopedVars): string | string[] | undefined => {
    const scoped = scopedVars?.[name];
    if (scoped) {
      return String(scoped.value);
    }
    const variable = variables.find((v) => v.name === name);
    if (!variable) {
      return undefined;
    }
    const { current } = variable;
    if (current === ALL || (Array.isArray(current) && current.includes(ALL))) {
      return variable.options;
    }
    return current;
  };

  const srv: TemplateSrv = {
    getVariables: () => models,
    containsTemplate: (target?: string) => Boolean(target && new RegExp(REFERENCE.source).test(target)),
    updateTimeRange: () => {},
    replace: (target?: string, scopedVars?: ScopedVars, format?: string | Function) =>
      (target ?? '').replace(REFERENCE, (match, n1, n2, fmt2, n3, fmt3) => {
        const value = valueOf(n1 ?? n2 ?? n3, scopedVars);
        if (value === undefined) {
          return match;
        }
        if (typeof format === 'function') {
          return format(value);
        }
        const fmt = fmt2 ?? fmt3 ?? format;
        if (!Array.isArray(value)) {
          return value;
        }
        return fmt === 'csv' ? value.join(',') : `{${value.join(',')}}`;
      }),
  };
  setTemplateSrv(srv);
}
