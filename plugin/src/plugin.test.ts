import { readFileSync, existsSync } from 'fs';
import path from 'path';

import pluginJson from './plugin.json';

// The id rule Grafana's plugin loader and validator apply.
const ID_PATTERN = /^[0-9a-z]+\-([0-9a-z]+\-)?(app|panel|datasource)$/;
const packageJson = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));

describe('plugin.json', () => {
  it('has an id Grafana accepts and the data source type', () => {
    expect(pluginJson.id).toMatch(ID_PATTERN);
    expect(pluginJson.id).toBe('metricshub-datasource');
    expect(pluginJson.type).toBe('datasource');
    expect(pluginJson.name).toBe('Metrics Hub');
  });

  it('names the Go executable because the plugin has a backend', () => {
    expect(pluginJson.backend).toBe(true);
    expect(pluginJson.executable).toBe('gpx_metricshub');
  });

  it('declares what the data source does, so Grafana offers it for alerting, annotations and streaming', () => {
    expect(pluginJson).toMatchObject({ metrics: true, alerting: true, annotations: true, streaming: true });
  });

  it('carries a version that the build fills from package.json', () => {
    expect(pluginJson.info.version).toBe('%VERSION%');
    expect(packageJson.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('states the Grafana versions it supports as a semver range', () => {
    expect(pluginJson.dependencies.grafanaDependency).toMatch(/^>=\d+\.\d+\.\d+$/);
  });

  it('points at logos that exist', () => {
    for (const logo of [pluginJson.info.logos.small, pluginJson.info.logos.large]) {
      expect(existsSync(path.join(__dirname, '..', logo))).toBe(true);
    }
  });

  it('lists screenshots that the browser test saved in src/img', () => {
    expect(pluginJson.info.screenshots.length).toBeGreaterThan(0);
    for (const { path: file } of pluginJson.info.screenshots) {
      expect(existsSync(path.join(__dirname, file))).toBe(true);
    }
  });
});
