// Third-party JavaScript credential clients driven by the credd
// compatibility suite (test/compat). Each gets credentials from credd with
// nothing but the environment `credd env` prints, and signs STS
// GetCallerIdentity requests with them:
//
//   crt     aws-crt (the AWS C runtime for Node): the CRT's default chain,
//           AwsCredentialsProvider.newDefault (aws-c-auth's
//           credentials_provider_default_chain.c), and its SigV4 signer,
//           aws_sign_request.
//   smithy  @smithy/credential-provider-imds's fromContainerMetadata (the
//           container provider of the JavaScript SDK v3 before
//           @aws-sdk/credential-provider-http, src/fromContainerMetadata.ts),
//           signed with @smithy/signature-v4.
//
//   node client.js crt|smithy version
//   node client.js crt|smithy calls N ENDPOINT   N calls in one process
//
// Every call prints one JSON line:
// {"n":1,"ok":true,"arn":"...","akid":"<access key that signed the call>"}
// or {"n":1,"ok":false,"error":"..."}. `calls` exits 1 if a call failed.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');

const [client, mode, arg, endpoint] = process.argv.slice(2);
const body = 'Action=GetCallerIdentity&Version=2011-06-15';

function pkgVersion(name) {
  const file = path.join(__dirname, 'node_modules', name, 'package.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')).version;
}

// post sends a signed request and returns the ARN STS answered.
function post(url, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        const arn = /<Arn>([^<]*)<\/Arn>/.exec(text);
        if (res.statusCode !== 200 || !arn) {
          reject(new Error(`STS answered ${res.statusCode}: ${text}`));
          return;
        }
        resolve(arn[1]);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function accessKey(auth) {
  const m = /Credential=([^/]+)\//.exec(auth || '');
  return m ? m[1] : '';
}

function baseHeaders(url) {
  return {
    host: url.host,
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
  };
}

// newCaller returns an async function making one signed call and
// returning {arn, akid}.
function newCaller(url) {
  if (client === 'crt') {
    const { auth, http: crtHttp } = require('aws-crt');
    const crypto = require('crypto');
    // The default chain caches what it fetched: one provider, one fetch.
    const provider = auth.AwsCredentialsProvider.newDefault();
    // The signer hashes a body stream by seeking it, which a Node stream
    // cannot do: the body's hash is given instead, and the body sent apart.
    const bodyHash = crypto.createHash('sha256').update(body).digest('hex');
    return async () => {
      const headers = new crtHttp.HttpHeaders(Object.entries(baseHeaders(url)));
      const request = new crtHttp.HttpRequest('POST', url.pathname || '/', headers);
      await auth.aws_sign_request(request, {
        algorithm: auth.AwsSigningAlgorithm.SigV4,
        signature_type: auth.AwsSignatureType.HttpRequestViaHeaders,
        provider, region: 'us-east-1', service: 'sts', date: new Date(),
        signed_body_value: bodyHash,
      });
      const signed = {};
      for (const [k, v] of request.headers) signed[k] = v;
      const arn = await post(url, signed);
      return { arn, akid: accessKey(signed.Authorization || signed.authorization) };
    };
  }
  if (client === 'smithy') {
    const { fromContainerMetadata } = require('@smithy/credential-provider-imds');
    const { SignatureV4 } = require('@smithy/signature-v4');
    const { Hash } = require('@smithy/hash-node');
    // fromContainerMetadata fetches on every call; an SDK memoizes it
    // (@smithy/core memoizeIdentityProvider), so the script keeps what it got.
    const fetchCredentials = fromContainerMetadata();
    let cached;
    const signer = new SignatureV4({
      credentials: async () => { cached = cached || await fetchCredentials(); return cached; },
      region: 'us-east-1', service: 'sts', sha256: Hash.bind(null, 'sha256'),
    });
    return async () => {
      const signed = await signer.sign({
        method: 'POST', protocol: url.protocol, hostname: url.hostname, port: Number(url.port),
        path: url.pathname || '/', query: {}, headers: baseHeaders(url), body,
      });
      const arn = await post(url, signed.headers);
      return { arn, akid: accessKey(signed.headers.authorization) };
    };
  }
  throw new Error(`unknown client ${client}: want crt or smithy`);
}

function errorText(e) {
  return `${e.name || e.code || 'Error'}: ${e.message}`;
}

async function main() {
  if (mode === 'version') {
    const v = client === 'crt'
      ? `aws-crt ${pkgVersion('aws-crt')}`
      : `@smithy/credential-provider-imds ${pkgVersion('@smithy/credential-provider-imds')}, @smithy/signature-v4 ${pkgVersion('@smithy/signature-v4')}`;
    console.log(JSON.stringify({ version: `${v}, Node ${process.versions.node}` }));
    return 0;
  }
  if (mode !== 'calls' || !endpoint) {
    console.error('usage: node client.js crt|smithy version | calls N ENDPOINT');
    return 2;
  }
  const call = newCaller(new URL(endpoint));
  let ok = true;
  for (let n = 1; n <= Number(arg); n++) {
    let line;
    try {
      line = { n, ok: true, ...(await call()) };
    } catch (e) {
      line = { n, ok: false, error: errorText(e) };
    }
    console.log(JSON.stringify(line));
    ok = ok && line.ok;
  }
  return ok ? 0 : 1;
}

// Exit explicitly: the CRT's native event loop would keep Node running.
main().then((code) => process.exit(code), (e) => { console.error(e); process.exit(2); });
