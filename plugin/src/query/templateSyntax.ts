// Grafana's variable syntaxes: $name, ${name}, ${name:format}, [[name]], [[name:format]].
const VARIABLE = /\$(\w+)|\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]/;
const WHOLE_VARIABLE = new RegExp(`^(?:${VARIABLE.source})$`);

export function hasTemplateVariable(text: string): boolean {
  return VARIABLE.test(text);
}

/** The variable name when the text is exactly one variable reference, such as "$channel". */
export function soleVariableName(text: string): string | undefined {
  const match = WHOLE_VARIABLE.exec(text.trim());
  return match ? (match[1] ?? match[2] ?? match[3]) : undefined;
}
