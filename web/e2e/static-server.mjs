// A tiny same-origin server for the built pages when the binary does not serve them itself:
// dist/admin/ at /admin/, dist/m/ at /m/ (and /join), dist/store/ at /store/, everything under /v1/ proxied to the API.
// `distDir` is dist/admin/ (as before) or dist/; the pages are its siblings or children.
import { createServer, request } from 'node:http'
import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, resolve } from 'node:path'

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
}

export function startStaticServer({ distDir, api, port = 0, host = '127.0.0.1' }) {
  const given = resolve(distDir)
  const dist = given.endsWith('/admin') ? resolve(given, '..') : given
  const apiUrl = new URL(api)
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname.startsWith('/v1/') || url.pathname === '/healthz') {
      const up = request(
        { host: apiUrl.hostname, port: apiUrl.port, method: req.method, path: req.url, headers: { ...req.headers, host: apiUrl.host } },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers)
          r.pipe(res)
        },
      )
      up.on('error', () => {
        res.writeHead(502, { 'content-type': 'text/plain' })
        res.end('bad gateway')
      })
      req.pipe(up)
      return
    }
    if (url.pathname === '/' || url.pathname === '/admin' || url.pathname === '/m' || url.pathname === '/store') {
      res.writeHead(302, { location: url.pathname === '/' ? '/admin/' : `${url.pathname}/` })
      res.end()
      return
    }
    const page = url.pathname === '/join' ? 'm' : ['admin', 'm', 'store'].find((p) => url.pathname.startsWith(`/${p}/`))
    if (!page) {
      res.writeHead(404).end()
      return
    }
    const root = join(dist, page)
    let rel = url.pathname === '/join' ? 'index.html' : decodeURIComponent(url.pathname.slice(page.length + 2)) || 'index.html'
    let file = normalize(join(root, rel))
    if (!file.startsWith(root)) {
      res.writeHead(403).end()
      return
    }
    try {
      if (!(await stat(file)).isFile()) throw new Error('not a file')
    } catch {
      file = join(root, 'index.html')
      rel = 'index.html'
    }
    const body = await readFile(file)
    const cache = rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': cache })
    res.end(body)
  })
  return new Promise((ok) => server.listen(port, host, () => ok({ server, url: `http://${host}:${server.address().port}` })))
}

// `node e2e/static-server.mjs [API]`: look at the built console by hand.
if (import.meta.url === `file://${process.argv[1]}`) {
  const api = process.argv[2] ?? 'http://127.0.0.1:8080'
  const { url } = await startStaticServer({ distDir: new URL('../dist/admin', import.meta.url).pathname, api, port: Number(process.env.PORT ?? 5180) })
  console.log(`console at ${url}/admin/, member app at ${url}/m/ (API ${api})`)
}
