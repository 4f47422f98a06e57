/**
 * Turns `:name` parameters in catalog SQL into PostgreSQL `$n` placeholders, so
 * values are always bound, never spliced. String literals, quoted identifiers,
 * comments, dollar-quoted bodies and `::type` casts are left untouched.
 */
export interface TranslatedSql {
  text: string;
  /** Parameter names in `$n` order (each name appears once). */
  names: string[];
}

const NAME_START = /[A-Za-z_]/;
const NAME_PART = /[A-Za-z0-9_]/;

export function translateNamedParameters(sql: string, placeholder: (name: string, index: number) => string = (_, index) => `$${index}`): TranslatedSql {
  const names: string[] = [];
  let out = '';
  let i = 0;
  const copyUntil = (end: string, from: number): number => {
    const stop = sql.indexOf(end, from);
    const upTo = stop === -1 ? sql.length : stop + end.length;
    out += sql.slice(i, upTo);
    return upTo;
  };
  while (i < sql.length) {
    const char = sql[i]!;
    const next = sql[i + 1];
    if (char === "'" || char === '"') {
      // Doubled quotes inside a literal re-enter this branch and are copied as an empty literal.
      i = copyUntil(char, i + 1);
    } else if (char === '-' && next === '-') {
      i = copyUntil('\n', i + 2);
    } else if (char === '/' && next === '*') {
      i = copyUntil('*/', i + 2);
    } else if (char === '$' && /[A-Za-z_$]/.test(next ?? '')) {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i));
      if (tag) {
        out += tag[0];
        i += tag[0].length;
        i = copyUntil(tag[0], i);
      } else {
        out += char;
        i += 1;
      }
    } else if (char === ':' && next === ':') {
      out += '::';
      i += 2;
    } else if (char === ':' && next !== undefined && NAME_START.test(next)) {
      let end = i + 1;
      while (end < sql.length && NAME_PART.test(sql[end]!)) end += 1;
      const name = sql.slice(i + 1, end);
      let index = names.indexOf(name);
      if (index === -1) index = names.push(name) - 1;
      out += placeholder(name, index + 1);
      i = end;
    } else {
      out += char;
      i += 1;
    }
  }
  return { text: out, names };
}
