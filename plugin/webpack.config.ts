/*
 * The project's extension of the scaffolded webpack config (.config/ is owned by
 * `npx @grafana/create-plugin update` and never edited).
 *
 * Source map names: npm workspaces hoist dependencies to the repository's
 * node_modules, two levels above src/, so webpack names bundled third-party
 * modules (@grafana/plugin-ui) by a path the plugin catalog's source check
 * cannot tell from plugin source. They are named ../node_modules/<package>/...,
 * as in a stand-alone checkout; the plugin's own files keep webpack's names.
 */
import path from 'path';
import type { Configuration } from 'webpack';

import scaffolded, { type Env } from './.config/webpack/webpack.config';

type ModuleFilenameInfo = { absoluteResourcePath: string; resourcePath: string; namespace: string };

const NODE_MODULES = `${path.sep}node_modules${path.sep}`;

function sourceName(info: ModuleFilenameInfo): string {
  const at = info.absoluteResourcePath.lastIndexOf(NODE_MODULES);
  const resource =
    at >= 0 ? `../node_modules/${info.absoluteResourcePath.slice(at + NODE_MODULES.length).split(path.sep).join('/')}` : info.resourcePath;
  return `webpack://${info.namespace}/${resource}`;
}

const config = async (env: Env): Promise<Configuration> => {
  const base = await scaffolded(env);
  return { ...base, output: { ...base.output, devtoolModuleFilenameTemplate: sourceName } };
};

export default config;
