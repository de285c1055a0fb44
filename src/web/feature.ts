import { Elysia } from 'elysia';
import type { Feature, Runtime } from '../runtime';
import { renderPage } from './page';

/**
 * The dashboard page at `/`: one static HTML shell, one script bundled by Bun from
 * `src/web/client/` at start-up (in memory, no build step, no dev server) and one stylesheet
 * joined from `src/web/styles/`.
 * The HTML carries no data: the script fetches the public summary and renders every server
 * string with `textContent`, and the CSP forbids inline script, so injected markup cannot run.
 */

interface Asset {
  body: string;
  type: string;
  etag: string;
}

const CLIENT_ENTRY = new URL('./client/main.ts', import.meta.url).pathname;
/**
 * The stylesheet is kept by concern in `styles/` and served as one `app.css`, joined in this
 * order (the cascade depends on it: the base first, narrow-screen overrides last). One file
 * keeps the page at one stylesheet request under the CSP's `style-src 'self'`.
 */
const STYLESHEETS = ['base', 'shell', 'impact', 'insights', 'charts', 'team', 'responsive'].map(
  (name) => new URL(`./styles/${name}.css`, import.meta.url).pathname,
);

function etagOf(text: string): string {
  return `"${Bun.hash(text).toString(36)}"`;
}

async function buildAssets(): Promise<Map<string, Asset>> {
  const result = await Bun.build({
    entrypoints: [CLIENT_ENTRY],
    target: 'browser',
    format: 'esm',
    minify: true,
    sourcemap: 'none',
  });
  const js = result.outputs[0];
  if (!result.success || !js) {
    throw new Error(`building the dashboard script failed: ${result.logs.map(String).join('\n')}`);
  }
  const script = await js.text();
  const css = (await Promise.all(STYLESHEETS.map((path) => Bun.file(path).text()))).join('\n');
  const assets = new Map<string, Asset>();
  assets.set('app.js', { body: script, type: 'text/javascript; charset=utf-8', etag: etagOf(script) });
  assets.set('app.css', { body: css, type: 'text/css; charset=utf-8', etag: etagOf(css) });
  return assets;
}

/** A Host header is echoed into the CSP only if it is a plain host[:port]; anything else gets 'self' only. */
const SAFE_HOST = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

export function contentSecurityPolicy(host: string | null): string {
  // CSP3 browsers already let 'self' cover ws/wss of the same host; older ones need it spelled out.
  const sockets = host && SAFE_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

// One build per process: every instance started in it (tests start several) serves the same files.
let building: Promise<Map<string, Asset>> | undefined;
function assets(): Promise<Map<string, Asset>> {
  building ??= buildAssets().catch((err) => {
    building = undefined; // let the next request try again rather than caching the failure
    throw err;
  });
  return building;
}

export function createWebFeature(rt: Runtime) {
  const serveAsset = async (name: string, request: Request) => {
    const asset = (await assets()).get(name)!;
    const headers = {
      ...COMMON_HEADERS,
      'content-type': asset.type,
      etag: asset.etag,
      // Revalidate every time: the ETag makes that a cheap 304, and a new build is seen at once.
      'cache-control': 'no-cache',
    };
    if (request.headers.get('if-none-match') === asset.etag)
      return new Response(null, { status: 304, headers });
    return new Response(asset.body, { headers });
  };

  const html = renderPage();
  const routes = new Elysia({ name: 'web' })
    .get(
      '/',
      ({ request }) =>
        new Response(html, {
          headers: {
            ...COMMON_HEADERS,
            'content-type': 'text/html; charset=utf-8',
            'cache-control': 'no-cache',
            'content-security-policy': contentSecurityPolicy(request.headers.get('host')),
          },
        }),
      { detail: { hide: true } },
    )
    .get('/assets/app.js', ({ request }) => serveAsset('app.js', request), { detail: { hide: true } })
    .get('/assets/app.css', ({ request }) => serveAsset('app.css', request), { detail: { hide: true } });

  return {
    name: 'web',
    routes,
    async start() {
      // Build before the first visitor asks; a failure is logged, and retried on the next request.
      try {
        await assets();
      } catch (err) {
        rt.log.error('dashboard page build failed', { err });
      }
    },
  } satisfies Feature;
}
