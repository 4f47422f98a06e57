import type { AdapterType } from '../types.js';
import { eventsAdapterType } from './events.js';

/** Every source type the catalog may use. Adding a type = one file in this folder + one line here. */
export const ADAPTER_TYPES: AdapterType[] = [eventsAdapterType as AdapterType];
