import { useEffect, useState } from 'react';

import { DataSource } from '../datasource';
import { errorMessage } from '../errors';
import { Catalog } from '../types';

interface CatalogState {
  catalog?: Catalog;
  error?: string;
}

/** Loads the catalog through the data source's resource call for the editors. */
export function useCatalog(datasource: DataSource): CatalogState {
  const [state, setState] = useState<CatalogState>({});
  useEffect(() => {
    let mounted = true;
    datasource.getCatalog().then(
      (catalog) => mounted && setState({ catalog }),
      (error: unknown) => mounted && setState({ error: errorMessage(error) })
    );
    return () => {
      mounted = false;
    };
  }, [datasource]);
  return state;
}
