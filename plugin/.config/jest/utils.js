/*
 * Jest only transforms files outside node_modules by default. These packages
 * are pulled in by @grafana/ui and @grafana/data and ship ES modules only, so
 * they must be transformed too.
 */
const grafanaESModules = [
  '@grafana/schema',
  'd3',
  'd3-.*',
  'internmap',
  'delaunator',
  'robust-predicates',
  'ol',
  'react-colorful',
  'rxjs',
  'uuid',
  'marked',
  'react-calendar',
  'get-user-locale',
  'memoize',
  'mimic-function',
  '@wojtekmaj',
];

const nodeModulesToTransform = (moduleNames) => `node_modules/(?!.*(${moduleNames.join('|')})/.*)`;

module.exports = { grafanaESModules, nodeModulesToTransform };
