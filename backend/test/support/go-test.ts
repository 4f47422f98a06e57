import { spawn } from 'node:child_process';
import path from 'node:path';

const PLUGIN_DIR = path.resolve(import.meta.dirname, '../../../plugin');

/**
 * Runs one Go test of the plugin's backend component (`go test -run name`) with
 * extra environment (the backend's URL, a scenario file), for the tests that
 * skip under a plain `go test`. Resolves with the exit code and all output.
 */
export function runGoTest(name: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('go', ['test', '-count=1', '-v', '-run', name, './pkg/plugin/'], { cwd: PLUGIN_DIR, env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => resolve({ code: -1, output: `cannot run go (install Go to run the plugin's tests): ${error.message}` }));
    child.on('close', (code) => resolve({ code, output }));
  });
}
