import type { AdapterType } from '../types.js';
import { bigqueryAdapterType } from './bigquery.js';
import { eventsAdapterType } from './events.js';
import { httpJsonAdapterType } from './http-json.js';
import { hubspotAdapterType } from './hubspot.js';
import { postgresAdapterType } from './postgres.js';
import { salesforceAdapterType } from './salesforce.js';
import { systemAdapterType } from './system.js';

/** Every source type the catalog may use. Adding a type = one file in this folder + one line here. */
export const ADAPTER_TYPES: AdapterType[] = [
  eventsAdapterType as AdapterType,
  postgresAdapterType as AdapterType,
  httpJsonAdapterType as AdapterType,
  bigqueryAdapterType as AdapterType,
  salesforceAdapterType as AdapterType,
  hubspotAdapterType as AdapterType,
  systemAdapterType as AdapterType,
];
