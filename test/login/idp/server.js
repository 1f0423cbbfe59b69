// A real OpenID Provider (node-oidc-provider, a certified implementation)
// for credd's device-code login tests. It binds 127.0.0.1 on a free port,
// prints "issuer <URL>" once ready, and serves until stdin closes or it is
// signalled, so it never outlives the Go test that started it.
//
// Flags (all optional):
//   --client-id ID         the one registered client (public, device grant)   default credd-test
//   --id-token-ttl S       ID token lifetime in seconds                         default 300
//   --device-code-ttl S    device/user code lifetime in seconds                 default 600
//   --interval S           "interval" added to the device authorization answer  default 1
//   --jwk FILE             the private signing key as a JWK (RS256, with kid)  default: made here
//   --cookie-key K         key that signs the IdP's cookies                      default fixed (loopback test IdP)
//
// Test-only endpoints, on the same loopback port:
//   POST /test/revoke      destroys every grant, so refresh tokens are refused (invalid_grant)
//   POST /test/slow-down?n=N  answers the next N token requests with slow_down
//   GET  /test/polls       the times (ms) of the device-code token requests seen so far
//   GET  /test/grants      the grant_type of every token request answered so far
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    'client-id': { type: 'string', default: 'credd-test' },
    'id-token-ttl': { type: 'string', default: '300' },
    'device-code-ttl': { type: 'string', default: '600' },
    interval: { type: 'string', default: '1' },
    jwk: { type: 'string' },
    'cookie-key': { type: 'string', default: 'credd-test-idp-cookie-key' },
  },
});

// The signing key comes from the test (--jwk FILE) where it can: on Node 20
// a synchronous RSA key generation right after loading oidc-provider
// sometimes deadlocks in OpenSSL, so the Go harness makes the key instead.
function signingKey() {
  if (args.jwk) return JSON.parse(fs.readFileSync(args.jwk, 'utf8'));
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'idp-1', alg: 'RS256', use: 'sig' };
}
const jwk = signingKey();

const grants = new Set();
const polls = [];
const tokenGrants = [];
let slowDown = 0;

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: [{
      client_id: args['client-id'],
      client_name: 'credd test',
      token_endpoint_auth_method: 'none',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: [args['cookie-key']] },
    scopes: ['openid', 'offline_access', 'email'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
    },
    ttl: {
      IdToken: Number(args['id-token-ttl']),
      DeviceCode: Number(args['device-code-ttl']),
      AccessToken: 3600,
      RefreshToken: 86400,
      Grant: 86400,
      Session: 86400,
      Interaction: 600,
    },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() { return { sub: id, email: `${id}@example.test`, email_verified: true }; },
      };
    },
  });

  provider.on('grant.success', (ctx) => {
    const grant = ctx.oidc.entities.Grant;
    if (grant) grants.add(grant.jti);
  });

  // slow_down on demand, the poll log, and an "interval" in the device
  // authorization answer (oidc-provider sends none, so clients use 5 s).
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === '/token') {
      polls.push(Date.now());
      if (slowDown > 0) {
        slowDown -= 1;
        ctx.status = 400;
        ctx.set('Cache-Control', 'no-store');
        ctx.body = { error: 'slow_down', error_description: 'you are polling too quickly' };
        return;
      }
    }
    await next();
    if (ctx.method === 'POST' && ctx.path === '/token' && ctx.oidc && ctx.oidc.params) {
      tokenGrants.push(ctx.oidc.params.grant_type);
    }
    if (ctx.path === '/device/auth' && ctx.body && ctx.body.device_code) {
      ctx.body.interval = Number(args.interval);
    }
  });

  const callback = provider.callback();
  server.on('request', async (req, res) => {
    const url = new URL(req.url, issuer);
    if (!url.pathname.startsWith('/test/')) {
      callback(req, res);
      return;
    }
    const reply = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.method === 'POST' && url.pathname === '/test/revoke') {
        let revoked = 0;
        for (const id of grants) {
          const grant = await provider.Grant.find(id);
          if (grant) {
            await grant.destroy();
            revoked += 1;
          }
        }
        grants.clear();
        reply(200, { revoked });
      } else if (req.method === 'POST' && url.pathname === '/test/slow-down') {
        slowDown = Number(url.searchParams.get('n') || '1');
        reply(200, { slowDown });
      } else if (req.method === 'GET' && url.pathname === '/test/polls') {
        reply(200, { polls });
      } else if (req.method === 'GET' && url.pathname === '/test/grants') {
        reply(200, { grants: tokenGrants });
      } else {
        reply(404, { error: 'not_found' });
      }
    } catch (err) {
      reply(500, { error: String(err) });
    }
  });

  process.stdout.write(`issuer ${issuer}\n`);
});

// Stop with the parent: the Go test holds our stdin open.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
