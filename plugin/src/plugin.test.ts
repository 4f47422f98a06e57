import { readFileSync, existsSync } from 'fs';
import path from 'path';

import pluginJson from './plugin.json';

// The id rule Grafana's plugin loader and validator apply.
const ID_PATTERN = /^[0-9a-z]+\-([0-9a-z]+\-)?(app|panel|datasource)$/;
const packageJson = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));

describe('plugin.json', () => {
  it('has an id Grafana accepts and the data source type', () => {
    expect(pluginJson.id).toMatch(ID_PATTERN);
    expect(pluginJson.id).toBe('metricshub-metrics-datasource');
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

  it('points at logos and screenshots that exist (paths are relative to src/, as the build copies them)', () => {
    const images = [pluginJson.info.logos.small, pluginJson.info.logos.large, ...pluginJson.info.screenshots.map((s) => s.path)];
    expect(pluginJson.info.screenshots.length).toBeGreaterThan(0);
    for (const image of images) {
      expect(existsSync(path.join(__dirname, image))).toBe(true);
    }
  });

  it('links its documentation and source, with an author url, for the plugin catalog', () => {
    expect(pluginJson.info.author.url).toMatch(/^https:\/\//);
    expect(pluginJson.info.links.map((l) => l.name)).toEqual(expect.arrayContaining(['Documentation', 'Source code']));
  });
});
