import { useEffect, useState } from 'react';

/**
 * Hash routes (#/peers/b.example): the GUI's assets are relative, so a path route two
 * levels deep would ask the server for the wrong asset URLs; the fragment never reaches it.
 */
export interface Route {
  screen: string;
  param: string | undefined;
}

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  return { screen: parts[0] ?? 'dashboard', param: parts[1] ? decodeURIComponent(parts[1]) : undefined };
}

export function href(screen: string, param?: string): string {
  return `#/${screen}${param ? `/${encodeURIComponent(param)}` : ''}`;
}

export function navigate(screen: string, param?: string): void {
  window.location.hash = href(screen, param);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
