import { dataSourceSettings } from './test/fixtures';
import { migrateSettings } from './settings';

describe('migrateSettings', () => {
  it('leaves current settings alone', () => {
    expect(migrateSettings(dataSourceSettings())).toBeUndefined();
  });

  it('moves jsonData.url and timeoutSeconds to url and timeout', () => {
    const old = { ...dataSourceSettings(), url: '', jsonData: { url: ' http://old:8080 ', timeoutSeconds: 12, tlsSkipVerify: true } };
    const migrated = migrateSettings(old);
    expect(migrated?.url).toBe('http://old:8080');
    expect(migrated?.jsonData).toEqual({ timeout: 12, tlsSkipVerify: true });
  });

  it('keeps values already in the standard fields', () => {
    const both = { ...dataSourceSettings(), url: 'http://new:8080', jsonData: { url: 'http://old:8080', timeout: 5, timeoutSeconds: 12 } };
    const migrated = migrateSettings(both);
    expect(migrated?.url).toBe('http://new:8080');
    expect(migrated?.jsonData).toEqual({ timeout: 5 });
  });
});
