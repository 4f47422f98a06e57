// Times in snapshots and fixtures are read in UTC wherever the tests run.
process.env.TZ = 'UTC';

// The scaffolded base (.config/ is owned by `npx @grafana/create-plugin update`, never edited);
// what this project needs on top of it is added here.
const base = require('./.config/jest.config');
const { grafanaESModules, nodeModulesToTransform } = require('./.config/jest/utils');

// ES-module-only packages that @grafana/ui 12.4 pulls in beyond the scaffold's list.
const moreESModules = ['d3-.*', 'internmap', 'delaunator', 'robust-predicates'];

module.exports = {
  ...base,
  // The editors render Grafana's real components: the first render on a busy CI machine is slow.
  testTimeout: 30000,
  // d3-color and friends ship .mjs files, which the scaffold's transform does not match.
  transform: { ...base.transform, '^.+\\.mjs$': base.transform['^.+\\.(t|j)sx?$'] },
  transformIgnorePatterns: [nodeModulesToTransform([...grafanaESModules, ...moreESModules])],
};
