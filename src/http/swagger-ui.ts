import { dirname, join } from 'node:path';
import { Elysia } from 'elysia';
import swaggerUiPackage from 'swagger-ui-dist/package.json' with { type: 'json' };
import { NotFoundError } from '../lib/errors';

/**
 * Swagger UI from the pinned `swagger-ui-dist` package, served by this server: no CDN, so it
 * works offline and behind a firewall, and the version is the one in package-lock.json.
 * The page is static markup plus our own small start-up script (no inline script, so the CSP
 * can forbid it); it loads the document from an absolute path, so `/swagger` and `/swagger/`
 * both work.
 */

const DIST = dirname(require.resolve('swagger-ui-dist/package.json'));
const ASSETS = '/swagger/assets';

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>HIVE API · Swagger UI</title>
<link rel="stylesheet" href="${ASSETS}/swagger-ui.css">
<link rel="icon" type="image/png" href="${ASSETS}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${ASSETS}/swagger-ui-bundle.js"></script>
<script src="${ASSETS}/start.js"></script>
</body>
</html>
`;

function startScript(specPath: string): string {
  return `window.ui = SwaggerUIBundle(${JSON.stringify({ url: specPath, dom_id: '#swagger-ui', deepLinking: true })});\n`;
}

const FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

// nosniff and Cache-Control come from the global security-headers plugin.
const SECURITY_HEADERS = {
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

// Swagger UI sets style attributes from React; scripts only from this origin.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function swaggerUiPlugin(specPath: string) {
  const page = () =>
    new Response(PAGE, {
      headers: {
        ...SECURITY_HEADERS,
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': CSP,
      },
    });
  const start = startScript(specPath);
  // The files change only with the pinned version, which is part of their ETag.
  const asset = (name: string) => {
    const type = FILES[name];
    if (!type) throw new NotFoundError('That Swagger UI file');
    return new Response(Bun.file(join(DIST, name)), {
      headers: {
        ...SECURITY_HEADERS,
        'content-type': type,
        'cache-control': 'public, max-age=3600',
        etag: `"${swaggerUiPackage.version}"`,
      },
    });
  };
  return (
    new Elysia({ name: 'hive.swagger-ui' })
      // Elysia matches with and without the trailing slash: this is /swagger and /swagger/.
      .get('/swagger', page, { detail: { hide: true } })
      .get(
        `${ASSETS}/start.js`,
        () =>
          new Response(start, {
            headers: {
              ...SECURITY_HEADERS,
              'content-type': 'text/javascript; charset=utf-8',
              'cache-control': 'no-cache',
            },
          }),
        { detail: { hide: true } },
      )
      .get(`${ASSETS}/:file`, ({ params }) => asset(params.file), { detail: { hide: true } })
  );
}
