import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { ROOT, dashboardFiles, readText, readYaml } from '../../dashboards/test/support.js';

const plugin = JSON.parse(readText('plugin/src/plugin.json'));
const KEY_PATTERN = /^mh_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/;

function compareVersions(a: string, b: string): number {
  const [x, y] = [a, b].map((version) => version.split('.').map(Number));
  for (let i = 0; i < 3; i += 1) if (x![i]! !== y![i]!) return x![i]! - y![i]!;
  return 0;
}

describe('data source provisioning (provisioning/datasources/metricshub.yaml)', () => {
  const document = readYaml('provisioning/datasources/metricshub.yaml');
  const [datasource] = document.datasources;

  test('declares the plugin\'s data source under uid metricshub, as the default', () => {
    assert.equal(document.apiVersion, 1);
    assert.equal(document.datasources.length, 1);
    assert.equal(datasource.type, plugin.id);
    assert.equal(datasource.uid, 'metricshub');
    assert.ok(datasource.name);
    assert.equal(datasource.access, 'proxy');
    assert.equal(datasource.isDefault, true);
  });

  test('takes the URL from the environment into the standard url field and the API key into secureJsonData only', () => {
    assert.equal(datasource.url, '${METRICSHUB_URL}');
    assert.ok(!('url' in datasource.jsonData), 'the URL belongs in the standard field the Go component reads first');
    assert.equal(datasource.secureJsonData.apiKey, '${METRICSHUB_API_KEY}');
    assert.ok(!('apiKey' in datasource.jsonData), 'the key must never be in jsonData (sent to browsers)');
  });
});

describe('dashboard provider (provisioning/dashboards/metricshub.yaml)', () => {
  test('is a file provider per folder, with a folder name (and a uid where no alert rules share the folder)', () => {
    const document = readYaml('provisioning/dashboards/metricshub.yaml');
    const alertFolders = new Set(readYaml('provisioning/alerting/rules.yaml').groups.map((group: any) => group.folder));
    assert.equal(document.apiVersion, 1);
    for (const provider of document.providers) {
      assert.equal(provider.type, 'file');
      assert.ok(provider.name && provider.folder, 'name, folder');
      assert.ok(alertFolders.has(provider.folder) || provider.folderUid, `${provider.name}: folderUid`);
      assert.match(provider.options.path, /^\/var\/lib\/grafana\/dashboards\/metricshub\//);
    }
  });
});

describe('backend image (backend/Dockerfile and its entrypoint)', () => {
  const dockerfile = readText('backend/Dockerfile');
  const entrypoint = readText('backend/docker-entrypoint.sh');

  test('builds on node:20-slim and runs as a non-root user', () => {
    assert.match(dockerfile, /^FROM node:20-slim$/m);
    const user = [...dockerfile.matchAll(/^USER (\S+)$/gm)].at(-1)?.[1];
    assert.ok(user && user !== 'root' && user !== '0', `USER ${user}`);
    assert.match(dockerfile, /^ENTRYPOINT \["\/usr\/local\/bin\/metrics-hub-entrypoint"\]$/m);
  });

  test('every metrics-hub command the entrypoint runs exists in the CLI, with the options it passes', () => {
    const calls = entrypoint
      .split('\n')
      .map((line) => /^\s*(?:exec\s+)?(?:metrics_hub|node \S*metrics-hub\.js)\s+(.+)$/.exec(line)?.[1])
      .filter((args): args is string => args !== undefined && !args.startsWith('"$@"'));
    assert.ok(calls.length >= 4, `found ${calls.join(' | ')}`);
    for (const call of calls) {
      const words = call.split(/\s+/);
      const command: string[] = [];
      for (const word of words) {
        if (!/^[a-z]+$/.test(word)) break;
        command.push(word);
      }
      const options = words.filter((word) => word.startsWith('--'));
      const help = spawnSync(process.execPath, [path.join(ROOT, 'backend/bin/metrics-hub.js'), ...command, '--help'], { encoding: 'utf8' });
      assert.equal(help.status, 0, `metrics-hub ${command.join(' ')} --help: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^Usage: metrics-hub ${command.join(' ')}\\b`, 'm'), `metrics-hub ${command.join(' ')} is not a command`);
      for (const option of options) assert.ok(help.stdout.includes(option), `metrics-hub ${command.join(' ')} has no ${option}`);
    }
  });
});

describe('docker-compose.yml', () => {
  const available = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
  const skip = available ? false : 'the docker-compose binary is not installed (Debian: apt-get install docker-compose; CI installs it)';

  test('`docker-compose config` accepts it and the stack is wired as Grafana needs', { skip }, () => {
    // Only the file's own defaults: no override from the caller's environment.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(METRICSHUB_|POSTGRES_|GRAFANA_|DEMO_DATA|LOG_LEVEL|COMPOSE_)/.test(name)));
    const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], { cwd: ROOT, encoding: 'utf8', env });
    assert.equal(result.status, 0, result.stderr);
    const config = parse(result.stdout);
    const { grafana, backend, postgres, redis } = config.services;

    const tag = /^grafana\/grafana:(\d+\.\d+\.\d+)$/.exec(grafana.image)?.[1];
    assert.ok(tag, `Grafana image ${grafana.image} is the official image pinned to a version`);
    const minimum = /^>=\s*(\d+\.\d+\.\d+)$/.exec(plugin.dependencies.grafanaDependency)?.[1];
    assert.ok(minimum, `grafanaDependency '${plugin.dependencies.grafanaDependency}' is not a >=x.y.z range this test understands`);
    assert.ok(compareVersions(tag, minimum) >= 0, `Grafana ${tag} is older than the plugin's ${minimum}`);

    assert.equal(grafana.environment.GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS, plugin.id, 'unsigned loading for this plugin only');
    const mounts = new Map<string, string>(grafana.volumes.map((volume: string) => [volume.split(':')[1]!, volume.split(':')[0]!]));
    assert.equal(mounts.get(`/var/lib/grafana/plugins/${plugin.id}`), path.join(ROOT, 'plugin/dist'));
    assert.equal(mounts.get('/var/lib/grafana/dashboards/metricshub'), path.join(ROOT, 'dashboards'));
    for (const kind of ['datasources', 'dashboards', 'alerting']) {
      assert.equal(mounts.get(`/etc/grafana/provisioning/${kind}`), path.join(ROOT, 'provisioning', kind));
    }

    assert.equal(grafana.environment.METRICSHUB_API_KEY, backend.environment.METRICSHUB_BOOTSTRAP_KEY, 'Grafana uses the key the backend registers');
    assert.match(grafana.environment.METRICSHUB_API_KEY, KEY_PATTERN);
    assert.match(backend.environment.METRICSHUB_BOOTSTRAP_INGEST_KEY, KEY_PATTERN);
    assert.notEqual(backend.environment.METRICSHUB_BOOTSTRAP_INGEST_KEY, grafana.environment.METRICSHUB_API_KEY, 'producers and Grafana get separate keys');
    const entrypoint = readText('backend/docker-entrypoint.sh');
    assert.match(entrypoint, /--key "\$METRICSHUB_BOOTSTRAP_KEY" --scope read/, "Grafana's key is registered read-only");
    assert.match(entrypoint, /--key "\$METRICSHUB_BOOTSTRAP_INGEST_KEY" --scope ingest/);
    assert.equal(grafana.environment.METRICSHUB_URL, 'http://backend:4100');
    assert.ok(grafana.environment.METRICSHUB_ALERT_EMAILS, 'the contact point needs addresses');

    assert.equal(backend.build.dockerfile, 'backend/Dockerfile');
    assert.match(backend.environment.DATABASE_URL, /@postgres:5432\//);
    assert.match(backend.environment.REDIS_URL, /^redis:\/\/redis:6379/);
    for (const [name, service] of Object.entries<any>(config.services)) assert.ok(service.healthcheck?.test, `${name} has a health check`);
    assert.equal(grafana.depends_on.backend.condition, 'service_healthy');
    assert.equal(backend.depends_on.postgres.condition, 'service_healthy');
    assert.equal(backend.depends_on.redis.condition, 'service_healthy');
    assert.ok(postgres.volumes.some((volume: string) => volume.endsWith(':/var/lib/postgresql/data:rw')), 'PostgreSQL data volume');
    assert.ok(redis.volumes.some((volume: string) => volume.includes(':/data')), 'Redis data volume');
  });
});

describe('docs/grafana.md', () => {
  const docs = readText('docs/grafana.md');

  test('names every generated dashboard and alert rule, and the pinned Grafana version', () => {
    for (const { json } of dashboardFiles()) assert.ok(docs.includes(`**${json.title}**`), `dashboard '${json.title}' is not listed`);
    for (const group of readYaml('provisioning/alerting/rules.yaml').groups) {
      for (const rule of group.rules) assert.ok(docs.includes(`| ${rule.title} |`), `alert rule '${rule.title}' is not listed`);
    }
    const image = /image: (grafana\/grafana:\S+)/.exec(readText('docker-compose.yml'))?.[1];
    assert.ok(image && docs.includes(image), `the docs do not name ${image}`);
  });
});
